"""``obscura nerf train|render|mesh``: NeRF models on a scene directory.

Mount in cli.py with ``app.add_typer(nerf.app, name="nerf")``.
"""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="NeRF (vanilla or grid) on a scene after SfM: train, render, mesh.", no_args_is_help=True)


class Model(str, Enum):
    grid = "grid"
    vanilla = "vanilla"


class Poses(str, Enum):
    sfm = "sfm"
    ground_truth = "ground_truth"


class Views(str, Enum):
    test = "test"
    orbit = "orbit"


def _settings():
    """The ``nerf`` params when there is a params.yaml, else the defaults; and the seed."""
    from obscura.config import load_params, params_path
    from obscura.rendering.nerf.params import NerfParams

    if params_path().is_file():
        p = load_params()
        return p.nerf, p.seed
    return NerfParams(), 0


def _load(out_dir: Path):
    from obscura.rendering.nerf.train import load, scene_cameras

    model, payload = load(out_dir / "model.pt")
    return model, scene_cameras(payload["scene"], payload["poses"]), payload


def _echo(metrics: dict) -> None:
    typer.echo(json.dumps(metrics, indent=2, default=str))


@app.command("train")
def train(scene_dir: Annotated[Path, typer.Argument(help="scene directory (after `obscura sfm`)")],
          out_dir: Annotated[Path, typer.Argument(help="output directory (model, renders, metrics, mesh)")],
          model: Annotated[Model, typer.Option(help="grid (fast) or vanilla (the lecture's NeRF)")] = Model.grid,
          poses: Annotated[Poses, typer.Option(help="SfM cameras, or a built-in scene's ground truth")] = Poses.sfm,
          steps: Annotated[int | None, typer.Option(min=1, help="training steps (default: the model's)")] = None,
          tiny: Annotated[bool, typer.Option(help="the model's tiny test config (seconds)")] = False):
    """Train a NeRF on SCENE_DIR, then write OUT_DIR: model.pt, metrics.json, held-out renders, orbit.mp4, mesh.ply."""
    from obscura.rendering.nerf.fit import fit

    cfg, seed = _settings()
    _echo(fit(scene_dir, out_dir, None, model.value, {"steps": steps} if steps else {}, poses.value, seed,
              log_every=cfg.log_every, checkpoint_every=cfg.checkpoint_every, orbit_frames=cfg.orbit_frames,
              orbit_scale=cfg.orbit_scale, mesh_scale=cfg.mesh_scale, mesh_voxels=cfg.mesh_voxels, tiny=tiny))


@app.command("render")
def render(out_dir: Annotated[Path, typer.Argument(help="a trained model's directory")],
           views: Annotated[Views, typer.Option(help="held-out views (scored) or an orbit video")] = Views.test,
           frames: Annotated[int | None, typer.Option(min=2, help="orbit frames (default: params)")] = None):
    """Render OUT_DIR's model: held-out views to OUT_DIR/renders (+ views.csv, test_grid.png), or OUT_DIR/orbit.mp4."""
    from obscura.rendering.nerf.outputs import orbit_video, test_views

    cfg, _ = _settings()
    model, cams, _ = _load(out_dir)
    if views is Views.orbit:
        typer.echo(orbit_video(model, cams, out_dir / "orbit.mp4", frames or cfg.orbit_frames, cfg.orbit_scale))
    else:
        _echo(test_views(model, cams, out_dir / "renders", out_dir))


@app.command("mesh")
def mesh(out_dir: Annotated[Path, typer.Argument(help="a trained model's directory")],
         ply: Annotated[Path, typer.Argument(help="mesh file to write (.ply); a .png preview goes beside it")],
         voxels: Annotated[int | None, typer.Option(min=16, help="TSDF voxels along the box diagonal "
                                                                 "(default: params)")] = None):
    """TSDF-fuse rendered depth of the training views into a mesh (+ Chamfer distance on built-in scenes)."""
    from obscura.rendering.nerf.outputs import mesh_outputs

    cfg, _ = _settings()
    model, cams, payload = _load(out_dir)
    _echo(mesh_outputs(model, cams, payload["scene"], ply, ply.with_suffix(".png"), cfg.mesh_scale,
                       voxels or cfg.mesh_voxels))
