"""Fashion-MNIST from ``data/prepared`` as model-space tensors."""

from __future__ import annotations

from pathlib import Path

import torch

from obscura.data.prepare import load_fashion_mnist
from obscura.generative.images import to_model_space


def fashion_mnist(prepared: str | Path, split: str, image_size: int, channels: int,
                  limit: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``limit`` images of ``split`` as (N, channels, image_size, image_size) in [−1, 1], and labels."""
    x, y = load_fashion_mnist(Path(prepared), split)
    if limit is not None:
        x, y = x[:limit], y[:limit]
    return to_model_space(x, image_size, channels), torch.as_tensor(y).long()


def floor_indices(total: int, n: int, seed: int) -> torch.Tensor:
    """The ``n`` seeded training-image indices the real-vs-real floors score (Inception and classifier FD)."""
    return torch.randperm(total, generator=torch.Generator().manual_seed(seed))[:n]
