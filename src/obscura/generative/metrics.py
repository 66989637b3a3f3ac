"""Scores specific to generative models: reconstruction MSE/PSNR, VAE ELBO/NLL, latent blends and how
far they stray from the data manifold. FID/KID and the feature networks live in :mod:`obscura.metrics`.
"""

from __future__ import annotations

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


@torch.no_grad()
def blend_off_manifold(model, features: FeatureNet, real: torch.Tensor, pairs: int, seed: int) -> float:
    """How far latent-blend midpoints fall from the data, in classifier-feature space.

    Ratio of the mean nearest-real-neighbour distance of decoded midpoints (``pairs`` random pairs of
    ``real`` images) to that of real images themselves (leave-one-out): ≈ 1 on the manifold, > 1 off it.
    """
    g = torch.Generator().manual_seed(seed)
    pairs = max(1, min(pairs, len(real) // 2))
    idx = torch.randperm(len(real), generator=g)[: 2 * pairs].view(pairs, 2)
    mids = torch.stack([blend(model, real[i], real[j], 3)[1] for i, j in idx.tolist()])
    ref = extract_features(features, real)
    mid_d = nearest_distance(extract_features(features, mids), ref).mean()
    real_d = nearest_distance(ref, ref, exclude_self=True).mean()
    return float(mid_d / real_d)
