"""DVC stage ``prepare``: shipped datasets → ``data/prepared`` (arrays, photo split, manifest), flat metrics in
``prepare.metrics`` and the photos' provenance in ``prepare.sources``."""

from __future__ import annotations

import sys

from tqdm import tqdm

from obscura.config import Params
from obscura.data.prepare import prepare_all
from obscura.io import atomic_dir, write_json
from obscura.tracking import stage_run


def run(params: Params) -> dict:
    cfg = params.prepare
    with stage_run("prepare", {"prepare": cfg}, experiment=params.tracking.experiment, seed=params.seed) as tracker:
        with atomic_dir(cfg.output) as tmp, tqdm(desc="prepare", unit="step") as bar:
            def progress(step: str) -> None:
                bar.set_postfix_str(step)
                bar.update()
            metrics, sources = prepare_all(cfg, tmp, progress)
        write_json(cfg.metrics, metrics)
        write_json(cfg.sources, sources)
        tracker.log_metrics({k: v for k, v in metrics.items() if isinstance(v, int)})
        tracker.log_artifact(cfg.metrics)
        tracker.log_artifact(cfg.sources)
        tracker.log_artifact(cfg.output / "photos" / "manifest.json")
    return metrics


if __name__ == "__main__":
    from stages._entry import main

    sys.exit(main(run))
