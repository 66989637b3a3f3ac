"""MLflow tracking: run names, dotted params and tags, the model registry and its champion, loading a
registered model from the CLI, and a tracking store that cannot be reached."""

import socket
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
import yaml
from mlflow.tracking import MlflowClient

from conftest import REPO
from obscura.paths import main_root, workspace_root
from obscura.tracking import (TrackingUnavailable, elect_champion, flatten, list_models, model_name, stage_run,
                              tracking_uri, TRACKS)


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


def runs_of(uri, experiment):
    client = MlflowClient(uri)
    return client.search_runs([client.get_experiment_by_name(experiment).experiment_id],
                              order_by=["attributes.start_time ASC"])


def test_stage_run_names_params_tags_metrics_images(mlflow_store):
    section = {"lr": 0.1, "net": {"width": 8}}
    for _ in range(2):
        with stage_run("train_unit@m", {"unit.m": section}, experiment="generative", seed=3, method="m",
                       dataset="toy") as tracker:
            for step in range(3):
                tracker.log_metrics({"loss": 1.0 / (step + 1), "nan_is_dropped": float("nan")}, step=step)
            tracker.log_image(np.zeros((4, 4, 3)), "images/blank.png")
    first, second = runs_of(mlflow_store, "generative")
    client = MlflowClient(mlflow_store)
    assert first.info.run_name == "train_unit/m/toy"
    assert first.data.params == {"unit.m.lr": "0.1", "unit.m.net.width": "8", "seed": "3"}
    tags = first.data.tags
    assert tags["obscura.stage"] == "train_unit@m" and tags["obscura.track"] == "generative"
    assert tags["obscura.method"] == "m" and tags["obscura.dataset"] == "toy"
    assert len(tags["git.commit"]) == 40
    assert tags["params.hash"] == second.data.tags["params.hash"]             # same params, same hash
    assert [m.value for m in client.get_metric_history(first.info.run_id, "loss")] == [1.0, 0.5, 1.0 / 3]
    assert "nan_is_dropped" not in first.data.metrics
    assert [a.path for a in client.list_artifacts(first.info.run_id, "images")] == ["images/blank.png"]


def test_dvc_lock_hash_tags_the_stage_entry(mlflow_store, tmp_path, monkeypatch):
    lock = {"schema": "2.0", "stages": {"unit": {"cmd": "x", "deps": [{"path": "a", "md5": "1"}],
                                                 "params": {"params.yaml": {"unit.k": 1}}}}}
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    monkeypatch.delenv("OBSCURA_ROOT", raising=False)
    monkeypatch.chdir(tmp_path)
    hashes = []
    for md5 in ("1", "2"):
        lock["stages"]["unit"]["deps"][0]["md5"] = md5
        (tmp_path / "dvc.lock").write_text(yaml.safe_dump(lock))
        with stage_run("unit", experiment="obscura"):
            pass
        hashes.append(runs_of(mlflow_store, "obscura")[-1].data.tags["dvc.lock.hash"])
    assert hashes[0] != hashes[1]


def checkpoint(path, content: bytes):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def test_champion_is_the_best_finished_run_never_a_failed_one(mlflow_store, tmp_path):
    name = model_name("reconstruction", "gaussians", "orbit")
    assert name == "obscura-reconstruction-gaussians-orbit"
    versions = {}
    for label, psnr, fail in (("a", 20.0, False), ("b", 30.0, True), ("c", 25.0, False), ("d", float("nan"), False)):
        try:
            with stage_run("train_gaussians@orbit", experiment="reconstruction", method="gaussians",
                           dataset="orbit") as tracker:
                versions[label] = tracker.register_model(name, checkpoint(tmp_path / label / "model.pt", label.encode()))
                tracker.score_model(name, {"test_psnr": psnr}, version=versions[label])
                if fail:
                    raise RuntimeError("killed after registering")
        except RuntimeError:
            pass
        client = MlflowClient(mlflow_store)
        champion = str(client.get_model_version_by_alias(name, "champion").version)
        assert champion == versions[{"a": "a", "b": "a", "c": "c", "d": "c"}[label]]
    assert [r.info.status for r in runs_of(mlflow_store, "reconstruction")] == ["FINISHED", "FAILED", "FINISHED",
                                                                                "FINISHED"]
    # a score written on the failed run's version by hand still cannot make it champion
    client.set_model_version_tag(name, versions["b"], "test_psnr", "99")
    assert elect_champion(name, TRACKS["reconstruction"]) == versions["c"]
    rows = list_models()
    assert [(r["version"], r["alias"], r["metric"]) for r in rows] == [
        ("1", "", "test_psnr=20"), ("2", "", "test_psnr=99"), ("3", "champion", "test_psnr=25"), ("4", "", "-")]


def train_and_evaluate(tmp_path, label: str, fid: float, model) -> str:
    """A train run that registers ``model``'s checkpoint, then an evaluation run that scores it by file."""
    from obscura.generative.checkpoint import save_checkpoint

    path = save_checkpoint(tmp_path / label / "model.pt", model)
    name = model_name("generative", model.config.name)
    with stage_run(f"train_generative@{model.config.name}", experiment="generative", method=model.config.name,
                   dataset="fashion_mnist") as tracker:
        version = tracker.register_model(name, path)
    with stage_run(f"evaluate_generative@{model.config.name}", experiment="generative", method=model.config.name,
                   dataset="fashion_mnist") as tracker:
        tracker.log_metrics({"fid": fid, "kid": fid / 1000})
        tracker.score_model(name, {"fid": fid}, checkpoint=(path,))
    return version


def cli(*args, env):
    return subprocess.run([sys.executable, "-m", "obscura", *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=300)


def test_generative_champion_by_fid_and_sampling_from_the_registry(mlflow_store, tmp_path, monkeypatch):
    import os

    import imageio.v3 as iio

    from obscura.generative.registry import tiny_config

    torch.manual_seed(0)
    worse = train_and_evaluate(tmp_path, "first", 80.0, tiny_config("ae", 16, 1).setup())
    better = train_and_evaluate(tmp_path, "second", 60.0, tiny_config("ae", 16, 1).setup())
    train_and_evaluate(tmp_path, "third", 70.0, tiny_config("ae", 16, 1).setup())
    client = MlflowClient(mlflow_store)
    assert str(client.get_model_version_by_alias("obscura-generative-ae", "champion").version) == better != worse
    env = {**os.environ, "MLFLOW_TRACKING_URI": mlflow_store}

    listed = cli("models", "list", env=env)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0].split() == ["name", "version", "alias", "metric"]
    assert lines[2].split() == ["obscura-generative-ae", better, "champion", "fid=60"]

    out = tmp_path / "samples.png"
    r = cli("generative", "sample", "models:/obscura-generative-ae@champion", out, "--n", 4, env=env)
    assert r.returncode == 0, r.stderr
    assert iio.imread(out).shape == (2 * 18 + 2, 2 * 18 + 2)                # a 2x2 grid of 16x16 samples

    r = cli("generative", "sample", "models:/obscura-generative-ae@best", tmp_path / "x.png", env=env)
    assert r.returncode == 2 and not (tmp_path / "x.png").exists()
    assert r.stderr.startswith("error: models:/obscura-generative-ae@best: not in the model registry")
    assert "obscura models list" in r.stderr and len(r.stderr.strip().splitlines()) == 1


@pytest.fixture
def silent_port():
    """A port that accepts connections and never answers (a hung server)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    yield server.getsockname()[1]
    server.close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("kind", ["refused", "silent", "database"])
def test_unreachable_tracking_store_fails_the_stage_in_seconds(kind, tiny_prepare, tmp_path, silent_port,
                                                                monkeypatch):
    from obscura.config import parse_params
    from stages import prepare

    uri = {"refused": f"http://127.0.0.1:{closed_port()}", "silent": f"http://127.0.0.1:{silent_port}",
           "database": f"postgresql://mlflow:secret@127.0.0.1:{closed_port()}/mlflow"}[kind]
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    start = time.monotonic()
    with pytest.raises(TrackingUnavailable) as err:
        prepare.run(parse_params(tiny_prepare))
    assert time.monotonic() - start < 15
    shown = uri.replace(":secret@", ":***@")
    assert f"MLflow tracking store {shown} is unreachable" in str(err.value) and "secret" not in str(err.value)
    assert not (tmp_path / "prepared").exists() and not (tmp_path / "prepare.json").exists()


def test_stage_process_exits_2_naming_the_uri(tiny_prepare, tmp_path):
    import os

    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(tiny_prepare))
    uri = f"http://127.0.0.1:{closed_port()}"
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "OBSCURA_PARAMS": str(params)}
    r = subprocess.run([sys.executable, "-m", "stages.prepare"], cwd=REPO, env=env, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines()[-1].startswith(f"error: MLflow tracking store {uri} is unreachable")
    assert not (tmp_path / "prepared").exists()
