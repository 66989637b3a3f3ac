"""DVC stage ``train_inpainting@<method>``: train one deep inpainting method on training-photo crops."""

from __future__ import annotations

import sys

import numpy as np
import torch

from obscura.config import Params
from obscura.errors import ObscuraError
from obscura.inpainting.data import photos
from obscura.inpainting.deep.data import CropSampler
from obscura.inpainting.deep.registry import make_config, save_checkpoint
from obscura.inpainting.deep.train import train
from obscura.io import atomic_dir, write_json
from obscura.tracking import stage_run


def run(params: Params, method: str) -> dict:
    cfg = params.inpainting
    if method not in cfg.deep:
        raise ObscuraError(f"inpainting.deep has no entry {method!r}; configured: {', '.join(cfg.deep)}.")
    tp = cfg.deep[method]
    config = make_config(method, **tp.config)
    torch.manual_seed(params.seed)
    model = config.build()
    images = list(photos(params.prepare.output, "train", cfg.image_size).values())
    sampler = CropSampler(images, tp.crop, kinds=tuple(cfg.kinds), buckets=[tuple(b) for b in cfg.buckets],
                          seed=params.seed, edges=config.uses_edges)
    stage = f"train_inpainting@{method}"
    with stage_run(stage, tp, experiment=params.tracking.experiment, seed=params.seed,
                   tags={"inpainting.method": method}) as tracker:
        history = train(model, sampler, tp.steps, tp.batch_size, tp.lr, seed=params.seed,
                        on_step=lambda step, logs: tracker.log_metrics(logs, step=step))
        tail = history[-max(1, len(history) // 10):]
        metrics = {"method": method, "steps": tp.steps,
                   **{f"final_{key}": float(np.mean([h[key] for h in tail if key in h])) for key in tail[-1]},
                   "parameters": sum(p.numel() for p in model.generator_parameters())}
        with atomic_dir(cfg.models_dir / method) as tmp:
            save_checkpoint(tmp, method, model)
        write_json(cfg.reports / "train" / f"{method}.json", metrics)
        tracker.log_metrics({k: v for k, v in metrics.items() if k != "method"})
        tracker.log_artifact(cfg.models_dir / method, artifact_path=f"model_{method}")
    return metrics


if __name__ == "__main__":
    from stages._entry import main

    sys.exit(main(run))
