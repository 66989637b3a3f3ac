"""Classical inpainting methods: name -> function(image, mask) -> image."""

from obscura.inpainting.classical.exemplar import criminisi
from obscura.inpainting.classical.hybrid import hybrid
from obscura.inpainting.classical.pyramid import push_pull
from obscura.inpainting.classical.reference import navier_stokes, skimage_biharmonic, telea
from obscura.inpainting.classical.variational import biharmonic, harmonic, total_variation

CLASSICAL = {
    "harmonic": harmonic,
    "biharmonic": biharmonic,
    "total_variation": total_variation,
    "push_pull": push_pull,
    "telea": telea,
    "navier_stokes": navier_stokes,
    "skimage_biharmonic": skimage_biharmonic,
    "criminisi": criminisi,
    "hybrid": hybrid,
}

__all__ = ["CLASSICAL"]
