"""The scene directory: the format every reconstruction method reads, its one writer and its reader.

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

Writer: :func:`write_scene_json` (the built-in generator and ``ingest`` both use it). Readers:
:func:`load_cameras` (pinhole intrinsics, poses, image paths, split and points from
``ground_truth``, ``undistorted`` or ``sparse``), :func:`load_split`, :func:`read_scene_json`, and
:mod:`obscura.rendering.cameras` (``read_colmap_model``, ``reconstruction_poses``,
``read_transforms_json``). SfM poses live in COLMAP's arbitrary similarity frame; compare them
to ground truth only through a Sim(3) alignment (``cameras.pose_errors``).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from obscura.errors import ObscuraError
from obscura.rendering.cameras import Intrinsics

SOURCES = ("ground_truth", "undistorted", "sparse")
SFM_HINT = "run `obscura sfm SCENE_DIR` (or `dvc repro sfm@<scene>`) first"


@dataclass(frozen=True)
class SceneCameras:
    """What a renderer needs: one pinhole camera, per-image world-to-camera poses, the split, the
    model's 3D points (SfM points, or surface samples for ground truth) and the scene's facts."""

    intrinsics: Intrinsics
    names: list[str]
    image_paths: list[Path]
    poses: np.ndarray          # (N, 4, 4) world-to-camera, OpenCV axes
    train: list[int]           # indices into names
    test: list[int]
    source: str                # "ground_truth", "undistorted" or "sparse"
    points: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))   # (M, 3) world
    colors: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))   # (M, 3) in [0, 1]
    info: dict = field(default_factory=dict)                               # scene.json

    def load_images(self, indices: list[int] | None = None) -> np.ndarray:
        """(n, H, W, 3) float32 RGB in [0, 1] of the given images (default: all)."""
        from obscura.io import load_image

        indices = range(len(self.names)) if indices is None else indices
        images = np.stack([load_image(self.image_paths[i]) for i in indices]).astype(np.float32)
        if images.shape[1:3] != (self.intrinsics.height, self.intrinsics.width):
            raise ObscuraError(f"{self.image_paths[0].parent}: images are {images.shape[2]}x{images.shape[1]} but "
                               f"the camera is {self.intrinsics.width}x{self.intrinsics.height}; {SFM_HINT}.")
        return images

    @property
    def background(self) -> tuple[float, float, float] | None:
        """The built-in scene's background colour (None for captured scenes)."""
        bg = self.info.get("background")
        return tuple(bg) if bg is not None else None


def load_cameras(scene_dir: str | os.PathLike, source: str = "auto") -> SceneCameras:
    """Cameras of a scene from ``ground_truth/sparse``, ``undistorted/sparse/0`` or ``sparse/0``.

    ``auto`` prefers the SfM result that renderers can use directly (``undistorted``, then a
    pinhole ``sparse``), then ground truth; ``sfm`` is ``auto`` without the ground truth. Only registered images are returned; the split keeps
    the scene's assignment of each image. Raises if the camera is not a pinhole model.
    """
    from obscura.rendering.cameras import read_colmap_model, reconstruction_poses

    scene_dir = Path(scene_dir)
    models = {"ground_truth": scene_dir / "ground_truth" / "sparse",
              "undistorted": scene_dir / "undistorted" / "sparse" / "0", "sparse": scene_dir / "sparse" / "0"}
    order = {"auto": ["undistorted", "sparse", "ground_truth"], "sfm": ["undistorted", "sparse"]}.get(source, [source])
    if source not in models and source not in ("auto", "sfm"):
        raise ObscuraError(f"unknown camera source {source!r}; use auto, sfm, {', '.join(models)}.")
    found = [s for s in order if (models[s] / "images.bin").is_file() or (models[s] / "images.txt").is_file()]
    if not found:
        raise ObscuraError(f"{scene_dir}: no camera model ({' / '.join(str(models[s]) for s in order)}); "
                           f"{SFM_HINT} (a built-in scene from `obscura scene make` has ground truth).")
    info = read_scene_json(scene_dir)
    rec = read_colmap_model(models[found[0]])
    cams = {c.model_name for c in rec.cameras.values()}
    if len(rec.cameras) != 1 or not cams <= {"PINHOLE", "SIMPLE_PINHOLE"}:
        raise ObscuraError(f"{models[found[0]]}: expected one PINHOLE camera, found {sorted(cams)} "
                           f"({len(rec.cameras)} cameras). Use the undistorted model (`obscura sfm` writes it).")
    cam = next(iter(rec.cameras.values()))
    fx, fy, cx, cy = (cam.params if cam.model_name == "PINHOLE" else
                      (cam.params[0], cam.params[0], cam.params[1], cam.params[2]))
    poses = reconstruction_poses(rec)
    if not poses:
        raise ObscuraError(f"{models[found[0]]}: the model has no registered images; {SFM_HINT}.")
    names = sorted(poses)
    image_dir = scene_dir / "undistorted" / "images" if found[0] == "undistorted" else scene_dir / "images"
    test = set(info["split"]["test"])
    pts = list(rec.points3D.values())
    points = np.array([p.xyz for p in pts], np.float64).reshape(-1, 3)
    colors = np.array([p.color for p in pts], np.float64).reshape(-1, 3) / 255.0
    return SceneCameras(Intrinsics(float(fx), float(fy), float(cx), float(cy), cam.width, cam.height), names,
                        [image_dir / n for n in names], np.stack([poses[n] for n in names]),
                        [i for i, n in enumerate(names) if n not in test],
                        [i for i, n in enumerate(names) if n in test], found[0], points, colors, info)


def split_names(names: list[str], test_every: int) -> dict:
    """Inria/gsplat hold-out: image ``i`` is a test image when ``i % test_every == 0``."""
    return {"test_every": test_every,
            "train": [n for i, n in enumerate(names) if i % test_every],
            "test": [n for i, n in enumerate(names) if i % test_every == 0]}


def write_scene_json(scene_dir: str | os.PathLike, name: str, kind: str, source: str, width: int, height: int,
                     names: list[str], test_every: int, **extra) -> Path:
    """The one writer of ``scene.json`` (keys in the module docstring; ``extra`` adds kind-specific ones)."""
    from obscura.io import write_json

    return write_json(Path(scene_dir) / "scene.json", {
        "name": name, "kind": kind, "source": source, "width": width, "height": height,
        "num_images": len(names), "images": names, "split": split_names(names, test_every), **extra})


def read_scene_json(scene_dir: str | os.PathLike) -> dict:
    path = Path(scene_dir) / "scene.json"
    if not path.is_file():
        raise ObscuraError(f"{path}: missing; build the scene with `obscura scene make` or `obscura scene ingest`.")
    return json.loads(path.read_text())


def load_split(scene_dir: str | os.PathLike) -> dict:
    """The ``split`` of a scene (``{"test_every", "train", "test"}``, image names)."""
    return read_scene_json(scene_dir)["split"]
