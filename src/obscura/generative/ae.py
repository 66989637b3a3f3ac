"""Convolutional autoencoder with a spatial latent; optional denoising training; latent blending."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from obscura.generative.base import GenerativeModel, ModelConfig, group_norm


class Encoder(nn.Module):
    """``(N, C, H, W)`` → ``(N, out_channels, H/4, W/4)``."""

    def __init__(self, channels: int, base: int, out_channels: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(channels, base, 3, padding=1), group_norm(base), nn.SiLU(),
            nn.Conv2d(base, 2 * base, 4, stride=2, padding=1), group_norm(2 * base), nn.SiLU(),
            nn.Conv2d(2 * base, 4 * base, 4, stride=2, padding=1), group_norm(4 * base), nn.SiLU(),
            nn.Conv2d(4 * base, 4 * base, 3, padding=1), group_norm(4 * base), nn.SiLU(),
            nn.Conv2d(4 * base, out_channels, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Decoder(nn.Module):
    """``(N, latent, H/4, W/4)`` → ``(N, C, H, W)`` (unbounded; callers apply tanh or sigmoid)."""

    def __init__(self, latent_channels: int, base: int, channels: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(latent_channels, 4 * base, 3, padding=1), group_norm(4 * base), nn.SiLU(),
            nn.Conv2d(4 * base, 4 * base, 3, padding=1), group_norm(4 * base), nn.SiLU(),
            nn.ConvTranspose2d(4 * base, 2 * base, 4, stride=2, padding=1), group_norm(2 * base), nn.SiLU(),
            nn.ConvTranspose2d(2 * base, base, 4, stride=2, padding=1), group_norm(base), nn.SiLU(),
            nn.Conv2d(base, channels, 3, padding=1),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


@dataclass
class AEConfig(ModelConfig):
    name: ClassVar[str] = "ae"
    tiny_overrides: ClassVar[dict] = {"image_size": 16, "base_channels": 8, "latent_channels": 2}
    base_channels: int = 32
    latent_channels: int = 4
    denoise_std: float = 0.0

    def setup(self) -> AutoEncoder:
        self.validate()
        return AutoEncoder(self)


class AutoEncoder(GenerativeModel):
    """Deterministic AE trained on MSE; ``denoise_std > 0`` reconstructs clean images from noisy inputs."""

    def __init__(self, config: AEConfig):
        super().__init__()
        self.config = config
        self.encoder = Encoder(config.channels, config.base_channels, config.latent_channels)
        self.decoder = Decoder(config.latent_channels, config.base_channels, config.channels)
        # running per-dimension moments of training latents: the AE has no prior, so sampling
        # draws from this fitted diagonal Gaussian (and shows how poor that is next to the VAE)
        self.register_buffer("latent_mean", torch.zeros(self.latent_shape))
        self.register_buffer("latent_std", torch.ones(self.latent_shape))

    @property
    def latent_shape(self) -> tuple[int, int, int]:
        s = self.config.image_size // 4
        return (self.config.latent_channels, s, s)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.decoder(z))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))

    def loss(self, x, generator=None):
        inp = x
        if self.config.denoise_std > 0:
            noise = torch.randn(x.shape, generator=generator, dtype=x.dtype)
            inp = (x + self.config.denoise_std * noise).clamp(-1, 1)
        z = self.encode(inp)
        mse = F.mse_loss(self.decode(z), x)
        if self.training:
            with torch.no_grad():
                self.latent_mean.lerp_(z.mean(0), 0.01)
                self.latent_std.lerp_(z.std(0), 0.01)
        return mse, {"mse": mse.detach()}

    @torch.no_grad()
    def sample(self, n, generator=None):
        """Decode latents from the diagonal Gaussian fitted to training latents (the AE has no prior)."""
        z = torch.randn((n, *self.latent_shape), generator=generator)
        return self.decode(self.latent_mean + self.latent_std * z)
