"""The shared tracking server for real: `obscura server` (what `make server` runs) starts PostgreSQL and
`mlflow server`; a stage run, a registered model and its champion go through it into PostgreSQL."""

import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import requests

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server_dir():
    """A directory the ``postgres`` user can reach (pytest's tmp_path is private to root)."""
    from obscura.server import postgres_bin

    try:
        postgres_bin()
    except Exception as exc:
        pytest.skip(f"PostgreSQL cannot be used here: {exc}")
    directory = Path(tempfile.mkdtemp(prefix="obscura-server-"))
    directory.chmod(0o755)
    yield directory
    subprocess.run(["rm", "-rf", str(directory)], check=False)


def test_stage_run_and_registry_through_mlflow_server_on_postgresql(server_dir, tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient

    from obscura.errors import ObscuraError
    from obscura.server import SUPERUSER, Postgres, postgres_bin, wait_until_up
    from obscura.tracking import model_name, registered_model_files, stage_run

    port, db_port = free_port(), free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "server.log"
    with open(log, "w") as out:
        server = subprocess.Popen([sys.executable, "-m", "obscura", "server", "--dir", str(server_dir),
                                   "--port", str(port), "--db-port", str(db_port)], stdout=out, stderr=out)
    try:
        try:
            wait_until_up(url, server, timeout=240)
        except ObscuraError as exc:
            pytest.fail(f"{exc}\n{log.read_text()[-3000:]}")
        monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
        (tmp_path / "model.pt").write_bytes(b"weights")
        name = model_name("reconstruction", "gaussians", "orbit")
        with stage_run("train_gaussians@orbit", {"gaussians.steps": 3}, experiment="reconstruction", seed=0,
                       method="gaussians", dataset="orbit") as tracker:
            tracker.log_metrics({"test_psnr": 21.5, "test_ssim": 0.7, "train_seconds": 1.0})
            version = tracker.register_model(name, tmp_path / "model.pt")
            tracker.score_model(name, {"test_psnr": 21.5}, version=version)

        client = MlflowClient(url)
        run = client.search_runs([client.get_experiment_by_name("reconstruction").experiment_id])[0]
        assert run.info.run_name == "train_gaussians/gaussians/orbit" and run.info.status == "FINISHED"
        assert run.data.params == {"gaussians.steps": "3", "seed": "0"}
        assert run.data.metrics["test_psnr"] == 21.5
        assert str(client.get_model_version_by_alias(name, "champion").version) == version
        with registered_model_files(f"models:/{name}@champion") as files:
            assert (files / "model.pt").read_bytes() == b"weights"
        assert list((server_dir / "artifacts").rglob("model.pt")), "artifacts land in the local artifact root"

        # the run is stored in PostgreSQL, not in some fallback store
        rows = subprocess.run([str(postgres_bin() / "psql"), "-h", "127.0.0.1", "-p", str(db_port), "-U", SUPERUSER,
                               "-d", "mlflow", "-tAc", "SELECT name FROM runs"], capture_output=True, text=True)
        assert rows.stdout.split() == ["train_gaussians/gaussians/orbit"], rows.stderr
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=90)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        Postgres(server_dir / "postgres", db_port).stop()      # no-op when `obscura server` stopped it
    output = log.read_text()
    assert server.returncode == 0, output[-2000:]
    assert f"export MLFLOW_TRACKING_URI={url}" in output
    assert not (server_dir / "postgres" / "data" / "postmaster.pid").exists(), "PostgreSQL is stopped on exit"
    with pytest.raises(requests.ConnectionError):                # the MLflow server is stopped on exit
        requests.get(f"{url}/health", timeout=5)
