"""Real spherical harmonics colours up to degree 3, with the constants and sign conventions of Inria's 3DGS.

``coeffs`` is (N, K, 3) with K >= (degree + 1)**2 (coefficient k of band l at index l*l + l + m);
colours are ``sh + 0.5`` clamped at 0. Pure torch: autograd gives the backward.
"""

from __future__ import annotations

import torch

SH_C0 = 0.28209479177387814
SH_C1 = 0.4886025119029199
SH_C2 = (1.0925484305920792, -1.0925484305920792, 0.31539156525252005, -1.0925484305920792, 0.5462742152960396)
SH_C3 = (-0.5900435899266435, 2.890611442640554, -0.4570457994644658, 0.3731763325901154,
         -0.4570457994644658, 1.445305721320277, -0.5900435899266435)


def num_sh_coeffs(degree: int) -> int:
    return (degree + 1) ** 2


def eval_sh(degree: int, coeffs: torch.Tensor, dirs: torch.Tensor) -> torch.Tensor:
    """RGB (N, 3) of SH ``coeffs`` (N, K, 3) seen along unit directions ``dirs`` (N, 3) (camera to gaussian)."""
    if not 0 <= degree <= 3:
        raise ValueError(f"SH degree must be 0..3, got {degree}")
    if coeffs.shape[-2] < num_sh_coeffs(degree):
        raise ValueError(f"degree {degree} needs {num_sh_coeffs(degree)} coefficients, got {coeffs.shape[-2]}")
    out = SH_C0 * coeffs[..., 0, :]
    if degree > 0:
        x, y, z = (dirs[..., i : i + 1] for i in range(3))
        out = out - SH_C1 * y * coeffs[..., 1, :] + SH_C1 * z * coeffs[..., 2, :] - SH_C1 * x * coeffs[..., 3, :]
        if degree > 1:
            xx, yy, zz, xy, yz, xz = x * x, y * y, z * z, x * y, y * z, x * z
            out = (out + SH_C2[0] * xy * coeffs[..., 4, :] + SH_C2[1] * yz * coeffs[..., 5, :]
                   + SH_C2[2] * (2 * zz - xx - yy) * coeffs[..., 6, :] + SH_C2[3] * xz * coeffs[..., 7, :]
                   + SH_C2[4] * (xx - yy) * coeffs[..., 8, :])
            if degree > 2:
                out = (out + SH_C3[0] * y * (3 * xx - yy) * coeffs[..., 9, :] + SH_C3[1] * xy * z * coeffs[..., 10, :]
                       + SH_C3[2] * y * (4 * zz - xx - yy) * coeffs[..., 11, :]
                       + SH_C3[3] * z * (2 * zz - 3 * xx - 3 * yy) * coeffs[..., 12, :]
                       + SH_C3[4] * x * (4 * zz - xx - yy) * coeffs[..., 13, :]
                       + SH_C3[5] * z * (xx - yy) * coeffs[..., 14, :]
                       + SH_C3[6] * x * (xx - 3 * yy) * coeffs[..., 15, :])
    return torch.clamp_min(out + 0.5, 0.0)


def rgb_to_sh(rgb: torch.Tensor) -> torch.Tensor:
    """DC coefficient whose degree-0 colour is ``rgb``."""
    return (rgb - 0.5) / SH_C0


def sh_to_rgb(sh: torch.Tensor) -> torch.Tensor:
    """Degree-0 colour (before clamping) of DC coefficient ``sh``."""
    return sh * SH_C0 + 0.5
