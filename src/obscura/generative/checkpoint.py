"""Generative checkpoints in the shared format (:mod:`obscura.methods.checkpoint`): save a model,
rebuild it from its file with its geometry checked."""

from __future__ import annotations

import os
from pathlib import Path

from obscura.generative.base import GenerativeModel
from obscura.generative.registry import make_config
from obscura.methods import checkpoint as ckpt
from obscura.methods.checkpoint import CheckpointError

KIND = "generative"
HINT = ("train the model first (`obscura generative train <model>` or `dvc repro train_generative@<model>`), "
        "or pass a checkpoint written by Obscura")


def save_checkpoint(path: str | os.PathLike, model: GenerativeModel, extra: dict | None = None) -> Path:
    """Write the model's config + state dict atomically."""
    return ckpt.save_checkpoint(path, KIND, model.config.name, model.config.to_dict(), model.state_dict(), extra)


def read_model_checkpoint(path: str | os.PathLike) -> dict:
    """The checked payload of a generative checkpoint (no model is built)."""
    return ckpt.read_checkpoint(path, KIND, HINT)


def load_model(path: str | os.PathLike, expect: str | None = None, image_size: int | None = None,
               channels: int | None = None) -> tuple[GenerativeModel, dict]:
    """Rebuild the model stored at ``path`` in eval mode; mismatches raise one ``CheckpointError``.

    ``expect`` is the family the caller wants; ``image_size``/``channels`` the geometry it will feed.
    """
    payload = read_model_checkpoint(path)
    name = payload["method"]
    if expect is not None and name != expect:
        raise CheckpointError(f"{path}: holds a {name!r} model, but a {expect!r} model was requested; "
                              f"pass the {expect} checkpoint instead.")
    config = payload["config"]
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
