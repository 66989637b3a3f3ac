"""DVC stage ``train_inpainting@<method>``: train one deep inpainting method on training-photo crops.

Re-running after an interruption resumes from ``data/inpainting/.state/<method>.pt`` when the params are
unchanged.
"""

from __future__ import annotations

import sys

from obscura.config import Params
from obscura.inpainting.deep.fit import fit
from obscura.io import write_json
from obscura.tracking import stage_run


def run(params: Params, method: str) -> dict:
    cfg = params.inpainting
    with stage_run(f"train_inpainting@{method}", cfg.deep.get(method), experiment=params.tracking.experiment,
                   seed=params.seed, tags={"inpainting.method": method}) as tracker:
        metrics = fit(method, cfg, params.prepare.output, params.seed,
                      log=lambda logs, step: tracker.log_metrics(logs, step=step))
        write_json(cfg.reports / "train" / f"{method}.json", {"method": method, **metrics})
        tracker.log_metrics(metrics)
        tracker.log_artifact(cfg.models_dir / method, artifact_path=f"model_{method}")
    return metrics


if __name__ == "__main__":
    from stages._entry import main

    sys.exit(main(run))
