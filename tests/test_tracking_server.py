"""The shared tracking server for real: `obscura server` (what `make server` runs) starts PostgreSQL and
`mlflow server` once for this module; a stage run, a registered model and its champion, and a sweep on a
Dask LocalCluster go through it into PostgreSQL; Ctrl-C stops both (on a server of its own, so the tests
run in any order)."""

import signal
import socket
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest
import requests

from conftest import dvc

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@dataclass
class Server:
    """A running ``obscura server`` and what the tests check it with."""

    url: str
    db_port: int
    directory: Path
    log: Path
    process: subprocess.Popen
    descendants: list[psutil.Process] = field(default_factory=list)

    def psql(self, query: str) -> list[str]:
        """Rows of ``query`` on the server's PostgreSQL ``mlflow`` database, columns joined by ``|``."""
        from obscura.server import SUPERUSER, postgres_bin

        result = subprocess.run([str(postgres_bin() / "psql"), "-h", "127.0.0.1", "-p", str(self.db_port),
                                 "-U", SUPERUSER, "-d", "mlflow", "-tAc", query], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        return result.stdout.split()

    def stop(self) -> None:
        """Ctrl-C, as in a terminal (a kill only if it does not stop within 90 s); PostgreSQL is stopped
        in any case (a no-op when ``obscura server`` stopped it)."""
        from obscura.server import Postgres

        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=90)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        Postgres(self.directory / "postgres", self.db_port).stop()


@contextmanager
def running_server(tmp_path_factory):
    """``obscura server`` on free ports, in a directory the ``postgres`` user can reach (pytest's tmp_path
    is private to root); stopped and removed on exit. Skips, saying why, when PostgreSQL cannot be used."""
    from obscura.errors import ObscuraError
    from obscura.server import postgres_bin, wait_until_up

    try:
        postgres_bin()
    except Exception as exc:
        pytest.skip(f"PostgreSQL cannot be used here: {exc}")
    directory = Path(tempfile.mkdtemp(prefix="obscura-server-"))
    directory.chmod(0o755)
    port, db_port = free_port(), free_port()
    log = tmp_path_factory.mktemp("server") / "server.log"
    with open(log, "w") as out:
        process = subprocess.Popen([sys.executable, "-m", "obscura", "server", "--dir", str(directory),
                                    "--port", str(port), "--db-port", str(db_port)], stdout=out, stderr=out)
    server = Server(f"http://127.0.0.1:{port}", db_port, directory, log, process)
    try:
        try:
            wait_until_up(server.url, process, timeout=240)
        except ObscuraError as exc:
            pytest.fail(f"{exc}\n{log.read_text()[-3000:]}")
        server.descendants = psutil.Process(process.pid).children(recursive=True)
        yield server
    finally:
        server.stop()
        subprocess.run(["rm", "-rf", str(directory)], check=False)


@pytest.fixture(scope="module")
def tracking_server(tmp_path_factory):
    """One server shared by the tests that only use it (none of them stops it)."""
    with running_server(tmp_path_factory) as server:
        yield server


def test_stage_run_and_registry_through_mlflow_server_on_postgresql(tracking_server, tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient

    from obscura.tracking import model_name, registered_model_files, stage_run

    url = tracking_server.url
    monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
    (tmp_path / "model.pt").write_bytes(b"weights")
    name = model_name("reconstruction", "gaussians", "orbit")
    with stage_run("train_gaussians@orbit", {"gaussians.steps": 3}, experiment="reconstruction", seed=0,
                   method="gaussians", dataset="orbit") as tracker:
        tracker.log_metrics({"test_psnr": 21.5, "test_ssim": 0.7, "train_seconds": 1.0})
        version = tracker.register_model(name, tmp_path / "model.pt")
        tracker.score_model(name, {"test_psnr": 21.5}, version=version)

    client = MlflowClient(url)
    run = client.get_run(tracker.run_id)
    assert run.info.run_name == "train_gaussians/gaussians/orbit" and run.info.status == "FINISHED"
    assert run.data.params == {"gaussians.steps": "3", "seed": "0"}
    assert run.data.metrics["test_psnr"] == 21.5
    assert str(client.get_model_version_by_alias(name, "champion").version) == version
    with registered_model_files(f"models:/{name}@champion") as files:
        assert (files / "model.pt").read_bytes() == b"weights"
    assert list((tracking_server.directory / "artifacts").rglob("model.pt")), \
        "artifacts land in the local artifact root"
    # the run is stored in PostgreSQL, not in some fallback store
    assert tracking_server.psql(f"SELECT name FROM runs WHERE run_uuid = '{tracker.run_id}'") == \
        ["train_gaussians/gaussians/orbit"]


def test_sweep_on_a_dask_cluster_logs_one_run_per_configuration_to_the_server(tracking_server, mini_repo,
                                                                              monkeypatch):
    """A sweep of 2 configurations on a LocalCluster of 2 worker processes started before
    MLFLOW_TRACKING_URI is set (as an existing cluster is): both MLflow runs land in PostgreSQL, none in
    the repository's sqlite store, and the sweep's table and compare link are those runs."""
    from distributed import Client, LocalCluster, get_task_stream
    from mlflow.tracking import MlflowClient

    from flows.sweep import sweep, task_runner

    url = tracking_server.url
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client, get_task_stream(client) as stream:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
        result = sweep.with_options(task_runner=task_runner(2, address=cluster.scheduler_address))(
            ["prepare.train_limit=8,16"], ["prepare"], mini_repo)
    assert len(stream.data) >= 2, "the configurations ran on the Dask workers"

    rows = {row["experiment"]: row for row in result["rows"]}
    assert sorted(row["prepare.train_limit"] for row in rows.values()) == [8, 16]
    assert all(row["mlflow_runs"] == 1 for row in rows.values())
    assert set(dvc(mini_repo, "exp", "ls", "--names-only").stdout.split()) == set(rows)
    assert not (mini_repo / "mlflow.db").exists(), "no run fell back to the repository's sqlite store"

    mlflow = MlflowClient(url)
    runs = [r for r in mlflow.search_runs([e.experiment_id for e in mlflow.search_experiments()])
            if "dvc.exp_name" in r.data.tags]
    assert sorted(r.data.tags["dvc.exp_name"] for r in runs) == sorted(rows)
    for run in runs:
        assert run.info.status == "FINISHED" and run.info.run_name == "prepare"
        row = rows[run.data.tags["dvc.exp_name"]]
        assert int(run.data.params["prepare.train_limit"]) == row["prepare.train_limit"]
        assert run.info.run_id in result["mlflow_compare"]
    assert result["mlflow_compare"].startswith(f"{url}/#/compare-runs?")
    stored = tracking_server.psql(
        "SELECT t.value, r.status, p.value FROM runs r "
        "JOIN tags t ON t.run_uuid = r.run_uuid AND t.key = 'dvc.exp_name' "
        "JOIN params p ON p.run_uuid = r.run_uuid AND p.key = 'prepare.train_limit'")
    assert sorted(stored) == sorted(f"{name}|FINISHED|{row['prepare.train_limit']}" for name, row in rows.items())


def test_ctrl_c_stops_mlflow_server_and_postgresql(tmp_path_factory):
    with running_server(tmp_path_factory) as server:   # its own: stopping the shared one would end it for the rest
        assert server.descendants, "the MLflow server runs under `obscura server`"
        server.stop()
        output = server.log.read_text()
        assert server.process.returncode == 0, output[-2000:]
        assert f"export MLFLOW_TRACKING_URI={server.url}" in output
        assert not (server.directory / "postgres" / "data" / "postmaster.pid").exists(), \
            "PostgreSQL is stopped on exit"
        assert not [p for p in server.descendants if alive(p)], "no MLflow process is left running"
        with pytest.raises(requests.ConnectionError):
            requests.get(f"{server.url}/health", timeout=5)
