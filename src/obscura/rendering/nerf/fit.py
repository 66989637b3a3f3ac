"""One NeRF run end to end: train on a scene (resumable), then write the model, renders, video and
mesh to ``out_dir`` and the metrics, per-view table, curve and images to ``reports_dir`` — both
directories atomically, so an interrupted or failed run leaves nothing that looks like a result."""

from __future__ import annotations

import os
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path

from obscura.io import atomic_dir, write_csv, write_json
from obscura.rendering.nerf.outputs import mesh_outputs, orbit_video, test_views
from obscura.rendering.nerf.registry import MODELS
from obscura.rendering.nerf.train import (
    build_model,
    peak_memory_mb,
    save,
    scene_cameras,
    train,
)


def fit(scene_dir: str | os.PathLike, out_dir: str | os.PathLike, reports_dir: str | os.PathLike | None = None,
        model: str = "grid", config: dict | None = None, poses: str = "sfm", seed: int = 0,
        log: Callable[[dict, int], None] | None = None, log_every: int = 20, checkpoint_every: int = 100,
        orbit_frames: int = 36, orbit_scale: float = 0.25, mesh_scale: float = 0.25, mesh_voxels: int = 384,
        tiny: bool = False, progress: bool = True) -> dict:
    """Train ``model`` (its config, or its tiny test config, with ``config`` applied) on ``scene_dir`` and write:

    ``out_dir``: ``model.pt``, ``renders/`` (held-out views and depth), ``orbit.mp4``, ``mesh.ply``;
    ``reports_dir`` (default ``out_dir``): ``metrics.json``, ``views.csv``, ``train.csv``,
    ``test_grid.png``, ``depth_grid.png``, ``mesh.png``. Resumes from ``.<out_dir>.state.pt``.
    """
    scene_dir, out_dir = Path(scene_dir), Path(out_dir)
    reports_dir = Path(reports_dir) if reports_dir is not None else None
    cams = scene_cameras(scene_dir, poses)
    cfg = MODELS.make(model, tiny=tiny, **(config or {}))
    net = build_model(model, cfg, cams, seed)
    state = out_dir.with_name(f".{out_dir.name}.state.pt")
    fingerprint = {"config": cfg.to_dict(), "scene": str(scene_dir.resolve()), "poses": poses, "source": cams.source}
    result = train(net, cams, seed, state, fingerprint, log, log_every, checkpoint_every, progress=progress)
    metrics = {"model": model, "scene": scene_dir.name, "poses": poses, **result["metrics"]}
    with atomic_dir(out_dir) as out, atomic_dir(reports_dir) if reports_dir is not None else nullcontext(out) as rep:
        save(out / "model.pt", net, scene_dir, poses)
        if cams.test:
            metrics.update(test_views(net, cams, out / "renders", rep, progress))
        orbit_video(net, cams, out / "orbit.mp4", orbit_frames, orbit_scale)
        metrics.update(mesh_outputs(net, cams, scene_dir, out / "mesh.ply", rep / "mesh.png", mesh_scale,
                                    mesh_voxels))
        metrics["peak_memory_mb"] = peak_memory_mb()
        write_csv(rep / "train.csv", result["rows"], first=("step", "loss", "psnr"))
        write_json(rep / "metrics.json", metrics)
    state.unlink(missing_ok=True)
    return metrics
