"""Seeded, resumable training loop shared by every family.

Randomness is a pure function of (seed, epoch, step): batch order comes from a generator seeded by the
epoch and all noise in a step from one seeded by the step. A run interrupted at any point (even
``kill -9``) and re-run resumes from the last checkpoint and produces the same steps, losses and weights
as an uninterrupted run.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm import tqdm

from obscura.errors import ObscuraError
from obscura.generative.base import GenerativeModel
from obscura.generative.checkpoint import read_checkpoint, save_checkpoint


@dataclass
class TrainSettings:
    epochs: int
    batch_size: int
    lr: float
    seed: int = 0
    checkpoint_every: int = 100
    log_every: int = 10


@dataclass
class TrainResult:
    steps: int
    rows: list[dict] = field(default_factory=list)      # one per ``log_every`` window (the loss curve)
    epochs: list[dict] = field(default_factory=list)    # per-epoch means
    seconds: float = 0.0                                # wall time summed over interrupted runs
    resumed_from: int = 0


def step_generator(seed: int, step: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed * 1_000_003 + step)


def epoch_order(seed: int, epoch: int, n: int) -> torch.Tensor:
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed * 7919 + epoch + 1))


class _Means:
    """Running sums of float metrics."""

    def __init__(self, state: dict | None = None):
        self.sums: dict[str, float] = dict((state or {}).get("sums", {}))
        self.count: int = int((state or {}).get("count", 0))

    def add(self, logs: dict) -> None:
        for k, v in logs.items():
            self.sums[k] = self.sums.get(k, 0.0) + float(v)
        self.count += 1

    def means(self) -> dict[str, float]:
        return {k: v / max(self.count, 1) for k, v in self.sums.items()}

    def state(self) -> dict:
        return {"sums": self.sums, "count": self.count}


def train(model: GenerativeModel, data: torch.Tensor, settings: TrainSettings,
          state_path: str | os.PathLike | None = None, fingerprint: dict | None = None,
          on_step: Callable[[int, dict], None] | None = None,
          on_epoch: Callable[[int, dict], None] | None = None, progress: bool = True) -> TrainResult:
    """Train ``model`` on images ``data`` (N, C, H, W) in [−1, 1] for ``settings.epochs`` epochs.

    With ``state_path`` the model, optimisers and logs are checkpointed every ``checkpoint_every`` steps
    and at each epoch end; an existing state with the same ``fingerprint`` (e.g. the params) is resumed,
    a different one is ignored and overwritten. ``on_step(step, means)`` gets each ``log_every`` window's
    mean metrics, ``on_epoch(epoch, means)`` each epoch's.
    """
    model.check_images(data[:1])
    data = model.training_data(data)
    steps_per_epoch = len(data) // settings.batch_size
    if steps_per_epoch == 0:
        raise ObscuraError(f"training set has {len(data)} images, fewer than one batch of {settings.batch_size}; "
                           "lower batch_size or use more images.")
    total = settings.epochs * steps_per_epoch
    optimizers = model.configure_optimizers(settings.lr)
    tag = json.dumps({"fingerprint": fingerprint, "n": len(data), "settings": settings.__dict__}, sort_keys=True,
                     default=str)
    result = TrainResult(steps=0)
    window, epoch_means = _Means(), _Means()
    state_path = Path(state_path) if state_path else None
    if state_path is not None and state_path.is_file():
        payload = read_checkpoint(state_path)
        if payload.get("tag") == tag:
            model.load_state_dict(payload["state_dict"])
            for key, opt in optimizers.items():
                opt.load_state_dict(payload["optimizers"][key])
            logs = json.loads(payload["logs"])
            result = TrainResult(steps=payload["step"], rows=logs["rows"], epochs=logs["epochs"],
                                 seconds=logs["seconds"], resumed_from=payload["step"])
            window, epoch_means = _Means(logs["window"]), _Means(logs["epoch"])

    def save_state() -> None:
        if state_path is None:
            return
        logs = {"rows": result.rows, "epochs": result.epochs, "seconds": result.seconds + time.perf_counter() - t0,
                "window": window.state(), "epoch": epoch_means.state()}
        save_checkpoint(state_path, model, {"tag": tag, "step": result.steps, "logs": json.dumps(logs),
                                            "optimizers": {k: o.state_dict() for k, o in optimizers.items()}})

    t0 = time.perf_counter()
    model.train()
    order = None
    with tqdm(total=total, initial=result.steps, desc=f"train {model.config.name}", unit="step",
              disable=not progress) as bar:
        while result.steps < total:
            step = result.steps
            epoch, i = divmod(step, steps_per_epoch)
            if order is None or i == 0:
                order = epoch_order(settings.seed, epoch, len(data))
            batch = data[order[i * settings.batch_size:(i + 1) * settings.batch_size]]
            logs = model.training_step(batch, optimizers, step_generator(settings.seed, step))
            window.add(logs)
            epoch_means.add(logs)
            result.steps = step + 1
            bar.update()
            if result.steps % settings.log_every == 0 or result.steps == total:
                means = window.means()
                result.rows.append({"step": result.steps, "epoch": epoch, **means})
                bar.set_postfix(loss=f"{means.get('loss', float('nan')):.4f}")
                if on_step:
                    on_step(result.steps, means)
                window = _Means()
            if i == steps_per_epoch - 1:
                means = epoch_means.means()
                result.epochs.append({"epoch": epoch, "step": result.steps, **means})
                if on_epoch:
                    on_epoch(epoch, means)       # may sample in eval mode
                    model.train()
                epoch_means = _Means()
            if result.steps % settings.checkpoint_every == 0 or i == steps_per_epoch - 1:
                save_state()
    result.seconds += time.perf_counter() - t0
    model.eval()
    return result
