"""Parameter sweeps: one ``dvc exp run --temp -S …`` (and so one MLflow run per stage) per configuration.

``-S key=v1,v2`` lists values (commas inside brackets belong to the value, as in DVC/Hydra); several
``-S`` give their cartesian product. Everything is checked before anything runs: unknown stages,
unknown params and values that params.yaml's validation refuses are reported together, by key.
Configurations fan out over a Prefect task runner: threads on this machine, or Dask (a
``distributed.LocalCluster`` started for the sweep, or the address of an existing scheduler). Results
come back as one table from ``dvc exp show`` plus a link to MLflow's compare view.
"""

from __future__ import annotations

import copy
import csv
import io
import itertools
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import quote

import yaml
from prefect import flow, task
from prefect.futures import wait

import flows
from obscura.tracking import check_reachable

ROOT = flows.ROOT


class SweepError(ValueError):
    """A sweep that cannot run as asked; the message lists every problem, by key."""


def split_values(text: str) -> list[str]:
    """``a,b,[1, 2]`` → ``['a', 'b', '[1, 2]']``: commas at bracket depth 0 separate values."""
    values, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "[{(":
            depth += 1
        elif ch in "]})":
            depth -= 1
        elif ch == "," and depth == 0:
            values.append(text[start:i].strip())
            start = i + 1
    values.append(text[start:].strip())
    return values


def parse_grid(overrides: list[str]) -> dict[str, list[str]]:
    """``['a.b=1,2', 'c=x']`` → ``{'a.b': ['1', '2'], 'c': ['x']}``."""
    grid: dict[str, list[str]] = {}
    problems = []
    for item in overrides:
        key, sep, values = item.partition("=")
        key = key.strip()
        if not sep or not key or not values.strip():
            problems.append(f"  {item!r}: expected KEY=VALUE[,VALUE...], e.g. generative.vae.latent_channels=2,8")
        elif key in grid:
            problems.append(f"  {key}: given twice; list its values in one -S {key}=v1,v2")
        elif "" in (split := split_values(values)):
            problems.append(f"  {item!r}: empty value")
        else:
            grid[key] = split
    if problems or not grid:
        raise SweepError("sweep: bad -S option(s):\n" + ("\n".join(problems) or "  none given"))
    return grid


def configurations(grid: dict[str, list[str]]) -> list[dict[str, str]]:
    """Every combination of the grid's values, first key varying slowest."""
    return [dict(zip(grid, combo)) for combo in itertools.product(*grid.values())]


def _path_problem(base: dict, key: str) -> str | None:
    """Why ``key`` cannot be set in ``base`` the way DVC's ``-S`` would (None when it can).

    As in DVC, ``key=`` changes a key params.yaml has, ``+key=`` adds one it has not (a NeRF run, a
    3DGS config override) and ``++key=`` does either.
    """
    mode = "++" if key.startswith("++") else "+" if key.startswith("+") else ""
    parts = key[len(mode):].split(".")
    node = base
    for depth, part in enumerate(parts):
        if not isinstance(node, dict):
            return f"  {key}: unknown param ({'.'.join(parts[:depth])} is a value, not a section)"
        if part not in node:
            if mode:
                return None          # added: params validation judges it
            where = ".".join(parts[:depth]) or "params.yaml"
            return (f"  {key}: unknown param; {where} has {', '.join(sorted(node))} "
                    f"(+{key}=VALUE adds a key params.yaml does not have yet)")
        node = node[part]
    return f"  {key}: params.yaml has it already; drop the + to change it" if mode == "+" else None


def _set(raw: dict, key: str, value) -> None:
    """Set dotted ``key`` (without its ``+``/``++``) in ``raw``, creating missing sections."""
    *sections, leaf = key.lstrip("+").split(".")
    for part in sections:
        raw = raw.setdefault(part, {})
    raw[leaf] = value


def check_sweep(grid: dict[str, list[str]], targets: list[str] | None = None, root: Path = ROOT) -> list[dict[str, str]]:
    """The configurations of ``grid`` once every stage, key and value is known to be valid.

    Raises one SweepError listing unknown ``targets``, unknown params and every value params.yaml's
    validation (obscura.config) refuses, each with its key.
    """
    from pydantic import ValidationError

    from flows.pipeline import stage_order
    from obscura.config import Params

    problems: list[str] = []
    if targets:
        order = stage_order(root)
        unknown = [t for t in targets if t not in order]
        if unknown:
            problems.append(f"  unknown stage(s) {', '.join(unknown)}; stages: {', '.join(order)}")
    base = yaml.safe_load((root / "params.yaml").read_text()) or {}
    path_problems = {key: p for key in grid if (p := _path_problem(base, key)) is not None}
    configs = configurations(grid)
    for config in configs:
        raw = copy.deepcopy(base)
        for key, value in config.items():
            if key in path_problems:
                continue
            try:
                _set(raw, key, yaml.safe_load(value))
            except yaml.YAMLError:
                problems.append(f"  {key}={value}: not a valid value (quote strings that contain ':' or '#')")
        try:
            Params.model_validate(raw)
        except ValidationError as exc:
            for err in exc.errors():
                name = ".".join(str(p) for p in err["loc"])
                if err["type"] == "extra_forbidden":
                    problems.append(f"  {name}: unknown param (params validation has no such key)")
                else:
                    problems.append(f"  {name} = {err['input']!r}: {err['msg']}")
    problems += path_problems.values()
    if problems:
        unique = list(dict.fromkeys(problems))
        raise SweepError(f"sweep refused, nothing was run ({len(configs)} configuration(s)):\n" + "\n".join(unique))
    return configs


@task(task_run_name="dvc exp run {name}")
def run_experiment(name: str, config: dict[str, str], targets: list[str], root: Path = ROOT,
                   tracking_uri: str | None = None) -> str:
    """One configuration as ``dvc exp run --temp -n NAME -S k=v …``; waits for DVC's lock when another
    experiment holds it. Its MLflow runs go to ``tracking_uri`` (the sweep's ``MLFLOW_TRACKING_URI``, set
    here whatever the worker's environment holds), else to the repository's store (see obscura.tracking)."""
    sets = [arg for key, value in config.items() for arg in ("-S", f"{key}={value}")]
    cmd = [sys.executable, "-m", "dvc", "--wait-for-lock", "exp", "run", "--temp", "-n", name, *sets, *targets]
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    if tracking_uri:
        env["MLFLOW_TRACKING_URI"] = tracking_uri
    result = subprocess.run(cmd, cwd=root, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise RuntimeError(f"`{' '.join(cmd[2:])}` failed ({result.returncode}):\n{result.stdout}{result.stderr}")
    return name


def _flat(data: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in data.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def experiment_rows(names: list[str], root: Path = ROOT) -> dict[str, tuple[dict, dict]]:
    """``dvc exp show`` data of the named experiments: name → (params, metrics), keys dotted."""
    result = subprocess.run([sys.executable, "-m", "dvc", "exp", "show", "--json"], cwd=root,
                            capture_output=True, text=True, check=True)
    rows: dict[str, tuple[dict, dict]] = {}

    def visit(node) -> None:
        if isinstance(node, list):
            for item in node:
                visit(item)
        elif isinstance(node, dict):
            if node.get("name") in names and isinstance(node.get("data"), dict):
                data = node["data"]
                params = _flat((data.get("params") or {}).get("params.yaml", {}).get("data") or {})
                metrics = {}
                for source in (data.get("metrics") or {}).values():
                    metrics.update(_flat(source.get("data") or {}))
                rows[node["name"]] = (params, metrics)
            for child in ("experiments", "revs"):
                visit(node.get(child))

    visit(json.loads(result.stdout))
    return rows


def mlflow_runs(names: list[str], root: Path = ROOT, tracking_uri: str | None = None) -> tuple[dict[str, list], str]:
    """MLflow runs tagged with each experiment name (in ``tracking_uri``, else the repository's store),
    and the compare-view link of all of them."""
    from mlflow.tracking import MlflowClient

    from obscura.paths import main_root

    uri = tracking_uri or f"sqlite:///{main_root(root) / 'mlflow.db'}"
    client = MlflowClient(uri)
    experiment_ids = [e.experiment_id for e in client.search_experiments()]
    found = {name: client.search_runs(experiment_ids, f"tags.`dvc.exp_name` = '{name}'") if experiment_ids else []
             for name in names}
    runs = [r for rs in found.values() for r in rs]
    ui = uri.rstrip("/") if uri.startswith(("http://", "https://")) else "http://127.0.0.1:5000"
    ids = json.dumps([r.info.run_id for r in runs])
    exps = json.dumps(sorted({r.info.experiment_id for r in runs}))
    return found, f"{ui}/#/compare-runs?runs={quote(ids)}&experiments={quote(exps)}"


def results_table(names: list[str], configs: list[dict[str, str]], root: Path = ROOT,
                  tracking_uri: str | None = None) -> tuple[list[dict], str]:
    """One row per experiment: its name, the swept params (as DVC applied them), its MLflow run count and
    every metric that differs between the experiments (all metrics when there is one)."""
    shown = experiment_rows(names, root)
    runs, link = mlflow_runs(names, root, tracking_uri)
    swept = list(dict.fromkeys(k.lstrip("+") for c in configs for k in c))
    metrics = {name: shown.get(name, ({}, {}))[1] for name in names}
    metric_keys = sorted({k for m in metrics.values() for k in m})
    if len(names) > 1:
        metric_keys = [k for k in metric_keys if len({json.dumps(m.get(k)) for m in metrics.values()}) > 1]
    return [{"experiment": name, **{k: shown.get(name, ({}, {}))[0].get(k) for k in swept},
             "mlflow_runs": len(runs[name]), **{k: metrics[name].get(k) for k in metric_keys}}
            for name in names], link


def format_table(rows: list[dict]) -> str:
    buffer = io.StringIO()
    if rows:
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return buffer.getvalue()


def task_runner(workers: int, dask: bool = False, address: str | None = None):
    """Threads on this machine; with ``dask``, a LocalCluster of ``workers`` single-threaded worker
    processes, or the existing Dask scheduler at ``address``."""
    if address or dask:
        from prefect_dask import DaskTaskRunner

        if address:
            return DaskTaskRunner(address=address)
        return DaskTaskRunner(cluster_class="distributed.LocalCluster",
                              cluster_kwargs={"n_workers": workers, "threads_per_worker": 1,
                                              "processes": True, "dashboard_address": None})
    from prefect.task_runners import ThreadPoolTaskRunner

    return ThreadPoolTaskRunner(max_workers=workers)


@flow(name="obscura-sweep", log_prints=True)
def sweep(overrides: list[str], targets: list[str] | None = None, root: Path = ROOT) -> dict:
    """Check the sweep, run one DVC experiment per configuration on the flow's task runner, and
    return ``{"rows": [...], "mlflow_compare": url}``; fails (after collecting the rest) when any
    configuration still fails after its retries."""
    from obscura.config import load_params

    configs = check_sweep(parse_grid(overrides), targets, root)
    settings = load_params(root / "params.yaml").orchestration
    run = run_experiment.with_options(retries=settings.retries, retry_delay_seconds=settings.retry_delay_seconds,
                                      retry_jitter_factor=0.5)
    uri = os.environ.get("MLFLOW_TRACKING_URI")    # handed to every configuration, wherever it runs
    if uri:
        check_reachable(uri)                        # fail now, not after every configuration's retries
    sweep_id = uuid.uuid4().hex[:6]
    names = [f"sweep-{sweep_id}-{i}" for i in range(len(configs))]
    futures = [run.submit(name, config, list(targets or []), root, uri) for name, config in zip(names, configs)]
    wait(futures)
    failed = {name: f.state.message for name, f in zip(names, futures) if not f.state.is_completed()}
    done = [name for name in names if name not in failed]
    rows, link = results_table(done, [c for n, c in zip(names, configs) if n in done], root, uri)
    print(f"sweep {sweep_id}: {len(done)}/{len(names)} configurations\n{format_table(rows)}MLflow: {link}")
    if failed:
        raise RuntimeError("sweep configuration(s) failed: " + "; ".join(f"{n}: {m}" for n, m in failed.items()))
    return {"rows": rows, "mlflow_compare": link}
