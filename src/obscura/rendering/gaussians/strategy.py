"""Adaptive density control (Inria's schedule): clone small and split large gaussians whose mean
view-space positional gradient is high, prune transparent and oversized ones, reset opacities.

The optimiser's Adam moments follow every change: rows of kept gaussians keep theirs, new rows start
at zero (as Inria's ``densification_postfix``/``prune_optimizer``).
"""

from __future__ import annotations

import math

import torch

from obscura.rendering.gaussians.model import PARAMS, GaussianModel, GaussiansConfig
from obscura.rendering.gaussians.projection import quat_to_rotmat


def make_optimizer(model: GaussianModel) -> torch.optim.Adam:
    c = model.config
    lrs = {"means": c.lr_means, "log_scales": c.lr_scales, "quats": c.lr_quats, "opacity_logits": c.lr_opacity,
           "sh_dc": c.lr_sh_dc, "sh_rest": c.lr_sh_rest}
    return torch.optim.Adam([{"params": [getattr(model, k)], "lr": lrs[k], "name": k} for k in PARAMS], eps=1e-15)


def replace_rows(model: GaussianModel, optimizer: torch.optim.Adam, keep: torch.Tensor,
                 new: dict[str, torch.Tensor] | None = None) -> None:
    """Keep the rows ``keep`` (bool mask) of every parameter, append ``new`` rows, carry Adam's moments."""
    tensors = {}
    for group in optimizer.param_groups:
        name, old = group["name"], group["params"][0]
        extra = new[name] if new else old[:0]
        tensors[name] = torch.cat([old.detach()[keep], extra.detach()])
        state = optimizer.state.pop(old, None)
        model.register_parameter(name, torch.nn.Parameter(tensors[name].contiguous()))
        param = getattr(model, name)
        group["params"] = [param]
        if state:
            pad = torch.zeros_like(extra)
            state["exp_avg"] = torch.cat([state["exp_avg"][keep], pad]).contiguous()
            state["exp_avg_sq"] = torch.cat([state["exp_avg_sq"][keep], pad]).contiguous()
            optimizer.state[param] = state


class DensityControl:
    """Accumulates the positional-gradient statistics and applies the refinement schedule."""

    def __init__(self, config: GaussiansConfig, extent: float):
        self.config, self.extent = config, extent
        self.grad_sum = torch.zeros(0)
        self.count = torch.zeros(0)
        self.max_radius = torch.zeros(0)

    def reset(self, n: int) -> None:
        self.grad_sum, self.count, self.max_radius = torch.zeros(n), torch.zeros(n), torch.zeros(n)

    def _fit(self, n: int) -> None:
        if len(self.grad_sum) != n:
            self.reset(n)

    def observe(self, means2d: torch.Tensor, radii: torch.Tensor, width: int, height: int) -> None:
        """After backward: add each visible gaussian's screen gradient (scaled to NDC as Inria) and radius."""
        self._fit(len(radii))
        visible = radii > 0
        g = means2d.grad.detach() * torch.tensor([width / 2, height / 2])
        self.grad_sum[visible] += g[visible].norm(dim=-1)
        self.count[visible] += 1
        self.max_radius[visible] = torch.maximum(self.max_radius[visible], radii[visible].float())

    def step(self, step: int, model: GaussianModel, optimizer: torch.optim.Adam,
             generator: torch.Generator) -> dict[str, float]:
        """Run what the schedule asks for after step ``step`` (1-based); returns counts of what changed."""
        c, logs = self.config, {}
        if c.refine_start <= step <= c.refine_stop and step % c.refine_every == 0:
            logs = self.refine(step, model, optimizer, generator)
        if step % c.opacity_reset_every == 0 and step <= c.refine_stop:
            self.reset_opacity(model, optimizer)
        return logs

    def refine(self, step: int, model: GaussianModel, optimizer: torch.optim.Adam,
               generator: torch.Generator) -> dict[str, float]:
        c = self.config
        self._fit(len(model))
        grads = self.grad_sum / self.count.clamp_min(1)
        big = torch.exp(model.log_scales.detach()).max(1).values > c.percent_dense * self.extent
        candidates = grads >= c.grad_threshold
        room = max(c.max_gaussians - len(model), 0)
        if int(candidates.sum()) + int((candidates & big).sum()) > room:      # over the cap: the strongest first
            order = torch.argsort(torch.where(candidates, grads, torch.full_like(grads, -1.0)), descending=True)
            fits = candidates[order] & (torch.cumsum(1 + big[order].long(), 0) <= room)
            candidates = torch.zeros_like(candidates)
            candidates[order[fits]] = True
        clone, split = candidates & ~big, candidates & big
        new = {k: getattr(model, k).detach()[clone] for k in PARAMS}
        if split.any():
            samples = self._split(model, split, generator)
            new = {k: torch.cat([new[k], samples[k]]) for k in PARAMS}
        keep = ~split
        replace_rows(model, optimizer, keep, new)
        prune = self._prune_mask(step, model, torch.cat([self.max_radius[keep], torch.zeros(len(new["means"]))]))
        replace_rows(model, optimizer, ~prune)
        self.reset(len(model))
        return {"cloned": float(clone.sum()), "split": float(split.sum()), "pruned": float(prune.sum())}

    @staticmethod
    def _split(model: GaussianModel, mask: torch.Tensor, generator: torch.Generator, n: int = 2) -> dict:
        """Each selected gaussian → ``n`` samples drawn from it, scales divided by 0.8·n."""
        scales = torch.exp(model.log_scales.detach()[mask]).repeat(n, 1)
        rot = quat_to_rotmat(model.quats.detach()[mask]).repeat(n, 1, 1)
        offsets = torch.randn(scales.shape, generator=generator) * scales
        out = {k: getattr(model, k).detach()[mask].repeat(n, *[1] * (getattr(model, k).ndim - 1)) for k in PARAMS}
        out["means"] = out["means"] + (rot @ offsets[..., None])[..., 0]
        out["log_scales"] = torch.log(scales / (0.8 * n))
        return out

    def _prune_mask(self, step: int, model: GaussianModel, max_radius: torch.Tensor) -> torch.Tensor:
        c = self.config
        prune = model.opacities.detach() < c.min_opacity
        if step > c.opacity_reset_every:
            prune |= max_radius > c.max_screen_radius
            prune |= torch.exp(model.log_scales.detach()).max(1).values > c.max_world_scale * self.extent
        return prune

    @staticmethod
    def reset_opacity(model: GaussianModel, optimizer: torch.optim.Adam) -> None:
        """Opacities to at most 0.01, their Adam moments to zero."""
        cap = math.log(0.01 / 0.99)
        with torch.no_grad():
            model.opacity_logits.clamp_(max=cap)
        state = optimizer.state.get(model.opacity_logits)
        if state:
            state["exp_avg"].zero_()
            state["exp_avg_sq"].zero_()

    def state_dict(self) -> dict:
        return {"grad_sum": self.grad_sum, "count": self.count, "max_radius": self.max_radius}

    def load_state_dict(self, state: dict) -> None:
        self.grad_sum, self.count, self.max_radius = state["grad_sum"], state["count"], state["max_radius"]
