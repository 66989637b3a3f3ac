"""Prefect view of the DVC pipeline: one task per DVC stage, in DVC's order, with retries.

How the two cooperate: DVC owns the graph, the cache and what is up to date; each Prefect task
runs ``dvc repro --single-item <stage>``, so a scheduled run recomputes only stages whose deps or
params changed and reuses DVC's cache for the rest. Prefect adds schedules, retries, run history
and sweeps (flows/sweep.py: one ``dvc exp run --temp -S …`` per configuration, each logging to MLflow).
Retries, the schedule and the sweep width come from params.yaml's ``orchestration`` section.

    python -m flows.pipeline run [STAGE ...]              # one run now (temporary Prefect server)
    python -m flows.pipeline serve [--cron "0 3 * * *"]   # scheduled deployment on a Prefect server (blocks)
    python -m flows.pipeline deploy --pool POOL           # the same deployment, run by a work pool's workers
    python -m flows.pipeline sweep -S generative.vae.latent_channels=2,8 [--dask]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import flows  # noqa: F401  (sets the Prefect environment before prefect is imported)
from prefect import flow, task

ROOT = flows.ROOT


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return int(text)


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


@task(task_run_name="dvc repro {stage}")
def repro_stage(stage: str, force: bool = False, root: Path = ROOT) -> str:
    """Bring one stage up to date through DVC (a no-op when its deps and params are unchanged)."""
    cmd = [sys.executable, "-m", "dvc", "repro", "--single-item", *(["--force"] if force else []), stage]
    result = subprocess.run(cmd, cwd=root, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"`{' '.join(cmd[2:])}` failed ({result.returncode}):\n{result.stdout}{result.stderr}")
    return "skipped" if "didn't change, skipping" in result.stdout else "ran"


@flow(name="obscura-pipeline", log_prints=True)
def pipeline(targets: list[str] | None = None, force: bool = False, root: Path = ROOT) -> dict[str, str]:
    """Run the DVC stages (all, or ``targets`` with their upstream) in order; return stage → ran/skipped.

    A failed stage is retried ``orchestration.retries`` times, ``orchestration.retry_delay_seconds`` apart.
    """
    from obscura.config import load_params

    settings = load_params(root / "params.yaml").orchestration
    repro = repro_stage.with_options(retries=settings.retries, retry_delay_seconds=settings.retry_delay_seconds)
    order = stage_order(root)
    if targets:
        order = with_upstream(order, targets, root)
    return {stage: repro(stage, force=force, root=root) for stage in order}


def schedule(cron: str | None = None, root: Path = ROOT):
    """The deployment schedule: ``cron`` or params.yaml's ``orchestration.cron``, in its time zone."""
    from prefect.schedules import Cron

    from obscura.config import load_params

    settings = load_params(root / "params.yaml").orchestration
    return Cron(cron or settings.cron, timezone=settings.timezone)


def require_server() -> None:
    """Exit with one clear error unless PREFECT_API_URL names a Prefect server that answers."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value()
    if not url:
        raise SystemExit("error: a deployment needs a running Prefect server: start one with `make prefect-server` "
                         "and set PREFECT_API_URL=http://127.0.0.1:4200/api (make schedule does), or point "
                         "PREFECT_API_URL at an existing server.")
    with get_client(sync_client=True) as client:
        failure = client.api_healthcheck()
    if failure is not None:
        raise SystemExit(f"error: the Prefect server at {url} does not answer ({failure}); start it with "
                         "`make prefect-server` or fix PREFECT_API_URL.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flows.pipeline", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run_p = sub.add_parser("run", help="run the pipeline once now")
    run_p.add_argument("stages", nargs="*")
    run_p.add_argument("--force", action="store_true")
    serve_p = sub.add_parser("serve", help="serve a scheduled deployment from this process (blocks)")
    deploy_p = sub.add_parser("deploy", help="register a scheduled deployment that a work pool's workers run")
    deploy_p.add_argument("--pool", required=True, help="work pool name (e.g. from `prefect work-pool create POOL --type process`)")
    for p in (serve_p, deploy_p):
        p.add_argument("--cron", help="default: orchestration.cron in params.yaml")
        p.add_argument("--name", default="scheduled")
    sweep_p = sub.add_parser("sweep", help="one DVC experiment (`dvc exp run --temp`) per configuration")
    sweep_p.add_argument("stages", nargs="*", help="stages to bring up to date in each experiment (default: all)")
    sweep_p.add_argument("-S", "--set", dest="overrides", action="append", required=True, metavar="KEY=V1[,V2...]",
                         help="params.yaml key and its values; several -S give every combination")
    sweep_p.add_argument("--workers", type=_positive, help="configurations at once (default: "
                         "orchestration.sweep_workers)")
    sweep_p.add_argument("--dask", action="store_true", help="run on a Dask LocalCluster of --workers processes")
    sweep_p.add_argument("--dask-address", metavar="tcp://HOST:8786", help="run on an existing Dask scheduler")
    sweep_p.add_argument("--out", type=Path, help="also write the results table to this CSV file")
    sub.add_parser("stages", help="print the stages in pipeline order")
    args = parser.parse_args(argv)
    if args.command == "run":
        unknown = sorted(set(args.stages) - set(stage_order()))
        if unknown:                                                      # refuse before Prefect starts
            print(f"error: unknown stage(s) {', '.join(unknown)}; `python -m flows.pipeline stages` lists them.",
                  file=sys.stderr)
            return 2
        print(pipeline(args.stages or None, force=args.force))
    elif args.command == "serve":
        require_server()
        pipeline.serve(name=args.name, schedule=schedule(args.cron))
    elif args.command == "deploy":
        require_server()
        source = pipeline.from_source(source=str(ROOT), entrypoint="flows/pipeline.py:pipeline")
        source.deploy(name=args.name, work_pool_name=args.pool, schedule=schedule(args.cron), build=False, push=False)
    elif args.command == "sweep":
        from flows.sweep import SweepError, check_sweep, format_table, parse_grid, sweep, task_runner
        from obscura.config import load_params
        from obscura.tracking import TrackingUnavailable, check_reachable

        try:
            check_sweep(parse_grid(args.overrides), args.stages, ROOT)      # refuse before Prefect starts
            if os.environ.get("MLFLOW_TRACKING_URI"):
                check_reachable(os.environ["MLFLOW_TRACKING_URI"])
        except (SweepError, TrackingUnavailable) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        workers = args.workers or load_params(ROOT / "params.yaml").orchestration.sweep_workers
        runner = task_runner(workers, dask=args.dask, address=args.dask_address)
        result = sweep.with_options(task_runner=runner)(args.overrides, args.stages, ROOT)
        if args.out:
            args.out.write_text(format_table(result["rows"]))
    else:
        print("\n".join(stage_order()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
