"""One checkpoint format for every method: state dicts + the config as JSON in one ``.pt`` file.

Read with ``torch.load(weights_only=True)``: a checkpoint never holds pickled code, so a tampered or
corrupt file is refused instead of executed. ``kind`` names the track (``generative``,
``inpainting``, ``gaussians``, ``nerf``), ``method`` the registry name.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from obscura.errors import ObscuraError
from obscura.io import write_torch

FORMAT = "obscura.checkpoint"
VERSION = 2


class CheckpointError(ObscuraError):
    """A checkpoint is missing, unreadable or does not match what was asked for."""


def save_checkpoint(path: str | os.PathLike, kind: str, method: str, config: dict, state_dict: dict,
                    extra: dict | None = None) -> Path:
    """Write the checkpoint atomically (``extra``: tensors/plain values such as optimiser state)."""
    payload = {"format": FORMAT, "version": VERSION, "kind": kind, "method": method,
               "config": json.dumps(config, sort_keys=True), "state_dict": state_dict, **(extra or {})}
    return write_torch(path, payload)


def read_checkpoint(path: str | os.PathLike, kind: str, hint: str = "train it first") -> dict:
    """The checked payload of a ``kind`` checkpoint, with ``config`` decoded to a dict.

    ``hint`` completes the message when the file does not exist (how to make it).
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found; {hint}.")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt zip, truncated file, or pickled objects weights_only refuses
        raise CheckpointError(f"{path}: not a readable Obscura checkpoint ({exc.__class__.__name__}): the file "
                              f"is corrupt or was not written by Obscura, so it was not loaded; {hint}.") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not an Obscura checkpoint (no {FORMAT!r} format tag); {hint}.")
    if payload.get("version") != VERSION:
        raise CheckpointError(f"{path}: checkpoint version {payload.get('version')} is not supported "
                              f"(this code reads version {VERSION}); {hint}.")
    if payload.get("kind") != kind:
        raise CheckpointError(f"{path}: holds a {payload.get('kind')} checkpoint, not a {kind} one.")
    payload["config"] = json.loads(payload["config"])
    return payload
