"""DVC stage ``train_inpainting@<method>``: train one deep inpainting method on training-photo crops.

Re-running after an interruption resumes from ``data/inpainting/.state/<method>.pt`` when the params are
unchanged.
"""

from __future__ import annotations

import sys

from obscura.config import Params
from obscura.inpainting.deep.fit import fit
from obscura.io import write_json
from obscura.tracking import model_name, stage_run


def run(params: Params, method: str) -> dict:
    cfg = params.inpainting
    with stage_run(f"train_inpainting@{method}", {f"inpainting.deep.{method}": cfg.deep.get(method),
                                                 "inpainting.kinds": cfg.kinds, "inpainting.buckets": cfg.buckets},
                   experiment="inpainting", seed=params.seed, method=method, dataset="photos") as tracker:
        metrics = fit(method, cfg, params.prepare.output, params.seed,
                      log=lambda logs, step: tracker.log_metrics(logs, step=step))
        write_json(cfg.reports / "train" / f"{method}.json", {"method": method, **metrics})
        tracker.log_metrics(metrics)
        tracker.register_model(model_name("inpainting", method), cfg.models_dir / method)
    return metrics


if __name__ == "__main__":
    from stages._entry import main

    sys.exit(main(run))
