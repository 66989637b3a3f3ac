"""Denoising diffusion (DDPM): UNet ε-model + ``DDPMScheduler``; ancestral and DDIM sampling."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from obscura.errors import ObscuraError
from obscura.generative.base import GenerativeModel, ModelConfig
from obscura.generative.scheduler import DDPMScheduler
from obscura.generative.unet import UNet


class Diffusion(nn.Module):
    """An ε-predicting UNet, its EMA copy and a scheduler over tensors of shape ``sample_shape``."""

    def __init__(self, sample_shape: tuple[int, int, int], base_channels: int, channel_mults, attention: bool,
                 scheduler: DDPMScheduler, ema_decay: float, min_snr_gamma: float = 0.0, precision: str = "fp32"):
        super().__init__()
        self.min_snr_gamma = min_snr_gamma
        self.precision = precision
        self.sample_shape = tuple(sample_shape)
        self.unet = UNet(sample_shape[0], base_channels, tuple(channel_mults), attention)
        self.unet.check_size(*sample_shape[1:])
        self.ema = copy.deepcopy(self.unet).requires_grad_(False)
        self.register_buffer("ema_steps", torch.zeros((), dtype=torch.long))
        self.scheduler = scheduler
        self.ema_decay = ema_decay

    def loss(self, x0: torch.Tensor, generator: torch.Generator | None = None,
             max_timestep: int | None = None) -> torch.Tensor:
        """E_t,ε w_t ||ε − ε_θ(√ᾱ_t x_0 + √(1−ᾱ_t) ε, t)||² with t uniform over the T steps (or the first
        ``max_timestep``, for a model only ever sampled from there down); w_t = 1, or with
        ``min_snr_gamma`` = γ > 0 the Min-SNR-γ weight min(SNR_t, γ) / SNR_t (SNR_t = ᾱ_t / (1 − ᾱ_t), Hang et
        al. 2023): the nearly clean timesteps, whose ε is hard to read and matters little, weigh less.
        With ``precision`` "bf16" the UNet runs under CPU bfloat16 autocast (the loss stays float32)."""
        t = torch.randint(0, max_timestep or self.scheduler.num_train_timesteps, (x0.shape[0],), generator=generator)
        noise = torch.randn(x0.shape, generator=generator, dtype=x0.dtype)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.precision == "bf16"):
            pred = self.unet(self.scheduler.add_noise(x0, noise, t), t)
        pred = pred.float()
        if self.min_snr_gamma <= 0:
            return F.mse_loss(pred, noise)
        per_image = (pred - noise).pow(2).flatten(1).mean(1)
        return (per_image * min_snr_weight(self.scheduler, t, self.min_snr_gamma).to(per_image.dtype)).mean()

    @torch.no_grad()
    def update_ema(self) -> None:
        """EMA with warm-up: decay = min(ema_decay, (1 + n)/(10 + n))."""
        n = int(self.ema_steps)
        d = min(self.ema_decay, (1 + n) / (10 + n))
        for pe, p in zip(self.ema.parameters(), self.unet.parameters()):
            pe.lerp_(p, 1 - d)
        self.ema_steps += 1

    def denoiser(self, use_ema: bool = True) -> UNet:
        return self.ema if use_ema and self.ema_decay > 0 else self.unet

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None, sampler: str = "ddim", steps: int = 50,
               eta: float = 0.0, x_T: torch.Tensor | None = None, progress: bool = False,
               use_ema: bool = True) -> torch.Tensor:
        """Reverse the chain from x_T ~ N(0, I) (or the given ``x_T``) with 'ddpm' (all T steps) or 'ddim'."""
        net, sched = self.denoiser(use_ema), self.scheduler
        x = torch.randn((n, *self.sample_shape), generator=generator) if x_T is None else x_T.clone()
        if sampler == "ddpm":
            for t in tqdm(sched.timesteps(), desc="ddpm sampling", disable=not progress, leave=False):
                x = sched.step(net(x, t), t, x, generator=generator)
        elif sampler == "ddim":
            ts = sched.ddim_timesteps(steps)
            for t, t_prev in tqdm(list(zip(ts, [*ts[1:], -1])), desc="ddim sampling", disable=not progress,
                                  leave=False):
                x = sched.ddim_step(net(x, t), t, t_prev, x, eta=eta, generator=generator)
        else:
            raise ObscuraError(f"unknown sampler {sampler!r}; use 'ddpm' or 'ddim'.")
        return x

    @torch.no_grad()
    def invert(self, x0: torch.Tensor, steps: int, use_ema: bool = True) -> torch.Tensor:
        """Deterministic DDIM inversion x_0 → x_T (η = 0): the DDIM sampler's steps run upwards,
        ε evaluated at the lower timestep of each pair (x_0 stands in for x at t = 0)."""
        net, sched = self.denoiser(use_ema), self.scheduler
        ts = sched.ddim_timesteps(steps)[::-1]
        x = x0.clone()
        for t, t_next in zip(ts[:-1], ts[1:]):
            x = sched.ddim_step(net(x, t), t, t_next, x, eta=0.0)
        return x


@dataclass
class DDPMConfig(ModelConfig):
    name: ClassVar[str] = "ddpm"
    tiny_overrides: ClassVar[dict] = {"image_size": 16, "base_channels": 8, "channel_mults": (1, 2),
                                      "num_train_timesteps": 50, "ddim_steps": 10, "ema_decay": 0.0}
    base_channels: int = 32
    channel_mults: tuple[int, ...] = field(default=(1, 2, 2))
    attention: bool = False
    num_train_timesteps: int = 1000
    beta_schedule: str = "linear"
    ema_decay: float = 0.999
    sampler: str = "ddim"
    ddim_steps: int = 50
    ddim_eta: float = 0.0
    min_snr_gamma: float = 0.0  # Min-SNR-γ loss weighting (0: off, the plain ε loss)
    precision: str = "fp32"     # training forward/backward: fp32, or bf16 autocast (sampling stays fp32)

    def validate(self) -> None:
        super().validate()
        if self.sampler not in ("ddpm", "ddim"):
            raise ObscuraError(f"ddpm: sampler must be 'ddpm' or 'ddim', got {self.sampler!r}.")
        if self.precision not in ("fp32", "bf16"):
            raise ObscuraError(f"{self.name}: precision must be 'fp32' or 'bf16', got {self.precision!r}.")
        f = 2 ** (len(self.channel_mults) - 1)
        if self.image_size % f:
            raise ObscuraError(f"ddpm: image_size {self.image_size} must be divisible by {f} "
                               f"for channel_mults {list(self.channel_mults)}.")

    def scheduler(self, clip_sample: bool = True) -> DDPMScheduler:
        return DDPMScheduler(self.num_train_timesteps, self.beta_schedule, clip_sample=clip_sample)

    def setup(self) -> DDPM:
        self.validate()
        return DDPM(self)


def min_snr_weight(scheduler: DDPMScheduler, t: torch.Tensor, gamma: float) -> torch.Tensor:
    """Min-SNR-γ loss weight of the ε-prediction at timesteps ``t``: min(SNR_t, γ) / SNR_t."""
    a = scheduler.alphas_cumprod[t]
    snr = a / (1 - a)
    return snr.clamp(max=gamma) / snr


class DDPM(GenerativeModel):
    """Pixel-space DDPM on images in [−1, 1]."""

    def __init__(self, config: DDPMConfig):
        super().__init__()
        self.config = config
        c, s = config.channels, config.image_size
        self.diffusion = Diffusion((c, s, s), config.base_channels, config.channel_mults, config.attention,
                                   config.scheduler(clip_sample=True), config.ema_decay, config.min_snr_gamma,
                                   config.precision)

    @property
    def scheduler(self) -> DDPMScheduler:
        return self.diffusion.scheduler

    @property
    def unet(self) -> UNet:
        return self.diffusion.unet

    def configure_optimizers(self, lr):
        return {"model": torch.optim.Adam(self.diffusion.unet.parameters(), lr=lr)}

    def loss(self, x, generator=None):
        loss = self.diffusion.loss(x, generator)
        return loss, {}

    def training_step(self, x, optimizers, generator=None):
        logs = super().training_step(x, optimizers, generator)
        self.diffusion.update_ema()
        return logs

    @torch.no_grad()
    def sample(self, n, generator=None, progress=False):
        c = self.config
        return self.diffusion.sample(n, generator, c.sampler, c.ddim_steps, c.ddim_eta,
                                     progress=progress).clamp(-1, 1)

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """DDIM inversion to x_T (the 'latent' used for blending)."""
        return self.diffusion.invert(x, self.config.ddim_steps)

    @torch.no_grad()
    def decode(self, x_T: torch.Tensor) -> torch.Tensor:
        return self.diffusion.sample(x_T.shape[0], sampler="ddim", steps=self.config.ddim_steps, eta=0.0,
                                     x_T=x_T).clamp(-1, 1)
