"""Build the prepared arrays (Fashion-MNIST, faces, digits, photo splits) into one directory."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from obscura.data import fashion_mnist, shipped
from obscura.data import photos as photo_set
from obscura.errors import ObscuraError
from obscura.io import save_image


def checksum(*arrays: np.ndarray) -> str:
    """sha256 over the arrays' bytes (shape and dtype included)."""
    h = hashlib.sha256()
    for a in arrays:
        h.update(f"{a.dtype}{a.shape}".encode())
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()[:16]


def _resize(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    from skimage.transform import resize

    out = resize(image, shape, order=3, anti_aliasing=True, preserve_range=True)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def square_photo(photo: photo_set.Photo, size: int) -> np.ndarray:
    """The photo's centre square resized to ``size`` x ``size`` (RGB uint8): held-out and unseen photos."""
    image = photo.load(size)
    h, w = image.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    return _resize(image[top:top + side, left:left + side], (size, size))


def training_photo(photo: photo_set.Photo, side: int) -> np.ndarray:
    """The whole photo with its shorter side at ``side`` (never upscaled; RGB uint8): room for crops at
    several scales."""
    image = photo.load(side)
    h, w = image.shape[:2]
    scale = min(1.0, side / min(h, w))
    return image if scale == 1.0 else _resize(image, (round(h * scale), round(w * scale)))


def prepare_all(params, out: Path, progress: Callable[[str], None] = lambda step: None) -> tuple[dict, dict]:
    """Write every prepared dataset under ``out`` (an empty directory); return the metrics (flat counts and
    checksums) and the photos' provenance (name -> split, package, version, file, licence, credit; also in
    ``photos/manifest.json``).

    ``params`` is a :class:`obscura.config.PrepareParams`.
    """
    photo_set.check_installed()
    splits = photo_set.split(params.photo_splits.heldout, params.photo_splits.unseen,
                                params.photo_seed)
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

    manifest: dict[str, list[dict]] = {name: [] for name in photo_set.SPLITS}
    sources = {}
    for split in photo_set.SPLITS:
        for name in splits[split]:
            progress(f"photo {name}")
            photo = photo_set.PHOTOS[name]
            image = (training_photo(photo, params.train_photo_side) if split == "train"
                     else square_photo(photo, params.photo_size))
            rel = Path("photos") / split / f"{name}.png"
            save_image(out / rel, image)
            sources[name] = {"split": split, **photo.source()}
            manifest[split].append({"name": name, "path": str(rel), "sha256": checksum(image),
                                    "height": image.shape[0], "width": image.shape[1], "source": sources[name]})
    (out / "photos" / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    metrics.update({f"photos_{split}_count": len(manifest[split]) for split in photo_set.SPLITS},
                   photo_size=params.photo_size, train_photo_side=params.train_photo_side)
    return metrics, sources


def load_fashion_mnist(prepared: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Prepared Fashion-MNIST split: images (N, 28, 28) uint8 and labels."""
    path = Path(prepared) / f"fashion_mnist_{split}.npz"
    if not path.is_file():
        raise ObscuraError(f"{path} is missing: run the `prepare` stage first (dvc repro prepare).")
    with np.load(path) as z:
        return z["x"], z["y"]


def load_photos(prepared: Path, split: str) -> dict[str, np.ndarray]:
    """Prepared photos of ``split`` ('train', 'heldout' or 'unseen') as name → RGB uint8 array."""
    import imageio.v3 as iio

    manifest_path = Path(prepared) / "photos" / "manifest.json"
    if not manifest_path.is_file():
        raise ObscuraError(f"{manifest_path} is missing: run the `prepare` stage first (dvc repro prepare).")
    manifest = json.loads(manifest_path.read_text())
    if split not in manifest:
        raise ObscuraError(f"photo split {split!r} does not exist; use one of {', '.join(manifest)}.")
    return {e["name"]: iio.imread(Path(prepared) / e["path"]) for e in manifest[split]}
