"""Deep inpainting methods: name -> config class -> model; checkpoints as state dict + config JSON."""

from __future__ import annotations

import json
from dataclasses import fields, replace
from pathlib import Path

import torch

from obscura.errors import ObscuraError
from obscura.inpainting.deep.base import DeepConfig, InpaintModel
from obscura.inpainting.deep.coarse_to_fine import CoarseToFineConfig
from obscura.inpainting.deep.diffusion import DiffusionConfig
from obscura.inpainting.deep.edge_guided import EdgeGuidedConfig
from obscura.inpainting.deep.progressive import ProgressiveConfig
from obscura.inpainting.deep.single_stage import SingleStageConfig

METHODS: dict[str, type[DeepConfig]] = {
    "single_stage": SingleStageConfig,
    "coarse_to_fine": CoarseToFineConfig,
    "edge_guided": EdgeGuidedConfig,
    "progressive": ProgressiveConfig,
    "diffusion": DiffusionConfig,
}


def make_config(name: str, tiny: bool = False, **overrides) -> DeepConfig:
    """Config of method ``name`` (defaults, or the tiny test config) with ``overrides`` applied."""
    if name not in METHODS:
        raise ObscuraError(f"unknown deep inpainting method {name!r}; choose one of {', '.join(METHODS)}.")
    cls = METHODS[name]
    allowed = {f.name for f in fields(cls)}
    bad = sorted(set(overrides) - allowed)
    if bad:
        raise ObscuraError(f"{name}: unknown config keys {bad}; allowed: {', '.join(sorted(allowed))}.")
    return replace(cls.tiny() if tiny else cls(), **overrides)


def save_checkpoint(path: str | Path, name: str, model: InpaintModel) -> None:
    """``path`` (a directory): model.pt (state dict) + config.json (method name and config)."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), path / "model.pt")
    (path / "config.json").write_text(json.dumps({"method": name, "config": model.config.to_dict()},
                                                 indent=2, sort_keys=True) + "\n")


def load_checkpoint(path: str | Path) -> tuple[str, InpaintModel]:
    path = Path(path)
    if not (path / "config.json").is_file() or not (path / "model.pt").is_file():
        raise ObscuraError(f"{path}: not a deep inpainting checkpoint (needs config.json and model.pt); "
                           "train it with `dvc repro train_inpainting`.")
    meta = json.loads((path / "config.json").read_text())
    model = make_config(meta["method"], **meta["config"]).build()
    model.load_state_dict(torch.load(path / "model.pt", weights_only=True))
    return meta["method"], model.eval()
