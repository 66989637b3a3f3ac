"""Structure-from-motion with COLMAP (pycolmap >= 4): SIFT -> matching -> incremental or global mapping.

Input-dependent settings are chosen from the images unless params.yaml sets them: the SIFT first octave,
feature count and peak threshold from the image size (:func:`first_octave`, :func:`max_num_features`,
:func:`peak_threshold`), the matcher from
the image count and whether the images are a video (:func:`choose_matcher`).

``run_sfm(scene_dir, params)`` reads ``<scene>/images`` and writes (atomically):

* ``<scene>/sparse/0/{cameras,images,points3D}.bin`` — the largest reconstructed model;
* ``<scene>/sparse/points3D.ply`` — its points after statistical outlier removal (open3d);
* ``<scene>/sparse/registration.json`` — registered and unregistered image names, per-phase times, and the
  video frames ingest dropped as blurry or redundant;
* ``<scene>/undistorted/{images,sparse/0}`` — optional PINHOLE copy for renderers that need it.

It returns flat metrics; built-in scenes (with ``ground_truth/``) also get pose accuracy after a
Sim(3) alignment of camera centres and the focal-length error.
"""

from __future__ import annotations

import math
import os
import shutil
import time
from pathlib import Path

import numpy as np

from obscura.errors import ObscuraError
from obscura.rendering.params import SfmParams


class ReconstructionError(ObscuraError):
    """COLMAP could not reconstruct the scene from these images."""


# SIFT starts one octave up (first_octave -1: upsampled 2x) on images of up to this many pixels (after
# max_image_size): between the bench's 900x1200 portrait (1.08 MP: -1 beats plain COLMAP, 0 does not) and its
# 1600x1200 room (1.92 MP: 0 beats it in half its time)
AUTO_OCTAVE_MAX_PIXELS = 1.2e6
# auto feature count: at octave -1 COLMAP's 8192 (upsampled SIFT already finds ~4x the keypoints; on the 1.08 MP
# portrait 12288 / 16384 kept cost 1.4x / 1.5x the time for no better poses); from octave 0 on one kept feature
# per this many pixels SIFT sees (the densest generated scenes detect one per 190-280 px), rounded up to a
# multiple of 1024, within AUTO_FEATURES (matching time grows with the square of the count)
AUTO_PX_PER_FEATURE = 200
AUTO_FEATURES = (8192, 16384)
# auto SIFT peak threshold: COLMAP's 0.02 / octave_resolution where SIFT upsamples first (octave -1); lower from
# octave 0 on, where the coarser first octave otherwise loses the weak keypoints that upsampling would find
AUTO_PEAK_THRESHOLD = {-1: 0.02 / 3, 0: 0.004}
REFINE_MIN_TRI_ANGLE_DEG = 1.5  # the final refinement also drops points seen under less (COLMAP's mapper filter)
# with the final refinement on, the incremental mapper's own refinement is lighter: a global BA only after the
# model grew by 30 % (COLMAP: 10 %) and one local-BA refinement round (COLMAP: 2) -- ~30 % less mapping time at
# the same accuracy on the bench's scenes
LIGHT_GLOBAL_BA_RATIO = 1.3
LIGHT_LOCAL_BA_REFINEMENTS = 1


def first_octave(params: SfmParams, width: int, height: int) -> int:
    """The SIFT first octave for images of this size: the params value, or with ``auto`` -1 (upsample first)
    when the image SIFT gets (after ``max_image_size``) has at most ``AUTO_OCTAVE_MAX_PIXELS`` pixels — small
    images otherwise yield too few features for accurate poses (0.23° vs 0.063° median rotation error at
    400x300) — else 0."""
    if params.first_octave != "auto":
        return params.first_octave
    return -1 if input_pixels(params, width, height) <= AUTO_OCTAVE_MAX_PIXELS else 0


def input_pixels(params: SfmParams, width: int, height: int) -> float:
    """Pixels of the image SIFT gets: downscaled so its long side is at most ``max_image_size``."""
    scale = min(1.0, params.max_image_size / max(width, height))
    return width * height * scale * scale


def sift_pixels(params: SfmParams, width: int, height: int) -> float:
    """Pixels of the image SIFT's first octave works on: downscaled to ``max_image_size``, doubled per
    octave below 0 (first_octave -1 upsamples 2x along each axis)."""
    return input_pixels(params, width, height) * 4.0 ** -first_octave(params, width, height)


def max_num_features(params: SfmParams, width: int, height: int) -> int:
    """SIFT features kept per image: the params value, or with ``auto`` COLMAP's 8192 where SIFT upsamples first
    (octave -1), else one per ``AUTO_PX_PER_FEATURE`` pixels SIFT sees, rounded up to 1024 and clipped to
    ``AUTO_FEATURES`` (1600x1200 at octave 0: 10240)."""
    if params.max_num_features != "auto":
        return params.max_num_features
    lo, hi = AUTO_FEATURES
    if first_octave(params, width, height) < 0:
        return lo
    return int(min(max(1024 * math.ceil(sift_pixels(params, width, height) / AUTO_PX_PER_FEATURE / 1024), lo), hi))


def peak_threshold(params: SfmParams, width: int, height: int) -> float:
    """SIFT's DoG peak threshold: the params value, or with ``auto`` ``AUTO_PEAK_THRESHOLD`` for the first octave
    (measured on the bench's 900-1600 px scenes at octave 0: 0.004 halves the gap to upsampled SIFT for ~5 % more
    time; at octave -1 it did not help every scene, so COLMAP's default stays)."""
    if params.peak_threshold != "auto":
        return params.peak_threshold
    return AUTO_PEAK_THRESHOLD[min(first_octave(params, width, height), 0)]


def choose_matcher(params: SfmParams, num_images: int, video: bool) -> str:
    """The params matcher, or with ``auto``: ``sequential`` for video frames (neighbours in time overlap;
    loops are found by retrieval), ``exhaustive`` up to ``exhaustive_max_images`` photos (every pair, the
    most complete), else ``vocab_tree`` (each photo matched with its most similar ones, any order)."""
    if params.matcher != "auto":
        return params.matcher
    if video:
        return "sequential"
    return "exhaustive" if num_images <= params.exhaustive_max_images else "vocab_tree"


def camera_prior(params: SfmParams, scene: dict) -> str:
    """COLMAP ``camera_params`` from the focal length the photos' EXIF gave at ingest (``focal_prior_px`` in
    scene.json; principal point at the centre, no distortion), or "" (COLMAP's default guess)."""
    focal = scene.get("focal_prior_px")
    if not focal:
        return ""
    cx, cy = scene["width"] / 2, scene["height"] / 2
    layout = {"SIMPLE_PINHOLE": (focal, cx, cy), "PINHOLE": (focal, focal, cx, cy),
              "SIMPLE_RADIAL": (focal, cx, cy, 0.0), "RADIAL": (focal, cx, cy, 0.0, 0.0),
              "OPENCV": (focal, focal, cx, cy, 0.0, 0.0, 0.0, 0.0)}[params.camera_model]
    return ",".join(f"{v:g}" for v in layout)


def _options(params: SfmParams, seed: int, width: int, height: int, scene: dict):
    import pycolmap

    # Deterministic = one thread where threads change the result: the mappers' threaded solvers differ in the
    # last bits, and the global mapper also reads threaded matching's output in another order.
    threads = params.num_threads
    one = 1 if params.deterministic else threads
    reader = pycolmap.ImageReaderOptions(camera_model=params.camera_model, camera_params=camera_prior(params, scene))
    extraction = pycolmap.FeatureExtractionOptions(num_threads=threads, max_image_size=params.max_image_size,
                                                   use_gpu=False)
    extraction.sift.max_num_features = max_num_features(params, width, height)
    extraction.sift.first_octave = first_octave(params, width, height)
    extraction.sift.peak_threshold = peak_threshold(params, width, height)
    matching = pycolmap.FeatureMatchingOptions(num_threads=one if params.mapper == "global" else threads,
                                               use_gpu=False)
    verification = pycolmap.TwoViewGeometryOptions(min_num_inliers=params.min_num_matches)
    # Always seeded (params seed).
    verification.ransac.random_seed = seed
    if params.mapper == "global":
        mapping = pycolmap.GlobalPipelineOptions(num_threads=one, min_num_matches=params.min_num_matches,
                                                 random_seed=seed)
        mapping.mapper.num_threads = one
        mapping.mapper.random_seed = seed
        mapping.mapper.rotation_averaging.random_seed = seed
        mapping.mapper.global_positioning.random_seed = seed
        mapping.mapper.global_positioning.use_gpu = False
    else:
        mapping = pycolmap.IncrementalPipelineOptions(num_threads=one, min_num_matches=params.min_num_matches,
                                                      random_seed=seed)
        mapping.mapper.num_threads = one
        mapping.mapper.random_seed = seed
        mapping.triangulation.random_seed = seed
        if params.refine_reproj_factor:
            mapping.ba_global_frames_ratio = mapping.ba_global_points_ratio = LIGHT_GLOBAL_BA_RATIO
            mapping.ba_local_max_refinements = LIGHT_LOCAL_BA_REFINEMENTS
    return reader, extraction, matching, verification, mapping


def refine_model(rec, factor: float, num_threads: int = -1) -> dict:
    """Final refinement of a mapped model, in place: every observation reprojecting more than ``factor`` x the
    model's mean reprojection error is dropped (points left with fewer than two observations or seen under less
    than ``REFINE_MIN_TRI_ANGLE_DEG`` go with them), then one global bundle adjustment (poses, points, focal
    length and distortion; principal point fixed) runs to convergence. COLMAP's mapper keeps observations up to
    4 px, which on sharp images holds mismatches that pull the poses; the threshold relative to the mean error
    adapts to how sharp the images are. Returns what it did."""
    import pycolmap

    rec.update_point_3d_errors()
    before = rec.compute_mean_reprojection_error()
    removed = pycolmap.ObservationManager(rec).filter_all_points3D(factor * before, REFINE_MIN_TRI_ANGLE_DEG)
    options = pycolmap.BundleAdjustmentOptions()
    options.print_summary = False
    solver = options.ceres.solver_options
    solver.function_tolerance = solver.gradient_tolerance = solver.parameter_tolerance = 1e-10
    solver.max_num_iterations = 300
    solver.num_threads = num_threads
    pycolmap.bundle_adjustment(rec, options)
    return {"refine_reproj_threshold_px": factor * before, "refine_observations_removed": removed,
            "mean_reprojection_error_mapped_px": before}


def verified_pairs(database_path: str | os.PathLike) -> tuple[list[str], list[tuple[str, str]]]:
    """The database's image names and its geometrically verified image pairs (names, each pair sorted)."""
    import pycolmap

    db = pycolmap.Database.open(str(database_path))
    try:
        names = {img.image_id: img.name for img in db.read_all_images()}
        pair_ids, geometries = db.read_two_view_geometries()
    finally:
        db.close()
    pairs = [tuple(sorted(names[i] for i in pycolmap.pair_id_to_image_pair(pid)))
             for pid, geom in zip(pair_ids, geometries) if len(geom.inlier_matches) > 0]
    return sorted(names.values()), sorted(pairs)


def match_images(database_path: Path, params: SfmParams, matcher: str, matching, verification,
                 seed: int = 0) -> dict:
    """Match the database's features with ``matcher``; sequential (with ``loop_detection``) and vocab_tree
    matching first build a vocabulary tree from the database's own features (next to the database, removed
    after). Returns what was done: ``matcher``, ``loop_detection`` and the tree's size."""
    import pycolmap

    from obscura.rendering.retrieval import build_vocab_tree

    info = {"matcher": matcher, "loop_detection": matcher == "sequential" and params.loop_detection}
    if matcher == "exhaustive":
        pycolmap.match_exhaustive(database_path, matching_options=matching, verification_options=verification,
                                  device=pycolmap.Device.cpu)
        return info
    tree = database_path.with_name("vocab_tree.bin")
    try:
        if matcher == "vocab_tree" or info["loop_detection"]:
            info.update(build_vocab_tree(database_path, tree, seed=seed, num_threads=matching.num_threads))
        if matcher == "sequential":
            pairing = pycolmap.SequentialPairingOptions(overlap=params.sequential_overlap,
                                                        num_threads=matching.num_threads)
            if info["loop_detection"]:
                pairing.loop_detection = True
                pairing.vocab_tree_path = str(tree)
            pycolmap.match_sequential(database_path, matching_options=matching, pairing_options=pairing,
                                      verification_options=verification, device=pycolmap.Device.cpu)
        else:
            pairing = pycolmap.VocabTreePairingOptions(vocab_tree_path=str(tree), num_threads=matching.num_threads)
            pycolmap.match_vocabtree(database_path, matching_options=matching, pairing_options=pairing,
                                     verification_options=verification, device=pycolmap.Device.cpu)
    finally:
        tree.unlink(missing_ok=True)
    return info


def run_sfm(scene_dir: str | os.PathLike, params: SfmParams, seed: int = 0, undistort: bool = True,
            log_fn=None, verbose: bool = False, progress: bool = True) -> dict:
    """Reconstruct ``scene_dir``; returns flat metrics (also written to sparse/registration.json).

    ``log_fn(metrics_dict)`` receives each phase's timing as it finishes; COLMAP's own log is shown
    with ``verbose`` (errors only otherwise).
    """
    import pycolmap
    from tqdm import tqdm

    pycolmap.logging.minloglevel = pycolmap.logging.INFO if verbose else pycolmap.logging.ERROR

    from obscura.io import atomic_dir, write_json
    from obscura.rendering.cameras import write_ply
    from obscura.rendering.ingest import check_images

    scene_dir = Path(scene_dir)
    image_dir = scene_dir / "images"
    if not image_dir.is_dir():
        raise ObscuraError(f"{scene_dir}: no images/ folder. Create the scene with `obscura scene ingest` "
                           "or `obscura scene make` first.")
    paths = sorted(p for p in image_dir.iterdir() if p.is_file() and not p.name.startswith("."))
    width, height = check_images(paths, what=f"images in {image_dir}")
    names = [p.name for p in paths]
    if params.deterministic:
        pycolmap.set_random_seed(seed)
    from obscura.rendering.scene_format import read_scene_json

    scene = read_scene_json(scene_dir) if (scene_dir / "scene.json").is_file() else {"width": width, "height": height}
    reader, extraction, matching, verification, mapping = _options(params, seed, width, height, scene)
    dropped = scene.get("dropped_frames", {})  # video frames ingest left out (blurry / redundant)
    timings: dict[str, float] = {}
    bar = tqdm(total=4 + undistort, desc=f"sfm {scene_dir.name}", unit="phase", disable=not progress)

    def phase(name: str, t0: float) -> None:
        timings[f"time_{name}_s"] = time.perf_counter() - t0
        bar.set_postfix_str(f"{name} {timings[f'time_{name}_s']:.1f}s")
        bar.update()
        if log_fn is not None:
            log_fn({f"time_{name}_s": timings[f"time_{name}_s"]})

    with atomic_dir(scene_dir / "sparse") as out:
        db = out / "database.db"
        t0 = time.perf_counter()
        mode = pycolmap.CameraMode.SINGLE if params.single_camera else pycolmap.CameraMode.AUTO
        # Images enter the database in name order first: threaded extraction would number them in the order
        # their features finish, and the image ids order everything after.
        pycolmap.Database.open(str(db)).close()
        pycolmap.import_images(db, image_dir, camera_mode=mode, image_names=names, options=reader)
        pycolmap.extract_features(db, image_dir, image_names=names, camera_mode=mode, reader_options=reader,
                                  extraction_options=extraction, device=pycolmap.Device.cpu)
        phase("features", t0)
        t0 = time.perf_counter()
        matched = match_images(db, params, choose_matcher(params, len(names), scene.get("kind") == "video"),
                               matching, verification, seed=seed)
        phase("matching", t0)
        paired = {n for pair in verified_pairs(db)[1] for n in pair}
        isolated = [n for n in names if n not in paired]
        if len(isolated) == len(names):
            raise ReconstructionError(
                f"{image_dir}: no two images share enough matching features (>= {params.min_num_matches} "
                f"verified matches): {', '.join(names[:12])}{' ...' if len(names) > 12 else ''}. "
                "The photos must show the same scene with large overlap (~60%+ between neighbours); "
                "retake them moving a little between shots, with textured, static content.")
        t0 = time.perf_counter()
        models_dir = out / "models"
        models_dir.mkdir()
        mapper = pycolmap.global_mapping if params.mapper == "global" else pycolmap.incremental_mapping
        models = mapper(db, image_dir, models_dir, options=mapping)
        if not models:
            raise ReconstructionError(
                f"{image_dir}: COLMAP found matches but could not initialise a model (images with no "
                f"verified partner: {', '.join(isolated) or 'none'}). Add photos with more overlap and "
                "parallax (move the camera, do not only rotate it).")
        rec = max(models.values(), key=lambda r: (r.num_reg_images(), r.num_points3D()))
        shutil.rmtree(models_dir)
        refined = {}
        if params.refine_reproj_factor:
            refined = refine_model(rec, params.refine_reproj_factor, mapping.num_threads)
        phase("mapping", t0)
        (out / "0").mkdir()
        rec.write_binary(str(out / "0"))
        registered = sorted(rec.image(i).name for i in rec.reg_image_ids())
        unregistered = [n for n in names if n not in set(registered)]
        t0 = time.perf_counter()
        xyz, rgb = _filtered_points(rec, params)
        write_ply(out / "points3D.ply", xyz, rgb)
        phase("pointcloud", t0)
        metrics = {
            "images_total": len(names), "images_registered": len(registered),
            "registered_fraction": len(registered) / len(names),
            "num_models": len(models), "num_points3d": rec.num_points3D(),
            "num_points3d_filtered": len(xyz),
            "mean_reprojection_error_px": rec.compute_mean_reprojection_error(),
            "mean_track_length": rec.compute_mean_track_length(),
            "mean_observations_per_image": rec.compute_mean_observations_per_reg_image(),
            "width": width, "height": height, "mapper": params.mapper, **matched,
            "sift_first_octave": extraction.sift.first_octave,
            "sift_max_num_features": extraction.sift.max_num_features,
            "sift_peak_threshold": extraction.sift.peak_threshold,
            "focal_prior_px": float(scene.get("focal_prior_px") or 0.0), **refined,
            **{f"frames_dropped_{why}": len(frames) for why, frames in dropped.items()},
        }
        gt_dir = scene_dir / "ground_truth" / "sparse"
        if gt_dir.is_dir():
            metrics.update(ground_truth_errors(rec, gt_dir))
        db.unlink()
        write_json(out / "registration.json", {"registered": registered, "unregistered": unregistered,
                                               "images_without_verified_pairs": isolated,
                                               "dropped_frames": dropped,
                                               "camera_model": params.camera_model, **metrics, **timings})
    if undistort:
        t0 = time.perf_counter()
        undistort_scene(scene_dir)
        phase("undistort", t0)
    else:  # an older undistorted copy would no longer match sparse/0
        shutil.rmtree(scene_dir / "undistorted", ignore_errors=True)
    bar.close()
    metrics.update(timings)
    metrics["time_total_s"] = sum(timings.values())
    metrics["seconds_per_image"] = metrics["time_total_s"] / len(names)
    metrics["unregistered_images"] = unregistered
    return metrics


def ground_truth_errors(rec, gt_dir: Path) -> dict[str, float]:
    """Pose errors of the registered images after Sim(3) alignment, and focal-length error in %."""
    from obscura.rendering.cameras import pose_errors, read_colmap_model, reconstruction_poses

    gt = read_colmap_model(gt_dir)
    gt_poses = reconstruction_poses(gt)
    est_poses = reconstruction_poses(rec)
    common = sorted(set(gt_poses) & set(est_poses))
    out = {}
    if len(common) >= 3:
        out = pose_errors(np.stack([est_poses[n] for n in common]), np.stack([gt_poses[n] for n in common]))
    f_gt = np.mean([c.mean_focal_length() for c in gt.cameras.values()])
    used = {rec.image(i).camera_id for i in rec.reg_image_ids()}
    f_est = np.mean([rec.camera(c).mean_focal_length() for c in used])
    out["focal_error_pct"] = float(abs(f_est - f_gt) / f_gt * 100)
    return out


def _filtered_points(rec, params: SfmParams) -> tuple[np.ndarray, np.ndarray]:
    import open3d as o3d

    pts = list(rec.points3D.values())
    xyz = np.array([p.xyz for p in pts], np.float64).reshape(-1, 3)
    rgb = np.array([p.color for p in pts], np.float64).reshape(-1, 3) / 255.0
    if len(xyz) <= params.outlier_neighbors:
        return xyz, rgb
    pcd = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(xyz))
    _, keep = pcd.remove_statistical_outlier(nb_neighbors=params.outlier_neighbors, std_ratio=params.outlier_std)
    keep = np.asarray(keep, np.int64)
    return xyz[keep], rgb[keep]


def undistort_scene(scene_dir: str | os.PathLike) -> Path:
    """Write ``<scene>/undistorted`` (images + ``sparse/0``) with PINHOLE cameras from ``<scene>/sparse/0``."""
    import pycolmap

    from obscura.io import atomic_dir

    scene_dir = Path(scene_dir)
    with atomic_dir(scene_dir / "undistorted") as out:
        pycolmap.undistort_images(out, scene_dir / "sparse" / "0", scene_dir / "images", output_type="COLMAP")
        (out / "sparse").rename(out / "model")   # COLMAP writes sparse/*.bin; the scene layout is sparse/0/
        (out / "sparse").mkdir()
        (out / "model").rename(out / "sparse" / "0")
        for extra in ("stereo", "run-colmap-geometric.sh", "run-colmap-photometric.sh"):
            p = out / extra
            if p.is_dir():
                shutil.rmtree(p)
            elif p.exists():
                p.unlink()
    return scene_dir / "undistorted"


def preview(scene_dir: str | os.PathLike, path: str | os.PathLike, max_points: int = 20000, seed: int = 0) -> Path:
    """PNG of the filtered SfM points and the camera centres/axes (matplotlib, two views)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import open3d as o3d

    from obscura.io import atomic_path
    from obscura.rendering.cameras import camera_centers, read_colmap_model, reconstruction_poses

    scene_dir = Path(scene_dir)
    pcd = o3d.io.read_point_cloud(str(scene_dir / "sparse" / "points3D.ply"))
    xyz, rgb = np.asarray(pcd.points), np.asarray(pcd.colors)
    total = len(xyz)
    if len(xyz) > max_points:
        pick = np.random.default_rng(seed).choice(len(xyz), max_points, replace=False)
        xyz, rgb = xyz[pick], rgb[pick]
    poses = np.stack(list(reconstruction_poses(read_colmap_model(scene_dir / "sparse" / "0")).values()))
    centers, forward = camera_centers(poses), poses[:, 2, :3]
    # express everything in a frame whose +z is the cameras' mean "up" (-y image axis), centred on the points
    up = -poses[:, 1, :3].mean(0)
    up /= np.linalg.norm(up)
    x = np.cross(up, [1.0, 0, 0] if abs(up[0]) < 0.9 else [0, 1.0, 0])
    x /= np.linalg.norm(x)
    frame = np.stack([x, np.cross(up, x), up])
    origin = np.median(xyz, 0) if len(xyz) else centers.mean(0)
    xyz, centers, forward = (xyz - origin) @ frame.T, (centers - origin) @ frame.T, forward @ frame.T
    both = np.concatenate([xyz, centers])
    lo, hi = np.percentile(both, 1, axis=0), np.percentile(both, 99, axis=0)
    lo, hi = np.minimum(lo, centers.min(0)), np.maximum(hi, centers.max(0))
    keep = np.all((xyz >= lo) & (xyz <= hi), axis=1)
    xyz, rgb = xyz[keep], rgb[keep]
    scale = 0.06 * np.linalg.norm(hi - lo)
    fig = plt.figure(figsize=(10, 5), dpi=100)
    for k, (elev, azim) in enumerate([(25, -60), (89, -90)]):
        ax = fig.add_subplot(1, 2, k + 1, projection="3d")
        ax.scatter(*xyz.T, c=np.clip(rgb, 0, 1), s=0.5, depthshade=False)
        ax.scatter(*centers.T, c="red", s=8)
        ax.quiver(*centers.T, *(forward * scale).T, color="red", linewidth=0.6)
        ax.set_xlim(lo[0], hi[0]), ax.set_ylim(lo[1], hi[1]), ax.set_zlim(lo[2], hi[2])
        ax.set_box_aspect(hi - lo)
        ax.view_init(elev=elev, azim=azim)
        ax.set_axis_off()
    shown = "" if int(keep.sum()) == total else f" ({int(keep.sum()):,} inside the plotted range)"
    fig.suptitle(f"{len(centers)} cameras, {total:,} points{shown}")
    fig.tight_layout(rect=(0, 0, 1, 0.94))
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return Path(path)
