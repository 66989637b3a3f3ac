"""Reference baselines from well-kept libraries: OpenCV Telea / Navier-Stokes, skimage biharmonic."""

from __future__ import annotations

import cv2
import numpy as np
from skimage.restoration import inpaint_biharmonic

from obscura.inpainting.inputs import check_inputs, composite


def _opencv(image, mask, flag, radius):
    image, mask = check_inputs(image, mask)
    # OpenCV inpaints 8-bit images; the known pixels are restored exactly by the composite.
    filled = cv2.inpaint((image * 255 + 0.5).astype(np.uint8), mask.astype(np.uint8), radius, flag)
    return composite(filled.astype(np.float32) / 255.0, image, mask)


def telea(image: np.ndarray, mask: np.ndarray, radius: float = 5.0) -> np.ndarray:
    """Fast marching (Telea 2004)."""
    return _opencv(image, mask, cv2.INPAINT_TELEA, radius)


def navier_stokes(image: np.ndarray, mask: np.ndarray, radius: float = 5.0) -> np.ndarray:
    """Fluid-dynamics transport of isophotes (Bertalmio et al. 2001)."""
    return _opencv(image, mask, cv2.INPAINT_NS, radius)


def skimage_biharmonic(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """scikit-image's biharmonic inpainting."""
    image, mask = check_inputs(image, mask)
    return composite(inpaint_biharmonic(image, mask, channel_axis=-1), image, mask)
