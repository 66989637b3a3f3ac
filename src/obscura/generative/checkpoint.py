"""Checkpoints: state dicts plus the model's JSON config in one ``.pt`` file, read with ``weights_only=True``.

A checkpoint never holds pickled code: ``torch.load(weights_only=True)`` refuses anything but
tensors and plain containers, so a tampered or corrupt file is rejected instead of executed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from obscura.errors import ObscuraError
from obscura.generative.base import GenerativeModel
from obscura.generative.registry import make_config
from obscura.io import atomic_path

FORMAT = "obscura.generative.checkpoint"
VERSION = 1


class CheckpointError(ObscuraError):
    """A checkpoint is missing, unreadable or does not match what was asked for."""


def save_checkpoint(path: str | os.PathLike, model: GenerativeModel, extra: dict | None = None) -> Path:
    """Write model config + state dict (+ ``extra`` tensors/plain values, e.g. optimiser state) atomically."""
    payload = {"format": FORMAT, "version": VERSION, "model": model.config.name,
               "config": json.dumps(model.config.to_dict(), sort_keys=True),
               "state_dict": model.state_dict(), **(extra or {})}
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return Path(path)


def read_checkpoint(path: str | os.PathLike) -> dict:
    """Load and sanity-check the raw payload (no model is built)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found. Train the model first "
                              "(`obscura generative train <model>` or `dvc repro train_generative@<model>`).")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt zip, truncated file, or pickled objects weights_only refuses
        raise CheckpointError(f"{path}: not a readable Obscura checkpoint ({exc.__class__.__name__}); "
                              "the file is corrupt or was not written by Obscura, so it was not loaded. "
                              "Delete it and train again.") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not an Obscura generative checkpoint (missing format tag {FORMAT!r}).")
    if payload.get("version") != VERSION:
        raise CheckpointError(f"{path}: checkpoint version {payload.get('version')} is not supported "
                              f"(this code reads version {VERSION}); train again.")
    return payload


def load_model(path: str | os.PathLike, expect: str | None = None, image_size: int | None = None,
               channels: int | None = None) -> tuple[GenerativeModel, dict]:
    """Rebuild the model stored at ``path`` in eval mode; mismatches raise one ``CheckpointError``.

    ``expect`` is the family the caller wants; ``image_size``/``channels`` the geometry it will feed.
    """
    payload = read_checkpoint(path)
    name = payload["model"]
    if expect is not None and name != expect:
        raise CheckpointError(f"{path}: holds a {name!r} model, but a {expect!r} model was requested; "
                              f"pass the {expect} checkpoint instead.")
    config = json.loads(payload["config"])
    size, chans = config["image_size"], config["channels"]
    if (image_size is not None and image_size != size) or (channels is not None and channels != chans):
        raise CheckpointError(f"{path}: model was trained on {chans}x{size}x{size} images, "
                              f"but {channels or chans}x{image_size or size}x{image_size or size} were requested; "
                              "retrain with matching generative.image_size/channels or resize the input.")
    model = make_config(name, **config).setup()
    try:
        model.load_state_dict(payload["state_dict"])
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise CheckpointError(f"{path}: weights do not fit the {name} architecture in its config ({first}).") from None
    return model.eval(), payload
