"""SfM accuracy and speed on the built-in scenes. Prints one JSON object.

Targets per scene: 100 % registered, median rotation error <= 0.1 deg, median camera-centre
error <= 0.5 % of the scene extent, <= 0.5 s per 480x360 image for the whole SfM
(features + matching + mapping + point cloud; undistortion excluded).

    python bench/sfm.py                      # scenes and settings from params.yaml
    python bench/sfm.py --views 24 --first-octave 0

Scenes are rendered into a temporary folder (render time reported separately). The 1-minute
load average is reported: other jobs on the machine inflate the times.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGETS = {"registered_pct": 100.0, "rotation_error_median_deg": 0.1, "center_error_median_pct": 0.5,
           "seconds_per_image": 0.5}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenes", nargs="*", default=None, help="built-in scenes (default: params scenes.builtin)")
    ap.add_argument("--views", type=int, default=None, help="override the number of views")
    ap.add_argument("--first-octave", type=int, default=None, help="override sfm.first_octave")
    ap.add_argument("--max-features", type=int, default=None, help="override sfm.max_num_features")
    ap.add_argument("--threads", type=int, default=None, help="override sfm.num_threads")
    args = ap.parse_args()

    import yaml

    from obscura.rendering.params import ScenesParams, SfmParams
    from obscura.rendering.scenes import build_scene, make_scene
    from obscura.rendering.sfm import run_sfm

    raw = yaml.safe_load((ROOT / "params.yaml").read_text())  # only the two sections this bench needs
    sc, sfm, seed = ScenesParams.model_validate(raw["scenes"]), SfmParams.model_validate(raw["sfm"]), raw["seed"]
    updates = {k: v for k, v in (("first_octave", args.first_octave), ("num_threads", args.threads),
                                              ("max_num_features", args.max_features)) if v is not None}
    sfm = sfm.model_copy(update=updates)
    result = {"load_avg_1min_start": round(os.getloadavg()[0], 2), "cpus": os.cpu_count(),
              "first_octave": sfm.first_octave, "camera_model": sfm.camera_model, "targets": TARGETS}
    met_all = True
    with tempfile.TemporaryDirectory(prefix="obscura-bench-sfm-") as tmp:
        for name in args.scenes or list(sc.builtin):
            spec = sc.builtin[name]
            views = args.views or spec.num_views
            scene = build_scene(name, views, sc.width, sc.height, spec.fov_x_deg)
            t0 = time.perf_counter()
            make_scene(name, scene, Path(tmp) / name, supersample=sc.supersample, test_every=sc.test_every,
                       gt_points=0, seed=seed, progress=False)
            render_s = time.perf_counter() - t0
            m = run_sfm(Path(tmp) / name, sfm, seed=seed, undistort=False)
            r = {
                "views": views, "resolution": f"{sc.width}x{sc.height}",
                "registered_pct": 100.0 * m["registered_fraction"],
                "rotation_error_median_deg": m.get("rotation_error_median_deg"),
                "rotation_error_max_deg": m.get("rotation_error_max_deg"),
                "center_error_median_pct": m.get("center_error_median_pct"),
                "center_error_max_pct": m.get("center_error_max_pct"),
                "focal_error_pct": m.get("focal_error_pct"),
                "seconds_per_image": m["seconds_per_image"],
                "time_features_s": m["time_features_s"], "time_matching_s": m["time_matching_s"],
                "time_mapping_s": m["time_mapping_s"], "render_seconds_per_image": render_s / views,
                "num_points3d": m["num_points3d"], "mean_reprojection_error_px": m["mean_reprojection_error_px"],
            }
            r["meets_targets"] = (r["registered_pct"] >= TARGETS["registered_pct"]
                                  and (r["rotation_error_median_deg"] or 1e9) <= TARGETS["rotation_error_median_deg"]
                                  and (r["center_error_median_pct"] or 1e9) <= TARGETS["center_error_median_pct"]
                                  and r["seconds_per_image"] <= TARGETS["seconds_per_image"])
            met_all &= r["meets_targets"]
            result[name] = r
    result["load_avg_1min_end"] = round(os.getloadavg()[0], 2)
    result["meets_all_targets"] = met_all
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
