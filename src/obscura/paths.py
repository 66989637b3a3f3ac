"""Where the project lives: the workspace a stage runs in and the main repository it belongs to."""

from __future__ import annotations

import os
from pathlib import Path

from obscura.errors import ObscuraError


def workspace_root(start: str | os.PathLike | None = None) -> Path:
    """The directory holding params.yaml/dvc.yaml for this run (``OBSCURA_ROOT`` overrides).

    Searched from ``start`` (default: the current directory) upwards; without ``start``, a command run
    outside any project falls back to the checkout this package is installed from (``pip install -e``),
    and only then to the current directory. Inside ``dvc exp run --temp``/``--queue`` this is DVC's
    temporary copy, so the experiment's own params are read.
    """
    if os.environ.get("OBSCURA_ROOT") and start is None:
        return Path(os.environ["OBSCURA_ROOT"]).resolve()
    here = Path(start or os.getcwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "dvc.yaml").is_file() or (candidate / "params.yaml").is_file():
            return candidate
    checkout = Path(__file__).resolve().parents[2]
    return checkout if start is None and (checkout / "dvc.yaml").is_file() else here


def project_root(purpose: str = "this command") -> Path:
    """The workspace when it is an Obscura project (holds dvc.yaml); otherwise one clear ObscuraError."""
    root = workspace_root()
    if not (root / "dvc.yaml").is_file():
        raise ObscuraError(f"{purpose} needs an Obscura project, but there is no dvc.yaml in {root} or its "
                           "parents; cd into the project (the folder with dvc.yaml and params.yaml) or set "
                           "OBSCURA_ROOT to it.")
    return root


def main_root(start: str | os.PathLike | None = None) -> Path:
    """The user's repository, even when running inside a DVC temporary experiment directory.

    DVC runs queued/temp experiments under ``<repo>/.dvc/tmp/exps/...``; results that must
    outlive that copy (the MLflow store) belong to ``<repo>``.
    """
    root = workspace_root(start)
    for candidate in (root, *root.parents):
        if candidate.name == ".dvc":
            return candidate.parent
    return root
