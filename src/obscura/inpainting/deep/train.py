"""Training loop shared by the deep inpainting methods (generator + optional PatchGAN critic)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from tqdm import tqdm

from obscura.inpainting.deep.base import InpaintModel
from obscura.inpainting.deep.data import CropSampler


def train(model: InpaintModel, sampler: CropSampler, steps: int, batch_size: int, lr: float,
          seed: int = 0, on_step: Callable[[int, dict], None] | None = None, log_every: int = 10,
          progress: bool = True) -> list[dict]:
    """Adam (gradient norm clipped at 1) on the generator loss, and on the critic's hinge loss when
    adversarial. Returns the per-step logs."""
    torch.manual_seed(seed)
    opt_g = torch.optim.Adam(model.generator_parameters(), lr=lr, betas=(0.5, 0.999))
    opt_d = (torch.optim.Adam(model.discriminator.parameters(), lr=lr, betas=(0.5, 0.999))
             if model.discriminator is not None else None)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt_g, max(steps, 1), eta_min=lr * 0.05)
    model.train()
    history = []
    bar = tqdm(range(steps), desc=f"train {type(model).__name__}", disable=not progress, leave=False)
    for step in bar:
        batch = sampler.batch(batch_size)
        loss, logs, output = model.generator_loss(batch)
        opt_g.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.generator_parameters(), 1.0)
        opt_g.step()
        sched.step()
        model.after_step()
        if opt_d is not None:
            d_loss = model.discriminator_loss(batch["image"], output, batch["hole"])
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            opt_d.step()
            logs["d_loss"] = d_loss.item()
        logs["loss"] = loss.item()
        history.append(logs)
        if step % log_every == 0 or step == steps - 1:
            bar.set_postfix(loss=f"{logs['loss']:.4f}")
            if on_step is not None:
                on_step(step, logs)
    model.eval()
    return history
