"""Image fidelity: PSNR (whole image or masked) and SSIM (torchmetrics' definition), on [0, 1] images.

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

    torchmetrics' ``structural_similarity_index_measure`` (reflect-padded borders, its reference in
    tests/test_metrics.py) with the 11x11 window applied as two 11-tap passes. numpy HxW or HxWxC inputs are
    treated as one image with channels last. Computed in float64 when both inputs are float64, else in float32
    on planes centred on their mean, which keeps the variances' cancellation small: float32 within 1e-7 of the
    float64 value on flat images, where torchmetrics' float32 is 2e-3 off (`python bench/inpainting_scores.py`:
    ms per 256² RGB pair, the float32/float64 difference).
    """
    import torch.nn.functional as F

    double = all((v.dtype if isinstance(v, torch.Tensor) else np.asarray(v).dtype) in (torch.float64, np.float64)
                 for v in (a, b))
    x, y = (_tensor(v).to(torch.float64 if double else torch.float32) for v in (a, b))
    if not isinstance(a, torch.Tensor):
        x, y = (t.unsqueeze(-1) if t.ndim == 2 else t for t in (x, y))
        x, y = (t.permute(2, 0, 1) for t in (x, y))
    if x.ndim == 3:
        x, y = x[None], y[None]
    if x.shape != y.shape or min(x.shape[-2:]) <= _SSIM_PAD:
        raise ValueError(f"ssim needs two images of the same shape, larger than {_SSIM_PAD} px a side; got "
                         f"{tuple(x.shape)} and {tuple(y.shape)}.")
    n, c = x.shape[:2]
    shift = (x + y).mean((-2, -1), keepdim=True) / 2  # variances are shift-invariant; the means get it back
    x, y = (F.pad(t - shift, (_SSIM_PAD,) * 4, mode="reflect") for t in (x, y))
    dist = torch.arange(-_SSIM_PAD, _SSIM_PAD + 1, dtype=x.dtype) / 1.5
    g = torch.exp(-dist ** 2 / 2)
    g = (g / g.sum()).expand(5 * n * c, 1, -1)
    stack = torch.cat((x, y, x * x, y * y, x * y)).reshape(1, 5 * n * c, *x.shape[-2:])  # one plane per channel:
    stack = F.conv2d(F.conv2d(stack, g[:, :, None, :], groups=5 * n * c), g[:, :, :, None], groups=5 * n * c)
    mu_x, mu_y, xx, yy, xy = stack.reshape(5 * n, c, *stack.shape[-2:]).split(n)  # 4-5x faster than groups=c
    var_x, var_y, cov = xx - mu_x.pow(2), yy - mu_y.pow(2), xy - mu_x * mu_y
    mu_x, mu_y = mu_x + shift, mu_y + shift
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    lower = var_x.clamp_min(0) + var_y.clamp_min(0) + c2
    return float((((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x.pow(2) + mu_y.pow(2) + c1) * lower)).mean())


_SSIM_PAD = 5  # the 11-px window's half width


def ssim_differentiable(a: torch.Tensor, b: torch.Tensor, window: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """Mean SSIM of two (H, W, C) float tensors in [0, 1] as a differentiable training loss term:
    Gaussian window over the valid region (equal to skimage's ``gaussian_weights=True``; torchmetrics'
    :func:`ssim` differs from it in the 4th decimal by its border handling), computed in the inputs'
    dtype with separable convolutions, several times faster than torchmetrics."""
    import torch.nn.functional as F

    c = a.shape[-1]
    x = torch.cat([a, b, a * a, b * b, a * b], -1).permute(2, 0, 1)[None]
    g = torch.exp(-((torch.arange(window, dtype=a.dtype) - (window - 1) / 2) ** 2) / (2 * sigma ** 2))
    g = (g / g.sum()).repeat(5 * c, 1, 1)
    x = F.conv2d(x, g[:, :, None, :], groups=5 * c)
    mu_a, mu_b, aa, bb, ab = F.conv2d(x, g[:, :, :, None], groups=5 * c)[0].split(c)
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    var_a, var_b, cov = aa - mu_a ** 2, bb - mu_b ** 2, ab - mu_a * mu_b
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2))
    return s.mean()
