"""Shared ``main()`` for stage modules: load params, run, turn user errors into one message."""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable
from pathlib import Path

from obscura.config import Params, load_params
from obscura.errors import ObscuraError


def main(run: Callable[..., object], argv: list[str] | None = None) -> int:
    """Call ``run(params, *argv)``; an ObscuraError prints ``error: …`` and exits with status 2."""
    args = sys.argv[1:] if argv is None else argv
    try:
        check_arguments(run, args)
        params: Params = load_params()
        run(params, *args)
    except ObscuraError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def check_arguments(run: Callable[..., object], args: list[str]) -> None:
    """Refuse a wrong number of stage arguments with a usage line instead of a TypeError."""
    wanted = [p for p in inspect.signature(run).parameters.values()
              if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)][1:]
    required = [p.name for p in wanted if p.default is inspect.Parameter.empty]
    if not len(required) <= len(args) <= len(wanted):
        usage = " ".join([*(n.upper() for n in required), *(f"[{p.name.upper()}]" for p in wanted[len(required):])])
        stage = Path(inspect.getfile(run)).stem
        raise ObscuraError(f"stage {stage} takes {usage or 'no arguments'}, got {args or 'none'} "
                           "(see its dvc.yaml entry for the names it accepts).")
