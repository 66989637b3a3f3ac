"""`dvc repro` of the inpainting and generative tracks and the report on tiny params: prepare -> masks ->
train_inpainting -> evaluate_inpainting, prepare -> generative_classifier / generative_reference / generative_faces
-> train_generative (ae, then the ldm on it) -> evaluate_generative, then report. Every stage writes what dvc.yaml
declares (outs, metrics, plots) and nothing else, its MLflow run logs the numbers of its metrics file, and a
second `dvc repro` runs nothing."""

import json
import math
import shutil

import pytest
from mlflow.tracking import MlflowClient

from conftest import REPO, dvc, make_mini_repo

pytestmark = pytest.mark.slow

STAGES = ["prepare", "masks", "train_inpainting", "evaluate_inpainting", "generative_classifier",
          "generative_reference", "generative_faces", "train_generative", "evaluate_generative", "report"]
# Written by the repo itself or by DVC/MLflow, not by a stage's declared work.
INFRASTRUCTURE = {".git", ".dvc", ".dvcignore", ".gitignore", "dvc.yaml", "dvc.lock", "params.yaml", "src", "stages",
                  "viewer", "mlflow.db", "mlartifacts"}
# The reconstruction track's folders the report stage reads (deps); left empty here: that track has its own test.
RECONSTRUCTION = ["reports/sfm", "reports/gaussians", "data/gaussians", "reports/nerf", "data/nerf"]


def tiny_params(raw_params: dict) -> dict:
    raw_params["prepare"].update(train_limit=256, test_limit=64, faces=10, photo_size=48,
                                 train_photo_side=64, photo_splits={"heldout": 2, "unseen": 1})
    raw_params["inpainting"].update(
        image_size=48, buckets=[[10, 20], [30, 40]], classical=["harmonic", "telea"], grid_bucket=[30, 40],
        deep={"single_stage": {"steps": 3, "batch_size": 2, "crop": 32, "lr": 0.001,
                               "config": {"width": 8, "depth": 1, "blocks": 1, "disc_width": 8}}})
    g = raw_params["generative"]
    g.update(models={"ae": {"needs": "reference/classifier.pt"}, "ldm": {"needs": "ae/model.pt"}},
             checkpoint_every=2, log_every=1, epoch_fd_samples=8)
    for name in ("ae", "vae", "gan", "ddpm", "ldm"):
        g[name].update(train_images=64, epochs=1, batch_size=32)
    for name in ("ae", "vae", "ddpm", "ldm"):
        g[name]["base_channels"] = 8
    g["ldm"].update(ddim_steps=3, num_train_timesteps=50, autoencoder="ae")
    g["eval"].update(fid_samples=6, real_samples=8, kid_subset_size=4, kid_subsets=3, recon_images=8,
                     nll_images=4, nll_k=4, grid=4, blend_steps=3, blend_pairs=2, batch_size=8)
    g["classifier"].update(train_images=128, epochs=1, batch_size=32)
    g["faces"].update(epochs=2, pairs=2, batch_size=5)
    return raw_params


def finite_numbers(metrics: dict) -> dict:
    """The numeric entries of a metrics file (bools included), each asserted finite."""
    numbers = {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float))}
    bad = {k: v for k, v in numbers.items() if not math.isfinite(v)}
    assert not bad, bad
    return numbers


def assert_logged(client: MlflowClient, experiment: str, run_name: str, metrics: dict) -> None:
    """Exactly one finished run ``run_name`` whose metrics equal the metrics file's numbers."""
    runs = client.search_runs([client.get_experiment_by_name(experiment).experiment_id],
                              filter_string=f"attributes.run_name = '{run_name}'")
    assert len(runs) == 1, (run_name, len(runs))
    assert runs[0].info.status == "FINISHED", run_name
    logged = runs[0].data.metrics
    expected = {k.replace("-", "_"): v for k, v in finite_numbers(metrics).items()}
    assert expected, run_name
    missing = sorted(set(expected) - set(logged))
    assert not missing, (run_name, missing)
    differ = {k: (v, logged[k]) for k, v in expected.items() if logged[k] != pytest.approx(v)}
    assert not differ, (run_name, differ)


def test_dvc_repro_runs_inpainting_generative_and_report(tmp_path, raw_params, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("OBSCURA_ROOT", raising=False)
    monkeypatch.delenv("OBSCURA_PARAMS", raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")       # tiny models: one torch thread per stage is faster
    repo = make_mini_repo(tmp_path / "repo", tiny_params(raw_params), STAGES)
    (repo / "viewer").mkdir()
    shutil.copy2(REPO / "viewer/package-lock.json", repo / "viewer")        # deps of the report stage
    shutil.copytree(REPO / "viewer/src", repo / "viewer/src")
    for path in RECONSTRUCTION:
        (repo / path).mkdir(parents=True)

    result = dvc(repo, "repro")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert result.stdout.count("Running stage") == 12, result.stdout

    from dvc.repo import Repo

    with Repo(str(repo)) as dvc_repo:
        stages = {s.name: s for s in dvc_repo.index.stages}
        declared = {name: [o.def_path for o in stage.outs] for name, stage in stages.items()}
    assert set(stages) == {"prepare", "masks", "train_inpainting", "evaluate_inpainting",
                           "generative_classifier", "generative_reference", "generative_faces",
                           "train_generative@ae", "train_generative@ldm", "evaluate_generative@ae",
                           "evaluate_generative@ldm", "report"}
    for name, paths in declared.items():                 # every declared out, metric and plot was written
        for path in paths:
            target = repo / path
            assert target.is_file() or (target.is_dir() and any(target.iterdir())), (name, path)
    outputs = [repo / p for paths in declared.values() for p in paths]
    written = [p for p in repo.rglob("*") if p.is_file() and p.relative_to(repo).parts[0] not in INFRASTRUCTURE
               and not p.name == ".gitignore"]
    undeclared = [str(p.relative_to(repo)) for p in written
                  if not any(p == o or p.is_relative_to(o) for o in outputs)]
    assert not undeclared, undeclared                    # ... and nothing else (e.g. no resume state left behind)

    client = MlflowClient(f"sqlite:///{repo / 'mlflow.db'}")

    # inpainting: masks, the deep method's training, evaluation of every method
    index = json.loads((repo / "data/inpainting/masks/index.json").read_text())
    assert [(e["set"], e["bucket"]) for e in index] == [("heldout", [10, 20])] * 6 + [("heldout", [30, 40])] * 6 + [
        ("unseen", [30, 40])] * 3 + [("outpaint", [20, 30])] * 2   # 2 held-out photos x 2 buckets x 3 kinds, 1 unseen
    #                                                                  x 3 kinds, a 10 px outpainting strip per held-out photo
    assert_logged(client, "inpainting", "masks/photos", {"mask_count": len(index)})
    train = json.loads((repo / "reports/inpainting/train.json").read_text())["single_stage"]
    assert train["steps"] == 3
    assert_logged(client, "inpainting", "train_inpainting/single_stage/photos", train)
    curve = (repo / "reports/inpainting/train/single_stage.csv").read_text().splitlines()
    assert curve[0].startswith("step,loss") and len(curve) > 1
    evaluation = json.loads((repo / "reports/inpainting/metrics.json").read_text())
    for method in ("harmonic", "telea", "single_stage"):
        for bucket in ("10-20", "30-40", "all"):
            assert 0 < evaluation[f"{method}.{bucket}.hole_psnr"] < evaluation[f"{method}.{bucket}.full_psnr"]
        assert evaluation[f"{method}.all.fid"] > 0
    assert_logged(client, "inpainting", "evaluate_inpainting/photos", evaluation)
    grids = [p.stem for p in (repo / "reports/inpainting/grids").iterdir()]
    outpainted = [g for g in grids if g.startswith("outpaint_")]
    assert sorted(g.rsplit("_", 1)[1] for g in grids if g not in outpainted) == ["box", "rectangles", "strokes"]
    assert len(outpainted) == 2                 # one 30-40 case per kind, and the two outpainting strips
    assert client.get_model_version_by_alias("obscura-inpainting-single_stage", "champion")

    # generative: reference features, the faces demo, ae and the ldm on it, their evaluation
    classifier = json.loads((repo / "reports/generative/classifier.json").read_text())
    assert 0 <= classifier["test_accuracy"] <= 1 and classifier["fd_classifier_real_baseline"] >= 0
    assert_logged(client, "generative", "generative_classifier/classifier/fashion_mnist", classifier)
    reference = json.loads((repo / "reports/generative/reference.json").read_text())
    assert reference["real_samples"] == 8 and reference["fid_real_baseline"] > 0
    assert_logged(client, "generative", "generative_reference/real/fashion_mnist", reference)
    faces = json.loads((repo / "reports/generative/faces.json").read_text())
    assert {"ae_recon_psnr", "vae_recon_psnr", "ae_blend_off_manifold", "vae_blend_off_manifold"} <= set(faces)
    assert_logged(client, "generative", "generative_faces/ae_vae/lfw", faces)
    for name in ("ae", "ldm"):
        trained = json.loads((repo / f"reports/generative/{name}/train.json").read_text())
        assert trained["steps"] == 2 and trained["resumed_from_step"] == 0 and trained["train_images"] == 64
        assert_logged(client, "generative", f"train_generative/{name}/fashion_mnist", trained)
        assert (repo / f"reports/generative/{name}/loss.csv").read_text().startswith("step,epoch,")
        scores = json.loads((repo / f"reports/generative/{name}/metrics.json").read_text())
        assert scores["fid"] > 0 and scores["kid_std"] >= 0 and scores["fd_classifier"] > 0
        assert scores["train_steps"] == 2 and scores["fid_real_baseline"] == reference["fid_real_baseline"]
        assert_logged(client, "generative", f"evaluate_generative/{name}/fashion_mnist", scores)
        assert client.get_model_version_by_alias(f"obscura-generative-{name}", "champion")

    # report: one page over both tracks, its numbers linked to the runs that logged them
    page = (repo / "reports/index.html").read_text()
    assert "<td>Latent diffusion</td>" in page and "<td>single-stage CNN</td>" in page
    assert "No results yet" in page                      # the reconstruction track, not run here
    for experiment, run_name in (("generative", "evaluate_generative/ldm/fashion_mnist"),
                                 ("generative", "generative_faces/ae_vae/lfw"),
                                 ("inpainting", "evaluate_inpainting/single_stage/photos")):
        run, = client.search_runs([client.get_experiment_by_name(experiment).experiment_id],
                                  filter_string=f"attributes.run_name = '{run_name}'")
        assert f"/runs/{run.info.run_id}' title='MLflow run'>" in page, run_name
    assets = {p.relative_to(repo / "reports/assets").as_posix() for p in (repo / "reports/assets").rglob("*.png")}
    assert {"generative/ae-samples.png", "generative/ldm-samples.png", "generative/faces-blend.png"} <= assets
    runs = client.search_runs([client.get_experiment_by_name(raw_params["tracking"]["experiment"]).experiment_id],
                              filter_string="attributes.run_name = 'report'")
    assert len(runs) == 1 and runs[0].info.status == "FINISHED"

    again = dvc(repo, "repro")
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
    assert "Running stage" not in again.stdout, again.stdout
    assert again.stdout.count("didn't change, skipping") == len(stages), again.stdout
