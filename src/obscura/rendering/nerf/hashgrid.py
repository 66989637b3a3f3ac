"""Multi-resolution hash encoding (Müller et al. 2022, instant-ngp) with compiled CPU kernels.

Level ``l`` is a grid of resolution ``N_l = N_min · b^l`` over ``[0, 1]³``; a point's feature at that
level is the trilinear blend of the ``F`` features stored at the 8 corners of its cell, looked up
directly when ``(N_l + 1)³ ≤ T`` and through the spatial hash ``(x·1 ⊕ y·2654435761 ⊕ z·805459861) mod T``
otherwise (32-bit arithmetic, as instant-ngp). Why compiled: profiling a training step in plain torch put
most of its time in this lookup (16 levels × 8 corners of gathers and their scatter-add backward); the
numba kernels below do it several times faster (``bench/nerf.py`` prints both as ``encoding_fwd_bwd``).
Forward is parallel over points, backward over levels (each level owns its slice of the table, so there
are no write races and the sums do not depend on thread timing; levels are dealt to threads alternately
and read their output gradients level-major). ``hash_encode_reference`` is the same
lookup in plain torch, the reference the tests compare against.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from numba import get_num_threads, njit, prange

_PY, _PZ = np.uint32(2654435761), np.uint32(805459861)


@njit(inline="always", fastmath=True, cache=True)
def _setup(x0, x1, x2, scale):
    """Cell corner (integer) and fractional offsets of a point at one level."""
    p0, p1, p2 = x0 * scale, x1 * scale, x2 * scale
    i0, i1, i2 = np.int32(p0), np.int32(p1), np.int32(p2)          # points are in [0, 1): floor == trunc
    return i0, i1, i2, p0 - i0, p1 - i1, p2 - i2


@njit(inline="always", fastmath=True, cache=True)
def _corners(i0, i1, i2, res, hashed, mask, index):
    """The table rows of the 8 corners of cell ``(i0, i1, i2)`` (corner ``c`` has offset bits x=c&1,
    y=c&2, z=c&4)."""
    if hashed:
        hy0, hy1 = np.uint32(i1) * _PY, np.uint32(i1 + 1) * _PY
        hz0, hz1 = np.uint32(i2) * _PZ, np.uint32(i2 + 1) * _PZ
        for c in range(8):
            hx = np.uint32(i0 + (c & 1))
            index[c] = (hx ^ (hy1 if c & 2 else hy0) ^ (hz1 if c & 4 else hz0)) & mask
    else:
        r = res + 1
        base = i0 + r * (i1 + r * i2)
        for c in range(8):
            index[c] = base + (c & 1) + (r if c & 2 else 0) + (r * r if c & 4 else 0)


@njit(inline="always", fastmath=True, cache=True)
def _weight(c, f0, f1, f2):
    return (f0 if c & 1 else 1 - f0) * (f1 if c & 2 else 1 - f1) * (f2 if c & 4 else 1 - f2)


@njit(parallel=True, fastmath=True, cache=True)
def _encode(x, table, res, hashed, out):
    levels, size, feats = table.shape
    mask = np.uint32(size - 1)
    for n in prange(x.shape[0]):
        index = np.empty(8, np.int64)
        for l in range(levels):
            i0, i1, i2, f0, f1, f2 = _setup(x[n, 0], x[n, 1], x[n, 2], np.float32(res[l]))
            _corners(i0, i1, i2, res[l], hashed[l], mask, index)
            for f in range(feats):
                acc = np.float32(0)
                for c in range(8):
                    acc += _weight(c, f0, f1, f2) * table[l, index[c], f]
                out[n, l * feats + f] = acc


@njit(parallel=True, fastmath=True, cache=True)
def _encode_backward(x, grad_levels, res, hashed, level_order, grad_table):
    """``grad_levels`` (levels, N, features): the output gradient level-major, so that each level's task
    reads its slice contiguously; ``level_order``: levels in the order the parallel loop's static split
    deals them to threads."""
    levels, size, feats = grad_table.shape
    mask = np.uint32(size - 1)
    for k in prange(levels):
        l = level_order[k]
        index = np.empty(8, np.int64)
        for n in range(x.shape[0]):
            i0, i1, i2, f0, f1, f2 = _setup(x[n, 0], x[n, 1], x[n, 2], np.float32(res[l]))
            _corners(i0, i1, i2, res[l], hashed[l], mask, index)
            for c in range(8):
                w = _weight(c, f0, f1, f2)
                for f in range(feats):
                    grad_table[l, index[c], f] += w * grad_levels[l, n, f]


def _level_order(levels: int) -> np.ndarray:
    """Levels interleaved by thread (levels r, r + T, r + 2T, ... form the r-th thread's block): coarse levels,
    whose tables stay in cache, and fine hashed ones, which miss it, are shared evenly."""
    threads = get_num_threads()
    return np.concatenate([np.arange(r, levels, threads) for r in range(threads)])


class _HashEncode(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, table, res, hashed, encoded):
        if encoded is None:
            out = np.empty((len(x), table.shape[0] * table.shape[2]), np.float32)
            _encode(x.numpy(), table.detach().numpy(), res, hashed, out)
            encoded = torch.from_numpy(out)
        ctx.save_for_backward(x)
        ctx.res, ctx.hashed, ctx.shape = res, hashed, table.shape
        return encoded

    @staticmethod
    def backward(ctx, grad_out):
        (x,) = ctx.saved_tensors
        levels, _, feats = ctx.shape
        grad = np.zeros(ctx.shape, np.float32)
        grad_levels = grad_out.reshape(len(x), levels, feats).transpose(0, 1).contiguous()
        _encode_backward(x.numpy(), grad_levels.numpy(), ctx.res, ctx.hashed, _level_order(levels), grad)
        return None, torch.from_numpy(grad), None, None, None


def hash_encode_reference(x: torch.Tensor, table: torch.Tensor, res: np.ndarray, hashed: np.ndarray) -> torch.Tensor:
    """The encoding as plain torch gathers (slow; differentiable by autograd)."""
    corners = torch.tensor([[c & 1, (c >> 1) & 1, (c >> 2) & 1] for c in range(8)])
    primes = torch.tensor([1, 2654435761, 805459861])
    size, out = table.shape[1], []
    for level, r in enumerate(res.tolist()):
        p = x.float() * torch.tensor(r, dtype=torch.float32)
        cell = p.floor()
        frac = p - cell
        c = cell.long()[:, None] + corners
        if hashed[level]:
            index = ((c[..., 0] * primes[0]) ^ (c[..., 1] * primes[1] % 2**32) ^ (c[..., 2] * primes[2] % 2**32)) % 2**32 % size
        else:
            index = c[..., 0] + (r + 1) * (c[..., 1] + (r + 1) * c[..., 2])
        w = torch.where(corners.bool(), frac[:, None], 1 - frac[:, None]).prod(-1)
        out.append((table[level][index] * w[..., None]).sum(1))
    return torch.cat(out, -1)


class HashGrid(torch.nn.Module):
    """``levels`` levels of ``features`` features, resolutions ``min_res`` … ``max_res``, ``2^log2_size``
    entries per level; ``forward(x)`` maps points in ``[0, 1]³`` (N, 3) to (N, levels·features).
    ``encoded``: that output, computed earlier (without gradient) from the same points and table; it is
    returned as is and only the backward runs (the table's gradient is the same)."""

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

    def forward(self, x: torch.Tensor, encoded: torch.Tensor | None = None) -> torch.Tensor:
        x = x.detach().float().clamp(0, 1 - 1e-6).contiguous()
        return _HashEncode.apply(x, self.table, self.res, self.hashed, encoded)
