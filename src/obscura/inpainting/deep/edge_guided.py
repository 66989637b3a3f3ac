"""Structure then texture (EdgeConnect-style): predict the hole's Canny edges, then fill guided by them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from obscura.inpainting.deep.base import DeepConfig, InpaintModel, composite
from obscura.inpainting.deep.nets import Generator

GRAY = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)


def canny_edges(image: torch.Tensor, low: int = 40, high: int = 100) -> torch.Tensor:
    """Canny edge maps (B, 1, H, W) in {0, 1} of images (B, 3, H, W) in [0, 1] (Gaussian sigma 1 first)."""
    gray = (image.detach() * GRAY).sum(1).clamp(0, 1).mul(255).round().to(torch.uint8).numpy()
    edges = [cv2.Canny(cv2.GaussianBlur(g, (5, 5), 1.0), low, high) for g in gray]
    return torch.from_numpy(np.stack(edges)[:, None].astype(np.float32) / 255.0)


def known_edges(edges: torch.Tensor, hole: torch.Tensor, margin: int = 2) -> torch.Tensor:
    """Edges away from the hole: Canny responds to the hole's own border, so a margin is dropped."""
    grown = F.max_pool2d(hole, 2 * margin + 1, stride=1, padding=margin)
    return edges * (1 - grown), grown


@dataclass
class EdgeGuidedConfig(DeepConfig):
    name: ClassVar[str] = "edge_guided"
    tiny_overrides: ClassVar[dict] = {**DeepConfig.tiny_overrides, "edge_width": 4}
    edge_width: int = 8
    edge_weight: float = 0.5  # weight of the edge BCE in the loss
    teacher_forcing: float = 0.5  # probability the filler sees true edges during training
    uses_edges = True

    def setup(self) -> "EdgeGuided":
        return EdgeGuided(self)



class EdgeGuided(InpaintModel):
    def __init__(self, config: EdgeGuidedConfig):
        super().__init__(config)
        # edge net input: gray init fill, known edges, mask; filler input: init, mask, edge map
        self.edge_net = Generator(3, 1, config.edge_width, config.depth, config.blocks)
        self.filler = Generator(5, 3, config.width, config.depth, config.blocks)

    def edge_logits(self, init, hole, edges):
        seen, grown = known_edges(edges, hole)
        gray = (init * GRAY).sum(1, keepdim=True)
        return self.edge_net(self.net_input(gray, seen, hole)), seen, grown

    def fill(self, image, hole, init, edge_map):
        return composite(init + self.filler(self.net_input(init, hole, edge_map)), image, hole)

    def forward(self, image, hole):
        init = self.prepare(image, hole)
        logits, seen, grown = self.edge_logits(init, hole, canny_edges(init))
        edge_map = seen + torch.sigmoid(logits) * grown
        return self.fill(image, hole, init, edge_map)

    def reconstruction(self, image, hole, batch):
        init = self.prepare(image, hole)
        edges = batch["edges"]
        logits, seen, grown = self.edge_logits(init, hole, edges)
        pos = edges.mean().clamp(0.02, 0.5)  # balance the rare edge pixels
        bce = F.binary_cross_entropy_with_logits(logits, edges, weight=grown,
                                                 pos_weight=(1 - pos) / pos, reduction="sum")
        bce = bce / grown.sum().clamp_min(1.0)
        predicted = seen + torch.sigmoid(logits.detach()) * grown
        use_true = (torch.rand(image.shape[0], 1, 1, 1) < self.config.teacher_forcing).float()
        out = self.fill(image, hole, init, use_true * edges + (1 - use_true) * predicted)
        rec = self.hole_loss(out, image, hole)
        return rec + self.config.edge_weight * bce, {"hole": rec.item(), "edge_bce": bce.item()}, out
