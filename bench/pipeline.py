"""Orchestration overhead: `dvc repro` when nothing changed, and `obscura --help` (import cost).

Targets: no-op ≤ 3 s, CLI help ≤ 1.5 s. Prints one JSON object. The pipeline (or the given
stages) must be up to date first: `make run`, then `python bench/pipeline.py [STAGE ...]`.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(cmd: list[str], repeats: int) -> tuple[float, str]:
    times, out = [], ""
    for _ in range(repeats):
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        times.append(time.perf_counter() - start)
        out = proc.stdout + proc.stderr
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed:\n{out}")
    return statistics.median(times), out


def main() -> None:
    bindir = Path(sys.executable).parent
    os.environ["PATH"] = f"{bindir}{os.pathsep}{os.environ['PATH']}"
    targets = sys.argv[1:]
    status = subprocess.run([str(bindir / "dvc"), "status", *targets], cwd=ROOT, capture_output=True, text=True)
    if "up to date" not in status.stdout:
        raise SystemExit(f"the pipeline is not up to date; run `make run` (or `dvc repro {' '.join(targets)}`) "
                         f"first:\n{status.stdout}")
    noop, out = timed([str(bindir / "dvc"), "repro", *targets], 3)
    changed = [line for line in out.splitlines() if line.startswith("Running stage")]
    help_s, _ = timed([str(bindir / "obscura"), "--help"], 5)
    print(json.dumps({
        "dvc_repro_noop_s": round(noop, 3), "dvc_repro_noop_target_s": 3.0,
        "dvc_repro_was_noop": not changed, "dvc_targets": targets or "all",
        "cli_help_s": round(help_s, 3), "cli_help_target_s": 1.5,
        "machine": f"{platform.machine()} {os.cpu_count()} cores", "python": platform.python_version(),
    }))


if __name__ == "__main__":
    main()
