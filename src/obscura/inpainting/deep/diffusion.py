"""RePaint (Lugmayr et al. 2022) with the generative track's DDPM (UNet + separate DDPMScheduler).

The ε-model is trained unconditionally on photo crops (it never sees masks). Inpainting runs the
reverse chain on a strided timestep sequence; after every step the known pixels are replaced by
the ground truth noised to the same level, and the chain jumps back up ``jump`` steps with
q(x_t | x_t_prev) ``resample`` − 1 times every ``jump`` steps (RePaint's jump length and count), which
harmonises the fill with its surroundings.

``strength`` < 1 starts the chain at t = strength * T from the smooth initial fill noised to that
level (an SDEdit-style warm start) instead of pure noise: a small CPU-trained ε-model then only has
to add detail, not invent the hole from scratch. ``strength = 1`` is the original RePaint. With
``train_below_start`` the ε-model is trained only on the timesteps the chain visits (t < strength * T).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from tqdm import tqdm

from obscura.errors import ObscuraError
from obscura.generative.ddpm import Diffusion
from obscura.inpainting.deep.base import DeepConfig, InpaintModel, composite


@dataclass
class DiffusionConfig(DeepConfig):
    name: ClassVar[str] = "diffusion"
    tiny_overrides: ClassVar[dict] = {"width": 8, "depth": 1, "timesteps": 50, "sample_steps": 4, "resample": 2}
    width: int = 16  # UNet base channels
    depth: int = 2  # UNet levels - 1 (channel multipliers 1, 2, 2, ...)
    adv_weight: float = 0.0  # not adversarial
    timesteps: int = 1000
    beta_schedule: str = "linear"
    ema_decay: float = 0.995
    sample_steps: int = 10  # strided reverse steps at inference
    resample: int = 2  # times each stretch of the chain is run (1 = plain replacement, no jumps)
    jump: int = 1  # RePaint jump length: strided steps taken back up at each jump
    strength: float = 0.1  # fraction of the chain run (1.0: pure noise, plain RePaint); 0.1 vs 0.2, 0.3: README
    train_below_start: bool = True  # train the ε-model only on the timesteps inference visits (t < strength·T)
    precision: str = "fp32"  # the ε-model's training forward/backward: fp32, or bf16 autocast (inference stays fp32)
    seed: int = 0  # sampling noise

    def validate(self) -> None:
        super().validate()
        if self.resample < 1 or self.jump < 1:
            raise ObscuraError(f"diffusion: resample ({self.resample}) and jump ({self.jump}) must be >= 1.")
        if not 0 < self.strength <= 1:
            raise ObscuraError(f"diffusion: strength must be in (0, 1], got {self.strength}.")
        if self.precision not in ("fp32", "bf16"):
            raise ObscuraError(f"diffusion: precision must be 'fp32' or 'bf16', got {self.precision!r}.")

    def setup(self) -> "DiffusionInpaint":
        return DiffusionInpaint(self)


def repaint_path(n: int, jump: int, resample: int) -> list[int]:
    """RePaint's schedule as indices into ``n`` strided timesteps (0 the noisiest, ``n`` = x_0): one step down at
    a time; on reaching a multiple k of ``jump`` (0 < k < n) for the first ``resample`` − 1 times, ``jump`` steps
    back up."""
    path, left, i = [0], {k: resample - 1 for k in range(jump, n, jump)}, 0
    while i < n:
        i += 1
        path.append(i)
        if left.get(i, 0) > 0:
            left[i] -= 1
            path.extend(range(i - 1, i - jump - 1, -1))
            i -= jump
    return path



class DiffusionInpaint(InpaintModel):
    def __init__(self, config: DiffusionConfig):
        super().__init__(config)
        from obscura.generative.scheduler import DDPMScheduler

        scheduler = DDPMScheduler(config.timesteps, config.beta_schedule, clip_sample=True)
        mults = (1,) + (2,) * config.depth
        self.diffusion = Diffusion((3, 2 ** config.depth, 2 ** config.depth), config.width, mults, False,
                                   scheduler, config.ema_decay, precision=config.precision)
        self.multiple = 2 ** config.depth

    def generator_parameters(self):
        return list(self.diffusion.unet.parameters())

    def start_timestep(self) -> int:
        """The first timestep of the inference chain: round(strength · T) − 1 (at least 0)."""
        return max(1, round(self.config.strength * self.diffusion.scheduler.num_train_timesteps)) - 1

    def generator_loss(self, batch):
        limit = self.start_timestep() + 1 if self.config.train_below_start else None
        loss = self.diffusion.loss(batch["image"] * 2 - 1, max_timestep=limit)
        return loss, {"eps_mse": loss.item()}, batch["image"]

    def after_step(self) -> None:
        self.diffusion.update_ema()

    def _jump(self, x: torch.Tensor, t_from: int, t_to: int, generator) -> torch.Tensor:
        """Sample q(x_t_to | x_t_from) for t_to > t_from (t_from = -1 means x_0)."""
        sched = self.diffusion.scheduler
        ratio = sched.alpha_bar(t_to, x) / sched.alpha_bar(t_from, x)
        return ratio.sqrt() * x + (1 - ratio).sqrt() * torch.randn(x.shape, generator=generator)

    @torch.no_grad()
    def forward(self, image, hole, progress: bool = False):
        c = self.config
        h, w = image.shape[-2:]
        pad = (0, (-w) % self.multiple, 0, (-h) % self.multiple)
        x0 = torch.nn.functional.pad(image * 2 - 1, pad, mode="replicate")
        m = torch.nn.functional.pad(hole, pad, mode="replicate")
        net, sched = self.diffusion.denoiser(True), self.diffusion.scheduler
        g = torch.Generator().manual_seed(c.seed)
        t_start = self.start_timestep()
        dense = min(sched.num_train_timesteps, c.sample_steps * sched.num_train_timesteps // (t_start + 1))
        ts = [t for t in sched.ddim_timesteps(dense) if t <= t_start] or [t_start]
        if c.strength >= 1:
            x = torch.randn(x0.shape, generator=g)
        else:
            init = self.prepare(x0 * 0.5 + 0.5, m) * 2 - 1
            x = sched.add_noise(init, torch.randn(x0.shape, generator=g), ts[0])
        times = [*ts, -1]
        path = repaint_path(len(ts), c.jump, c.resample)
        for i, j in tqdm(list(zip(path, path[1:])), desc="repaint", disable=not progress, leave=False):
            t, t_next = times[i], times[j]
            if j < i:                                           # jump back up: q(x_t_next | x_t)
                x = self._jump(x, t, t_next, g)
                continue
            unknown = sched.ddim_step(net(x, t), t, t_next, x, eta=1.0, generator=g)
            known = x0 if t_next < 0 else sched.add_noise(x0, torch.randn(x0.shape, generator=g), t_next)
            x = m * unknown + (1 - m) * known
        out = (x[..., :h, :w] + 1) / 2
        return composite(out, image, hole)
