"""`dvc repro` of the rendering chain on a tiny scene: scenes -> sfm -> 3DGS and NeRF, every stage writing exactly
what dvc.yaml declares (outs, metrics, plots) and logging its MLflow run."""

import json

import pytest
import yaml
from mlflow.tracking import MlflowClient

from conftest import dvc, make_mini_repo
from obscura.rendering.nerf.registry import MODELS

pytestmark = pytest.mark.slow


def test_dvc_repro_runs_scenes_sfm_gaussians_and_nerf(tmp_path, raw_params, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("OBSCURA_ROOT", raising=False)
    raw_params["scenes"].update(width=160, height=120, gt_points=500, builtin={"room": {"num_views": 12}}, photos={})
    raw_params["sfm"].update(scenes=["room"], deterministic=True, first_octave=-1)
    raw_params["gaussians"].update(scenes={"room": {}}, eval_every=10, orbit_frames=4,
                                   config={"steps": 30, "refine_start": 10, "refine_every": 10, "refine_stop": 20,
                                           "coarse_until": 10, "max_gaussians": 5000})
    raw_params["nerf"].update(runs={"grid-room": {"model": "grid", "scene": "room", "poses": "ground_truth",
                                                  "config": {**MODELS.config_class("grid").tiny_overrides, "steps": 12}}},
                              orbit_frames=2, orbit_scale=0.25, mesh_scale=0.25, mesh_voxels=32)
    repo = make_mini_repo(tmp_path / "repo", raw_params, ["scenes", "sfm", "train_gaussians", "train_nerf"])
    result = dvc(repo, "repro", "train_gaussians@room", "train_nerf@grid-room")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    from dvc.repo import Repo

    with Repo(str(repo)) as dvc_repo:
        stages = {s.name: s for s in dvc_repo.index.stages}
        assert set(stages) == {"scenes@room", "sfm@room", "train_gaussians@room", "train_nerf@grid-room"}
        for name, stage in stages.items():
            missing = [str(o) for o in stage.outs if not (repo / o.def_path).exists()]
            assert not missing, (name, missing)
    nerf = json.loads((repo / "reports/nerf/grid/room/metrics.json").read_text())
    assert nerf["steps"] == 12 and nerf["test_psnr"] > 5
    stage = yaml.safe_load((repo / "dvc.yaml").read_text())["stages"]["train_gaussians"]["do"]
    declared = [next(iter(o)) if isinstance(o, dict) else o for o in stage["outs"] + stage["metrics"] + stage["plots"]]
    for path in declared:
        assert (repo / path.replace("${gaussians.output}", "data/gaussians").replace(
            "${gaussians.reports}", "reports/gaussians").replace("${key}", "room")).exists(), path
    model = repo / "data/gaussians/room"
    assert sorted(p.name for p in model.iterdir()) == ["model.pt", "point_cloud.ply", "renders"]
    metrics = json.loads((repo / "reports/gaussians/room/metrics.json").read_text())
    assert metrics["steps"] == 30 and metrics["test_psnr"] > 8 and metrics["num_gaussians"] > 0
    client = MlflowClient(f"sqlite:///{repo / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("reconstruction").experiment_id],
                              filter_string="attributes.run_name = 'train_gaussians/gaussians/room'")
    assert len(runs) == 1 and runs[0].data.metrics["test_psnr"] == pytest.approx(metrics["test_psnr"])
    champion = client.get_model_version_by_alias("obscura-reconstruction-gaussians-room", "champion")
    assert champion.run_id == runs[0].info.run_id
    again = dvc(repo, "repro", "train_gaussians@room", "train_nerf@grid-room")
    assert again.returncode == 0 and "didn't change, skipping" in again.stdout and "Running stage" not in again.stdout
