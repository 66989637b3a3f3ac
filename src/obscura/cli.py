"""The ``obscura`` command line. Heavy libraries are imported inside commands so --help stays fast."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

from obscura.errors import ObscuraError

app = typer.Typer(help="Obscura: generative models, inpainting and neural rendering on CPU.",
                  no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)
params_app = typer.Typer(help="Inspect and validate params.yaml.", no_args_is_help=True)
app.add_typer(params_app, name="params")

from obscura.commands import scene as _scene  # noqa: E402  (typer apps only; heavy imports inside commands)

app.add_typer(_scene.app, name="scene")
app.command("sfm")(_scene.sfm)

from obscura.commands import inpaint as _inpaint  # noqa: E402

app.command("inpaint")(_inpaint.inpaint)
app.command("outpaint")(_inpaint.outpaint)

from obscura.commands import generative as _generative  # noqa: E402

app.add_typer(_generative.app, name="generative")


@params_app.command("check")
def params_check(path: Annotated[Path | None, typer.Argument(help="params file (default: ./params.yaml)")] = None):
    """Validate params.yaml; print one message per wrong key and exit 2 if any."""
    from obscura.config import load_params, params_path

    load_params(path)
    typer.echo(f"{params_path(path)}: ok")


@params_app.command("show")
def params_show(section: Annotated[str | None, typer.Argument(help="one section, e.g. prepare")] = None):
    """Print the validated params (all, or one section) as YAML."""
    import yaml

    from obscura.config import load_params

    data = load_params().model_dump(mode="json")
    if section is not None:
        if section not in data:
            raise ObscuraError(f"no params section {section!r}; sections: {', '.join(data)}.")
        data = {section: data[section]}
    typer.echo(yaml.safe_dump(data, sort_keys=False).rstrip())


@app.command()
def stage(name: Annotated[str, typer.Argument(help="stage module in stages/, e.g. prepare")],
          args: Annotated[list[str] | None, typer.Argument(help="arguments for the stage, e.g. a model name")] = None):
    """Run one stage directly (without DVC's caching): the same function dvc repro calls."""
    import importlib

    from obscura.config import load_params
    from obscura.paths import workspace_root

    root = str(workspace_root())
    if root not in sys.path:
        sys.path.insert(0, root)
    try:
        module = importlib.import_module(f"stages.{name}")
    except ModuleNotFoundError as exc:
        if exc.name not in ("stages", f"stages.{name}"):
            raise
        available = sorted(p.stem for p in Path(root, "stages").glob("[!_]*.py"))
        raise ObscuraError(f"no stage {name!r}; stages: {', '.join(available)}.") from exc
    from stages._entry import check_arguments

    check_arguments(module.run, args or [])
    module.run(load_params(), *(args or []))


@app.command()
def repro(targets: Annotated[list[str] | None, typer.Argument(help="stages to bring up to date (default: all)")] = None,
          force: Annotated[bool, typer.Option("--force", "-f", help="rerun even if up to date")] = False):
    """Bring the pipeline up to date with DVC (``dvc repro``), reusing its cache."""
    cmd = [sys.executable, "-m", "dvc", "repro", *(["--force"] if force else []), *(targets or [])]
    raise typer.Exit(subprocess.call(cmd))


@app.command()
def ui(port: Annotated[int, typer.Option(help="port on 127.0.0.1")] = 5000):
    """Open the MLflow dashboard on http://127.0.0.1:PORT for this repository's runs."""
    from obscura.tracking import artifact_location, tracking_uri

    cmd = [sys.executable, "-m", "mlflow", "ui", "--host", "127.0.0.1", "--port", str(port),
           "--backend-store-uri", tracking_uri(), "--default-artifact-root", artifact_location()]
    raise typer.Exit(subprocess.call(cmd))


@app.command()
def info():
    """Show where this project reads params and writes runs."""
    from obscura.config import params_path
    from obscura.paths import main_root, workspace_root
    from obscura.tracking import artifact_location, tracking_uri

    for key, value in (("workspace", workspace_root()), ("repository", main_root()), ("params", params_path()),
                       ("mlflow tracking uri", tracking_uri()), ("mlflow artifacts", artifact_location()),
                       ("prefect home", os.environ.get("PREFECT_HOME", "(unset)"))):
        typer.echo(f"{key:20s} {value}")


def main() -> None:
    """Entry point: user errors print one line on stderr and exit with status 2."""
    try:
        app()
    except ObscuraError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
