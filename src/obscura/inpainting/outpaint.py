"""Outpainting: extend an image by N pixels on chosen sides, filled by any inpainting method."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from obscura.errors import ObscuraError
from obscura.inpainting.inputs import as_rgb

MAX_NEW_PIXELS = 1 << 20   # ~6 GB for the biharmonic solver; criminisi (the CLI default) takes hours at this size


def extend_canvas(image: np.ndarray, top: int = 0, bottom: int = 0, left: int = 0,
                  right: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The image on a larger zero canvas and the mask of the new border (True = to fill)."""
    image = as_rgb(image)
    sides = {"top": top, "bottom": bottom, "left": left, "right": right}
    if any(v < 0 for v in sides.values()) or not any(sides.values()):
        raise ObscuraError(f"outpainting needs non-negative margins with at least one > 0, got {sides}.")
    h, w = image.shape[:2]
    new = (h + top + bottom) * (w + left + right) - h * w
    if new > MAX_NEW_PIXELS:
        raise ObscuraError(f"margins {sides} would add {new:,} pixels to the {w}x{h} image; outpainting adds at "
                           f"most {MAX_NEW_PIXELS:,} (about 1024x1024): use smaller margins or downscale the image.")
    canvas = np.zeros((h + top + bottom, w + left + right, 3), np.float32)
    canvas[top:top + h, left:left + w] = image
    mask = np.ones(canvas.shape[:2], bool)
    mask[top:top + h, left:left + w] = False
    return canvas, mask


def outpaint(image: np.ndarray, method: Callable[[np.ndarray, np.ndarray], np.ndarray], top: int = 0,
             bottom: int = 0, left: int = 0, right: int = 0) -> np.ndarray:
    """Extend ``image`` and fill the new border with ``method(image, mask)``."""
    canvas, mask = extend_canvas(image, top, bottom, left, right)
    return method(canvas, mask)
