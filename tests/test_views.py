"""Shared renderer outputs: orbit paths, depth colouring, videos and held-out evaluation."""

import imageio.v3 as iio
import numpy as np
import pytest

from obscura.io import save_image
from obscura.rendering.cameras import Intrinsics, camera_centers, look_at
from obscura.rendering.scene_format import SceneCameras
from obscura.rendering.views import colorize_depth, evaluate_views, orbit_path, summarize, write_video


def test_orbit_path_circles_the_looked_at_point():
    target = np.array([0.2, -0.1, 0.4])
    poses = np.stack([look_at(target + (2 * np.cos(a), 2 * np.sin(a), 1.0), target) for a in np.linspace(0, 5, 12)])
    orbit = orbit_path(poses, 10)
    c = camera_centers(orbit)
    np.testing.assert_allclose(np.linalg.norm(c[:, :2] - target[:2], axis=1), 2.0, atol=1e-6)
    np.testing.assert_allclose(c[:, 2], 1.4, atol=1e-6)
    looking = orbit[:, 2, :3]                       # every camera's optical axis passes through the target
    to_target = (target - c) / np.linalg.norm(target - c, axis=1, keepdims=True)
    np.testing.assert_allclose(looking, to_target, atol=1e-6)


@pytest.mark.parametrize("suffix", [".mp4", ".gif"])
def test_video_round_trip(tmp_path, suffix):
    frames = [np.full((33, 41, 3), i / 4) for i in range(5)]
    path = write_video(tmp_path / f"orbit{suffix}", frames, fps=10)
    back = iio.imread(path, index=None)
    assert back.shape[0] == 5 and abs(int(back[-1].mean()) - 255) < 8
    assert not list(tmp_path.glob(".*"))            # nothing half-written left beside it


def test_depth_colours_are_black_where_nothing_was_hit():
    depth = np.linspace(1, 5, 20).reshape(4, 5)
    depth[0, 0] = 0
    rgb = colorize_depth(depth)
    assert rgb.shape == (4, 5, 3) and rgb[0, 0].sum() == 0 and rgb[1:].sum(-1).min() > 0


def test_evaluate_views_scores_a_perfect_and_a_flat_renderer(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.random((3, 12, 16, 3)).astype(np.float32)
    paths = []
    for i, im in enumerate(images):
        paths.append(save_image(tmp_path / f"{i}.png", im))
    truth = [np.asarray(iio.imread(p), np.float32) / 255 for p in paths]
    poses = np.stack([look_at((i, -3, 0), (0, 0, 0)) for i in range(3)])
    cams = SceneCameras(Intrinsics.from_fov(16, 12, 60), ["0.png", "1.png", "2.png"], paths, poses, [1, 2], [0],
                        "ground_truth")
    index = {tuple(np.round(p[:3, 3], 6)): i for i, p in enumerate(poses)}

    def perfect(intr, pose):
        return {"rgb": truth[index[tuple(np.round(pose[:3, 3], 6))]], "depth": np.ones((12, 16))}

    rows, out = evaluate_views(perfect, cams, [0, 2], tmp_path / "renders", progress=False)
    assert [r["name"] for r in rows] == ["0.png", "2.png"] and min(r["psnr"] for r in rows) == 100.0
    assert out["rgb"].shape == (2, 12, 16, 3) and (tmp_path / "renders" / "2_depth.png").is_file()
    flat, _ = evaluate_views(lambda i, p: {"rgb": np.full((12, 16, 3), 0.5), "depth": np.ones((12, 16))}, cams,
                             [0], progress=False)
    assert summarize(flat)["test_psnr"] < 15 and summarize(rows)["test_ssim"] == pytest.approx(1.0)
