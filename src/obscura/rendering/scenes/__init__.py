"""Multi-view scenes: the directory format every reconstruction method reads, and the built-in scenes.

Scene directory (COLMAP / Inria-3DGS / gsplat layout)::

    <scene>/
      images/000.png ...          RGB, 8 bit, all the same size, sorted names = capture order
      scene.json                  how the scene was made + the train/test split (see below)
      ground_truth/               built-in scenes only
        sparse/                   COLMAP *text* model: cameras.txt (one PINHOLE camera, exact),
                                  images.txt (exact world-to-camera poses), points3D.txt
                                  (surface samples with colour, no tracks)
        transforms.json           NeRF/nerfstudio: OpenGL camera-to-world + fl_x, fl_y, cx, cy, w, h,
                                  train_filenames / test_filenames (paths relative to ground_truth/)
        depth/000.npy ...         float32 (H, W) camera-space z of the surface at each pixel centre,
                                  0 where the ray hits nothing (background)
        points3D.ply              the same surface samples as a coloured point cloud
      sparse/0/                   after `obscura sfm`: cameras.bin, images.bin, points3D.bin
                                  (+ rigs.bin, frames.bin of COLMAP 4); camera model from params
      sparse/points3D.ply         SfM points after statistical outlier removal
      sparse/registration.json    which images were/were not registered
      undistorted/                after `obscura sfm` (default): a scene of its own with PINHOLE
                                  cameras: images/ + sparse/0/ (what 3DGS-style renderers need);
                                  its images can be a few pixels smaller than images/ (crop)

Conventions: poses are world-to-camera ``T_cam_from_world`` with OpenCV camera axes (+x right,
+y down, +z forward), pixel centres at (i + 0.5); world +z is up in built-in scenes. Only
``transforms.json`` uses OpenGL camera axes (its ``transform_matrix`` = inv(T) @ diag(1, -1, -1, 1)).
Rendering is unlit (albedo), so colours are view-independent.

``scene.json`` keys: ``name``, ``kind``, ``source`` ("builtin" or the input path), ``width``,
``height``, ``num_images``, ``images`` (names in order), ``split`` = {``test_every``, ``train``,
``test``} with image *names* (index % test_every == 0 is test, as Inria/gsplat's llffhold),
and for built-in scenes ``intrinsics`` {fx, fy, cx, cy}, ``background`` RGB, ``bounds``
{min, max} of the geometry, ``center``, ``radius`` (of the cameras around ``center``),
``near``/``far`` (depth range over all views), ``objects`` (mesh name -> texture photo),
``supersample``, ``fov_x_deg``.

Readers: :func:`load_cameras` (pinhole intrinsics, poses, image paths and split from
``ground_truth``, ``undistorted`` or ``sparse``), :func:`load_split`, and
:mod:`obscura.rendering.cameras` (``read_colmap_model``, ``reconstruction_poses``,
``read_transforms_json``). SfM poses live in COLMAP's arbitrary similarity frame; compare them
to ground truth only through a Sim(3) alignment (``cameras.pose_errors``).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from obscura.errors import ObscuraError
from obscura.rendering.cameras import Intrinsics
from obscura.rendering.scenes.builtin import SCENES, SceneConfig


@dataclass(frozen=True)
class SceneCameras:
    """What a renderer needs: one pinhole camera, per-image world-to-camera poses, the split."""

    intrinsics: Intrinsics
    names: list[str]
    image_paths: list[Path]
    poses: np.ndarray          # (N, 4, 4) world-to-camera, OpenCV axes
    train: list[int]           # indices into names
    test: list[int]
    source: str                # "ground_truth", "undistorted" or "sparse"


def load_cameras(scene_dir: str | os.PathLike, source: str = "auto") -> SceneCameras:
    """Cameras of a scene from ``ground_truth/sparse``, ``undistorted/sparse/0`` or ``sparse/0``.

    ``auto`` prefers the SfM result that renderers can use directly (``undistorted``, then a
    pinhole ``sparse``), then ground truth. Only registered images are returned; the split keeps
    the scene's assignment of each image. Raises if the camera is not a pinhole model.
    """
    from obscura.rendering.cameras import read_colmap_model, reconstruction_poses

    scene_dir = Path(scene_dir)
    models = {"ground_truth": scene_dir / "ground_truth" / "sparse",
              "undistorted": scene_dir / "undistorted" / "sparse" / "0", "sparse": scene_dir / "sparse" / "0"}
    order = ["undistorted", "sparse", "ground_truth"] if source == "auto" else [source]
    if source not in models and source != "auto":
        raise ObscuraError(f"unknown camera source {source!r}; use auto, {', '.join(models)}.")
    found = [s for s in order if (models[s] / "images.bin").is_file() or (models[s] / "images.txt").is_file()]
    if not found:
        raise ObscuraError(f"{scene_dir}: no camera model ({' / '.join(str(models[s]) for s in order)}). "
                           "Run `obscura sfm SCENE_DIR` (or `obscura scene make`) first.")
    rec = read_colmap_model(models[found[0]])
    cams = {c.model_name for c in rec.cameras.values()}
    if len(rec.cameras) != 1 or not cams <= {"PINHOLE", "SIMPLE_PINHOLE"}:
        raise ObscuraError(f"{models[found[0]]}: expected one PINHOLE camera, found {sorted(cams)} "
                           f"({len(rec.cameras)} cameras). Use the undistorted model (`obscura sfm` writes it).")
    cam = next(iter(rec.cameras.values()))
    fx, fy, cx, cy = (cam.params if cam.model_name == "PINHOLE" else
                      (cam.params[0], cam.params[0], cam.params[1], cam.params[2]))
    poses = reconstruction_poses(rec)
    names = sorted(poses)
    split = load_split(scene_dir)
    image_dir = scene_dir / "undistorted" / "images" if found[0] == "undistorted" else scene_dir / "images"
    test = set(split["test"])
    return SceneCameras(Intrinsics(float(fx), float(fy), float(cx), float(cy), cam.width, cam.height), names,
                        [image_dir / n for n in names], np.stack([poses[n] for n in names]),
                        [i for i, n in enumerate(names) if n not in test],
                        [i for i, n in enumerate(names) if n in test], found[0])


def split_names(names: list[str], test_every: int) -> dict:
    """Inria/gsplat hold-out: image ``i`` is a test image when ``i % test_every == 0``."""
    return {"test_every": test_every,
            "train": [n for i, n in enumerate(names) if i % test_every],
            "test": [n for i, n in enumerate(names) if i % test_every == 0]}


def load_split(scene_dir: str | os.PathLike) -> dict:
    """The ``split`` of a scene (``{"test_every", "train", "test"}``, image names)."""
    path = Path(scene_dir) / "scene.json"
    if not path.is_file():
        raise ObscuraError(f"{path}: missing; build the scene with `obscura scene make` or `obscura scene ingest`.")
    return json.loads(path.read_text())["split"]


def build_scene(name: str, num_views: int, width: int, height: int, fov_x_deg: float | None = None) -> SceneConfig:
    """The registered built-in scene ``name`` configured for this camera set."""
    if name not in SCENES:
        raise ObscuraError(f"unknown built-in scene {name!r}; available: {sorted(SCENES)}.")
    kwargs = {"num_views": num_views, "width": width, "height": height}
    if fov_x_deg is not None:
        kwargs["fov_x_deg"] = fov_x_deg
    return SCENES[name](**kwargs)


def make_scene(name: str, scene: SceneConfig, out_dir: str | os.PathLike, supersample: int = 2,
               test_every: int = 8, gt_points: int = 20000, seed: int = 0, num_threads: int = 0,
               progress: bool = True, on_view=None) -> dict:
    """Render ``scene`` into ``out_dir`` (written atomically); returns summary metrics.

    ``on_view(index, metrics)`` is called after each rendered view (e.g. to log to MLflow).
    """
    from tqdm import tqdm

    from obscura.io import atomic_dir, save_image, write_json
    from obscura.rendering.cameras import camera_centers, write_colmap_model, write_ply, write_transforms_json
    from obscura.rendering.scenes.render import MeshRenderer

    intr = scene.intrinsics()
    poses = scene.poses()
    meshes = scene.meshes()
    renderer = MeshRenderer(meshes, scene.background, num_threads=num_threads)
    digits = max(3, len(str(len(poses) - 1)))
    names = [f"{i:0{digits}d}.png" for i in range(len(poses))]
    split = split_names(names, test_every)
    near, far, seconds = np.inf, 0.0, 0.0
    with atomic_dir(out_dir) as tmp:
        (tmp / "images").mkdir()
        (tmp / "ground_truth" / "depth").mkdir(parents=True)
        for i, (n, T) in enumerate(tqdm(list(zip(names, poses)), desc=f"render {name}", disable=not progress)):
            t0 = time.perf_counter()
            rgb, depth = renderer.render(intr, T, supersample)
            seconds += time.perf_counter() - t0
            save_image(tmp / "images" / n, rgb)
            np.save(tmp / "ground_truth" / "depth" / f"{Path(n).stem}.npy", depth)
            valid = depth[depth > 0]
            if valid.size:
                near, far = min(near, float(valid.min())), max(far, float(valid.max()))
            if on_view is not None:
                on_view(i, {"render_seconds": time.perf_counter() - t0, "coverage": valid.size / depth.size})
        rng = np.random.default_rng(seed)
        points, colors = renderer.sample_surface(gt_points, rng) if gt_points else (np.zeros((0, 3)), None)
        write_colmap_model(tmp / "ground_truth" / "sparse", intr, poses, names, points, colors)
        write_transforms_json(tmp / "ground_truth" / "transforms.json", intr, poses, names,
                              test_names=split["test"], extra={"aabb_scale": 16})
        if gt_points:
            write_ply(tmp / "ground_truth" / "points3D.ply", points, colors)
        lo, hi = renderer.bounds()
        centers = camera_centers(poses)
        target = np.asarray(getattr(scene, "target", (lo + hi) / 2), np.float64)
        write_json(tmp / "scene.json", {
            "name": name, "kind": scene.kind, "source": "builtin",
            "width": intr.width, "height": intr.height, "num_images": len(names), "images": names,
            "split": split, "fov_x_deg": scene.fov_x_deg, "supersample": supersample, "seed": seed,
            "intrinsics": {"fx": intr.fx, "fy": intr.fy, "cx": intr.cx, "cy": intr.cy},
            "background": list(scene.background),
            "bounds": {"min": lo.tolist(), "max": hi.tolist()}, "center": target.tolist(),
            "radius": float(np.linalg.norm(centers - target, axis=1).max()),
            "near": near, "far": far,
            "objects": {m.name: m.source for m in meshes},
        })
    return {"num_images": len(names), "render_seconds_per_image": seconds / len(names),
            "near": near, "far": far}






def create_scene(name: str, cfg, out_dir: str | os.PathLike | None = None, seed: int = 0,
                 progress: bool = True, on_view=None) -> dict:
    """Build scene ``name`` from params (``cfg``: ``ScenesParams``) into ``out_dir`` (default ``cfg.output/name``).

    Names under ``cfg.builtin`` are rendered; names under ``cfg.photos`` are ingested from their folder/video.
    """
    from obscura.rendering.ingest import ingest

    out_dir = Path(out_dir) if out_dir is not None else cfg.output / name
    if name in cfg.photos:
        return ingest(cfg.photos[name], out_dir, max_size=cfg.ingest.max_size, video_fps=cfg.ingest.video_fps,
                      test_every=cfg.test_every, name=name, progress=progress)
    if name not in cfg.builtin:
        raise ObscuraError(f"scene {name!r} is neither under scenes.builtin ({', '.join(cfg.builtin) or 'none'}) "
                           f"nor scenes.photos ({', '.join(cfg.photos) or 'none'}) in params.yaml; built-in "
                           f"scenes available: {sorted(SCENES)}.")
    spec = cfg.builtin[name]
    scene = build_scene(name, spec.num_views, cfg.width, cfg.height, spec.fov_x_deg)
    return make_scene(name, scene, out_dir, supersample=cfg.supersample, test_every=cfg.test_every,
                      gt_points=cfg.gt_points, seed=seed, progress=progress, on_view=on_view)

__all__ = ["SCENES", "SceneCameras", "SceneConfig", "build_scene", "create_scene", "load_cameras", "load_split",
           "make_scene", "split_names"]
