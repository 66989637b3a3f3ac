"""Shared shape of every generative family: a config dataclass that builds an ``nn.Module``.

Every model takes and returns images as float tensors ``(N, C, H, W)`` in ``[-1, 1]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from obscura.errors import ObscuraError
from obscura.methods import MethodConfig


@dataclass
class ModelConfig(MethodConfig):
    """Image geometry common to all families; subclasses add architecture fields."""

    image_size: int = 32
    channels: int = 1

    def validate(self) -> None:
        if self.channels not in (1, 3):
            raise ObscuraError(f"{self.name}: channels must be 1 or 3, got {self.channels}.")
        if self.image_size % 4:
            raise ObscuraError(f"{self.name}: image_size must be a multiple of 4, got {self.image_size}.")


class GenerativeModel(nn.Module):
    """Base module: ``training_step`` owns its optimisers, ``sample`` draws images."""

    config: ModelConfig

    def configure_optimizers(self, lr: float) -> dict[str, torch.optim.Optimizer]:
        return {"model": torch.optim.Adam(self.parameters(), lr=lr)}

    def training_data(self, images: torch.Tensor) -> torch.Tensor:
        """What ``loss``/``training_step`` consume, computed once from the images (default: the images)."""
        return images

    def loss(self, x: torch.Tensor, generator: torch.Generator | None = None) -> tuple[torch.Tensor, dict]:
        raise NotImplementedError

    def training_step(self, x: torch.Tensor, optimizers: dict, generator: torch.Generator | None = None) -> dict:
        """One optimisation step on batch ``x``; returns float metrics for logging."""
        opt = optimizers["model"]
        opt.zero_grad(set_to_none=True)
        loss, logs = self.loss(x, generator)
        loss.backward()
        opt.step()
        return {"loss": float(loss.detach()), **{k: float(v) for k, v in logs.items()}}

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        raise NotImplementedError

    def check_images(self, x: torch.Tensor) -> None:
        """Raise a clear error when ``x`` does not match the model's image geometry."""
        c, s = self.config.channels, self.config.image_size
        if x.ndim != 4 or x.shape[1] != c or x.shape[2] != s or x.shape[3] != s:
            raise ObscuraError(f"{self.config.name} model expects images of shape (N, {c}, {s}, {s}), "
                               f"got {tuple(x.shape)}; resize or convert the input first.")


def group_norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(min(8, channels), channels)
