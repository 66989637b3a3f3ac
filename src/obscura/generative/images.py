"""Dataset arrays → model tensors, and tensors → image grids/strips for PNGs."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from obscura.errors import ObscuraError


def to_model_space(images: np.ndarray | torch.Tensor, image_size: int, channels: int) -> torch.Tensor:
    """uint8 (N, H, W[, C]) or float [0, 1] images → float (N, channels, image_size, image_size) in [−1, 1].

    A smaller square image is centre-padded with black when the size difference is even and at most
    a quarter of the side (Fashion-MNIST 28 → 32), otherwise resized bilinearly. Grey becomes RGB by
    repetition; RGB becomes grey by luminance.
    """
    x = torch.as_tensor(np.asarray(images))
    x = x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
    if x.ndim == 3:
        x = x[:, None]
    elif x.ndim == 4 and x.shape[-1] in (1, 3) and x.shape[1] not in (1, 3):
        x = x.permute(0, 3, 1, 2)
    if x.ndim != 4 or x.shape[1] not in (1, 3):
        raise ObscuraError(f"expected images shaped (N, H, W) or (N, H, W, C) with 1 or 3 channels, "
                           f"got {tuple(x.shape)}.")
    if x.shape[1] != channels:
        x = x.repeat(1, 3, 1, 1) if channels == 3 else \
            (x * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
    h, w = x.shape[2:]
    pad = image_size - h
    if h == w and 0 <= pad <= image_size // 4 and pad % 2 == 0:
        x = F.pad(x, (pad // 2,) * 4)
    elif (h, w) != (image_size, image_size):
        x = F.interpolate(x, size=(image_size, image_size), mode="bilinear", align_corners=False, antialias=True)
    return (x.clamp(0, 1) * 2 - 1).contiguous()


def to_display(x: torch.Tensor) -> np.ndarray:
    """(N, C, H, W) in [−1, 1] → float (N, H, W, C) in [0, 1]."""
    return ((x.detach().clamp(-1, 1) + 1) / 2).permute(0, 2, 3, 1).cpu().numpy()


def grid(x: torch.Tensor, ncol: int | None = None, pad: int = 2) -> np.ndarray:
    """Tile images into one (rows·H, cols·W, C) float array with a white ``pad`` between them."""
    imgs = to_display(x)
    n, h, w, c = imgs.shape
    ncol = ncol or int(np.ceil(np.sqrt(n)))
    nrow = int(np.ceil(n / ncol))
    out = np.ones((nrow * (h + pad) + pad, ncol * (w + pad) + pad, c), np.float32)
    for k in range(n):
        r, q = divmod(k, ncol)
        out[pad + r * (h + pad): pad + r * (h + pad) + h, pad + q * (w + pad): pad + q * (w + pad) + w] = imgs[k]
    return out
