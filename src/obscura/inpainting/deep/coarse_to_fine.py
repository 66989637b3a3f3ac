"""Two generators: a coarse one fills the hole, a refiner corrects the coarse composite."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from obscura.inpainting.deep.base import DeepConfig, InpaintModel, composite
from obscura.inpainting.deep.nets import Generator


@dataclass
class CoarseToFineConfig(DeepConfig):
    name: ClassVar[str] = "coarse_to_fine"
    tiny_overrides: ClassVar[dict] = {**DeepConfig.tiny_overrides, "coarse_width": 4}
    coarse_width: int = 8
    coarse_weight: float = 0.5  # weight of the coarse output's hole loss

    def setup(self) -> "CoarseToFine":
        return CoarseToFine(self)



class CoarseToFine(InpaintModel):
    def __init__(self, config: CoarseToFineConfig):
        super().__init__(config)
        self.coarse = Generator(4, 3, config.coarse_width, config.depth + 1, config.blocks)
        self.refine = Generator(4, 3, config.width, config.depth, config.blocks)

    def stages(self, image, hole):
        init = self.prepare(image, hole)
        coarse = composite(init + self.coarse(self.net_input(init, hole)), image, hole)
        fine = composite(coarse + self.refine(self.net_input(coarse, hole)), image, hole)
        return coarse, fine

    def forward(self, image, hole):
        return self.stages(image, hole)[1]

    def reconstruction(self, image, hole, batch):
        coarse, fine = self.stages(image, hole)
        l_coarse, l_fine = self.hole_loss(coarse, image, hole), self.hole_loss(fine, image, hole)
        loss = self.config.coarse_weight * l_coarse + l_fine
        return loss, {"hole": l_fine.item(), "hole_coarse": l_coarse.item()}, fine
