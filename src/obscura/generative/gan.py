"""DCGAN-style generator and discriminator trained on the minimax BCE objective."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from obscura.errors import ObscuraError
from obscura.generative.base import GenerativeModel, ModelConfig


@dataclass
class GANConfig(ModelConfig):
    name: ClassVar[str] = "gan"
    base_channels: int = 32
    z_dim: int = 64
    generator_loss: str = "non_saturating"   # or "minimax": minimise log(1 − D(G(z))) directly
    beta1: float = 0.5

    def validate(self) -> None:
        super().validate()
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
            nn.ConvTranspose2d(4 * base, 2 * base, 4, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(2 * base), nn.ReLU(),
            nn.ConvTranspose2d(2 * base, base, 4, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(base), nn.ReLU(),
            nn.Conv2d(base, channels, 3, padding=1), nn.Tanh(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(self.fc(z).view(-1, 4 * self.base, self.s, self.s))


class Discriminator(nn.Module):
    """Returns logits (one per image)."""

    def __init__(self, base: int, channels: int, image_size: int):
        super().__init__()
        s = image_size // 4
        self.net = nn.Sequential(
            nn.Conv2d(channels, base, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
            nn.Conv2d(base, 2 * base, 4, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(2 * base), nn.LeakyReLU(0.2),
            nn.Flatten(), nn.Linear(2 * base * s * s, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(1)


class GAN(GenerativeModel):
    """min_G max_D E[log D(x)] + E[log(1 − D(G(z)))]; the generator may use the non-saturating −log D(G(z))."""

    def __init__(self, config: GANConfig):
        super().__init__()
        self.config = config
        self.generator = Generator(config.z_dim, config.base_channels, config.channels, config.image_size)
        self.discriminator = Discriminator(config.base_channels, config.channels, config.image_size)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
                nn.init.normal_(m.weight, 0.0, 0.02)

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
        return {"loss": float(g_loss.detach()), "d_loss": float(d_loss.detach()), "g_loss": float(g_loss.detach()),
                **{k: float(v) for k, v in logs.items()}}

    @torch.no_grad()
    def sample(self, n, generator=None):
        return self.decode(self.noise(n, generator))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """G(z); batch-norm uses running statistics when the model is in eval mode."""
        return self.generator(z)
