"""Base config and model for deep inpainting: composite output, hole loss (MSE or L1) and hinge adversarial
loss."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from obscura.errors import ObscuraError
from obscura.inpainting.deep.nets import PatchDiscriminator, harmonic_fill
from obscura.methods import MethodConfig


@dataclass
class DeepConfig(MethodConfig):
    """Fields every deep method shares; subclasses add their own and implement ``setup``."""

    tiny_overrides: ClassVar[dict] = {"width": 8, "depth": 1, "blocks": 1, "disc_width": 8, "adv_weight": 0.001}

    width: int = 16
    depth: int = 2
    blocks: int = 2
    adv_weight: float = 0.0  # > 0 adds a PatchGAN critic (hinge loss); it costs hole PSNR here
    loss: str = "mse"  # hole reconstruction loss: mse (the conditional mean, what PSNR scores) or l1
    disc_width: int = 16
    fill_cycles: int = 4  # multigrid V-cycles of the harmonic initial fill (0: its cascadic start only)
    uses_edges = False  # class attribute: the sampler must provide Canny edge targets

    def validate(self) -> None:
        if self.loss not in HOLE_LOSSES:
            raise ObscuraError(f"{self.name}: loss must be one of {', '.join(HOLE_LOSSES)}; got {self.loss!r}.")


def _hole_mean(error: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
    return (error * hole).sum() / (hole.sum() * error.shape[1]).clamp_min(1.0)


def hole_l1(output: torch.Tensor, target: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
    """Mean absolute error over hole pixels and channels."""
    return _hole_mean((output - target).abs(), hole)


def hole_mse(output: torch.Tensor, target: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
    """Mean squared error over hole pixels and channels."""
    return _hole_mean((output - target) ** 2, hole)


HOLE_LOSSES = {"mse": hole_mse, "l1": hole_l1}


def composite(fill: torch.Tensor, image: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
    """Known pixels from ``image``, hole from ``fill`` clipped to [0, 1]. The clip passes gradients
    straight through: a hard clamp would zero them and can trap a generator that overshoots."""
    clipped = fill + (fill.clamp(0, 1) - fill).detach()
    return image * (1 - hole) + clipped * hole


class InpaintModel(nn.Module):
    """``forward(image, hole)`` returns the completed image (known pixels copied exactly);
    ``generator_loss`` returns (loss, logs, output); an optional PatchGAN ``discriminator``."""

    def __init__(self, config: DeepConfig):
        super().__init__()
        self.config = config
        self.discriminator = PatchDiscriminator(4, config.disc_width) if config.adv_weight > 0 else None

    def prepare(self, image: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
        """The initial fill the networks refine (they never see the hidden pixels): the harmonic fill,
        converged by multigrid (the classical ``harmonic`` method up to ~1e-3), so a zero residual
        already scores what ``harmonic`` does."""
        return harmonic_fill(image * (1 - hole), hole, self.config.fill_cycles)

    @staticmethod
    def net_input(*maps: torch.Tensor) -> torch.Tensor:
        """Concatenate an image in [0, 1] (rescaled to [-1, 1]) with extra maps (mask, edges)."""
        return torch.cat([maps[0] * 2 - 1, *maps[1:]], 1)

    def hole_loss(self, output: torch.Tensor, target: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
        """The configured reconstruction loss (``config.loss``) over the hole."""
        return HOLE_LOSSES[self.config.loss](output, target, hole)

    def generator_parameters(self):
        return [p for n, p in self.named_parameters() if not n.startswith("discriminator.")]

    def after_step(self) -> None:
        """Hook called after each optimiser step (EMA updates)."""

    def adversarial(self, output: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
        if self.discriminator is None:
            return output.new_zeros(())
        return -self.discriminator(output, hole).mean()

    def discriminator_loss(self, real: torch.Tensor, fake: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
        """Hinge loss of the critic (real photos vs completed images)."""
        return (F.relu(1 - self.discriminator(real, hole)).mean()
                + F.relu(1 + self.discriminator(fake.detach(), hole)).mean())

    def reconstruction(self, image, hole, batch) -> tuple[torch.Tensor, dict, torch.Tensor]:
        raise NotImplementedError

    def generator_loss(self, batch: dict) -> tuple[torch.Tensor, dict, torch.Tensor]:
        image, hole = batch["image"], batch["hole"]
        loss, logs, output = self.reconstruction(image, hole, batch)
        adv = self.adversarial(output, hole)
        logs["adv"] = adv.item()
        return loss + self.config.adv_weight * adv, logs, output
