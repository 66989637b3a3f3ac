"""3D Gaussian Splatting: density control, training, resume, .ply export and bad input (tiny scenes)."""

import json
import math

import numpy as np
import pytest
import torch

from obscura.errors import ObscuraError
from obscura.metrics import psnr
from obscura.rendering.gaussians.model import GaussianModel
from obscura.rendering.gaussians.ply import read_ply, write_ply
from obscura.rendering.gaussians.registry import make_config
from obscura.rendering.gaussians.strategy import DensityControl, make_optimizer
from obscura.rendering.gaussians.train import GaussianTask, init_model, load, scene_cameras, train
from obscura.rendering.scenes import build_scene, make_scene

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    """A 12-view 64x48 orbit scene with ground-truth cameras and surface points (no SfM needed)."""
    root = tmp_path_factory.mktemp("gs") / "orbit"
    make_scene("orbit", build_scene("orbit", 12, 64, 48), root, supersample=1, gt_points=1500, progress=False)
    return root



def model_with(n: int, config=None) -> GaussianModel:
    g = torch.Generator().manual_seed(0)
    model = GaussianModel(config or make_config(tiny=True))
    quats = torch.zeros(n, 4)
    quats[:, 0] = 1
    model.set_tensors({"means": torch.randn(n, 3, generator=g), "log_scales": torch.full((n, 3), math.log(0.01)),
                       "quats": quats, "opacity_logits": torch.zeros(n), "sh_dc": torch.rand(n, 1, 3, generator=g),
                       "sh_rest": torch.zeros(n, 15, 3)})
    return model


def test_refine_clones_small_splits_large_and_prunes_transparent():
    config = make_config(tiny=True, percent_dense=0.05, grad_threshold=1e-3, max_gaussians=100)
    model = model_with(10, config)
    with torch.no_grad():
        model.log_scales[5:7] = math.log(0.2)             # 0.2 > 0.05 x extent 1: split
        model.opacity_logits[9] = -10.0                   # opacity 4.5e-5 < 0.005: pruned
    optimizer = make_optimizer(model)
    control = DensityControl(config, extent=1.0)
    control.reset(10)
    control.count[:] = 2
    control.grad_sum[[0, 1, 2, 5, 6]] = 0.01              # mean 5e-3 >= 1e-3: gaussians 0-2 clone, 5-6 split
    logs = control.refine(20, model, optimizer, torch.Generator().manual_seed(1))
    assert logs == {"cloned": 3.0, "split": 2.0, "pruned": 1.0}
    assert len(model) == 10 + 3 + 2 * 2 - 2 - 1
    assert len(optimizer.param_groups[0]["params"][0]) == len(model)
    scales = torch.exp(model.log_scales.detach()).max(1).values
    assert torch.isclose(scales, torch.tensor(0.2 / 1.6)).sum() == 4   # each split into two, scale / (0.8 * 2)
    assert len(control.grad_sum) == len(model) and control.count.sum() == 0


def test_refine_respects_the_gaussian_cap():
    config = make_config(tiny=True, grad_threshold=1e-3, max_gaussians=12)
    model = model_with(10, config)
    control = DensityControl(config, extent=1.0)
    control.reset(10)
    control.count[:] = 1
    control.grad_sum[:] = torch.linspace(0.002, 0.02, 10)   # all want to clone; room for 2: the strongest two
    control.refine(20, model, make_optimizer(model), torch.Generator())
    assert len(model) == 12


def test_opacity_reset_caps_opacity_and_clears_its_moments():
    model = model_with(5)
    optimizer = make_optimizer(model)
    model.opacity_logits.grad = torch.ones(5)
    optimizer.step()
    DensityControl.reset_opacity(model, optimizer)
    assert model.opacities.max() <= 0.01 + 1e-6
    assert optimizer.state[model.opacity_logits]["exp_avg_sq"].abs().sum() == 0


def test_tiny_scene_loss_falls_and_beats_a_constant_image(scene):
    cams = scene_cameras(scene, "ground_truth")
    config = make_config(tiny=True, steps=60, opacity_reset_every=1000)
    task = GaussianTask(init_model(config, cams, 0), cams, 0)
    losses = [task.step(s, torch.Generator().manual_seed(s))["loss"] for s in range(60)]
    assert np.mean(losses[-10:]) < 0.85 * np.mean(losses[:10])
    images = cams.load_images(cams.train)
    model = task.model.eval()
    with torch.no_grad():
        ours = [psnr(model.render(cams.intrinsics, cams.poses[i], task.background)["rgb"].clamp(0, 1), im)
                for i, im in zip(cams.train, images)]
    constant = [psnr(np.broadcast_to(images.mean((0, 1, 2)), im.shape), im) for im in images]
    assert np.mean(ours) > np.mean(constant) + 2


def test_interrupted_training_resumes_to_the_same_gaussians(scene, tmp_path):
    config = make_config(tiny=True, steps=40, refine_start=10, refine_every=10, refine_stop=30)

    def crash(logs, step):
        if step == 25:
            raise KeyboardInterrupt

    ref, _ = train(scene, tmp_path / "ref", config, "ground_truth", seed=3, checkpoint_every=10, progress=False)
    with pytest.raises(KeyboardInterrupt):
        train(scene, tmp_path / "run", config, "ground_truth", seed=3, checkpoint_every=10, log=crash,
              log_every=5, progress=False)
    assert not (tmp_path / "run").exists() and (tmp_path / ".run.state.pt").is_file()
    resumed, result = train(scene, tmp_path / "run", config, "ground_truth", seed=3, checkpoint_every=10,
                            progress=False)
    assert result["metrics"]["resumed_from_step"] == 20 and len(resumed) == len(ref)
    for name in ("means", "log_scales", "quats", "opacity_logits", "sh_dc", "sh_rest"):
        assert torch.equal(getattr(resumed, name), getattr(ref, name)), name
    loaded, payload = load(tmp_path / "run")
    assert payload["poses"] == "ground_truth" and torch.equal(loaded.means, resumed.means)
    assert not (tmp_path / ".run.state.pt").exists()


def test_ply_round_trip_is_exact(tmp_path):
    model = model_with(7)
    with torch.no_grad():
        model.sh_rest.normal_()
    tensors = {k: getattr(model, k).detach() for k in ("means", "log_scales", "quats", "opacity_logits", "sh_dc",
                                                        "sh_rest")}
    back = read_ply(write_ply(tmp_path / "point_cloud.ply", tensors))
    assert all(torch.equal(back[k], v) for k, v in tensors.items())
    from plyfile import PlyData

    names = PlyData.read(str(tmp_path / "point_cloud.ply"))["vertex"].data.dtype.names
    assert names[:9] == ("x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2")
    assert names[9:54] == tuple(f"f_rest_{i}" for i in range(45)) and names[54:] == (
        "opacity", "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3")


def test_bad_ply_files_are_one_clear_error(tmp_path):
    with pytest.raises(ObscuraError, match="no such file"):
        read_ply(tmp_path / "missing.ply")
    (tmp_path / "empty.ply").write_bytes(b"")
    with pytest.raises(ObscuraError, match="not a readable PLY"):
        read_ply(tmp_path / "empty.ply")
    from obscura.rendering.cameras import write_ply as write_points

    write_points(tmp_path / "points.ply", np.random.rand(5, 3), np.random.rand(5, 3))
    with pytest.raises(ObscuraError, match="not a 3D Gaussian Splatting point cloud"):
        read_ply(tmp_path / "points.ply")


def test_scene_without_sfm_asks_for_obscura_sfm(scene, tmp_path):
    with pytest.raises(ObscuraError, match="obscura sfm"):
        train(scene, tmp_path / "out", make_config(tiny=True), "sfm", progress=False)
    assert not (tmp_path / "out").exists()


def test_splat_cli_train_render_export(scene, tmp_path):
    from typer.testing import CliRunner

    from obscura.cli import app

    runner = CliRunner()
    out = tmp_path / "model"
    result = runner.invoke(app, ["splat", "train", str(scene), str(out), "--iterations", "12", "--poses",
                                 "ground_truth"])
    assert result.exit_code == 0, result.output
    assert (out / "model.pt").is_file() and (out / "point_cloud.ply").is_file()
    result = runner.invoke(app, ["splat", "render", str(out), "--views", "test"])
    assert result.exit_code == 0 and '"test_psnr"' in result.output
    assert len(list((out / "renders" / "test").glob("*_depth.png"))) == 2
    assert runner.invoke(app, ["splat", "render", str(out), "--views", "orbit", "--frames", "4"]).exit_code == 0
    assert (out / "renders" / "orbit.mp4").is_file()
    assert runner.invoke(app, ["splat", "export", str(out), str(tmp_path / "x.ply")]).exit_code == 0
    back = read_ply(tmp_path / "x.ply")
    assert torch.equal(back["means"], load(out)[0].means.detach())
    from_ply = runner.invoke(app, ["splat", "render", str(tmp_path / "x.ply"), "--scene", str(scene), "--poses",
                                   "ground_truth", "--views", "test"])
    assert from_ply.exit_code == 0, from_ply.output
    scores = [json.loads(r.output[r.output.index("{\n"):])["test_psnr"] for r in (from_ply, result)]
    assert scores[0] == scores[1]
    assert len(list((tmp_path / "renders" / "test").glob("*_depth.png"))) == 2
    no_scene = runner.invoke(app, ["splat", "render", str(tmp_path / "x.ply")])
    assert no_scene.exit_code == 2 and "--scene" in no_scene.output
    bad = runner.invoke(app, ["splat", "train", str(scene), str(tmp_path / "none"), "--iterations", "5"])
    assert bad.exit_code == 2 and "obscura sfm" in bad.output and not (tmp_path / "none").exists()
