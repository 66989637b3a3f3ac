"""Gaussian splatting methods: name → config (one today, the Inria recipe)."""

from __future__ import annotations

from obscura.methods import Registry
from obscura.rendering.gaussians.model import GaussiansConfig

METHODS = Registry("gaussian splatting method", {GaussiansConfig.name: GaussiansConfig})


def make_config(name: str = "gaussians", tiny: bool = False, **fields) -> GaussiansConfig:
    return METHODS.make(name, tiny=tiny, **fields)
