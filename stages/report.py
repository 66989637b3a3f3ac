"""DVC stage ``report``: reports/index.html summarising every stage's metrics, tables and images."""

from __future__ import annotations

import sys
from pathlib import Path

from obscura.config import Params
from obscura.io import atomic_path
from obscura.report import build_index
from obscura.tracking import stage_run

REPORTS = Path("reports")


def run(params: Params) -> Path:
    out = REPORTS / "index.html"
    with stage_run("report", experiment=params.tracking.experiment, seed=params.seed) as tracker:
        with atomic_path(out) as tmp:
            tmp.write_text(build_index(REPORTS, out.name))
        tracker.log_artifact(out)
    return out


if __name__ == "__main__":
    from stages._entry import main

    sys.exit(main(run))
