"""Sharing results between machines: `make push` on one clone, `make pull` on a fresh one, then
`dvc repro` has nothing to do (no stage runs, no MLflow run)."""

import shutil
import subprocess

import pytest

from conftest import REPO, dvc, git

pytestmark = pytest.mark.slow


def make(repo, target):
    """The repository's Makefile target, run in ``repo`` with this interpreter's environment."""
    bin_dir = REPO / ".venv" / "bin"
    return subprocess.run(["make", "-f", str(REPO / "Makefile"), "-C", str(repo), target, f"BIN={bin_dir}"],
                          capture_output=True, text=True)


def test_pull_on_a_clean_clone_then_repro_is_a_noop(mini_repo):
    # the repository's DVC config as is: its default remote is a directory beside the checkout
    shutil.copy(REPO / ".dvc" / "config", mini_repo / ".dvc" / "config")
    name = dvc(mini_repo, "remote", "default").stdout.strip()
    url = dvc(mini_repo, "config", f"remote.{name}.url").stdout.strip()   # as written: relative to .dvc/
    remote = (mini_repo / ".dvc" / url).resolve()          # (`dvc remote list` wraps long paths in a table)
    assert remote.parent == mini_repo.parent, "the default remote must resolve beside the checkout"
    assert dvc(mini_repo, "repro").returncode == 0
    git(mini_repo, "add", "-A")
    git(mini_repo, "commit", "-qm", "pipeline results")

    pushed = make(mini_repo, "push")
    assert pushed.returncode == 0, pushed.stdout + pushed.stderr
    assert any(p.is_file() for p in remote.rglob("*"))

    clone = mini_repo.parent / "clone"
    git(mini_repo.parent, "clone", "-q", str(mini_repo), str(clone))
    assert not (clone / "data" / "prepared").exists()
    pulled = make(clone, "pull")
    assert pulled.returncode == 0, pulled.stdout + pulled.stderr
    assert (clone / "data" / "prepared" / "fashion_mnist_train.npz").is_file()

    repro = dvc(clone, "repro")
    assert repro.returncode == 0, repro.stderr
    assert "Running stage" not in repro.stdout and "didn't change, skipping" in repro.stdout
    assert "up to date" in dvc(clone, "status").stdout
    assert not (clone / "mlflow.db").exists(), "no stage ran, so no MLflow run was opened"
