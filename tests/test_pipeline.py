"""The orchestration layer for real: DVC caching, experiments in temp dirs, the Prefect flow."""

import pytest
import yaml
from mlflow.tracking import MlflowClient

from conftest import REPO, dvc

pytestmark = pytest.mark.slow


def prepare_runs(repo):
    client = MlflowClient(f"sqlite:///{repo / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("obscura")
    return client.search_runs([experiment.experiment_id], order_by=["attributes.start_time ASC"])


def test_dvc_repro_then_noop_and_exp_run_temp_keeps_mlflow_runs(mini_repo):
    first = dvc(mini_repo, "repro")
    assert first.returncode == 0, first.stderr
    assert (mini_repo / "data/prepared/fashion_mnist_train.npz").is_file()
    second = dvc(mini_repo, "repro")
    assert second.returncode == 0 and "didn't change, skipping" in second.stdout
    assert len(prepare_runs(mini_repo)) == 1

    exp = dvc(mini_repo, "exp", "run", "--temp", "-S", "prepare.train_limit=16")
    assert exp.returncode == 0, exp.stdout + exp.stderr
    runs = prepare_runs(mini_repo)
    assert len(runs) == 2, "the run made inside DVC's temporary copy must land in the main store"
    assert runs[-1].data.params["prepare.train_limit"] == "16"
    assert runs[-1].data.metrics["fashion_mnist_train_count"] == 16
    assert runs[-1].data.tags.get("dvc.exp_name")
    assert runs[-1].info.artifact_uri.startswith((mini_repo / "mlartifacts").as_uri())


def test_stage_order_follows_dvc_graph():
    from flows.pipeline import stage_order

    order = stage_order(REPO)
    assert order[0] == "prepare"
    assert order.index("scenes@orbit") < order.index("sfm@orbit")
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    autoencoder = params["generative"]["ldm"]["autoencoder"]          # the LDM's dep on its trained autoencoder
    assert order.index(f"train_generative@{autoencoder}") < order.index("train_generative@ldm")
    def empty(foreach) -> bool:        # a foreach over an empty params mapping (no photo scenes, no NeRF runs)
        if not (isinstance(foreach, str) and foreach.startswith("${")):
            return False
        value = params
        for key in foreach[2:-1].split("."):
            value = value[key]
        return not value

    expected = {name for name, stage in stages.items() if not empty(stage.get("foreach"))}
    assert {name.split("@")[0] for name in order} == expected


def test_prefect_flow_runs_stages_and_reuses_dvc_cache(mini_repo):
    from flows.pipeline import pipeline

    assert pipeline.fn(root=mini_repo) == {"prepare": "ran"}
    # a second (e.g. scheduled) run through a real temporary Prefect server reuses DVC's cache
    state = pipeline(root=mini_repo, return_state=True)
    assert state.is_completed() and state.result() == {"prepare": "skipped"}
    assert len(prepare_runs(mini_repo)) == 1


def test_flow_rejects_unknown_target(mini_repo):
    import pytest

    from flows.pipeline import stage_order, with_upstream

    with pytest.raises(ValueError, match="unknown stage"):
        with_upstream(stage_order(mini_repo), ["nope"], mini_repo)


def test_queued_experiment_run_lands_in_main_store(mini_repo):
    import time

    assert dvc(mini_repo, "exp", "run", "--queue", "-S", "prepare.train_limit=8").returncode == 0
    assert dvc(mini_repo, "queue", "start", "-j", "1").returncode == 0
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        status = dvc(mini_repo, "queue", "status").stdout
        if "Queued" not in status and "Running" not in status:
            break
        time.sleep(3)
    assert "Success" in status, status
    runs = prepare_runs(mini_repo)
    assert [r.data.params["prepare.train_limit"] for r in runs] == ["8"]
    assert runs[0].data.tags.get("dvc.exp_name")


def test_flaky_stage_is_retried_and_the_flow_completes(tmp_path, raw_params, monkeypatch):
    """A stage failing once (as a lost worker or a full disk would) is retried by Prefect; the flow completes."""
    from conftest import make_mini_repo
    from flows.pipeline import pipeline

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    raw_params["orchestration"].update(retries=2, retry_delay_seconds=0)
    repo = make_mini_repo(tmp_path / "repo", raw_params, [])
    attempts = tmp_path / "attempts.txt"
    (repo / "flaky.py").write_text(
        "import pathlib, sys\n"
        f"log = pathlib.Path({str(attempts)!r})\n"
        "log.write_text(log.read_text() + 'x' if log.exists() else 'x')\n"
        "if len(log.read_text()) == 1:\n"
        "    sys.exit('first attempt fails')\n"
        "pathlib.Path('out.txt').write_text('done')\n")
    (repo / "dvc.yaml").write_text(yaml.safe_dump(
        {"stages": {"flaky": {"cmd": "python flaky.py", "deps": ["flaky.py"], "outs": ["out.txt"]}}}))

    state = pipeline(root=repo, return_state=True)
    assert state.is_completed() and state.result() == {"flaky": "ran"}
    assert attempts.read_text() == "xx", "one failure, one successful retry"
    assert (repo / "out.txt").read_text() == "done"


def test_schedule_comes_from_params():
    from flows.pipeline import schedule

    params = yaml.safe_load((REPO / "params.yaml").read_text())["orchestration"]
    assert schedule(root=REPO).cron == params["cron"] and schedule(root=REPO).timezone == params["timezone"]
    assert schedule("*/5 * * * *", root=REPO).cron == "*/5 * * * *"


def test_bad_run_and_sweep_arguments_exit_2_before_prefect_starts(capsys):
    from flows.pipeline import main

    assert main(["run", "no_such_stage"]) == 2
    assert "unknown stage(s) no_such_stage" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["sweep", "-S", "seed=1,2", "--workers", "0"])
    assert exc.value.code == 2 and "whole number >= 1" in capsys.readouterr().err


def test_deployments_need_a_prefect_server(monkeypatch):
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.pipeline import require_server

    with temporary_settings(restore_defaults={PREFECT_API_URL}):
        with pytest.raises(SystemExit, match="make prefect-server"):
            require_server()
    with temporary_settings({PREFECT_API_URL: "http://127.0.0.1:9/api"}):
        with pytest.raises(SystemExit, match="does not answer"):
            require_server()


def test_serve_and_deploy_register_scheduled_deployments_on_a_prefect_server(tmp_path):
    """`make prefect-server` + `make schedule` (serve), and `deploy --pool` for an existing server and work pool."""
    import os
    import socket
    import subprocess
    import sys
    import time

    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/api"
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect"), "PREFECT_API_URL": url}
    server = subprocess.Popen([sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
                               "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    served = None
    try:
        with temporary_settings({PREFECT_API_URL: url}), get_client(sync_client=True) as client:
            deadline = time.monotonic() + 180
            while client.api_healthcheck() is not None:
                assert server.poll() is None and time.monotonic() < deadline, "prefect server did not start"
                time.sleep(1)
            cli = [sys.executable, "-m", "flows.pipeline"]
            # serve: a cron that never fires, so the real pipeline is never run by this test
            served = subprocess.Popen([*cli, "serve", "--cron", "0 0 31 2 *"], cwd=REPO, env=env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            deadline = time.monotonic() + 180
            while True:
                found = client.read_deployments()
                if found or served.poll() is not None or time.monotonic() > deadline:
                    break
                time.sleep(1)
            assert [d.name for d in found] == ["scheduled"], served.stderr.read() if served.poll() is not None else ""
            assert found[0].schedules[0].schedule.cron == "0 0 31 2 *"

            pool = subprocess.run([sys.executable, "-m", "prefect", "work-pool", "create", "cpu", "--type", "process"],
                                  env=env, capture_output=True, text=True)
            assert pool.returncode == 0, pool.stdout + pool.stderr
            deployed = subprocess.run([*cli, "deploy", "--pool", "cpu", "--name", "nightly"], cwd=REPO, env=env,
                                      capture_output=True, text=True)
            assert deployed.returncode == 0, deployed.stdout + deployed.stderr
            nightly = client.read_deployment_by_name("obscura-pipeline/nightly")
            params = yaml.safe_load((REPO / "params.yaml").read_text())["orchestration"]
            assert nightly.work_pool_name == "cpu"
            assert nightly.schedules[0].schedule.cron == params["cron"]
            assert nightly.schedules[0].schedule.timezone == params["timezone"]
    finally:
        for proc in (served, server):
            if proc is not None:
                proc.terminate()
                proc.wait(timeout=30)
