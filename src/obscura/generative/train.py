"""Training a generative model on an image tensor with the shared resumable loop.

Batch order comes from a generator seeded by ``(seed, epoch)`` and all noise in a step from the
loop's per-step generator, so an interrupted run resumes to the same weights as an uninterrupted one.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from obscura.errors import ObscuraError
from obscura.generative.base import GenerativeModel
from obscura.methods import run_loop
from obscura.methods.loop import Means


@dataclass
class TrainSettings:
    epochs: int
    batch_size: int
    lr: float
    seed: int = 0
    checkpoint_every: int = 100
    log_every: int = 10
    lr_schedule: str = "constant"    # or "cosine": lr · (1 + cos(π · step / steps)) / 2


def learning_rate(settings: TrainSettings, step: int, total_steps: int) -> float:
    """The learning rate of (0-based) ``step`` of ``total_steps``."""
    if settings.lr_schedule == "constant":
        return settings.lr
    if settings.lr_schedule == "cosine":
        return settings.lr * 0.5 * (1.0 + math.cos(math.pi * step / total_steps))
    raise ObscuraError(f"unknown lr_schedule {settings.lr_schedule!r}; use 'constant' or 'cosine'.")


@dataclass
class TrainResult:
    steps: int
    rows: list[dict] = field(default_factory=list)      # one per ``log_every`` window (the loss curve)
    epochs: list[dict] = field(default_factory=list)    # per-epoch means (+ what ``on_epoch`` returned)
    seconds: float = 0.0                                # wall time summed over interrupted runs
    resumed_from: int = 0


def epoch_order(seed: int, epoch: int, n: int) -> torch.Tensor:
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed * 7919 + epoch + 1))


class GenerativeTask:
    """Epochs over ``data`` in seeded order; keeps the running epoch means and the seconds spent in
    training steps (``train_seconds``: scoring and checkpoints excluded, summed over resumed runs) in its
    state."""

    def __init__(self, model: GenerativeModel, data: torch.Tensor, settings: TrainSettings):
        self.model, self.data, self.settings = model, data, settings
        self.steps_per_epoch = len(data) // settings.batch_size
        self.optimizers = model.configure_optimizers(settings.lr)
        self.epoch_means = Means()
        self.train_seconds = 0.0
        self._order: tuple[int, torch.Tensor] | None = None

    def step(self, step: int, generator: torch.Generator) -> dict[str, float]:
        epoch, i = divmod(step, self.steps_per_epoch)
        if self._order is None or self._order[0] != epoch:
            self._order = (epoch, epoch_order(self.settings.seed, epoch, len(self.data)))
        bs = self.settings.batch_size
        lr = learning_rate(self.settings, step, self.settings.epochs * self.steps_per_epoch)
        for opt in self.optimizers.values():
            for group in opt.param_groups:
                group["lr"] = lr
        t0 = time.perf_counter()
        self.model.train()
        logs = self.model.training_step(self.data[self._order[1][i * bs:(i + 1) * bs]], self.optimizers, generator)
        self.train_seconds += time.perf_counter() - t0
        self.epoch_means.add(logs)
        return logs

    def end_epoch(self) -> dict[str, float]:
        means, self.epoch_means = self.epoch_means.means(), Means()
        return means

    def state_dict(self) -> dict:
        return {"model": self.model.state_dict(), "epoch_means": self.epoch_means.state(),
                "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
                "train_seconds": self.train_seconds}

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        for k, opt in self.optimizers.items():
            opt.load_state_dict(state["optimizers"][k])
        self.epoch_means = Means(state["epoch_means"])
        self.train_seconds = state.get("train_seconds", 0.0)    # states written before it was kept: 0


def train(model: GenerativeModel, data: torch.Tensor, settings: TrainSettings,
          state_path: str | os.PathLike | None = None, fingerprint: dict | None = None,
          on_step: Callable[[int, dict], None] | None = None,
          on_epoch: Callable[[int, dict], dict | None] | None = None, progress: bool = True) -> TrainResult:
    """Train ``model`` on images ``data`` (N, C, H, W) in [−1, 1] for ``settings.epochs`` epochs.

    ``on_step(step, means)`` gets each ``log_every`` window's means; ``on_epoch(epoch, means)`` each
    epoch's, with ``train_seconds`` so far (it may sample; what it returns is added to the epoch row).
    """
    model.check_images(data[:1])
    data = model.training_data(data)
    task = GenerativeTask(model, data, settings)
    if task.steps_per_epoch == 0:
        raise ObscuraError(f"training set has {len(data)} images, fewer than one batch of {settings.batch_size}; "
                           "lower batch_size or use more images.")

    def epoch_end(step: int) -> dict:
        epoch = step // task.steps_per_epoch - 1
        means = {**task.end_epoch(), "train_seconds": task.train_seconds}
        extra = on_epoch(epoch, means) if on_epoch else None
        return {"epoch": epoch, **means, **(extra or {})}

    result = run_loop(task, settings.epochs * task.steps_per_epoch, seed=settings.seed, state_path=state_path,
                      fingerprint={"fingerprint": fingerprint, "n": len(data), "settings": settings.__dict__},
                      log=(lambda means, step: on_step(step, means)) if on_step else None, log_every=settings.log_every, checkpoint_every=settings.checkpoint_every,
                      hooks=[(task.steps_per_epoch, epoch_end)], desc=f"train {model.config.name}",
                      progress=progress)
    model.eval()
    rows = [{"step": r["step"], "epoch": (r["step"] - 1) // task.steps_per_epoch, **r} for r in result.rows]
    epochs = [{"epoch": e["epoch"], "step": e["step"], **{k: v for k, v in e.items() if k not in ("epoch", "step")}}
              for e in result.events]
    return TrainResult(result.steps, rows, epochs, result.seconds, result.resumed_from)
