"""Training a deep inpainting method (generator + optional PatchGAN critic) on the shared loop."""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np
import torch

from obscura.inpainting.deep.base import InpaintModel
from obscura.inpainting.deep.data import CropSampler
from obscura.io import write_csv
from obscura.methods import run_loop
from obscura.methods.loop import step_seed


class InpaintTask:
    """Adam (gradient norm clipped at 1, cosine-annealed lr) on the generator loss, and Adam with the GAN
    practice's beta1 = 0.5 on the critic's hinge loss when adversarial; each step's crops and masks come from a
    generator seeded by the step. (beta1 = 0.5 on the generator too took single_stage's held-out gain over its
    fill from +0.05 to −0.14 dB, `bench/inpainting_training.py --steps 2000 --every 2000 --beta1 0.5`: the hole
    loss's gradient is mostly noise, which a short first-moment average does not cancel.)"""

    def __init__(self, model: InpaintModel, sampler: CropSampler, steps: int, batch_size: int, lr: float,
                 seed: int):
        self.model, self.sampler, self.batch_size, self.seed = model, sampler, batch_size, seed
        self.opt_g = torch.optim.Adam(model.generator_parameters(), lr=lr)
        self.opt_d = (torch.optim.Adam(model.discriminator.parameters(), lr=lr, betas=(0.5, 0.999))
                      if model.discriminator is not None else None)
        self.sched = torch.optim.lr_scheduler.CosineAnnealingLR(self.opt_g, max(steps, 1), eta_min=lr * 0.05)

    def step(self, step: int, generator: torch.Generator) -> dict[str, float]:
        model = self.model.train()
        batch = self.sampler.batch(self.batch_size, np.random.default_rng(step_seed(self.seed, step)))
        loss, logs, output = model.generator_loss(batch)
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.generator_parameters(), 1.0)
        self.opt_g.step()
        self.sched.step()
        model.after_step()
        if self.opt_d is not None:
            d_loss = model.discriminator_loss(batch["image"], output, batch["hole"])
            self.opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            self.opt_d.step()
            logs["d_loss"] = d_loss.item()
        return {"loss": loss.item(), **logs}

    def state_dict(self) -> dict:
        state = {"model": self.model.state_dict(), "opt_g": self.opt_g.state_dict(), "sched": self.sched.state_dict()}
        if self.opt_d is not None:
            state["opt_d"] = self.opt_d.state_dict()
        return state

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.sched.load_state_dict(state["sched"])
        if self.opt_d is not None:
            self.opt_d.load_state_dict(state["opt_d"])


def train(model: InpaintModel, sampler: CropSampler, steps: int, batch_size: int, lr: float, seed: int = 0,
          log: Callable[[dict, int], None] | None = None, log_every: int = 10, checkpoint_every: int = 50,
          state_path: str | os.PathLike | None = None, fingerprint: dict | None = None,
          progress: bool = True, curve: str | os.PathLike | None = None) -> dict:
    """Train ``model`` for ``steps`` steps (resumable through ``state_path``); returns the summary
    metrics: each logged metric averaged over the last tenth of training, steps and parameters.
    ``curve``: also write the loss curve there as CSV (a row of window means per ``log_every`` steps,
    resumed runs included)."""
    task = InpaintTask(model, sampler, steps, batch_size, lr, seed)
    result = run_loop(task, steps, seed=seed, state_path=state_path, fingerprint=fingerprint, log=log,
                      log_every=log_every, checkpoint_every=checkpoint_every, desc=f"train {model.config.name}",
                      progress=progress)
    model.eval()
    if curve is not None:
        write_csv(curve, result.rows, first=("step", "loss"))
    tail = result.rows[-max(1, len(result.rows) // 10):]
    keys = [k for k in tail[-1] if k != "step"]
    return {"steps": result.steps, "train_seconds": result.seconds, "resumed_from_step": result.resumed_from,
            **{f"final_{k}": float(np.mean([r[k] for r in tail if k in r])) for k in keys},
            "parameters": sum(p.numel() for p in model.generator_parameters())}
