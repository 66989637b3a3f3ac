"""User photos (a folder, or a video) -> a scene directory (``images/`` + ``scene.json``).

Photos are rotated upright from their EXIF orientation, converted to 8-bit RGB, optionally
downscaled so the longest side is at most ``max_size``, and written as PNG in name order. Their EXIF
35 mm-equivalent focal length, when present, becomes ``focal_prior_px`` in scene.json (SfM's initial focal).
Video frames are sampled at a rate, then blurry and redundant ones are dropped (listed in scene.json).
Anything that is not a readable image is rejected up front with the full list of bad files.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from obscura.errors import ObscuraError

VIDEO_SUFFIXES = {".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v"}
MIN_IMAGES = 3


class BadImagesError(ObscuraError):
    """Some input files are not usable images (the message lists them)."""


def _open_upright(path: Path):
    """PIL image, EXIF-rotated and fully decoded; raises with a short reason for bad files."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im.verify()  # structure check (catches many corrupt files cheaply)
        im = Image.open(path)
        im = ImageOps.exif_transpose(im)
        im.load()       # full decode: truncated/corrupt data fails here
    except UnidentifiedImageError:
        raise ValueError("not an image (unrecognised file format)") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ValueError(f"corrupt or truncated image ({exc})") from None
    return im


def image_files(folder: Path) -> list[Path]:
    """Visible regular files of ``folder`` in name order (every one must turn out to be an image)."""
    if not folder.is_dir():
        raise ObscuraError(f"{folder}: not a directory. Pass a folder of photos (or a video file).")
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))


def image_sizes(paths: list[Path], what: str) -> list[tuple[int, int]]:
    """Decode every file (upright) and return its size; one :class:`BadImagesError` lists all that fail."""
    bad, sizes = [], []
    for p in paths:
        try:
            with _open_upright(p) as im:
                sizes.append(im.size)
        except ValueError as exc:
            bad.append(f"  {p.name}: {exc}")
    if bad:
        raise BadImagesError(f"{len(bad)} of {len(paths)} {what} are not usable images:\n" + "\n".join(bad)
                             + "\nRemove these files or re-export them as PNG/JPEG, then run again.")
    return sizes


def require_count(names: list[str], what: str) -> None:
    if len(names) < MIN_IMAGES:
        raise BadImagesError(f"{what}: found {len(names)} image(s) ({', '.join(names) or 'none'}); "
                             f"structure-from-motion needs at least {MIN_IMAGES} overlapping photos of the scene. "
                             "Add more photos taken from different positions.")


def require_one_size(sizes: list[tuple[int, int]], names: list[str], what: str) -> tuple[int, int]:
    groups: dict[tuple[int, int], list[str]] = {}
    for size, n in zip(sizes, names):
        groups.setdefault(tuple(size), []).append(n)
    if len(groups) > 1:
        lines = [f"  {w}x{h}: {', '.join(v[:8])}{' ...' if len(v) > 8 else ''}"
                 for (w, h), v in sorted(groups.items(), key=lambda kv: -len(kv[1]))]
        raise BadImagesError(f"{what} have {len(groups)} different sizes:\n" + "\n".join(lines)
                             + "\nAll photos of a scene must share one size and orientation (one camera setting): "
                               "remove the odd ones out or crop/resize them to one size, then run again.")
    return next(iter(groups))


def check_images(paths: list[Path], what: str = "images") -> tuple[int, int]:
    """Validate reconstruction inputs: >= 3 readable images of one size. Returns (width, height)."""
    sizes = image_sizes(paths, what)
    require_count([p.name for p in paths], what)
    return require_one_size(sizes, [p.name for p in paths], what)


def exif_focal_35mm(path: Path) -> float | None:
    """The photo's EXIF ``FocalLengthIn35mmFilm`` (mm), or None."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            value = im.getexif().get_ifd(0x8769).get(0xA405)
    except (OSError, SyntaxError, ValueError):
        return None
    return float(value) if value else None


def focal_prior_px(focals_35mm: list[float | None], width: int, height: int) -> float | None:
    """Focal length in pixels at ``width`` x ``height`` from 35 mm-equivalent focals (36 mm along the long side):
    the median of the photos that have one, or None when none does."""
    known = [f for f in focals_35mm if f]
    return float(np.median(known)) / 36.0 * max(width, height) if known else None


def _target_size(size: tuple[int, int], max_size: int | None) -> tuple[int, int]:
    w, h = size
    if max_size is None or max(w, h) <= max_size:
        return w, h
    s = max_size / max(w, h)
    return max(1, round(w * s)), max(1, round(h * s))


def _normalised(image, max_size: int | None):
    """8-bit RGB, downscaled (Lanczos) so the longest side is at most ``max_size``."""
    from PIL import Image

    image = image.convert("RGB")
    size = _target_size(image.size, max_size)
    return image if size == image.size else image.resize(size, Image.Resampling.LANCZOS)


def video_frames(path: Path, fps: float) -> list[np.ndarray]:
    """RGB frames sampled at ``fps`` frames per second (OpenCV's FFmpeg reader)."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise ObscuraError(f"{path}: cannot open this video. Re-encode it as H.264 MP4, or extract photos.")
    native = cap.get(cv2.CAP_PROP_FPS) or fps
    step = max(native / fps, 1.0)
    frames, index, next_take = [], 0, 0.0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        if index >= next_take - 1e-6:
            frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
            next_take += step
        index += 1
    cap.release()
    if not frames:
        raise ObscuraError(f"{path}: no frames could be decoded. Re-encode it as H.264 MP4.")
    return frames


def select_frames(frames: list[np.ndarray], blur_ratio: float = 0.4,
                  min_change: float = 1.0) -> tuple[list[int], dict[str, list[int]]]:
    """Indices of the frames worth reconstructing, and the dropped ones by reason: ``blurry`` (variance of the
    Laplacian below ``blur_ratio`` × the median frame's: motion blur) and ``redundant`` (mean absolute
    difference to the last kept frame below ``min_change`` grey levels: the camera did not move)."""
    import cv2

    grey = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames]
    sharpness = np.array([cv2.Laplacian(g, cv2.CV_64F).var() for g in grey])
    floor = blur_ratio * float(np.median(sharpness))
    keep, dropped = [], {"blurry": [], "redundant": []}
    for i, g in enumerate(grey):
        if sharpness[i] < floor:
            dropped["blurry"].append(i)
        elif keep and float(np.abs(g.astype(np.float32) - grey[keep[-1]]).mean()) < min_change:
            dropped["redundant"].append(i)
        else:
            keep.append(i)
    return keep, dropped


def ingest(source: str | os.PathLike, scene_dir: str | os.PathLike, max_size: int | None = 1600,
           video_fps: float = 2.0, test_every: int = 8, name: str | None = None, progress: bool = True) -> dict:
    """Copy and normalise photos (or video frames) from ``source`` into a new scene at ``scene_dir``."""
    from PIL import Image
    from tqdm import tqdm

    from obscura.io import atomic_dir
    from obscura.rendering.scene_format import write_scene_json

    source, scene_dir = Path(source), Path(scene_dir)
    if source.is_file() and source.suffix.lower() in VIDEO_SUFFIXES:
        frames = video_frames(source, video_fps)
        kept, dropped = select_frames(frames)
        stems = [f"frame_{i:05d}" for i in kept]
        frames = [frames[i] for i in kept]
        sizes = [(f.shape[1], f.shape[0]) for f in frames]
        load = lambda i: Image.fromarray(frames[i])  # noqa: E731
        kind = "video"
        focals = []
    else:
        if source.is_file():
            raise ObscuraError(f"{source}: a single file that is not a video ({', '.join(sorted(VIDEO_SUFFIXES))}). "
                               "Pass a folder of photos or a video.")
        paths = image_files(source)
        sizes = image_sizes(paths, f"files in {source}")
        stems = [p.stem for p in paths]
        load = lambda i: _open_upright(paths[i])  # noqa: E731
        kind = "photos"
        focals = [exif_focal_35mm(p) for p in paths]
        dropped = {}
    require_count(stems, str(source))
    if len(set(stems)) != len(stems):
        stems = [f"{i:05d}_{s}" for i, s in enumerate(stems)]
    w, h = require_one_size([_target_size(s, max_size) for s in sizes], stems,
                            f"photos in {source} (after EXIF rotation{' and downscaling' if max_size else ''})")
    names = [f"{s}.png" for s in stems]
    with atomic_dir(scene_dir) as tmp:
        (tmp / "images").mkdir()
        for i, n in enumerate(tqdm(names, desc="ingest", disable=not progress)):
            with load(i) as im:
                _normalised(im, max_size).save(tmp / "images" / n)
        focal = focal_prior_px(focals, w, h)
        prior = {"focal_prior_px": focal, "focal_prior_source": "EXIF FocalLengthIn35mmFilm"} if focal else {}
        if dropped:
            prior["dropped_frames"] = {k: [f"frame_{i:05d}" for i in v] for k, v in dropped.items()}
        write_scene_json(tmp, name or scene_dir.name, kind, str(source), w, h, names, test_every,
                         max_size=max_size, **prior)
    return {"num_images": len(names), "width": w, "height": h,
            **({"dropped_frames": sum(len(v) for v in dropped.values())} if dropped else {})}
