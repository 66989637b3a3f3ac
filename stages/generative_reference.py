"""DVC stage ``generative_reference``: cached Inception features of the real Fashion-MNIST test images,
and the real-vs-real FID/KID baseline (training images against them) that makes model figures readable."""

from __future__ import annotations

import sys

from obscura.config import Params
from obscura.metrics import INCEPTION_NAME
from obscura.generative.data import fashion_mnist
from obscura.generative.evaluate import inception_reference_path, real_baseline, save_inception_reference
from obscura.io import write_json
from obscura.tracking import stage_run


def run(params: Params) -> dict:
    gp, ev = params.generative, params.generative.eval
    x_test, _ = fashion_mnist(gp.prepared, "test", gp.image_size, gp.channels, ev.real_samples)
    x_train, _ = fashion_mnist(gp.prepared, "train", gp.image_size, gp.channels)
    with stage_run("generative_reference", {"generative.eval": ev}, experiment="generative", seed=params.seed,
                   method="real", dataset="fashion_mnist", tags={"fid.network": INCEPTION_NAME}) as tr:
        real, metrics = real_baseline(x_test, x_train, ev, params.seed)
        save_inception_reference(inception_reference_path(gp), real, gp.image_size, gp.channels)
        write_json(gp.reports / "reference.json", metrics)
        tr.log_metrics(metrics)
    return metrics


if __name__ == "__main__":
    from stages._entry import main

    sys.exit(main(run))
