"""Texture sources: the photographs of the catalogue in :mod:`obscura.data.photos` (those shipped inside
scikit-image and scikit-learn, plus its texture-only images), and procedural images.

Every surface of a built-in scene gets its own photo (or its own crop of one), never a repeating tile:
repeated texture gives SfM self-similar matches that converge to wrong poses.

A scene names its surfaces' photos once; a texture *style* decides what is drawn for that name:

* ``photos``: the named photo itself (the built-in scenes' look);
* ``materials``: another shipped photo for every name (brick, grass, gravel, coins, cells, a cat, ...):
  grey natural textures with repetitive structure, unlike the built-ins' colour photos;
* ``procedural``: a dead-leaves image seeded by the name — random overlapping discs and rectangles of
  random colour at scales from 2 to 120 texels plus fine grain: no photo, no repeat, sharp corners.
"""

from __future__ import annotations

import sys
from functools import lru_cache

import numpy as np

from obscura.data import photos
from obscura.errors import ObscuraError

SOURCES: dict[str, photos.Photo] = {p.name: p for p in photos.CATALOGUE + photos.TEXTURE_ONLY}
# surfaces keep skimage.data's name for the photo the catalogue calls "hubble" (procedural textures are seeded by it)
ALIASES = {"hubble_deep_field": "hubble"}
# the built-in scenes' photo names -> the distinct shipped photo the ``materials`` style draws instead
MATERIALS = {"china": "gravel", "rocket": "brick", "coffee": "grass", "hubble_deep_field": "coins",
             "camera": "cell", "retina": "clock", "astronaut": "chelsea", "chelsea": "page",
             "flower": "moon", "immunohistochemistry": "text"}
STYLES = ("photos", "materials", "procedural")


@lru_cache(maxsize=None)
def photo(name: str) -> np.ndarray:
    """A catalogue photo at full resolution as float32 HxWx3 in [0, 1] (grayscale replicated to RGB)."""
    source = SOURCES.get(ALIASES.get(name, name))
    if source is None:
        raise ObscuraError(f"unknown texture photo {name!r}; choose from {sorted(SOURCES) + sorted(ALIASES)}.")
    image = source.load(min_side=sys.maxsize).astype(np.float32) / 255.0   # never decoded at a reduced scale
    image.setflags(write=False)
    return image


@lru_cache(maxsize=None)
def dead_leaves(seed_name: str, width: int = 1024, height: int = 768) -> np.ndarray:
    """Procedural float32 HxWx3 texture in [0, 1]: ~3,000 discs and rectangles of random colour, sizes
    drawn from a power law (many small, few large; later shapes occlude earlier ones), plus ±3 % grain.
    The same ``seed_name`` always gives the same image."""
    import zlib

    rng = np.random.default_rng(zlib.crc32(seed_name.encode()))
    image = np.repeat(rng.random(3).astype(np.float32)[None, None], height, 0).repeat(width, 1)
    yy, xx = np.mgrid[0:height, 0:width]
    sizes = 2.0 / (1 - rng.random(3000) * (1 - 2 / 120))  # Pareto-like radii in [2, 120] texels
    for r in np.sort(sizes)[::-1]:
        cx, cy = rng.random() * width, rng.random() * height
        x0, x1 = max(int(cx - r), 0), min(int(cx + r) + 1, width)
        y0, y1 = max(int(cy - r), 0), min(int(cy + r) + 1, height)
        if x0 >= x1 or y0 >= y1:
            continue
        colour = rng.random(3).astype(np.float32)
        if rng.random() < 0.5:
            inside = (xx[y0:y1, x0:x1] - cx) ** 2 + (yy[y0:y1, x0:x1] - cy) ** 2 <= r * r
            image[y0:y1, x0:x1][inside] = colour
        else:
            image[y0:y1, x0:x1] = colour
    image = np.clip(image + rng.normal(0, 0.03, image.shape).astype(np.float32), 0, 1)
    image.setflags(write=False)
    return image


def texture(name: str, style: str = "photos") -> np.ndarray:
    """What a surface named after photo ``name`` shows in texture ``style`` (see the module docstring)."""
    if style == "photos":
        return photo(name)
    if style == "materials":
        return photo(MATERIALS[name])
    if style == "procedural":
        return dead_leaves(name)
    raise ObscuraError(f"unknown texture style {style!r}; choose from {STYLES}.")


def crop(name: str, x0: float, y0: float, x1: float, y1: float, style: str = "photos") -> np.ndarray:
    """Crop of a texture given in relative coordinates (0..1 of width and height)."""
    image = texture(name, style)
    h, w = image.shape[:2]
    return image[round(y0 * h):round(y1 * h), round(x0 * w):round(x1 * w)]


def grid_crops(name: str, rows: int, cols: int, style: str = "photos") -> list[np.ndarray]:
    """Split a texture into ``rows x cols`` disjoint crops (row-major)."""
    return [crop(name, c / cols, r / rows, (c + 1) / cols, (r + 1) / rows, style)
            for r in range(rows) for c in range(cols)]


def strip(names: list[str], height: int, style: str = "photos") -> np.ndarray:
    """Textures resized to a common height and placed side by side (a panorama for walls)."""
    from skimage.transform import resize

    parts = []
    for n in names:
        image = texture(n, style)
        h, w = image.shape[:2]
        parts.append(resize(image, (height, round(w * height / h)), order=1, anti_aliasing=True))
    return np.concatenate(parts, axis=1).astype(np.float32)
