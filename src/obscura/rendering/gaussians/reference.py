"""Dense pure-PyTorch rasterizer: every gaussian at every pixel, differentiable by autograd.

The test reference and speed peer of :mod:`obscura.rendering.gaussians.rasterize`, with the same rules: a
gaussian reaches only the pixels of the tiles its 3-sigma box overlaps, alpha is clamped to 0.99, alphas below
1/255 (or with power > 0) are skipped and compositing stops before T would fall below 1e-4. Memory is
O(pixels x gaussians): small scenes only.
"""

from __future__ import annotations

import torch

from obscura.rendering.gaussians.binning import tile_rects
from obscura.rendering.gaussians.rasterize import ALPHA_MAX, ALPHA_MIN, T_MIN


def rasterize_dense(means2d: torch.Tensor, conics: torch.Tensor, colors: torch.Tensor, opacities: torch.Tensor,
                    depths: torch.Tensor, radii: torch.Tensor, width: int, height: int,
                    background: torch.Tensor | None = None, tile: int = 16):
    """Same arguments and outputs (image (H, W, 3), depth (H, W), alpha (H, W)) as ``rasterize``."""
    if background is None:
        background = torch.zeros(3, dtype=means2d.dtype)
    order = torch.argsort(depths.detach().float(), stable=True)  # binning's order: float32 depth, then id
    m, q, col, op, dep = means2d[order], conics[order], colors[order], opacities[order], depths[order]
    rects = torch.from_numpy(tile_rects(means2d, radii, width, height, tile))[order]
    ys, xs = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    ys, xs = ys.reshape(-1, 1), xs.reshape(-1, 1)
    in_tiles = ((xs // tile >= rects[:, 0]) & (xs // tile < rects[:, 2])
                & (ys // tile >= rects[:, 1]) & (ys // tile < rects[:, 3]))
    dx = m[:, 0] - (xs.to(m.dtype) + 0.5)  # (pixels, gaussians)
    dy = m[:, 1] - (ys.to(m.dtype) + 0.5)
    power = -0.5 * (q[:, 0] * dx * dx + q[:, 2] * dy * dy) - q[:, 1] * dx * dy
    alpha = torch.clamp_max(op * torch.exp(torch.clamp_max(power, 0.0)), ALPHA_MAX)
    alpha = torch.where(in_tiles & (power <= 0) & (alpha.detach() >= ALPHA_MIN), alpha, torch.zeros_like(alpha))
    with torch.no_grad():
        stopped = torch.cumprod(1 - alpha, dim=1) < T_MIN  # the stopping gaussian and all behind it
    alpha = torch.where(stopped, torch.zeros_like(alpha), alpha)
    one_minus = 1 - alpha
    trans = torch.cumprod(torch.cat([torch.ones_like(alpha[:, :1]), one_minus[:, :-1]], dim=1), dim=1)
    weights = alpha * trans
    t_final = torch.prod(one_minus, dim=1)
    image = weights @ col.to(weights.dtype) + t_final[:, None] * background.to(weights.dtype)
    depth = weights @ dep.to(weights.dtype)
    return image.reshape(height, width, 3), depth.reshape(height, width), (1 - t_final).reshape(height, width)
