"""Scores specific to generative models: reconstruction MSE/PSNR, VAE ELBO/NLL, latent blends and how
far they stray from the data manifold. FID/KID and the feature networks live in :mod:`obscura.metrics`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from obscura.errors import ObscuraError
from obscura.metrics import FeatureNet, extract_features, psnr


@torch.no_grad()
def reconstruction(model, x: torch.Tensor, batch_size: int = 256) -> dict[str, float]:
    """MSE and PSNR (dB) on the [0, 1] scale of ``model(x)`` against ``x``."""
    rec = torch.cat([model(x[i:i + batch_size]) for i in range(0, len(x), batch_size)])
    a, b = (rec.clamp(-1, 1) + 1) / 2, (x + 1) / 2
    return {"recon_mse": float(F.mse_loss(a, b)),
            "recon_psnr": psnr(a, b)}


@torch.no_grad()
def vae_likelihood(vae, x: torch.Tensor, k: int, seed: int, batch_size: int = 64) -> dict[str, float]:
    """Mean ELBO, KL and importance-sampled NLL (k samples) per image in nats; NLL ≤ −ELBO in expectation."""
    g = torch.Generator().manual_seed(seed)
    elbo, kl, nll = [], [], []
    for i in range(0, len(x), batch_size):
        xb = x[i:i + batch_size]
        t = vae.terms(xb, g)
        elbo.append(t["elbo"])
        kl.append(t["kl"])
        nll.append(vae.nll_importance(xb, k, g))
    n_dims = x[0].numel()
    nll_mean = float(torch.cat(nll).mean())
    return {"elbo": float(torch.cat(elbo).mean()), "kl": float(torch.cat(kl).mean()), "nll_is": nll_mean,
            "nll_is_bits_per_dim": nll_mean / (n_dims * torch.log(torch.tensor(2.0)).item())}


def _discretized_gaussian_log_prob(x: torch.Tensor, mean: torch.Tensor, std: float, bins: int = 256) -> torch.Tensor:
    """log P(x) per element for x on the ``bins`` levels of [−1, 1] under N(mean, std²) integrated over x's bin
    (the outermost bins extend to ±∞), as DDPM's decoder p(x_0 | x_1)."""
    half = 1.0 / (bins - 1)
    normal = torch.distributions.Normal(mean.double(), std)
    upper = torch.where(x < 1 - 1e-6, normal.cdf(x.double() + half), torch.ones_like(mean, dtype=torch.float64))
    lower = torch.where(x > -1 + 1e-6, normal.cdf(x.double() - half), torch.zeros_like(mean, dtype=torch.float64))
    return torch.log((upper - lower).clamp_min(1e-300))


@torch.no_grad()
def diffusion_bits_per_dim(eps_model, scheduler, x0: torch.Tensor, timesteps: int, seed: int,
                           batch_size: int = 64) -> dict[str, float]:
    """DDPM's variational bound on −log p(x_0) for 8-bit images ``x0`` in [−1, 1] (Ho et al. eq. 5): the prior
    term KL(q(x_T | x_0) ‖ N(0, I)), Σ_{t≥1} KL(q(x_{t−1} | x_t, x_0) ‖ p_θ(x_{t−1} | x_t)) with p_θ the
    ancestral step of ``scheduler`` (variance β̃_t), estimated without bias from ``timesteps`` uniform draws of
    t per image, and the discretized-Gaussian decoder −log p_θ(x_0 | x_1) (std √β_1). Returns nats per image
    and bits per dimension (mean over images), and the three parts in bits/dim."""
    g = torch.Generator().manual_seed(seed)
    sched, T = scheduler, scheduler.num_train_timesteps
    dims = x0[0].numel()
    prior, middle, decoder = [], [], []
    for i in range(0, len(x0), batch_size):
        x = x0[i:i + batch_size].double()
        n = len(x)
        a_T = sched.alphas_cumprod[-1]
        prior.append((0.5 * (a_T * x.square() + (1 - a_T) - 1 - torch.log(1 - a_T))).flatten(1).sum(1))
        noise = torch.randn(x.shape, generator=g, dtype=torch.float64)
        x1 = sched.add_noise(x, noise, 0)
        eps = eps_model(x1.float(), torch.zeros(n, dtype=torch.long)).double()
        mean = sched.predict_x0(eps, 0, x1)                          # the t = 0 ancestral step's mean
        decoder.append(-_discretized_gaussian_log_prob(x, mean, float(sched.betas[0].sqrt())).flatten(1).sum(1))
        terms = torch.zeros(n, dtype=torch.float64)
        for _ in range(timesteps):
            t = torch.randint(1, T, (n,), generator=g)
            noise = torch.randn(x.shape, generator=g, dtype=torch.float64)
            xt = sched.add_noise(x, noise, t)
            eps = eps_model(xt.float(), t).double()
            true_mean = sched.posterior_mean(x, t, xt)
            model_mean = sched.posterior_mean(sched.predict_x0(eps, t, xt), t, xt)
            var = sched.posterior_variance[t].view(-1, 1, 1, 1)
            terms += ((true_mean - model_mean).square() / (2 * var)).flatten(1).sum(1)
        middle.append(terms * (T - 1) / timesteps)
    parts = {k: torch.cat(v) for k, v in (("prior", prior), ("diffusion", middle), ("decoder", decoder))}
    nats = parts["prior"] + parts["diffusion"] + parts["decoder"]
    per_dim = dims * math.log(2)
    return {"nll_bound": float(nats.mean()), "bits_per_dim": float(nats.mean()) / per_dim,
            **{f"bits_per_dim_{k}": float(v.mean()) / per_dim for k, v in parts.items()}}


def blend(model, a: torch.Tensor, b: torch.Tensor, steps: int) -> torch.Tensor:
    """Decode the path between the latents of images ``a`` and ``b`` (each (C, H, W)): ``steps`` images.

    Linear in the (V)AE latent; spherical for diffusion models, whose DDIM-inverted x_T are Gaussian
    noise and should keep their norm.
    """
    if not hasattr(model, "encode"):
        raise ObscuraError(f"{model.config.name} has no encoder, so it cannot blend two given images; "
                           "use ae, vae, ddpm or ldm.")
    with torch.no_grad():
        za, zb = model.encode(torch.stack([a, b])).unbind(0)
        w = torch.linspace(0, 1, steps)
        if model.config.name == "ddpm":
            path = torch.stack([slerp(za, zb, float(t)) for t in w])
        else:
            path = torch.stack([(1 - t) * za + t * zb for t in w])
        return model.decode(path).clamp(-1, 1)


def slerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    cos = (a.flatten() @ b.flatten()) / (a.norm() * b.norm())
    omega = torch.arccos(cos.clamp(-1, 1))
    if omega.abs() < 1e-6:
        return (1 - t) * a + t * b
    return (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / torch.sin(omega)


def nearest_distance(query: torch.Tensor, reference: torch.Tensor, exclude_self: bool = False) -> torch.Tensor:
    """Euclidean distance from each query feature to its nearest reference feature."""
    d = torch.cdist(query, reference)
    if exclude_self:
        d.fill_diagonal_(float("inf"))
    return d.min(1).values


def blend_pairs(n: int, pairs: int, seed: int) -> list[tuple[int, int]]:
    """``pairs`` seeded random pairs of distinct indices below ``n`` (each index used once)."""
    pairs = max(1, min(pairs, n // 2))
    idx = torch.randperm(n, generator=torch.Generator().manual_seed(seed))[: 2 * pairs].view(pairs, 2)
    return [(i, j) for i, j in idx.tolist()]


def off_manifold(points: torch.Tensor, real: torch.Tensor) -> float:
    """Mean distance from each of ``points`` to its nearest row of ``real`` ÷ the mean nearest-neighbour
    distance among ``real`` themselves (leave-one-out), both feature matrices: ≈ 1 on the data manifold, > 1
    off it."""
    return float(nearest_distance(points, real).mean() / nearest_distance(real, real, exclude_self=True).mean())


@torch.no_grad()
def blend_midpoints(model, real: torch.Tensor, pairs: int, seed: int) -> torch.Tensor:
    """Decoded latent midpoints of :func:`blend_pairs` of ``real`` images."""
    return torch.stack([blend(model, real[i], real[j], 3)[1] for i, j in blend_pairs(len(real), pairs, seed)])


@torch.no_grad()
def blend_off_manifold(model, features: FeatureNet, real: torch.Tensor, pairs: int, seed: int) -> float:
    """:func:`off_manifold` of the latent-blend midpoints of ``pairs`` random pairs of ``real`` images, in
    ``features`` space."""
    mids = blend_midpoints(model, real, pairs, seed)
    return off_manifold(extract_features(features, mids), extract_features(features, real))
