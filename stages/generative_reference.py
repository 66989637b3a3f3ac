"""DVC stage ``generative_reference``: cached Inception features of the real Fashion-MNIST test images,
and the real-vs-real FID/KID baseline (training images against them) that makes model FIDs readable."""

from __future__ import annotations

import sys
import time

import torch

from obscura.config import Params
from obscura.generative import metrics as M
from obscura.generative.data import fashion_mnist
from obscura.io import atomic_path, write_json
from obscura.tracking import stage_run


def run(params: Params) -> dict:
    gp, ev = params.generative, params.generative.eval
    x_test, _ = fashion_mnist(gp.prepared, "test", gp.image_size, gp.channels, ev.real_samples)
    x_train, _ = fashion_mnist(gp.prepared, "train", gp.image_size, gp.channels)
    perm = torch.randperm(len(x_train), generator=torch.Generator().manual_seed(params.seed))[: ev.fid_samples]
    with stage_run("generative_reference", ev, experiment=params.tracking.experiment, seed=params.seed,
                   tags={"fid.network": M.INCEPTION_NAME}) as tr:
        net = M.InceptionFeatures()
        t0 = time.perf_counter()
        real = M.extract_features(net, x_test, ev.batch_size, desc="inception: test images")
        seconds = time.perf_counter() - t0
        train_feats = M.extract_features(net, x_train[perm], ev.batch_size, desc="inception: train images")
        base = M.fid_kid(real, train_feats, ev.kid_subset_size, ev.kid_subsets, params.seed)
        out = gp.output / "reference" / "inception.pt"
        with atomic_path(out) as tmp:
            torch.save({"features": real, "network": M.INCEPTION_NAME, "image_size": gp.image_size,
                        "channels": gp.channels}, tmp)
        metrics = {"fid_real_baseline": base["fid"], "kid_real_baseline": base["kid"],
                   "kid_real_baseline_std": base["kid_std"], "real_samples": len(real),
                   "fid_samples": len(train_feats), "inception_seconds_per_image": seconds / len(real)}
        write_json(gp.reports / "reference.json", metrics)
        tr.log_metrics(metrics)
    return metrics


if __name__ == "__main__":
    from stages._entry import main

    sys.exit(main(run))
