"""Latent diffusion: the DDPM trained in the latent space of a trained (V)AE and decoded back."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import torch

from obscura.errors import ObscuraError
from obscura.generative.ae import AEConfig, AutoEncoder
from obscura.generative.base import GenerativeModel
from obscura.generative.ddpm import DDPMConfig, Diffusion
from obscura.generative.vae import VAE, VAEConfig


@dataclass
class LDMConfig(DDPMConfig):
    """A DDPM config plus the autoencoder whose latent space it models.

    ``autoencoder`` names the family ('vae' or 'ae') and ``autoencoder_config`` holds that model's
    config (``to_dict()``); its weights live inside the LDM checkpoint so sampling is self-contained.
    """

    name: ClassVar[str] = "ldm"
    tiny_overrides: ClassVar[dict] = {"image_size": 16, "base_channels": 8, "channel_mults": (1,),
                                      "num_train_timesteps": 50, "ddim_steps": 10, "ema_decay": 0.0}
    autoencoder: str = "vae"
    autoencoder_config: dict = field(default_factory=dict)
    channel_mults: tuple[int, ...] = field(default=(1, 2))

    @classmethod
    def tiny(cls, **overrides) -> "LDMConfig":
        """Tiny DDPM in the latent space of a tiny VAE of the same geometry."""
        geometry = {k: overrides.get(k, cls.tiny_overrides.get(k, 1)) for k in ("image_size", "channels")}
        ae = VAEConfig.tiny(**geometry).to_dict()
        return super().tiny(**{"autoencoder_config": ae, **overrides})

    def build_autoencoder(self) -> VAE | AutoEncoder:
        if self.autoencoder not in ("vae", "ae"):
            raise ObscuraError(f"ldm: autoencoder must be 'vae' or 'ae', got {self.autoencoder!r}.")
        cls = VAEConfig if self.autoencoder == "vae" else AEConfig
        cfg = cls(**self.autoencoder_config)
        if (cfg.image_size, cfg.channels) != (self.image_size, self.channels):
            raise ObscuraError(f"ldm: autoencoder works on {cfg.channels}x{cfg.image_size}x{cfg.image_size} "
                               f"images but the LDM is configured for "
                               f"{self.channels}x{self.image_size}x{self.image_size}.")
        return cfg.setup()

    def validate(self) -> None:
        if self.sampler not in ("ddpm", "ddim"):
            raise ObscuraError(f"ldm: sampler must be 'ddpm' or 'ddim', got {self.sampler!r}.")
        super(DDPMConfig, self).validate()

    def setup(self) -> LDM:
        self.validate()
        return LDM(self)


class LDM(GenerativeModel):
    """Diffusion over ``latent_scale · E(x)``; samples are ``D(z / latent_scale)``.

    The autoencoder is frozen; ``fit_latent_scale`` sets the scale so latents have unit variance
    (Stable Diffusion's 0.18215 trick, computed from data instead of hard-coded).
    """

    def __init__(self, config: LDMConfig):
        super().__init__()
        self.config = config
        self.autoencoder = config.build_autoencoder().requires_grad_(False).eval()
        shape = self.autoencoder.latent_shape
        self.diffusion = Diffusion(shape, config.base_channels, config.channel_mults, config.attention,
                                   config.scheduler(clip_sample=False), config.ema_decay, config.min_snr_gamma,
                                   config.precision)
        self.register_buffer("latent_scale", torch.ones(()))

    def train(self, mode: bool = True):
        super().train(mode)
        self.autoencoder.eval()      # frozen: keep normalisation statistics fixed
        return self

    @torch.no_grad()
    def training_data(self, images: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
        """Posterior moments ``cat(μ, log σ²)`` of every image, encoded once (an AE gives σ ≈ 0)."""
        out = []
        for i in range(0, len(images), batch_size):
            x = images[i:i + batch_size]
            if isinstance(self.autoencoder, VAE):
                mu, logvar = self.autoencoder.posterior(x)
            else:
                mu = self.autoencoder.encode(x)
                logvar = torch.full_like(mu, -60.0)
            out.append(torch.cat([mu, logvar], 1))
        return torch.cat(out)

    def latents(self, moments: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Scaled latent samples z ~ q(z|x) from precomputed moments."""
        mu, logvar = moments.chunk(2, dim=1)
        return (mu + (0.5 * logvar).exp() * torch.randn(mu.shape, generator=generator)) * self.latent_scale

    @torch.no_grad()
    def fit_latent_scale(self, images: torch.Tensor) -> float:
        """Set ``latent_scale`` so that latents of ``images`` have unit standard deviation."""
        self.latent_scale.fill_(1.0)
        z = self.latents(self.training_data(images), torch.Generator().manual_seed(0))
        self.latent_scale.fill_(1.0 / float(z.std()))
        return float(self.latent_scale)

    def configure_optimizers(self, lr):
        return {"model": torch.optim.Adam(self.diffusion.unet.parameters(), lr=lr)}

    def loss(self, moments, generator=None):
        """Diffusion loss on latents sampled from ``moments`` (a batch of ``training_data``)."""
        return self.diffusion.loss(self.latents(moments, generator), generator), {}

    def training_step(self, x, optimizers, generator=None):
        logs = super().training_step(x, optimizers, generator)
        self.diffusion.update_ema()
        return logs

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.autoencoder.decode(z / self.latent_scale)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Autoencoder latent (posterior mean), scaled; blending is linear in this space."""
        return self.autoencoder.encode(x) * self.latent_scale

    @torch.no_grad()
    def sample(self, n, generator=None, progress=False):
        c = self.config
        z = self.diffusion.sample(n, generator, c.sampler, c.ddim_steps, c.ddim_eta, progress=progress)
        return self.decode(z).clamp(-1, 1)
