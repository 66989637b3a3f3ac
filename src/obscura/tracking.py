"""MLflow tracking: one run per stage execution, with params, metrics, images, artifacts and tags.

The default store is an absolute ``sqlite:///<repo>/mlflow.db`` with artifacts in
``<repo>/mlartifacts``; ``<repo>`` is the user's repository even inside a
``dvc exp run --temp/--queue`` copy, so those runs are not lost. ``MLFLOW_TRACKING_URI`` overrides.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from obscura.paths import main_root, workspace_root


def tracking_uri() -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{main_root() / 'mlflow.db'}"


def artifact_location() -> str:
    return (main_root() / "mlartifacts").as_uri()


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


def _git(*args: str) -> str | None:
    try:
        return subprocess.run(["git", *args], cwd=workspace_root(), capture_output=True, text=True,
                              timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def _lock_deps_hash(stage: str) -> str | None:
    """Hash of the stage's deps as recorded in dvc.lock when the run started (None if absent)."""
    import yaml

    lock = workspace_root() / "dvc.lock"
    if not lock.is_file():
        return None
    entry = (yaml.safe_load(lock.read_text()) or {}).get("stages", {}).get(stage)
    if not entry or "deps" not in entry:
        return None
    return hashlib.sha256(json.dumps(entry["deps"], sort_keys=True).encode()).hexdigest()[:16]


def run_tags(stage: str) -> dict[str, str]:
    tags = {"obscura.stage": stage}
    commit = _git("rev-parse", "HEAD")
    if commit:
        tags["mlflow.source.git.commit"] = commit
        tags["git.commit"] = commit
        tags["git.dirty"] = str(bool(_git("status", "--porcelain", "--untracked-files=no")))
    deps = _lock_deps_hash(stage)
    if deps:
        tags["dvc.lock_deps_at_start"] = deps
    for var, tag in (("DVC_EXP_NAME", "dvc.exp_name"), ("DVC_STAGE", "dvc.stage")):
        if os.environ.get(var):
            tags[tag] = os.environ[var]
    return tags


class Tracker:
    """Thin handle on the active MLflow run, used by stages (library code takes callbacks instead)."""

    def __init__(self, run_id: str):
        self.run_id = run_id

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        import mlflow

        clean = {k: float(v) for k, v in metrics.items()
                 if isinstance(v, (int, float, np.floating, np.integer)) and np.isfinite(v)}
        if clean:
            mlflow.log_metrics(clean, step=step)

    def log_params(self, params) -> None:
        import mlflow

        mlflow.log_params(flatten(params))

    def log_image(self, image: np.ndarray | str | os.PathLike, name: str) -> None:
        import mlflow

        if isinstance(image, (str, os.PathLike)):
            mlflow.log_artifact(str(image), artifact_path=str(Path(name).parent) if "/" in name else None)
        else:
            from obscura.io import to_uint8

            mlflow.log_image(to_uint8(image), artifact_file=name)

    def log_artifact(self, path: str | os.PathLike, artifact_path: str | None = None) -> None:
        import mlflow

        path = Path(path)
        if path.is_dir():
            mlflow.log_artifacts(str(path), artifact_path=artifact_path or path.name)
        else:
            mlflow.log_artifact(str(path), artifact_path=artifact_path)

    def log_torch_model(self, model, name: str, registered_model_name: str | None = None, **kwargs) -> None:
        """Log a torch module as an MLflow model, optionally registering it (``kwargs`` go to MLflow,
        e.g. ``serialization_format="pickle"`` for modules without a traceable ``forward``)."""
        import mlflow.pytorch

        mlflow.pytorch.log_model(model, name=name, registered_model_name=registered_model_name, **kwargs)


def ensure_experiment(name: str) -> str:
    import mlflow
    from mlflow.tracking import MlflowClient

    mlflow.set_tracking_uri(tracking_uri())
    client = MlflowClient()
    exp = client.get_experiment_by_name(name)
    if exp is not None:
        return exp.experiment_id
    location = artifact_location() if tracking_uri().startswith("sqlite:") else None
    try:
        return client.create_experiment(name, artifact_location=location)
    except Exception:  # created concurrently by another stage
        exp = client.get_experiment_by_name(name)
        if exp is None:
            raise
        return exp.experiment_id


@contextmanager
def stage_run(stage: str, params=None, *, experiment: str = "obscura", seed: int | None = None,
              tags: Mapping[str, str] | None = None) -> Iterator[Tracker]:
    """Open an MLflow run named after ``stage`` and log its params section and tags."""
    import logging

    import mlflow

    logging.getLogger("alembic").setLevel(logging.WARNING)
    experiment_id = ensure_experiment(experiment)
    with mlflow.start_run(experiment_id=experiment_id, run_name=stage,
                          tags={**run_tags(stage), **(tags or {})}) as run:
        tracker = Tracker(run.info.run_id)
        if params is not None:
            tracker.log_params(params)
        if seed is not None:
            mlflow.log_param("seed", seed)
        yield tracker
