"""MLflow tracking: one run per stage execution, one experiment per track, and the model registry.

Runs of a track (``generative``, ``inpainting``, ``reconstruction``) share an experiment and flat metric
keys so the compare view lines them up; they are named ``<stage>/<method>/<dataset-or-scene>``, log
their params under the params.yaml key names (``generative.vae.lr``) and carry tags for the git commit,
the stage's dvc.lock entry and the params (``git.commit``, ``dvc.lock.hash``, ``params.hash``).

Trained models are registered as ``obscura-<track>-<method>[-<scene>]`` (the checkpoint files as the
version's artifacts); a version scored by a finished run on the track's headline metric (``TRACKS``)
competes for the alias ``champion``, which only versions whose training run finished can win.

The default store is an absolute ``sqlite:///<repo>/mlflow.db`` with artifacts in
``<repo>/mlartifacts``; ``<repo>`` is the user's repository even inside a
``dvc exp run --temp/--queue`` copy, so those runs are not lost. ``MLFLOW_TRACKING_URI`` overrides
(e.g. the ``obscura server`` tracking server); an unreachable server fails the stage before any work.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

from obscura.errors import ObscuraError
from obscura.paths import main_root, workspace_root

CHAMPION = "champion"


@dataclass(frozen=True)
class Headline:
    """The metric that ranks a track's models."""

    metric: str
    lower_is_better: bool = False

    def rank(self, value: float) -> float:
        return value if self.lower_is_better else -value


TRACKS = {"generative": Headline("fid", lower_is_better=True),
          "inpainting": Headline("hole_psnr"),
          "reconstruction": Headline("test_psnr")}


class TrackingUnavailable(ObscuraError):
    """The tracking store cannot be reached."""


def tracking_uri() -> str:
    """``MLFLOW_TRACKING_URI`` (a relative sqlite or file path made absolute against the main checkout, so a
    DVC temporary experiment copy logs into the user's store), else the checkout's ``mlflow.db``."""
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    if not uri:
        return f"sqlite:///{main_root() / 'mlflow.db'}"
    for prefix in ("sqlite:///", "file:", ""):
        if uri.startswith(prefix) and (prefix or (":" not in uri and uri != "databricks")):
            path = uri[len(prefix):]
            return uri if path.startswith("/") else f"{prefix}{main_root() / path}"
    return uri


def artifact_location() -> str:
    return (main_root() / "mlartifacts").as_uri()


def _shown(uri: str) -> str:
    """The URI without a password."""
    return re.sub(r"//([^:/@]+):[^@/]*@", r"//\1:***@", uri)


_DB_PORTS = {"postgresql": 5432, "mysql": 3306, "mssql": 1433}


def check_reachable(uri: str | None = None, timeout: float = 5.0) -> None:
    """Fail within ``timeout`` seconds, naming the URI, when a tracking server or database is unreachable
    (MLflow itself retries for minutes)."""
    uri = uri or tracking_uri()
    parsed = urlparse(uri)
    scheme = parsed.scheme.split("+")[0]
    try:
        if scheme in ("http", "https"):
            import requests

            requests.get(f"{uri.rstrip('/')}/health", timeout=timeout).raise_for_status()
        elif scheme in _DB_PORTS and parsed.hostname:
            socket.create_connection((parsed.hostname, parsed.port or _DB_PORTS[scheme]), timeout=timeout).close()
    except Exception as exc:  # connection refused, DNS, timeout, HTTP error
        reason = str(exc).splitlines()[0][:200] if str(exc) else exc.__class__.__name__
        raise TrackingUnavailable(
            f"MLflow tracking store {_shown(uri)} is unreachable ({reason}); nothing was run. Start it "
            "(`make server`), fix MLFLOW_TRACKING_URI, or unset it to use the project's sqlite store.") from None


def flatten(obj, prefix: str = "") -> dict[str, str]:
    """Nested params (pydantic model or mapping) as flat ``a.b.c`` → string pairs."""
    if hasattr(obj, "model_dump"):
        obj = obj.model_dump(mode="json")
    out: dict[str, str] = {}
    if isinstance(obj, Mapping):
        for key, value in obj.items():
            out.update(flatten(value, f"{prefix}{key}."))
    else:
        out[prefix.rstrip(".")] = json.dumps(obj) if isinstance(obj, (list, tuple)) else str(obj)
    return out


def _hash(data) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def _git(*args: str) -> str | None:
    try:
        return subprocess.run(["git", *args], cwd=workspace_root(), capture_output=True, text=True,
                              timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def _lock_hash(stage: str) -> str | None:
    """Hash of the stage's deps and params as recorded in dvc.lock when the run started (None if absent)."""
    import yaml

    lock = workspace_root() / "dvc.lock"
    if not lock.is_file():
        return None
    entry = (yaml.safe_load(lock.read_text()) or {}).get("stages", {}).get(stage)
    if not entry:
        return None
    return _hash({k: entry.get(k) for k in ("deps", "params")})


def run_tags(stage: str, params: Mapping[str, str]) -> dict[str, str]:
    tags = {"obscura.stage": stage, "params.hash": _hash(params)}
    commit = _git("rev-parse", "HEAD")
    if commit:
        tags["mlflow.source.git.commit"] = commit
        tags["git.commit"] = commit
        tags["git.dirty"] = str(bool(_git("status", "--porcelain", "--untracked-files=no")))
    lock = _lock_hash(stage)
    if lock:
        tags["dvc.lock.hash"] = lock
    for var, tag in (("DVC_EXP_NAME", "dvc.exp_name"), ("DVC_STAGE", "dvc.stage")):
        if os.environ.get(var):
            tags[tag] = os.environ[var]
    return tags


def run_name(stage: str, method: str | None = None, dataset: str | None = None) -> str:
    """``<stage>/<method>/<dataset-or-scene>`` (``train_generative@vae`` → ``train_generative/vae/…``)."""
    return "/".join(p for p in (stage.split("@")[0], method, dataset) if p)


def model_name(track: str, method: str, scene: str | None = None) -> str:
    """The registered-model name of ``method`` (per scene for reconstruction)."""
    if track not in TRACKS:
        raise ValueError(f"unknown track {track!r}; tracks: {', '.join(TRACKS)}")
    return "-".join(p for p in ("obscura", track, method, scene) if p)


def checkpoint_digest(*paths: str | os.PathLike) -> str:
    """SHA-256 over the files (directories: every file below, by relative path) — links a registered
    version to the checkpoint an evaluation stage reads."""
    digest = hashlib.sha256()
    for path in map(Path, paths):
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for f in files:
            digest.update(f.relative_to(path if path.is_dir() else path.parent).as_posix().encode() + b"\0")
            digest.update(f.read_bytes())
    return digest.hexdigest()


def _client():
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri(), registry_uri=tracking_uri())


class Tracker:
    """Thin handle on the active MLflow run, used by stages (library code takes callbacks instead)."""

    def __init__(self, run_id: str, stage: str, experiment: str, experiment_id: str, dataset: str | None):
        self.run_id, self.stage, self.experiment = run_id, stage, experiment
        self.experiment_id, self.dataset = experiment_id, dataset
        self.after_success: list[Callable[[], None]] = []

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        import mlflow

        clean = {k: float(v) for k, v in metrics.items()
                 if isinstance(v, (int, float, np.floating, np.integer)) and np.isfinite(v)}
        if clean:
            mlflow.log_metrics(clean, step=step, run_id=self.run_id)

    def log_image(self, image: np.ndarray | str | os.PathLike, name: str) -> None:
        import mlflow

        if isinstance(image, (str, os.PathLike)):
            mlflow.log_artifact(str(image), artifact_path=str(Path(name).parent) if "/" in name else None,
                                run_id=self.run_id)
        else:
            from obscura.io import to_uint8

            _client().log_image(self.run_id, to_uint8(image), artifact_file=name)

    def log_artifact(self, path: str | os.PathLike, artifact_path: str | None = None) -> None:
        import mlflow

        path = Path(path)
        if path.is_dir():
            mlflow.log_artifacts(str(path), artifact_path=artifact_path or path.name, run_id=self.run_id)
        else:
            mlflow.log_artifact(str(path), artifact_path=artifact_path, run_id=self.run_id)

    @contextmanager
    def child(self, method: str) -> Iterator[Tracker]:
        """A nested run ``<stage>/<method>/<dataset>`` in the same experiment, e.g. one per evaluated
        method so each carries the track's flat metric keys."""
        import mlflow

        tags = {"obscura.stage": self.stage, "obscura.track": self.experiment, "obscura.method": method}
        if self.dataset:
            tags["obscura.dataset"] = self.dataset
        with mlflow.start_run(experiment_id=self.experiment_id, run_name=run_name(self.stage, method, self.dataset),
                              nested=True, tags=tags) as run:
            yield Tracker(run.info.run_id, self.stage, self.experiment, self.experiment_id, self.dataset)

    def register_model(self, name: str, *paths: str | os.PathLike) -> str:
        """Log ``paths`` (checkpoint files/directories) as artifact ``model`` of this run and register them
        as a new version of ``name``; returns the version."""
        from mlflow.exceptions import MlflowException

        if self.experiment not in TRACKS:
            raise ValueError(f"models are registered from track runs ({', '.join(TRACKS)}), not {self.experiment!r}")
        for path in map(Path, paths):
            self.log_artifact(path, artifact_path="model")
        client = _client()
        try:
            client.create_registered_model(name, tags={"obscura.track": self.experiment})
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
            client.set_registered_model_tag(name, "obscura.track", self.experiment)
        source = f"{client.get_run(self.run_id).info.artifact_uri}/model"
        version = client.create_model_version(
            name, source=source, run_id=self.run_id,
            tags={"obscura.track": self.experiment, "obscura.stage": self.stage,
                  "checkpoint.sha256": checkpoint_digest(*paths)}).version
        client.set_tag(self.run_id, f"registered.{name}", str(version))
        return str(version)

    def score_model(self, name: str, metrics: Mapping[str, float], *, version: str | None = None,
                    checkpoint: tuple[str | os.PathLike, ...] = ()) -> None:
        """Once this run has finished successfully, record the track's headline metric on a version of
        ``name`` (given, or the one registered from ``checkpoint``) and re-elect the champion."""
        headline = TRACKS[self.experiment]
        value = metrics.get(headline.metric)
        if value is None or not math.isfinite(float(value)):
            return
        digest = checkpoint_digest(*checkpoint) if checkpoint else None

        def record() -> None:
            client = _client()
            target = version
            if target is None:
                matches = [v for v in client.search_model_versions(f"name='{name}'")
                           if v.tags.get("checkpoint.sha256") == digest]
                if not matches:
                    print(f"warning: no registered version of {name} holds {', '.join(map(str, checkpoint))}; "
                          f"its {headline.metric} is not recorded in the registry", file=sys.stderr)
                    return
                target = str(max(int(v.version) for v in matches))
            client.set_model_version_tag(name, target, headline.metric, repr(float(value)))
            client.set_model_version_tag(name, target, "score.run_id", self.run_id)
            elect_champion(name, headline, client)

        self.after_success.append(record)


def elect_champion(name: str, headline: Headline, client=None) -> str | None:
    """Point the alias ``champion`` of ``name`` at its best scored version whose training run finished
    (ties: the newest); returns that version, or None when no version qualifies."""
    client = client or _client()

    def best() -> str | None:
        candidates = []
        for v in client.search_model_versions(f"name='{name}'"):
            score = v.tags.get(headline.metric)
            if score is None or not v.run_id or client.get_run(v.run_id).info.status != "FINISHED":
                continue
            candidates.append((headline.rank(float(score)), -int(v.version)))
        return str(-min(candidates)[1]) if candidates else None

    chosen = best()
    for _ in range(10):  # another run scoring concurrently may have read an older list: elect until stable
        if chosen is None:
            return None
        client.set_registered_model_alias(name, CHAMPION, chosen)
        again = best()
        if again == chosen:
            break
        chosen = again
    return chosen


def ensure_experiment(name: str) -> str:
    from mlflow.tracking import MlflowClient

    uri = tracking_uri()
    check_reachable(uri)
    client = MlflowClient(uri)
    exp = client.get_experiment_by_name(name)
    if exp is not None:
        return exp.experiment_id
    location = None if urlparse(uri).scheme in ("http", "https") else artifact_location()
    try:
        return client.create_experiment(name, artifact_location=location)
    except Exception:  # created concurrently by another stage
        exp = client.get_experiment_by_name(name)
        if exp is None:
            raise
        return exp.experiment_id


@contextmanager
def stage_run(stage: str, params: Mapping | None = None, *, experiment: str, seed: int | None = None,
              method: str | None = None, dataset: str | None = None,
              tags: Mapping[str, str] | None = None) -> Iterator[Tracker]:
    """Open the MLflow run of one stage execution in ``experiment`` (a track, or the pipeline's own).

    ``params`` maps params.yaml keys to values or sections (``{"generative.vae": section}``); they are
    logged flat under their full dotted names, with ``seed``. Actions queued with
    :meth:`Tracker.score_model` run only after the run finished without an exception.
    """
    import logging

    import mlflow

    logging.getLogger("alembic").setLevel(logging.WARNING)
    experiment_id = ensure_experiment(experiment)
    mlflow.set_tracking_uri(tracking_uri())
    logged = {**flatten(params or {}), **({"seed": str(seed)} if seed is not None else {})}
    names = {"obscura.track": experiment} if experiment in TRACKS else {}
    names.update({k: v for k, v in (("obscura.method", method), ("obscura.dataset", dataset)) if v})
    with mlflow.start_run(experiment_id=experiment_id, run_name=run_name(stage, method, dataset),
                          tags={**run_tags(stage, logged), **names, **(tags or {})}) as run:
        tracker = Tracker(run.info.run_id, stage, experiment, experiment_id, dataset)
        if logged:
            mlflow.log_params(logged)
        yield tracker
    for action in tracker.after_success:
        action()


@contextmanager
def registered_model_files(uri: str) -> Iterator[Path]:
    """The files of a registered version (``models:/<name>@<alias>`` or ``models:/<name>/<version>``),
    downloaded to a temporary directory that is removed afterwards."""
    import mlflow.artifacts
    from mlflow.exceptions import MlflowException

    store = tracking_uri()
    check_reachable(store)
    with tempfile.TemporaryDirectory(prefix="obscura-model-") as tmp:
        try:
            path = mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=tmp, tracking_uri=store,
                                                       registry_uri=store)
        except MlflowException as exc:
            raise ObscuraError(f"{uri}: not in the model registry at {_shown(store)} "
                               f"({str(exc).splitlines()[0][:200]}); `obscura models list` shows what is "
                               "registered.") from None
        yield Path(path)


def list_models(client=None) -> list[dict[str, str]]:
    """Every version of every ``obscura-*`` registered model: name, version, alias, headline metric."""
    client = client or _client()
    rows = []
    for model in client.search_registered_models("name LIKE 'obscura-%'"):
        headline = TRACKS.get(model.tags.get("obscura.track", ""))
        aliases = {}
        for alias, version in (model.aliases or {}).items():   # versions carry no aliases in search results
            aliases.setdefault(str(version), []).append(alias)
        for v in client.search_model_versions(f"name='{model.name}'"):
            score = v.tags.get(headline.metric) if headline else None
            rows.append({"name": model.name, "version": str(v.version),
                         "alias": ",".join(aliases.get(str(v.version), [])),
                         "metric": f"{headline.metric}={float(score):.4g}" if score is not None else "-"})
    return sorted(rows, key=lambda r: (r["name"], int(r["version"])))
