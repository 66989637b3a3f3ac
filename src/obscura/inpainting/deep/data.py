"""Training batches: random crops of training photos at several scales, flipped, with hole masks drawn on
the fly by the evaluation's mask generator."""

from __future__ import annotations

import cv2
import numpy as np
import torch

from obscura.errors import ObscuraError
from obscura.inpainting.masks import BUCKETS, random_mask


class CropSampler:
    """Seeded batches {image (B,3,c,c), hole (B,1,c,c)[, edges]} from a list of HxWx3 float images.

    Each crop covers a square of side ``c * s`` (``s`` log-uniform in ``scales``, capped by the photo) resized
    to ``c``, mirrored left-right half of the time. Each mask is a fresh :func:`random_mask` of a random
    bucket and kind: the generator of the evaluation masks.
    """

    def __init__(self, images: list[np.ndarray], crop: int, kinds=("strokes", "rectangles", "box"),
                 buckets=BUCKETS, seed: int = 0, edges: bool = False, scales: tuple[float, float] = (1.0, 1.0)):
        if not images:
            raise ObscuraError("no training images: run the `prepare` stage (data/prepared/photos/train).")
        small = [im.shape[:2] for im in images if min(im.shape[:2]) < crop]
        if small:
            raise ObscuraError(f"training crop {crop}px is larger than images of size {small[0]}; lower crop.")
        if not 1.0 <= scales[0] <= scales[1]:
            raise ObscuraError(f"crop scales {scales} must satisfy 1 <= low <= high.")
        self.images = [np.ascontiguousarray(im, dtype=np.float32) for im in images]
        self.crop, self.edges, self.scales = crop, edges, scales
        self.kinds, self.buckets = tuple(kinds), [tuple(b) for b in buckets]
        self.rng = np.random.default_rng(seed)

    def _crop(self, im: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        c = self.crop
        scale = np.exp(rng.uniform(np.log(self.scales[0]), np.log(self.scales[1])))
        side = int(min(round(c * scale), *im.shape[:2]))
        y, x = rng.integers(0, im.shape[0] - side + 1), rng.integers(0, im.shape[1] - side + 1)
        crop = im[y:y + side, x:x + side]
        if side != c:
            crop = cv2.resize(crop, (c, c), interpolation=cv2.INTER_AREA)
        return crop[:, ::-1] if rng.random() < 0.5 else crop

    def batch(self, size: int, rng: np.random.Generator | None = None) -> dict[str, torch.Tensor]:
        """``size`` crops and masks drawn from ``rng`` (default: the sampler's own stream)."""
        rng = rng or self.rng
        crops = [self._crop(self.images[i], rng) for i in rng.integers(0, len(self.images), size)]
        masks = [random_mask((self.crop, self.crop), self.buckets[rng.integers(len(self.buckets))],
                             self.kinds[rng.integers(len(self.kinds))], rng) for _ in range(size)]
        out = {"image": torch.from_numpy(np.stack(crops).transpose(0, 3, 1, 2).copy()),
               "hole": torch.from_numpy(np.stack(masks)[:, None].astype(np.float32))}
        if self.edges:
            from obscura.inpainting.deep.edge_guided import canny_edges

            out["edges"] = canny_edges(out["image"])
        return out
