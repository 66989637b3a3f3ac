"""The ``obscura`` command line. Heavy libraries are imported inside commands so --help stays fast."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer
from typer.core import TyperArgument, TyperGroup, TyperOption

from obscura.errors import ObscuraError


class _Obscura(TyperGroup):
    """The root command: a user error (ours, or a usage error) prints one line and exits with status 2."""

    def main(self, *args, **kwargs):
        try:
            code = super().main(*args, **{**kwargs, "standalone_mode": False})
        except ObscuraError as exc:
            message, code = str(exc), 2
        except typer.TyperException as exc:      # click's errors: usage errors exit with 2
            if type(exc).__name__ == "NoArgsIsHelpError":
                sys.exit(exc.exit_code)            # the help is already printed
            ctx = getattr(exc, "ctx", None)
            message, code = exc.format_message(), exc.exit_code
            if ctx is not None:
                message += f"{'' if message.endswith(('.', '?')) else '.'} See '{ctx.command_path} --help'."
        else:
            sys.exit(code if isinstance(code, int) else 0)
        typer.echo(f"error: {message}", err=True)
        sys.exit(code)


def _plain_help() -> None:
    """Help in the usual style: ``IMAGE``/``[SCENE_DIR]`` and ``--out PATH``, flags without a type.

    typer 0.29 shows required arguments as ``{image}`` and ``<bool>`` after every flag, ``--help`` included.
    """
    names = {"str": "TEXT", "int": "INTEGER", "float": "FLOAT", "path": "PATH"}

    def usage(self, ctx):
        name = self.name.upper() if self.required else f"[{self.name.upper()}]"
        return [name + ("..." if self.nargs != 1 else "")]

    def option_type(self, ctx):
        if self.is_flag or self.metavar is not None:
            return self.metavar
        kind = self.display_type(ctx).strip("<>").removesuffix(" range")
        return names.get(kind, kind)

    TyperArgument.display_name_raw = property(lambda self: self.metavar or self.name.upper())
    TyperArgument.get_usage_pieces = usage
    TyperArgument.display_type_rich = lambda self, ctx: None
    TyperOption.display_type_rich = option_type


_plain_help()
app = typer.Typer(help="Obscura: generative models, inpainting and neural rendering on CPU.", cls=_Obscura,
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

from obscura.commands import splat as _splat  # noqa: E402

app.add_typer(_splat.app, name="splat")

from obscura.commands import nerf as _nerf  # noqa: E402

app.add_typer(_nerf.app, name="nerf")

from obscura.commands import models as _models  # noqa: E402

app.add_typer(_models.app, name="models")
app.command("server")(_models.server)


@params_app.command("check")
def params_check(path: Annotated[Path | None, typer.Argument(help="params file (default: the project's "
                                                                 "params.yaml)")] = None):
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
    """Run one stage as dvc repro does (python -m stages.NAME in the project root), without DVC's caching."""
    from obscura.paths import project_root

    root = project_root("obscura stage")
    available = sorted(p.stem for p in (root / "stages").glob("[!_]*.py"))
    if name not in available:
        raise ObscuraError(f"no stage {name!r} in {root / 'stages'}; stages: {', '.join(available)}.")
    raise typer.Exit(subprocess.call([sys.executable, "-m", f"stages.{name}", *(args or [])], cwd=root))


@app.command()
def repro(targets: Annotated[list[str] | None, typer.Argument(help="stages to bring up to date (default: all)")] = None,
          force: Annotated[bool, typer.Option("--force", "-f", help="rerun even if up to date")] = False):
    """Bring the pipeline up to date with DVC (dvc repro in the project root), reusing its cache."""
    from obscura.paths import project_root

    cmd = [sys.executable, "-m", "dvc", "repro", *(["--force"] if force else []), *(targets or [])]
    raise typer.Exit(subprocess.call(cmd, cwd=project_root("obscura repro")))


@app.command()
def exp(profile: Annotated[str, typer.Argument(help="a preset in profiles/, e.g. quality")],
        dry_run: Annotated[bool, typer.Option("--dry-run", help="print the dvc command, do not run it")] = False):
    """Run a params profile (profiles/PROFILE.yaml) as a DVC experiment: dvc exp run -S key=value … its stages."""
    from obscura.paths import project_root
    from obscura.profiles import load_profile

    root = project_root("obscura exp")
    cmd = load_profile(root, profile).dvc_command()
    typer.echo(" ".join(cmd))
    if not dry_run:
        raise typer.Exit(subprocess.call([sys.executable, "-m", *cmd], cwd=root))


@app.command()
def ui(port: Annotated[int, typer.Option(min=1, max=65535, help="port on 127.0.0.1")] = 5000):
    """Open the MLflow dashboard on http://127.0.0.1:PORT for this project's runs."""
    from obscura.paths import project_root
    from obscura.tracking import artifact_location, tracking_uri

    project_root("obscura ui")
    if tracking_uri().startswith(("http://", "https://")):
        typer.echo(f"MLFLOW_TRACKING_URI is the tracking server {tracking_uri()}; open it, it serves the dashboard.")
        return
    cmd = [sys.executable, "-m", "mlflow", "ui", "--host", "127.0.0.1", "--port", str(port),
           "--backend-store-uri", tracking_uri(), "--default-artifact-root", artifact_location()]
    raise typer.Exit(subprocess.call(cmd))


@app.command()
def info():
    """Show the project this command works on: where it reads params and where runs are stored."""
    from obscura.config import params_path
    from obscura.paths import main_root, project_root
    from obscura.tracking import artifact_location, tracking_uri

    root = project_root("obscura info")
    for key, value in (("workspace", root), ("repository", main_root()), ("params", params_path()),
                       ("mlflow tracking uri", tracking_uri()), ("mlflow artifacts", artifact_location()),
                       ("prefect home", os.environ.get("PREFECT_HOME", main_root() / ".prefect"))):
        typer.echo(f"{key:20s} {value}")


def main() -> None:
    """Entry point of the ``obscura`` script (errors: see ``_Obscura.main``)."""
    app()
