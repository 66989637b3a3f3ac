"""Training batches: random crops of training photos with random bucketed hole masks."""

from __future__ import annotations

import numpy as np
import torch

from obscura.errors import ObscuraError
from obscura.inpainting.masks import BUCKETS, random_mask


class CropSampler:
    """Seeded batches {image (B,3,c,c), hole (B,1,c,c)[, edges]} from a list of HxWx3 float images.

    Masks come from a pool drawn once (every bucket and kind), then flipped/transposed at random.
    """

    def __init__(self, images: list[np.ndarray], crop: int, kinds=("strokes", "rectangles", "box"),
                 buckets=BUCKETS, pool: int = 256, seed: int = 0, edges: bool = False):
        if not images:
            raise ObscuraError("no training images: run the `prepare` stage (data/prepared/photos/train).")
        small = [im.shape[:2] for im in images if min(im.shape[:2]) < crop]
        if small:
            raise ObscuraError(f"training crop {crop}px is larger than images of size {small[0]}; lower crop.")
        self.images = [np.ascontiguousarray(im, dtype=np.float32) for im in images]
        self.crop, self.edges = crop, edges
        self.rng = np.random.default_rng(seed)
        self.masks = np.stack([random_mask((crop, crop), tuple(buckets[i % len(buckets)]),
                                           kinds[(i // len(buckets)) % len(kinds)], self.rng)
                               for i in range(pool)])

    def batch(self, size: int, rng: np.random.Generator | None = None) -> dict[str, torch.Tensor]:
        """``size`` crops and masks drawn from ``rng`` (default: the sampler's own stream)."""
        rng, c = rng or self.rng, self.crop
        crops = []
        for idx in rng.integers(0, len(self.images), size):
            im = self.images[idx]
            y, x = rng.integers(0, im.shape[0] - c + 1), rng.integers(0, im.shape[1] - c + 1)
            crop = im[y:y + c, x:x + c]
            crops.append(crop[:, ::-1] if rng.random() < 0.5 else crop)
        masks = self.masks[rng.integers(0, len(self.masks), size)]
        flips = rng.integers(0, 2, (size, 3)).astype(bool)
        masks = [np.flip(m, 0) if f[0] else m for m, f in zip(masks, flips)]
        masks = [np.flip(m, 1) if f[1] else m for m, f in zip(masks, flips)]
        masks = [m.T if f[2] else m for m, f in zip(masks, flips)]
        out = {"image": torch.from_numpy(np.stack(crops).transpose(0, 3, 1, 2).copy()),
               "hole": torch.from_numpy(np.stack(masks)[:, None].astype(np.float32))}
        if self.edges:
            from obscura.inpainting.deep.edge_guided import canny_edges

            out["edges"] = canny_edges(out["image"])
        return out
