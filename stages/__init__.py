"""DVC stage entry points: wiring only (read params, call obscura, write outputs, log to MLflow).

Run from the repository root as ``python -m stages.<name> [ARGS]``; each module exposes
``run(params, ...)`` which the Prefect flow and the CLI call too.
"""
