"""Validation and documented conversions of (image, mask) pairs before any method runs."""

from __future__ import annotations

import numpy as np

from obscura.errors import ObscuraError


class InpaintInputError(ObscuraError):
    """The image or the mask cannot be inpainted as given."""


def as_rgb(image: np.ndarray) -> np.ndarray:
    """float32 HxWx3 in [0, 1]. Grayscale (HxW, HxWx1) is repeated to RGB; RGBA drops alpha;
    uint8 is divided by 255. Anything else raises."""
    image = np.asarray(image)
    if image.dtype == np.uint8:
        image = image.astype(np.float32) / 255.0
    elif image.dtype.kind not in "fb":
        raise InpaintInputError(f"image dtype {image.dtype} is not supported; pass uint8 or float in [0, 1].")
    image = image.astype(np.float32)
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3 or image.shape[2] not in (1, 3, 4):
        raise InpaintInputError(f"image must be HxW, HxWx1, HxWx3 or HxWx4, got shape {image.shape}.")
    if image.shape[2] == 4:
        image = image[..., :3]
    if image.shape[2] == 1:
        image = np.repeat(image, 3, axis=2)
    if not np.isfinite(image).all():
        raise InpaintInputError("image holds NaN or infinite values.")
    if image.min() < 0.0 or image.max() > 1.0:
        raise InpaintInputError(f"image values span [{image.min():.3g}, {image.max():.3g}]; expected [0, 1].")
    return np.ascontiguousarray(image)


def as_mask(mask: np.ndarray) -> np.ndarray:
    """bool HxW, True = hole. A 3/4-channel mask counts a pixel as hole if any colour channel > 0.5."""
    mask = np.asarray(mask)
    if mask.ndim == 3 and mask.shape[2] in (1, 3, 4):
        mask = mask[..., :3] if mask.shape[2] == 4 else mask
        mask = mask.max(axis=2)
    if mask.ndim != 2:
        raise InpaintInputError(f"mask must be HxW (or HxWxC), got shape {mask.shape}.")
    if mask.dtype == bool:
        return mask
    if mask.dtype == np.uint8:
        return mask > 127
    return mask.astype(np.float32) > 0.5


def check_inputs(image: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (float32 HxWx3 image, bool HxW hole mask) or raise one clear InpaintInputError."""
    image, mask = as_rgb(image), as_mask(mask)
    if image.shape[:2] != mask.shape:
        raise InpaintInputError(f"mask is {mask.shape[1]}x{mask.shape[0]} but image is "
                                f"{image.shape[1]}x{image.shape[0]} (width x height); resize the mask to the image.")
    holes = int(mask.sum())
    if holes == 0:
        raise InpaintInputError("mask has no hole pixels (white = fill); nothing to inpaint.")
    if holes == mask.size:
        raise InpaintInputError("mask covers the whole image; at least some known pixels are needed. "
                                "For extending an image use outpainting instead.")
    return image, mask


def composite(filled: np.ndarray, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Hole pixels from ``filled``, all others exactly from ``image`` (float32, clipped to [0, 1])."""
    filled = np.clip(np.asarray(filled, np.float32), 0.0, 1.0)
    return np.where(mask[..., None], filled, image).astype(np.float32)
