"""DVC stage ``train_gaussians@<scene>``: 3D Gaussian Splatting on an SfM'd scene (obscura.rendering.gaussians).

Re-running after an interruption resumes from ``<output>/.<scene>.state.pt`` when the params are unchanged.
"""

from __future__ import annotations

import sys

from obscura.config import Params
from obscura.errors import ObscuraError
from obscura.io import save_image, write_csv, write_json
from obscura.rendering.gaussians.outputs import render_outputs
from obscura.rendering.gaussians.registry import make_config
from obscura.rendering.gaussians.train import peak_memory_mb, scene_cameras, train
from obscura.tracking import model_name, stage_run


def run(params: Params, scene: str | None = None) -> dict:
    gp = params.gaussians
    if scene not in gp.scenes:
        raise ObscuraError(f"stage train_gaussians needs a scene from gaussians.scenes: {', '.join(gp.scenes)}; "
                           f"got {scene!r}.")
    config = make_config(**{**gp.config, **gp.scenes[scene]})
    scene_dir, model_dir, reports = params.scenes.output / scene, gp.output / scene, gp.reports / scene
    with stage_run(f"train_gaussians@{scene}", {"gaussians": gp}, experiment="reconstruction", seed=params.seed,
                   method="gaussians", dataset=scene) as tracker:
        model, result = train(scene_dir, model_dir, config, gp.poses, params.seed, eval_every=gp.eval_every,
                              log=lambda logs, step: tracker.log_metrics(logs, step=step))
        cams = scene_cameras(scene_dir, gp.poses)
        scores, rows, grid = render_outputs(model, cams, model_dir / "renders", gp.orbit_frames)
        metrics = {**scores, **result["metrics"], "peak_memory_mb": peak_memory_mb()}
        write_csv(reports / "views.csv", rows, first=("name",))
        write_csv(reports / "loss.csv", result["rows"], first=("step",))
        write_csv(reports / "curve.csv", result["curve"], first=("step",))
        save_image(reports / "test_grid.png", grid)
        write_json(reports / "metrics.json", metrics)
        tracker.log_metrics(metrics)
        tracker.log_image(grid, f"{scene}_test_grid.png")
        for path in (reports / "views.csv", model_dir / "point_cloud.ply", model_dir / "renders" / "orbit.mp4"):
            if path.is_file():
                tracker.log_artifact(path)
        name = model_name("reconstruction", "gaussians", scene)
        version = tracker.register_model(name, model_dir / "model.pt", model_dir / "point_cloud.ply")
        tracker.score_model(name, metrics, version=version)
    return metrics


if __name__ == "__main__":
    from stages._entry import main

    sys.exit(main(run))
