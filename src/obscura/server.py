"""The shared MLflow tracking server: ``mlflow server`` with a PostgreSQL backend store and a local
artifact root, both under one project-local directory, listening on 127.0.0.1 only.

PostgreSQL is Debian's (``/usr/lib/postgresql/<version>/bin``); its cluster is created on first use
with trust authentication for local connections. PostgreSQL refuses to run as root, so as root its
commands run as the ``postgres`` system user (which the Debian package creates).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from obscura.errors import ObscuraError

DATABASE = "mlflow"
SUPERUSER = "postgres"


def postgres_bin() -> Path:
    """The newest installed PostgreSQL server's bin directory."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parts[-3]))
    if found:
        return found[-1].parent
    on_path = shutil.which("pg_ctl")
    if on_path:
        return Path(on_path).parent
    raise ObscuraError("PostgreSQL is not installed (no pg_ctl); `make setup` installs Debian's postgresql.")


def _as_owner(cmd: list[str]) -> list[str]:
    """``cmd`` run as the ``postgres`` user when we are root (PostgreSQL's server tools refuse root)."""
    return ["runuser", "-u", SUPERUSER, "--", *cmd] if os.geteuid() == 0 else cmd


def _run(cmd: list[str], what: str, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    if check and result.returncode != 0:
        raise ObscuraError(f"{what} failed: {(result.stderr or result.stdout).strip()[-800:]}")
    return result


@dataclass(frozen=True)
class Postgres:
    """A PostgreSQL cluster in ``root`` (data/, postgres.log, its socket) serving 127.0.0.1:``port``."""

    root: Path
    port: int

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def uri(self) -> str:
        return f"postgresql+psycopg2://{SUPERUSER}@127.0.0.1:{self.port}/{DATABASE}"

    def _prepare_root(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.root, SUPERUSER, SUPERUSER)
            if subprocess.run(_as_owner(["test", "-x", str(self.root)]), capture_output=True).returncode != 0:
                raise ObscuraError(f"{self.root}: the {SUPERUSER} user that runs PostgreSQL cannot reach this folder "
                                   "(a parent folder is private, e.g. /root); pass `--dir` a folder it can reach, "
                                   "e.g. /var/tmp/obscura-mlflow.")

    def start(self, timeout: int = 60) -> bool:
        """Create the cluster if needed, start it (a running one is kept) and its ``mlflow`` database;
        returns whether this call started the cluster (``uri`` is the backend store)."""
        bin_dir = postgres_bin()
        self._prepare_root()
        if not (self.data / "PG_VERSION").is_file():
            _run(_as_owner([str(bin_dir / "initdb"), "-D", str(self.data), "-U", SUPERUSER, "-A", "trust",
                            "-E", "UTF8"]), f"initdb in {self.data}", cwd=self.root)
        pg_ctl = [str(bin_dir / "pg_ctl"), "-D", str(self.data)]
        started = _run(_as_owner([*pg_ctl, "status"]), "pg_ctl status", check=False, cwd=self.root).returncode != 0
        if started:
            try:
                _run(_as_owner([*pg_ctl, "-l", str(self.root / "postgres.log"), "-w", "-t", str(timeout),
                                "-o", f"-h 127.0.0.1 -p {self.port} -k {self.root}", "start"]),
                     f"starting PostgreSQL on 127.0.0.1:{self.port}", cwd=self.root)
            except ObscuraError as exc:
                log = self.root / "postgres.log"
                tail = log.read_text().strip().splitlines()[-3:] if log.is_file() else []
                raise ObscuraError(f"{exc} {' '.join(tail)}") from None
        connect = ["-h", "127.0.0.1", "-p", str(self.port), "-U", SUPERUSER]
        exists = _run([str(bin_dir / "psql"), *connect, "-d", "postgres", "-tAc",
                       f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'"], "looking up the database")
        if exists.stdout.strip() != "1":
            _run([str(bin_dir / "createdb"), *connect, DATABASE], f"creating database {DATABASE}")
        return started

    def stop(self) -> None:
        if (self.data / "postmaster.pid").is_file():
            _run(_as_owner([str(postgres_bin() / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"]),
                 "stopping PostgreSQL", cwd=self.root)


def mlflow_server_command(backend_uri: str, artifacts: Path, port: int) -> list[str]:
    """``mlflow server`` on 127.0.0.1:``port``, proxying artifact uploads into the local ``artifacts``."""
    return [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", backend_uri,
            "--artifacts-destination", str(artifacts), "--host", "127.0.0.1", "--port", str(port),
            "--workers", "1"]


def wait_until_up(url: str, process: subprocess.Popen | None = None, timeout: float = 120.0) -> None:
    """Poll ``url``/health until the server answers (or its process exits, or ``timeout`` passes)."""
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise ObscuraError(f"mlflow server exited with status {process.returncode} before answering on {url}.")
        try:
            if requests.get(f"{url}/health", timeout=2).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise ObscuraError(f"mlflow server did not answer on {url} within {timeout:.0f} s.")


def serve(directory: Path, port: int, db_port: int) -> int:
    """Run PostgreSQL and the MLflow server until Ctrl-C or SIGTERM; then stop both (the server's whole
    process group, PostgreSQL with a fast shutdown)."""
    directory = directory.resolve()
    db = Postgres(directory / "postgres", db_port)
    started = db.start()
    backend = db.uri
    artifacts = directory / "artifacts"
    artifacts.mkdir(parents=True, exist_ok=True)
    url = f"http://127.0.0.1:{port}"
    print(f"MLflow tracking server on {url} (backend store {backend}, artifacts {artifacts}).\n"
          f"Point stages and the CLI at it with:  export MLFLOW_TRACKING_URI={url}", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, signal.default_int_handler)    # Ctrl-C stops it even if started with SIGINT
                                                                # ignored (a shell's background job)
    # MLflow's server-side job runner (GenAI scorers; Obscura has none) is left off: fewer processes to stop
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    process = subprocess.Popen(mlflow_server_command(backend, artifacts, port), start_new_session=True, env=env)
    try:
        wait_until_up(url, process)
        print("ready", flush=True)
        return process.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(process.pid, sig)
                process.wait(timeout=15)
                break
            except ProcessLookupError:
                break
            except subprocess.TimeoutExpired:
                continue
        if started:  # a cluster another server started keeps running
            db.stop()
