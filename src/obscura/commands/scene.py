"""``obscura scene ingest|make`` and ``obscura sfm``: multi-view scenes and structure-from-motion.

Mount in cli.py with ``app.add_typer(scene.app, name="scene")`` and ``app.command("sfm")(scene.sfm)``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Multi-view scenes: built-in renders with ground truth, or your photos.",
                  no_args_is_help=True)


def _params():
    """params.yaml when there is one, else the defaults (so the commands work outside the repo)."""
    from obscura.config import load_params, params_path

    if params_path().is_file():
        p = load_params()
        return p.scenes, p.sfm, p.seed
    from obscura.rendering.params import ScenesParams, SfmParams

    return ScenesParams(), SfmParams(), 0


@app.command("ingest")
def ingest(photos: Annotated[Path, typer.Argument(help="folder of photos, or a video file")],
           scene_dir: Annotated[Path, typer.Argument(help="scene directory to create")],
           max_size: Annotated[int | None, typer.Option(min=32, help="longest side after downscaling "
                                                                     "(default: params, 1600)")] = None,
           fps: Annotated[float | None, typer.Option(min=0.01, help="frames per second taken from a video "
                                                                    "(default: params, 2)")] = None):
    """Copy photos into SCENE_DIR/images: upright (EXIF), RGB, downscaled; bad files are listed and rejected."""
    from obscura.rendering.ingest import ingest as run_ingest

    cfg, _, _ = _params()
    out = run_ingest(photos, scene_dir, max_size=cfg.ingest.max_size if max_size is None else max_size,
                     video_fps=cfg.ingest.video_fps if fps is None else fps, test_every=cfg.test_every)
    typer.echo(f"{scene_dir}: {out['num_images']} images of {out['width']}x{out['height']}")


@app.command("make")
def make(name: Annotated[str, typer.Argument(help="built-in scene: orbit or room")],
         scene_dir: Annotated[Path | None, typer.Argument(help="output (default: <scenes.output>/NAME in the "
                                                               "project)")] = None,
         views: Annotated[int | None, typer.Option(min=3, help="number of views (default: params)")] = None,
         width: Annotated[int | None, typer.Option(min=32, max=4096, help="image width (default: params)")] = None,
         height: Annotated[int | None, typer.Option(min=32, max=4096, help="image height (default: params)")] = None):
    """Render a built-in scene with ground-truth cameras, depth and points."""
    from obscura.paths import workspace_root
    from obscura.rendering.params import SceneSpec
    from obscura.rendering.scenes import create_scene

    cfg, _, seed = _params()
    builtin = dict(cfg.builtin)
    if views is not None:
        builtin[name] = builtin[name].model_copy(update={"num_views": views}) if name in builtin else \
            SceneSpec(num_views=views)
    cfg = cfg.model_copy(update={"builtin": builtin, "photos": {}, "width": width or cfg.width,
                                 "height": height or cfg.height})
    out = create_scene(name, cfg, scene_dir or workspace_root() / cfg.output / name, seed=seed)
    typer.echo(json.dumps(out, indent=2))


def sfm(scene_dir: Annotated[Path, typer.Argument(help="scene directory with images/")],
        undistort: Annotated[bool, typer.Option(help="also write SCENE_DIR/undistorted (PINHOLE)")] = True,
        deterministic: Annotated[bool | None, typer.Option(help="one thread + seed (default: params)")] = None,
        verbose: Annotated[bool, typer.Option(help="show COLMAP's log")] = False):
    """Structure-from-motion with COLMAP: SCENE_DIR/sparse/0, points3D.ply, preview.png, metrics JSON."""
    from obscura.rendering.sfm import preview, run_sfm

    _, cfg, seed = _params()
    if deterministic is not None:
        cfg = cfg.model_copy(update={"deterministic": deterministic})
    metrics = run_sfm(scene_dir, cfg, seed=seed, undistort=undistort, verbose=verbose)
    preview(scene_dir, scene_dir / "sparse" / "preview.png", seed=seed)
    typer.echo(json.dumps(metrics, indent=2))
    if metrics["unregistered_images"]:
        typer.echo(f"warning: {len(metrics['unregistered_images'])} images were not registered "
                   f"(see {scene_dir}/sparse/registration.json)", err=True)
