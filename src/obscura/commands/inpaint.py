"""``obscura inpaint`` and ``obscura outpaint``: fill a masked region / extend an image.

Mount in cli.py with ``app.command("inpaint")(inpaint.inpaint)`` and
``app.command("outpaint")(inpaint.outpaint)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

METHOD_HELP = ("classical: harmonic, biharmonic, total_variation, push_pull, telea, navier_stokes, skimage_biharmonic, "
               "criminisi, hybrid; deep (trained weights): single_stage, coarse_to_fine, edge_guided, "
               "progressive, diffusion")


def _models_dir(models: Path | None) -> Path:
    if models is not None:
        return models
    from obscura.config import load_params, params_path

    if params_path().is_file():
        return load_params().inpainting.models_dir
    return Path("data/inpainting/models")


def _read_image(path: Path):
    """RGB float image; grayscale is repeated to RGB and alpha is dropped (both reported)."""
    from obscura.inpainting.inputs import as_rgb
    from obscura.io import load_image

    raw = load_image(path, channels=None)
    if raw.shape[2] in (2, 4):
        typer.echo(f"note: {path} has an alpha channel; it is ignored (RGB is inpainted).", err=True)
    if raw.shape[2] in (1, 2):
        typer.echo(f"note: {path} is grayscale; it is processed as RGB with equal channels.", err=True)
    return as_rgb(raw[..., :-1] if raw.shape[2] in (2, 4) else raw)


def inpaint(image: Annotated[Path, typer.Argument(help="image to repair (PNG/JPEG)")],
            mask: Annotated[Path, typer.Argument(help="mask PNG of the same size: white = fill, black = keep")],
            out: Annotated[Path, typer.Argument(help="where to write the result")],
            method: Annotated[str, typer.Option(help=METHOD_HELP)] = "biharmonic",
            models: Annotated[Path | None, typer.Option(help="deep weights directory (default: params)")] = None):
    """Fill the white region of MASK in IMAGE with METHOD; known pixels are copied unchanged."""
    from obscura.inpainting.inputs import check_inputs
    from obscura.inpainting.masks import load_mask
    from obscura.inpainting.methods import get_method
    from obscura.io import save_image

    picture, holes = check_inputs(_read_image(image), load_mask(mask))
    fn = get_method(method, _models_dir(models) if method not in _classical() else None)
    save_image(out, fn(picture, holes))
    typer.echo(f"{out}: filled {int(holes.sum())} pixels ({holes.mean():.1%}) with {method}")


def outpaint(image: Annotated[Path, typer.Argument(help="image to extend (PNG/JPEG)")],
             out: Annotated[Path, typer.Argument(help="where to write the result")],
             top: Annotated[int, typer.Option(help="pixels added above")] = 0,
             bottom: Annotated[int, typer.Option(help="pixels added below")] = 0,
             left: Annotated[int, typer.Option(help="pixels added on the left")] = 0,
             right: Annotated[int, typer.Option(help="pixels added on the right")] = 0,
             method: Annotated[str, typer.Option(help=METHOD_HELP)] = "criminisi",
             models: Annotated[Path | None, typer.Option(help="deep weights directory (default: params)")] = None):
    """Extend IMAGE by the given margins and fill them with METHOD."""
    from obscura.inpainting.methods import get_method
    from obscura.inpainting.outpaint import outpaint as run_outpaint
    from obscura.io import save_image

    fn = get_method(method, _models_dir(models) if method not in _classical() else None)
    result = run_outpaint(_read_image(image), fn, top=top, bottom=bottom, left=left, right=right)
    save_image(out, result)
    typer.echo(f"{out}: {result.shape[1]}x{result.shape[0]} with {method}")


def _classical() -> set[str]:
    from obscura.inpainting.classical import CLASSICAL

    return set(CLASSICAL)
