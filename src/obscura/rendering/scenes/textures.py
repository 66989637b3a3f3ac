"""Texture sources: the photographs that ship inside scikit-image and scikit-learn.

Every surface of a built-in scene gets its own photo (or its own crop of one), never a repeating tile:
repeated texture gives SfM self-similar matches that converge to wrong poses.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from obscura.errors import ObscuraError

SKIMAGE_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry", "hubble_deep_field",
                  "retina", "camera", "moon")
SKLEARN_PHOTOS = ("china", "flower")


@lru_cache(maxsize=None)
def photo(name: str) -> np.ndarray:
    """A shipped photo as float32 HxWx3 in [0, 1] (grayscale photos are replicated to RGB)."""
    if name in SKLEARN_PHOTOS:
        from sklearn.datasets import load_sample_image

        image = load_sample_image(f"{name}.jpg")
    elif name in SKIMAGE_PHOTOS:
        import skimage.data

        try:
            image = getattr(skimage.data, name)()
        except Exception as exc:  # pooch/missing-data errors differ between versions
            raise ObscuraError(f"scikit-image photo {name!r} is not available ({exc}). "
                               "Reinstall scikit-image with its bundled data.") from exc
    else:
        raise ObscuraError(f"unknown texture photo {name!r}; choose from {SKIMAGE_PHOTOS + SKLEARN_PHOTOS}.")
    image = np.asarray(image)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    image = image[..., :3].astype(np.float32) / 255.0
    image.setflags(write=False)
    return image


def crop(name: str, x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    """Crop of a shipped photo given in relative coordinates (0..1 of width and height)."""
    image = photo(name)
    h, w = image.shape[:2]
    return image[round(y0 * h):round(y1 * h), round(x0 * w):round(x1 * w)]


def grid_crops(name: str, rows: int, cols: int) -> list[np.ndarray]:
    """Split a photo into ``rows x cols`` disjoint crops (row-major)."""
    return [crop(name, c / cols, r / rows, (c + 1) / cols, (r + 1) / rows)
            for r in range(rows) for c in range(cols)]


def strip(names: list[str], height: int) -> np.ndarray:
    """Photos resized to a common height and placed side by side (a panorama for walls)."""
    from skimage.transform import resize

    parts = []
    for n in names:
        image = photo(n)
        h, w = image.shape[:2]
        parts.append(resize(image, (height, round(w * height / h)), order=1, anti_aliasing=True))
    return np.concatenate(parts, axis=1).astype(np.float32)
