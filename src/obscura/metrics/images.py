"""Image fidelity: PSNR (whole image or masked) and SSIM (torchmetrics), on [0, 1] images.

Accepts numpy ``(H, W[, C])`` arrays or torch tensors ``(N, C, H, W)`` / ``(C, H, W)``.
"""

from __future__ import annotations

import numpy as np
import torch


def _tensor(x) -> torch.Tensor:
    return torch.as_tensor(np.asarray(x, np.float64)) if not isinstance(x, torch.Tensor) else x


def mse(a, b, mask=None) -> float:
    """Mean squared error, over ``mask`` pixels only when given (a boolean HxW / broadcastable mask)."""
    err = (_tensor(a).double() - _tensor(b).double()) ** 2
    if mask is None:
        return float(err.mean())
    m = torch.as_tensor(np.asarray(mask)) if not isinstance(mask, torch.Tensor) else mask
    if m.ndim < err.ndim:
        m = m.reshape(*m.shape, *([1] * (err.ndim - m.ndim)))
    return float(err[m.bool().expand_as(err)].mean())


def psnr(a, b, mask=None, data_range: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB (MSE floored at 1e-10, i.e. at most 100 dB for range 1)."""
    return float(10 * np.log10(data_range ** 2 / max(mse(a, b, mask), 1e-10)))


def ssim(a, b, data_range: float = 1.0) -> float:
    """Structural similarity (Gaussian window 11, σ 1.5, as Wang et al.), mean over the image(s).

    numpy HxW or HxWxC inputs are treated as one image with channels last.
    """
    from torchmetrics.functional.image import structural_similarity_index_measure

    x, y = _tensor(a).double(), _tensor(b).double()
    if not isinstance(a, torch.Tensor):
        x, y = (t.unsqueeze(-1) if t.ndim == 2 else t for t in (x, y))
        x, y = (t.permute(2, 0, 1) for t in (x, y))
    if x.ndim == 3:
        x, y = x[None], y[None]
    return float(structural_similarity_index_measure(x, y, data_range=data_range))
