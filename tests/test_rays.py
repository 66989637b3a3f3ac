"""Camera rays against open3d's pinhole ray generator, and known pixel directions."""

import numpy as np
import open3d as o3d
import torch

from obscura.rendering.cameras import Intrinsics, look_at, project
from obscura.rendering.rays import normalize, rays


def test_rays_match_open3d_create_rays_pinhole():
    intr = Intrinsics(70.0, 65.0, 31.3, 22.7, 64, 48)
    pose = look_at((1.5, -2.0, 0.7), (0.1, 0.2, 0.3))
    origins, dirs = rays(intr, pose, dtype=torch.float64)
    ref = o3d.t.geometry.RaycastingScene.create_rays_pinhole(o3d.core.Tensor(intr.K), o3d.core.Tensor(pose),
                                                             intr.width, intr.height).numpy()
    assert origins.shape == dirs.shape == (48, 64, 3)
    np.testing.assert_allclose(origins.numpy(), ref[..., :3], atol=1e-6)
    np.testing.assert_allclose(dirs.numpy(), ref[..., 3:], atol=1e-6)


def test_ray_points_project_back_to_their_pixel_at_their_depth():
    intr = Intrinsics.from_fov(40, 30, 60)
    pose = look_at((0.0, -3.0, 1.0), (0.0, 0.0, 0.0))
    uv = torch.tensor([[0.5, 0.5], [20.0, 15.0], [39.5, 29.5]], dtype=torch.float64)
    o, d = rays(intr, pose, uv, dtype=torch.float64)
    points = (o + 2.5 * d).numpy()
    back, depth = project(intr.K, pose, points)
    np.testing.assert_allclose(back, uv.numpy(), atol=1e-9)
    np.testing.assert_allclose(depth, 2.5, atol=1e-9)
    # the principal point looks straight down the camera's +z axis
    forward = normalize(d[1]).numpy()
    np.testing.assert_allclose(forward, pose[2, :3], atol=1e-9)
