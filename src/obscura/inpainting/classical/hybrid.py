"""Hybrid inpainting: diffusion for thin parts of the hole, exemplar copying for thick parts.

Choice: split the hole by morphological opening with a disk of ``radius``. Pixels the disk
cannot reach (scratches, thin strokes) are smooth interpolation problems that diffusion solves
well; the "thick" remainder needs texture, which diffusion blurs away. So the biharmonic solution
fills the thin part first, then Criminisi fills the thick part using it as known context.
"""

from __future__ import annotations

import cv2
import numpy as np

from obscura.inpainting.classical.exemplar import criminisi
from obscura.inpainting.classical.variational import biharmonic
from obscura.inpainting.inputs import check_inputs, composite


def thick_part(mask: np.ndarray, radius: int) -> np.ndarray:
    """Hole pixels covered by a disk of ``radius`` that fits entirely inside the hole."""
    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    return cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_OPEN, disk).astype(bool)


def hybrid(image: np.ndarray, mask: np.ndarray, radius: int = 4, patch_size: int = 9) -> np.ndarray:
    image, mask = check_inputs(image, mask)
    thick = thick_part(mask, radius)
    out = biharmonic(image, mask)
    if thick.any():
        out = criminisi(np.where(thick[..., None], 0.0, out), thick, patch_size=patch_size)
    return composite(out, image, mask)
