"""``grid``: the fast CPU NeRF — multi-resolution hash grid + tiny MLPs (instant-ngp), an occupancy grid
that skips empty space (re-measured during training) and optional scene contraction for unbounded,
forward-facing captures."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from obscura.errors import ObscuraError
from obscura.methods import MethodConfig
from obscura.rendering.nerf.base import (
    NerfModel,
    SceneBox,
    mlp,
    spherical_harmonics,
    trunc_exp,
)
from obscura.rendering.nerf.hashgrid import HashGrid
from obscura.rendering.nerf.occupancy import OccupancyGrid, step_edges
from obscura.rendering.nerf.volume import composite, distortion, render_weights, segment_starts


@dataclass
class GridConfig(MethodConfig):
    """Hash grid (``levels`` × ``features``, ``2^log2_size`` entries per level, resolutions ``min_res`` …
    ``max_res`` over the box), density MLP → ``geo_features`` → colour MLP with SH(``dir_degree``) of the
    view direction. Marching: ``march_steps`` steps across the box diagonal (``warmup_stride`` times
    longer steps, through every cell, for the first ``occupancy_warmup`` steps); occupancy grid of
    ``occupancy_res`` cells along the longest side, re-measured every ``occupancy_every`` steps after
    the warm-up; samples behind transmittance ``early_stop`` are dropped (``GridNeRF.visible``); at most
    ``max_samples`` samples per training step. ``distortion`` weighs mip-NeRF 360's distortion loss
    (distances in box diagonals), which pulls each ray's weight onto one surface instead of fog. Renders
    march ``render_chunk`` rays at a time (2,048: frames 15–30 % faster than with 16,384 on 2 cores)."""

    name: ClassVar[str] = "grid"
    tiny_overrides: ClassVar[dict] = {"levels": 4, "log2_size": 12, "max_res": 64, "hidden": 16,
                                      "geo_features": 7, "occupancy_res": 16, "march_steps": 128,
                                      "rays_per_step": 256, "max_samples": 1 << 13, "occupancy_every": 4,
                                      "occupancy_warmup": 8, "steps": 30}
    levels: int = 16
    features: int = 2
    log2_size: int = 17
    min_res: int = 16
    max_res: int = 1024
    hidden: int = 64
    geo_features: int = 15
    dir_degree: int = 2
    march_steps: int = 1024
    occupancy_res: int = 128
    occupancy_threshold: float = 0.05
    occupancy_every: int = 16
    occupancy_warmup: int = 100
    warmup_stride: int = 8
    early_stop: float = 1e-2
    contract: bool = False
    cone: float = 0.0
    far_factor: float = 64.0
    steps: int = 2400
    rays_per_step: int = 1024
    max_samples: int = 1 << 15
    lr: float = 3e-2
    lr_final: float = 3e-3
    weight_decay: float = 1e-6
    distortion: float = 0.0
    render_chunk: int = 2048

    def validate(self) -> None:
        if not 0 <= self.dir_degree <= 2:
            raise ObscuraError(f"grid: dir_degree must be 0, 1 or 2, got {self.dir_degree}.")
        if self.levels < 1 or self.features < 1 or not 8 <= self.log2_size <= 24:
            raise ObscuraError("grid: need levels >= 1, features >= 1 and 8 <= log2_size <= 24.")
        if self.render_chunk < 1:
            raise ObscuraError(f"grid: render_chunk must be >= 1, got {self.render_chunk}.")

    def setup(self, box: SceneBox, background=(0.0, 0.0, 0.0), seed: int = 0) -> GridNeRF:
        return GridNeRF(self, box, background, seed)


class GridNeRF(NerfModel):
    def __init__(self, config: GridConfig, box: SceneBox, background=(0.0, 0.0, 0.0), seed: int = 0):
        super().__init__(config, box, background)
        c = config
        torch.manual_seed(seed)
        self.encoding = HashGrid(c.levels, c.features, c.log2_size, c.min_res, c.max_res, seed)
        self.density_net = mlp(self.encoding.out_dim, c.hidden, 1, 1 + c.geo_features)
        self.color_net = mlp(c.geo_features + (c.dir_degree + 1) ** 2, c.hidden, 2, 3)
        half = box.half / box.half.max()
        res = (np.full(3, c.occupancy_res) if c.contract else np.maximum(8, np.round(c.occupancy_res * half)))
        self.diagonal = diagonal = 2 * float(np.linalg.norm(box.half))
        self.step_size = diagonal / c.march_steps
        far = float(box.half.max()) * c.far_factor if c.contract else diagonal * 1.01
        self.fine_edges = step_edges(far, self.step_size, c.cone, diagonal / 16)
        self.coarse_edges = step_edges(far, self.step_size * c.warmup_stride, c.cone, diagonal / 16)
        self.warming_up = False
        threshold = -np.log1p(-c.occupancy_threshold) / self.step_size     # σ giving that opacity in one step
        self.occupancy = OccupancyGrid(tuple(res), float(threshold))

    def density(self, unit: torch.Tensor, with_features: bool = False, encoded: torch.Tensor | None = None):
        """σ (and geometry features) at model-space points in ``[−1, 1]³`` (``encoded``: their hash
        encoding, already computed by :meth:`visible`)."""
        return self._density_head(self.encoding(unit * 0.5 + 0.5, encoded), with_features)

    def _density_head(self, encoded: torch.Tensor, with_features: bool):
        raw = self.density_net(encoded)
        sigma = trunc_exp(raw[:, 0] - 1.0)
        return (sigma, raw[:, 1:]) if with_features else sigma

    def before_step(self, step: int, generator: torch.Generator) -> None:
        """Coarse steps through a fully occupied grid for ``occupancy_warmup`` steps, then fine steps and
        occupancy updates (every cell the first time, then an eighth of them)."""
        c = self.config
        self.warming_up = step < c.occupancy_warmup
        if step >= c.occupancy_warmup and (step - c.occupancy_warmup) % c.occupancy_every == 0:
            self.occupancy.update(self.density, generator, 1.0 if step == c.occupancy_warmup else 0.125)

    def march(self, origins, dirs, generator=None):
        near, far = self.near_far(origins, dirs)
        jitter = torch.rand(len(origins), generator=generator) if generator is not None else torch.zeros(len(origins))
        center, inv_half = self.box.center.astype(np.float32), (1 / self.box.half).astype(np.float32)
        edges = self.coarse_edges if generator is not None and self.warming_up else self.fine_edges
        return self.occupancy.march(origins, dirs, near, far, edges, center, inv_half, self.config.contract,
                                    jitter)

    def render_rays(self, origins, dirs, generator=None, max_samples: int | None = None):
        """Per-ray colour, opacity, distance; ``n_rays`` (the first rays whose samples fit in
        ``max_samples``; the others are not rendered) and ``samples`` (network evaluations with gradient).
        The visibility pass's work is reused: without gradients its densities and features (one network
        pass per sample), with gradients its hash encodings (only the encoding's backward runs again)."""
        origins, dirs = self.to_box_frame(origins, dirs)
        samples = self.march(origins, dirs, generator)
        n_rays = len(origins)
        if max_samples is not None:                               # bounds the density pass below
            samples, n_rays = _first_rays(samples, n_rays, 4 * max_samples)
        reuse = not torch.is_grad_enabled() and max_samples is None
        if self.config.early_stop > 0 and len(samples[0]):
            keep, kept = self.visible(origins, dirs, samples, n_rays,
                                      keep="outputs" if reuse else "encodings" if torch.is_grad_enabled() else None)
            samples = tuple(a[keep] for a in samples + kept)
        if max_samples is not None:
            samples, n_rays = _first_rays(samples, n_rays, max_samples)
        ray_ids, t0, t1, *kept = samples
        mid = (t0 + t1) / 2
        if reuse and kept:
            sigma, geo = kept
        else:
            sigma, geo = self.density(self.to_unit(origins[ray_ids] + mid[:, None] * dirs[ray_ids]), with_features=True,
                                      encoded=kept[0] if kept else None)
        view = spherical_harmonics(dirs[ray_ids], self.config.dir_degree)
        rgb = torch.sigmoid(self.color_net(torch.cat([geo, view], -1)))
        weights, _ = render_weights(sigma, t1 - t0, ray_ids, n_rays)
        out = composite(weights, rgb, mid, ray_ids, n_rays, self.background)
        out["n_rays"], out["samples"] = n_rays, len(ray_ids)
        if generator is not None and self.config.distortion > 0:
            out["distortion"] = distortion(weights, t0 / self.diagonal, t1 / self.diagonal, ray_ids, n_rays)
        return out

    @torch.no_grad()
    def visible(self, origins, dirs, samples, n_rays: int, window: int = 16, keep: str | None = None):
        """Mask of the samples before each ray's transmittance falls below ``early_stop``: densities
        are evaluated front to back, ``window`` samples per ray at a time, for the rays still
        transparent (a ray keeps at most one window past that point). Also returns, filled where the
        mask is set, every sample's density and geometry features (``keep="outputs"``), its hash
        encoding (``"encodings"``), or nothing (None)."""
        ray_ids, t0, t1 = samples
        starts, counts = segment_starts(ray_ids, n_rays)
        depth, limit = torch.zeros(n_rays), -math.log(self.config.early_stop)
        mask = torch.zeros(len(ray_ids), dtype=torch.bool)
        n = len(ray_ids)
        widths = {"outputs": (0, self.config.geo_features), "encodings": (self.encoding.out_dim,), None: ()}[keep]
        kept = tuple(torch.empty(n, w) if w else torch.empty(n) for w in widths)   # only the buffers asked for
        rays, offsets = torch.nonzero(counts).squeeze(1), torch.arange(window)
        for first in range(0, int(counts.max()), window):   # samples first … first + window − 1 of each live ray
            rays = rays[(counts[rays] > first) & (depth[rays] < limit)]
            if not len(rays):
                break
            rank = first + offsets
            idx = (starts[rays, None] + rank)[rank < counts[rays, None]]
            mask[idx] = True
            ray = ray_ids[idx]
            unit = self.to_unit(origins[ray] + ((t0[idx] + t1[idx]) / 2)[:, None] * dirs[ray])
            encoded = self.encoding(unit * 0.5 + 0.5)
            s, geo = self._density_head(encoded, with_features=True)
            for buffer, value in zip(kept, (s, geo) if keep == "outputs" else (encoded,)):
                buffer[idx] = value
            depth.index_add_(0, ray, s * (t1[idx] - t0[idx]))
        return mask, kept

    def parameter_groups(self) -> list[dict]:
        return [{"params": self.encoding.parameters(), "weight_decay": 0.0},
                {"params": [*self.density_net.parameters(), *self.color_net.parameters()],
                 "weight_decay": self.config.weight_decay}]


def _first_rays(samples: tuple, n_rays: int, budget: int) -> tuple[tuple, int]:
    """The packed samples of the first rays whose samples fit in ``budget`` (and their count)."""
    ray_ids = samples[0]
    if len(ray_ids) <= budget:
        return samples, n_rays
    n_rays = int(ray_ids[budget])
    keep = ray_ids < n_rays
    return tuple(a[keep] for a in samples), n_rays
