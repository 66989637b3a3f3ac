"""The harmonic initial fill of :func:`obscura.inpainting.deep.nets.harmonic_fill_reference` as numba kernels.

The same algorithm (red-black SOR in place, which equals the reference's whole-array colour updates because a
colour's neighbours all have the other colour), visiting only the hole pixels; the same values up to rounding
(the tests hold it within 1e-5). A few kernel calls per grid level instead of the reference's thousands of small
torch ops, which made the fill half of a training step.
Arrays are (N, C, H, W) with the hole (N, 1, H, W) in {0, 1}; float32 or float64.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def _hole_index(hole: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The hole pixels (rows ``pixels[0]``, columns ``pixels[1]``) of each image grouped by colour (red:
    i + j even): image b's colour r runs from ``starts[2b + r]`` to ``starts[2b + r + 1]``."""
    n, _, h, w = hole.shape
    starts = np.zeros(2 * n + 1, np.int64)
    pixels = np.empty((2, n * h * w), np.int64)
    q = 0
    for b in range(n):
        for colour in range(2):
            for i in range(h):
                for j in range((i + colour) % 2, w, 2):
                    if hole[b, 0, i, j] != 0:
                        pixels[0, q], pixels[1, q] = i, j
                        q += 1
            starts[2 * b + colour + 1] = q
    return starts, pixels[:, :q].copy()


@numba.njit(cache=True, nogil=True, inline="always")
def _mean4(x: np.ndarray, i: int, j: int, quarter) -> float:
    """Mean of the 4 neighbours of (i, j) in the plane ``x``, replicated borders (a missing neighbour counts as the
    pixel itself)."""
    h, w = x.shape
    return (x[max(i - 1, 0), j] + x[min(i + 1, h - 1), j] + x[i, max(j - 1, 0)] + x[i, min(j + 1, w - 1)]) * quarter


@numba.njit(cache=True, nogil=True)
def _relax(u: np.ndarray, rhs: np.ndarray, starts: np.ndarray, pixels: np.ndarray, sweeps: int,
           consts: np.ndarray) -> None:
    """``sweeps`` red-black SOR sweeps on ``u - mean of 4 neighbours = rhs`` at the hole pixels
    (:func:`_hole_index`), in place. ``consts`` = (omega, 0.25) in u's dtype, so the arithmetic stays in it.
    Plane by plane, all sweeps each."""
    n, c = u.shape[:2]
    omega, quarter = consts[0], consts[1]
    for p in range(n * c):
        b, k = p // c, p % c
        x, f = u[b, k], rhs[b, k]
        for _ in range(sweeps):
            for colour in range(2):
                for q in range(starts[2 * b + colour], starts[2 * b + colour + 1]):
                    i, j = pixels[0, q], pixels[1, q]
                    x[i, j] = x[i, j] + omega * (_mean4(x, i, j, quarter) + f[i, j] - x[i, j])


@numba.njit(cache=True, nogil=True)
def _residual(u: np.ndarray, rhs: np.ndarray, starts: np.ndarray, pixels: np.ndarray, quarter) -> np.ndarray:
    """``mean of neighbours + rhs - u`` at the hole pixels, 0 elsewhere."""
    n, c = u.shape[:2]
    res = np.zeros_like(u)
    for b in range(n):
        for k in range(c):
            for q in range(starts[2 * b], starts[2 * b + 2]):
                i, j = pixels[0, q], pixels[1, q]
                res[b, k, i, j] = _mean4(u[b, k], i, j, quarter) + rhs[b, k, i, j] - u[b, k, i, j]
    return res


@numba.njit(cache=True, nogil=True)
def _pool(x: np.ndarray) -> np.ndarray:
    """2x2 average pooling, ceil mode: a window cut by the border averages the pixels it has."""
    n, c, h, w = x.shape
    hh, ww = (h + 1) // 2, (w + 1) // 2
    out = np.empty((n, c, hh, ww), x.dtype)
    for b in range(n):
        for k in range(c):
            for i in range(hh):
                i1 = min(2 * i + 2, h)
                for j in range(ww):
                    j1 = min(2 * j + 2, w)
                    s = x[b, k, 2 * i, 2 * j] - x[b, k, 2 * i, 2 * j]  # a zero of x's dtype
                    for a in range(2 * i, i1):
                        for d in range(2 * j, j1):
                            s += x[b, k, a, d]
                    out[b, k, i, j] = s / ((i1 - 2 * i) * (j1 - 2 * j))
    return out


@numba.njit(cache=True, nogil=True)
def _source(o: int, size: int) -> tuple[int, int, float]:
    """Bilinear x2 (half-pixel centres): output index ``o`` reads inputs i0, i1 with weight ``frac`` on i1."""
    src = max((o + 0.5) * 0.5 - 0.5, 0.0)
    i0 = int(src)
    return i0, min(i0 + 1, size - 1), src - i0


@numba.njit(cache=True, nogil=True)
def _add_upsampled(u: np.ndarray, coarse: np.ndarray, starts: np.ndarray, pixels: np.ndarray) -> None:
    """``u += coarse upsampled x2 (cropped to u)`` at the hole pixels, in place."""
    n, c, h, w = u.shape
    ch, cw = coarse.shape[2], coarse.shape[3]
    for b in range(n):
        for q in range(starts[2 * b], starts[2 * b + 2]):
            i, j = pixels[0, q], pixels[1, q]
            i0, i1, fi = _source(i, ch)
            j0, j1, fj = _source(j, cw)
            for k in range(c):
                top = (1 - fj) * coarse[b, k, i0, j0] + fj * coarse[b, k, i0, j1]
                bottom = (1 - fj) * coarse[b, k, i1, j0] + fj * coarse[b, k, i1, j1]
                u[b, k, i, j] += (1 - fi) * top + fi * bottom


def _levels(hole: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """The V-cycle's grids: the hole's pixel index, then each coarser grid's (its unknowns are the 2x2 blocks
    lying wholly in the finer hole; a block only partly in it would lose the Dirichlet data and diverge),
    down to 2 px or an empty hole."""
    levels = [_hole_index(hole)]
    while min(hole.shape[-2:]) > 2:
        hole = (_pool(hole) >= 1).astype(hole.dtype)
        if not hole.any():
            break
        levels.append(_hole_index(hole))
    return levels


def _v_cycle(u, rhs, levels, sweeps, consts):
    _relax(u, rhs, *levels[0], sweeps, consts)
    if len(levels) > 1:
        coarse_rhs = 4 * _pool(_residual(u, rhs, *levels[0], consts[1]))
        err = np.zeros_like(coarse_rhs)
        _v_cycle(err, coarse_rhs, levels[1:], sweeps, consts)
        _add_upsampled(u, err, *levels[0])
    _relax(u, rhs, *levels[0], sweeps, consts)


def _fill(image, hole, cycles, sweeps, consts):
    known = 1 - hole
    if (known > 0).all():
        return image
    image = image * known
    h, w = image.shape[-2:]
    if h <= 1 or w <= 1:
        mean = image.sum((2, 3), keepdims=True) / np.maximum(known.sum((2, 3), keepdims=True), 1e-6)
        return (image + mean * hole).astype(image.dtype)
    den = _pool(known)
    coarse = _fill(_pool(image) / np.maximum(den, consts.dtype.type(1e-6)), (den <= 0).astype(image.dtype),
                   0, sweeps, consts)
    levels = _levels(hole) if cycles else [_hole_index(hole)]
    _add_upsampled(image, coarse, *levels[0])
    zero = np.zeros_like(image)
    _relax(image, zero, *levels[0], sweeps, consts)
    for _ in range(cycles):
        _v_cycle(image, zero, levels, sweeps, consts)
    return image


def harmonic_fill(image: np.ndarray, hole: np.ndarray, cycles: int = 4, sweeps: int = 3,
                  omega: float = 1.5) -> np.ndarray:
    """The multigrid harmonic fill of ``image`` (N, C, H, W) in the ``hole`` (N, 1, H, W); known pixels
    returned unchanged. See :func:`obscura.inpainting.deep.nets.harmonic_fill_reference`."""
    image = np.ascontiguousarray(image)
    hole = np.ascontiguousarray(hole, dtype=image.dtype)
    return _fill(image, hole, cycles, sweeps, np.array([omega, 0.25], image.dtype))
