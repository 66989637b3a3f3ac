"""Small datasets bundled with scikit-image and scikit-learn: faces, digits and photos."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from obscura.errors import ObscuraError


def lfw_faces(n: int = 100) -> np.ndarray:
    """The first ``n`` (≤ 100) rows of ``skimage.data.lfw_subset()``: 25×25 float32 faces in [0, 1]."""
    from skimage.data import lfw_subset

    if not 0 < n <= 100:
        raise ObscuraError(f"lfw faces: n={n}; rows 0-99 of lfw_subset() are faces, ask for 1..100.")
    return lfw_subset()[:n].astype(np.float32)


def digits() -> tuple[np.ndarray, np.ndarray]:
    """sklearn's 8×8 digits as float32 in [0, 1] and their labels."""
    from sklearn.datasets import load_digits

    d = load_digits()
    return (d.images / 16.0).astype(np.float32), d.target.astype(np.uint8)


def _skimage(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        import skimage.data

        image = getattr(skimage.data, name)()
        return image[0] if isinstance(image, tuple) else image
    return load


def _sklearn(filename: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        from sklearn.datasets import load_sample_image

        return load_sample_image(filename)
    return load


# Natural photographs only (no synthetic charts or text); grayscale ones are replicated to RGB.
PHOTOS: dict[str, Callable[[], np.ndarray]] = {
    "astronaut": _skimage("astronaut"),
    "coffee": _skimage("coffee"),
    "chelsea": _skimage("chelsea"),
    "rocket": _skimage("rocket"),
    "motorcycle": _skimage("stereo_motorcycle"),
    "hubble": _skimage("hubble_deep_field"),
    "immunohistochemistry": _skimage("immunohistochemistry"),
    "retina": _skimage("retina"),
    "camera": _skimage("camera"),
    "coins": _skimage("coins"),
    "brick": _skimage("brick"),
    "grass": _skimage("grass"),
    "gravel": _skimage("gravel"),
    "moon": _skimage("moon"),
    "clock": _skimage("clock"),
    "china": _sklearn("china.jpg"),
    "flower": _sklearn("flower.jpg"),
}


def photo(name: str, size: int) -> np.ndarray:
    """Photo ``name`` centre-cropped to a square and resized to ``size``×``size`` RGB uint8."""
    from skimage.transform import resize

    if name not in PHOTOS:
        raise ObscuraError(f"unknown photo {name!r}; available: {', '.join(sorted(PHOTOS))}.")
    image = np.asarray(PHOTOS[name]())
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    image = image[..., :3]
    h, w = image.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    square = image[top:top + side, left:left + side]
    out = resize(square, (size, size), order=3, anti_aliasing=True, preserve_range=True)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)
