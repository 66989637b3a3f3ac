"""DCGAN-style generator and discriminator on the minimax BCE objective: D maximises it; G either minimises
it directly ("minimax") or uses the non-saturating −log D(G(z)) ("non_saturating", the default in params).

Two well-known stabilisers over the plain DCGAN: the generator upsamples with nearest-neighbour + 3×3
convolutions (no transposed-convolution checkerboards) and the discriminator is spectrally normalised
(Miyato et al. 2018) instead of batch-normalised. Samples come from an exponential moving average of the
generator's weights (``ema_decay``; 0 uses the trained generator itself).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import spectral_norm   # hook-based: the module stays picklable for MLflow

from obscura.errors import ObscuraError
from obscura.generative.base import GenerativeModel, ModelConfig


@dataclass
class GANConfig(ModelConfig):
    name: ClassVar[str] = "gan"
    tiny_overrides: ClassVar[dict] = {"image_size": 16, "base_channels": 8, "z_dim": 8}
    base_channels: int = 32
    z_dim: int = 64
    generator_loss: str = "non_saturating"   # or "minimax": minimise log(1 − D(G(z))) directly
    beta1: float = 0.5
    ema_decay: float = 0.99

    def validate(self) -> None:
        super().validate()
        if not 0 <= self.ema_decay < 1:
            raise ObscuraError(f"gan: ema_decay must be in [0, 1), got {self.ema_decay}.")
        if self.generator_loss not in ("non_saturating", "minimax"):
            raise ObscuraError(f"gan: generator_loss must be 'non_saturating' or 'minimax', "
                               f"got {self.generator_loss!r}.")

    def setup(self) -> GAN:
        self.validate()
        return GAN(self)


class Generator(nn.Module):
    def __init__(self, z_dim: int, base: int, channels: int, image_size: int):
        super().__init__()
        self.s = image_size // 4
        self.base = base
        self.fc = nn.Sequential(nn.Linear(z_dim, 4 * base * self.s * self.s, bias=False),
                                nn.BatchNorm1d(4 * base * self.s * self.s), nn.ReLU())
        self.net = nn.Sequential(
            nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(4 * base, 2 * base, 3, padding=1, bias=False),
            nn.BatchNorm2d(2 * base), nn.ReLU(),
            nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(2 * base, base, 3, padding=1, bias=False),
            nn.BatchNorm2d(base), nn.ReLU(),
            nn.Conv2d(base, channels, 3, padding=1), nn.Tanh(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(self.fc(z).view(-1, 4 * self.base, self.s, self.s))


class Discriminator(nn.Module):
    """Returns logits (one per image); every layer is spectrally normalised."""

    def __init__(self, base: int, channels: int, image_size: int):
        super().__init__()
        s = image_size // 4
        self.net = nn.Sequential(
            spectral_norm(nn.Conv2d(channels, base, 4, stride=2, padding=1)), nn.LeakyReLU(0.2),
            spectral_norm(nn.Conv2d(base, 2 * base, 4, stride=2, padding=1)), nn.LeakyReLU(0.2),
            nn.Flatten(), spectral_norm(nn.Linear(2 * base * s * s, 1)),
        )
        with torch.no_grad():      # converge the power iteration's u, v before the first use (as torch's
            for _ in range(15):    # parametrized spectral_norm does at registration)
                self.net(torch.zeros(1, channels, image_size, image_size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(1)


class GAN(GenerativeModel):
    """min_G max_D E[log D(x)] + E[log(1 − D(G(z)))]; the generator may use the non-saturating −log D(G(z))."""

    def __init__(self, config: GANConfig):
        super().__init__()
        self.config = config
        self.generator = Generator(config.z_dim, config.base_channels, config.channels, config.image_size)
        for m in self.generator.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.normal_(m.weight, 0.0, 0.02)
        self.discriminator = Discriminator(config.base_channels, config.channels, config.image_size)
        self.ema = copy.deepcopy(self.generator).requires_grad_(False).eval()
        self.register_buffer("ema_steps", torch.zeros((), dtype=torch.long))

    def configure_optimizers(self, lr):
        betas = (self.config.beta1, 0.999)
        return {"generator": torch.optim.Adam(self.generator.parameters(), lr=lr, betas=betas),
                "discriminator": torch.optim.Adam(self.discriminator.parameters(), lr=lr, betas=betas)}

    def noise(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.randn((n, self.config.z_dim), generator=generator)

    def d_loss(self, x: torch.Tensor, z: torch.Tensor) -> tuple[torch.Tensor, dict]:
        """−E[log D(x)] − E[log(1 − D(G(z)))] (BCE on real=1, fake=0)."""
        real = self.discriminator(x)
        fake = self.discriminator(self.generator(z).detach())
        loss = (F.binary_cross_entropy_with_logits(real, torch.ones_like(real))
                + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake)))
        return loss, {"d_real": torch.sigmoid(real).mean().detach(), "d_fake": torch.sigmoid(fake).mean().detach()}

    def g_loss(self, z: torch.Tensor) -> torch.Tensor:
        logits = self.discriminator(self.generator(z))
        if self.config.generator_loss == "minimax":
            return -F.binary_cross_entropy_with_logits(logits, torch.zeros_like(logits))  # E[log(1 − D(G(z)))]
        return F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))       # −E[log D(G(z))]

    def loss(self, x, generator=None):
        """The discriminator's objective on ``x`` (the value D minimises)."""
        return self.d_loss(x, self.noise(x.shape[0], generator))

    def training_step(self, x, optimizers, generator=None):
        z = self.noise(x.shape[0], generator)
        opt_d, opt_g = optimizers["discriminator"], optimizers["generator"]
        opt_d.zero_grad(set_to_none=True)
        d_loss, logs = self.d_loss(x, z)
        d_loss.backward()
        opt_d.step()
        opt_g.zero_grad(set_to_none=True)
        g_loss = self.g_loss(z)
        g_loss.backward()
        opt_g.step()
        self.update_ema()
        return {"loss": float(g_loss.detach()), "d_loss": float(d_loss.detach()), "g_loss": float(g_loss.detach()),
                **{k: float(v) for k, v in logs.items()}}

    @torch.no_grad()
    def update_ema(self) -> None:
        """EMA of the generator's weights (warm-up: decay = min(ema_decay, (1 + n)/(10 + n))); batch-norm
        statistics are copied."""
        n = int(self.ema_steps)
        d = min(self.config.ema_decay, (1 + n) / (10 + n))
        for pe, p in zip(self.ema.parameters(), self.generator.parameters()):
            pe.lerp_(p, 1 - d)
        for be, b in zip(self.ema.buffers(), self.generator.buffers()):
            be.copy_(b)
        self.ema_steps += 1

    @torch.no_grad()
    def sample(self, n, generator=None):
        return self.decode(self.noise(n, generator))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """G(z) with the EMA generator (the trained one when ``ema_decay`` is 0); batch-norm uses running
        statistics when the model is in eval mode."""
        g = self.ema if self.config.ema_decay > 0 else self.generator
        g.train(self.training)
        return g(z)
