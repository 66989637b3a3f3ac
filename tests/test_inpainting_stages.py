"""The inpainting stages end to end on tiny settings: masks -> train two deep methods side by side -> evaluate."""

import csv
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from skimage import data
from skimage.transform import resize

from conftest import alive
from obscura.config import parse_params
from obscura.inpainting.deep.fit import fit
from obscura.inpainting.deep.registry import load_checkpoint
from obscura.io import load_image, save_image
from obscura.workers import cores
from stages import evaluate_inpainting, masks, train_inpainting


def fake_prepared(root):
    """A prepared/ directory with the photo split layout of the `prepare` stage (small photos)."""
    manifest = {"train": [], "heldout": [], "unseen": []}
    photos = {"train": {"astronaut": data.astronaut(), "rocket": data.rocket()},
              "heldout": {"chelsea": data.chelsea()}, "unseen": {"coffee": data.coffee()}}
    for split, items in photos.items():
        for name, image in items.items():
            rel = f"photos/{split}/{name}.png"
            save_image(root / rel, resize(image[:300, :300], (48, 48), anti_aliasing=True))
            manifest[split].append({"name": name, "path": rel})
    (root / "photos" / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.slow
def test_inpainting_stages(raw_params, tmp_path, mlflow_store):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        run_stages(raw_params, tmp_path)
    finally:
        torch.set_num_threads(threads)


def run_stages(raw_params, tmp_path):
    fake_prepared(tmp_path / "prepared")
    raw_params["prepare"]["output"] = str(tmp_path / "prepared")
    raw_params["inpainting"].update(
        image_size=48, buckets=[[10, 20], [30, 40]], classical=["harmonic", "telea"], grid_bucket=[30, 40],
        unseen_buckets=[[30, 40]],
        deep={"single_stage": {"steps": 3, "batch_size": 2, "crop": 32, "lr": 0.001,
                               "config": {"width": 8, "depth": 1, "blocks": 1, "disc_width": 8}},
              "progressive": {"steps": 3, "batch_size": 2, "crop": 16, "lr": 0.001,
                              "config": {"width": 8, "depth": 1, "blocks": 1}}},
        train_workers=max(2, cores()), cases_per_cell={"progressive": 0},   # 2 workers of one thread, as in this test
        masks_dir=str(tmp_path / "masks"), models_dir=str(tmp_path / "models"), reports=str(tmp_path / "reports"))
    params = parse_params(raw_params)

    assert masks.run(params)["count"] == 10   # 1 held-out photo x 2 buckets x 3 kinds + 1 unseen x 1 x 3 + 1 outpaint
    index = json.loads((tmp_path / "masks" / "index.json").read_text())
    assert [(e["set"], e["bucket"]) for e in index] == [("heldout", [10, 20])] * 3 + [("heldout", [30, 40])] * 3 + [
        ("unseen", [30, 40])] * 3 + [("outpaint", [20, 30])]          # a 10 px strip of 48: 38 px extended by 25 %
    assert [e["kind"] for e in index][-4:] == ["strokes", "rectangles", "box", "outpaint"]
    assert index[-1]["image"] == "chelsea" and index[-1]["ratio"] == round(10 / 48, 6)
    assert all(e["bucket"][0] <= 100 * e["ratio"] < e["bucket"][1] for e in index)

    trained = train_inpainting.run(params)        # both deep methods side by side, one core each
    assert list(trained) == ["single_stage", "progressive"]
    assert json.loads((tmp_path / "reports" / "train.json").read_text()) == json.loads(json.dumps(trained))
    for method, summary in trained.items():
        assert np.isfinite(summary["final_loss"]) and summary["steps"] == 3
        with open(tmp_path / "reports" / "train" / f"{method}.csv") as fh:   # the loss curves dvc.yaml plots
            curve = list(csv.DictReader(fh))
        assert curve and list(curve[0])[:2] == ["step", "loss"] and int(curve[-1]["step"]) == 3
    alone = parse_params({**raw_params, "inpainting": {**raw_params["inpainting"],     # the same training alone,
                          "models_dir": str(tmp_path / "alone"), "reports": str(tmp_path / "alone_reports")}})
    for method in trained:                                                  # in this process, on one thread
        fit(method, alone.inpainting, alone.prepare.output, alone.seed)
        _, worker_model = load_checkpoint(tmp_path / "models" / method)
        _, own_model = load_checkpoint(tmp_path / "alone" / method)
        for (name, a), b in zip(worker_model.state_dict().items(), own_model.state_dict().values()):
            assert torch.equal(a, b), (method, name)

    metrics = evaluate_inpainting.run(params)
    for method in ("harmonic", "telea", "single_stage"):
        for bucket in ("10-20", "30-40", "all"):
            assert 5 < metrics[f"{method}.{bucket}.hole_psnr"] < metrics[f"{method}.{bucket}.full_psnr"]
        assert 5 < metrics[f"{method}.unseen_30-40.hole_psnr"] and 0 < metrics[f"{method}.box.ssim"] < 1
        assert metrics[f"{method}.all.fid"] > 0 and np.isfinite(metrics[f"{method}.all.kid"])
        assert 5 < metrics[f"{method}.outpaint_all.hole_psnr"] < metrics[f"{method}.outpaint_all.full_psnr"]
    assert metrics["inception_images"] == 6 and "real_vs_real.all.fid" not in metrics    # 1 unseen photo: no floor
    with open(tmp_path / "reports" / "table.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0])[:14] == ["method", "set", "bucket", "kind", "n", "hole_psnr", "hole_psnr_lo", "hole_psnr_hi",
                                  "full_psnr", "full_psnr_lo", "full_psnr_hi", "ssim", "fid", "kid"]
    assert {r["method"] for r in rows} == {"harmonic", "telea", "single_stage"}
    assert {r["beats_initial_fill"] for r in rows if r["method"] == "single_stage"} <= {"yes", "no"}
    assert {r["beats_initial_fill"] for r in rows if r["method"] != "single_stage"} == {""}
    with open(tmp_path / "reports" / "ranking.csv") as fh:       # every method paired with harmonic, case by case
        ranked = [r for r in csv.DictReader(fh) if r["set"] == "heldout" and r["bucket"] == "all"]
    assert sorted(r["method"] for r in ranked) == ["single_stage", "telea"] and {r["n"] for r in ranked} == {"6"}
    assert float(ranked[0]["difference"]) >= float(ranked[1]["difference"])
    for r in ranked:
        assert float(r["difference"]) == pytest.approx(float(r["hole_psnr"]) - float(r["reference_hole_psnr"]), abs=2e-4)
        assert metrics[f"{r['method']}.all.hole_psnr"] == pytest.approx(float(r["hole_psnr"]), abs=2e-4)
    overall = [r for r in rows if r["set"] == "heldout" and r["bucket"] == r["kind"] == "all"]
    assert [int(r["n"]) for r in overall] == [6, 6, 6] and all(float(r["kid"]) == pytest.approx(
        metrics[f"{r['method']}.all.kid"]) for r in overall)
    assert {r["kid_lo"] for r in overall} == {""}             # the 6 FID cases come from one photo: no interval
    with open(tmp_path / "reports" / "kid_pairs.csv") as fh:       # ... and no paired KID differences
        assert list(csv.DictReader(fh)) == []
    assert {(r["set"], r["bucket"], r["kind"]) for r in rows if r["method"] == "telea"} == {
        ("heldout", "10-20", "all"), ("heldout", "30-40", "all"), ("heldout", "all", "all"),
        *(("heldout", "all", k) for k in ("strokes", "rectangles", "box")),
        ("unseen", "30-40", "all"), ("unseen", "all", "all"), *(("unseen", "all", k) for k in ("strokes", "rectangles", "box")),
        ("outpaint", "20-30", "all"), ("outpaint", "all", "all"), ("outpaint", "all", "outpaint")}
    assert sorted(p.name for p in (tmp_path / "reports" / "grids").iterdir()) == [
        "chelsea_box.png", "chelsea_rectangles.png", "chelsea_strokes.png", "outpaint_chelsea.png"]
    grid = load_image(tmp_path / "reports" / "grids" / "chelsea_box.png")
    assert grid.shape == (48 + 14 + 4, 6 * (48 + 4), 3)  # one row: input, 3 methods, ground truth

    from mlflow.tracking import MlflowClient

    from obscura.tracking import tracking_uri

    client = MlflowClient(tracking_uri())          # one comparable child run per method, the deep one champion
    runs = {r.info.run_name: r for r in client.search_runs([client.get_experiment_by_name("inpainting").experiment_id])}
    methods = ("harmonic", "telea", "single_stage")
    assert set(runs) == {"masks/photos", "train_inpainting/single_stage/photos", "train_inpainting/progressive/photos",
                         "evaluate_inpainting/photos",
                         *(f"evaluate_inpainting/{m}/photos" for m in (*methods, "progressive"))}
    keys = [set(runs[f"evaluate_inpainting/{m}/photos"].data.metrics) for m in methods]
    assert keys[0] == keys[1] == {k for k in keys[2] if not k.startswith("gain_")} >= {
        "hole_psnr", "hole_psnr_30_40", "full_psnr_10_20", "fid", "kid"}
    assert {"gain_hole_psnr", "gain_hole_psnr_outpaint_all"} <= keys[2]   # the deep method against its initial fill
    champion = client.get_model_version_by_alias("obscura-inpainting-single_stage", "champion")
    assert float(champion.tags["hole_psnr"]) == pytest.approx(metrics["single_stage.all.hole_psnr"])


def test_training_resumes_when_only_the_evaluation_image_size_changes(raw_params, tmp_path, one_torch_thread):
    """``inpainting.image_size`` sizes the evaluation photos only: it is not part of the training state."""
    from obscura.inpainting.deep.fit import fit

    fake_prepared(tmp_path / "prepared")
    raw_params["inpainting"].update(
        models_dir=str(tmp_path / "models"), reports=str(tmp_path / "reports"),
        deep={"diffusion": {"steps": 70, "batch_size": 1, "crop": 16, "lr": 0.001,
                            "config": {"width": 8, "depth": 1, "timesteps": 50}}})

    def crash(logs, step):
        if step >= 60:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fit("diffusion", parse_params(raw_params).inpainting, tmp_path / "prepared", 0, log=crash)
    raw_params["inpainting"]["image_size"] = 2 * raw_params["inpainting"]["image_size"]
    metrics = fit("diffusion", parse_params(raw_params).inpainting, tmp_path / "prepared", 0)
    assert metrics["resumed_from_step"] == 50 and metrics["steps"] == 70


def test_a_failing_method_fails_the_stage_with_its_message_and_no_summary(raw_params, tmp_path, mlflow_store):
    """A worker's error reaches the stage as the one message the user sees; train.json is not written."""
    from obscura.errors import ObscuraError

    fake_prepared(tmp_path / "prepared")
    tiny = {"steps": 2, "batch_size": 1, "crop": 16, "lr": 0.001, "config": {"width": 8, "depth": 1, "blocks": 1}}
    raw_params["prepare"]["output"] = str(tmp_path / "prepared")
    raw_params["inpainting"].update(deep={"single_stage": tiny, "coarse_to_fine": {**tiny, "crop": 64}},
                                    train_workers=2, models_dir=str(tmp_path / "models"),
                                    reports=str(tmp_path / "reports"))
    with pytest.raises(ObscuraError, match="training crop 64px is larger than images"):
        train_inpainting.run(parse_params(raw_params))
    assert not (tmp_path / "reports" / "train.json").exists()
    from mlflow.tracking import MlflowClient

    client = MlflowClient(mlflow_store)                 # no run is left RUNNING by the stopped workers
    runs = client.search_runs([client.get_experiment_by_name("inpainting").experiment_id])
    assert {r.info.run_name: r.info.status for r in runs}["train_inpainting/coarse_to_fine/photos"] == "FAILED"
    assert "RUNNING" not in {r.info.status for r in runs}


KILL_SCRIPT = r'''
import sys, yaml
from obscura.config import parse_params
from stages import train_inpainting
train_inpainting.run(parse_params(yaml.safe_load(open(sys.argv[1]))))
'''


def children(pid: int) -> list[int]:
    """Live processes whose parent is ``pid``."""
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        fields = dict(line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)
        if fields.get("PPid", "").strip() == str(pid) and not fields.get("State", "").startswith("Z"):
            found.append(int(status.parent.name))
    return found


@pytest.mark.slow
def test_kill_9_of_the_training_stage_stops_its_workers_and_a_rerun_resumes_every_method(raw_params, tmp_path,
                                                                                         mlflow_store):
    fake_prepared(tmp_path / "prepared")
    long = {"steps": 1500, "batch_size": 1, "crop": 16, "lr": 0.001, "config": {"width": 8, "depth": 1, "blocks": 1}}
    raw_params["prepare"]["output"] = str(tmp_path / "prepared")
    raw_params["inpainting"].update(deep={"single_stage": long, "coarse_to_fine": long}, train_workers=2,
                                    models_dir=str(tmp_path / "models"), reports=str(tmp_path / "reports"))
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw_params))
    log = open(tmp_path / "stage.log", "w")
    stage = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(tmp_path / "params.yaml")],
                             cwd=Path(__file__).parents[1], stderr=log)
    states = [tmp_path / ".state" / f"{m}.pt" for m in ("single_stage", "coarse_to_fine")]
    deadline = time.monotonic() + 300
    while not all(s.exists() for s in states):          # both trainings have checkpointed (every 50 steps)
        assert stage.poll() is None and time.monotonic() < deadline, (tmp_path / "stage.log").read_text()
        time.sleep(0.1)
    workers = children(stage.pid)
    assert len(workers) >= 2
    stage.send_signal(signal.SIGKILL)
    stage.wait()
    log.close()
    deadline = time.monotonic() + 5                     # not the ≥ 10 s their trainings have left
    while any(alive(pid) for pid in workers):
        assert time.monotonic() < deadline, "the workers outlived the stage"
        time.sleep(0.1)
    assert not (tmp_path / "reports" / "train.json").exists()
    from mlflow.tracking import MlflowClient

    client = MlflowClient(mlflow_store)                 # the workers closed their runs as they went
    runs = client.search_runs([client.get_experiment_by_name("inpainting").experiment_id])
    assert sorted((r.info.run_name, r.info.status) for r in runs) == [
        ("train_inpainting/coarse_to_fine/photos", "FAILED"), ("train_inpainting/single_stage/photos", "FAILED")]
    trained = train_inpainting.run(parse_params(raw_params))
    for method in ("single_stage", "coarse_to_fine"):
        assert trained[method]["resumed_from_step"] >= 50 and trained[method]["steps"] == 1500
    assert json.loads((tmp_path / "reports" / "train.json").read_text()) == json.loads(json.dumps(trained))
