"""Generative model registry: family name → config dataclass → model."""

from __future__ import annotations

from obscura.generative.ae import AEConfig
from obscura.generative.base import ModelConfig
from obscura.generative.ddpm import DDPMConfig
from obscura.generative.gan import GANConfig
from obscura.generative.ldm import LDMConfig
from obscura.generative.vae import VAEConfig
from obscura.methods import Registry

MODELS = Registry("generative model", {c.name: c for c in (AEConfig, VAEConfig, GANConfig, DDPMConfig, LDMConfig)})


def config_class(name: str) -> type[ModelConfig]:
    return MODELS.config_class(name)


def make_config(name: str, **fields) -> ModelConfig:
    """Build the config of family ``name``; unknown fields raise one ObscuraError listing valid ones."""
    return MODELS.make(name, **fields)


def config_from_params(name: str, gen_params) -> ModelConfig:
    """The model config for family ``name`` from the ``generative`` params section (architecture keys only)."""
    section = getattr(gen_params, config_class(name).name)
    fields = {k: v for k, v in section.model_dump().items() if k in config_class(name).field_names()}
    return make_config(name, image_size=gen_params.image_size, channels=gen_params.channels, **fields)


def tiny_config(name: str, image_size: int = 16, channels: int = 1) -> ModelConfig:
    """The family's seconds-on-CPU test config at the given geometry."""
    return MODELS.make(name, tiny=True, image_size=image_size, channels=channels)
