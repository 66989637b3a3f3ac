"""Photos for the inpainting track: the prepared train / held-out / unseen splits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from skimage.transform import resize

from obscura.data.prepare import load_photos
from obscura.inpainting.inputs import as_rgb


def photos(prepared: str | Path, split: str, size: int) -> dict[str, np.ndarray]:
    """name -> float32 size x size x 3 in [0, 1] (grayscale photos repeated to RGB)."""
    return {name: _square(as_rgb(image), size) for name, image in sorted(load_photos(Path(prepared), split).items())}


def _square(image: np.ndarray, size: int) -> np.ndarray:
    """``image`` resized to size x size (bicubic, anti-aliased), unless it is that size already."""
    if image.shape[:2] == (size, size):
        return image
    return resize(image, (size, size), order=3, anti_aliasing=True).clip(0, 1).astype(np.float32)


def training_photos(prepared: str | Path) -> list[np.ndarray]:
    """The training photos at their prepared size and aspect (float32 RGB in [0, 1]), sorted by name: the
    sampler crops them at several scales."""
    return [as_rgb(image) for _, image in sorted(load_photos(Path(prepared), "train").items())]


def validation_squares(prepared: str | Path, size: int, seed: int = 0) -> dict[str, np.ndarray]:
    """name -> one seeded square of each training photo, as tall as the photo's shorter side, resized to size x
    size: a validation set for choosing a method's settings without looking at the held-out photos."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, image in sorted(load_photos(Path(prepared), "train").items()):
        image = as_rgb(image)
        side = min(image.shape[:2])
        y, x = (int(rng.integers(0, n - side + 1)) for n in image.shape[:2])
        out[name] = _square(image[y:y + side, x:x + side], size)
    return out
