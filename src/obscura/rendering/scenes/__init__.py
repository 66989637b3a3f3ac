"""Built-in multi-view scenes: photo-textured geometry rendered with exact cameras into a scene
directory (format: :mod:`obscura.rendering.scene_format`)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from obscura.errors import ObscuraError
from obscura.rendering.scenes.builtin import SCENES, SceneConfig


def build_scene(name: str, num_views: int, width: int, height: int, fov_x_deg: float | None = None,
                **variation) -> SceneConfig:
    """The registered built-in scene ``name`` configured for this camera set; ``variation`` sets other fields
    of its config (``textures``, ``aside_fraction``, ``turns``, ``kind``, ...) for benchmark scenes."""
    if name not in SCENES:
        raise ObscuraError(f"unknown built-in scene {name!r}; available: {sorted(SCENES)}.")
    fields = set(SCENES[name].__dataclass_fields__)
    unknown = sorted(set(variation) - fields)
    if unknown:
        raise ObscuraError(f"scene {name!r} has no setting(s) {unknown}; it has {sorted(fields)}.")
    kwargs = {"num_views": num_views, "width": width, "height": height, **variation}
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

    from obscura.io import atomic_dir, save_image
    from obscura.rendering.cameras import camera_centers, write_colmap_model, write_ply, write_transforms_json
    from obscura.rendering.scene_format import split_names, write_scene_json
    from obscura.rendering.scenes.render import MeshRenderer

    intr = scene.intrinsics()
    poses = scene.poses()
    meshes = scene.meshes()
    renderer = MeshRenderer(meshes, scene.background, num_threads=num_threads)
    digits = max(3, len(str(len(poses) - 1)))
    names = [f"{i:0{digits}d}.png" for i in range(len(poses))]
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
                              test_names=split_names(names, test_every)["test"], extra={"aabb_scale": 16})
        if gt_points:
            write_ply(tmp / "ground_truth" / "points3D.ply", points, colors)
        lo, hi = renderer.bounds()
        centers = camera_centers(poses)
        target = np.asarray(getattr(scene, "target", (lo + hi) / 2), np.float64)
        write_scene_json(
            tmp, name, scene.kind, "builtin", intr.width, intr.height, names, test_every,
            fov_x_deg=scene.fov_x_deg, supersample=supersample, seed=seed,
            intrinsics={"fx": intr.fx, "fy": intr.fy, "cx": intr.cx, "cy": intr.cy},
            background=list(scene.background), bounds={"min": lo.tolist(), "max": hi.tolist()},
            center=target.tolist(), radius=float(np.linalg.norm(centers - target, axis=1).max()),
            near=near, far=far, objects={m.name: m.source for m in meshes})
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

__all__ = ["SCENES", "SceneConfig", "build_scene", "create_scene", "make_scene"]
