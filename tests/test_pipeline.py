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
