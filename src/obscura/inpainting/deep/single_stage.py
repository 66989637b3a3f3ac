"""Context encoder: one encoder-decoder maps (initial fill, mask) to the hole; hole loss (+ optional adversarial)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from obscura.inpainting.deep.base import DeepConfig, InpaintModel, composite
from obscura.inpainting.deep.nets import Generator


@dataclass
class SingleStageConfig(DeepConfig):
    name: ClassVar[str] = "single_stage"

    def setup(self) -> "SingleStage":
        return SingleStage(self)


class SingleStage(InpaintModel):
    def __init__(self, config: SingleStageConfig):
        super().__init__(config)
        self.generator = Generator(4, 3, config.width, config.depth, config.blocks)

    def forward(self, image, hole):
        init = self.prepare(image, hole)
        return composite(init + self.generator(self.net_input(init, hole)), image, hole)

    def reconstruction(self, image, hole, batch):
        out = self(image, hole)
        loss = self.hole_loss(out, image, hole)
        return loss, {"hole": loss.item()}, out
