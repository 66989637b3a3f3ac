"""Volume rendering and ray samplers shared by every NeRF model.

Samples are *packed*: a flat list of intervals ``[t_start, t_end]`` along unit-direction rays, sorted
by ``ray_ids`` and then by ``t``. A dense ``(R, K)`` layout is the special case
``ray_ids = arange(R).repeat_interleave(K)``. Quadrature (Max 1995, NeRF eq. 3): with
``τ_i = σ_i Δ_i``, ``T_i = exp(−Σ_{j<i} τ_j)``, ``w_i = T_i (1 − exp(−τ_i))``.
"""

from __future__ import annotations

import torch


def ray_box(origins: torch.Tensor, dirs: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor,
            near_min: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Entry and exit distances of rays through the box ``[lo, hi]`` (slab test; far ≤ near: a miss)."""
    inv = 1.0 / torch.where(dirs.abs() < 1e-12, torch.full_like(dirs, 1e-12), dirs)
    a, b = (lo - origins) * inv, (hi - origins) * inv
    near = torch.minimum(a, b).amax(-1).clamp_min(near_min)
    far = torch.maximum(a, b).amin(-1)
    return near, far


def segment_starts(ray_ids: torch.Tensor, n_rays: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per ray: index of its first packed sample and its sample count."""
    counts = torch.bincount(ray_ids, minlength=n_rays)
    return torch.cumsum(counts, 0) - counts, counts


def render_weights(sigmas: torch.Tensor, deltas: torch.Tensor, ray_ids: torch.Tensor,
                   n_rays: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Blending weights ``w_i`` and transmittance ``T_i`` of packed samples (differentiable).

    The per-ray exclusive sum of optical depth is a global cumulative sum minus its value at the ray's
    first sample, in float64 so that thousands of rays in one sum do not eat the precision.
    """
    tau = sigmas * deltas
    trans = torch.exp(-segment_cumsum(tau, ray_ids, n_rays))
    return trans * (1 - torch.exp(-tau)), trans


def segment_cumsum(values: torch.Tensor, ray_ids: torch.Tensor, n_rays: int) -> torch.Tensor:
    """Per-ray exclusive cumulative sum of packed ``values`` (float64 inside, as ``render_weights``)."""
    total = torch.cumsum(values.double(), 0) - values.double()
    starts, _ = segment_starts(ray_ids, n_rays)
    return (total - total[starts[ray_ids]]).to(values.dtype)


def distortion(weights: torch.Tensor, t0: torch.Tensor, t1: torch.Tensor, ray_ids: torch.Tensor,
               n_rays: int) -> torch.Tensor:
    """Mean over rays of the distortion loss of mip-NeRF 360 (eq. 15), in O(samples) with per-ray prefix
    sums: ``Σ_ij w_i w_j |m_i − m_j| + ⅓ Σ_i w_i² Δ_i`` (``m`` interval midpoints, ``Δ`` lengths). It is
    small when each ray's weight sits in one short interval (a surface) rather than spread as fog."""
    mid, delta = (t0 + t1) / 2, t1 - t0
    w_before = segment_cumsum(weights, ray_ids, n_rays)
    wm_before = segment_cumsum(weights * mid, ray_ids, n_rays)
    inter = 2 * (weights * (mid * w_before - wm_before)).sum()
    intra = (weights.square() * delta).sum() / 3
    return (inter + intra) / max(n_rays, 1)


def accumulate(weights: torch.Tensor, values: torch.Tensor | None, ray_ids: torch.Tensor, n_rays: int) -> torch.Tensor:
    """Per-ray ``Σ w_i v_i`` (``values`` None: the opacity ``Σ w_i``)."""
    v = weights[:, None] if values is None else weights[:, None] * (values if values.dim() == 2 else values[:, None])
    out = torch.zeros(n_rays, v.shape[1], dtype=v.dtype)
    out = out.index_add(0, ray_ids, v)
    return out[:, 0] if values is None or values.dim() == 1 else out


def composite(weights: torch.Tensor, rgb: torch.Tensor, t_mid: torch.Tensor, ray_ids: torch.Tensor, n_rays: int,
              background: torch.Tensor) -> dict[str, torch.Tensor]:
    """Colour (over ``background``), opacity and expected distance (given the ray hit something)."""
    acc = accumulate(weights, None, ray_ids, n_rays)
    color = accumulate(weights, rgb, ray_ids, n_rays) + (1 - acc)[:, None] * background
    depth = accumulate(weights, t_mid, ray_ids, n_rays) / acc.clamp_min(1e-6)
    return {"rgb": color, "acc": acc, "depth": depth}


def stratified(near: torch.Tensor, far: torch.Tensor, n: int,
               generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` bins evenly between ``near`` and ``far`` per ray: edges (R, n+1) and one sample per bin
    (R, n), jittered uniformly inside its bin when ``generator`` is given, else at bin centres."""
    s = torch.linspace(0, 1, n + 1)
    edges = near[:, None] + (far - near)[:, None] * s
    u = torch.rand(len(near), n, generator=generator) if generator is not None else torch.full((len(near), n), 0.5)
    return edges, edges[:, :-1] + (edges[:, 1:] - edges[:, :-1]) * u


def sample_pdf(edges: torch.Tensor, weights: torch.Tensor, n: int,
               generator: torch.Generator | None = None) -> torch.Tensor:
    """Hierarchical sampling: ``n`` distances per ray drawn by inverting the piecewise-constant pdf
    ``weights`` (R, K) over bins ``edges`` (R, K+1) (stratified uniforms when ``generator``, else evenly
    spaced). Sorted along each ray."""
    w = weights.detach() + 1e-5
    cdf = torch.cumsum(w / w.sum(-1, keepdim=True), -1)
    cdf = torch.cat([torch.zeros_like(cdf[:, :1]), cdf], -1).contiguous()
    if generator is not None:
        u = (torch.arange(n) + torch.rand(len(w), n, generator=generator)) / n
    else:
        u = ((torch.arange(n) + 0.5) / n).expand(len(w), n)
    u = u.contiguous()
    idx = torch.searchsorted(cdf, u, right=True).clamp(1, cdf.shape[1] - 1)
    c0, c1 = cdf.gather(1, idx - 1), cdf.gather(1, idx)
    e0, e1 = edges.gather(1, idx - 1), edges.gather(1, idx)
    frac = ((u - c0) / (c1 - c0).clamp_min(1e-8)).clamp(0, 1)
    return e0 + frac * (e1 - e0)


def contract(x: torch.Tensor) -> torch.Tensor:
    """Scene contraction (∞-norm, as mip-NeRF 360 / instant-ngp): the unit cube is kept, everything
    outside maps into ``[−2, 2]³``; the result is halved into ``[−1, 1]³``."""
    n = x.abs().amax(-1, keepdim=True).clamp_min(1e-9)
    return torch.where(n <= 1, x, (2 - 1 / n) * x / n) / 2
