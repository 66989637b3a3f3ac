"""DVC stage ``report``: reports/index.html (+ reports/assets/) summarising every track's results."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

from obscura.config import Params, params_path
from obscura.paths import main_root
from obscura.report import Runs, cpu_name, write_report
from obscura.tracking import stage_run, tracking_uri

REPORTS = Path("reports")
VIEWER_BUNDLE = "viewer/dist/splat-viewer.js"   # under the main checkout, built by `make setup` (npm ci && npm run build)


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def provenance(params_text: str, own: tuple[str, ...] = ("reports/index.html", "reports/assets")) -> dict[str, str]:
    """Build time, commit (flagged when tracked files differ from it, except the page's ``own`` outputs, which dvc
    deletes before the stage runs), params hash, machine."""
    commit = _git("rev-parse", "--short", "HEAD") or "unknown"
    if _git("status", "--porcelain", "--untracked-files=no", "--", ".", *(f":!{p}" for p in own)):
        commit += " (with uncommitted changes)"
    return {"built": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "commit": commit,
            "params.yaml sha256": hashlib.sha256(params_text.encode()).hexdigest()[:12], "machine": cpu_name()}


def run(params: Params) -> Path:
    out = REPORTS / "index.html"
    params_text = params_path().read_text()
    with stage_run("report", experiment=params.tracking.experiment, seed=params.seed) as tracker:
        write_report(params, out, Runs.from_store(tracking_uri()), provenance(params_text), params_text,
                     main_root() / VIEWER_BUNDLE)
        tracker.log_artifact(out)
    return out


if __name__ == "__main__":
    from stages._entry import main

    sys.exit(main(run))
