"""``obscura models list`` (the model registry) and ``obscura server`` (the shared tracking server).

Mount in cli.py with ``app.add_typer(models.app, name="models")`` and ``app.command("server")(models.server)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Trained models in the MLflow model registry.", no_args_is_help=True)


@app.command("list")
def list_models():
    """Every registered version: name, version, alias (champion = best by the track's headline metric),
    and that metric."""
    from obscura.tracking import check_reachable, list_models as registered

    check_reachable()
    rows = registered()
    if not rows:
        typer.echo("no registered models yet: training stages register them (e.g. `obscura repro "
                   "train_generative@vae`).")
        return
    columns = ("name", "version", "alias", "metric")
    widths = {c: max(len(c), *(len(r[c]) for r in rows)) for c in columns}
    for row in [dict(zip(columns, columns)), *rows]:
        typer.echo("  ".join(row[c].ljust(widths[c]) for c in columns).rstrip())


def server(port: Annotated[int, typer.Option(min=1, max=65535, help="MLflow server port on 127.0.0.1")] = 5001,
           db_port: Annotated[int, typer.Option(min=1, max=65535, help="PostgreSQL port on 127.0.0.1")] = 5433,
           directory: Annotated[Path | None, typer.Option("--dir", help="PostgreSQL data and artifacts "
                                                                        "(default: <project>/.mlflow-server)")] = None):
    """Run the MLflow tracking server with a PostgreSQL backend store until Ctrl-C; point stages at it with
    MLFLOW_TRACKING_URI=http://127.0.0.1:PORT."""
    from obscura.paths import main_root, project_root
    from obscura.server import serve

    if directory is None:
        project_root("obscura server without --dir")
        directory = main_root() / ".mlflow-server"
    raise typer.Exit(serve(directory, port, db_port))
