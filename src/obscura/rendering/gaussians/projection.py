"""EWA projection of 3D gaussians to screen space (pure, differentiable torch).

Conventions: ``viewmat`` is the 4x4 world-to-camera matrix in OpenCV axes (+x right, +y down, +z forward);
pixel coordinates put the first pixel's centre at (0.5, 0.5), so a camera-space point projects to
``u = fx * x / z + cx``. Conics are the upper triangle [a, b, c] of the inverse 2D covariance [[a, b], [b, c]].
"""

from __future__ import annotations

from typing import NamedTuple

import torch


class Projected(NamedTuple):
    """Screen-space gaussians: ``radii`` (int32) is 0 and ``valid`` False for culled ones."""

    means2d: torch.Tensor  # (N, 2) pixel coordinates
    conics: torch.Tensor  # (N, 3)
    depths: torch.Tensor  # (N,) camera-space z
    radii: torch.Tensor  # (N,) int32, ceil(3 sqrt(largest eigenvalue of the 2D covariance))
    valid: torch.Tensor  # (N,) bool


def quat_to_rotmat(quats: torch.Tensor) -> torch.Tensor:
    """(N, 3, 3) rotations of (N, 4) quaternions w, x, y, z (normalised here)."""
    w, x, y, z = torch.nn.functional.normalize(quats, dim=-1).unbind(-1)
    return torch.stack([
        1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
        2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
        2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
    ], dim=-1).reshape(*quats.shape[:-1], 3, 3)


def covariance3d(log_scales: torch.Tensor, quats: torch.Tensor) -> torch.Tensor:
    """World covariances (N, 3, 3) = R S S^T R^T."""
    m = quat_to_rotmat(quats) * torch.exp(log_scales)[..., None, :]
    return m @ m.transpose(-1, -2)


def project(means: torch.Tensor, log_scales: torch.Tensor, quats: torch.Tensor, viewmat: torch.Tensor,
            fx: float, fy: float, cx: float, cy: float, width: int, height: int,
            near: float = 0.01, low_pass: float = 0.3) -> Projected:
    """Project (N, 3) means with (N, 3) log-scales and (N, 4) wxyz quaternions through a pinhole camera.

    The EWA Jacobian uses x/z and y/z clamped to 1.3x the half field of view (Inria's rule, written for
    an off-centre principal point as gsplat does); ``low_pass`` is added to the 2D covariance's diagonal.
    Gaussians with z <= ``near`` or whose 3-sigma box misses the image are culled.
    """
    viewmat = viewmat.to(means)
    rot, trans = viewmat[:3, :3], viewmat[:3, 3]
    p = means @ rot.T + trans
    x, y, z = p.unbind(-1)
    in_front = z > near
    z = torch.where(in_front, z, torch.ones_like(z))  # culled ones get harmless finite values
    lim_x = 0.3 * width / (2 * fx)
    lim_y = 0.3 * height / (2 * fy)
    tx = z * torch.clamp(x / z, -cx / fx - lim_x, (width - cx) / fx + lim_x)
    ty = z * torch.clamp(y / z, -cy / fy - lim_y, (height - cy) / fy + lim_y)
    zero = torch.zeros_like(z)
    jac = torch.stack([fx / z, zero, -fx * tx / (z * z), zero, fy / z, -fy * ty / (z * z)], -1).reshape(-1, 2, 3)
    t = jac @ rot
    cov2d = t @ covariance3d(log_scales, quats) @ t.transpose(-1, -2)
    a, b, c = cov2d[:, 0, 0] + low_pass, cov2d[:, 0, 1], cov2d[:, 1, 1] + low_pass
    det = a * c - b * b
    ok = det > 0
    det = torch.where(ok, det, torch.ones_like(det))
    conics = torch.stack([c / det, -b / det, a / det], -1)
    means2d = torch.stack([fx * x / z + cx, fy * y / z + cy], -1)
    with torch.no_grad():
        mid = 0.5 * (a + c)
        radius = torch.ceil(3 * torch.sqrt(mid + torch.sqrt(torch.clamp_min(mid * mid - det, 0))))
        u, v = means2d.unbind(-1)
        on_screen = (u + radius > 0) & (u - radius < width) & (v + radius > 0) & (v - radius < height)
        valid = in_front & ok & on_screen
        radii = torch.where(valid, radius, torch.zeros_like(radius)).to(torch.int32)
    return Projected(means2d, conics, z, radii, valid)
