"""DDPM noise scheduler: β schedules, forward noising q(x_t|x_0), ancestral and DDIM reverse steps.

Indexing follows diffusers: timesteps are ``0 … T−1`` where ``t = 0`` is the first noising step, and
``alphas_cumprod[t] = ∏_{s≤t} (1 − β_s)``. The scheduler holds no learnable state and knows nothing
about the network; any ε-predicting model can drive it (the inpainting track uses it for RePaint).

Typical reverse loop (ancestral)::

    x = torch.randn(shape, generator=g)
    for t in sched.timesteps():
        x = sched.step(model(x, t), t, x, generator=g)

and with DDIM on a sub-sequence of ``k`` steps::

    ts = sched.ddim_timesteps(k)
    for t, t_prev in zip(ts, [*ts[1:], -1]):
        x = sched.ddim_step(model(x, t), t, t_prev, x, eta=0.0)
"""

from __future__ import annotations

import math

import torch

from obscura.errors import ObscuraError


def linear_betas(num_train_timesteps: int, beta_start: float = 1e-4, beta_end: float = 0.02) -> torch.Tensor:
    """Ho et al.'s linear schedule; the end points are rescaled by 1000/T so any T reaches pure noise."""
    scale = 1000.0 / num_train_timesteps
    return torch.linspace(beta_start * scale, min(beta_end * scale, 0.999), num_train_timesteps,
                          dtype=torch.float64)


def cosine_betas(num_train_timesteps: int, s: float = 0.008, max_beta: float = 0.999) -> torch.Tensor:
    """Nichol & Dhariwal: ᾱ(t) = cos²(((t/T) + s)/(1 + s) · π/2) / ᾱ(0), β_t = 1 − ᾱ_t/ᾱ_{t−1} (≤ max_beta)."""
    steps = torch.arange(num_train_timesteps + 1, dtype=torch.float64) / num_train_timesteps
    f = torch.cos((steps + s) / (1 + s) * math.pi / 2) ** 2
    return (1 - f[1:] / f[:-1]).clamp(max=max_beta)


class DDPMScheduler:
    """Noise schedule and the reverse-step maths; all methods are pure functions of their inputs.

    Args:
        num_train_timesteps: T.
        beta_schedule: ``"linear"`` or ``"cosine"``.
        clip_sample: clamp the x̂_0 prediction to [−1, 1] inside reverse steps (pixel space only).
    """

    def __init__(self, num_train_timesteps: int = 1000, beta_schedule: str = "linear", clip_sample: bool = True):
        if num_train_timesteps < 2:
            raise ObscuraError(f"num_train_timesteps must be at least 2, got {num_train_timesteps}.")
        if beta_schedule == "linear":
            betas = linear_betas(num_train_timesteps)
        elif beta_schedule == "cosine":
            betas = cosine_betas(num_train_timesteps)
        else:
            raise ObscuraError(f"unknown beta_schedule {beta_schedule!r}; use 'linear' or 'cosine'.")
        self.num_train_timesteps = num_train_timesteps
        self.beta_schedule = beta_schedule
        self.clip_sample = clip_sample
        self.betas = betas
        self.alphas = 1.0 - betas
        self.alphas_cumprod = torch.cumprod(self.alphas, 0)
        self.alphas_cumprod_prev = torch.cat([torch.ones(1, dtype=torch.float64), self.alphas_cumprod[:-1]])
        # variance of q(x_{t-1} | x_t, x_0): β̃_t = β_t (1 − ᾱ_{t−1}) / (1 − ᾱ_t)
        self.posterior_variance = betas * (1 - self.alphas_cumprod_prev) / (1 - self.alphas_cumprod)

    # ---------------------------------------------------------------- helpers
    def timesteps(self) -> list[int]:
        """All training timesteps, from T−1 down to 0 (the ancestral sampling order)."""
        return list(range(self.num_train_timesteps - 1, -1, -1))

    def ddim_timesteps(self, num_steps: int) -> list[int]:
        """``num_steps`` evenly spaced timesteps in descending order, always ending at 0."""
        if not 1 <= num_steps <= self.num_train_timesteps:
            raise ObscuraError(f"DDIM steps must be in 1..{self.num_train_timesteps}, got {num_steps}.")
        ts = torch.linspace(0, self.num_train_timesteps - 1, num_steps, dtype=torch.float64).round().long()
        return sorted(set(ts.tolist()), reverse=True)

    def _at(self, values: torch.Tensor, t, like: torch.Tensor) -> torch.Tensor:
        """``values[t]`` broadcast to ``like`` (t an int or a (N,) tensor; t = −1 means ᾱ = 1)."""
        if isinstance(t, int):
            v = torch.tensor(1.0, dtype=torch.float64) if t < 0 else values[t]
            return v.to(like.dtype)
        t = t.long()
        return values[t].to(like.dtype).view(-1, *([1] * (like.ndim - 1)))

    def alpha_bar(self, t, like: torch.Tensor) -> torch.Tensor:
        return self._at(self.alphas_cumprod, t, like)

    # ---------------------------------------------------------------- forward process
    def add_noise(self, x0: torch.Tensor, noise: torch.Tensor, t) -> torch.Tensor:
        """Sample q(x_t | x_0) = N(√ᾱ_t x_0, (1 − ᾱ_t) I) with the given standard-normal ``noise``."""
        a = self.alpha_bar(t, x0)
        return a.sqrt() * x0 + (1 - a).sqrt() * noise

    def add_noise_step(self, x_prev: torch.Tensor, noise: torch.Tensor, t) -> torch.Tensor:
        """Sample q(x_t | x_{t−1}) = N(√(1 − β_t) x_{t−1}, β_t I): one forward step (RePaint's resampling)."""
        b = self._at(self.betas, t, x_prev)
        return (1 - b).sqrt() * x_prev + b.sqrt() * noise

    # ---------------------------------------------------------------- reverse process
    def predict_x0(self, eps: torch.Tensor, t, x_t: torch.Tensor) -> torch.Tensor:
        """x̂_0 = (x_t − √(1 − ᾱ_t) ε̂) / √ᾱ_t, clamped to [−1, 1] when ``clip_sample``."""
        a = self.alpha_bar(t, x_t)
        x0 = (x_t - (1 - a).sqrt() * eps) / a.sqrt()
        return x0.clamp(-1, 1) if self.clip_sample else x0

    def posterior_mean(self, x0: torch.Tensor, t, x_t: torch.Tensor) -> torch.Tensor:
        """μ̃_t(x_t, x_0), the mean of q(x_{t−1} | x_t, x_0) (t an int or a (N,) tensor)."""
        f64 = x_t.new_empty((), dtype=torch.float64)            # coefficients in float64, then x_t's dtype
        a, a_prev = self._at(self.alphas_cumprod, t, f64), self._at(self.alphas_cumprod_prev, t, f64)
        beta, alpha = self._at(self.betas, t, f64), self._at(self.alphas, t, f64)
        c0, ct = a_prev.sqrt() * beta / (1 - a), alpha.sqrt() * (1 - a_prev) / (1 - a)
        shape = (-1, *([1] * (x_t.ndim - 1))) if c0.ndim else ()
        return c0.reshape(shape).to(x_t.dtype) * x0 + ct.reshape(shape).to(x_t.dtype) * x_t

    def step(self, eps: torch.Tensor, t: int, x_t: torch.Tensor, generator: torch.Generator | None = None,
             noise: torch.Tensor | None = None) -> torch.Tensor:
        """Ancestral step x_t → x_{t−1} ~ N(μ̃_t(x_t, x̂_0), β̃_t I) (no noise added at t = 0)."""
        mean = self.posterior_mean(self.predict_x0(eps, t, x_t), t, x_t)
        if t == 0:
            return mean
        if noise is None:
            noise = torch.randn(x_t.shape, generator=generator, dtype=x_t.dtype)
        return mean + self.posterior_variance[t].sqrt().item() * noise

    def ddim_step(self, eps: torch.Tensor, t: int, t_prev: int, x_t: torch.Tensor, eta: float = 0.0,
                  generator: torch.Generator | None = None, noise: torch.Tensor | None = None) -> torch.Tensor:
        """DDIM update x_t → x_{t_prev} (Song et al. eq. 12); ``t_prev = −1`` lands on x_0.

        σ = η √((1 − ᾱ_prev)/(1 − ᾱ_t)) √(1 − ᾱ_t/ᾱ_prev). η = 0 is deterministic; η = 1 with
        ``t_prev = t − 1`` is exactly the ancestral ``step``. With η = 0 and ``t_prev > t`` the same
        formula runs the deterministic inversion x_t → x_{t_prev}.
        """
        a = self.alpha_bar(t, x_t)
        a_prev = self.alpha_bar(t_prev, x_t)
        x0 = self.predict_x0(eps, t, x_t)
        eps = (x_t - a.sqrt() * x0) / (1 - a).sqrt()         # consistent with a clipped x̂_0
        sigma = eta * ((1 - a_prev) / (1 - a) * (1 - a / a_prev)).clamp(min=0).sqrt()
        x_prev = a_prev.sqrt() * x0 + (1 - a_prev - sigma**2).clamp(min=0).sqrt() * eps
        if eta > 0 and t_prev >= 0:
            if noise is None:
                noise = torch.randn(x_t.shape, generator=generator, dtype=x_t.dtype)
            x_prev = x_prev + sigma * noise
        return x_prev
