"""After training: held-out scores, renders, depth maps, the comparison grid and the orbit video."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import torch

from obscura.rendering.gaussians.model import GaussianModel, torch_beside_rasterizer
from obscura.rendering.scene_format import SceneCameras
from obscura.rendering.views import comparison_grid, evaluate_views, orbit_path, summarize, write_video


def renderer(model: GaussianModel, background):
    """``render(intrinsics, pose) -> {"rgb", "depth"}`` (numpy) for :mod:`obscura.rendering.views`."""
    def render(intrinsics, pose) -> dict[str, np.ndarray]:
        with torch.no_grad(), torch_beside_rasterizer():
            out = model.render(intrinsics, pose, background)
        return {"rgb": out["rgb"].clamp(0, 1).numpy(), "depth": out["depth"].numpy()}
    return render


def render_outputs(model: GaussianModel, cams: SceneCameras, out_dir: str | os.PathLike, orbit_frames: int = 48,
                   train_views: int = 8, progress: bool = True) -> tuple[dict, list[dict], np.ndarray]:
    """Score the held-out views (renders + depth PNGs under ``out_dir/test``), a sample of training
    views, and write ``out_dir/orbit.mp4``. Returns metrics, per-view rows and the comparison grid."""
    out_dir = Path(out_dir)
    background = cams.background or (0.0, 0.0, 0.0)
    render = renderer(model, background)
    rows, images = evaluate_views(render, cams, cams.test, out_dir / "test", progress=progress)
    train_rows, _ = evaluate_views(render, cams, cams.train[:: max(1, len(cams.train) // train_views)],
                                   progress=progress)
    metrics = {**summarize(rows, "test"), "train_psnr": summarize(train_rows, "train")["train_psnr"]}
    metrics["render_fps"] = 1.0 / metrics["render_seconds_per_frame"]
    if orbit_frames:
        t0 = time.perf_counter()
        frames = [render(cams.intrinsics, pose)["rgb"] for pose in orbit_path(cams.poses[cams.train], orbit_frames)]
        metrics["orbit_seconds"] = time.perf_counter() - t0
        write_video(out_dir / "orbit.mp4", frames)
    return metrics, rows, comparison_grid(images["rgb"], images["target"])
