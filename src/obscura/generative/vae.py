"""Variational autoencoder: Gaussian encoder (μ, log σ²), Bernoulli decoder, ELBO and IS-NLL in nats."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F

from obscura.generative.ae import Decoder, Encoder
from obscura.generative.base import GenerativeModel, ModelConfig


@dataclass
class VAEConfig(ModelConfig):
    name: ClassVar[str] = "vae"
    tiny_overrides: ClassVar[dict] = {"image_size": 16, "base_channels": 8, "latent_channels": 2}
    base_channels: int = 32
    latent_channels: int = 4
    beta: float = 1.0

    def setup(self) -> VAE:
        self.validate()
        return VAE(self)


def to_unit(x: torch.Tensor) -> torch.Tensor:
    """[-1, 1] → [0, 1] grey levels, the Bernoulli decoder's targets."""
    return ((x + 1) / 2).clamp(0, 1)


class VAE(GenerativeModel):
    """Spatial Gaussian latent ``(latent_channels, H/4, W/4)`` with prior N(0, I).

    The decoder outputs Bernoulli logits over grey levels in [0, 1]; all log-likelihoods are in nats
    per image (summed over pixels and channels).
    """

    def __init__(self, config: VAEConfig):
        super().__init__()
        self.config = config
        self.encoder = Encoder(config.channels, config.base_channels, 2 * config.latent_channels)
        self.decoder = Decoder(config.latent_channels, config.base_channels, config.channels)

    @property
    def latent_shape(self) -> tuple[int, int, int]:
        s = self.config.image_size // 4
        return (self.config.latent_channels, s, s)

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance of q(z|x)."""
        mu, logvar = self.encoder(x).chunk(2, dim=1)
        return mu, logvar.clamp(-30, 20)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Posterior mean (used for blending and reconstruction)."""
        return self.posterior(x)[0]

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Bernoulli mean mapped back to [-1, 1]."""
        return torch.sigmoid(self.decoder(z)) * 2 - 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))

    @staticmethod
    def kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        """KL(q(z|x) || N(0, I)) per image, in nats."""
        return 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).flatten(1).sum(1)

    def log_likelihood(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """log p(x|z) per image (Bernoulli over grey levels)."""
        logits = self.decoder(z)
        return -F.binary_cross_entropy_with_logits(logits, to_unit(x), reduction="none").flatten(1).sum(1)

    def terms(self, x: torch.Tensor, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """Per-image reconstruction log-likelihood, KL and ELBO (one reparameterised sample)."""
        mu, logvar = self.posterior(x)
        eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype)
        z = mu + (0.5 * logvar).exp() * eps
        rec = self.log_likelihood(x, z)
        kl = self.kl(mu, logvar)
        return {"log_px_z": rec, "kl": kl, "elbo": rec - kl}

    def loss(self, x, generator=None):
        t = self.terms(x, generator)
        loss = (-t["log_px_z"] + self.config.beta * t["kl"]).mean()
        return loss, {"kl": t["kl"].mean().detach(), "recon_nll": -t["log_px_z"].mean().detach(),
                      "elbo": t["elbo"].mean().detach()}

    @torch.no_grad()
    def nll_importance(self, x: torch.Tensor, k: int, generator: torch.Generator | None = None,
                       chunk: int = 64) -> torch.Tensor:
        """−log p(x) per image by importance sampling with q(z|x) as proposal, k samples (nats).

        log p(x) ≈ logsumexp_i[log p(x|z_i) + log p(z_i) − log q(z_i|x)] − log k, z_i ~ q(z|x).
        """
        mu, logvar = self.posterior(x)
        std = (0.5 * logvar).exp()
        log2pi = math.log(2 * math.pi)
        weights = []
        for start in range(0, k, chunk):
            m = min(chunk, k - start)
            eps = torch.randn((m, *mu.shape), generator=generator, dtype=mu.dtype)
            z = mu + std * eps                                          # (m, N, ...)
            log_q = (-0.5 * (eps.pow(2) + logvar + log2pi)).flatten(2).sum(2)
            log_p = (-0.5 * (z.pow(2) + log2pi)).flatten(2).sum(2)
            log_px = self.log_likelihood(x.repeat(m, 1, 1, 1), z.flatten(0, 1)).view(m, -1)
            weights.append(log_px + log_p - log_q)
        log_w = torch.cat(weights, 0)
        return -(torch.logsumexp(log_w, 0) - math.log(k))

    @torch.no_grad()
    def sample(self, n, generator=None):
        z = torch.randn((n, *self.latent_shape), generator=generator)
        return self.decode(z)
