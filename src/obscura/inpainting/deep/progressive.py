"""Progressive filling: each pass fills a ring of the hole next to the known pixels, boundary to centre."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch.nn.functional as F

from obscura.inpainting.deep.base import DeepConfig, InpaintModel, composite
from obscura.inpainting.deep.nets import Generator


@dataclass
class ProgressiveConfig(DeepConfig):
    name: ClassVar[str] = "progressive"
    tiny_overrides: ClassVar[dict] = {**DeepConfig.tiny_overrides, "ring": 2, "train_passes": 2}
    ring: int = 4  # pixels filled inwards per pass
    train_passes: int = 3  # unrolled passes in training; the last one fills what remains
    max_passes: int = 64  # inference cap (the last pass fills what remains)

    def setup(self) -> "Progressive":
        return Progressive(self)



class Progressive(InpaintModel):
    def __init__(self, config: ProgressiveConfig):
        super().__init__(config)
        self.generator = Generator(4, 3, config.width, config.depth, config.blocks)

    def ring(self, hole):
        """Hole pixels within ``ring`` px (Chebyshev) of a known pixel."""
        r = self.config.ring
        near_known = F.max_pool2d(1 - hole, 2 * r + 1, stride=1, padding=r)
        return hole * near_known

    def passes(self, image, hole, n_passes):
        """Yield (current image, pixels filled this pass) for up to ``n_passes`` passes."""
        current, remaining = image * (1 - hole), hole
        for k in range(n_passes):
            if float(remaining.sum()) == 0:
                break
            init = self.prepare(current, remaining)
            pred = composite(init + self.generator(self.net_input(init, remaining)), current, remaining)
            step = remaining if k == n_passes - 1 else self.ring(remaining)
            current = current * (1 - step) + pred * step
            remaining = remaining - step
            yield current, step

    def forward(self, image, hole):
        current = image
        for current, _ in self.passes(image, hole, self.config.max_passes):
            pass
        return composite(current, image, hole)

    def reconstruction(self, image, hole, batch):
        loss, out = 0.0, None
        for out, step in self.passes(image, hole, self.config.train_passes):
            loss = loss + self.hole_loss(out, image, step) * step.sum() / hole.sum().clamp_min(1.0)
        return loss, {"hole": self.hole_loss(out, image, hole).item()}, out
