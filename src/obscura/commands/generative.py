"""``obscura generative train|sample|blend``: the generative track from the command line.

Mount in cli.py with ``app.add_typer(generative.app, name="generative")``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Generative models (ae, vae, gan, ddpm, ldm) on Fashion-MNIST.", no_args_is_help=True)

BLENDABLE = ("ae", "vae", "ddpm", "ldm")      # the families with an encoder
REGISTRY = "models:/"                          # a registered version, e.g. models:/obscura-generative-vae@champion
Model = Annotated[str, typer.Argument(help="model family: ae, vae, gan, ddpm or ldm; or a registered model "
                                           "models:/NAME@ALIAS (see `obscura models list`)")]
Checkpoint = Annotated[Path | None, typer.Option(help="checkpoint (default: the project's "
                                                      "<generative.output>/MODEL/model.pt)")]


def _load(model: str, checkpoint: Path | None):
    """The trained MODEL from CHECKPOINT, or from the project's default checkpoint, or the registered
    version MODEL names (``models:/NAME@ALIAS`` or ``models:/NAME/VERSION``)."""
    from obscura.config import load_params
    from obscura.errors import ObscuraError
    from obscura.generative.checkpoint import load_model
    from obscura.generative.registry import config_class
    from obscura.paths import project_root

    if model.startswith(REGISTRY):
        if checkpoint is not None:
            raise ObscuraError(f"{model} is loaded from the model registry; leave out --checkpoint, or pass a "
                               "model family (ae, vae, gan, ddpm, ldm) with it.")
        from obscura.tracking import registered_model_files

        with registered_model_files(model) as files:
            return load_model(files / "model.pt")[0]
    config_class(model)
    if checkpoint is None:
        root = project_root(f"without --checkpoint, loading the {model} model")
        checkpoint = root / load_params().generative.output / model / "model.pt"
    return load_model(checkpoint, expect=model)[0]


@app.command()
def train(model: Model):
    """Train MODEL with the project's params.yaml, resumable: what `dvc repro train_generative@MODEL` runs,
    without DVC's caching (model.pt, loss.csv, train.json and an MLflow run)."""
    from obscura.config import load_params
    from obscura.generative.fit import train_and_record
    from obscura.generative.registry import config_class
    from obscura.paths import project_root

    config_class(model)
    os.chdir(project_root("obscura generative train"))    # params paths are relative to the project
    params = load_params()
    metrics = train_and_record(params, model)
    typer.echo(f"{params.generative.output / model / 'model.pt'}: {metrics['steps']} steps in "
               f"{metrics['train_seconds']:.1f} s")


@app.command()
def sample(model: Model, out: Annotated[Path, typer.Argument(help="PNG grid to write")],
           n: Annotated[int, typer.Option("--n", min=1, max=1024, help="number of samples")] = 16,
           seed: Annotated[int, typer.Option(help="sampling seed")] = 0,
           checkpoint: Checkpoint = None):
    """Draw N samples from a trained MODEL into one PNG grid."""
    import torch

    from obscura.generative.images import grid
    from obscura.io import image_output, save_image

    image_output(out)
    net = _load(model, checkpoint)
    save_image(out, grid(net.sample(n, torch.Generator().manual_seed(seed))))
    typer.echo(f"{out}: {n} {model} samples")


@app.command()
def blend(model: Annotated[str, typer.Argument(help=f"model family with an encoder: {', '.join(BLENDABLE)}; or "
                                                        "models:/NAME@ALIAS")],
          image_a: Annotated[Path, typer.Argument(help="first image")],
          image_b: Annotated[Path, typer.Argument(help="second image")],
          out: Annotated[Path, typer.Argument(help="PNG strip to write")],
          steps: Annotated[int, typer.Option(min=2, max=64, help="images on the latent path")] = 8,
          resize: Annotated[bool, typer.Option(help="fit other image sizes to the model's (--no-resize: refuse "
                                                    "them)")] = True,
          checkpoint: Checkpoint = None):
    """Encode IMAGE_A and IMAGE_B, decode the latent path between them: [A, path…, B] in one strip.

    Images are converted to the model's channels (grey or RGB) and, unless --no-resize, to its size.
    """
    import torch

    from obscura.errors import ObscuraError
    from obscura.generative.images import grid, to_model_space
    from obscura.generative.metrics import blend as latent_blend
    from obscura.generative.registry import config_class
    from obscura.io import image_output, load_image, save_image

    def blendable(family: str) -> None:
        config_class(family)
        if family not in BLENDABLE:
            raise ObscuraError(f"{family} has no encoder, so it cannot blend two given images; use one of "
                               f"{', '.join(BLENDABLE)}.")

    registered = model.startswith(REGISTRY)
    if not registered:
        blendable(model)
    image_output(out)
    net = _load(model, checkpoint)
    if registered:
        blendable(net.config.name)
    size, chans = net.config.image_size, net.config.channels
    images = []
    for path in (image_a, image_b):
        img = load_image(path, channels=chans)
        if img.shape[:2] != (size, size):
            if not resize:
                raise ObscuraError(f"{path}: is {img.shape[1]}x{img.shape[0]} but the {model} model works on "
                                   f"{size}x{size} images; leave out --no-resize to fit it.")
            typer.echo(f"note: {path} is {img.shape[1]}x{img.shape[0]}; fitted to the model's {size}x{size}.",
                       err=True)
        images.append(to_model_space(img[None], size, chans)[0])
    a, b = images
    path = latent_blend(net, a, b, steps)
    save_image(out, grid(torch.cat([a[None], path, b[None]]), ncol=steps + 2))
    typer.echo(f"{out}: {model} blend in {steps} steps")
