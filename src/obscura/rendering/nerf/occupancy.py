"""Occupancy grid for empty-space skipping (instant-ngp): a coarse grid over the model's normalised
space ``[−1, 1]³`` holding a decaying maximum of the density, and the compiled ray marcher that only
emits samples in occupied cells.

Marching: every ray walks the same sequence of interval edges (uniform steps, or steps growing with
distance when ``cone > 0`` for contracted scenes), shifted by a per-ray jitter in training; a sample
is kept when its midpoint lies inside the ray's ``[near, far]`` and in an occupied cell.
"""

from __future__ import annotations

import numpy as np
import torch
from numba import njit, prange


@njit(inline="always", fastmath=True, cache=True)
def _to_grid(o, d, t, center, inv_half, contract, res):
    """Cell index of the point ``o + t d`` (−1 when outside the grid)."""
    u0 = (o[0] + t * d[0] - center[0]) * inv_half[0]
    u1 = (o[1] + t * d[1] - center[1]) * inv_half[1]
    u2 = (o[2] + t * d[2] - center[2]) * inv_half[2]
    if contract:
        n = max(abs(u0), abs(u1), abs(u2))
        s = 0.5 if n <= 1 else (2 - 1 / n) / n * 0.5
        u0, u1, u2 = u0 * s, u1 * s, u2 * s
    i = int((u0 + 1) * 0.5 * res[0])
    j = int((u1 + 1) * 0.5 * res[1])
    k = int((u2 + 1) * 0.5 * res[2])
    if u0 < -1 or u1 < -1 or u2 < -1 or i >= res[0] or j >= res[1] or k >= res[2]:
        return -1
    return (i * res[1] + j) * res[2] + k


@njit(parallel=True, fastmath=True, cache=True)
def _march(origins, dirs, near, far, jitter, edges, occupied, center, inv_half, contract, res, counts, fill,
           offsets, ray_out, t0_out, t1_out):
    for r in prange(origins.shape[0]):
        n = 0
        base = offsets[r] if fill else 0
        for k in range(edges.shape[0] - 1):
            a = edges[k] + jitter[r] * (edges[k + 1] - edges[k])
            b = edges[k + 1] + jitter[r] * ((edges[k + 2] if k + 2 < edges.shape[0] else 2 * edges[k + 1] - edges[k])
                                            - edges[k + 1])
            m = 0.5 * (a + b)
            if m < near[r]:
                continue
            if m > far[r]:
                break
            cell = _to_grid(origins[r], dirs[r], m, center, inv_half, contract, res)
            if cell < 0 or not occupied[cell]:
                continue
            if fill:
                ray_out[base + n] = r
                t0_out[base + n] = a
                t1_out[base + n] = b
            n += 1
        counts[r] = n


def step_edges(far: float, step: float, cone: float = 0.0, step_max: float = 1e9) -> np.ndarray:
    """Interval edges from 0 to ``far``: ``Δ = clamp(t · cone, step, step_max)``."""
    if cone <= 0:
        return np.arange(0.0, far + step, step, dtype=np.float32)
    edges, t = [0.0], 0.0
    while t < far:
        t += min(max(t * cone, step), step_max)
        edges.append(t)
    return np.asarray(edges, np.float32)


class OccupancyGrid(torch.nn.Module):
    """Binary occupancy over ``[−1, 1]³`` at ``res`` cells per axis, from a density EMA (its buffers are
    part of the model state, so training resumes exactly)."""

    def __init__(self, res: tuple[int, int, int], threshold: float, decay: float = 0.95):
        super().__init__()
        self.res, self.threshold, self.decay = tuple(int(r) for r in res), threshold, decay
        self.register_buffer("density", torch.zeros(self.res))
        self.register_buffer("mask", torch.ones(self.res, dtype=torch.bool))

    def cell_points(self, cells: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """A point in ``[−1, 1]³`` inside each flat cell index: uniform when ``generator``, else centres."""
        res = torch.tensor(self.res)
        ijk = torch.stack([cells // (res[1] * res[2]), cells // res[2] % res[1], cells % res[2]], -1)
        u = torch.rand(len(cells), 3, generator=generator) if generator is not None else torch.full((len(cells), 3), .5)
        return (ijk + u) / res * 2 - 1

    @torch.no_grad()
    def update(self, density_fn, generator: torch.Generator | None, fraction: float = 1.0,
               chunk: int = 1 << 16) -> None:
        """Re-measure the density at one random point in (a random ``fraction`` of, half of them among the
        occupied) cells, keep ``max(decay · old, new)`` and occupy the cells above ``min(threshold, mean)``."""
        n = self.density.numel()
        if fraction >= 1:
            cells = torch.arange(n)
        else:
            k = max(1, int(n * fraction / 2))
            occupied = self.mask.flatten().nonzero()[:, 0]
            cells = torch.randint(n, (k,), generator=generator)
            if len(occupied):
                cells = torch.cat([cells, occupied[torch.randint(len(occupied), (k,), generator=generator)]])
        points = self.cell_points(cells, generator)
        sigma = torch.cat([density_fn(points[i:i + chunk]) for i in range(0, len(points), chunk)])
        flat = self.density.view(-1)
        flat.mul_(self.decay)
        flat.scatter_reduce_(0, cells, sigma.float(), "amax")
        self.mask.copy_(self.density > min(self.threshold, float(self.density.mean())))

    def march(self, origins: torch.Tensor, dirs: torch.Tensor, near: torch.Tensor, far: torch.Tensor,
              edges: np.ndarray, center: np.ndarray, inv_half: np.ndarray, contract: bool,
              jitter: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Packed samples (ray ids, interval starts, interval ends) of unit-direction rays in world space."""
        args = [a.detach().float().contiguous().numpy() for a in (origins, dirs, near, far, jitter)]
        occ = self.mask.view(-1).numpy()
        res = np.asarray(self.res, np.int64)
        counts = np.zeros(len(origins), np.int64)
        empty_i, empty_f = np.zeros(0, np.int64), np.zeros(0, np.float32)
        _march(*args, edges, occ, center, inv_half, contract, res, counts, False, counts, empty_i, empty_f, empty_f)
        total = int(counts.sum())
        offsets = np.cumsum(counts) - counts
        ray_ids, t0, t1 = np.empty(total, np.int64), np.empty(total, np.float32), np.empty(total, np.float32)
        _march(*args, edges, occ, center, inv_half, contract, res, np.zeros_like(counts), True, offsets, ray_ids, t0, t1)
        return torch.from_numpy(ray_ids), torch.from_numpy(t0), torch.from_numpy(t1)
