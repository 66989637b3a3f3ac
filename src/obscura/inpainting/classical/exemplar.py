"""Exemplar-based inpainting (Criminisi, Perez and Toyama 2004).

Repeat until the hole is empty: on the fill front pick the pixel with the highest priority
P = C * D (C: mean confidence of the patch, D: strength of the isophote hitting the front),
find the fully-known source patch with the smallest SSD over the target patch's known pixels,
copy its pixels into the target's unknown ones, and give them the target's confidence.

The patch search is an exhaustive SSD scan over every fully-known patch, compiled with numba,
restricted to the target's known pixels and abandoning a candidate as soon as its partial sum
exceeds the best so far (exact result, a fraction of the arithmetic), in parallel chunks, bounded
from the start by a guess (the previous source moved with the target). The per-pixel fields and
the priorities are updated only around each copied patch.
"""

from __future__ import annotations

import cv2
import numba
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from obscura.errors import ObscuraError
from obscura.inpainting.inputs import check_inputs, composite


@numba.njit(cache=True)
def _priority_map(prio, front, known, conf, gx, gy, valid, nx, ny, r, y0, y1, x0, x1):
    """Write P = C * D of every front pixel in rows [y0, y1) x columns [x0, x1) into ``prio`` (-inf off the
    front); a pixel's patch is centred on it, moved inside the image."""
    h, w = known.shape
    area = (2 * r + 1) ** 2
    for fy in range(y0, y1):
        for fx in range(x0, x1):
            if not front[fy, fx]:
                prio[fy, fx] = -np.inf
                continue
            y = min(max(fy, r), h - 1 - r)
            x = min(max(fx, r), w - 1 - r)
            c = 0.0
            best = 0.0
            for dy in range(-r, r + 1):
                for dx in range(-r, r + 1):
                    yy, xx = y + dy, x + dx
                    if known[yy, xx]:
                        c += conf[yy, xx]
                        if valid[yy, xx]:
                            # isophote = (-gy, gx); data term = |isophote . normal|
                            d = abs(-gy[yy, xx] * nx[fy, fx] + gx[yy, xx] * ny[fy, fx])
                            if d > best:
                                best = d
            prio[fy, fx] = (c / area) * (best + 1e-3)


@numba.njit(cache=True)
def _best_in(work, src_y, src_x, oy, ox, target, lo, hi, best, arg):
    """The smallest (SSD, index) among (``best``, ``arg``) and the source patches in ``[lo, hi)``; a candidate
    is abandoned once its partial sum shows it cannot be smaller."""
    n_off, c = oy.size, target.shape[1]
    for s in range(lo, hi):
        y0, x0 = src_y[s], src_x[s]
        limit = best if s > arg else np.nextafter(best, np.inf)    # a tie wins only before ``arg``
        d = 0.0
        for k in range(n_off):
            for ch in range(c):
                diff = work[y0 + oy[k], x0 + ox[k], ch] - target[k, ch]
                d += diff * diff
            if d >= limit:
                break
        if d < best or (d == best and s < arg):
            best, arg = d, s
    return best, arg


@numba.njit(cache=True, parallel=True)
def _best_source(work, src_y, src_x, oy, ox, target, chunks, guess):
    """The first source patch with the smallest SSD: ``chunks`` contiguous runs of the sources scanned in
    parallel, each bounded from the start by the SSD of the ``guess`` source (a likely good match makes most
    candidates stop after a few pixels); the same result as one exhaustive sequential scan."""
    bound, _ = _best_in(work, src_y, src_x, oy, ox, target, guess, guess + 1, np.inf, -1)
    n = src_y.size
    best = np.empty(chunks)
    arg = np.empty(chunks, np.int64)
    for i in numba.prange(chunks):
        best[i], arg[i] = _best_in(work, src_y, src_x, oy, ox, target, i * n // chunks, (i + 1) * n // chunks,
                                   bound, guess)
    k = 0
    for i in range(1, chunks):
        if best[i] < best[k] or (best[i] == best[k] and arg[i] < arg[k]):
            k = i
    return arg[k]


_GAUSS = cv2.getGaussianKernel(5, 1.0)[:, 0]
_REACH = 3  # px a pixel's change reaches in the fields: the normals' 5x5 blur (2) then 3x3 Sobel (1)


def _shift_sum(p: np.ndarray, weights, axis: int) -> np.ndarray:
    """Correlate the padded ``p`` with ``weights`` along ``axis`` (output shorter by len(weights) - 1)."""
    n = p.shape[axis] - len(weights) + 1
    take = (lambda i: p[i:i + n]) if axis == 0 else (lambda i: p[:, i:i + n])
    out = weights[0] * take(0)
    for i in range(1, len(weights)):
        out = out + weights[i] * take(i)
    return out


def _maps(work: np.ndarray, known: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per-pixel fields of the fill on a window: image gradients (gx, gy; Sobel / 8 of the grey image), ``valid``
    (pixel and its 8 neighbours known), unit normals of the known region (nx, ny; Sobel of its 5x5 Gaussian blur,
    sigma 1) and the fill ``front`` (unknown pixels next to a known one). Elementwise numpy in a fixed order, so
    a value depends only on the pixels around it, never on the window it was computed in; borders as OpenCV's
    defaults (reflect-101; replicate for ``valid``; outside ignored for ``front``)."""
    gray = work[..., 0] * 0.299 + work[..., 1] * 0.587 + work[..., 2] * 0.114
    g = np.pad(gray.astype(np.float64), 1, mode="reflect")
    sy, dy = _shift_sum(g, (1.0, 2.0, 1.0), 0), _shift_sum(g, (-1.0, 0.0, 1.0), 0)
    gx, gy = _shift_sum(sy, (-1.0, 0.0, 1.0), 1) / 8.0, _shift_sum(dy, (1.0, 2.0, 1.0), 1) / 8.0
    kf = np.pad(known.astype(np.float64), 2, mode="reflect")
    kf = np.pad(_shift_sum(_shift_sum(kf, _GAUSS, 0), _GAUSS, 1), 1, mode="reflect")
    ky, kd = _shift_sum(kf, (1.0, 2.0, 1.0), 0), _shift_sum(kf, (-1.0, 0.0, 1.0), 0)
    nx, ny = _shift_sum(ky, (-1.0, 0.0, 1.0), 1), _shift_sum(kd, (1.0, 2.0, 1.0), 1)
    norm = np.hypot(nx, ny) + 1e-12
    h, w = known.shape
    edge, zero = np.pad(known, 1, mode="edge"), np.pad(known, 1)
    valid, near = np.ones_like(known), np.zeros_like(known)
    for oy in range(3):
        for ox in range(3):
            valid &= edge[oy:oy + h, ox:ox + w]
            near |= zero[oy:oy + h, ox:ox + w]
    return gx, gy, valid, nx / norm, ny / norm, ~known & near


def source_patches(sources: np.ndarray, patch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-left corners (ys, xs) of the ``patch_size``² patches lying wholly inside ``sources``."""
    return np.nonzero(sliding_window_view(sources, (patch_size, patch_size)).all(axis=(2, 3)))


def criminisi(image: np.ndarray, mask: np.ndarray, patch_size: int = 9, progress=None,
              incremental: bool = True, sources: np.ndarray | None = None) -> np.ndarray:
    """Fill ``mask`` by copying patches from the known region; ``progress(done, total)`` is called
    after each patch. ``sources`` (HxW bool, default: outside ``mask``) are the pixels a source patch may cover:
    a caller that filled part of a hole by other means keeps those pixels as context but not as texture.
    ``incremental=False`` is the slow reference: every field recomputed on the whole image after each patch
    (the fast path updates them around the patch, with the same result)."""
    image, mask = check_inputs(image, mask)
    if patch_size < 3 or patch_size % 2 == 0:
        raise ObscuraError(f"criminisi patch_size must be odd and >= 3, got {patch_size}.")
    h, w, c = image.shape
    r = patch_size // 2
    if h < patch_size or w < patch_size:
        raise ObscuraError(f"image {w}x{h} is smaller than the {patch_size}px patch; use a PDE method.")
    known = ~mask
    work = np.where(mask[..., None], 0.0, image).astype(np.float32)

    # Source patches: fully inside ``sources`` (fixed during the fill).
    if sources is None:
        sources = known
    elif sources.shape != mask.shape or (sources & mask).any():
        raise ObscuraError("criminisi sources must be an HxW mask like the hole's, outside the hole.")
    src_y, src_x = source_patches(sources, patch_size)
    if src_y.size == 0:
        raise ObscuraError(f"no fully known {patch_size}x{patch_size} patch outside the hole; "
                           "use a smaller patch_size or a PDE method.")

    conf = known.astype(np.float64)
    maps = _maps(work, known)
    prio = np.empty((h, w))
    _priority_map(prio, maps[5], known, conf, *maps[:5], r, 0, h, 0, w)
    index = np.full((h - 2 * r, w - 2 * r), -1, np.int64)     # source patch's top-left corner -> its index
    index[src_y, src_x] = np.arange(src_y.size)
    chunks = min(src_y.size, numba.get_num_threads())
    remaining = int(mask.sum())
    total, best, cy, cx = remaining, 0, r, r
    while remaining > 0:
        k = int(np.argmax(prio))            # the first maximum in row-major order
        ty, tx = min(max(k // w, r), h - 1 - r), min(max(k % w, r), w - 1 - r)
        gy, gx = src_y[best] + ty - cy, src_x[best] + tx - cx   # guess: the last source moved with the target
        if 0 <= gy < index.shape[0] and 0 <= gx < index.shape[1] and index[gy, gx] >= 0:
            best = index[gy, gx]
        cy, cx = ty, tx
        ys, xs = slice(cy - r, cy + r + 1), slice(cx - r, cx + r + 1)
        oy, ox = np.nonzero(known[ys, xs])
        best = _best_source(work, src_y, src_x, oy, ox, work[ys, xs][oy, ox], chunks, best)
        source = work[src_y[best]:src_y[best] + patch_size, src_x[best]:src_x[best] + patch_size]
        fill = ~known[ys, xs]
        work[ys, xs][fill] = source[fill]
        conf[ys, xs][fill] = conf[ys, xs][known[ys, xs]].sum() / patch_size ** 2
        known[ys, xs] |= fill
        remaining -= int(fill.sum())
        if not incremental:
            maps = _maps(work, known)
            _priority_map(prio, maps[5], known, conf, *maps[:5], r, 0, h, 0, w)
        else:   # the fields change within _REACH px of the patch; recompute them there from a wider window
            q = r + _REACH
            y0, y1, x0, x1 = max(cy - q, 0), min(cy + q + 1, h), max(cx - q, 0), min(cx + q + 1, w)
            wy0, wy1, wx0, wx1 = max(y0 - _REACH, 0), min(y1 + _REACH, h), max(x0 - _REACH, 0), min(x1 + _REACH, w)
            local = _maps(work[wy0:wy1, wx0:wx1], known[wy0:wy1, wx0:wx1])
            for field, part in zip(maps, local):
                field[y0:y1, x0:x1] = part[y0 - wy0:y1 - wy0, x0 - wx0:x1 - wx0]
            p = q + 2 * r               # a priority reads its patch, centred at most r px from the pixel
            _priority_map(prio, maps[5], known, conf, *maps[:5], r, max(cy - p, 0), min(cy + p + 1, h),
                          max(cx - p, 0), min(cx + p + 1, w))
        if progress is not None:
            progress(total - remaining, total)
    return composite(work, image, mask)
