"""Training one deep method as the ``inpainting`` params describe it, checkpoint written atomically."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

from obscura.errors import ObscuraError
from obscura.inpainting.data import training_photos
from obscura.inpainting.deep.data import CropSampler
from obscura.inpainting.deep.registry import make_config, save_checkpoint
from obscura.inpainting.deep.train import train
from obscura.io import atomic_dir


def fit(method: str, cfg, prepared: Path, seed: int, log: Callable[[dict, int], None] | None = None,
        progress: bool = True) -> dict:
    """Train ``method`` (section ``cfg.deep[method]``) on the prepared training photos and save it to
    ``cfg.models_dir/<method>`` and its loss curve to ``<reports>/train/<method>.csv``; resumes from
    ``<models_dir>/../.state/<method>.pt``; ``progress``: show a progress bar. Returns metrics."""
    if method not in cfg.deep:
        raise ObscuraError(f"inpainting.deep has no entry {method!r}; configured: {', '.join(cfg.deep)}.")
    tp = cfg.deep[method]
    config = make_config(method, **tp.config)
    torch.manual_seed(seed)
    model = config.setup()
    sampler = CropSampler(training_photos(prepared), tp.crop, kinds=tuple(cfg.kinds),
                          buckets=[tuple(b) for b in cfg.buckets], seed=seed, edges=config.uses_edges,
                          scales=tp.scales)
    state = cfg.models_dir.parent / ".state" / f"{method}.pt"
    metrics = train(model, sampler, tp.steps, tp.batch_size, tp.lr, seed=seed, log=log, state_path=state,
                    curve=cfg.reports / "train" / f"{method}.csv", progress=progress,
                    fingerprint={"section": tp.model_dump(mode="json"), "config": config.to_dict(),
                                 "kinds": cfg.kinds, "buckets": cfg.buckets})
    with atomic_dir(cfg.models_dir / method) as tmp:
        save_checkpoint(tmp, model)
    state.unlink(missing_ok=True)
    return metrics
