"""``obscura splat train|render|export``: 3D Gaussian Splatting on a scene directory."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="3D Gaussian Splatting: train on a scene after `obscura sfm`, render, export .ply.",
                  no_args_is_help=True)


def _config(iterations: int | None):
    """The gaussians config of params.yaml when there is one (else the defaults), ``iterations`` applied."""
    from obscura.config import load_params, params_path
    from obscura.rendering.gaussians.registry import make_config

    fields = load_params().gaussians.config if params_path().is_file() else {}
    return make_config(**{**fields, **({"steps": iterations} if iterations else {})})


@app.command("train")
def train(scene_dir: Annotated[Path, typer.Argument(help="scene directory (after `obscura sfm`)")],
          out_dir: Annotated[Path, typer.Argument(help="model directory to write")],
          iterations: Annotated[int | None, typer.Option(min=1, help="training steps (default: params)")] = None,
          poses: Annotated[str, typer.Option(help="sfm (undistorted SfM cameras) or ground_truth (built-in "
                                                  "scenes)")] = "sfm",
          seed: Annotated[int, typer.Option(help="random seed")] = 0):
    """Train 3DGS on SCENE_DIR into OUT_DIR (model.pt, point_cloud.ply); resumable after an interruption."""
    from obscura.rendering.gaussians.train import train as run

    model, result = run(scene_dir, out_dir, _config(iterations), poses, seed)
    typer.echo(json.dumps(result["metrics"], indent=2))


@app.command("render")
def render(source: Annotated[Path, typer.Argument(help="model directory from `obscura splat train`, or a 3DGS "
                                                       ".ply (then --scene is needed)")],
           views: Annotated[str, typer.Option(help="test (held-out views, scored) or orbit (video)")] = "test",
           out: Annotated[Path | None, typer.Option(help="output folder (default: MODEL_DIR/renders, or "
                                                         "FILE's folder/renders)")] = None,
           frames: Annotated[int, typer.Option(min=2, max=1000, help="orbit video frames")] = 48,
           scene: Annotated[Path | None, typer.Option(help="scene directory whose cameras render a .ply "
                                                           "(default for a model directory: its own scene)")] = None,
           poses: Annotated[str | None, typer.Option(help="sfm or ground_truth (default: what the model was "
                                                          "trained on; sfm for a .ply)")] = None):
    """Render the held-out views (PNG + depth, PSNR/SSIM printed) or an orbit video, from a trained model
    directory or from any standard 3DGS .ply."""
    from obscura.errors import ObscuraError
    from obscura.rendering.gaussians.outputs import renderer
    from obscura.rendering.gaussians.train import load, load_ply, scene_cameras
    from obscura.rendering.views import evaluate_views, orbit_path, summarize, write_video

    if views not in ("test", "orbit"):
        raise ObscuraError(f"--views must be test or orbit, got {views!r}.")
    if source.suffix.lower() == ".ply":
        if scene is None:
            raise ObscuraError(f"{source}: a .ply holds no cameras; pass --scene SCENE_DIR to render it.")
        model, scene_dir, poses = load_ply(source), scene, poses or "sfm"
        out = out or source.parent / "renders"
    else:
        model, payload = load(source)
        scene_dir, poses = scene or payload["scene"], poses or payload["poses"]
        out = out or source / "renders"
    cams = scene_cameras(scene_dir, poses)
    render_fn = renderer(model, cams.background or (0.0, 0.0, 0.0))
    if views == "test":
        rows, _ = evaluate_views(render_fn, cams, cams.test, out / "test")
        typer.echo(json.dumps({**summarize(rows), "views": rows}, indent=2))
    else:
        frames_rgb = [render_fn(cams.intrinsics, pose)["rgb"] for pose in orbit_path(cams.poses[cams.train], frames)]
        typer.echo(str(write_video(out / "orbit.mp4", frames_rgb)))


@app.command("export")
def export(model_dir: Annotated[Path, typer.Argument(help="model directory from `obscura splat train`")],
           file: Annotated[Path, typer.Argument(help=".ply to write (standard 3DGS layout)")]):
    """Write the gaussians as a standard 3DGS point_cloud.ply that common splat viewers open."""
    from obscura.errors import ObscuraError
    from obscura.rendering.gaussians.model import PARAMS
    from obscura.rendering.gaussians.ply import write_ply
    from obscura.rendering.gaussians.train import load

    if file.suffix.lower() != ".ply":
        raise ObscuraError(f"{file}: the export is a .ply file; end the name in .ply.")
    model, _ = load(model_dir)
    write_ply(file, {k: getattr(model, k) for k in PARAMS})
    typer.echo(f"{file}: {len(model)} gaussians")
