"""The report page: MLflow run lookup, the viewer's splat encoding, the page built from the committed reports
(plus small synthetic pictures, orbit video and 3DGS model), and that page in headless Chromium."""

import csv
import json
import os
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from conftest import REPO

from obscura.config import parse_params
from obscura.io import save_image
from obscura.report import Runs, identify, splat_bytes, viewer_camera, write_report
from obscura.rendering.gaussians.ply import write_ply
from obscura.rendering.views import write_video

VIEWER_BUNDLE = REPO / "viewer" / "dist" / "splat-viewer.js"


def gaussians(n: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """``n`` gaussians on a coloured sphere shell, in the parameter names of write_ply."""
    g = torch.Generator().manual_seed(seed)
    means = torch.nn.functional.normalize(torch.randn(n, 3, generator=g), dim=1)
    return {"means": means, "sh_dc": ((means + 1) / 2 - 0.5)[:, None] / 0.28209479177387814,
            "sh_rest": torch.zeros(n, 15, 3), "opacity_logits": torch.full((n,), 2.0),
            "log_scales": torch.full((n, 3), -3.5), "quats": torch.tensor([[1.0, 0, 0, 0]]).repeat(n, 1)}


def test_runs_are_found_by_stage_and_names_in_either_naming_scheme():
    runs = Runs([identify("new", "3", "evaluate_generative/vae/fashion_mnist", {}, {"fid": 200.0}),
                 identify("old", "1", "evaluate_generative@vae", {"obscura.stage": "evaluate_generative@vae"},
                          {"fid": 226.75}),
                 identify("nerf", "2", "train_nerf@grid-orbit", {"dvc.stage": "train_nerf@grid-orbit"}, {}),
                 identify("inp", "1", "evaluate_inpainting", {}, {"harmonic.all.hole_psnr": 18.5})], ui="http://ui:5000/")
    assert runs.url("evaluate_generative", "vae") == "http://ui:5000/#/experiments/3/runs/new"      # newest first
    assert runs.url("evaluate_generative", "vae", metric="fid", value=226.75).endswith("/runs/old")  # the shown number
    assert runs.url("train_nerf", "grid", "orbit").endswith("/runs/nerf")
    assert runs.url("evaluate_generative", "gan") is None and runs.url("train_nerf", "vanilla", "orbit") is None
    assert runs.url("evaluate_inpainting").endswith("/runs/inp") and runs.url("evaluate_inpainting", "harmonic") is None
    assert Runs.from_store("sqlite:////nonexistent/mlflow.db").runs == []


def test_splat_encoding_keeps_the_most_visible_gaussians(tmp_path):
    t = gaussians(3)
    t["log_scales"][1] = -1.0                       # the biggest comes first
    t["opacity_logits"][2] = -8.0                   # nearly transparent: dropped when only 2 are kept
    t["quats"][0] = torch.tensor([0.0, 2.0, 0.0, 0.0])
    write_ply(tmp_path / "g.ply", t)
    data, total, means = splat_bytes(tmp_path / "g.ply", max_splats=2)
    rec = np.frombuffer(data, [("position", "<f4", 3), ("scale", "<f4", 3), ("rgba", "u1", 4), ("rot", "u1", 4)])
    assert total == 3 and len(rec) == 2 and len(data) == 64
    np.testing.assert_allclose(rec["position"], t["means"][[1, 0]].numpy(), rtol=1e-6)
    np.testing.assert_allclose(rec["scale"][0], np.exp(-1.0), rtol=1e-6)
    assert rec["rgba"][0, 3] == round(255 / (1 + np.exp(-2.0)))
    np.testing.assert_allclose(rec["rgba"][:, :3] / 255, (t["means"][[1, 0]].numpy() + 1) / 2, atol=1 / 255)
    assert rec["rot"][1].tolist() == [128, 255, 128, 128] and rec["rot"][0].tolist() == [255, 128, 128, 128]
    np.testing.assert_array_equal(means, rec["position"])


def test_viewer_starts_at_the_first_training_camera_looking_at_the_splats():
    pose = np.eye(4)
    pose[2, 3] = 5.0                                # camera at z = -5, looking along +z (OpenCV axes)
    means = np.array([[0.0, 0, 0], [0, 0, 1], [0, 1, 0]])
    camera = viewer_camera(means, pose[None])
    assert camera == {"up": [0.0, -1.0, 0.0], "position": [0.0, 0.0, -5.0], "look_at": [0.0, 0.0, 0.0]}
    assert viewer_camera(means, None)["up"] == [0.0, -1.0, 0.0]


def test_a_fresh_checkout_without_results_gets_a_page_saying_what_to_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    params = parse_params(yaml.safe_load((REPO / "params.yaml").read_text()))
    out = write_report(params, Path("reports/index.html"), Runs([]), {"commit": "abc1234"})
    page = out.read_text()
    assert page.count("No results yet") == 3 and "no results yet" in page
    assert "not linked" in page and "<img" not in page and "class='splat-viewer'" not in page
    assert (tmp_path / "reports/assets").is_dir()


def _ranking(rows: list[tuple]):
    import pandas as pd

    cols = ["method", "set", "bucket", "n", "difference", "difference_lo", "difference_hi", "wins"]
    return pd.DataFrame(rows, columns=cols)


@pytest.mark.parametrize("lo,best,headline", [
    (0.21, "single-stage CNN", "hole PSNR +0.61 dB [+0.21, +1.02] over harmonic on the 144 held-out cases both ran"),
    (-0.05, "push-pull", "hole PSNR +0.30 dB [+0.01, +0.59] over harmonic on the 36 held-out cases both ran"),
    (-0.05, "harmonic", "no method beats it on the same cases with an interval above 0; closest: single-stage CNN "
                        "+0.61 dB [-0.05, +1.02] over 144 held-out cases"),
])
def test_inpainting_pick_is_the_paired_ranking_not_the_plain_means(tmp_path, lo, best, headline):
    """The summary names the method furthest above the reference whose paired interval is above 0 (not simply the
    largest mean difference); the table lists every method's differences by test set, with their case counts."""
    from obscura.report import Page, Track

    params = parse_params(yaml.safe_load((REPO / "params.yaml").read_text()))
    pushed = [("push_pull", "heldout", "all", 36, 0.30, 0.01, 0.59, 20)] if best == "push-pull" else []
    ranked = _ranking([("telea", "heldout", "all", 432, -0.93, -1.04, -0.83, 41), *pushed,
                       ("single_stage", "heldout", "all", 144, 0.61, lo, 1.02, 103),
                       ("single_stage", "heldout", "30-40", 24, 0.07, 0.02, 0.12, 19),
                       ("single_stage", "unseen", "all", 24, 0.12, 0.06, 0.19, 20),
                       ("telea", "outpaint", "all", 24, -0.52, -0.94, -0.02, 6)])
    track = Track("inpainting", "Inpainting")
    order = Page(params, tmp_path, tmp_path / "assets", Runs([]))._inpainting_ranking(
        track, ranked, lambda m: lambda k, v: None)
    assert (track.best, track.headline) == (best, headline)
    assert order == ["single_stage", *(["push_pull"] if pushed else []), "telea"]
    page = track.tables[0]
    assert "+0.07 [+0.02, +0.12] (n 24)" in page and "+0.12 [+0.06, +0.19] (n 24)" in page
    assert "-0.52 [-0.94, -0.02] (n 24)" in page and "103 of 144" in page and "30–40 % holes" in page
    assert page.index("single-stage CNN") < page.index("telea")


class References(HTMLParser):
    def __init__(self):
        super().__init__()
        self.refs, self.text = [], []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for key in ("src", "href"):
            if a.get(key) and not a[key].startswith(("http:", "https:", "#")):
                self.refs.append(a[key])

    def handle_data(self, data):
        self.text.append(data)


@pytest.fixture(scope="module")
def built_page(tmp_path_factory):
    """The page built from a copy of the committed reports/ and small synthetic data/ outputs."""
    root = tmp_path_factory.mktemp("report")
    shutil.copytree(REPO / "reports", root / "reports", ignore=shutil.ignore_patterns("index.html", "assets"))
    rng = np.random.default_rng(0)
    for model in ("vae", "ddpm"):
        save_image(root / "data/generative" / model / "samples.png", rng.random((64, 64)))
        save_image(root / "data/generative" / model / "blend.png", rng.random((32, 320)))
    write_ply(root / "data/gaussians/orbit/point_cloud.ply", gaussians(3000))
    write_video(root / "data/gaussians/orbit/renders/orbit.mp4", rng.random((6, 48, 64, 3)))
    (root / "reports/inpainting/train/diffusion.csv").write_text("step,loss,eps_mse\n10,0.5,0.5\n20,0.3,0.3\n")
    table_csv = root / "reports/inpainting/table.csv"                 # outpainting rows (set outpaint)
    with open(table_csv) as fh:
        header = next(csv.reader(fh))
    with open(table_csv, "a", newline="") as fh:
        writer = csv.DictWriter(fh, header)
        for method, psnr in (("telea", 13.2468), ("harmonic", 13.5791)):
            writer.writerow({"method": method, "set": "outpaint", "bucket": "all", "kind": "all", "n": 24,
                             "hole_psnr": psnr, "hole_psnr_lo": round(psnr - 0.78, 2),
                             "hole_psnr_hi": round(psnr + 0.72, 2), "full_psnr": 20.1, "ssim": 0.81, "seconds": 0.02})
    shutil.rmtree(root / "reports/nerf", ignore_errors=True)   # a synthetic NeRF run replaces the committed ones:
    nerf = root / "reports/nerf/grid/orbit"                   # it beats the committed 3DGS orbit figure by 1 dB
    nerf.mkdir(parents=True)
    orbit_psnr = json.loads((root / "reports/gaussians/orbit/metrics.json").read_text())["test_psnr"]
    (nerf / "metrics.json").write_text(json.dumps({"test_psnr": orbit_psnr + 1, "test_ssim": 0.95,
                                                   "train_seconds": 900.0, "chamfer_distance": 0.0123}))
    (nerf / "train.csv").write_text("step,loss,psnr\n20,0.1,15.0\n40,0.05,18.0\n")
    save_image(nerf / "test_grid.png", rng.random((32, 64, 3)))
    write_video(root / "data/nerf/grid/orbit/orbit.mp4", rng.random((4, 32, 32, 3)))
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    raw["nerf"]["runs"] = {"grid-orbit": {"model": "grid", "scene": "orbit"}}
    params = parse_params(raw)
    vae_fid = json.loads((root / "reports/generative/vae/metrics.json").read_text())["fid"]
    runs = Runs([identify("vaerun", "4", "evaluate_generative/vae/fashion_mnist", {}, {"fid": vae_fid}),
                 identify("gsrun", "5", "train_gaussians/gaussians/orbit", {}, {})])
    cwd = Path.cwd()
    os.chdir(root)
    try:
        out = write_report(params, Path("reports/index.html"), runs, {"built": "2026-01-01 00:00 UTC", "commit": "abc1234"},
                           "seed: 0\n", VIEWER_BUNDLE)
    finally:
        os.chdir(cwd)
    return root / out


def test_page_is_a_report_not_a_dump(built_page):
    page = built_page.read_text()
    reports = built_page.parent
    sfm_points = json.loads((reports / "sfm/orbit.json").read_text())["num_points3d_filtered"]
    orbit_psnr = json.loads((reports / "gaussians/orbit/metrics.json").read_text())["test_psnr"]
    first_loss = (reports / "generative/ae/loss.csv").read_text().splitlines()[1].split(",")[2]
    parser = References()
    parser.feed(page)
    missing = [r for r in parser.refs if not (built_page.parent / r).is_file()]
    assert not missing, missing
    text = " ".join(parser.text)
    headings = re.findall(r"<h[1-4][^>]*>(.*?)</h[1-4]>", page)
    assert headings[:3] == ["Obscura report", "Summary", "Generative models (Fashion-MNIST)"]
    assert not [h for h in headings if re.search(r"\.(json|csv|png)|/", h)]            # no file names as headings
    assert page.index("Summary") < page.index("<table") < page.index("<img")            # summary, tables, pictures
    start = page.rindex("<table", 0, page.index("Outpainting (expand image)"))   # its table: best strip PSNR first
    outpainting = page[start:page.index("</table>", start)]
    start = page.index("Gain over its initial fill")                      # the main table follows ranking.csv:
    means = page[start:page.index("</table>", start)]                     # diffusion's plain mean is below
    assert means.index(">diffusion<") < means.index(">push-pull<")        # push-pull's, its paired difference above
    assert outpainting.index("13.58") < outpainting.index("13.25") and "[12.80, 14.30]" in outpainting
    for phrase in ("Hole PSNR (dB)", "n (cases)", "Full-image PSNR (dB)", "Time (s per image)", "real vs real (floor)",
                   "magenta", f"{sfm_points:,} points after outlier filtering", "Held-out PSNR (dB)",
                   "Every method against harmonic on the cases both ran",
                   "commit: <b>abc1234</b>"):
        assert phrase in page, phrase
    ref = json.loads((reports / "generative/reference.json").read_text())
    assert re.search(rf"{ref['fid_samples']:,} generated images with\s+{ref['real_samples']:,} Fashion-MNIST test "
                     "images", text)
    assert re.search(r"KID ×10³ [\d.]+ ± [\d.]+ \(real-vs-real floor [\d.]+\), FID [\d.]+ \(floor", text)  # KID leads
    assert "logical cores" in text and f"{orbit_psnr:.2f}" in page                      # CPU named; 3DGS orbit PSNR
    assert "biharmonic.01-10.hole_psnr" not in page and first_loss not in page           # no JSON / CSV dumps
    assert "http://127.0.0.1:5000/#/experiments/4/runs/vaerun" in page                   # numbers link to runs
    assert page.count("/runs/gsrun") >= 5
    for asset in ("generative/vae-loss.png", "inpainting/diffusion-loss.png", "generative/vae-samples.png",
                  "generative/ddpm-blend.png", "rendering/gaussians-orbit-orbit.mp4", "rendering/gaussians-orbit-curve.png"):
        assert f"assets/{asset}" in page
    assert "../data/gaussians/orbit/point_cloud.ply" in parser.refs
    assert f"{orbit_psnr + 1:.2f}" in page and "assets/rendering/grid-orbit-orbit.mp4" in page
    assert "orbit: NeRF (hash grid); room: 3D Gaussian Splatting" in page          # best per scene in the summary
    assert VIEWER_BUNDLE.is_file(), "the viewer bundle is built by `make setup` (npm ci && npm run build in viewer/)"
    assert "assets/viewer/splat-viewer.js" in parser.refs and "class='splat-viewer'" in page


@pytest.mark.slow
def test_page_in_headless_chromium(built_page, tmp_path):
    from browser import check_page, chromium

    assert chromium() is not None, "chromium is not installed (make setup installs it with apt-get)"
    assert VIEWER_BUNDLE.is_file(), f"{VIEWER_BUNDLE} is not built (make setup runs npm ci && npm run build in viewer/)"
    shot = tmp_path / "page.png"
    result = check_page(built_page, shot, viewer_shots=tmp_path)
    assert result.settled and not result.errors and not result.broken_images, result
    assert result.viewer_states == ["ready"]
    from PIL import Image

    page = np.asarray(Image.open(shot).convert("L"), float)
    assert page.shape == (1600, 1280) and page.std() > 20                   # text and tables, not a blank page
    viewer = np.asarray(Image.open(tmp_path / "viewer-0.png").convert("RGB"), float)
    assert (viewer.max(2) > 40).mean() > 0.01 and viewer.std() > 10        # the splats were drawn on black


def test_without_the_viewer_bundle_the_viewers_say_so_instead_of_loading_forever(built_page, tmp_path):
    root = tmp_path / "copy"
    shutil.copytree(built_page.parent.parent, root)
    params = parse_params(yaml.safe_load((REPO / "params.yaml").read_text()))
    cwd = Path.cwd()
    os.chdir(root)
    try:
        out = write_report(params, Path("reports/index.html"), Runs([]), {}, "", tmp_path / "no-bundle.js")
    finally:
        os.chdir(cwd)
    page = (root / out).read_text()
    assert "class='splat-viewer' data-state='missing'>The interactive 3D viewer is not built" in page
    assert "<script" not in page and not list((root / "reports/assets/rendering").glob("*.splat.js"))
    assert "../data/gaussians/orbit/point_cloud.ply" in page                # the full model is still linked


def test_provenance_flags_changed_files_but_not_the_pages_own_outputs(tmp_path, monkeypatch):
    """dvc deletes the report's outputs before the stage runs: that alone is not an uncommitted change."""
    import subprocess

    from stages.report import provenance

    monkeypatch.chdir(tmp_path)
    (tmp_path / "reports/assets").mkdir(parents=True)
    for name in ("reports/index.html", "reports/assets/a.png", "params.yaml"):
        (tmp_path / name).write_text("x")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "c"], check=True)
    (tmp_path / "reports/index.html").unlink()
    (tmp_path / "reports/assets/a.png").unlink()
    assert "uncommitted" not in provenance("seed: 0\n")["commit"]
    (tmp_path / "params.yaml").write_text("y")
    assert provenance("seed: 0\n")["commit"].endswith(" (with uncommitted changes)")
