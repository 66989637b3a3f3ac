"""What every renderer shares after training: held-out-view evaluation, orbit camera paths, depth
colouring and video writing.

A renderer is any callable ``render(intrinsics, pose) -> {"rgb": (H, W, 3), "depth": (H, W)}``
(numpy, rgb in [0, 1], depth = camera z, 0 where nothing was hit).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from obscura.metrics import psnr, ssim
from obscura.rendering.cameras import Intrinsics, camera_centers, look_at
from obscura.rendering.scene_format import SceneCameras

Renderer = Callable[[Intrinsics, np.ndarray], dict[str, np.ndarray]]


def evaluate_views(render: Renderer, cams: SceneCameras, indices: list[int], out_dir: str | os.PathLike | None = None,
                   progress: bool = True) -> tuple[list[dict], dict[str, np.ndarray]]:
    """Render the views ``indices`` and score them against their photos (PSNR, SSIM).

    Returns one row per view (``name``, ``psnr``, ``ssim``, ``render_seconds``) and the renders
    ``{"rgb": (n, H, W, 3), "depth": (n, H, W), "target": (n, H, W, 3)}``. With ``out_dir`` each render
    and a colour-mapped depth is saved as ``<stem>.png`` / ``<stem>_depth.png``.
    """
    from tqdm import tqdm

    from obscura.io import save_image

    rows, rgbs, depths = [], [], []
    targets = cams.load_images(indices)
    for target, i in zip(tqdm(targets, desc="evaluate views", disable=not progress, leave=False), indices):
        t0 = time.perf_counter()
        out = render(cams.intrinsics, cams.poses[i])
        seconds = time.perf_counter() - t0
        rgb = np.clip(out["rgb"], 0, 1)
        rows.append({"name": cams.names[i], "psnr": psnr(rgb, target), "ssim": ssim(rgb, target),
                     "render_seconds": seconds})
        rgbs.append(rgb)
        depths.append(out["depth"])
        if out_dir is not None:
            stem = Path(cams.names[i]).stem
            save_image(Path(out_dir) / f"{stem}.png", rgb)
            save_image(Path(out_dir) / f"{stem}_depth.png", colorize_depth(out["depth"]))
    return rows, {"rgb": np.stack(rgbs), "depth": np.stack(depths), "target": targets}


def summarize(rows: list[dict], prefix: str = "test") -> dict[str, float]:
    """Flat metrics over view rows: ``<prefix>_psnr``, ``<prefix>_ssim``, ``render_seconds_per_frame``."""
    return {f"{prefix}_psnr": float(np.mean([r["psnr"] for r in rows])),
            f"{prefix}_ssim": float(np.mean([r["ssim"] for r in rows])),
            "render_seconds_per_frame": float(np.mean([r["render_seconds"] for r in rows]))}


def comparison_grid(renders: np.ndarray, targets: np.ndarray, max_views: int = 6) -> np.ndarray:
    """Rows of (ground truth | render) pairs for up to ``max_views`` views: (rows·H, 2·W, 3)."""
    n = min(len(renders), max_views)
    return np.concatenate([np.concatenate([targets[i], renders[i]], 1) for i in range(n)], 0)


def colorize_depth(depth: np.ndarray) -> np.ndarray:
    """(H, W) depth → (H, W, 3) turbo colours (near = red), black where depth is 0."""
    import matplotlib

    valid = depth > 0
    out = np.zeros((*depth.shape, 3), np.float32)
    if valid.any():
        lo, hi = np.percentile(depth[valid], [1, 99])
        x = np.clip((depth - lo) / max(hi - lo, 1e-9), 0, 1)
        out = matplotlib.colormaps["turbo"](1 - x)[..., :3].astype(np.float32)
        out[~valid] = 0
    return out


def orbit_path(poses: np.ndarray, frames: int = 60, center: np.ndarray | None = None,
               up: np.ndarray | None = None) -> np.ndarray:
    """(frames, 4, 4) world-to-camera poses circling ``center`` (default: the point the training
    cameras look at, least squares) at the cameras' mean distance and height. ``up`` defaults to the
    normal of the plane the cameras span when they surround the scene, else the mean camera up."""
    centers = camera_centers(poses)
    forward = poses[:, 2, :3]                          # camera +z in world coordinates
    if center is None:                                 # nearest point to all optical axes
        A = np.zeros((3, 3))
        b = np.zeros(3)
        for c, f in zip(centers, forward):
            P = np.eye(3) - np.outer(f, f)
            A += P
            b += P @ c
        center = np.linalg.lstsq(A, b, rcond=None)[0]
    if up is None:
        up = -poses[:, 1, :3].mean(0)                  # OpenCV: +y is down
        _, s, vt = np.linalg.svd(centers - centers.mean(0))
        if s[2] < 0.2 * s[1] and s[1] > 0.3 * s[0]:    # cameras on a ring: its axis
            up = vt[2] * np.sign(vt[2] @ up)
    up = np.asarray(up, np.float64) / np.linalg.norm(up)
    rel = centers - center
    height = float((rel @ up).mean())
    flat = rel - np.outer(rel @ up, up)
    radius = float(np.linalg.norm(flat, axis=1).mean())
    e1 = flat.mean(0) if np.linalg.norm(flat.mean(0)) > 1e-6 * radius else flat[0]
    e1 = e1 / np.linalg.norm(e1)
    e2 = np.cross(up, e1)
    angles = np.linspace(0, 2 * np.pi, frames, endpoint=False)
    eyes = center + height * up + radius * (np.cos(angles)[:, None] * e1 + np.sin(angles)[:, None] * e2)
    return np.stack([look_at(e, center, up) for e in eyes])


def write_video(path: str | os.PathLike, frames: list[np.ndarray] | np.ndarray, fps: int = 24) -> Path:
    """Frames (float [0, 1] or uint8) → ``.mp4`` (H.264 via imageio-ffmpeg) or ``.gif``, atomically."""
    import imageio.v3 as iio

    from obscura.io import atomic_path, to_uint8

    path = Path(path)
    frames = [to_uint8(f) for f in frames]
    if path.suffix == ".mp4":                          # H.264 needs even sizes
        frames = [f[: f.shape[0] // 2 * 2, : f.shape[1] // 2 * 2] for f in frames]
    with atomic_path(path) as tmp:
        if path.suffix == ".mp4":
            iio.imwrite(tmp, np.stack(frames), extension=".mp4", fps=fps, codec="libx264", macro_block_size=1)
        else:
            iio.imwrite(tmp, np.stack(frames), extension=path.suffix, duration=1000 / fps, loop=0)
    return path
