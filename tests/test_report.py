import json

import numpy as np

from obscura.io import save_image
from obscura.report import build_index


def test_index_lists_metrics_tables_and_images(tmp_path):
    (tmp_path / "sfm").mkdir()
    (tmp_path / "sfm" / "orbit.json").write_text(json.dumps({"registered": 48, "err": {"median_deg": 0.0123456}}))
    (tmp_path / "sfm" / "table.csv").write_text("method,psnr\nharmonic,21.5\n")
    save_image(tmp_path / "sfm" / "orbit.png", np.zeros((4, 4, 3)))
    page = build_index(tmp_path)
    assert "<h2>sfm</h2>" in page
    assert "<th>err.median_deg</th><td>0.01235</td>" in page
    assert "<td>harmonic</td>" in page and "src='sfm/orbit.png'" in page
