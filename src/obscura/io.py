"""Atomic file output, JSON, CSV and image I/O shared by every stage."""

from __future__ import annotations

import csv
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from obscura.errors import ObscuraError


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary file path beside ``path``; rename it onto ``path`` only on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + path.suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield an empty temporary directory that replaces ``path`` as a whole on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())
        if path.exists():
            old = path.with_name(f".{path.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json(path: str | os.PathLike, obj) -> Path:
    """Write ``obj`` as indented, key-sorted JSON atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")
    return Path(path)


def write_torch(path: str | os.PathLike, obj) -> Path:
    """``torch.save`` atomically, through a file object: given a path, torch names the archive inside after the
    (temporary) file, so the same content would give different bytes (and DVC hashes) on every run."""
    import torch

    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        torch.save(obj, f)
    return Path(path)


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Convert a float image in [0, 1] (or uint8) to uint8."""
    image = np.asarray(image)
    if image.dtype == np.uint8:
        return image
    return (np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")


def image_output(path: str | os.PathLike) -> Path:
    """``path`` if an image can be written there (known format, not a folder), else one ObscuraError."""
    path = Path(path)
    if path.is_dir():
        raise ObscuraError(f"{path}: is a folder; give the file to write, e.g. {path / 'result.png'}.")
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        what = f"unknown image format {path.suffix!r}" if path.suffix else "no file extension"
        raise ObscuraError(f"{path}: {what}; end the name in one of {', '.join(IMAGE_SUFFIXES)}.")
    return path


def holds_16_bits(path: str | os.PathLike) -> bool:
    """Whether the image format of ``path`` (by suffix) can store 16 bits per channel (PNG, TIFF)."""
    return Path(path).suffix.lower() in (".png", ".tif", ".tiff")


def save_image(path: str | os.PathLike, image: np.ndarray, bits: int = 8) -> Path:
    """Save an HxW or HxWxC image (float in [0, 1] or uint8) atomically; format from the suffix.

    ``bits=16`` writes 16 bits per channel where the format holds them (:func:`holds_16_bits`).
    """
    import imageio.v3 as iio

    path = image_output(path)
    sixteen = bits == 16 and holds_16_bits(path)
    image = (np.clip(image, 0.0, 1.0) * 65535.0 + 0.5).astype(np.uint16) if sixteen else to_uint8(image)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]
    colour_png16 = sixteen and image.ndim == 3 and path.suffix.lower() == ".png"    # Pillow cannot write these
    with atomic_path(path) as tmp:
        iio.imwrite(tmp, image, extension=path.suffix, plugin="opencv" if colour_png16 else None)
    return path


def read_image(path: str | os.PathLike) -> np.ndarray:
    """An image file's pixels as stored: HxW or HxWxC, uint8, or uint16 for 16-bit PNG/TIFF."""
    import imageio.v3 as iio

    path = Path(path)
    if not path.is_file():
        raise ObscuraError(f"{path}: no such image file.")
    with open(path, "rb") as fh:
        header = fh.read(26)
    sixteen_bit_png = header[:8] == b"\x89PNG\r\n\x1a\n" and header[24:25] == b"\x10"
    try:
        if sixteen_bit_png:  # Pillow would read a 16-bit colour PNG as 8 bits; OpenCV keeps all 16
            import cv2

            image = np.asarray(iio.imread(path, plugin="opencv", flags=cv2.IMREAD_UNCHANGED))
        else:
            image = np.asarray(iio.imread(path))
    except Exception as exc:  # imageio raises many types for unreadable files
        raise ObscuraError(f"{path}: not a readable image ({exc.__class__.__name__}). "
                           "Pass a PNG or JPEG file.") from exc
    if image.ndim not in (2, 3) or image.size == 0:
        raise ObscuraError(f"{path}: expected a single 2-D image, got array of shape {image.shape}.")
    return image


def float_image(image: np.ndarray) -> np.ndarray:
    """Pixels as stored (:func:`read_image`) as float32 HxWxC in [0, 1]."""
    if image.dtype == np.uint16:
        image = image.astype(np.float32) / 65535.0
    elif image.dtype == np.uint8:
        image = image.astype(np.float32) / 255.0
    elif image.dtype == bool:
        image = image.astype(np.float32)
    else:
        image = image.astype(np.float32)
        if image.max() > 1.0:
            image = image / 255.0
    return image[..., None] if image.ndim == 2 else image


def load_image(path: str | os.PathLike, channels: int | None = 3) -> np.ndarray:
    """Load an image as float32 HxWxC in [0, 1] (16-bit files keep their precision).

    ``channels=3`` converts grayscale to RGB and drops alpha (composited on black is not done:
    alpha is simply discarded); ``channels=1`` converts to luminance; ``None`` keeps the file's channels.
    """
    image = float_image(read_image(path))
    if channels is None:
        return image
    if image.shape[2] in (2, 4):
        image = image[..., :-1]
    if channels == 3 and image.shape[2] == 1:
        image = np.repeat(image, 3, axis=2)
    elif channels == 1 and image.shape[2] == 3:
        image = (image @ np.array([0.299, 0.587, 0.114], np.float32))[..., None]
    return np.ascontiguousarray(image)


def write_csv(path: str | os.PathLike, rows: list[dict], first: tuple[str, ...] = ()) -> Path:
    """Write dict rows as CSV atomically; columns ``first`` lead, the rest (union over rows) sorted."""
    keys = [k for k in first if any(k in r for r in rows)]
    keys += sorted({k for r in rows for k in r} - set(keys))
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)
    return Path(path)
