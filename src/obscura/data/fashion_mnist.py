"""Fashion-MNIST from Debian's ``dataset-fashion-mnist`` package (IDX files, gzip)."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from obscura.errors import DatasetMissingError, ObscuraError

FILES = {"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
         "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}


def read_idx(path: Path) -> np.ndarray:
    """Read a (gzipped) IDX file of unsigned bytes into an array of its declared shape."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        data = fh.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise ObscuraError(f"{path}: not an IDX file of unsigned bytes.")
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(shape)):
        raise ObscuraError(f"{path}: truncated IDX file ({body.size} values, header says {shape}).")
    return body.reshape(shape)


def load(directory: str | Path, split: str, limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 28, 28) uint8 and labels (N,) uint8 of ``split`` ('train' or 'test')."""
    if split not in FILES:
        raise ObscuraError(f"Fashion-MNIST split {split!r} does not exist; use 'train' or 'test'.")
    directory = Path(directory)
    paths = [directory / name for name in FILES[split]]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise DatasetMissingError(
            f"Fashion-MNIST not found: {', '.join(missing)}. It ships in the Debian package "
            "'dataset-fashion-mnist': run `make setup` (or `apt-get install dataset-fashion-mnist`).")
    images, labels = read_idx(paths[0]), read_idx(paths[1])
    if images.shape[0] != labels.shape[0]:
        raise ObscuraError(f"{directory}: {images.shape[0]} images but {labels.shape[0]} labels in split {split!r}.")
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    return np.ascontiguousarray(images), np.ascontiguousarray(labels)
