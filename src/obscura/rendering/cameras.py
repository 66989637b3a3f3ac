"""Pinhole cameras and poses: OpenCV convention, COLMAP/NeRF files, Sim(3) alignment and pose errors.

Conventions (the same as COLMAP and OpenCV):

* A pose is the 4x4 world-to-camera matrix ``T_cam_from_world`` (``x_cam = R @ x_world + t``).
* Camera axes: +x right, +y down, +z forward (looking direction).
* Pixel coordinates are continuous with the top-left image corner at (0, 0); the first pixel's
  centre is (0.5, 0.5), so a centred principal point is (W / 2, H / 2).

NeRF-style ``transforms.json`` stores camera-to-world matrices in OpenGL/Blender camera axes
(+x right, +y up, +z backward): ``c2w_gl = inv(T_cam_from_world) @ diag(1, -1, -1, 1)``.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from obscura.errors import ObscuraError

OPENCV_TO_OPENGL = np.diag([1.0, -1.0, -1.0, 1.0])


@dataclass(frozen=True)
class Intrinsics:
    """Pinhole intrinsics (COLMAP ``PINHOLE``: fx, fy, cx, cy) of a ``width`` x ``height`` image."""

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int

    @classmethod
    def from_fov(cls, width: int, height: int, fov_x_deg: float) -> "Intrinsics":
        """Square pixels, centred principal point, horizontal field of view in degrees."""
        f = 0.5 * width / math.tan(math.radians(fov_x_deg) / 2)
        return cls(f, f, width / 2, height / 2, width, height)

    @property
    def K(self) -> np.ndarray:
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    def scaled(self, factor: float) -> "Intrinsics":
        """Intrinsics of the same camera sampled ``factor`` times more densely (supersampling)."""
        return Intrinsics(self.fx * factor, self.fy * factor, self.cx * factor, self.cy * factor,
                          round(self.width * factor), round(self.height * factor))


def look_at(eye, target, up=(0.0, 0.0, 1.0)) -> np.ndarray:
    """World-to-camera 4x4 for a camera at ``eye`` looking at ``target`` (OpenCV axes, image up ~ ``up``)."""
    eye, target, up = (np.asarray(a, np.float64) for a in (eye, target, up))
    z = target - eye
    z /= np.linalg.norm(z)
    x = np.cross(z, up)
    if np.linalg.norm(x) < 1e-9:
        raise ValueError("look_at: viewing direction is parallel to the up vector")
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    R = np.stack([x, y, z])
    T = np.eye(4)
    T[:3, :3] = R
    T[:3, 3] = -R @ eye
    return T


def camera_centers(poses: np.ndarray) -> np.ndarray:
    """(N, 3) camera centres ``-R^T t`` of (N, 4, 4) or (N, 3, 4) world-to-camera poses."""
    poses = np.asarray(poses)
    R, t = poses[:, :3, :3], poses[:, :3, 3]
    return -np.einsum("nji,nj->ni", R, t)


def project(K: np.ndarray, T_cam_from_world: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Project (N, 3) world points; returns (N, 2) pixel coordinates and (N,) depths (camera z)."""
    points = np.asarray(points, np.float64)
    cam = points @ T_cam_from_world[:3, :3].T + T_cam_from_world[:3, 3]
    z = cam[:, 2]
    uv = (cam @ np.asarray(K).T)[:, :2] / z[:, None]
    return uv, z


def opencv_to_nerf_c2w(T_cam_from_world: np.ndarray) -> np.ndarray:
    """World-to-camera (OpenCV) -> NeRF camera-to-world (OpenGL camera axes)."""
    return np.linalg.inv(T_cam_from_world) @ OPENCV_TO_OPENGL


def nerf_c2w_to_opencv(c2w: np.ndarray) -> np.ndarray:
    """Inverse of :func:`opencv_to_nerf_c2w`."""
    return np.linalg.inv(np.asarray(c2w, np.float64) @ OPENCV_TO_OPENGL)


# --------------------------------------------------------------------------------------------- files

def write_colmap_model(path: str | os.PathLike, intrinsics: Intrinsics, poses: np.ndarray, names: list[str],
                       points: np.ndarray | None = None, colors: np.ndarray | None = None,
                       binary: bool = False) -> Path:
    """Write a COLMAP model (one PINHOLE camera, images with poses, optional track-less points)."""
    import pycolmap

    rec = pycolmap.Reconstruction()
    cam = pycolmap.Camera(model="PINHOLE", width=intrinsics.width, height=intrinsics.height,
                          params=[intrinsics.fx, intrinsics.fy, intrinsics.cx, intrinsics.cy], camera_id=1)
    rec.add_camera_with_trivial_rig(cam)
    for i, (name, T) in enumerate(zip(names, poses), start=1):
        pose = pycolmap.Rigid3d(np.asarray(T, np.float64)[:3, :4])
        rec.add_image_with_trivial_frame(pycolmap.Image(name=name, camera_id=1, image_id=i), pose)
    if points is not None:
        cols = np.zeros((len(points), 3), np.uint8) if colors is None else _to_uint8(colors)
        for p, c in zip(np.asarray(points, np.float64), cols):
            rec.add_point3D(p, pycolmap.Track(), c)
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    (rec.write_binary if binary else rec.write_text)(str(path))
    return path


def read_colmap_model(path: str | os.PathLike):
    """Load a COLMAP model directory (text or binary) as a ``pycolmap.Reconstruction``."""
    import pycolmap

    path = Path(path)
    if not any((path / f"images.{ext}").is_file() for ext in ("bin", "txt")):
        raise ObscuraError(f"{path}: no COLMAP model here (expected images.bin or images.txt). "
                           "Run `obscura sfm SCENE_DIR` first.")
    return pycolmap.Reconstruction(str(path))


def reconstruction_poses(rec) -> dict[str, np.ndarray]:
    """``{image name: 4x4 world-to-camera}`` for every registered image of a reconstruction."""
    out = {}
    for image_id in rec.reg_image_ids():
        image = rec.image(image_id)
        T = np.eye(4)
        T[:3, :4] = image.cam_from_world().matrix()
        out[image.name] = T
    return out


def write_transforms_json(path: str | os.PathLike, intrinsics: Intrinsics, poses: np.ndarray, names: list[str],
                          image_dir: str = "../images", test_names: list[str] = (),
                          extra: dict | None = None) -> Path:
    """NeRF/nerfstudio ``transforms.json``: OpenGL camera-to-world matrices + pinhole intrinsics.

    ``file_path`` is relative to the JSON's folder; ``train_filenames``/``test_filenames`` carry the split.
    """
    from obscura.io import write_json

    files = [f"{image_dir}/{n}" for n in names]
    test = set(test_names)
    doc = {
        "camera_model": "OPENCV",
        "camera_angle_x": 2 * math.atan(intrinsics.width / (2 * intrinsics.fx)),
        "camera_angle_y": 2 * math.atan(intrinsics.height / (2 * intrinsics.fy)),
        "fl_x": intrinsics.fx, "fl_y": intrinsics.fy, "cx": intrinsics.cx, "cy": intrinsics.cy,
        "w": intrinsics.width, "h": intrinsics.height,
        "k1": 0.0, "k2": 0.0, "p1": 0.0, "p2": 0.0,
        "frames": [{"file_path": f, "transform_matrix": opencv_to_nerf_c2w(T).tolist()}
                   for f, T in zip(files, poses)],
        "train_filenames": [f for f, n in zip(files, names) if n not in test],
        "test_filenames": [f for f, n in zip(files, names) if n in test],
        **(extra or {}),
    }
    return write_json(path, doc)


def read_transforms_json(path: str | os.PathLike) -> tuple[Intrinsics, np.ndarray, list[str]]:
    """Read :func:`write_transforms_json` output: intrinsics, (N, 4, 4) world-to-camera, image names."""
    doc = json.loads(Path(path).read_text())
    intr = Intrinsics(doc["fl_x"], doc["fl_y"], doc["cx"], doc["cy"], int(doc["w"]), int(doc["h"]))
    poses = np.stack([nerf_c2w_to_opencv(f["transform_matrix"]) for f in doc["frames"]])
    names = [Path(f["file_path"]).name for f in doc["frames"]]
    return intr, poses, names


def _to_uint8(colors: np.ndarray) -> np.ndarray:
    colors = np.asarray(colors)
    if colors.dtype == np.uint8:
        return colors
    return (np.clip(colors, 0, 1) * 255 + 0.5).astype(np.uint8)


# ----------------------------------------------------------------------------------- alignment, errors

def umeyama(src: np.ndarray, dst: np.ndarray, with_scale: bool = True) -> tuple[float, np.ndarray, np.ndarray]:
    """Least-squares similarity ``dst ~ s * R @ src + t`` (Umeyama 1991); returns ``(s, R, t)``."""
    src, dst = np.asarray(src, np.float64), np.asarray(dst, np.float64)
    if src.shape != dst.shape or src.ndim != 2 or len(src) < 3:
        raise ValueError(f"umeyama needs two matching (N>=3, d) arrays, got {src.shape} and {dst.shape}")
    mu_s, mu_d = src.mean(0), dst.mean(0)
    xs, xd = src - mu_s, dst - mu_d
    cov = xd.T @ xs / len(src)
    U, D, Vt = np.linalg.svd(cov)
    S = np.eye(src.shape[1])
    if np.linalg.det(U) * np.linalg.det(Vt) < 0:
        S[-1, -1] = -1
    R = U @ S @ Vt
    var_s = (xs ** 2).sum() / len(src)
    s = float(np.trace(np.diag(D) @ S) / var_s) if with_scale else 1.0
    t = mu_d - s * R @ mu_s
    return s, R, t


def rotation_angle_deg(R: np.ndarray) -> np.ndarray:
    """Rotation angle(s) in degrees of (..., 3, 3) rotation matrices (atan2 form: exact near 0)."""
    cos = (np.trace(R, axis1=-2, axis2=-1) - 1) / 2
    axis = np.stack([R[..., 2, 1] - R[..., 1, 2], R[..., 0, 2] - R[..., 2, 0], R[..., 1, 0] - R[..., 0, 1]], -1)
    return np.degrees(np.arctan2(np.linalg.norm(axis, axis=-1) / 2, cos))


def pose_errors(est: np.ndarray, gt: np.ndarray) -> dict[str, float]:
    """Sim(3)-align estimated world-to-camera poses to ground truth (Umeyama on camera centres).

    Returns median/max rotation error (degrees), median/max camera-centre error as a percentage of
    the scene extent (diagonal of the ground-truth camera centres' bounding box) and the scale, and the
    median/max relative rotation error over all camera pairs (the angle of ``R_i R_jᵀ`` against ground truth).
    The aligned rotation error also holds the alignment's own error, which comes from the centres (on
    forward-facing captures it can be several times the cameras' relative error); the relative one needs no
    alignment, as SfM benchmarks (IMC, GLOMAP) report it.
    """
    est, gt = np.asarray(est, np.float64), np.asarray(gt, np.float64)
    c_est, c_gt = camera_centers(est), camera_centers(gt)
    s, R, t = umeyama(c_est, c_gt)
    c_aligned = s * c_est @ R.T + t
    extent = float(np.linalg.norm(c_gt.max(0) - c_gt.min(0)))
    centre_err = np.linalg.norm(c_aligned - c_gt, axis=1) / extent * 100
    # world_est = (R^T (world_gt - t)) / s, so the aligned rotation is R_est @ R^T.
    R_aligned = est[:, :3, :3] @ R.T
    rot_err = rotation_angle_deg(np.swapaxes(gt[:, :3, :3], -1, -2) @ R_aligned)
    i, j = np.triu_indices(len(est), 1)
    rel_gt = gt[i, :3, :3] @ np.swapaxes(gt[j, :3, :3], -1, -2)
    rel_est = est[i, :3, :3] @ np.swapaxes(est[j, :3, :3], -1, -2)
    rel_err = rotation_angle_deg(np.swapaxes(rel_gt, -1, -2) @ rel_est)
    return {
        "rotation_error_median_deg": float(np.median(rot_err)),
        "rotation_error_max_deg": float(rot_err.max()),
        "relative_rotation_error_median_deg": float(np.median(rel_err)),
        "relative_rotation_error_max_deg": float(rel_err.max()),
        "center_error_median_pct": float(np.median(centre_err)),
        "center_error_max_pct": float(centre_err.max()),
        "alignment_scale": float(s),
        "extent": extent,
    }


def write_ply(path: Path, points: np.ndarray, colors: np.ndarray) -> None:
    """Write a coloured point cloud (colors in [0, 1]) as PLY through open3d."""
    import open3d as o3d

    pcd = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(np.asarray(points, np.float64)))
    pcd.colors = o3d.utility.Vector3dVector(np.asarray(colors, np.float64))
    if not o3d.io.write_point_cloud(str(path), pcd):
        raise ObscuraError(f"{path}: could not write the point cloud.")
