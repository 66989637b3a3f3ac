"""Structure-from-motion on a small built-in scene (through the DVC stages) and its failure modes."""

import json
import shutil

import numpy as np
import pytest
from mlflow.tracking import MlflowClient
from PIL import Image

from obscura.config import parse_params
from obscura.errors import ObscuraError
from obscura.rendering.cameras import pose_errors, read_colmap_model
from obscura.rendering.ingest import BadImagesError
from obscura.rendering.scene_format import load_cameras
from obscura.rendering.scenes.textures import photo
from obscura.rendering.sfm import (ReconstructionError, _options, camera_prior, first_octave, ground_truth_errors,
                                  run_sfm)
from stages import scenes as scenes_stage
from stages import sfm as sfm_stage


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """Params for a 16-view 320x240 room scene, deterministic SfM, outputs in a temporary folder."""
    import yaml

    from conftest import REPO

    root = tmp_path_factory.mktemp("sfm")
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    raw["scenes"].update(output=str(root / "scenes"), width=320, height=240, gt_points=2000,
                         builtin={"room": {"num_views": 16, "fov_x_deg": 65}}, photos={})
    raw["sfm"].update(scenes=["room"], deterministic=True, first_octave="auto", reports=str(root / "reports"))
    return parse_params(raw), root


@pytest.fixture(scope="module")
def room(tiny):
    """The stages run once for the module (render ~3 s + SfM ~7 s on 2 cores)."""
    import os

    params, root = tiny
    old = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{root / 'mlflow.db'}"
    try:
        scenes_stage.run(params, "room")
        metrics = sfm_stage.run(params, "room")
    finally:
        if old is None:
            os.environ.pop("MLFLOW_TRACKING_URI")
        else:
            os.environ["MLFLOW_TRACKING_URI"] = old
    return params, root, metrics


def test_sfm_registers_every_image_and_matches_ground_truth(room):
    params, root, m = room
    assert m["images_registered"] == m["images_total"] == 16 and m["unregistered_images"] == []
    assert m["rotation_error_median_deg"] <= 0.1
    assert m["center_error_median_pct"] <= 0.5 and m["center_error_max_pct"] <= 1.0
    assert m["focal_error_pct"] < 2.0
    assert m["mean_reprojection_error_px"] < 1.0 and m["mean_track_length"] > 3 and m["num_points3d"] > 200


def test_sfm_outputs_follow_the_scene_contract(room):
    params, root, m = room
    scene = root / "scenes" / "room"
    rec = read_colmap_model(scene / "sparse" / "0")
    assert rec.num_reg_images() == 16 and (scene / "sparse" / "0" / "images.bin").is_file()
    assert not (scene / "sparse" / "database.db").exists()
    und = read_colmap_model(scene / "undistorted" / "sparse" / "0")
    assert {c.model_name for c in und.cameras.values()} == {"PINHOLE"}
    assert len(list((scene / "undistorted" / "images").iterdir())) == 16
    reg = json.loads((scene / "sparse" / "registration.json").read_text())
    assert len(reg["registered"]) == 16 and reg["unregistered"] == []

    import open3d as o3d

    pcd = o3d.io.read_point_cloud(str(scene / "sparse" / "points3D.ply"))
    assert 0 < len(pcd.points) <= m["num_points3d"] and len(pcd.colors) == len(pcd.points)
    report = json.loads((root / "reports" / "room.json").read_text())
    assert report["images_registered"] == 16 and all(isinstance(v, (int, float)) for v in report.values())
    assert Image.open(root / "reports" / "room.png").size[0] > 100

    client = MlflowClient(f"sqlite:///{root / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("reconstruction").experiment_id
    runs = {r.info.run_name: r for r in client.search_runs([experiment])}
    assert {"scenes/room", "sfm/colmap/room"} <= set(runs)
    assert runs["sfm/colmap/room"].data.metrics["images_registered"] == 16


def test_load_cameras_gives_renderers_the_undistorted_pinhole_model(room):
    params, root, m = room
    scene = root / "scenes" / "room"
    sfm, gt = load_cameras(scene), load_cameras(scene, "ground_truth")
    assert sfm.source == "undistorted" and gt.source == "ground_truth" and sfm.names == gt.names
    assert all(p.is_file() and p.parent == scene / "undistorted" / "images" for p in sfm.image_paths)
    assert sfm.test == gt.test == [0, 8] and len(sfm.train) == 14
    assert abs(sfm.intrinsics.fx - gt.intrinsics.fx) / gt.intrinsics.fx < 0.02
    assert pose_errors(sfm.poses, gt.poses)["rotation_error_median_deg"] <= 0.1
    with pytest.raises(ObscuraError, match="expected one PINHOLE camera"):
        load_cameras(scene, "sparse")  # SIMPLE_RADIAL: renderers must use the undistorted copy


def test_sift_octave_is_chosen_from_the_image_size(tiny):
    sfm = tiny[0].sfm.model_copy(update={"first_octave": "auto", "max_image_size": 1600})
    assert first_octave(sfm, 320, 240) == -1 and first_octave(sfm, 900, 1200) == -1   # up to 1.2 MP
    assert first_octave(sfm, 1280, 1000) == 0 and first_octave(sfm, 4000, 3000) == 0
    assert first_octave(sfm.model_copy(update={"max_image_size": 800}), 4000, 3000) == -1  # SIFT sees 800x600
    assert first_octave(sfm.model_copy(update={"first_octave": 0}), 320, 240) == 0  # a set value wins


def _observation_errors(rec) -> dict[tuple[int, int], float]:
    """(image id, point2D index) -> reprojection error in px of every observation, projected here."""
    out = {}
    for image_id in rec.reg_image_ids():
        image = rec.image(image_id)
        camera = rec.camera(image.camera_id)
        for idx, p in enumerate(image.points2D):
            if p.has_point3D():
                uv = camera.img_from_cam(image.cam_from_world() * rec.point3D(p.point3D_id).xyz)
                out[image_id, idx] = float(np.linalg.norm(uv - p.xy))
    return out


def test_final_refinement_drops_far_observations_and_readjusts(room):
    import pycolmap

    from obscura.rendering.sfm import refine_model

    _, root, m = room
    assert m["refine_observations_removed"] >= 0
    assert m["mean_reprojection_error_px"] < m["mean_reprojection_error_mapped_px"]
    rec = pycolmap.Reconstruction(str(root / "scenes" / "room" / "sparse" / "0"))
    shifted = []
    for image_id in list(rec.reg_image_ids())[:5]:  # 20 observations moved 6 px: mismatches
        observed = [i for i, p in enumerate(rec.image(image_id).points2D) if p.has_point3D()][:4]
        for idx in observed:
            rec.image(image_id).points2D[idx].xy += np.array([6.0, 0.0])
        shifted += [(image_id, idx) for idx in observed]
    before = _observation_errors(rec)
    per_point = {}
    for (image_id, idx), e in before.items():
        per_point.setdefault(rec.image(image_id).points2D[idx].point3D_id, []).append(e)
    mean = float(np.mean([np.mean(v) for v in per_point.values()]))  # COLMAP's: the mean of the points' means
    far = {k for k, e in before.items() if e > 3 * mean}
    assert set(shifted) <= far
    info = refine_model(rec, 3.0, num_threads=1)
    after = _observation_errors(rec)
    assert info["mean_reprojection_error_mapped_px"] == pytest.approx(mean, rel=1e-6)
    assert info["refine_reproj_threshold_px"] == pytest.approx(3 * mean, rel=1e-6)
    assert not far & set(after) and info["refine_observations_removed"] >= len(far)
    assert rec.compute_mean_reprojection_error() < mean and rec.num_reg_images() == 16
    # the 20 shifted observations no longer pull the poses
    errors = ground_truth_errors(rec, root / "scenes" / "room" / "ground_truth" / "sparse")
    assert errors["rotation_error_median_deg"] <= 1.2 * m["rotation_error_median_deg"]


def test_global_mapper_with_an_exif_focal_prior_registers_the_scene(room, tmp_path):
    params, root, m = room
    assert m["sift_first_octave"] == -1 and m["mapper"] == "incremental" and m["focal_prior_px"] == 0
    scene = tmp_path / "scene"
    for part in ("images", "ground_truth"):
        shutil.copytree(root / "scenes" / "room" / part, scene / part)
    info = json.loads((root / "scenes" / "room" / "scene.json").read_text())
    gt_focal = load_cameras(root / "scenes" / "room", "ground_truth").intrinsics.fx
    (scene / "scene.json").write_text(json.dumps({**info, "focal_prior_px": 1.03 * gt_focal}))
    sfm = params.sfm.model_copy(update={"mapper": "global"})
    assert camera_prior(sfm, {**info, "focal_prior_px": 300.0}) == f"300,{info['width'] / 2:g},{info['height'] / 2:g},0"
    g = run_sfm(scene, sfm, seed=params.seed, undistort=False, progress=False)
    assert g["mapper"] == "global" and g["focal_prior_px"] == pytest.approx(1.03 * gt_focal)
    assert g["images_registered"] == 16 and g["rotation_error_median_deg"] <= 0.2
    assert g["focal_error_pct"] < 2.0  # refined away from the 3 % wrong prior
    # deterministic: mapping on one thread (and the global pipeline's matching); extraction stays threaded
    opts = {mapper: _options(params.sfm.model_copy(update={"mapper": mapper}), 0, 320, 240, info)
            for mapper in ("global", "incremental")}
    threads = {m: [o[i].num_threads for i in (1, 2, 4)] + [o[4].mapper.num_threads] for m, o in opts.items()}
    assert threads == {"global": [-1, 1, 1, 1], "incremental": [-1, -1, 1, 1]}


def test_a_video_scene_is_matched_sequentially_and_its_dropped_frames_reported(room, tmp_path):
    params, root, m = room
    assert m["matcher"] == "exhaustive" and not m["loop_detection"] and m["sift_max_num_features"] == 8192
    scene = tmp_path / "video"
    shutil.copytree(root / "scenes" / "room" / "images", scene / "images")
    info = json.loads((root / "scenes" / "room" / "scene.json").read_text())
    dropped = {"blurry": ["frame_00003"], "redundant": ["frame_00007", "frame_00011"]}
    (scene / "scene.json").write_text(json.dumps({**info, "kind": "video", "dropped_frames": dropped}))
    sfm = params.sfm.model_copy(update={"sequential_overlap": 4})
    v = run_sfm(scene, sfm, seed=params.seed, undistort=False, progress=False)
    assert v["matcher"] == "sequential" and v["loop_detection"] and v["images_registered"] == 16
    assert v["frames_dropped_blurry"] == 1 and v["frames_dropped_redundant"] == 2
    reg = json.loads((scene / "sparse" / "registration.json").read_text())
    assert reg["dropped_frames"] == dropped and not (scene / "sparse" / "vocab_tree.bin").exists()


def test_deterministic_mode_repeats_the_same_model(room, tmp_path):
    params, root, m = room
    scene = tmp_path / "copy"
    shutil.copytree(root / "scenes" / "room" / "images", scene / "images")
    again = run_sfm(scene, params.sfm, seed=params.seed, undistort=False)
    for key in ["num_points3d", "mean_reprojection_error_px", "mean_track_length"]:
        assert again[key] == m[key]
    poses = [_poses(s / "sparse" / "0") for s in (root / "scenes" / "room", scene)]
    assert poses[0].keys() == poses[1].keys() and len(poses[0]) == 16
    for name, pose in poses[0].items():
        np.testing.assert_array_equal(pose, poses[1][name])


def _poses(sparse):
    import pycolmap

    rec = pycolmap.Reconstruction(str(sparse))
    return {img.name: np.r_[img.cam_from_world().rotation.quat, img.cam_from_world().translation]
            for img in rec.images.values()}


def test_unrelated_image_is_reported_not_silently_dropped(room, tmp_path):
    params, root, _ = room
    scene = tmp_path / "mixed"
    shutil.copytree(root / "scenes" / "room" / "images", scene / "images")
    intruder = (photo("moon")[100:340, 50:370] * 255).astype(np.uint8)  # 320x240, not in the room
    Image.fromarray(intruder).save(scene / "images" / "zz_moon.png")
    m = run_sfm(scene, params.sfm, seed=params.seed, undistort=False)
    assert m["unregistered_images"] == ["zz_moon.png"] and m["images_registered"] == 16
    assert m["registered_fraction"] == pytest.approx(16 / 17)
    reg = json.loads((scene / "sparse" / "registration.json").read_text())
    assert reg["unregistered"] == ["zz_moon.png"] and reg["images_without_verified_pairs"] == ["zz_moon.png"]


def test_photos_without_overlap_fail_with_advice(tiny, tmp_path):
    params, _ = tiny
    (tmp_path / "s" / "images").mkdir(parents=True)
    for name in ["astronaut", "coffee", "rocket", "chelsea"]:
        Image.fromarray((photo(name)[:240, :320] * 255).astype(np.uint8)).save(tmp_path / "s" / "images" / f"{name}.png")
    with pytest.raises(ReconstructionError, match="overlap") as err:
        run_sfm(tmp_path / "s", params.sfm, undistort=False)
    assert "astronaut.png" in str(err.value)
    assert not (tmp_path / "s" / "sparse").exists()


@pytest.mark.parametrize("problem", ["two_images", "text_as_jpg", "corrupt_jpeg", "mixed_sizes", "no_images_dir"])
def test_bad_sfm_inputs_raise_one_clear_error(tiny, tmp_path, problem):
    params, _ = tiny
    images = tmp_path / "s" / "images"
    if problem != "no_images_dir":
        images.mkdir(parents=True)
        for i in range(2 if problem == "two_images" else 4):
            Image.fromarray((photo("astronaut")[i * 10:i * 10 + 60, :80] * 255).astype(np.uint8)).save(images / f"{i}.jpg")
    if problem == "text_as_jpg":
        (images / "readme.jpg").write_text("hello")
    if problem == "corrupt_jpeg":
        (images / "2.jpg").write_bytes((images / "2.jpg").read_bytes()[:300])
    if problem == "mixed_sizes":
        Image.fromarray(np.zeros((50, 70, 3), np.uint8)).save(images / "big.jpg")
    expected = {"two_images": (BadImagesError, "at least 3"), "text_as_jpg": (BadImagesError, "readme.jpg: not an image"),
                "corrupt_jpeg": (BadImagesError, "2.jpg: corrupt"), "mixed_sizes": (BadImagesError, "70x50: big.jpg"),
                "no_images_dir": (ObscuraError, "no images/ folder")}[problem]
    with pytest.raises(expected[0], match=expected[1]):
        run_sfm(tmp_path / "s", params.sfm, undistort=False)
    assert not (tmp_path / "s" / "sparse").exists()
