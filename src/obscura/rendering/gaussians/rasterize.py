"""Tile-based gaussian rasterizer for the CPU: numba forward and backward kernels (Inria 3DGS semantics).

Per pixel, the gaussians of its tile are composited front to back: ``power = -0.5 (a dx^2 + c dy^2) - b dx dy``
with ``d = mean - pixel centre`` (skipped if > 0), ``alpha = min(0.99, opacity exp(power))`` (skipped if
< 1/255), and compositing stops before the gaussian that would bring the transmittance T below 1e-4. Outputs:
colour ``sum c_i alpha_i T_i + T_final background``, depth ``sum d_i alpha_i T_i`` and alpha ``1 - T_final``.
Only T_final and the 1-based list position of the last contributor are kept per pixel; the backward pass
walks the list back to front from there, recovering T by dividing by (1 - alpha).

CPU layout: one parallel task per tile (tiles interleaved between threads). Inside it gaussians are the outer
loop (their parameters are read once per tile, as the CUDA kernel's shared-memory batches are); the tile is
split into vertical strips (16 pixels wide forward, 8 backward) and each gaussian sweeps, as one branch-free
SIMD loop per strip, the strip rows where its alpha can reach 1/255 (rows whose pixels are all finished are
skipped). Per-pixel state lives in one tile-local array at fixed offsets, indexed by unsigned integers, so that
LLVM vectorises without alias checks or negative-index wrap-around. Arithmetic is in the inputs' dtype (float32
or float64), with a polynomial exp (relative error < 3e-6 in float32, < 1e-12 in float64). The forward marks
the (tile, gaussian) pairs it composited into at least one pixel and the backward skips the rest (a fifth of the
pairs a dense scene's forward visits: faint edges and pixels already finished). The backward pass writes one
gradient row per (tile, gaussian) pair into slots grouped by gaussian, which are then summed per gaussian: no
write races, and results that do not depend on thread scheduling. Unlike Inria, a clamped alpha
(opacity exp(power) > 0.99) passes no gradient to opacity, conic or mean (its true derivative).
"""

from __future__ import annotations

import functools
import math
import os
from typing import NamedTuple

import numba
import numpy as np
import torch
from numba import get_num_threads, njit, prange

if "NUMBA_THREADING_LAYER" not in os.environ:
    # OpenMP's workers spin after each parallel region and starve torch (and any other process) on a
    # 2-core machine: fwd+bwd at 480x360/20k took 0.22 s beside one busy process, 0.11 s with workqueue.
    numba.config.THREADING_LAYER = "workqueue"

from obscura.rendering.gaussians.binning import Bins, bin_gaussians

ALPHA_MAX = 0.99
ALPHA_MIN = 1.0 / 255.0
T_MIN = 1e-4
PAIR_COLUMNS = 10  # mean x, mean y, conic a, b, c, opacity, r, g, b, depth
EXP_LO = -12.0  # exp is evaluated on [EXP_LO, 0]: below, alpha < 1/255 for any opacity <= 1
SLACK = 0.01  # px added to the alpha >= 1/255 ellipse wherever rows or tiles are chosen (the pixel test decides)
UNBOUNDED = 1e7  # px: footprint of a conic that is not positive definite


@njit(inline="always", fastmath=True, cache=True)
def _exp(x, k):
    """exp(x) for x in [EXP_LO, 0] (clamped) as q(x / 16) ** 16, q the Taylor polynomial of exp around -3/8.

    ``k`` = (EXP_LO, 0, 1, 1/16, 3/8, exp(-3/8), 1/n!, ..., 1/2!) in the working dtype.
    """
    z = min(max(x, k[0]), k[1]) * k[3] + k[4]
    p = k[6]
    for j in range(7, len(k)):
        p = p * z + k[j]
    p = k[5] * (k[2] + z * (k[2] + z * p))
    p = p * p
    p = p * p
    p = p * p
    return p * p


def _exp_consts(dtype) -> tuple:
    degree = 8 if dtype == np.float32 else 11
    coefs = [1.0 / math.factorial(n) for n in range(degree, 1, -1)]
    return tuple(dtype(v) for v in (EXP_LO, 0.0, 1.0, 1 / 16, 3 / 8, math.exp(-3 / 8), *coefs))


@njit(inline="always", fastmath=True, cache=True)
def _forward_pixel(st, i, o, kc, ek, mx, my, a2, b, c2, op, cr, cg, cb, cd, kf):
    """Composites one gaussian over pixel ``i`` of the forward state (rows at offsets ``o`` = x, y, T, r, g, b,
    depth, last, done), branch-free; returns (stopped, added) as 0/1 in the working dtype."""
    zero, one, amax, amin, tmin = kc
    dx = mx - st[o[0] + i]
    dy = my - st[o[1] + i]
    power = a2 * dx * dx + c2 * dy * dy - b * dx * dy
    al = min(amax, op * _exp(power, ek))
    tr = st[o[2] + i]
    test = tr * (one - al)
    ok = (power <= zero) & (al >= amin) & (st[o[8] + i] == zero)
    stop = ok & (test < tmin)
    add = ok & (test >= tmin)
    w = al * tr if add else zero
    st[o[3] + i] += w * cr
    st[o[4] + i] += w * cg
    st[o[5] + i] += w * cb
    st[o[6] + i] += w * cd
    st[o[2] + i] = test if add else tr
    st[o[7] + i] = kf if add else st[o[7] + i]
    st[o[8] + i] = one if stop else st[o[8] + i]
    return (one if stop else zero), (one if add else zero)


@njit(inline="always", fastmath=True, cache=True)
def _backward_pixel(st, i, o, kc, ek, mx, my, a, b, c, op, cr, cg, cb, cd, kf):
    """One back-to-front step of pixel ``i`` (state rows at offsets ``o`` = x, y, T, last, dL/d(r, g, b, depth),
    background term, S r, g, b, depth), branch-free. Returns the pixel's share of dL/d(mean x, mean y, a, b, c,
    opacity, r, g, b, depth), the a and c terms without their factor 1/2."""
    zero, one, amax, amin, half = kc
    dx = mx - st[o[0] + i]
    dy = my - st[o[1] + i]
    power = -half * (a * dx * dx + c * dy * dy) - b * dx * dy
    gauss = _exp(power, ek)
    raw = op * gauss
    al = min(amax, raw)
    ok = (kf <= st[o[3] + i]) & (power <= zero) & (al >= amin)
    inv = one / (one - al)
    tr = st[o[2] + i] * inv
    e0, e1, e2, e3 = cr - st[o[9] + i], cg - st[o[10] + i], cb - st[o[11] + i], cd - st[o[12] + i]
    d0, d1, d2, d3 = st[o[4] + i], st[o[5] + i], st[o[6] + i], st[o[7] + i]
    dl_dal = (e0 * d0 + e1 * d1 + e2 * d2 + e3 * d3) * tr - st[o[8] + i] * inv
    st[o[2] + i] = tr if ok else st[o[2] + i]
    m = al if ok else zero  # S <- S + alpha (c - S) where this gaussian contributes
    st[o[9] + i] += m * e0
    st[o[10] + i] += m * e1
    st[o[11] + i] += m * e2
    st[o[12] + i] += m * e3
    w = al * tr if ok else zero
    dl_dal = dl_dal if (ok & (raw <= amax)) else zero  # a clamped alpha passes no gradient
    dp = al * dl_dal  # dL/dpower
    return (-dp * (a * dx + b * dy), -dp * (b * dx + c * dy), -dp * dx * dx, -dp * dx * dy, -dp * dy * dy,
            gauss * dl_dal, w * d0, w * d1, w * d2, w * d3)


@njit(inline="always", fastmath=True, cache=True)
def _tile_rows(mx, my, ellipse, x0, y0, tw, th):
    """Rows [r0, r1) of a tile (origin x0, y0; tw x th pixels) crossed by a gaussian's alpha >= 1/255 ellipse
    within the tile's columns, widened by ``SLACK`` px; ``ellipse`` is its footprint row (see :func:`pack`)."""
    ex = ellipse[0]
    if ex < 0.0:
        return 0, 0
    lo = max(x0 + 0.5 - mx, -ex - SLACK)  # x offsets of the tile's pixel centres, within the ellipse's
    hi = min(x0 + tw - 0.5 - mx, ex + SLACK)
    if lo > hi:
        return 0, 0
    xt, k1, k2, k3 = ellipse[2], ellipse[3], ellipse[4], ellipse[5]
    x = min(max(xt, lo), hi)  # the ellipse is highest at x offset xt and lowest at -xt
    top = math.sqrt(max(k1 - k2 * x * x, 0.0)) - k3 * x
    x = min(max(-xt, lo), hi)
    bottom = -math.sqrt(max(k1 - k2 * x * x, 0.0)) - k3 * x
    r0 = min(max(my + bottom - SLACK - y0 - 0.5, -1.0), th + 1.0)
    r1 = min(max(my + top + SLACK - y0 - 0.5, -1.0), th + 1.0)
    return max(0, math.ceil(r0)), min(th, math.floor(r1) + 1)


@njit(parallel=True, cache=True)
def _pack_kernel(means2d, conics, colors, opacities, depths, params, ellipses, boxes):
    for g in prange(means2d.shape[0]):
        a, b, c, op = conics[g, 0], conics[g, 1], conics[g, 2], opacities[g]
        row = params[g]
        row[0], row[1], row[2], row[3], row[4] = means2d[g, 0], means2d[g, 1], a, b, c
        row[5], row[6], row[7], row[8], row[9] = op, colors[g, 0], colors[g, 1], colors[g, 2], depths[g]
        a, b, c, op = np.float64(a), np.float64(b), np.float64(c), np.float64(op)
        det = a * c - b * b
        e = ellipses[g]
        if a > 0.0 and det > 0.0:
            k = 2.0 * math.log(max(op, ALPHA_MIN) / ALPHA_MIN)
            ey = math.sqrt(k * a / det)
            e[0], e[1], e[2] = math.sqrt(k * c / det), ey, -b * ey / a
            e[3], e[4], e[5] = k / c, det / (c * c), b / c
        else:
            e[0], e[1], e[2], e[3], e[4], e[5] = UNBOUNDED, UNBOUNDED, 0.0, UNBOUNDED * UNBOUNDED, 0.0, 0.0
        if op < ALPHA_MIN:
            e[0] = -1.0
        boxes[g, 0], boxes[g, 1] = (-1.0, -1.0) if e[0] < 0.0 else (e[0] + SLACK, e[1] + SLACK)


class Packed(NamedTuple):
    """What both kernels read, computed once per rasterization by :func:`pack`."""
    params: np.ndarray  # (N, PAIR_COLUMNS) rows (mean x, y, conic a, b, c, opacity, r, g, b, depth), working dtype
    ellipses: np.ndarray  # (N, 6) float64: the alpha >= 1/255 footprints, see :func:`pack`
    background: np.ndarray  # (3,) working dtype
    footprints: np.ndarray  # (N, 2) float64: half width and height in px of the box around each mean outside
    # which alpha < 1/255, widened by ``SLACK`` (what :func:`bin_gaussians` cuts the tiles to); -1 where alpha
    # never reaches 1/255


def pack(means2d, conics, colors, opacities, depths, background) -> Packed:
    """One gaussian's parameters in one row, in the dtype of ``means2d`` (float32 unless float64), and its
    footprint: the ellipse {d : d^T conic d <= k}, k = 2 log(255 opacity), outside which alpha < 1/255, as
    half-width, half-height, x offset of the top point, and k/c, det/c^2, b/c (the ellipse's y range at x
    offset x is -b/c x +- sqrt(k/c - det/c^2 x^2)). Half-width -1 where alpha never reaches 1/255; a disc of
    radius ``UNBOUNDED`` (every pixel tested) for conics that are not positive definite. (No inf or NaN: the
    kernels are compiled with fastmath.)
    """
    dtype = _dtype(means2d)
    m, q, col, op, dep, bg = _arrays(dtype, means2d, conics, colors, opacities, depths, background)
    params, ellipses, boxes = np.empty((len(m), PAIR_COLUMNS), dtype), np.empty((len(m), 6)), np.empty((len(m), 2))
    _pack_kernel(m.reshape(-1, 2), q.reshape(-1, 3), col.reshape(-1, 3), op.reshape(-1), dep.reshape(-1), params,
                 ellipses, boxes)
    return Packed(params, ellipses, bg, boxes)


@functools.cache
def _kernels(tile: int, dtype: type):
    """Forward and backward kernels for ``tile`` x ``tile`` tiles computing in ``dtype`` (compile-time constants)."""
    npx = tile * tile
    u = np.uintp
    f = dtype
    zero, one, half = f(0.0), f(1.0), f(0.5)
    amax, amin, tmin = f(ALPHA_MAX), f(ALPHA_MIN), f(T_MIN)
    ek = _exp_consts(dtype)
    # forward state rows: pixel centre x, y, T, accumulated r, g, b, depth, last contributor, done
    FX, FY, FT, FR, FG, FB, FD, FL, FDONE = frows = tuple(u(j * npx) for j in range(9))
    kc = (zero, one, amax, amin, tmin)
    # backward rows: x, y, T, last contributor, dL/d(r, g, b, depth), background term and the colour + depth
    # composited behind the current gaussian, normalised by its transmittance (S_i = a_i+1 c_i+1 + (1 - a_i+1) S_i+1)
    brows = tuple(u(j * npx) for j in range(13))
    BX, BY, BT, BL, BDR, BDG, BDB, BDD, BBG = brows[:9]
    kcb = (zero, one, amax, amin, half)
    # pixels are stored strip by strip (vertical bands ``lanes`` wide), each strip row by row, so that a gaussian
    # sweeps only the strips its ellipse crosses, each as contiguous whole strip rows. The forward sweeps whole
    # 16-pixel tile rows (7 % faster than two 8-pixel strips at 480x360/100k), the backward 8-pixel strips (5 %
    # faster than 16: its ten gradient sums gain more from the tighter rows than they lose to the extra reductions)
    flanes = 16 if tile % 16 == 0 else (8 if tile % 8 == 0 else tile)
    lanes = 8 if tile % 8 == 0 else tile
    fstrips, strips = tile // flanes, tile // lanes

    @njit(parallel=True, fastmath=True, error_model="numpy", cache=True)
    def forward(gaussian_ids, tile_offsets, tiles_x, tile_order, params, ellipses, background, image, depth, alpha,
                t_final, n_contrib, n_pairs, contributes):
        height, width = depth.shape
        for tt in prange(tile_order.shape[0]):
            t = tile_order[tt]
            x0, y0 = (t % tiles_x) * tile, (t // tiles_x) * tile
            tw, th = min(tile, width - x0), min(tile, height - y0)
            st = np.zeros(9 * npx, dtype)
            live = np.zeros(fstrips * tile, np.int64)  # pixels of each strip row still compositing
            for j in range(npx):
                i = u(j)
                px, py = (j // flanes // tile) * flanes + j % flanes, j // flanes % tile
                st[FX + i] = x0 + px + 0.5
                st[FY + i] = y0 + py + 0.5
                st[FT + i] = one
                inside = px < tw and py < th
                st[FDONE + i] = zero if inside else one
                live[j // flanes] += inside
            n_done = npx - tw * th
            pairs = 0
            kf = zero  # list position (1-based) as a float, for the vector loop
            for k in range(tile_offsets[t], tile_offsets[t + 1]):
                kf += one
                g = gaussian_ids[k]
                mx, my, a, b, c, op, cr, cg, cb, cd = params[g]
                a2, c2 = -half * a, -half * c
                for s in range(fstrips):
                    base = s * tile  # strip row index of the strip's first row
                    r0, r1 = _tile_rows(mx, my, ellipses[g], x0 + s * flanes, y0, min(flanes, tw - s * flanes), th)
                    while r0 < r1 and live[base + r0] == 0:
                        r0 += 1
                    while r1 > r0 and live[base + r1 - 1] == 0:
                        r1 -= 1
                    if r0 >= r1:
                        continue
                    stops = zero
                    adds = zero
                    for j in range((base + r0) * flanes, (base + r1) * flanes):  # one branch-free SIMD loop
                        stop, add = _forward_pixel(st, u(j), frows, kc, ek, mx, my, a2, b, c2, op, cr, cg, cb, cd,
                                                   kf)
                        stops += stop
                        adds += add
                    pairs += int(adds)
                    if adds > zero:
                        contributes[k] = 1
                    if stops > zero:
                        n_done += int(stops)
                        for r in range(base + r0, base + r1):
                            live[r] = 0
                            for j in range(r * flanes, r * flanes + flanes):
                                live[r] += st[FDONE + u(j)] == zero
                if n_done == npx:
                    break
            for j in range(npx):
                i = u(j)
                px, py = (j // flanes // tile) * flanes + j % flanes, j // flanes % tile
                if px < tw and py < th:
                    y, x = y0 + py, x0 + px
                    tr = st[FT + i]
                    image[y, x, 0] = st[FR + i] + tr * background[0]
                    image[y, x, 1] = st[FG + i] + tr * background[1]
                    image[y, x, 2] = st[FB + i] + tr * background[2]
                    depth[y, x] = st[FD + i]
                    alpha[y, x] = one - tr
                    t_final[y, x] = tr
                    n_contrib[y, x] = int(st[FL + i])
            n_pairs[t] = pairs

    @njit(parallel=True, fastmath=True, error_model="numpy", cache=True)
    def backward(gaussian_ids, tile_offsets, tiles_x, tile_order, params, ellipses, background, t_final, n_contrib,
                 contributes, grad_image, grad_depth, grad_alpha, pair_slots, pair_grads, background_grads):
        height, width = t_final.shape
        for tt in prange(tile_order.shape[0]):
            t = tile_order[tt]
            x0, y0 = (t % tiles_x) * tile, (t // tiles_x) * tile
            tw, th = min(tile, width - x0), min(tile, height - y0)
            st = np.zeros(13 * npx, dtype)
            row_max = np.zeros(strips * tile, np.int64)  # largest n_contrib of each strip row
            for j in range(npx):
                i = u(j)
                px, py = (j // lanes // tile) * lanes + j % lanes, j // lanes % tile
                st[BX + i] = x0 + px + 0.5
                st[BY + i] = y0 + py + 0.5
                if px < tw and py < th:
                    y, x = y0 + py, x0 + px
                    tr = t_final[y, x]
                    st[BT + i] = tr
                    st[BL + i] = n_contrib[y, x]
                    row_max[j // lanes] = max(row_max[j // lanes], n_contrib[y, x])
                    st[BDR + i] = grad_image[y, x, 0]
                    st[BDG + i] = grad_image[y, x, 1]
                    st[BDB + i] = grad_image[y, x, 2]
                    st[BDD + i] = grad_depth[y, x]
                    dot = (background[0] * grad_image[y, x, 0] + background[1] * grad_image[y, x, 1]
                           + background[2] * grad_image[y, x, 2])
                    st[BBG + i] = tr * (dot - grad_alpha[y, x])
                    for ch in range(3):
                        background_grads[t, ch] += np.float64(tr) * np.float64(grad_image[y, x, ch])
                else:
                    st[BT + i] = one
            start = tile_offsets[t]
            n_max = row_max.max()
            for k in range(start + n_max, tile_offsets[t + 1]):  # never reached
                pair_grads[pair_slots[k]] = zero
            kf = f(n_max)
            for kk in range(n_max - 1, -1, -1):
                k = start + kk
                if contributes[k] == 0:  # composited into no pixel: no gradient, T unchanged
                    pair_grads[pair_slots[k]] = zero
                    kf -= one
                    continue
                g = gaussian_ids[k]
                mx, my, a, b, c, op, cr, cg, cb, cd = params[g]
                g0 = g1 = g2 = g3 = g4 = g5 = g6 = g7 = g8 = g9 = zero
                for s in range(strips):
                    base = s * tile
                    r0, r1 = _tile_rows(mx, my, ellipses[g], x0 + s * lanes, y0, min(lanes, tw - s * lanes), th)
                    while r0 < r1 and row_max[base + r0] <= kk:
                        r0 += 1
                    while r1 > r0 and row_max[base + r1 - 1] <= kk:
                        r1 -= 1
                    for j in range((base + r0) * lanes, (base + r1) * lanes):  # one branch-free SIMD loop
                        p = _backward_pixel(st, u(j), brows, kcb, ek, mx, my, a, b, c, op, cr, cg, cb, cd, kf)
                        g0 += p[0]
                        g1 += p[1]
                        g2 += p[2]
                        g3 += p[3]
                        g4 += p[4]
                        g5 += p[5]
                        g6 += p[6]
                        g7 += p[7]
                        g8 += p[8]
                        g9 += p[9]
                row = pair_grads[pair_slots[k]]
                row[0], row[1], row[2], row[3], row[4] = g0, g1, half * g2, g3, half * g4
                row[5], row[6], row[7], row[8], row[9] = g5, g6, g7, g8, g9
                kf -= one

    return forward, backward


@njit(parallel=True, cache=True)
def _sum_pairs(gaussian_offsets, pair_grads, means2d, conics, colors, opacities, depths):
    """Each gaussian's (contiguous) pair rows summed in float64, in a fixed order, into the gradient arrays."""
    for g in prange(gaussian_offsets.shape[0] - 1):
        acc = np.zeros(PAIR_COLUMNS)
        for e in range(gaussian_offsets[g], gaussian_offsets[g + 1]):
            for j in range(PAIR_COLUMNS):
                acc[j] += pair_grads[e, j]
        means2d[g, 0], means2d[g, 1] = acc[0], acc[1]
        conics[g, 0], conics[g, 1], conics[g, 2] = acc[2], acc[3], acc[4]
        opacities[g] = acc[5]
        colors[g, 0], colors[g, 1], colors[g, 2] = acc[6], acc[7], acc[8]
        depths[g] = acc[9]


class ForwardOut(NamedTuple):
    image: np.ndarray  # (H, W, 3)
    depth: np.ndarray  # (H, W)
    alpha: np.ndarray  # (H, W)
    t_final: np.ndarray  # (H, W)
    n_contrib: np.ndarray  # (H, W) int32, 1-based list position of the last contributor in the pixel's tile
    contributes: np.ndarray  # (M,) uint8 per (tile, gaussian) pair of the bins: 1 if composited into a pixel
    n_pairs: int  # (pixel, contributing gaussian) pairs


def _tile_order(bins: Bins) -> np.ndarray:
    """Tiles interleaved by thread (tiles r, r + T, r + 2T, ... form the r-th block of the prange's static split):
    neighbouring tiles, which cost about the same, go to different threads."""
    n, threads = len(bins.tile_offsets) - 1, get_num_threads()
    return np.concatenate([np.arange(r, n, threads) for r in range(threads)])


def _dtype(x) -> type:
    return np.float64 if x.dtype in (np.float64, torch.float64) else np.float32


def _arrays(dtype, *xs) -> list[np.ndarray]:
    return [np.ascontiguousarray(x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else x, dtype=dtype)
            for x in xs]


def rasterize_forward(bins: Bins, packed: Packed, width: int, height: int, tile: int = 16) -> ForwardOut:
    """Forward kernel on :func:`pack`'s rows, computing in their dtype."""
    dtype = packed.params.dtype.type
    if np.diff(bins.tile_offsets).max(initial=0) >= 2**24:  # list positions are counted in the working dtype
        raise ValueError("more than 2**24 gaussians overlap one tile")
    image = np.empty((height, width, 3), dtype)
    depth, alpha, t_final = (np.empty((height, width), dtype) for _ in range(3))
    n_contrib = np.empty((height, width), np.int32)
    n_pairs = np.empty(len(bins.tile_offsets) - 1, np.int64)
    contributes = np.zeros(len(bins.gaussian_ids), np.uint8)
    forward, _ = _kernels(tile, dtype)
    forward(bins.gaussian_ids, bins.tile_offsets, bins.tiles_x, _tile_order(bins), packed.params, packed.ellipses,
            packed.background, image, depth, alpha, t_final, n_contrib, n_pairs, contributes)
    return ForwardOut(image, depth, alpha, t_final, n_contrib, contributes, int(n_pairs.sum()))


def rasterize_backward(bins: Bins, packed: Packed, fwd: ForwardOut, grad_image, grad_depth, grad_alpha,
                       tile: int = 16) -> tuple[np.ndarray, ...]:
    """Backward kernel after :func:`rasterize_forward`'s ``fwd``: gradients w.r.t. (means2d, conics, colors,
    opacities, depths) in the working dtype (summed in float64) and background (float64). Pairs the forward
    composited into no pixel are skipped."""
    dtype = packed.params.dtype.type
    g_image, g_depth, g_alpha = _arrays(dtype, grad_image, grad_depth, grad_alpha)
    pair_grads = np.empty((len(bins.gaussian_ids), PAIR_COLUMNS), dtype)
    background_grads = np.zeros((len(bins.tile_offsets) - 1, 3))
    _, backward = _kernels(tile, dtype)
    backward(bins.gaussian_ids, bins.tile_offsets, bins.tiles_x, _tile_order(bins), packed.params, packed.ellipses,
             packed.background, fwd.t_final, fwd.n_contrib, fwd.contributes, g_image, g_depth, g_alpha,
             bins.pair_slots, pair_grads, background_grads)
    n = len(packed.params)
    grads = tuple(np.empty(shape, dtype) for shape in ((n, 2), (n, 3), (n, 3), n, n))
    _sum_pairs(bins.gaussian_offsets, pair_grads, *grads)
    return *grads, background_grads.sum(0)


class RasterizeFunction(torch.autograd.Function):
    """Autograd wrapper of the kernels; ``packed`` is :func:`pack` of the same inputs and ``bins`` comes from
    :func:`bin_gaussians`."""

    @staticmethod
    def forward(ctx, means2d, conics, colors, opacities, depths, background, bins: Bins, packed: Packed,
                width: int, height: int, tile: int):
        out = rasterize_forward(bins, packed, width, height, tile)
        ctx.dtypes = [x.dtype for x in (means2d, conics, colors, opacities, depths, background)]
        ctx.bins, ctx.tile, ctx.packed, ctx.fwd = bins, tile, packed, out
        return torch.from_numpy(out.image), torch.from_numpy(out.depth), torch.from_numpy(out.alpha)

    @staticmethod
    def backward(ctx, grad_image, grad_depth, grad_alpha):
        shape = ctx.fwd.t_final.shape
        grad_image = torch.zeros((*shape, 3)) if grad_image is None else grad_image
        grad_depth = torch.zeros(shape) if grad_depth is None else grad_depth
        grad_alpha = torch.zeros(shape) if grad_alpha is None else grad_alpha
        grads = rasterize_backward(ctx.bins, ctx.packed, ctx.fwd, grad_image, grad_depth, grad_alpha, ctx.tile)
        return (*(torch.from_numpy(g).to(dtype) for g, dtype in zip(grads, ctx.dtypes)),
                None, None, None, None, None)


def rasterize(means2d: torch.Tensor, conics: torch.Tensor, colors: torch.Tensor, opacities: torch.Tensor,
              depths: torch.Tensor, radii: torch.Tensor, width: int, height: int,
              background: torch.Tensor | None = None, tile: int = 16):
    """Render (N, 2) means2d, (N, 3) conics [a, b, c], (N, 3) colours, (N,) opacities and (N,) depths.

    ``means2d`` are pixel coordinates with the first pixel's centre at (0.5, 0.5); ``conics`` the upper triangle
    of the inverse 2D covariance [[a, b], [b, c]]; ``radii`` (N,) integer 3-sigma radii (0 = culled) drive the
    tile binning; ``background`` is (3,) (black if None). Returns image (H, W, 3), depth (H, W) (expected depth
    sum d_i alpha_i T_i, not normalised by alpha) and alpha (H, W) in the dtype of ``means2d`` (float32 unless
    float64), differentiable w.r.t. every float input.
    """
    if background is None:
        background = torch.zeros(3, dtype=means2d.dtype)
    packed = pack(means2d, conics, colors, opacities, depths, background)
    bins = bin_gaussians(means2d, radii, depths, width, height, tile, footprints=packed.footprints)
    return RasterizeFunction.apply(means2d, conics, colors, opacities, depths, background, bins, packed, width,
                                   height, tile)
