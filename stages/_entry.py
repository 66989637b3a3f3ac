"""Shared ``main()`` for stage modules: load params, run, turn user errors into one message."""

from __future__ import annotations

import sys
from collections.abc import Callable

from obscura.config import Params, load_params
from obscura.errors import ObscuraError


def main(run: Callable[..., object], argv: list[str] | None = None) -> int:
    """Call ``run(params, *argv)``; an ObscuraError prints ``error: …`` and exits with status 2."""
    args = sys.argv[1:] if argv is None else argv
    try:
        params: Params = load_params()
        run(params, *args)
    except ObscuraError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
