"""Camera rays in torch: one ray per pixel centre of a pinhole camera, OpenCV axes.

For a world-to-camera pose ``T = [R | t]`` the ray of pixel ``(u, v)`` (continuous coordinates, the
first pixel's centre at (0.5, 0.5)) starts at the camera centre ``o = −Rᵀ t`` and runs along
``d = Rᵀ ((u − cx) / fx, (v − cy) / fy, 1)``: a point ``o + s·d`` lies at camera depth ``z = s``.
:func:`normalize` gives unit view directions.
"""

from __future__ import annotations

import numpy as np
import torch

from obscura.rendering.cameras import Intrinsics


def pixel_centers(width: int, height: int, dtype=torch.float32) -> torch.Tensor:
    """(H, W, 2) continuous ``(u, v)`` coordinates of every pixel centre."""
    v, u = torch.meshgrid(torch.arange(height, dtype=dtype) + 0.5, torch.arange(width, dtype=dtype) + 0.5,
                          indexing="ij")
    return torch.stack([u, v], -1)


def rays(intrinsics: Intrinsics, pose: np.ndarray | torch.Tensor, uv: torch.Tensor | None = None,
         dtype=torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """Origins and directions (z-depth scaled, see the module docstring) of the rays through ``uv``
    (``(..., 2)`` pixel coordinates; default every pixel centre, shape (H, W, 3))."""
    if uv is None:
        uv = pixel_centers(intrinsics.width, intrinsics.height, dtype)
    T = torch.as_tensor(np.asarray(pose), dtype=dtype)
    R, t = T[:3, :3], T[:3, 3]
    cam = torch.stack([(uv[..., 0] - intrinsics.cx) / intrinsics.fx, (uv[..., 1] - intrinsics.cy) / intrinsics.fy,
                       torch.ones_like(uv[..., 0])], -1)
    directions = cam @ R                                     # rows: Rᵀ d
    origins = (-R.T @ t).expand_as(directions)
    return origins, directions


def normalize(directions: torch.Tensor) -> torch.Tensor:
    return directions / directions.norm(dim=-1, keepdim=True)
