"""DVC stage ``train_generative@<model>``: train one generative family on Fashion-MNIST.

Re-running after an interruption resumes from ``<output>/.state/<model>.pt`` (not a DVC output, so
``dvc repro`` does not delete it) when the params are unchanged.
"""

from __future__ import annotations

import csv
import sys

import torch

from obscura.config import Params
from obscura.generative import metrics as M
from obscura.generative.classifier import load_reference
from obscura.generative.checkpoint import load_model, save_checkpoint
from obscura.generative.data import fashion_mnist
from obscura.generative.registry import config_class, config_from_params
from obscura.generative.train import TrainSettings, train
from obscura.io import atomic_path, write_json
from obscura.tracking import stage_run


def build(params: Params, name: str):
    """The untrained model of family ``name`` as params describe it (the LDM wraps the trained autoencoder)."""
    gp = params.generative
    config = config_from_params(name, gp)
    torch.manual_seed(params.seed)
    if name != "ldm":
        return config.setup()
    ae, payload = load_model(gp.output / config.autoencoder / "model.pt", expect=config.autoencoder,
                             image_size=gp.image_size, channels=gp.channels)
    config.autoencoder_config = ae.config.to_dict()
    model = config.setup()
    model.autoencoder.load_state_dict(ae.state_dict())
    return model


def epoch_scorer(params: Params):
    """``model → in-domain Fréchet distance`` of ``epoch_fd_samples`` samples (None when off)."""
    gp = params.generative
    if gp.epoch_fd_samples == 0:
        return None
    clf, real = load_reference(gp.output / "reference" / "classifier.pt", gp.image_size, gp.channels)
    feats = M.ClassifierFeatures(clf)

    def score(model) -> float:
        model.eval()
        fake = model.sample(gp.epoch_fd_samples, torch.Generator().manual_seed(params.seed))
        return M.frechet_distance(feats, real, M.extract_features(feats, fake))

    return score


def write_curve(path, rows: list[dict]) -> None:
    keys = ["step", "epoch"] + sorted({k for r in rows for k in r} - {"step", "epoch"})
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)


def run(params: Params, name: str) -> dict:
    config_class(name)                                   # unknown name → one clear error
    gp = params.generative
    section = getattr(gp, name)
    x, _ = fashion_mnist(gp.prepared, "train", gp.image_size, gp.channels, section.train_images)
    model = build(params, name)
    if name == "ldm":
        model.fit_latent_scale(x)
    settings = TrainSettings(epochs=section.epochs, batch_size=section.batch_size, lr=section.lr, seed=params.seed,
                             checkpoint_every=gp.checkpoint_every, log_every=gp.log_every)
    state = gp.output / ".state" / f"{name}.pt"
    fingerprint = {"section": section.model_dump(mode="json"), "config": model.config.to_dict()}
    stage = f"train_generative@{name}"
    epoch_fd = epoch_scorer(params)
    with stage_run(stage, section, experiment=params.tracking.experiment, seed=params.seed,
                   tags={"generative.model": name}) as tr:
        def on_epoch(epoch: int, logs: dict) -> None:
            logs = {f"epoch_{k}": v for k, v in logs.items()}
            if epoch_fd is not None:
                logs["epoch_fd_classifier"] = epoch_fd(model)
            tr.log_metrics(logs, step=epoch)

        result = train(model, x, settings, state_path=state, fingerprint=fingerprint,
                       on_step=lambda step, logs: tr.log_metrics(logs, step=step), on_epoch=on_epoch)
        out = gp.output / name / "model.pt"
        save_checkpoint(out, model)
        last = result.epochs[-1] if result.epochs else {}
        metrics = {"steps": result.steps, "train_seconds": result.seconds, "train_images": len(x),
                   "resumed_from_step": result.resumed_from,
                   "parameters": sum(p.numel() for p in model.parameters() if p.requires_grad),
                   **{f"final_{k}": v for k, v in last.items() if k not in ("epoch", "step")}}
        write_curve(gp.reports / name / "loss.csv", result.rows)
        write_json(gp.reports / name / "train.json", metrics)
        tr.log_metrics(metrics)
        tr.log_artifact(gp.reports / name / "loss.csv")
        tr.log_torch_model(model, "model", registered_model_name=f"obscura-generative-{name}",
                           serialization_format="pickle", pip_requirements=[f"torch=={torch.__version__}"])
    state.unlink(missing_ok=True)                        # finished: a forced re-run trains afresh
    return metrics


if __name__ == "__main__":
    from stages._entry import main

    sys.exit(main(run))
