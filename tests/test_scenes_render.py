"""Built-in scene generator: exact texture lookup, OpenCV pose convention, scene directory contract."""

import json

import numpy as np
import pytest

from obscura.data import photos
from obscura.rendering.cameras import (Intrinsics, camera_centers, look_at, opencv_to_nerf_c2w, pose_errors, project,
                                       read_colmap_model, read_transforms_json, reconstruction_poses, umeyama)
from obscura.rendering.scene_format import load_cameras, load_split
from obscura.rendering.scenes import build_scene, make_scene, textures
from obscura.rendering.scenes.mesh import quad
from obscura.rendering.scenes.render import MeshRenderer, bilinear


def test_bilinear_hits_texel_centres_and_interpolates_between_them():
    tex = np.random.default_rng(0).random((4, 5, 3)).astype(np.float32)
    # texel (row 2, col 3) centre is at uv = ((3 + 0.5) / 5, (2 + 0.5) / 4)
    np.testing.assert_allclose(bilinear(tex, np.array([[3.5 / 5, 2.5 / 4]])), tex[2:3, 3], atol=1e-6)
    mid = bilinear(tex, np.array([[4.0 / 5, 2.5 / 4]]))  # half-way between cols 3 and 4
    np.testing.assert_allclose(mid[0], (tex[2, 3] + tex[2, 4]) / 2, atol=1e-6)


@pytest.mark.parametrize("supersample", [1, 3])
def test_rendered_pixel_equals_texture_at_the_analytic_hit_point(supersample):
    """Fronto-parallel quad at z = 2: the hit point of the ray through (u, v) is known in closed form."""
    rng = np.random.default_rng(1)
    tex = rng.random((16, 24, 3)).astype(np.float32)
    origin, eu, ev = np.array([-1.5, -1.0, 2.0]), np.array([3.0, 0, 0]), np.array([0, 2.0, 0])
    renderer = MeshRenderer([quad("q", origin, eu, ev, tex)], background=(0, 0, 0))
    intr = Intrinsics(40.0, 40.0, 16.0, 12.0, 32, 24)
    rgb, depth = renderer.render(intr, np.eye(4), supersample)

    def colour_at(u, v):  # analytic: ray (u - cx)/fx, (v - cy)/fy, 1 scaled to z = 2
        x, y = (u - intr.cx) / intr.fx * 2.0, (v - intr.cy) / intr.fy * 2.0
        uv = np.stack([(x - origin[0]) / eu[0], (y - origin[1]) / ev[1]], -1)
        return bilinear(tex, uv)

    s = supersample
    for row, col in [(0, 0), (5, 7), (12, 16), (23, 31), (17, 3)]:
        sub = (np.arange(s) + 0.5) / s
        U, V = np.meshgrid(col + sub, row + sub)
        expected = colour_at(U.ravel(), V.ravel()).mean(0)
        np.testing.assert_allclose(rgb[row, col], expected, atol=2e-5)
        assert depth[row, col] == pytest.approx(2.0, abs=1e-5)


def test_known_point_projects_onto_its_texture_with_opencv_poses():
    """A red spot painted on an oblique quad appears where K[R|t] projects its 3D position."""
    tex = np.zeros((64, 64, 3), np.float32)
    tex[28:36, 40:48] = (1.0, 0.0, 0.0)                       # spot centred at texel (32, 44)
    origin, eu, ev = np.array([-1.0, 1.0, 0.0]), np.array([2.0, 0, 0]), np.array([0, -2.0, 0])
    renderer = MeshRenderer([quad("ground", origin, eu, ev, tex)], background=(0, 0, 1))
    spot = origin + eu * (44 / 64) + ev * (32 / 64)            # world position of the spot centre
    intr = Intrinsics.from_fov(160, 120, 60)
    for eye in [(2.0, -1.5, 1.8), (-1.2, -2.0, 2.5), (0.3, 2.2, 1.5)]:
        T = look_at(eye, (0, 0, 0))
        rgb, depth = renderer.render(intr, T, supersample=2)
        (u, v), z = (a[0] for a in project(intr.K, T, spot[None]))
        assert 0 <= u < intr.width and 0 <= v < intr.height
        pixel = rgb[int(v), int(u)]
        assert pixel[0] > 0.9 and pixel[1] < 0.1 and pixel[2] < 0.1, (eye, u, v, pixel)
        assert depth[int(v), int(u)] == pytest.approx(z, rel=0.02)
        # the principal point looks at the look_at target
        assert np.allclose(project(intr.K, T, np.zeros((1, 3)))[0][0], (intr.cx, intr.cy))


def test_umeyama_recovers_a_similarity_and_pose_errors_ignore_it():
    rng = np.random.default_rng(2)
    q = rng.normal(size=4)
    q /= np.linalg.norm(q)
    w, x, y, z = q
    R = np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                  [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                  [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])
    src = rng.normal(size=(20, 3))
    s, R_est, t = umeyama(src, 2.5 * src @ R.T + [1, -2, 3])
    assert s == pytest.approx(2.5) and np.allclose(R_est, R) and np.allclose(t, [1, -2, 3])

    gt = np.stack([look_at(e, (0, 0, 0)) for e in rng.normal(size=(10, 3)) * 3 + [0, 0, 5]])
    # the same cameras in another world frame: x_new = s R x + t  =>  T_new = T [R^T/s | ...]
    S = np.eye(4)
    S[:3, :3], S[:3, 3] = 0.4 * R, [3, 1, -2]
    moved = gt @ np.linalg.inv(S)
    moved[:, :3, :] /= np.linalg.norm(moved[:, 0, :3], axis=1)[:, None, None]  # re-normalise rotation rows
    moved[:, 3] = [0, 0, 0, 1]
    err = pose_errors(moved, gt)
    assert err["rotation_error_max_deg"] < 1e-6 and err["center_error_max_pct"] < 1e-6
    assert err["alignment_scale"] == pytest.approx(1 / 0.4)
    # roll camera 0 by 1.5 degrees about its optical axis, keeping its centre: error is exactly 1.5 degrees
    a = np.radians(1.5)
    roll = np.eye(4)
    roll[:2, :2] = [[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]
    tilted = moved.copy()
    tilted[0] = roll @ moved[0]
    err = pose_errors(tilted, gt)
    assert err["rotation_error_max_deg"] == pytest.approx(1.5, rel=1e-6) and err["center_error_max_pct"] < 1e-6
    # relative errors: the 9 of 45 pairs with camera 0 are off by 1.5 degrees, the rest exact
    assert err["relative_rotation_error_max_deg"] == pytest.approx(1.5, rel=1e-6)
    assert err["relative_rotation_error_median_deg"] < 1e-6
    assert pose_errors(moved, gt)["relative_rotation_error_max_deg"] < 1e-6
    # a displaced centre (rotations exact) tilts the Sim(3) alignment: the aligned rotation error takes it
    # up, the relative one does not
    shifted = moved.copy()
    shifted[0, :3, 3] -= shifted[0, :3, :3] @ np.array([0.3, 0.0, 0.0])
    err = pose_errors(shifted, gt)
    assert err["rotation_error_median_deg"] > 0.1 and err["relative_rotation_error_max_deg"] < 1e-6


@pytest.fixture(scope="module")
def tiny_orbit(tmp_path_factory):
    out = tmp_path_factory.mktemp("scenes") / "orbit"
    scene = build_scene("orbit", 10, 64, 48)
    metrics = make_scene("orbit", scene, out, supersample=1, test_every=8, gt_points=300, seed=3, progress=False)
    return out, scene, metrics


def test_scene_directory_follows_the_documented_contract(tiny_orbit):
    out, scene, metrics = tiny_orbit
    names = [f"{i:03d}.png" for i in range(10)]
    assert sorted(p.name for p in (out / "images").iterdir()) == names
    info = json.loads((out / "scene.json").read_text())
    assert info["split"] == {"test_every": 8, "test": ["000.png", "008.png"],
                             "train": [n for n in names if n not in ("000.png", "008.png")]}
    assert load_split(out) == info["split"] and info["width"] == 64 and info["height"] == 48
    assert 0 < info["near"] < info["far"] and metrics["num_images"] == 10

    rec = read_colmap_model(out / "ground_truth" / "sparse")
    cam = next(iter(rec.cameras.values()))
    intr = scene.intrinsics()
    assert cam.model_name == "PINHOLE" and np.allclose(cam.params, [intr.fx, intr.fy, intr.cx, intr.cy])
    gt = reconstruction_poses(rec)
    poses = scene.poses()
    assert np.allclose(np.stack([gt[n] for n in names]), poses, atol=1e-9)
    assert rec.num_points3D() == 300

    t_intr, t_poses, t_names = read_transforms_json(out / "ground_truth" / "transforms.json")
    assert t_names == names and t_intr == intr and np.allclose(t_poses, poses)
    doc = json.loads((out / "ground_truth" / "transforms.json").read_text())
    c2w = np.array(doc["frames"][3]["transform_matrix"])
    assert np.allclose(c2w[:3, 3], camera_centers(poses[3:4])[0])           # OpenGL c2w: translation = centre
    assert np.allclose(-c2w[:3, 2], poses[3, 2, :3])                        # looks down its -z axis
    assert np.allclose(c2w, opencv_to_nerf_c2w(poses[3]))
    assert doc["test_filenames"] == ["../images/000.png", "../images/008.png"]

    cams = load_cameras(out)  # no SfM yet: ground truth
    assert cams.source == "ground_truth" and cams.names == names and np.allclose(cams.poses, poses)
    assert cams.intrinsics == intr and cams.test == [0, 8] and cams.image_paths[1] == out / "images" / "001.png"

    depth = np.load(out / "ground_truth" / "depth" / "004.npy")
    assert depth.shape == (48, 64) and depth.dtype == np.float32 and (depth > 0).mean() > 0.9


def test_depth_back_projects_onto_the_ground_truth_geometry(tiny_orbit):
    """Depth + K + pose give 3D points whose re-rendered depth from another view is consistent."""
    out, scene, _ = tiny_orbit
    intr, poses = scene.intrinsics(), scene.poses()
    depth = np.load(out / "ground_truth" / "depth" / "002.npy")
    v, u = np.nonzero(depth > 0)
    pix = np.stack([u + 0.5, v + 0.5, np.ones_like(u, float)], 1)
    cam = (pix @ np.linalg.inv(intr.K).T) * depth[v, u, None]
    world = (cam - poses[2, :3, 3]) @ poses[2, :3, :3]
    uv, z = project(intr.K, poses[2], world)
    assert np.allclose(uv, pix[:, :2], atol=1e-3) and np.allclose(z, depth[v, u], rtol=1e-5)
    # every back-projected point lies on a surface: casting a ray at it from a second view hits it or
    # something in front of it
    renderer = MeshRenderer(scene.meshes())
    d2 = renderer.cast(intr, poses[5])["t_hit"]
    uv2, z2 = project(intr.K, poses[5], world)
    inside = (uv2[:, 0] >= 0) & (uv2[:, 0] < 64) & (uv2[:, 1] >= 0) & (uv2[:, 1] < 48) & (z2 > 0)
    seen = d2[uv2[inside, 1].astype(int), uv2[inside, 0].astype(int)]
    assert inside.sum() > 100 and np.mean(seen <= z2[inside] * 1.02 + 1e-3) > 0.97


def test_same_seed_same_scene(tiny_orbit, tmp_path):
    out, scene, _ = tiny_orbit
    make_scene("orbit", scene, tmp_path / "again", supersample=1, gt_points=300, seed=3, progress=False)
    for sub in ["images/007.png", "ground_truth/sparse/points3D.txt", "ground_truth/sparse/images.txt"]:
        assert (out / sub).read_bytes() == (tmp_path / "again" / sub).read_bytes()


def test_benchmark_variations_change_only_what_they_name():
    plain, aside = build_scene("room", 20, 64, 48), build_scene("room", 20, 64, 48, aside_fraction=0.2, aside_deg=45.0)
    turned = aside.aside_views()
    assert turned.tolist() == [2, 7, 12, 17]
    p, a = plain.poses(), aside.poses()
    np.testing.assert_allclose(camera_centers(a), camera_centers(p), atol=1e-9)   # same positions
    keep = np.setdiff1d(np.arange(20), turned)
    assert np.array_equal(a[keep], p[keep])
    for i in turned:  # turned about the world up axis by 45 degrees: the viewing direction's yaw changes, not its tilt
        fp, fa = p[i, 2, :3], a[i, 2, :3]
        yaw = np.degrees(np.arccos(np.dot(fp[:2], fa[:2]) / np.linalg.norm(fp[:2]) / np.linalg.norm(fa[:2])))
        assert yaw == pytest.approx(45.0, abs=1e-6) and fa[2] == pytest.approx(fp[2], abs=1e-9)

    loop = build_scene("orbit", 24, 64, 48, turns=1.0, elevation_deg=(25.0, 25.0), kind="video").poses()
    step = np.linalg.norm(np.diff(camera_centers(loop), axis=0), axis=1)
    closing = np.linalg.norm(camera_centers(loop)[0] - camera_centers(loop)[-1])
    assert step.min() <= closing <= step.max() and closing < 0.1 * step.sum()   # last view one step from the first

    procedural = build_scene("room", 4, 64, 48, textures="procedural").meshes()
    textures.dead_leaves.cache_clear()   # draw every texture again rather than reuse the cached arrays
    again = build_scene("room", 4, 64, 48, textures="procedural").meshes()
    assert all(np.array_equal(m.texture, n.texture) for m, n in zip(procedural, again))   # seeded by the name
    assert not np.array_equal(textures.dead_leaves("china"), textures.dead_leaves("rocket"))   # a name, its own image
    plain = build_scene("room", 4, 64, 48).meshes()
    assert not any(m.texture.shape == n.texture.shape and np.allclose(m.texture, n.texture)
                   for m, n in zip(procedural, plain))
    assert len({m.texture.tobytes() for m in build_scene("orbit", 4, 64, 48, textures="materials").meshes()
                if m.name in ("ground", "sphere", "pillar")}) == 3


def test_scene_photos_come_from_the_photo_catalogue():
    assert not {p.name for p in photos.TEXTURE_ONLY} & set(photos.PHOTOS)   # texture-only images stay out of the split
    for p in photos.TEXTURE_ONLY:
        assert p.path().is_file() and p.licence and p.credit, p.name
    hubble = textures.photo("hubble_deep_field")
    assert hubble.shape == (872, 1000, 3) and hubble.dtype == np.float32       # full resolution, not a draft decode
    assert np.array_equal(hubble, photos.PHOTOS["hubble"].load(10_000) / np.float32(255))
    assert textures.photo("page").shape == (191, 384, 3)                         # grey -> RGB


@pytest.mark.parametrize("bad", [{"textures": "marble"}, {"wobble": 1.0}])
def test_unknown_variations_are_refused(bad):
    from obscura.errors import ObscuraError

    with pytest.raises(ObscuraError, match="marble|wobble"):
        build_scene("orbit", 4, 64, 48, **bad).meshes()
