"""Build the prepared arrays (Fashion-MNIST, faces, digits, photo split) into one directory."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from obscura.data import fashion_mnist, shipped
from obscura.errors import ObscuraError
from obscura.io import save_image


def checksum(*arrays: np.ndarray) -> str:
    """sha256 over the arrays' bytes (shape and dtype included)."""
    h = hashlib.sha256()
    for a in arrays:
        h.update(f"{a.dtype}{a.shape}".encode())
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()[:16]


def prepare_all(params, out: Path, progress: Callable[[str], None] = lambda step: None) -> dict:
    """Write every prepared dataset under ``out`` (an empty directory); return flat metrics.

    ``params`` is a :class:`obscura.config.PrepareParams`.
    """
    unknown = sorted(set(params.heldout_photos) - set(shipped.PHOTOS))
    if unknown:
        raise ObscuraError(f"prepare.heldout_photos names unknown photos {unknown}; "
                           f"available: {', '.join(sorted(shipped.PHOTOS))}.")
    metrics: dict[str, object] = {}

    for split, limit in (("train", params.train_limit), ("test", params.test_limit)):
        progress(f"fashion-mnist {split}")
        x, y = fashion_mnist.load(params.fashion_mnist_dir, split, limit)
        np.savez(out / f"fashion_mnist_{split}.npz", x=x, y=y)
        metrics[f"fashion_mnist_{split}_count"] = int(x.shape[0])
        metrics[f"fashion_mnist_{split}_sha256"] = checksum(x, y)
    metrics["fashion_mnist_shape"] = "x".join(map(str, x.shape[1:]))

    progress("lfw faces")
    faces = shipped.lfw_faces(params.faces)
    np.savez(out / "faces.npz", x=faces)
    metrics.update(faces_count=int(faces.shape[0]), faces_shape="x".join(map(str, faces.shape[1:])),
                   faces_sha256=checksum(faces))

    progress("digits")
    dx, dy = shipped.digits()
    np.savez(out / "digits.npz", x=dx, y=dy)
    metrics.update(digits_count=int(dx.shape[0]), digits_sha256=checksum(dx, dy))

    manifest: dict[str, list[dict]] = {"train": [], "heldout": []}
    for name in sorted(shipped.PHOTOS):
        progress(f"photo {name}")
        split = "heldout" if name in params.heldout_photos else "train"
        image = shipped.photo(name, params.photo_size)
        rel = Path("photos") / split / f"{name}.png"
        save_image(out / rel, image)
        manifest[split].append({"name": name, "path": str(rel), "sha256": checksum(image),
                                "height": image.shape[0], "width": image.shape[1]})
    (out / "photos" / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    metrics.update(photos_train_count=len(manifest["train"]), photos_heldout_count=len(manifest["heldout"]),
                   photo_size=params.photo_size)
    return metrics


def load_fashion_mnist(prepared: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Prepared Fashion-MNIST split: images (N, 28, 28) uint8 and labels."""
    path = Path(prepared) / f"fashion_mnist_{split}.npz"
    if not path.is_file():
        raise ObscuraError(f"{path} is missing: run the `prepare` stage first (dvc repro prepare).")
    with np.load(path) as z:
        return z["x"], z["y"]


def load_photos(prepared: Path, split: str) -> dict[str, np.ndarray]:
    """Prepared photos of ``split`` ('train' or 'heldout') as name → RGB uint8 array."""
    import imageio.v3 as iio

    manifest_path = Path(prepared) / "photos" / "manifest.json"
    if not manifest_path.is_file():
        raise ObscuraError(f"{manifest_path} is missing: run the `prepare` stage first (dvc repro prepare).")
    manifest = json.loads(manifest_path.read_text())
    if split not in manifest:
        raise ObscuraError(f"photo split {split!r} does not exist; use 'train' or 'heldout'.")
    return {e["name"]: iio.imread(Path(prepared) / e["path"]) for e in manifest[split]}
