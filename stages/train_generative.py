"""DVC stage ``train_generative@<model>``: train one generative family on Fashion-MNIST (obscura.generative.fit).

Re-running after an interruption resumes from ``<output>/.state/<model>.pt`` (not a DVC output, so
``dvc repro`` does not delete it) when the params are unchanged.
"""

from __future__ import annotations

import sys

import torch

from obscura.config import Params
from obscura.generative.data import fashion_mnist
from obscura.generative.fit import fit
from obscura.generative.registry import config_class
from obscura.io import write_csv, write_json
from obscura.tracking import stage_run


def run(params: Params, name: str) -> dict:
    config_class(name)                                   # unknown name → one clear error
    gp = params.generative
    section = getattr(gp, name)
    x, _ = fashion_mnist(gp.prepared, "train", gp.image_size, gp.channels, section.train_images)
    with stage_run(f"train_generative@{name}", section, experiment=params.tracking.experiment, seed=params.seed,
                   tags={"generative.model": name}) as tr:
        model, result = fit(name, gp, x, params.seed, log=lambda logs, step: tr.log_metrics(logs, step=step))
        last = result.epochs[-1] if result.epochs else {}
        metrics = {"steps": result.steps, "train_seconds": result.seconds, "train_images": len(x),
                   "resumed_from_step": result.resumed_from,
                   "parameters": sum(p.numel() for p in model.parameters() if p.requires_grad),
                   **{f"final_{k}": v for k, v in last.items() if k not in ("epoch", "step")}}
        write_csv(gp.reports / name / "loss.csv", result.rows, first=("step", "epoch"))
        write_json(gp.reports / name / "train.json", metrics)
        tr.log_metrics(metrics)
        tr.log_artifact(gp.reports / name / "loss.csv")
        tr.log_torch_model(model, "model", registered_model_name=f"obscura-generative-{name}",
                           serialization_format="pickle", pip_requirements=[f"torch=={torch.__version__}"])
    return metrics


if __name__ == "__main__":
    from stages._entry import main

    sys.exit(main(run))
