"""Where the project lives: the workspace a stage runs in and the main repository it belongs to."""

from __future__ import annotations

import os
from pathlib import Path


def workspace_root(start: str | os.PathLike | None = None) -> Path:
    """The directory holding params.yaml/dvc.yaml for this run (``OBSCURA_ROOT`` overrides).

    Inside ``dvc exp run --temp``/``--queue`` this is DVC's temporary copy, so the experiment's
    own params are read.
    """
    if os.environ.get("OBSCURA_ROOT") and start is None:
        return Path(os.environ["OBSCURA_ROOT"]).resolve()
    here = Path(start or os.getcwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "dvc.yaml").is_file() or (candidate / "params.yaml").is_file():
            return candidate
    return here


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
