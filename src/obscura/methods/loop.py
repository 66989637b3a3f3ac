"""The seeded, resumable training loop every trainer uses.

Randomness is a pure function of ``(seed, step)``: before each step the global torch RNG is seeded
from it and the step gets its own ``torch.Generator``, so a task whose ``step`` draws its batch and
noise from those is reproducible step by step. With a ``state_path`` the task's state is saved
atomically every ``checkpoint_every`` steps; a run killed at any point (even ``kill -9``) and started
again with the same fingerprint resumes there and ends with the same weights and logs as an
uninterrupted run. A non-finite metric or weight stops the run with a message naming the step, and
the last good state stays on disk.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import torch
from tqdm import tqdm

from obscura.errors import ObscuraError
from obscura.methods.checkpoint import read_checkpoint, save_checkpoint

STATE_KIND = "training-state"


class TrainingDiverged(ObscuraError):
    """A loss or weight became NaN/inf; the message names the step and the kept checkpoint."""


class Task(Protocol):
    """One training job: it owns its model(s), optimisers and data."""

    def step(self, step: int, generator: torch.Generator) -> dict[str, float]:
        """Run optimisation step ``step`` (0-based); return float metrics (``loss`` first)."""

    def state_dict(self) -> dict:
        """Everything needed to continue: weights, optimiser state, running sums."""

    def load_state_dict(self, state: dict) -> None:
        ...


Hook = tuple[int, Callable[[int], dict | None]]


@dataclass
class LoopResult:
    steps: int
    rows: list[dict] = field(default_factory=list)     # mean metrics per ``log_every`` window (the curve)
    events: list[dict] = field(default_factory=list)   # what hooks returned, with their step
    seconds: float = 0.0                               # wall time summed over interrupted runs
    resumed_from: int = 0


def step_seed(seed: int, step: int) -> int:
    return seed * 1_000_003 + step


def step_generator(seed: int, step: int) -> torch.Generator:
    """The generator of step ``step``: the same numbers whether or not the run was resumed."""
    return torch.Generator().manual_seed(step_seed(seed, step))


class Means:
    """Running means of float metrics (the loop's log windows; tasks use it for per-epoch means)."""

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


def _non_finite(state) -> str | None:
    """The name of the first tensor holding NaN/inf in a (nested) state dict."""
    if isinstance(state, torch.Tensor):
        return "" if state.is_floating_point() and not torch.isfinite(state).all() else None
    if isinstance(state, dict):
        items = state.items()
    elif isinstance(state, (list, tuple)):
        items = enumerate(state)
    else:
        return None
    for k, v in items:
        bad = _non_finite(v)
        if bad is not None:
            return f"{k}.{bad}".rstrip(".")
    return None


def run_loop(task: Task, total_steps: int, *, seed: int = 0, state_path: str | os.PathLike | None = None,
             fingerprint: dict | None = None, log: Callable[[dict, int], None] | None = None,
             log_every: int = 10, checkpoint_every: int = 100, hooks: Sequence[Hook] = (),
             desc: str = "train", postfix: Sequence[str] = ("loss",), progress: bool = True) -> LoopResult:
    """Run ``task.step`` for steps ``0 … total_steps − 1`` (resuming from ``state_path`` when it holds
    a state with the same ``fingerprint``; a different one is ignored and overwritten).

    ``log(means, step)`` receives each ``log_every`` window's mean metrics; each hook ``(every, fn)``
    runs ``fn(step)`` after every ``every``-th step (``step`` counted from 1) and the dict it returns
    is kept in ``result.events`` (hooks log what they want themselves).
    """
    tag = json.dumps({"fingerprint": fingerprint, "total_steps": total_steps, "seed": seed}, sort_keys=True,
                     default=str)
    state_path = Path(state_path) if state_path else None
    result, window = LoopResult(steps=0), Means()
    if state_path is not None and state_path.is_file():
        payload = read_checkpoint(state_path, STATE_KIND)
        if payload["config"].get("tag") == tag:
            task.load_state_dict(payload["state_dict"])
            logs = json.loads(payload["logs"])
            result = LoopResult(steps=payload["step"], rows=logs["rows"], events=logs["events"],
                                seconds=logs["seconds"], resumed_from=payload["step"])
            window = Means(logs["window"])
    t0 = time.perf_counter()

    def save_state() -> None:
        state = task.state_dict()
        bad = _non_finite(state)
        if bad is not None:
            raise TrainingDiverged(f"{desc}: weight {bad!r} is not finite after step {result.steps}; stopped "
                                   f"without saving it{_kept(state_path)}. Lower the learning rate and rerun.")
        logs = {"rows": result.rows, "events": result.events, "window": window.state(),
                "seconds": result.seconds + time.perf_counter() - t0}
        save_checkpoint(state_path, STATE_KIND, desc, {"tag": tag}, state,
                        {"step": result.steps, "logs": json.dumps(logs)})

    with tqdm(total=total_steps, initial=result.steps, desc=desc, unit="step", disable=not progress) as bar:
        while result.steps < total_steps:
            step = result.steps
            torch.manual_seed(step_seed(seed, step))
            logs = task.step(step, step_generator(seed, step))
            bad = [k for k, v in logs.items() if not math.isfinite(float(v))]
            if bad:
                raise TrainingDiverged(f"{desc}: {bad[0]} is {logs[bad[0]]} at step {step + 1}; stopped"
                                       f"{_kept(state_path)}. Lower the learning rate and rerun.")
            window.add(logs)
            result.steps = step + 1
            bar.update()
            if result.steps % log_every == 0 or result.steps == total_steps:
                means = window.means()
                result.rows.append({"step": result.steps, **means})
                bar.set_postfix({k: f"{means[k]:.4g}" for k in postfix if k in means})
                if log is not None:
                    log(means, result.steps)
                window = Means()
            for every, fn in hooks:
                if result.steps % every == 0:
                    out = fn(result.steps)
                    if out:
                        result.events.append({"step": result.steps, **out})
            if state_path is not None and (result.steps % checkpoint_every == 0 or result.steps == total_steps):
                save_state()
    result.seconds += time.perf_counter() - t0
    return result


def _kept(state_path: Path | None) -> str:
    if state_path is not None and state_path.is_file():
        return f"; the last good state is kept in {state_path}"
    return ""
