"""Natural photographs that ship inside installed packages (PyPI wheels, Debian wallpaper packages), each
with its package, licence and credit, and the seeded split of them into train / held-out / unseen.

Only photographs (no renders, paintings or text). Debian's ``opencv-doc`` samples are reserved for an
independent benchmark and the LFW faces belong to the generative track: neither is listed here.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import math
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from obscura.errors import DatasetMissingError, ObscuraError

SPLITS = ("train", "heldout", "unseen")


@dataclass(frozen=True)
class Photo:
    """One photograph: ``file`` is relative to the Python module ``module`` (PyPI) or absolute (Debian)."""

    name: str
    package: str
    registry: str
    file: str
    licence: str
    credit: str
    module: str = ""

    def path(self) -> Path:
        if self.registry == "debian":
            return Path(self.file)
        try:
            spec = importlib.util.find_spec(self.module)
        except ModuleNotFoundError:             # a parent package of the module is missing
            spec = None
        if spec is None or spec.origin is None:
            raise DatasetMissingError(f"photo {self.name!r} ships in the Python package {self.package!r}, which "
                                      "is not installed: run `make setup`.")
        return Path(spec.origin).parent / self.file

    def version(self) -> str:
        if self.registry == "pypi":
            return importlib.metadata.version(self.package)
        out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", self.package], capture_output=True, text=True)
        return out.stdout.strip() if out.returncode == 0 else "unknown"

    def location(self) -> str:
        """Where the file ships, the same on every machine: ``module/file`` for a wheel (e.g.
        ``skimage.data/astronaut.png``, not a path inside one virtualenv), the absolute path for Debian."""
        return self.file if self.registry == "debian" else f"{self.module}/{self.file}"

    def source(self) -> dict[str, str]:
        """Provenance as recorded in the manifest and reports/photo_sources.json."""
        return {"package": self.package, "registry": self.registry, "version": self.version(),
                "file": self.location(), "licence": self.licence, "credit": self.credit}

    def load(self, min_side: int) -> np.ndarray:
        """RGB uint8 at full resolution, or (JPEG) decoded at a reduced scale whose shorter side is still
        at least ``min_side``."""
        from PIL import Image

        path = self.path()
        try:
            with Image.open(path) as im:
                w, h = im.size
                scale = min_side / min(w, h)
                if scale < 1:
                    im.draft("RGB", (math.ceil(w * scale), math.ceil(h * scale)))
                return np.asarray(im.convert("RGB"))
        except (OSError, ValueError) as exc:
            raise ObscuraError(f"photo {self.name!r}: cannot read {path} ({exc}); reinstall the package "
                               f"{self.package!r}.") from exc


def _pypi(package: str, module: str, licence: str, credit: str, **files: str) -> list[Photo]:
    return [Photo(name, package, "pypi", file, licence, credit, module) for name, file in files.items()]


def _debian(package: str, folder: str, licence: str, **files: tuple[str, str]) -> list[Photo]:
    """``files``: name -> (file under ``folder``, credit)."""
    return [Photo(name, package, "debian", f"{folder}/{file}", licence, credit)
            for name, (file, credit) in files.items()]


_SK = "scikit-image"
_PLASMA = "/usr/share/wallpapers"
_LOMIRI = "/usr/share/backgrounds"
_CC_BY = "CC-BY-4.0"
_CC_BY_SA = "CC-BY-SA-4.0"

CATALOGUE: tuple[Photo, ...] = tuple([
    *_pypi(_SK, "skimage.data", "public domain", "NASA", astronaut="astronaut.png",
           hubble="hubble_deep_field.jpg"),
    *_pypi(_SK, "skimage.data", "CC0-1.0", "scikit-image data (docstrings of skimage.data)", coffee="coffee.png",
           chelsea="chelsea.png", camera="camera.png", retina="retina.jpg", brick="brick.png", grass="grass.png",
           gravel="gravel.png"),
    *_pypi(_SK, "skimage.data", "public domain", "scikit-image data (docstrings of skimage.data)",
           rocket="rocket.jpg", clock="clock_motion.png"),
    *_pypi(_SK, "skimage.data", "no known copyright restrictions", "scikit-image data (docstrings of skimage.data)",
           coins="coins.png", immunohistochemistry="ihc.png"),
    *_pypi(_SK, "skimage.data", "not stated (distributed in scikit-image, BSD-3-Clause)", "scikit-image data",
           moon="moon.png"),
    *_pypi(_SK, "skimage.data", "Middlebury 2014 stereo dataset (distributed in scikit-image)",
           "Middlebury College", motorcycle="motorcycle_left.png"),
    *_pypi("scikit-learn", "sklearn.datasets", "CC-BY-2.0", "Flickr users (sklearn/datasets/images/README.txt)",
           china="images/china.jpg", flower="images/flower.jpg"),
    *_pypi("matplotlib", "matplotlib", "public domain (U.S. Navy photograph)", "U.S. Navy",
           portrait="mpl-data/sample_data/grace_hopper.jpg"),
    *_debian("mate-backgrounds", "/usr/share/backgrounds/mate/nature", "GPL-2+",
             aqua=("Aqua.jpg", "Charles Barbin"), blinds=("Blinds.jpg", "Lennart Poettering, Andrea Cimitan"),
             dune=("Dune.jpg", "Marco Cogoni, Hylke Bons"), freshflower=("FreshFlower.jpg", "Jens Ansorg"),
             garden=("Garden.jpg", "Charles Barbin"), greenmeadow=("GreenMeadow.jpg", "Timothy Schellhase"),
             ladybird=("LadyBird.jpg", "Charles Barbin"), raindrops=("RainDrops.jpg", "blackcombwhistler07"),
             storm=("Storm.jpg", "Sergey Nazarov"), twowings=("TwoWings.jpg", "Charles Barbin, Hylke Bons"),
             wood=("Wood.jpg", "Jean-François Fortin Tam"), yellowflower=("YellowFlower.jpg", "Charles Barbin")),
    *_debian("lomiri-wallpapers-16.04", _LOMIRI, _CC_BY,
             aitzgorri=("aitzgorri_by_Aitzol_Berasategi.jpg", "Aitzol Berasategi"),
             friends=("friends_by_Aitzol_Berasategi.jpg", "Aitzol Berasategi"),
             life=("life_by_Aitzol_Berasategi.jpg", "Aitzol Berasategi"),
             picosdeeuropa=("picosdeeuropa_by_Aitzol_Berasategi.jpg", "Aitzol Berasategi"),
             sunset=("sunset_by_Aitzol_Berasategi.jpg", "Aitzol Berasategi"),
             picture_0b=("Picture_0B_by_freespace.jpg", "Trevor Freespace"),
             picture_1a=("Picture_1A_by_freespace.jpg", "Trevor Freespace"),
             wine=("Wine_by_Jakkub_Mede.jpg", "Jakub Mede")),
    *_debian("lomiri-wallpapers-16.04", _LOMIRI, _CC_BY_SA,
             bridge=("Bridge_by_Sander_Klootwijk.jpg", "Sander Klootwijk"),
             dragonfly=("Dragonfly_by_Bolly.jpg", "Bolly"),
             free=("free_by_Peter_Nerlich.jpg", "Peter Nerlich"),
             greentock=("greentock_by_Peter_Nerlich.jpg", "Peter Nerlich")),
    *_debian("lomiri-wallpapers-16.04", _LOMIRI, "CC0-1.0",
             seeding=("seeding_by_Clements_Engelhardt.jpg", "Clemens Engelhardt")),
    *_debian("lomiri-wallpapers-20.04", _LOMIRI, "CC-BY-SA-3.0",
             kleiber=("Kleiber_by_Lukas_Baubkus.jpg", "Lukas Baubkus")),
    *_debian("plasma-workspace-wallpapers", _PLASMA, "GPL-2+ (Debian copyright); LGPL-3.0 (metadata.json)",
             bythewater=("BytheWater/contents/images/1920x1200.jpg", "Maciej Wiklo"),
             coldripple=("ColdRipple/contents/images/1920x1200.jpg", "Risto Saukonpää"),
             colorfulcups=("ColorfulCups/contents/images/2560x1600.jpg", "Dmitri Popov"),
             darkesthour=("DarkestHour/contents/images/1920x1200.jpg", "Risto Saukonpää"),
             eveningglow=("EveningGlow/contents/images/1920x1200.jpg", "Ian Hex"),
             fallenleaf=("FallenLeaf/contents/images/1920x1200.jpg", "Martin Klapetek"),
             grey=("Grey/contents/images/1920x1200.jpg", "Sigi Sagi"),
             kite=("Kite/contents/images/1920x1200.jpg", "Risto Saukonpää"),
             onestandsout=("OneStandsOut/contents/images/1920x1200.jpg", "Risto Saukonpää"),
             path=("Path/contents/images/1920x1200.jpg", "Risto Saukonpää"),
             summer_1am=("summer_1am/contents/images/1920x1200.jpg", "Risto Saukonpää")),
])
PHOTOS: dict[str, Photo] = {p.name: p for p in CATALOGUE}
DEBIAN_PACKAGES = tuple(sorted({p.package for p in CATALOGUE if p.registry == "debian"}))
# Shipped images the built-in scenes use only as textures (microscopy, a scanned page, text): not natural
# photographs, so no part of the catalogue or its split.
TEXTURE_ONLY: tuple[Photo, ...] = tuple([
    *_pypi(_SK, "skimage.data", "CC0-1.0", "Paul Müller et al. (docstring of skimage.data.cell)", cell="cell.png"),
    *_pypi(_SK, "skimage.data", "not stated (distributed in scikit-image, BSD-3-Clause)", "scikit-image data",
           page="page.png"),
    *_pypi(_SK, "skimage.data", "public domain", "Wikipedia File:Corner.png (docstring of skimage.data.text)",
           text="text.png"),
])


def _installed(photo: Photo) -> bool:
    try:
        return photo.path().is_file()
    except DatasetMissingError:                 # its Python module is not importable
        return False


def check_installed(photos: tuple[Photo, ...] | None = None) -> None:
    """Raise one DatasetMissingError naming every package (Debian or Python) whose photo files are missing."""
    photos = CATALOGUE if photos is None else photos
    missing = {registry: sorted({p.package for p in photos if p.registry == registry and not _installed(p)})
               for registry in ("debian", "pypi")}
    if missing["debian"] or missing["pypi"]:
        how = [f"`apt-get install {' '.join(missing['debian'])}`" if missing["debian"] else "",
               f"`pip install {' '.join(missing['pypi'])}`" if missing["pypi"] else ""]
        raise DatasetMissingError(
            f"photos missing: the packages {', '.join(missing['debian'] + missing['pypi'])} are not installed (or "
            f"lack their files): run `make setup` (or {' and '.join(h for h in how if h)}).")


def split(heldout: int, unseen: int, seed: int, photos: tuple[Photo, ...] | None = None) -> dict[str, list[str]]:
    """Seeded split stratified by package: each package's photos are shuffled and spread evenly over one
    order, of which the held-out split takes the first ``heldout`` names and the unseen split the next
    ``unseen``; the rest train. The same seed and catalogue give the same split."""
    photos = CATALOGUE if photos is None else photos
    need = heldout + unseen
    if need >= len(photos):
        raise ObscuraError(f"photo splits ask for {need} held-out and unseen photos but the catalogue holds "
                           f"{len(photos)}; leave some for training.")
    rng = np.random.default_rng(seed)
    keys = {}
    for package in sorted({p.package for p in photos}):
        names = sorted(p.name for p in photos if p.package == package)
        for rank, i in enumerate(rng.permutation(len(names))):
            keys[names[i]] = ((rank + rng.random()) / len(names), names[i])
    order = sorted(keys, key=keys.get)
    return {"heldout": sorted(order[:heldout]), "unseen": sorted(order[heldout:need]),
            "train": sorted(order[need:])}
