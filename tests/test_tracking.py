from mlflow.tracking import MlflowClient

from obscura.paths import main_root, workspace_root
from obscura.tracking import flatten, stage_run, tracking_uri


def test_main_root_escapes_dvc_temporary_experiment(tmp_path, monkeypatch):
    monkeypatch.delenv("OBSCURA_ROOT", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    repo = tmp_path / "repo"
    exp = repo / ".dvc" / "tmp" / "exps" / "tmpabc123"
    exp.mkdir(parents=True)
    (repo / "dvc.yaml").write_text("stages: {}\n")
    (exp / "dvc.yaml").write_text("stages: {}\n")
    monkeypatch.chdir(exp / ".")
    assert workspace_root() == exp.resolve()
    assert main_root() == repo.resolve()
    assert tracking_uri() == f"sqlite:///{repo.resolve() / 'mlflow.db'}"


def test_flatten_nested():
    assert flatten({"a": {"b": 1, "c": [1, 2]}, "d": None}) == {"a.b": "1", "a.c": "[1, 2]", "d": "None"}


def test_stage_run_logs_params_metrics_images(mlflow_store):
    import numpy as np

    with stage_run("unit", {"lr": 0.1, "net": {"width": 8}}, experiment="t", seed=3) as tracker:
        for step in range(3):
            tracker.log_metrics({"loss": 1.0 / (step + 1), "nan_is_dropped": float("nan")}, step=step)
        tracker.log_image(np.zeros((4, 4, 3)), "images/blank.png")
    client = MlflowClient(mlflow_store)
    run = client.search_runs([client.get_experiment_by_name("t").experiment_id])[0]
    assert run.data.params == {"lr": "0.1", "net.width": "8", "seed": "3"}
    assert [m.value for m in client.get_metric_history(run.info.run_id, "loss")] == [1.0, 0.5, 1.0 / 3]
    assert "nan_is_dropped" not in run.data.metrics
    assert [a.path for a in client.list_artifacts(run.info.run_id, "images")] == ["images/blank.png"]
