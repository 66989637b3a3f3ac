"""DVC stage ``generative_classifier``: the small Fashion-MNIST CNN behind the in-domain Fréchet distance."""

from __future__ import annotations

import sys

import torch

from obscura.config import Params
from obscura.metrics import ClassifierFeatures, extract_features, fid_kid
from obscura.generative.classifier import accuracy, train_classifier
from obscura.generative.data import fashion_mnist
from obscura.io import atomic_path, write_json
from obscura.tracking import stage_run


def run(params: Params) -> dict:
    gp, cp = params.generative, params.generative.classifier
    x, y = fashion_mnist(gp.prepared, "train", gp.image_size, gp.channels, cp.train_images)
    x_test, y_test = fashion_mnist(gp.prepared, "test", gp.image_size, gp.channels)
    with stage_run("generative_classifier", cp, experiment=params.tracking.experiment, seed=params.seed) as tr:
        clf = train_classifier(x, y, cp.epochs, cp.batch_size, cp.lr, params.seed,
                               on_epoch=lambda e, logs: tr.log_metrics(logs, step=e))
        feats = ClassifierFeatures(clf)
        n = gp.eval.real_samples
        real = extract_features(feats, x_test[:n])
        # in-domain real-vs-real baseline: fid_samples training images against the cached test images
        perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(params.seed))[: gp.eval.fid_samples]
        base = fid_kid(real, extract_features(feats, x[perm]), gp.eval.kid_subset_size, gp.eval.kid_subsets,
                         params.seed)
        metrics = {"test_accuracy": accuracy(clf, x_test, y_test), "train_images": len(x),
                   "fd_classifier_real_baseline": base["fid"], "kd_classifier_real_baseline": base["kid"]}
        out = gp.output / "reference" / "classifier.pt"
        with atomic_path(out) as tmp:
            torch.save({"state_dict": clf.state_dict(), "channels": gp.channels, "image_size": gp.image_size,
                        "test_features": real}, tmp)
        write_json(gp.reports / "classifier.json", metrics)
        tr.log_metrics(metrics)
    return metrics


if __name__ == "__main__":
    from stages._entry import main

    sys.exit(main(run))
