"""DVC stage ``sfm@NAME``: COLMAP structure-from-motion on ``data/scenes/NAME`` (+ metrics, preview)."""

from __future__ import annotations

import sys

from obscura.config import Params
from obscura.errors import ObscuraError
from obscura.io import write_json
from obscura.rendering.sfm import preview, run_sfm
from obscura.tracking import stage_run


def run(params: Params, name: str | None = None) -> dict:
    cfg = params.sfm
    if name is None:
        raise ObscuraError(f"stage sfm needs a scene name; sfm.scenes lists: {', '.join(cfg.scenes)}.")
    scene_dir = params.scenes.output / name
    with stage_run(f"sfm@{name}", {"sfm": cfg}, experiment="reconstruction", seed=params.seed, method="colmap",
                   dataset=name) as tracker:
        metrics = run_sfm(scene_dir, cfg, seed=params.seed, log_fn=tracker.log_metrics)
        flat = {k: v for k, v in metrics.items() if isinstance(v, (int, float))}
        report = write_json(cfg.reports / f"{name}.json", flat)
        image = preview(scene_dir, cfg.reports / f"{name}.png", seed=params.seed)
        tracker.log_metrics(flat)
        tracker.log_artifact(report)
        tracker.log_artifact(image)
        tracker.log_artifact(scene_dir / "sparse" / "points3D.ply")
        tracker.log_artifact(scene_dir / "sparse" / "registration.json")
    if metrics["unregistered_images"]:
        print(f"warning: {len(metrics['unregistered_images'])} of {metrics['images_total']} images were not "
              f"registered: {', '.join(metrics['unregistered_images'])} (see {scene_dir}/sparse/registration.json)",
              file=sys.stderr)
    return metrics


if __name__ == "__main__":
    from stages._entry import main

    sys.exit(main(run))
