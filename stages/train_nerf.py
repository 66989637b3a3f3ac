"""DVC stage ``train_nerf@<model>-<scene>``: train one NeRF run of ``nerf.runs`` on its scene, then write
the model, renders, orbit video and mesh to ``nerf.output/<model>/<scene>`` and the metrics, tables and
images to ``nerf.reports/<model>/<scene>``. An interrupted run resumes when the params are unchanged."""

from __future__ import annotations

import sys

from obscura.config import Params
from obscura.errors import ObscuraError
from obscura.tracking import model_name, stage_run


def run(params: Params, name: str) -> dict:
    from obscura.rendering.nerf.fit import fit

    cfg = params.nerf
    if name not in cfg.runs:
        raise ObscuraError(f"nerf.runs has no entry {name!r}; configured: {', '.join(cfg.runs) or 'none'}.")
    r = cfg.runs[name]
    reports = cfg.reports / r.model / r.scene
    with stage_run(f"train_nerf@{name}", {f"nerf.runs.{name}": r}, experiment="reconstruction", seed=params.seed,
                   method=r.model, dataset=r.scene) as tracker:
        metrics = fit(params.scenes.output / r.scene, cfg.output / r.model / r.scene, reports, r.model, r.config,
                      r.poses, params.seed, log=lambda logs, step: tracker.log_metrics(logs, step=step),
                      log_every=cfg.log_every, checkpoint_every=cfg.checkpoint_every, orbit_frames=cfg.orbit_frames,
                      orbit_scale=cfg.orbit_scale, mesh_scale=cfg.mesh_scale, mesh_voxels=cfg.mesh_voxels)
        tracker.log_metrics({k: v for k, v in metrics.items() if isinstance(v, (int, float))})
        for image in ("test_grid.png", "depth_grid.png", "mesh.png"):
            if (reports / image).is_file():
                tracker.log_artifact(reports / image)
        tracker.log_artifact(reports / "metrics.json")
        registered = model_name("reconstruction", f"nerf-{r.model}", r.scene)
        version = tracker.register_model(registered, cfg.output / r.model / r.scene / "model.pt")
        tracker.score_model(registered, metrics, version=version)
    return metrics


if __name__ == "__main__":
    from stages._entry import main

    sys.exit(main(run))
