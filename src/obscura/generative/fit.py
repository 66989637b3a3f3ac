"""Training one family as the ``generative`` params describe it: build the model (the LDM around the
trained autoencoder's checkpoint), score it per epoch, run the resumable loop and save the checkpoint."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

from obscura.metrics import ClassifierFeatures, extract_features, frechet_distance
from obscura.generative.checkpoint import load_model, save_checkpoint
from obscura.generative.classifier import load_reference
from obscura.generative.registry import config_from_params
from obscura.generative.train import TrainResult, TrainSettings, train


def autoencoder_path(gen_params) -> Path:
    """The checkpoint whose latent space the LDM diffuses in."""
    return gen_params.output / gen_params.ldm.autoencoder / "model.pt"


def build_model(name: str, gen_params, seed: int):
    """The untrained model of family ``name`` (seeded); the LDM wraps the trained autoencoder."""
    config = config_from_params(name, gen_params)
    torch.manual_seed(seed)
    if name != "ldm":
        return config.setup()
    ae, _ = load_model(autoencoder_path(gen_params), expect=config.autoencoder, image_size=gen_params.image_size,
                       channels=gen_params.channels)
    config.autoencoder_config = ae.config.to_dict()
    model = config.setup()
    model.autoencoder.load_state_dict(ae.state_dict())
    return model


def epoch_scorer(gen_params, seed: int) -> Callable | None:
    """``model → in-domain Fréchet distance`` of ``epoch_fd_samples`` samples (None when off)."""
    if gen_params.epoch_fd_samples == 0:
        return None
    clf, real = load_reference(gen_params.output / "reference" / "classifier.pt", gen_params.image_size,
                               gen_params.channels)
    feats = ClassifierFeatures(clf)

    def score(model) -> float:
        model.eval()
        fake = model.sample(gen_params.epoch_fd_samples, torch.Generator().manual_seed(seed))
        return frechet_distance(feats, real, extract_features(feats, fake))

    return score


def curve_scorer(gen_params, seed: int) -> Callable:
    """``model → {fid, kid, kid_std}`` of ``eval.fid_samples`` seeded samples against the cached test-image
    Inception features (stage ``generative_reference``): the training curve's points. The seed and count
    are the evaluation's, so the last point scores what ``evaluate_generative`` scores."""
    from obscura.generative.evaluate import inception_reference_path, inception_scores, load_inception_reference
    from obscura.metrics import InceptionFeatures

    real = load_inception_reference(inception_reference_path(gen_params), gen_params.image_size, gen_params.channels)
    net = InceptionFeatures()

    def score(model) -> dict[str, float]:
        model.eval()
        m = inception_scores(model, real, gen_params.eval, seed, net)[0]
        return {"fid": m["fid"], "kid": m["kid"], "kid_std": m["kid_std"]}

    return score


def fit(name: str, gen_params, images: torch.Tensor, seed: int,
        log: Callable[[dict, int], None] = lambda metrics, step: None) -> tuple[object, TrainResult]:
    """Train family ``name`` on ``images`` and save ``<output>/<name>/model.pt``.

    Resumes from ``<output>/.state/<name>.pt`` when the params are unchanged (the state is deleted once
    training finishes). ``log(metrics, step)`` receives the loss curve and per-epoch means (with the
    seconds spent training, the classifier Fréchet distance when ``epoch_fd_samples`` > 0 and, every
    ``curve_every`` epochs and after the last, Inception FID/KID).
    """
    section = getattr(gen_params, name)
    model = build_model(name, gen_params, seed)
    if name == "ldm":
        model.fit_latent_scale(images)
    settings = TrainSettings(epochs=section.epochs, batch_size=section.batch_size, lr=section.lr, seed=seed,
                             checkpoint_every=gen_params.checkpoint_every, log_every=gen_params.log_every,
                             lr_schedule=section.lr_schedule)
    state = gen_params.output / ".state" / f"{name}.pt"
    # the curve does not change the weights: a run resumes across a change of curve_every
    fingerprint = {"section": section.model_dump(mode="json", exclude={"curve_every"}),
                   "config": model.config.to_dict()}
    scorer = epoch_scorer(gen_params, seed)
    curve = curve_scorer(gen_params, seed) if section.curve_every else None

    def on_epoch(epoch: int, logs: dict) -> dict:
        row = {}
        if scorer is not None:
            row["fd_classifier"] = scorer(model)
        if curve is not None and ((epoch + 1) % section.curve_every == 0 or epoch + 1 == section.epochs):
            row.update(curve(model))
        log({f"epoch_{k}": v for k, v in {**logs, **row}.items()}, epoch)
        return row

    result = train(model, images, settings, state_path=state, fingerprint=fingerprint,
                   on_step=lambda step, logs: log(logs, step), on_epoch=on_epoch)
    save_checkpoint(gen_params.output / name / "model.pt", model)
    state.unlink(missing_ok=True)                        # finished: a forced re-run trains afresh
    return model, result


def train_and_record(params, name: str) -> dict:
    """What ``train_generative@<name>`` does: train on the prepared Fashion-MNIST images, write
    ``model.pt``, ``loss.csv`` and ``train.json``, and log the run (with the model) to MLflow."""
    from obscura.generative.data import fashion_mnist
    from obscura.generative.registry import config_class
    from obscura.io import write_csv, write_json
    from obscura.tracking import model_name, stage_run

    config_class(name)                                   # unknown name → one clear error
    gp = params.generative
    section = getattr(gp, name)
    x, _ = fashion_mnist(gp.prepared, "train", gp.image_size, gp.channels, section.train_images)
    with stage_run(f"train_generative@{name}", {f"generative.{name}": section, "generative.image_size": gp.image_size,
                                                "generative.channels": gp.channels},
                   experiment="generative", seed=params.seed, method=name, dataset="fashion_mnist") as tr:
        model, result = fit(name, gp, x, params.seed, log=lambda logs, step: tr.log_metrics(logs, step=step))
        last = result.epochs[-1] if result.epochs else {}
        metrics = {"steps": result.steps, "train_seconds": result.seconds, "train_images": len(x),
                   "resumed_from_step": result.resumed_from,
                   "parameters": sum(p.numel() for p in model.parameters() if p.requires_grad),
                   **{f"final_{k}": v for k, v in last.items() if k not in ("epoch", "step")}}
        write_csv(gp.reports / name / "loss.csv", result.rows, first=("step", "epoch"))
        write_csv(gp.reports / name / "epochs.csv", result.epochs, first=("epoch", "step", "train_seconds"))
        write_json(gp.reports / name / "train.json", metrics)
        tr.log_metrics(metrics)
        tr.log_artifact(gp.reports / name / "loss.csv")
        tr.log_artifact(gp.reports / name / "epochs.csv")
        tr.register_model(model_name("generative", name), gp.output / name / "model.pt")
    return metrics
