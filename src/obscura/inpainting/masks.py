"""Seeded hole masks (free-form strokes, rectangles, centre boxes) in hole-ratio buckets, and outpainting strips."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from obscura.errors import ObscuraError

BUCKETS: tuple[tuple[int, int], ...] = ((1, 10), (10, 20), (20, 30), (30, 40), (40, 50), (50, 60))
KINDS = ("strokes", "rectangles", "box")
SIDES = ("left", "right", "top", "bottom")
OUTPAINT = "outpaint"  # mask kind and photo set name of the outpainting cases (strips of the held-out photos)


def bucket_name(bucket: tuple[int, int]) -> str:
    return f"{bucket[0]:02d}-{bucket[1]:02d}"


def bucket_of(ratio: float, buckets=BUCKETS) -> tuple[int, int] | None:
    """The bucket (percent bounds, lower inclusive) a hole ratio in [0, 1] falls in."""
    for lo, hi in buckets:
        if lo / 100 <= ratio < hi / 100:
            return (lo, hi)
    return None


def _strokes(shape, target, hi, rng):
    h, w = shape
    side = min(h, w)
    mask = np.zeros(shape, np.uint8)
    while mask.mean() < target:
        x, y = rng.uniform(0, w), rng.uniform(0, h)
        angle = rng.uniform(0, 2 * np.pi)
        width = max(2, int(round(rng.uniform(0.03, 0.09) * side)))
        for _ in range(int(rng.integers(3, 10))):
            angle += rng.uniform(-1.2, 1.2)
            length = rng.uniform(0.04, 0.12) * side
            nx = float(np.clip(x + length * np.cos(angle), 0, w - 1))
            ny = float(np.clip(y + length * np.sin(angle), 0, h - 1))
            trial = mask.copy()
            cv2.line(trial, (int(x), int(y)), (int(nx), int(ny)), 1, width)
            cv2.circle(trial, (int(nx), int(ny)), width // 2, 1, -1)
            if trial.mean() >= hi:
                break
            mask, x, y = trial, nx, ny
            if mask.mean() >= target:
                break
    return mask.astype(bool)


def _rectangles(shape, target, hi, rng):
    h, w = shape
    mask = np.zeros(shape, bool)
    while mask.mean() < target:
        need = (target - mask.mean()) * h * w
        area = rng.uniform(0.3, 1.0) * min(need * 1.5, 0.25 * h * w) + 4
        aspect = np.exp(rng.uniform(-1.0, 1.0))
        rh = int(np.clip(np.sqrt(area * aspect), 2, h))
        rw = int(np.clip(area / rh, 2, w))
        y0, x0 = int(rng.integers(0, h - rh + 1)), int(rng.integers(0, w - rw + 1))
        trial = mask.copy()
        trial[y0:y0 + rh, x0:x0 + rw] = True
        if trial.mean() < hi:
            mask = trial
    return mask


def _box(shape, target, hi, rng):
    h, w = shape
    aspect = np.exp(rng.uniform(-0.3, 0.3))
    area = target * h * w
    bh = int(np.clip(round(np.sqrt(area * aspect)), 1, h))
    bw = int(np.clip(round(area / bh), 1, w))
    jitter = 0.05
    cy = h / 2 + rng.uniform(-jitter, jitter) * h
    cx = w / 2 + rng.uniform(-jitter, jitter) * w
    y0 = int(np.clip(round(cy - bh / 2), 0, h - bh))
    x0 = int(np.clip(round(cx - bw / 2), 0, w - bw))
    mask = np.zeros(shape, bool)
    mask[y0:y0 + bh, x0:x0 + bw] = True
    return mask


_MAKERS = {"strokes": _strokes, "rectangles": _rectangles, "box": _box}


def random_mask(shape: tuple[int, int], bucket: tuple[int, int], kind: str,
                rng: np.random.Generator, tries: int = 100) -> np.ndarray:
    """A bool HxW mask (True = hole) of ``kind`` whose hole ratio lies in ``bucket`` (percent, [lo, hi))."""
    if kind not in _MAKERS:
        raise ObscuraError(f"unknown mask kind {kind!r}; choose one of {', '.join(KINDS)}.")
    lo, hi = bucket[0] / 100, bucket[1] / 100
    if not 0 <= lo < hi <= 1:
        raise ObscuraError(f"mask bucket {bucket} must satisfy 0 <= lo < hi <= 100 (percent).")
    for _ in range(tries):
        target = rng.uniform(lo, lo + 0.8 * (hi - lo))
        mask = _MAKERS[kind](shape, max(target, 1.0 / (shape[0] * shape[1])), hi, rng)
        if lo <= mask.mean() < hi:
            return mask
    raise ObscuraError(f"could not draw a {kind} mask of {shape} in bucket {bucket} after {tries} tries; "
                       "use a larger image or a wider bucket.")


def mask_set(shape: tuple[int, int], n_images: int, buckets=BUCKETS, kinds=KINDS, seed: int = 0) -> list[dict]:
    """The fixed evaluation masks: one per (image, bucket, kind).

    Returns dicts with ``image`` (index), ``bucket``, ``kind``, ``ratio``, ``mask`` and ``slot``: the case's
    rank in a seeded order of its (bucket, kind) cell, so the cases with ``slot < k`` are a seeded subset of
    k per cell (and the subsets for smaller k are nested in those for larger).
    """
    rng = np.random.default_rng(seed)
    out = []
    for bucket in buckets:
        for kind in kinds:
            slots = rng.permutation(n_images)
            for i in range(n_images):
                mask = random_mask(shape, tuple(bucket), kind, rng)
                out.append({"image": i, "bucket": tuple(bucket), "kind": kind, "ratio": float(mask.mean()),
                            "mask": mask, "slot": int(slots[i])})
    return out


def outpaint_mask(shape: tuple[int, int], side: str, extend: float) -> np.ndarray:
    """The strip on ``side`` (True = to fill) whose filling extends the rest of a ``shape`` image by ``extend``
    (a fraction of its width or height): what ``obscura outpaint`` adds, on a photo that has those pixels."""
    if side not in SIDES:
        raise ObscuraError(f"unknown side {side!r}; choose one of {', '.join(SIDES)}.")
    h, w = shape
    size = w if side in ("left", "right") else h
    strip = size - int(round(size / (1 + extend)))
    if not 0 < strip < size:
        raise ObscuraError(f"extending by {extend:g} leaves no strip to fill, or nothing known, on a {w}x{h} "
                           "image; use a fraction in (0, 1] on an image at least a few pixels wide.")
    mask = np.zeros(shape, bool)
    index = {"left": np.s_[:, :strip], "right": np.s_[:, size - strip:], "top": np.s_[:strip],
             "bottom": np.s_[size - strip:]}[side]
    mask[index] = True
    return mask


def outpaint_set(shape: tuple[int, int], n_images: int, extend: float, seed: int = 0) -> list[dict]:
    """One outpainting case per image: the strip of :func:`outpaint_mask` on a seeded side, with the keys of
    :func:`mask_set` (kind ``outpaint``, bucket the ten-percent decade of the hole ratio, seeded ``slot``)."""
    rng = np.random.default_rng(seed)
    slots, sides = rng.permutation(n_images), rng.integers(0, len(SIDES), n_images)
    out = []
    for i in range(n_images):
        mask = outpaint_mask(shape, SIDES[sides[i]], extend)
        lo = int(mask.mean() * 10) * 10
        out.append({"image": i, "bucket": (lo, lo + 10), "kind": OUTPAINT, "ratio": float(mask.mean()),
                    "mask": mask, "slot": int(slots[i])})
    return out


def photo_set(set_name: str) -> str:
    """The photo set a mask set's cases are drawn on (the outpainting strips are cut from the held-out photos)."""
    return "heldout" if set_name == OUTPAINT else set_name


def load_mask(path: str | os.PathLike) -> np.ndarray:
    """Read a mask image: white (> 0.5 luminance, alpha ignored) = hole. Returns bool HxW.

    A mask whose pixels are mostly mid-grey is rejected (it is probably a photo, not a mask).
    """
    from obscura.io import load_image

    path = Path(path)
    gray = load_image(path, channels=1)[..., 0]
    ambiguous = float(((gray > 0.1) & (gray < 0.9)).mean())
    if ambiguous > 0.05:
        raise ObscuraError(f"{path}: {ambiguous:.0%} of the mask pixels are grey; a mask must be black "
                           "(keep) and white (fill). Threshold it to two levels first.")
    return gray > 0.5


def write_mask_set(masks_dir: str | os.PathLike, sets: dict[str, tuple[list[dict], list[str]]]) -> list[dict]:
    """Write :func:`mask_set` cases of each photo set (name -> (cases, photo names)) atomically: one PNG per
    case (white = hole) and ``index.json`` listing set, file, image name, bucket, kind, slot and hole ratio.
    Returns the index."""
    import json

    from obscura.io import atomic_dir, save_image

    index = []
    with atomic_dir(masks_dir) as tmp:
        for set_name, (cases, names) in sets.items():
            for case in cases:
                image = names[case["image"] % len(names)]
                rep = case["image"] // len(names)
                file = f"{set_name}_{image}_{bucket_name(case['bucket'])}_{case['kind']}_{rep}.png"
                save_image(tmp / file, case["mask"].astype("uint8") * 255)
                index.append({"set": set_name, "file": file, "image": image, "bucket": list(case["bucket"]),
                              "kind": case["kind"], "slot": case["slot"], "ratio": round(case["ratio"], 6)})
        (tmp / "index.json").write_text(json.dumps(index, indent=2) + "\n")
    return index


def read_mask_set(masks_dir: str | os.PathLike) -> list[dict]:
    """The cases of :func:`write_mask_set` with their masks loaded (``bucket`` as a tuple)."""
    import json

    masks_dir = Path(masks_dir)
    index_path = masks_dir / "index.json"
    if not index_path.is_file():
        raise ObscuraError(f"{index_path} is missing: run the `masks` stage first (dvc repro masks).")
    return [{**e, "bucket": tuple(e["bucket"]), "mask": load_mask(masks_dir / e["file"])}
            for e in json.loads(index_path.read_text())]
