"""Small datasets bundled with scikit-image and scikit-learn: faces and digits (photos: data/photos.py)."""

from __future__ import annotations

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
