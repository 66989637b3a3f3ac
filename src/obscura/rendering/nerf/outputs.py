"""What a trained NeRF produces: held-out renders and scores, an orbit video, and a TSDF mesh (with a
preview and, for built-in scenes, its Chamfer distance to the ground-truth surface)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import torch

from obscura.io import save_image, write_csv
from obscura.rendering.cameras import Intrinsics, camera_centers, umeyama
from obscura.rendering.nerf.base import NerfModel
from obscura.rendering.nerf.train import render_image
from obscura.rendering.scene_format import SceneCameras, load_cameras
from obscura.rendering.views import (
    colorize_depth,
    comparison_grid,
    evaluate_views,
    orbit_path,
    summarize,
    write_video,
)


def test_views(model: NerfModel, cams: SceneCameras, renders_dir: Path, reports_dir: Path,
               progress: bool = True) -> dict:
    """Render and score the held-out views: renders + depth PNGs in ``renders_dir``; ``views.csv``,
    ``test_grid.png`` (truth | render) and ``depth_grid.png`` in ``reports_dir``. Returns the metrics."""
    rows, out = evaluate_views(lambda intr, pose: render_image(model, intr, pose), cams, cams.test, renders_dir,
                               progress)
    write_csv(reports_dir / "views.csv", rows, first=("name", "psnr", "ssim", "render_seconds"))
    save_image(reports_dir / "test_grid.png", comparison_grid(out["rgb"], out["target"]))
    save_image(reports_dir / "depth_grid.png", np.concatenate([colorize_depth(d) for d in out["depth"][:6]], 0))
    return summarize(rows, "test")


def orbit_video(model: NerfModel, cams: SceneCameras, path: str | os.PathLike, frames: int = 36,
                scale: float = 0.25) -> Path:
    """Colour | depth video along a circle around what the cameras look at."""
    intr = cams.intrinsics.scaled(scale)
    shots = []
    for pose in orbit_path(cams.poses, frames):
        out = render_image(model, intr, pose)
        shots.append(np.concatenate([out["rgb"], colorize_depth(out["depth"])], 1))
    return write_video(path, shots)


def tsdf_mesh(model: NerfModel, cams: SceneCameras, path: str | os.PathLike, scale: float = 0.25,
              voxels: int = 384):
    """Fuse rendered depth + colour of the training views (``scale`` × their size) into a TSDF with
    ``voxels`` voxels along the scene box diagonal (open3d ``UniformTSDFVolume``, a cube around the box's
    world bounds: open3d 0.20's ``ScalableTSDFVolume`` extracts nothing on this build); save the mesh as
    ``.ply`` and return it."""
    import open3d as o3d

    from obscura.io import atomic_path

    voxel = 2 * float(np.linalg.norm(model.box.half)) / voxels
    corners = np.array([[x, y, z] for x in (0, 1) for y in (0, 1) for z in (0, 1)])
    local = model.box.center + (corners * 2 - 1) * model.box.half
    world = local @ np.asarray(model.box.rotation)                # box frame → world (rows: box axes)
    lo, hi = world.min(0), world.max(0)
    length = float((hi - lo).max())
    volume = o3d.pipelines.integration.UniformTSDFVolume(
        length=length, resolution=int(np.ceil(length / voxel)), sdf_trunc=4 * voxel,
        color_type=o3d.pipelines.integration.TSDFVolumeColorType.RGB8, origin=(lo + hi) / 2 - length / 2)
    intr = cams.intrinsics.scaled(scale)
    camera = o3d.camera.PinholeCameraIntrinsic(intr.width, intr.height, intr.fx, intr.fy,
                                               intr.cx - 0.5, intr.cy - 0.5)   # open3d: pixel centres at integers
    for i in cams.train:
        out = render_image(model, intr, cams.poses[i])
        rgbd = o3d.geometry.RGBDImage.create_from_color_and_depth(
            o3d.geometry.Image(np.ascontiguousarray((out["rgb"] * 255 + 0.5).astype(np.uint8))),
            o3d.geometry.Image(out["depth"].astype(np.float32)), depth_scale=1.0, depth_trunc=1e9,
            convert_rgb_to_intensity=False)
        volume.integrate(rgbd, camera, cams.poses[i])
    mesh = volume.extract_triangle_mesh()
    mesh.compute_vertex_normals()
    path = Path(path)
    with atomic_path(path) as tmp:                     # tmp keeps the suffix open3d picks the format by
        o3d.io.write_triangle_mesh(str(tmp), mesh)
    return mesh


def mesh_preview(mesh, intrinsics: Intrinsics, pose: np.ndarray, path: str | os.PathLike) -> Path:
    """The mesh seen from ``pose`` (open3d ray casting, headless): vertex colour | shaded normals
    (black for an empty mesh)."""
    import open3d as o3d

    from obscura.rendering.rays import normalize, rays

    if not len(mesh.triangles):
        return save_image(path, np.zeros((intrinsics.height, 2 * intrinsics.width, 3), np.float32))
    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(o3d.t.geometry.TriangleMesh.from_legacy(mesh))
    origins, dirs = rays(intrinsics, pose)
    dirs = normalize(dirs)
    hit = scene.cast_rays(o3d.core.Tensor(torch.cat([origins, dirs], -1).numpy()))
    tri = hit["primitive_ids"].numpy().astype(np.int64)
    valid = hit["t_hit"].numpy() < np.inf
    normals = hit["primitive_normals"].numpy()
    shade = np.abs((normals * dirs.numpy()).sum(-1)) * valid
    colors = np.zeros((*tri.shape, 3), np.float32)
    if valid.any() and mesh.has_vertex_colors():
        faces, vcol = np.asarray(mesh.triangles), np.asarray(mesh.vertex_colors)
        colors[valid] = vcol[faces[tri[valid]]].mean(1)
    return save_image(path, np.concatenate([colors, np.repeat(shade[..., None], 3, -1)], 1))


def chamfer_to_ground_truth(mesh, cams: SceneCameras, scene_dir: str | os.PathLike, samples: int = 20000,
                            seed: int = 0) -> float | None:
    """Symmetric mean nearest-neighbour distance between points sampled on the mesh and the built-in
    scene's ground-truth surface points, in ground-truth units; SfM meshes are first brought into the
    ground-truth frame by the similarity that aligns the camera centres. None without ground truth."""
    import open3d as o3d
    from scipy.spatial import cKDTree

    if not (Path(scene_dir) / "ground_truth").is_dir() or not len(mesh.triangles):
        return None
    truth = load_cameras(scene_dir, "ground_truth")
    index = {n: i for i, n in enumerate(truth.names)}
    common = [i for i, n in enumerate(cams.names) if n in index]
    if len(common) < 3 or not len(truth.points):
        return None
    s, R, t = umeyama(camera_centers(cams.poses[common]),
                      camera_centers(truth.poses[[index[cams.names[i]] for i in common]]))
    o3d.utility.random.seed(seed)
    points = np.asarray(mesh.sample_points_uniformly(samples).points) @ (s * R).T + t
    a = cKDTree(truth.points).query(points)[0].mean()
    b = cKDTree(points).query(truth.points)[0].mean()
    return float((a + b) / 2)


def mesh_outputs(model: NerfModel, cams: SceneCameras, scene_dir, ply: Path, preview: Path, scale: float = 0.25,
                 voxels: int = 384) -> dict:
    """TSDF mesh → ``ply``, its preview from the first held-out view → ``preview``; returns mesh metrics."""
    t0 = time.perf_counter()
    mesh = tsdf_mesh(model, cams, ply, scale, voxels)
    view = (cams.test or cams.train)[0]
    mesh_preview(mesh, cams.intrinsics.scaled(scale), cams.poses[view], preview)
    metrics = {"mesh_vertices": len(mesh.vertices), "mesh_seconds": time.perf_counter() - t0}
    chamfer = chamfer_to_ground_truth(mesh, cams, scene_dir)
    if chamfer is not None:
        metrics["chamfer_distance"] = chamfer
    return metrics
