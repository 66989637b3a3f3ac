"""DVC stage ``generative_classifier``: the small Fashion-MNIST CNN behind the in-domain Fréchet distance."""

from __future__ import annotations

import sys

from obscura.config import Params
from obscura.generative.classifier import make_reference
from obscura.generative.data import fashion_mnist
from obscura.io import write_json
from obscura.tracking import stage_run


def run(params: Params) -> dict:
    gp, cp = params.generative, params.generative.classifier
    x, y = fashion_mnist(gp.prepared, "train", gp.image_size, gp.channels, cp.train_images)
    x_test, y_test = fashion_mnist(gp.prepared, "test", gp.image_size, gp.channels)
    with stage_run("generative_classifier", {"generative.classifier": cp}, experiment="generative", seed=params.seed,
                   method="classifier", dataset="fashion_mnist") as tr:
        metrics = make_reference(gp.output / "reference" / "classifier.pt", x, y, x_test, y_test, cp,
                                 gp.eval.real_samples, gp.eval.fid_samples, gp.eval.kid_subset_size,
                                 gp.eval.kid_subsets, params.seed, log=lambda logs, step: tr.log_metrics(logs, step=step))
        write_json(gp.reports / "classifier.json", metrics)
        tr.log_metrics(metrics)
    return metrics


if __name__ == "__main__":
    from stages._entry import main

    sys.exit(main(run))
