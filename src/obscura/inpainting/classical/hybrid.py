"""Hybrid inpainting: structure (biharmonic) where the hole is thin, exemplar texture (Criminisi) where it is
thick, blended across a seam.

Split the hole by morphological opening with a disk of ``radius``: pixels the disk cannot reach (scratches,
thin strokes) are smooth interpolation problems that the biharmonic fill solves well; the thick remainder needs
texture, which diffusion blurs away. Criminisi fills the thick part with the biharmonic fill of the thin part
as known context, copying only patches of the photo's own pixels (a smooth fill is no texture; when scratches
leave no clean patch, patches of the context too). Across a seam ``seam`` px wide along the thick part's edge
the output goes linearly from the biharmonic fill to the exemplar fill (:func:`texture_weight`), so the two meet
without a step.

Seam 32 px was chosen on a validation set cut from the training photos (``python bench/inpainting_hybrid.py
--photos 10 --buckets 1-10 10-20 20-30 40-50 --structures biharmonic --seams 0 8 16 24 32 48``: a seeded square of
10 training photos x 4 hole sizes x 3 mask kinds, 120 cases at 256 px) by the rule "the highest hole PSNR whose
KID is no worse than Criminisi's": hole PSNR / KID at seam 0, 8, 16, 24, 32, 48 px 19.86 / 0.0060, 20.30 / 0.0047,
20.82 / 0.0041, 21.03 / 0.0040, 21.13 / 0.0045, 21.26 / 0.0052, against biharmonic 21.07 / 0.0120 and Criminisi
20.07 / 0.0047 (a wider seam gives more of the hole to the smooth fill: PSNR up, KID back towards biharmonic's).
Sources restricted to the photo's pixels: +0.04 dB [-0.00, 0.10] over also copying the structure fill; the
harmonic fill as structure lifted the hybrid by only 0.08 dB at a worse KID (``--split heldout --structures
harmonic biharmonic``, 8 held-out photos, seam 16).
"""

from __future__ import annotations

import cv2
import numpy as np

from obscura.inpainting.classical.exemplar import criminisi, source_patches
from obscura.inpainting.classical.variational import biharmonic
from obscura.inpainting.inputs import check_inputs, composite


def thick_part(mask: np.ndarray, radius: int) -> np.ndarray:
    """Hole pixels covered by a disk of ``radius`` that fits entirely inside the hole."""
    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    return cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_OPEN, disk).astype(bool)


def texture_weight(thick: np.ndarray, seam: float) -> np.ndarray:
    """Weight of the exemplar fill: 0 outside ``thick``, (distance to the nearest pixel outside it) / ``seam``
    inside, capped at 1; with ``seam`` <= 0 a hard switch at its edge."""
    if seam <= 0:
        return thick.astype(np.float32)
    distance = cv2.distanceTransform(thick.astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return np.minimum(distance / seam, 1.0).astype(np.float32)


def hybrid(image: np.ndarray, mask: np.ndarray, radius: int = 4, patch_size: int = 9,
           seam: float = 32.0) -> np.ndarray:
    image, mask = check_inputs(image, mask)
    structure = biharmonic(image, mask)
    thick = thick_part(mask, radius)
    if not thick.any():
        return structure
    own = ~mask
    if source_patches(own, patch_size)[0].size == 0:
        own = None      # no clean patch of the photo's own (dense scratches): copy the structure-filled context too
    texture = criminisi(np.where(thick[..., None], 0.0, structure), thick, patch_size=patch_size, sources=own)
    w = texture_weight(thick, seam)[..., None]
    return composite((1 - w) * structure + w * texture, image, mask)
