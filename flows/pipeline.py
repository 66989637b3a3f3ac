"""Prefect view of the DVC pipeline: one task per DVC stage, in DVC's order, with retries.

How the two cooperate: DVC owns the graph, the cache and what is up to date; each Prefect task
runs ``dvc repro --single-item <stage>``, so a scheduled run recomputes only stages whose deps or
params changed and reuses DVC's cache for the rest. Prefect adds schedules, retries, run history
and sweeps (``dvc exp run --temp -S key=value`` per value; every run still logs to MLflow).

    python -m flows.pipeline run [STAGE ...]          # one run now
    python -m flows.pipeline serve --cron "0 3 * * *" # scheduled deployment (keeps running)
    python -m flows.pipeline sweep generative.ddpm.epochs 2 4 8
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import flows  # noqa: F401  (sets the Prefect environment before prefect is imported)
from prefect import flow, task

ROOT = flows.ROOT


def stage_order(root: Path = ROOT) -> list[str]:
    """Every stage of dvc.yaml (foreach items expanded), upstream first, ties by name."""
    import networkx as nx
    from dvc.repo import Repo

    with Repo(str(root)) as repo:
        graph = repo.index.graph  # edges point from a stage to the stages it depends on
        stages = {s.name: s for s in graph.nodes if getattr(s, "cmd", None)}
        upstream_first = nx.lexicographical_topological_sort(graph.reverse(copy=True), key=lambda s: s.name)
        return [s.name for s in upstream_first if s.name in stages]


def with_upstream(order: list[str], targets: list[str], root: Path = ROOT) -> list[str]:
    """``targets`` and everything they depend on, kept in pipeline order."""
    import networkx as nx
    from dvc.repo import Repo

    unknown = sorted(set(targets) - set(order))
    if unknown:
        raise ValueError(f"unknown stage(s) {unknown}; stages: {', '.join(order)}")
    with Repo(str(root)) as repo:
        graph = repo.index.graph
        by_name = {s.name: s for s in graph.nodes}
        keep = set(targets)
        for name in targets:
            keep |= {s.name for s in nx.descendants(graph, by_name[name])}
    return [name for name in order if name in keep]


@task(retries=2, retry_delay_seconds=10, task_run_name="dvc repro {stage}")
def repro_stage(stage: str, force: bool = False, root: Path = ROOT) -> str:
    """Bring one stage up to date through DVC (a no-op when its deps and params are unchanged)."""
    cmd = [sys.executable, "-m", "dvc", "repro", "--single-item", *(["--force"] if force else []), stage]
    result = subprocess.run(cmd, cwd=root, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"`{' '.join(cmd[2:])}` failed ({result.returncode}):\n{result.stdout}{result.stderr}")
    return "skipped" if "didn't change, skipping" in result.stdout else "ran"


@flow(name="obscura-pipeline", log_prints=True)
def pipeline(targets: list[str] | None = None, force: bool = False, root: Path = ROOT) -> dict[str, str]:
    """Run the DVC stages (all, or ``targets`` with their upstream) in order; return stage → ran/skipped."""
    order = stage_order(root)
    if targets:
        order = with_upstream(order, targets, root)
    return {stage: repro_stage(stage, force=force, root=root) for stage in order}


@task(retries=1, retry_delay_seconds=10, task_run_name="dvc exp run {key}={value}")
def run_experiment(key: str, value: str, root: Path = ROOT) -> str:
    """One experiment in a temporary copy of the workspace; its MLflow runs land in the main store."""
    cmd = [sys.executable, "-m", "dvc", "exp", "run", "--temp", "-S", f"{key}={value}"]
    result = subprocess.run(cmd, cwd=root, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"`{' '.join(cmd[2:])}` failed ({result.returncode}):\n{result.stdout}{result.stderr}")
    return result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""


@flow(name="obscura-sweep", log_prints=True)
def sweep(key: str, values: list[str], root: Path = ROOT) -> dict[str, str]:
    """Run ``dvc exp run --temp -S key=value`` for each value, one after another (2 cores)."""
    return {value: run_experiment(key, value, root=root) for value in values}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flows.pipeline", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run_p = sub.add_parser("run", help="run the pipeline once now")
    run_p.add_argument("stages", nargs="*")
    run_p.add_argument("--force", action="store_true")
    serve_p = sub.add_parser("serve", help="serve a scheduled deployment (blocks)")
    serve_p.add_argument("--cron", default="0 3 * * *")
    serve_p.add_argument("--name", default="nightly")
    sweep_p = sub.add_parser("sweep", help="one DVC experiment per value of a params key")
    sweep_p.add_argument("key")
    sweep_p.add_argument("values", nargs="+")
    sub.add_parser("stages", help="print the stages in pipeline order")
    args = parser.parse_args(argv)
    if args.command == "run":
        print(pipeline(args.stages or None, force=args.force))
    elif args.command == "serve":
        pipeline.serve(name=args.name, cron=args.cron)
    elif args.command == "sweep":
        print(sweep(args.key, args.values))
    else:
        print("\n".join(stage_order()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
