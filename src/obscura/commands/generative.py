"""``obscura generative train|sample|blend``: the generative track from the command line.

Mount in cli.py with ``app.add_typer(generative.app, name="generative")``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Generative models (ae, vae, gan, ddpm, ldm) on Fashion-MNIST.", no_args_is_help=True)

Model = Annotated[str, typer.Argument(help="model family: ae, vae, gan, ddpm or ldm")]
Checkpoint = Annotated[Path | None, typer.Option(help="checkpoint (default: <generative.output>/MODEL/model.pt)")]


def _checkpoint(model: str, checkpoint: Path | None) -> Path:
    if checkpoint is not None:
        return checkpoint
    from obscura.config import load_params

    return load_params().generative.output / model / "model.pt"


@app.command()
def train(model: Model):
    """Train MODEL with params.yaml (the same function as `dvc repro train_generative@MODEL`, resumable)."""
    import importlib
    import sys

    from obscura.config import load_params
    from obscura.paths import workspace_root

    root = str(workspace_root())
    if root not in sys.path:
        sys.path.insert(0, root)
    metrics = importlib.import_module("stages.train_generative").run(load_params(), model)
    typer.echo(f"{model}: {metrics['steps']} steps in {metrics['train_seconds']:.1f} s")


@app.command()
def sample(model: Model, out: Annotated[Path, typer.Argument(help="PNG grid to write")],
           n: Annotated[int, typer.Option("--n", min=1, help="number of samples")] = 16,
           seed: Annotated[int, typer.Option(help="sampling seed")] = 0,
           checkpoint: Checkpoint = None):
    """Draw N samples from a trained MODEL into one PNG grid."""
    import torch

    from obscura.generative.checkpoint import load_model
    from obscura.generative.images import grid
    from obscura.generative.registry import config_class
    from obscura.io import save_image

    config_class(model)
    net, _ = load_model(_checkpoint(model, checkpoint), expect=model)
    images = net.sample(n, torch.Generator().manual_seed(seed))
    save_image(out, grid(images))
    typer.echo(f"{out}: {n} {model} samples")


@app.command()
def blend(model: Model, image_a: Annotated[Path, typer.Argument(help="first image")],
          image_b: Annotated[Path, typer.Argument(help="second image")],
          out: Annotated[Path, typer.Argument(help="PNG strip to write")],
          steps: Annotated[int, typer.Option(min=2, help="images on the latent path")] = 8,
          resize: Annotated[bool, typer.Option(help="resize inputs to the model's image size")] = False,
          checkpoint: Checkpoint = None):
    """Encode IMG_A and IMG_B, decode the latent path between them: [A, path…, B] in one strip."""
    import torch

    from obscura.errors import ObscuraError
    from obscura.generative.checkpoint import load_model
    from obscura.generative.images import grid, to_model_space
    from obscura.generative.metrics import blend as latent_blend
    from obscura.generative.registry import config_class
    from obscura.io import load_image, save_image

    config_class(model)
    net, _ = load_model(_checkpoint(model, checkpoint), expect=model)
    size, chans = net.config.image_size, net.config.channels
    images = []
    for path in (image_a, image_b):
        img = load_image(path, channels=None)
        if img.shape[2] != chans and img.shape[2] in (1, 3) and not resize:
            raise ObscuraError(f"{path}: has {img.shape[2]} channel(s) but the {model} model was trained on {chans}; "
                               "pass --resize to convert it.")
        if img.shape[:2] != (size, size) and not resize:
            raise ObscuraError(f"{path}: is {img.shape[1]}x{img.shape[0]} but the {model} model works on "
                               f"{size}x{size} images; pass --resize to resize it.")
        images.append(to_model_space(load_image(path, channels=chans)[None], size, chans)[0])
    a, b = images
    path = latent_blend(net, a, b, steps)
    save_image(out, grid(torch.cat([a[None], path, b[None]]), ncol=steps + 2))
    typer.echo(f"{out}: {model} blend in {steps} steps")
