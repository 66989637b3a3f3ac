import json

import numpy as np
import pytest

from obscura.errors import ObscuraError
from obscura.io import atomic_dir, atomic_path, load_image, save_image, write_json, write_torch


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.json"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []


def test_atomic_dir_keeps_previous_result_on_failure(tmp_path):
    target = tmp_path / "prepared"
    with atomic_dir(target) as tmp:
        (tmp / "a.txt").write_text("first")
    with pytest.raises(RuntimeError):
        with atomic_dir(target) as tmp:
            (tmp / "a.txt").write_text("second, unfinished")
            raise RuntimeError("interrupted")
    assert (target / "a.txt").read_text() == "first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["prepared"]


def test_write_json_sorted_and_numpy(tmp_path):
    path = write_json(tmp_path / "m.json", {"b": np.float32(1.5), "a": np.int64(2)})
    assert json.loads(path.read_text()) == {"a": 2, "b": 1.5}
    assert path.read_text().index('"a"') < path.read_text().index('"b"')


def test_write_torch_gives_the_same_bytes_for_the_same_content(tmp_path):
    import torch

    obj = {"w": torch.arange(6.0).reshape(2, 3), "step": 3}
    first = write_torch(tmp_path / "model.pt", obj).read_bytes()
    second = write_torch(tmp_path / "model.pt", obj).read_bytes()   # another temporary file name
    assert first == second and torch.equal(torch.load(tmp_path / "model.pt", weights_only=True)["w"], obj["w"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pt"]


def test_image_roundtrip_and_channel_conversion(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    save_image(tmp_path / "x.png", rgb)
    back = load_image(tmp_path / "x.png")
    assert back.shape == (5, 7, 3) and back.dtype == np.float32
    np.testing.assert_array_equal((back * 255).round().astype(np.uint8), rgb)
    gray = load_image(tmp_path / "x.png", channels=1)
    assert gray.shape == (5, 7, 1)
    rgba = np.dstack([rgb, np.full((5, 7), 255, np.uint8)])
    save_image(tmp_path / "a.png", rgba)
    assert load_image(tmp_path / "a.png").shape == (5, 7, 3)
    assert load_image(tmp_path / "a.png", channels=None).shape == (5, 7, 4)


def test_non_image_is_a_clear_error(tmp_path):
    fake = tmp_path / "photo.jpg"
    fake.write_text("this is text, not a JPEG")
    with pytest.raises(ObscuraError, match="not a readable image"):
        load_image(fake)
    with pytest.raises(ObscuraError, match="no such image file"):
        load_image(tmp_path / "missing.png")
