"""Model registry: family name → config dataclass → model."""

from __future__ import annotations

from obscura.errors import ObscuraError
from obscura.generative.ae import AEConfig
from obscura.generative.base import ModelConfig
from obscura.generative.ddpm import DDPMConfig
from obscura.generative.gan import GANConfig
from obscura.generative.ldm import LDMConfig
from obscura.generative.vae import VAEConfig

MODELS: dict[str, type[ModelConfig]] = {
    "ae": AEConfig,
    "vae": VAEConfig,
    "gan": GANConfig,
    "ddpm": DDPMConfig,
    "ldm": LDMConfig,
}


def config_class(name: str) -> type[ModelConfig]:
    if name not in MODELS:
        raise ObscuraError(f"unknown generative model {name!r}; choose one of: {', '.join(MODELS)}.")
    return MODELS[name]


def make_config(name: str, **fields) -> ModelConfig:
    """Build the config of family ``name``; unknown fields raise one ObscuraError listing valid ones."""
    cls = config_class(name)
    valid = {f for f in cls.__dataclass_fields__}
    unknown = sorted(set(fields) - valid)
    if unknown:
        raise ObscuraError(f"{name}: unknown config field(s) {', '.join(unknown)}; valid: {', '.join(sorted(valid))}.")
    if "channel_mults" in fields:
        fields["channel_mults"] = tuple(fields["channel_mults"])
    cfg = cls(**fields)
    cfg.validate()
    return cfg


def config_from_params(name: str, gen_params) -> ModelConfig:
    """The model config for family ``name`` from the ``generative`` params section (architecture keys only)."""
    section = getattr(gen_params, config_class(name).name)
    fields = {k: v for k, v in section.model_dump().items() if k in config_class(name).__dataclass_fields__}
    return make_config(name, image_size=gen_params.image_size, channels=gen_params.channels, **fields)


def tiny_config(name: str, image_size: int = 16, channels: int = 1) -> ModelConfig:
    """A seconds-on-CPU config of each family, used by the tests."""
    tiny = {
        "ae": dict(base_channels=8, latent_channels=2),
        "vae": dict(base_channels=8, latent_channels=2),
        "gan": dict(base_channels=8, z_dim=8),
        "ddpm": dict(base_channels=8, channel_mults=(1, 2), num_train_timesteps=50, ddim_steps=10, ema_decay=0.0),
        "ldm": dict(base_channels=8, channel_mults=(1,), num_train_timesteps=50, ddim_steps=10, ema_decay=0.0,
                    autoencoder_config=VAEConfig(image_size=image_size, channels=channels, base_channels=8,
                                                 latent_channels=2).to_dict()),
    }
    return make_config(name, image_size=image_size, channels=channels, **tiny[config_class(name).name])
