"""Deep inpainting methods: name → config class → model; checkpoints in the shared format."""

from __future__ import annotations

from pathlib import Path

from obscura.inpainting.deep.base import DeepConfig, InpaintModel
from obscura.inpainting.deep.coarse_to_fine import CoarseToFineConfig
from obscura.inpainting.deep.diffusion import DiffusionConfig
from obscura.inpainting.deep.edge_guided import EdgeGuidedConfig
from obscura.inpainting.deep.progressive import ProgressiveConfig
from obscura.inpainting.deep.single_stage import SingleStageConfig
from obscura.methods import Registry, read_checkpoint, save_checkpoint as save

METHODS = Registry("deep inpainting method", {c.name: c for c in (
    SingleStageConfig, CoarseToFineConfig, EdgeGuidedConfig, ProgressiveConfig, DiffusionConfig)})
KIND = "inpainting"


def make_config(name: str, tiny: bool = False, **overrides) -> DeepConfig:
    """Config of method ``name`` (defaults, or the tiny test config) with ``overrides`` applied."""
    return METHODS.make(name, tiny=tiny, **overrides)


def save_checkpoint(path: str | Path, model: InpaintModel) -> Path:
    """``path`` (a directory, the method's DVC output) gets ``model.pt`` (weights + config)."""
    return save(Path(path) / "model.pt", KIND, model.config.name, model.config.to_dict(), model.state_dict())


def load_checkpoint(path: str | Path) -> tuple[str, InpaintModel]:
    """The method name and its trained model (eval mode) from a directory written by :func:`save_checkpoint`."""
    path = Path(path)
    payload = read_checkpoint(path / "model.pt", KIND,
                              "train it with `dvc repro train_inpainting` (or `make run`)")
    model = make_config(payload["method"], **payload["config"]).setup()
    model.load_state_dict(payload["state_dict"])
    return payload["method"], model.eval()
