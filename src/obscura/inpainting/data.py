"""Photos for the inpainting track: the prepared train / held-out / unseen splits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from skimage.transform import resize

from obscura.data.prepare import load_photos
from obscura.inpainting.inputs import as_rgb


def photos(prepared: str | Path, split: str, size: int) -> dict[str, np.ndarray]:
    """name -> float32 size x size x 3 in [0, 1] (grayscale photos repeated to RGB)."""
    out = {}
    for name, image in sorted(load_photos(Path(prepared), split).items()):
        image = as_rgb(image)
        if image.shape[:2] != (size, size):
            image = resize(image, (size, size), order=3, anti_aliasing=True).clip(0, 1).astype(np.float32)
        out[name] = image
    return out


def training_photos(prepared: str | Path) -> list[np.ndarray]:
    """The training photos at their prepared size and aspect (float32 RGB in [0, 1]), sorted by name: the
    sampler crops them at several scales."""
    return [as_rgb(image) for _, image in sorted(load_photos(Path(prepared), "train").items())]
