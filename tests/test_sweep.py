"""Sweeps: checked before anything runs, one DVC experiment and one MLflow run per configuration,
on a real Dask LocalCluster and concurrently."""

import threading

import pytest
from mlflow.tracking import MlflowClient

from conftest import REPO, dvc


def mlflow_runs(repo):
    client = MlflowClient(f"sqlite:///{repo / 'mlflow.db'}")
    ids = [e.experiment_id for e in client.search_experiments()]
    return client.search_runs(ids) if ids else []


def train_limit(run) -> int:
    """The prepare.train_limit a run logged (under its params.yaml name or its short name)."""
    return int(next(v for k, v in run.data.params.items() if k.split(".")[-1] == "train_limit"))


def test_grid_values_and_combinations():
    from flows.sweep import configurations, parse_grid

    grid = parse_grid(["a.b=1,2", "c=[1, 2],x"])
    assert grid == {"a.b": ["1", "2"], "c": ["[1, 2]", "x"]}
    assert configurations(grid) == [{"a.b": "1", "c": "[1, 2]"}, {"a.b": "1", "c": "x"},
                                    {"a.b": "2", "c": "[1, 2]"}, {"a.b": "2", "c": "x"}]


def test_sweep_refuses_unknown_stage_param_and_invalid_value_by_key():
    from flows.sweep import SweepError, check_sweep, parse_grid

    with pytest.raises(SweepError) as err:
        check_sweep(parse_grid(["generative.vae.latent_size=2,8", "generative.vae.epochs=0,2"]),
                    ["train_generative@nope"], REPO)
    message = str(err.value)
    assert "unknown stage(s) train_generative@nope" in message
    assert "generative.vae.latent_size: unknown param" in message and "latent_channels" in message
    assert "generative.vae.epochs = 0" in message
    assert message.count("generative.vae.latent_size: unknown") == 1, "one line per problem, not per configuration"
    # as with DVC's -S, a key params.yaml does not have yet (a NeRF run) is added with +, and only with +
    with pytest.raises(SweepError, match=r"nerf.runs.vanilla-room: unknown param.*\+nerf.runs.vanilla-room=VALUE"):
        check_sweep(parse_grid(["nerf.runs.vanilla-room={model: vanilla, scene: room}"]), None, REPO)
    assert check_sweep(parse_grid(["+nerf.runs.vanilla-room={model: vanilla, scene: room}"]), None, REPO)
    with pytest.raises(SweepError, match=r"\+prepare.faces: params.yaml has it already"):
        check_sweep(parse_grid(["+prepare.faces=10"]), None, REPO)
    with pytest.raises(SweepError, match=r"nerf.runs.vanilla-room.model = 'nope'"):
        check_sweep(parse_grid(["+nerf.runs.vanilla-room={model: nope, scene: room}"]), None, REPO)


def test_sweep_command_prints_one_error_and_exits_2(capsys):
    from flows.pipeline import main

    assert main(["sweep", "-S", "prepare.train_limit=8,0", "-S", "prepare.nope=1", "prepare"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: sweep refused, nothing was run")
    assert "prepare.train_limit = 0" in err and "prepare.nope: unknown param" in err


def test_sweep_to_an_unreachable_tracking_server_is_refused_in_seconds(capsys, monkeypatch):
    from flows.pipeline import main

    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")   # discard port: nothing listens
    assert main(["sweep", "-S", "prepare.train_limit=8,16", "prepare"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: MLflow tracking store http://127.0.0.1:9 is unreachable")
    assert "nothing was run" in err


@pytest.mark.slow
def test_refused_sweep_runs_nothing(mini_repo):
    from flows.sweep import SweepError, sweep

    with pytest.raises(SweepError, match=r"prepare.train_limit = 0"):
        sweep.fn(["prepare.train_limit=8,0"], root=mini_repo)
    assert dvc(mini_repo, "exp", "ls").stdout.strip() == ""
    assert not (mini_repo / "mlflow.db").exists()


@pytest.mark.slow
def test_sweeps_on_a_dask_cluster_and_on_threads_at_once_give_one_mlflow_run_per_configuration(mini_repo):
    """A sweep of 2 configurations on a LocalCluster of 2 workers, and at the same time another sweep on
    threads: every configuration is one DVC experiment and one MLflow run, none is lost."""
    from distributed import Client, LocalCluster, get_task_stream
    from prefect_dask import DaskTaskRunner

    from flows.sweep import sweep, task_runner

    local = task_runner(2, dask=True)        # what --dask builds: a LocalCluster of 2 worker processes
    assert isinstance(local, DaskTaskRunner) and local.cluster_kwargs["n_workers"] == 2
    results, errors = {}, []

    def run(label, runner, values):
        try:
            results[label] = sweep.with_options(task_runner=runner)([f"prepare.train_limit={values}"], ["prepare"],
                                                                   mini_repo)
        except Exception as exc:  # reported below with the sweep that failed
            errors.append((label, exc))

    # the cluster is started here and given by address (--dask-address), so the test sees its tasks
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client, get_task_stream(client) as stream:
        threads = [threading.Thread(target=run, args=("dask", task_runner(2, address=cluster.scheduler_address), "8,16")),
                   threading.Thread(target=run, args=("threads", task_runner(1), "12"))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert not errors, errors
    assert len(stream.data) >= 2, "the Dask sweep's configurations ran on the Dask workers"

    rows = {row["prepare.train_limit"]: row for result in results.values() for row in result["rows"]}
    assert sorted(r["prepare.train_limit"] for r in results["dask"]["rows"]) == [8, 16]
    assert [rows[n]["fashion_mnist_train_count"] for n in (8, 16)] == [8, 16]
    assert all(row["mlflow_runs"] == 1 for row in rows.values())
    names = {row["experiment"] for row in rows.values()}
    assert set(dvc(mini_repo, "exp", "ls", "--names-only").stdout.split()) == names and len(names) == 3
    runs = mlflow_runs(mini_repo)
    assert {r.data.tags["dvc.exp_name"] for r in runs} == names
    assert sorted(train_limit(r) for r in runs) == [8, 12, 16]
    assert all(r.info.run_id in results["dask"]["mlflow_compare"]
               for r in runs if r.data.tags["dvc.exp_name"] in {row["experiment"] for row in results["dask"]["rows"]})
