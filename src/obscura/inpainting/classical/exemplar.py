"""Exemplar-based inpainting (Criminisi, Perez and Toyama 2004).

Repeat until the hole is empty: on the fill front pick the pixel with the highest priority
P = C * D (C: mean confidence of the patch, D: strength of the isophote hitting the front),
find the fully-known source patch with the smallest SSD over the target patch's known pixels,
copy its pixels into the target's unknown ones, and give them the target's confidence.

The patch search is exact (the first source patch with the smallest SSD over the target's known
pixels) and compiled with numba: a vectorised pass gives every source a lower bound (its SSD over a
few distinctive target pixels), the scan skips the sources whose bound exceeds the best so far and
abandons the others once bound plus partial sum does, in parallel chunks, bounded from the start by
a guess (the previous source moved with the target) and the source with the smallest bound. The
per-pixel fields (a compiled kernel) and the priorities are updated only around each copied patch.
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


@numba.njit(cache=True, parallel=True)
def _lower_bounds(planes, oy, ox, target, pick, bounds):
    """``bounds[y, x]``: the SSD over the offsets ``pick`` only (a lower bound of the full SSD) of the patch with
    top-left corner (y, x), for every corner at once (RGB): rows in parallel, contiguous channel planes so the
    inner loop vectorises."""
    gh, gw = bounds.shape
    for y in numba.prange(gh):
        row = bounds[y]
        row[:] = 0.0
        for j in range(pick.size):
            k = pick[j]
            yy, x0, x1 = y + oy[k], ox[k], ox[k] + gw
            r, g, b = planes[0, yy, x0:x1], planes[1, yy, x0:x1], planes[2, yy, x0:x1]
            tr, tg, tb = target[k, 0], target[k, 1], target[k, 2]
            for x in range(gw):
                dr, dg, db = r[x] - tr, g[x] - tg, b[x] - tb
                row[x] += dr * dr + dg * dg + db * db


# A bound adds the same float32 squares the exact SSD adds, in float32 with 3 roundings per pixel: with at most
# _MAX_PICKED pixels it is within 3 * _MAX_PICKED * 2**-24 ≈ 6e-6 relative of their exact sum. Scaled by _SLACK it
# never exceeds the exact partial SSD, so a candidate is ruled out only when it could neither beat nor tie the
# best, and the scan's result is the exhaustive one.
_MAX_PICKED = 32
_SLACK = 1.0 - 1e-5


@numba.njit(cache=True)
def _ssd(work, y0, x0, oy, ox, target, limit):
    """SSD of the source patch at (y0, x0) over the target's pixels in their given order, accumulated in float64
    (stops, returning a partial sum >= ``limit``, as soon as it reaches ``limit``)."""
    d = 0.0
    for k in range(oy.size):
        for ch in range(target.shape[1]):
            diff = work[y0 + oy[k], x0 + ox[k], ch] - target[k, ch]
            d += diff * diff
        if d >= limit:
            break
    return d


@numba.njit(cache=True)
def _best_in(work, bounds, rest, src_y, src_x, oy, ox, target, lo, hi, best, arg):
    """The smallest (SSD, index) among (``best``, ``arg``) and the source patches in ``[lo, hi)``. A candidate is
    ruled out by its lower bound (the SSD over the picked pixels), else by that bound plus the SSD over the
    ``rest`` of the pixels as they accumulate; one that survives both gets its exact SSD (:func:`_ssd`)."""
    for s in range(lo, hi):
        y0, x0 = src_y[s], src_x[s]
        d = bounds[y0, x0] * _SLACK
        if d > best:
            continue
        limit = best if s > arg else np.nextafter(best, np.inf)    # a tie wins only before ``arg``
        cut = limit * (1.0 + 1e-9)      # the rest's float64 sum is exact to far less than this margin
        for j in range(rest.size):
            k = rest[j]
            for ch in range(target.shape[1]):
                diff = work[y0 + oy[k], x0 + ox[k], ch] - target[k, ch]
                d += diff * diff
            if d >= cut:
                break
        if d >= cut:
            continue
        d = _ssd(work, y0, x0, oy, ox, target, limit)
        if d < best or (d == best and s < arg):
            best, arg = d, s
    return best, arg


@numba.njit(cache=True, parallel=True)
def _best_source(work, planes, src_y, src_x, oy, ox, target, chunks, guess, order, picked, bounds):
    """The first source patch with the smallest SSD, the same result as one exhaustive sequential scan. First the
    SSD over the target's first ``picked`` pixels in ``order`` for every source at once (:func:`_lower_bounds`);
    the full SSDs of the ``guess`` and of the source with the smallest bound then bound the scan over the rest of
    ``order`` (:func:`_best_in`), in ``chunks`` contiguous runs of sources in parallel."""
    picked = min(picked, _MAX_PICKED)
    _lower_bounds(planes, oy, ox, target, order[:picked], bounds)
    rest = order[picked:]
    n = src_y.size
    first = 0
    for s in range(1, n):
        if bounds[src_y[s], src_x[s]] < bounds[src_y[first], src_x[first]]:
            first = s
    best, arg = _ssd(work, src_y[guess], src_x[guess], oy, ox, target, np.inf), guess
    best, arg = _best_in(work, bounds, rest, src_y, src_x, oy, ox, target, first, first + 1, best, arg)
    bests = np.empty(chunks)
    args = np.empty(chunks, np.int64)
    for i in numba.prange(chunks):
        bests[i], args[i] = _best_in(work, bounds, rest, src_y, src_x, oy, ox, target, i * n // chunks,
                                     (i + 1) * n // chunks, best, arg)
    k = 0
    for i in range(1, chunks):
        if bests[i] < bests[k] or (bests[i] == bests[k] and args[i] < args[k]):
            k = i
    return args[k]


def _order(target: np.ndarray) -> np.ndarray:
    """The target's pixels, farthest from its mean colour first: the ones an arbitrary source patch is likeliest
    to miss, so a few of them rule most sources out."""
    spread = ((target - target.mean(axis=0)) ** 2).sum(axis=1)
    return np.argsort(-spread, kind="stable")


_PICKED = 12    # pixels in the lower bounds: each costs a pass over the image, each rules out more sources


_GAUSS = cv2.getGaussianKernel(5, 1.0)[:, 0]
_REACH = 3  # px a pixel's change reaches in the fields: the normals' 5x5 blur (2) then 3x3 Sobel (1)


@numba.njit(cache=True)
def _reflect(i, n):
    """Index ``i`` reflected into [0, n) without repeating the edge (OpenCV's default border, numpy's reflect)."""
    return -i if i < 0 else (2 * (n - 1) - i if i >= n else i)


@numba.njit(cache=True)
def _fields_into(work, known, gx, gy, valid, nx, ny, front, y0, y1, x0, x1):
    """Write the fields of :func:`_maps` for rows [y0, y1) x columns [x0, x1) of the whole image, compiled: the
    same arithmetic in the same order, so the same values, without a window's worth of numpy calls."""
    h, w = known.shape
    ry0, ry1, rx0, rx1 = max(y0 - 1, 0), min(y1 + 1, h), max(x0 - 1, 0), min(x1 + 1, w)
    rows, cols = y1 - y0 + 2, x1 - x0 + 2              # the region and a 1 px reflected ring
    grey = np.empty((rows, cols))
    for i in range(rows):
        yy = _reflect(y0 - 1 + i, h)
        for j in range(cols):
            xx = _reflect(x0 - 1 + j, w)
            grey[i, j] = (work[yy, xx, 0] * np.float32(0.299) + work[yy, xx, 1] * np.float32(0.587)
                          + work[yy, xx, 2] * np.float32(0.114))
    # the known region blurred (5x5 Gaussian, rows then columns) on the rows and columns the ring reflects from
    vert = np.empty((ry1 - ry0, rx1 - rx0 + 4))
    for i in range(ry1 - ry0):
        for j in range(rx1 - rx0 + 4):
            xx = _reflect(rx0 - 2 + j, w)
            acc = _GAUSS[0] * known[_reflect(ry0 + i - 2, h), xx]
            for b in range(1, 5):
                acc = acc + _GAUSS[b] * known[_reflect(ry0 + i - 2 + b, h), xx]
            vert[i, j] = acc
    blur = np.empty((ry1 - ry0, rx1 - rx0))
    for i in range(ry1 - ry0):
        for j in range(rx1 - rx0):
            acc = _GAUSS[0] * vert[i, j]
            for b in range(1, 5):
                acc = acc + _GAUSS[b] * vert[i, j + b]
            blur[i, j] = acc
    ring = np.empty((rows, cols))
    for i in range(rows):
        for j in range(cols):
            ring[i, j] = blur[_reflect(y0 - 1 + i, h) - ry0, _reflect(x0 - 1 + j, w) - rx0]
    # Sobel / 8 of the grey image and Sobel of the blurred known region: columns then rows, as numpy's passes
    sy, dy = np.empty((rows - 2, cols)), np.empty((rows - 2, cols))
    ky, kd = np.empty((rows - 2, cols)), np.empty((rows - 2, cols))
    for i in range(rows - 2):
        for j in range(cols):
            sy[i, j] = 1.0 * grey[i, j] + 2.0 * grey[i + 1, j] + 1.0 * grey[i + 2, j]
            dy[i, j] = -1.0 * grey[i, j] + 0.0 * grey[i + 1, j] + 1.0 * grey[i + 2, j]
            ky[i, j] = 1.0 * ring[i, j] + 2.0 * ring[i + 1, j] + 1.0 * ring[i + 2, j]
            kd[i, j] = -1.0 * ring[i, j] + 0.0 * ring[i + 1, j] + 1.0 * ring[i + 2, j]
    for i in range(rows - 2):
        y = y0 + i
        for j in range(cols - 2):
            x = x0 + j
            gx[y, x] = (-1.0 * sy[i, j] + 0.0 * sy[i, j + 1] + 1.0 * sy[i, j + 2]) / 8.0
            gy[y, x] = (1.0 * dy[i, j] + 2.0 * dy[i, j + 1] + 1.0 * dy[i, j + 2]) / 8.0
            ax = -1.0 * ky[i, j] + 0.0 * ky[i, j + 1] + 1.0 * ky[i, j + 2]
            ay = 1.0 * kd[i, j] + 2.0 * kd[i, j + 1] + 1.0 * kd[i, j + 2]
            norm = np.hypot(ax, ay) + 1e-12
            nx[y, x], ny[y, x] = ax / norm, ay / norm
            every, some = True, False
            for oy in range(-1, 2):
                for ox in range(-1, 2):
                    every &= known[min(max(y + oy, 0), h - 1), min(max(x + ox, 0), w - 1)]
                    if 0 <= y + oy < h and 0 <= x + ox < w:
                        some |= known[y + oy, x + ox]
            valid[y, x] = every
            front[y, x] = some and not known[y, x]


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
    ``incremental=False`` is the slow reference: every field recomputed on the whole image by numpy after each
    patch (the fast path updates them around the patch with compiled code, with the same result)."""
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
    if incremental:
        maps = (np.empty((h, w)), np.empty((h, w)), np.empty((h, w), bool), np.empty((h, w)), np.empty((h, w)),
                np.empty((h, w), bool))
        _fields_into(work, known, *maps, 0, h, 0, w)
    else:
        maps = _maps(work, known)
    prio = np.empty((h, w))
    _priority_map(prio, maps[5], known, conf, *maps[:5], r, 0, h, 0, w)
    index = np.full((h - 2 * r, w - 2 * r), -1, np.int64)     # source patch's top-left corner -> its index
    index[src_y, src_x] = np.arange(src_y.size)
    chunks = min(src_y.size, numba.get_num_threads())
    # channel planes for the vectorised bounds; never refreshed: a source patch lies outside the hole, so the
    # pixels its bound reads are never written (bounds at other corners are computed but not read)
    planes = np.ascontiguousarray(work.transpose(2, 0, 1))
    bounds = np.empty(index.shape, np.float32)
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
        target = work[ys, xs][oy, ox]
        best = _best_source(work, planes, src_y, src_x, oy, ox, target, chunks, best, _order(target),
                            _PICKED, bounds)
        source = work[src_y[best]:src_y[best] + patch_size, src_x[best]:src_x[best] + patch_size]
        fill = ~known[ys, xs]
        work[ys, xs][fill] = source[fill]
        conf[ys, xs][fill] = conf[ys, xs][known[ys, xs]].sum() / patch_size ** 2
        known[ys, xs] |= fill
        remaining -= int(fill.sum())
        if not incremental:
            maps = _maps(work, known)
            _priority_map(prio, maps[5], known, conf, *maps[:5], r, 0, h, 0, w)
        else:   # the fields change within _REACH px of the patch: recompute them there
            q = r + _REACH
            y0, y1, x0, x1 = max(cy - q, 0), min(cy + q + 1, h), max(cx - q, 0), min(cx + q + 1, w)
            _fields_into(work, known, *maps, y0, y1, x0, x1)
            p = q + 2 * r               # a priority reads its patch, centred at most r px from the pixel
            _priority_map(prio, maps[5], known, conf, *maps[:5], r, max(cy - p, 0), min(cy + p + 1, h),
                          max(cx - p, 0), min(cx + p + 1, w))
        if progress is not None:
            progress(total - remaining, total)
    return composite(work, image, mask)
