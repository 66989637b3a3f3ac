"""``obscura inpaint`` and ``obscura outpaint``: fill a masked region / extend an image.

Mount in cli.py with ``app.command("inpaint")(inpaint.inpaint)`` and
``app.command("outpaint")(inpaint.outpaint)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

METHOD_HELP = ("classical: harmonic, biharmonic, total_variation, push_pull, telea, navier_stokes, skimage_biharmonic, "
               "criminisi, hybrid; deep (weights trained by `make run`): single_stage, coarse_to_fine, edge_guided, "
               "progressive, diffusion")
Out = Annotated[Path, typer.Argument(help="image file to write: .png, .jpg, .tif or .bmp (.png/.tif keep 16 bits)")]
Models = Annotated[Path | None, typer.Option(help="deep weights directory (default: the project's "
                                                  "inpainting.models_dir)")]


def _method(name: str, models: Path | None):
    """Method NAME; deep weights come from MODELS or the project's ``inpainting.models_dir``."""
    from obscura.config import load_params, params_path
    from obscura.inpainting.classical import CLASSICAL
    from obscura.inpainting.methods import get_method
    from obscura.inpainting.params import InpaintingParams
    from obscura.paths import workspace_root

    if name in CLASSICAL or models is not None:
        return get_method(name, models)
    section = load_params().inpainting if params_path().is_file() else InpaintingParams()
    return get_method(name, workspace_root() / section.models_dir)


def _read_image(path: Path):
    """(RGB float image, bits per channel); grayscale is repeated to RGB and alpha dropped (both reported)."""
    from obscura.inpainting.inputs import as_rgb
    from obscura.io import float_image, read_image

    raw = read_image(path)
    image = float_image(raw)
    if image.shape[2] in (2, 4):
        typer.echo(f"note: {path} has an alpha channel; it is ignored (RGB is inpainted).", err=True)
    if image.shape[2] in (1, 2):
        typer.echo(f"note: {path} is grayscale; it is processed as RGB with equal channels.", err=True)
    return as_rgb(image[..., :-1] if image.shape[2] in (2, 4) else image), 16 if raw.dtype.name == "uint16" else 8


def _save(out: Path, image, bits: int) -> None:
    from obscura.io import holds_16_bits, save_image

    if bits == 16 and not holds_16_bits(out):
        typer.echo(f"note: the input has 16 bits per channel; {out.suffix} holds 8, so {out} is written with 8 "
                   "(use .png or .tif to keep 16).", err=True)
    save_image(out, image, bits=bits)


def inpaint(image: Annotated[Path, typer.Argument(help="image to repair (PNG/JPEG)")],
            mask: Annotated[Path, typer.Argument(help="mask of the same size: white (> 50% grey) = hole to fill, "
                                                      "black = keep")],
            out: Out,
            method: Annotated[str, typer.Option(help=METHOD_HELP)] = "harmonic",
            models: Models = None):
    """Fill the white region of MASK in IMAGE with METHOD; known pixels are copied unchanged."""
    from obscura.inpainting.inputs import check_inputs
    from obscura.inpainting.masks import load_mask
    from obscura.io import image_output

    image_output(out)
    picture, bits = _read_image(image)
    picture, holes = check_inputs(picture, load_mask(mask))
    _save(out, _method(method, models)(picture, holes), bits)
    typer.echo(f"{out}: filled {int(holes.sum())} pixels ({holes.mean():.1%}) with {method}")


def outpaint(image: Annotated[Path, typer.Argument(help="image to extend (PNG/JPEG)")],
             out: Out,
             top: Annotated[int, typer.Option(min=0, help="pixels added above")] = 0,
             bottom: Annotated[int, typer.Option(min=0, help="pixels added below")] = 0,
             left: Annotated[int, typer.Option(min=0, help="pixels added on the left")] = 0,
             right: Annotated[int, typer.Option(min=0, help="pixels added on the right")] = 0,
             method: Annotated[str, typer.Option(help=METHOD_HELP)] = "criminisi",
             models: Models = None):
    """Extend IMAGE by the given margins (at most ~1 megapixel in all) and fill them with METHOD."""
    from obscura.inpainting.outpaint import outpaint as run_outpaint
    from obscura.io import image_output

    image_output(out)
    picture, bits = _read_image(image)
    result = run_outpaint(picture, _method(method, models), top=top, bottom=bottom, left=left, right=right)
    _save(out, result, bits)
    typer.echo(f"{out}: {result.shape[1]}x{result.shape[0]} with {method}")
