"""DVC stage ``evaluate_generative@<model>``: score one trained family (obscura.generative.evaluate)."""

from __future__ import annotations

import json
import sys

from obscura.config import Params
from obscura.metrics import INCEPTION_NAME
from obscura.generative.checkpoint import load_model
from obscura.generative.classifier import load_reference as load_classifier
from obscura.generative.data import fashion_mnist
from obscura.generative.evaluate import Reference, evaluate_model, inception_reference_path, load_inception_reference
from obscura.generative.images import grid
from obscura.generative.registry import config_class
from obscura.io import save_image, write_json
from obscura.tracking import model_name, stage_run


def run(params: Params, name: str) -> dict:
    config_class(name)
    gp, ev = params.generative, params.generative.eval
    model, _ = load_model(gp.output / name / "model.pt", expect=name, image_size=gp.image_size, channels=gp.channels)
    clf, clf_real = load_classifier(gp.output / "reference" / "classifier.pt", gp.image_size, gp.channels)
    ref = Reference(inception=load_inception_reference(inception_reference_path(gp), gp.image_size,
                                                       gp.channels),
                    classifier=clf, classifier_features=clf_real,
                    test_images=fashion_mnist(gp.prepared, "test", gp.image_size, gp.channels)[0])
    baselines = {**json.loads((gp.reports / "reference.json").read_text()),
                 **json.loads((gp.reports / "classifier.json").read_text())}
    train_info = json.loads((gp.reports / name / "train.json").read_text())
    with stage_run(f"evaluate_generative@{name}", {"generative.eval": ev}, experiment="generative", seed=params.seed,
                   method=name, dataset="fashion_mnist",
                   tags={"fid.network": INCEPTION_NAME, "fid.samples": str(ev.fid_samples),
                         "fid.real_samples": str(len(ref.inception))}) as tr:
        metrics, samples, strip = evaluate_model(model, ref, ev, params.seed)
        metrics.update({k: baselines[k] for k in ("fid_real_baseline", "kid_real_baseline", "fd_classifier_real_baseline")},
                       train_seconds=train_info["train_seconds"], train_steps=train_info["steps"])
        out = gp.output / name
        save_image(out / "samples.png", grid(samples[: ev.grid]))
        save_image(out / "blend.png", grid(strip, ncol=ev.blend_steps + (2 if hasattr(model, "encode") else 0)))
        write_json(gp.reports / name / "metrics.json", metrics)
        tr.log_metrics(metrics)
        tr.log_image(out / "samples.png", "samples.png")
        tr.log_image(out / "blend.png", "blend.png")
        tr.score_model(model_name("generative", name), metrics, checkpoint=(gp.output / name / "model.pt",))
    return metrics


if __name__ == "__main__":
    from stages._entry import main

    sys.exit(main(run))
