"""Exemplar-based inpainting (Criminisi, Perez and Toyama 2004).

Repeat until the hole is empty: on the fill front pick the pixel with the highest priority
P = C * D (C: mean confidence of the patch, D: strength of the isophote hitting the front),
find the fully-known source patch with the smallest SSD over the target patch's known pixels,
copy its pixels into the target's unknown ones, and give them the target's confidence.

The patch search is an exhaustive SSD scan over every fully-known patch, compiled with numba,
restricted to the target's known pixels and abandoning a candidate as soon as its partial sum
exceeds the best so far (exact result, a fraction of the arithmetic).
"""

from __future__ import annotations

import cv2
import numba
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from obscura.errors import ObscuraError
from obscura.inpainting.inputs import check_inputs, composite


@numba.njit(cache=True)
def _priorities(front_y, front_x, known, conf, gx, gy, valid, nx, ny, r, h, w):
    n = front_y.size
    out = np.empty(n)
    cy_out = np.empty(n, np.int64)
    cx_out = np.empty(n, np.int64)
    area = (2 * r + 1) ** 2
    for i in range(n):
        y = min(max(front_y[i], r), h - 1 - r)
        x = min(max(front_x[i], r), w - 1 - r)
        c = 0.0
        best = 0.0
        for dy in range(-r, r + 1):
            for dx in range(-r, r + 1):
                yy, xx = y + dy, x + dx
                if known[yy, xx]:
                    c += conf[yy, xx]
                    if valid[yy, xx]:
                        # isophote = (-gy, gx); data term = |isophote . normal|
                        d = abs(-gy[yy, xx] * nx[front_y[i], front_x[i]] + gx[yy, xx] * ny[front_y[i], front_x[i]])
                        if d > best:
                            best = d
        out[i] = (c / area) * (best + 1e-3)
        cy_out[i] = y
        cx_out[i] = x
    return out, cy_out, cx_out


@numba.njit(cache=True)
def _best_source(work, src_y, src_x, oy, ox, target):
    best, arg = np.inf, 0
    n_off, c = oy.size, target.shape[1]
    for s in range(src_y.size):
        y0, x0 = src_y[s], src_x[s]
        d = 0.0
        for k in range(n_off):
            for ch in range(c):
                diff = work[y0 + oy[k], x0 + ox[k], ch] - target[k, ch]
                d += diff * diff
            if d >= best:
                break
        if d < best:
            best, arg = d, s
    return arg


def criminisi(image: np.ndarray, mask: np.ndarray, patch_size: int = 9, progress=None) -> np.ndarray:
    """Fill ``mask`` by copying patches from the known region; ``progress(done, total)`` is called
    after each patch."""
    image, mask = check_inputs(image, mask)
    if patch_size < 3 or patch_size % 2 == 0:
        raise ObscuraError(f"criminisi patch_size must be odd and >= 3, got {patch_size}.")
    h, w, c = image.shape
    r = patch_size // 2
    if h < patch_size or w < patch_size:
        raise ObscuraError(f"image {w}x{h} is smaller than the {patch_size}px patch; use a PDE method.")
    known = ~mask
    work = np.where(mask[..., None], 0.0, image).astype(np.float32)

    # Source patches: fully known in the original image (fixed during the fill).
    full_known = sliding_window_view(known, (patch_size, patch_size)).all(axis=(2, 3))
    src_y, src_x = np.nonzero(full_known)
    if src_y.size == 0:
        raise ObscuraError(f"no fully known {patch_size}x{patch_size} patch outside the hole; "
                           "use a smaller patch_size or a PDE method.")

    conf = known.astype(np.float64)
    gray_weights = np.array([0.299, 0.587, 0.114], np.float32)
    remaining = int(mask.sum())
    total = remaining
    while remaining > 0:
        gray = work @ gray_weights
        gx = cv2.Sobel(gray, cv2.CV_64F, 1, 0, ksize=3) / 8.0
        gy = cv2.Sobel(gray, cv2.CV_64F, 0, 1, ksize=3) / 8.0
        valid = cv2.erode(known.astype(np.uint8), np.ones((3, 3), np.uint8), borderType=cv2.BORDER_REPLICATE) > 0
        kf = cv2.GaussianBlur(known.astype(np.float64), (5, 5), 1.0)
        nx = cv2.Sobel(kf, cv2.CV_64F, 1, 0, ksize=3)
        ny = cv2.Sobel(kf, cv2.CV_64F, 0, 1, ksize=3)
        norm = np.hypot(nx, ny) + 1e-12
        nx, ny = nx / norm, ny / norm
        front = (~known) & (cv2.dilate(known.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0)
        fy, fx = np.nonzero(front)
        prio, cys, cxs = _priorities(fy, fx, known, conf, gx, gy, valid, nx, ny, r, h, w)
        k = int(np.argmax(prio))
        cy, cx = int(cys[k]), int(cxs[k])
        ys, xs = slice(cy - r, cy + r + 1), slice(cx - r, cx + r + 1)
        oy, ox = np.nonzero(known[ys, xs])
        best = _best_source(work, src_y, src_x, oy, ox, work[ys, xs][oy, ox])
        source = work[src_y[best]:src_y[best] + patch_size, src_x[best]:src_x[best] + patch_size]
        fill = ~known[ys, xs]
        work[ys, xs][fill] = source[fill]
        conf[ys, xs][fill] = conf[ys, xs][known[ys, xs]].sum() / patch_size ** 2
        known[ys, xs] |= fill
        remaining -= int(fill.sum())
        if progress is not None:
            progress(total - remaining, total)
    return composite(work, image, mask)
