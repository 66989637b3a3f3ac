"""Shared fixtures: the repo's params, tiny prepare settings, isolated MLflow stores and mini DVC repos."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent

# Subprocesses (dvc running `python -m stages…`) must find this interpreter first.
os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
os.environ.setdefault("DVC_NO_ANALYTICS", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
# Prefect state of the tests stays out of the user's PREFECT_HOME.
os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="obscura-tests-prefect-")
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")


@pytest.fixture
def raw_params() -> dict:
    """params.yaml of the repository as a plain mapping (tests modify a copy)."""
    return yaml.safe_load((REPO / "params.yaml").read_text())


@pytest.fixture
def tiny_prepare(raw_params, tmp_path) -> dict:
    """Params with a tiny Fashion-MNIST subset and outputs inside tmp_path."""
    raw_params["prepare"].update(train_limit=64, test_limit=32, faces=10, photo_size=32, train_photo_side=48,
                                 output=str(tmp_path / "prepared"), metrics=str(tmp_path / "prepare.json"),
                                 sources=str(tmp_path / "photo_sources.json"))
    return raw_params


@pytest.fixture
def mlflow_store(tmp_path, monkeypatch) -> str:
    """An isolated sqlite MLflow store; returns its URI."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return uri


def git(cwd: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "obscura-tests", "GIT_AUTHOR_EMAIL": "tests@obscura.invalid",
           "GIT_COMMITTER_NAME": "obscura-tests", "GIT_COMMITTER_EMAIL": "tests@obscura.invalid"}
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


def dvc(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dvc", *args], cwd=cwd, capture_output=True, text=True)


def make_mini_repo(root: Path, raw_params: dict, stage_names: list[str]) -> Path:
    """A git + DVC repository holding only ``stage_names`` of our dvc.yaml, with the given params."""
    root.mkdir(parents=True, exist_ok=True)
    full = yaml.safe_load((REPO / "dvc.yaml").read_text())
    (root / "dvc.yaml").write_text(yaml.safe_dump({"stages": {k: full["stages"][k] for k in stage_names}}))
    (root / "params.yaml").write_text(yaml.safe_dump(raw_params))
    shutil.copytree(REPO / "stages", root / "stages", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "src", root / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    (root / ".gitignore").write_text("mlflow.db\nmlartifacts/\n.prefect/\n__pycache__/\n")
    git(root, "init", "-q", "-b", "main")
    assert dvc(root, "init", "-q").returncode == 0
    dvc(root, "config", "core.analytics", "false")
    (root / ".dvcignore").write_text("__pycache__/\n*.pyc\n")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "mini repo")
    return root


@pytest.fixture
def mini_repo(tmp_path, raw_params, monkeypatch):
    """A mini repo with only the prepare stage on a tiny subset; MLflow default store inside it."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("OBSCURA_ROOT", raising=False)
    raw_params["prepare"].update(train_limit=64, test_limit=32, faces=10, photo_size=32, train_photo_side=48)
    return make_mini_repo(tmp_path / "repo", raw_params, ["prepare"])


@pytest.fixture
def one_torch_thread():
    """Tiny models run far faster on one torch thread, and much faster still when the cores are shared
    (or when numba's threads run beside torch's)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def alive(pid: int) -> bool:
    """Whether process ``pid`` is running (a zombie has exited)."""
    try:
        return "\nState:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
