"""params.yaml ``generative:`` section (pydantic only; no torch import here)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from obscura.section import Section


class TrainSection(Section):
    """Optimisation settings shared by every family."""

    epochs: int = Field(ge=1)
    batch_size: int = Field(ge=2)
    lr: float = Field(gt=0)
    train_images: int | None = Field(default=None, gt=0, description="first N training images (null: all)")
    lr_schedule: Literal["constant", "cosine"] = Field("constant", description="cosine: the learning rate "
                                                       "falls from lr to 0 over the run's steps")
    curve_every: int = Field(0, ge=0, description="epochs between points of the training curve: Inception FID/KID "
                                                  "of eval.fid_samples samples against the cached test features "
                                                  "(and after the last epoch); 0: off")


class AEParams(TrainSection):
    base_channels: int = Field(ge=4)
    latent_channels: int = Field(ge=1)
    denoise_std: float = Field(ge=0, description="Gaussian input corruption for the denoising mode (0: off)")


class VAEParams(TrainSection):
    base_channels: int = Field(ge=4)
    latent_channels: int = Field(ge=1)
    beta: float = Field(gt=0, description="KL weight (1: the ELBO)")


class GANParams(TrainSection):
    base_channels: int = Field(ge=4)
    z_dim: int = Field(ge=1)
    generator_loss: Literal["non_saturating", "minimax"]
    beta1: float = Field(ge=0, lt=1)
    ema_decay: float = Field(ge=0, lt=1, description="generator weight EMA used for sampling (0: off)")


class DiffusionParams(TrainSection):
    base_channels: int = Field(ge=8)
    channel_mults: list[int] = Field(min_length=1)
    attention: bool
    num_train_timesteps: int = Field(ge=2)
    beta_schedule: Literal["linear", "cosine"]
    ema_decay: float = Field(ge=0, lt=1)
    sampler: Literal["ddpm", "ddim"]
    ddim_steps: int = Field(ge=1)
    ddim_eta: float = Field(ge=0, le=1)
    min_snr_gamma: float = Field(0.0, ge=0, description="Min-SNR-gamma loss weighting (0: off)")
    precision: Literal["fp32", "bf16"] = Field("fp32", description="training: fp32, or bfloat16 autocast "
                                                "(CPU AMX/AVX-512 BF16 run it ~1.5x faster); sampling stays fp32")


class LDMParams(DiffusionParams):
    autoencoder: Literal["vae", "ae"] = Field(description="family whose trained checkpoint gives the latent space")


class EvalParams(Section):
    fid_samples: int = Field(ge=2, description="generated images scored by FID/KID")
    real_samples: int = Field(ge=2, description="Fashion-MNIST test images whose Inception features are cached")
    kid_subset_size: int = Field(ge=2)
    kid_subsets: int = Field(ge=1)
    recon_images: int = Field(ge=1, description="test images for reconstruction MSE/PSNR")
    nll_images: int = Field(ge=1, description="test images for the VAE importance-sampled NLL")
    nll_k: int = Field(ge=1, description="importance samples per image for the VAE NLL")
    bound_timesteps: int = Field(16, ge=1, description="timesteps drawn per image for the DDPM variational "
                                 "bound (bits/dim on the nll_images test images)")
    grid: int = Field(ge=1, description="images in the sample grid PNG")
    blend_steps: int = Field(ge=2)
    blend_pairs: int = Field(ge=1, description="test pairs whose blend midpoints give blend_off_manifold")
    batch_size: int = Field(ge=1)


class ClassifierParams(Section):
    """Small Fashion-MNIST CNN whose features give the fast in-domain Fréchet distance."""

    epochs: int = Field(ge=1)
    batch_size: int = Field(ge=2)
    lr: float = Field(gt=0)
    train_images: int | None = Field(default=None, gt=0)


class FacesParams(Section):
    """Blending demo: the ae and vae architectures trained on the LFW faces (25×25, upsampled)."""

    epochs: int = Field(ge=1)
    batch_size: int = Field(ge=2)
    lr: float = Field(gt=0)
    pairs: int = Field(ge=1, description="face pairs blended in the strip")
    measure_pairs: int = Field(ge=1, description="face pairs whose blend midpoints give the off-manifold scores")


class ModelEntry(Section):
    """One trained family: ``dvc repro train_generative@<name>``."""

    needs: str = Field(description="a file under generative.output this model builds on (DVC dependency), e.g. "
                                   "the autoencoder checkpoint of the LDM")


class GenerativeParams(Section):
    """Generative track; seeds come from the top-level ``seed``."""

    models: dict[str, ModelEntry] = Field(description="the families trained and evaluated, in order")

    image_size: int = Field(ge=8, description="Fashion-MNIST 28x28 is centre-padded (32) or resized to this")
    channels: Literal[1, 3]
    prepared: Path
    output: Path = Field(description="checkpoints, samples and cached features go under this directory")
    reports: Path
    checkpoint_every: int = Field(ge=1, description="steps between resumable training checkpoints")
    log_every: int = Field(ge=1, description="steps between loss-curve rows")
    epoch_fd_samples: int = Field(ge=0, description="samples scored by the classifier Fréchet distance after "
                                                    "each epoch (0: off)")
    ae: AEParams
    vae: VAEParams
    gan: GANParams
    ddpm: DiffusionParams
    ldm: LDMParams
    eval: EvalParams
    classifier: ClassifierParams
    faces: FacesParams

    @field_validator("models")
    @classmethod
    def _known(cls, v: dict[str, ModelEntry]) -> dict[str, ModelEntry]:
        unknown = sorted(set(v) - {"ae", "vae", "gan", "ddpm", "ldm"})
        if unknown:
            raise ValueError(f"unknown model(s) {unknown}; available: ae, vae, gan, ddpm, ldm")
        return v
