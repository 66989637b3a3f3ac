"""Multi-resolution hash encoding (Müller et al. 2022, instant-ngp) with compiled CPU kernels.

Level ``l`` is a grid of resolution ``N_l = N_min · b^l`` over ``[0, 1]³``; a point's feature at that
level is the trilinear blend of the ``F`` features stored at the 8 corners of its cell, looked up
directly when ``(N_l + 1)³ ≤ T`` and through the spatial hash ``(x·1 ⊕ y·2654435761 ⊕ z·805459861) mod T``
otherwise. Why compiled: profiling a training step in plain torch put most of its time in this
lookup (16 levels × 8 corners of gathers, and their scatter-add backward: ~1 s per 65k samples on 2
cores); the numba kernels below do it ~10× faster (``bench/nerf.py`` prints both as
``encoding_fwd_bwd``). Forward is parallel over points, backward over levels (each level owns its
slice of the table, so there are no write races and the sums do not depend on thread timing).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from numba import njit, prange


@njit(inline="always", cache=True)
def _corner(l, c, ix, iy, iz, res, hashed, size):
    cx, cy, cz = ix + (c & 1), iy + ((c >> 1) & 1), iz + ((c >> 2) & 1)
    if hashed[l]:
        return (cx ^ (cy * 2654435761) ^ (cz * 805459861)) & (size - 1)
    r = res[l] + 1
    return cx + r * (cy + r * cz)


@njit(inline="always", fastmath=True, cache=True)
def _cell(x, n, scale):
    p = x[n, 0] * scale, x[n, 1] * scale, x[n, 2] * scale
    ix, iy, iz = math.floor(p[0]), math.floor(p[1]), math.floor(p[2])
    return ix, iy, iz, p[0] - ix, p[1] - iy, p[2] - iz


@njit(inline="always", fastmath=True, cache=True)
def _weight(c, fx, fy, fz):
    return ((fx if c & 1 else 1 - fx) * (fy if (c >> 1) & 1 else 1 - fy) * (fz if (c >> 2) & 1 else 1 - fz))


@njit(parallel=True, fastmath=True, cache=True)
def _encode(x, table, res, hashed, out):
    levels, size, feats = table.shape
    for n in prange(x.shape[0]):
        for l in range(levels):
            ix, iy, iz, fx, fy, fz = _cell(x, n, res[l])
            for c in range(8):
                w = _weight(c, fx, fy, fz)
                i = _corner(l, c, ix, iy, iz, res, hashed, size)
                for f in range(feats):
                    out[n, l * feats + f] += w * table[l, i, f]


@njit(parallel=True, fastmath=True, cache=True)
def _encode_backward(x, grad_out, res, hashed, grad_table):
    levels, size, feats = grad_table.shape
    for l in prange(levels):
        for n in range(x.shape[0]):
            ix, iy, iz, fx, fy, fz = _cell(x, n, res[l])
            for c in range(8):
                w = _weight(c, fx, fy, fz)
                i = _corner(l, c, ix, iy, iz, res, hashed, size)
                for f in range(feats):
                    grad_table[l, i, f] += w * grad_out[n, l * feats + f]


class _HashEncode(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, table, res, hashed):
        out = np.zeros((len(x), table.shape[0] * table.shape[2]), np.float32)
        _encode(x.numpy(), table.detach().numpy(), res, hashed, out)
        ctx.save_for_backward(x)
        ctx.res, ctx.hashed, ctx.shape = res, hashed, table.shape
        return torch.from_numpy(out)

    @staticmethod
    def backward(ctx, grad_out):
        (x,) = ctx.saved_tensors
        grad = np.zeros(ctx.shape, np.float32)
        _encode_backward(x.numpy(), grad_out.contiguous().numpy(), ctx.res, ctx.hashed, grad)
        return None, torch.from_numpy(grad), None, None


class HashGrid(torch.nn.Module):
    """``levels`` levels of ``features`` features, resolutions ``min_res`` … ``max_res``, ``2^log2_size``
    entries per level; ``forward(x)`` maps points in ``[0, 1]³`` (N, 3) to (N, levels·features)."""

    def __init__(self, levels: int = 16, features: int = 2, log2_size: int = 18, min_res: int = 16,
                 max_res: int = 1024, seed: int = 0):
        super().__init__()
        growth = (max_res / min_res) ** (1 / max(levels - 1, 1))
        self.res = np.array([math.floor(min_res * growth ** l) for l in range(levels)], np.int64)
        size = 2 ** log2_size
        self.hashed = np.array([(r + 1) ** 3 > size for r in self.res])
        init = torch.rand(levels, size, features, generator=torch.Generator().manual_seed(seed))
        self.table = torch.nn.Parameter((init * 2 - 1) * 1e-4)
        self.out_dim = levels * features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.detach().float().clamp(0, 1 - 1e-6).contiguous()
        return _HashEncode.apply(x, self.table, self.res, self.hashed)
