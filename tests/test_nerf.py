"""NeRF: volume rendering against closed forms, samplers, rays, occupancy grid, tiny training runs
(loss falls, renders beat a flat image, resume is exact, NaN stops cleanly), the stage end to end,
the CLI and bad input."""

import json
import math

import numpy as np
import pytest
import torch
import yaml
from typer.testing import CliRunner

from obscura.cli import app
from obscura.errors import ObscuraError
from obscura.methods import TrainingDiverged, run_loop
from obscura.metrics import psnr
from obscura.rendering.cameras import Intrinsics, look_at, project
from obscura.rendering.nerf.hashgrid import HashGrid, hash_encode_reference
from obscura.rendering.nerf.occupancy import OccupancyGrid
from obscura.rendering.nerf.registry import MODELS
from obscura.rendering.nerf.train import (
    NerfTask,
    RaySampler,
    build_model,
    render_image,
    scene_cameras,
)
from obscura.rendering.nerf.volume import (
    contract,
    distortion,
    render_weights,
    sample_pdf,
    stratified,
)
from obscura.rendering.rays import rays
from obscura.rendering.scene_format import SceneCameras
from obscura.rendering.scenes import build_scene, make_scene


@pytest.fixture(autouse=True)
def _threads():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def tiny_scene(tmp_path_factory):
    """A 10-view 64x48 orbit scene with ground truth (no SfM)."""
    out = tmp_path_factory.mktemp("scenes") / "tiny"
    make_scene("tiny", build_scene("orbit", 10, 64, 48), out, supersample=1, gt_points=300, seed=3, progress=False)
    return out


def test_constant_density_slab_matches_the_analytic_transmittance():
    """σ = 2 on [1, 2] along two rays sampled at different rates: T(t) = exp(−σ·overlap), opacity 1 − e^−2."""
    ids, t0s, t1s = [], [], []
    for ray, n in ((0, 30), (1, 300)):
        edges = torch.linspace(0, 3, n + 1)
        ids.append(torch.full((n,), ray))
        t0s.append(edges[:-1])
        t1s.append(edges[1:])
    ray_ids, t0, t1 = torch.cat(ids), torch.cat(t0s), torch.cat(t1s)
    sigma = torch.where(((t0 + t1) / 2 > 1) & ((t0 + t1) / 2 < 2), 2.0, 0.0)
    weights, trans = render_weights(sigma, t1 - t0, ray_ids, 2)
    expected = torch.exp(-2.0 * (t0.clamp(1, 2) - 1))
    np.testing.assert_allclose(trans.numpy(), expected.numpy(), atol=1e-5)
    opacity = torch.zeros(2).index_add(0, ray_ids, weights)
    np.testing.assert_allclose(opacity.numpy(), 1 - math.exp(-2), atol=1e-5)


def test_hash_encoding_kernels_match_the_torch_reference():
    grid = HashGrid(levels=6, features=2, log2_size=10, min_res=3, max_res=200, seed=1)
    assert grid.hashed.any() and not grid.hashed.all()            # both lookups are exercised
    with torch.no_grad():
        grid.table.uniform_(-1, 1)
    x = torch.rand(2000, 3, generator=torch.Generator().manual_seed(0))
    out = grid(x)
    ref = hash_encode_reference(x, grid.table, grid.res, grid.hashed)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
    w = torch.randn(out.shape, generator=torch.Generator().manual_seed(1))
    (out * w).sum().backward()
    fast = grid.table.grad.clone()
    grid.table.grad = None
    (ref * w).sum().backward()
    torch.testing.assert_close(fast, grid.table.grad, atol=1e-4, rtol=1e-4)
    assert fast.abs().sum() > 0


def test_distortion_loss_matches_the_pairwise_sum_and_prefers_a_surface_to_fog():
    g = torch.Generator().manual_seed(0)
    counts = [5, 1, 7]
    ray_ids = torch.repeat_interleave(torch.arange(3), torch.tensor(counts))
    t0 = torch.cat([torch.sort(torch.rand(k, generator=g) * 4).values for k in counts])
    t1 = t0 + torch.rand(len(t0), generator=g) * 0.2
    w = torch.rand(len(t0), generator=g)
    expected = 0.0
    for r in range(3):
        sel = ray_ids == r
        m, d, wr = (t0[sel] + t1[sel]) / 2, t1[sel] - t0[sel], w[sel]
        expected += float((wr[:, None] * wr[None] * (m[:, None] - m[None]).abs()).sum() + (wr ** 2 * d).sum() / 3)
    assert float(distortion(w, t0, t1, ray_ids, 3)) == pytest.approx(expected / 3, rel=1e-5)
    edges = torch.linspace(0, 1, 33)
    ids = torch.zeros(32, dtype=torch.long)
    fog, surface = torch.full((32,), 1 / 32), torch.zeros(32)
    surface[10] = 1.0
    assert distortion(surface, edges[:-1], edges[1:], ids, 1) < distortion(fog, edges[:-1], edges[1:], ids, 1) / 5


def test_hierarchical_sampling_follows_the_coarse_weights():
    near, far = torch.zeros(4), torch.full((4,), 8.0)
    edges, mids = stratified(near, far, 8, torch.Generator().manual_seed(0))
    assert ((mids > edges[:, :-1]) & (mids < edges[:, 1:])).all()
    weights = torch.full((4, 8), 0.01)
    weights[:, 5] = 1.0                                       # bin [5, 6] holds the surface
    fine = sample_pdf(edges, weights, 64, torch.Generator().manual_seed(1))
    inside = ((fine >= 5) & (fine <= 6)).float().mean()
    assert inside > 0.8                                       # uniform sampling would put 1/8 there
    assert (fine.diff(dim=-1) >= 0).all()


def test_sampled_rays_pass_through_their_target_pixels(tmp_path):
    """Each training ray, projected back with K[R|t], lands in the pixel whose colour it is paired with."""
    from obscura.io import save_image

    intr = Intrinsics.from_fov(20, 15, 60)
    pose = look_at((1.5, -2.0, 1.0), (0.0, 0.0, 0.2))
    v, u = np.mgrid[:15, :20]
    image = np.stack([u / 19, v / 14, np.zeros_like(u, float)], -1)
    path = save_image(tmp_path / "0.png", image)
    cams = SceneCameras(intr, ["0.png"], [path], pose[None], [0], [], "ground_truth")
    origins, dirs, target = RaySampler(cams, [0]).batch(200, torch.Generator().manual_seed(0))
    np.testing.assert_allclose(dirs.norm(dim=-1).numpy(), 1, atol=1e-6)
    uv, z = project(intr.K, pose, (origins + 2 * dirs).double().numpy())
    assert (z > 0).all()
    col, row = np.floor(uv[:, 0]).astype(int), np.floor(uv[:, 1]).astype(int)
    np.testing.assert_allclose(target[:, 0].numpy(), np.round(col / 19 * 255) / 255, atol=1e-6)
    np.testing.assert_allclose(target[:, 1].numpy(), np.round(row / 14 * 255) / 255, atol=1e-6)
    np.testing.assert_allclose(origins.numpy(), np.broadcast_to(-pose[:3, :3].T @ pose[:3, 3], (200, 3)), atol=1e-5)


def test_occupancy_grid_never_culls_a_dense_cell():
    grid = OccupancyGrid((8, 8, 8), threshold=1.0)
    dense = torch.zeros(8, 8, 8, dtype=torch.bool)
    dense[2:5, 3:7, 1:3] = True
    dense[7, 0, 7] = True

    def density(points):                                      # 50 in the dense cells, 0.01 elsewhere
        ijk = ((points + 1) / 2 * 8).long().clamp(0, 7)
        return torch.where(dense[ijk[:, 0], ijk[:, 1], ijk[:, 2]], 50.0, 0.01)

    gen = torch.Generator().manual_seed(0)
    grid.update(density, gen)
    assert torch.equal(grid.mask, dense)
    for _ in range(40):                                       # partial updates + decay keep dense cells
        grid.update(density, gen, fraction=0.25)
        assert grid.mask[dense].all()
    assert not grid.mask[~dense].any()


def test_contraction_is_identity_inside_and_bounded_outside():
    x = torch.tensor([[0.3, -0.5, 0.9], [3.0, 0.0, 0.0], [1e6, -2e6, 5.0]])
    y = contract(x)
    np.testing.assert_allclose(y[0].numpy(), x[0].numpy() / 2)
    assert y.abs().max() <= 1.0 and y[1, 0] == pytest.approx((2 - 1 / 3) / 2)


@pytest.mark.parametrize("name", ["grid", "vanilla"])
def test_tiny_model_learns_and_beats_a_flat_image(tiny_scene, name):
    cams = scene_cameras(tiny_scene, "ground_truth")
    model = build_model(name, MODELS.make(name, tiny=True, steps=60), cams)
    task = NerfTask(model, RaySampler(cams, cams.train))
    result = run_loop(task, 60, log_every=10, progress=False)
    losses = [r["loss"] for r in result.rows]
    assert losses[-1] < 0.85 * losses[0]
    view = cams.train[0]
    target = cams.load_images([view])[0]
    out = render_image(model, cams.intrinsics, cams.poses[view])
    assert out["rgb"].shape == target.shape and out["depth"].shape == target.shape[:2]
    flat = np.broadcast_to(target.mean((0, 1)), target.shape)
    assert psnr(out["rgb"], target) > psnr(flat, target) + 1.0


@pytest.mark.parametrize("name", ["grid", "vanilla"])
def test_render_does_not_depend_on_the_chunk_size(tiny_scene, name):
    """Rays are rendered independently: the config's ``render_chunk`` only changes speed."""
    cams = scene_cameras(tiny_scene, "ground_truth")
    model = build_model(name, MODELS.make(name, tiny=True, steps=20), cams)
    run_loop(NerfTask(model, RaySampler(cams, cams.train)), 20, progress=False)
    pose = cams.poses[cams.test[0]]
    whole = render_image(model, cams.intrinsics, pose, chunk=10**6)
    for chunk in (37, None):                                       # None: the config's render_chunk
        out = render_image(model, cams.intrinsics, pose, chunk=chunk)
        for key in ("rgb", "depth", "samples_per_ray"):
            np.testing.assert_allclose(out[key], whole[key], atol=1e-5)
    with pytest.raises(ObscuraError, match="render_chunk"):
        MODELS.make(name, render_chunk=0)


def test_grid_render_reusing_the_visibility_pass_equals_a_full_network_pass(tiny_scene):
    cams = scene_cameras(tiny_scene, "ground_truth")
    model = build_model("grid", MODELS.make("grid", tiny=True, steps=30), cams)
    run_loop(NerfTask(model, RaySampler(cams, cams.train)), 30, progress=False)
    origins, dirs = (a.reshape(-1, 3) for a in rays(cams.intrinsics, cams.poses[cams.test[0]]))
    dirs = dirs / dirs.norm(dim=-1, keepdim=True)
    model.eval()
    with torch.no_grad():
        reused = model.render_rays(origins, dirs)
    full = model.render_rays(origins, dirs)                       # with gradients: densities recomputed
    assert reused["samples"] == full["samples"] > 0
    for key in ("rgb", "acc", "depth"):
        torch.testing.assert_close(reused[key], full[key].detach(), atol=1e-5, rtol=1e-4)


def test_grid_visibility_mask_matches_a_ray_by_ray_front_to_back_reference(tiny_scene):
    cams = scene_cameras(tiny_scene, "ground_truth")
    model = build_model("grid", MODELS.make("grid", tiny=True, steps=30, early_stop=0.2), cams)
    run_loop(NerfTask(model, RaySampler(cams, cams.train)), 30, progress=False)
    origins, dirs = (a.reshape(-1, 3)[::3] for a in rays(cams.intrinsics, cams.poses[cams.test[0]]))
    origins, dirs = model.to_box_frame(origins, dirs / dirs.norm(dim=-1, keepdim=True))
    ray_ids, t0, t1 = samples = model.march(origins, dirs)
    mask, (sigma, _) = model.visible(origins, dirs, samples, len(origins), window=4, keep="outputs")
    with torch.no_grad():
        every = model.density(model.to_unit(origins[ray_ids] + ((t0 + t1) / 2)[:, None] * dirs[ray_ids]))
    expected = torch.zeros_like(mask)
    for ray in range(len(origins)):              # windows of 4 samples while the optical depth stays below -log 0.2
        idx = torch.nonzero(ray_ids == ray).squeeze(1)
        depth = 0.0
        for first in range(0, len(idx), 4):
            if depth >= -math.log(0.2):
                break
            window = idx[first:first + 4]
            expected[window] = True
            depth += float((every[window] * (t1[window] - t0[window])).sum())
    assert 0 < int(mask.sum()) < len(mask)        # some rays stop early, some samples are kept
    assert torch.equal(mask, expected)
    torch.testing.assert_close(sigma[mask], every[mask], atol=1e-6, rtol=1e-5)


def test_grid_training_pass_reusing_the_visibility_encodings_gives_the_same_loss_and_gradients(tiny_scene,
                                                                                               monkeypatch):
    from obscura.rendering.nerf import hashgrid

    cams = scene_cameras(tiny_scene, "ground_truth")
    model = build_model("grid", MODELS.make("grid", tiny=True, steps=30), cams)
    run_loop(NerfTask(model, RaySampler(cams, cams.train)), 30, progress=False)
    origins, dirs = (a.reshape(-1, 3)[::7] for a in rays(cams.intrinsics, cams.poses[cams.train[0]]))
    dirs = dirs / dirs.norm(dim=-1, keepdim=True)
    target = torch.rand(len(origins), 3, generator=torch.Generator().manual_seed(0))
    kernel, encoded = hashgrid._encode, []

    def counting(x, *args):
        encoded.append(len(x))
        return kernel(x, *args)

    monkeypatch.setattr(hashgrid, "_encode", counting)

    def loss_and_grads():
        encoded.clear()
        model.zero_grad()
        out = model.render_rays(origins, dirs, torch.Generator().manual_seed(1), max_samples=4096)
        loss = ((out["rgb"] - target[:out["n_rays"]]) ** 2).mean()
        loss.backward()
        return out["samples"], loss.detach(), [p.grad.clone() for p in model.parameters()], sum(encoded)

    reused = loss_and_grads()
    encode = hashgrid.HashGrid.forward
    monkeypatch.setattr(hashgrid.HashGrid, "forward", lambda self, x, encoded=None: encode(self, x))  # encode again
    again = loss_and_grads()
    assert reused[0] == again[0] > 0
    assert again[3] == reused[3] + again[0], "with reuse the kept samples are not encoded a second time"
    assert torch.equal(reused[1], again[1])
    assert any(g.abs().sum() > 0 for g in reused[2])
    for a, b in zip(reused[2], again[2]):
        assert torch.equal(a, b)


def test_resume_gives_the_same_state_as_an_uninterrupted_run(tiny_scene, tmp_path):
    cams = scene_cameras(tiny_scene, "ground_truth")

    def task():
        return NerfTask(build_model("grid", MODELS.make("grid", tiny=True, steps=14), cams), RaySampler(cams, cams.train))

    straight = task()
    run_loop(straight, 14, seed=5, progress=False)

    class Killed(Exception):
        pass

    def kill(step):
        raise Killed

    state = tmp_path / "state.pt"
    with pytest.raises(Killed):
        run_loop(task(), 14, seed=5, state_path=state, checkpoint_every=4, hooks=[(10, kill)], progress=False)
    resumed = task()
    result = run_loop(resumed, 14, seed=5, state_path=state, checkpoint_every=4, progress=False)
    assert result.resumed_from == 8
    a, b = straight.state_dict(), resumed.state_dict()
    for key, value in a["model"].items():
        assert torch.equal(value, b["model"][key]), key
    assert a["rays_seen"] == b["rays_seen"]


def test_nan_stops_with_the_step_and_keeps_the_last_good_state(tiny_scene, tmp_path):
    cams = scene_cameras(tiny_scene, "ground_truth")
    model = build_model("grid", MODELS.make("grid", tiny=True, steps=10), cams)

    def poison(step):
        if step == 4:
            model.encoding.table.data.fill_(float("nan"))

    state = tmp_path / "state.pt"
    with pytest.raises(TrainingDiverged, match=r"step [0-9]+; stopped.*the last good state is kept"):
        run_loop(NerfTask(model, RaySampler(cams, cams.train)), 10, state_path=state, checkpoint_every=2,
                 hooks=[(1, poison)], progress=False)
    assert state.is_file()


def test_stage_end_to_end_on_a_tiny_scene(tiny_scene, raw_params, tmp_path, mlflow_store):
    from obscura.config import parse_params
    from stages import train_nerf

    raw_params["scenes"]["output"] = str(tiny_scene.parent)
    raw_params["nerf"].update(output=str(tmp_path / "data"), reports=str(tmp_path / "reports"), orbit_frames=3,
                              mesh_voxels=64, log_every=5, checkpoint_every=5,
                              runs={"grid-tiny": {"model": "grid", "scene": "tiny", "poses": "ground_truth",
                                                  "config": MODELS.config_class("grid").tiny_overrides}})
    metrics = train_nerf.run(parse_params(raw_params), "grid-tiny")
    reports, data = tmp_path / "reports" / "grid" / "tiny", tmp_path / "data" / "grid" / "tiny"
    on_disk = json.loads((reports / "metrics.json").read_text())
    for key in ("test_psnr", "test_ssim", "train_psnr", "train_seconds", "train_rays_per_second",
                "render_seconds_per_frame", "peak_memory_mb", "samples_per_ray", "chamfer_distance"):
        assert np.isfinite(on_disk[key]), key
    assert on_disk["test_psnr"] == metrics["test_psnr"] > 8
    assert on_disk["mesh_vertices"] > 100                          # the TSDF fusion found a surface
    assert (reports / "views.csv").read_text().startswith("name,psnr,ssim")
    for path in (reports / "test_grid.png", reports / "depth_grid.png", reports / "mesh.png", reports / "train.csv",
                 data / "model.pt", data / "orbit.mp4", data / "mesh.ply", data / "renders" / "000_depth.png"):
        assert path.stat().st_size > 0, path
    assert not list((tmp_path / "data" / "grid").glob(".*"))     # no training state or temporary left


def test_cli_trains_renders_and_meshes(tiny_scene, tmp_path, monkeypatch):
    monkeypatch.setenv("OBSCURA_PARAMS", str(tmp_path / "none.yaml"))   # the defaults, not the repo's params
    out = tmp_path / "run"
    runner = CliRunner()
    result = runner.invoke(app, ["nerf", "train", str(tiny_scene), str(out), "--model", "vanilla", "--poses",
                                 "ground_truth", "--tiny", "--steps", "5"])
    assert result.exit_code == 0, result.output
    assert json.loads((out / "metrics.json").read_text())["steps"] == 5
    result = runner.invoke(app, ["nerf", "render", str(out), "--views", "orbit", "--frames", "2"])
    assert result.exit_code == 0 and (out / "orbit.mp4").is_file(), result.output
    result = runner.invoke(app, ["nerf", "mesh", str(out), str(tmp_path / "m.ply"), "--voxels", "32"])
    assert result.exit_code == 0 and (tmp_path / "m.png").is_file(), result.output


def test_scene_without_sfm_fails_with_one_message_and_writes_nothing(tiny_scene, raw_params, tmp_path, capsys,
                                                                    monkeypatch):
    from stages import train_nerf
    from stages._entry import main

    params = tmp_path / "params.yaml"
    raw_params["scenes"]["output"] = str(tiny_scene.parent)
    raw_params["nerf"].update(output=str(tmp_path / "data"), reports=str(tmp_path / "reports"),
                              runs={"grid-tiny": {"model": "grid", "scene": "tiny"}})
    params.write_text(yaml.safe_dump(raw_params))
    monkeypatch.setenv("OBSCURA_PARAMS", str(params))
    assert main(train_nerf.run, ["grid-tiny"]) == 2
    err = capsys.readouterr().err
    assert err.count("error:") == 1 and "tiny" in err and "obscura sfm" in err
    assert not (tmp_path / "data").exists() and not (tmp_path / "reports").exists()
    with pytest.raises(ObscuraError, match="unknown poses"):
        scene_cameras(tiny_scene, "exact")


def test_runs_registry_params_and_dvc_agree():
    from conftest import REPO

    from obscura.config import load_params

    params = load_params(REPO / "params.yaml")
    stage = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]["train_nerf"]
    assert stage["foreach"] == "${nerf.runs}"
    assert {r.model for r in params.nerf.runs.values()} <= set(MODELS) == {"grid", "vanilla"}
    assert {r.scene for r in params.nerf.runs.values()} <= set(params.sfm.scenes)
    for name in MODELS:
        assert MODELS.config_class(name).name == name
        MODELS.make(name, tiny=True)
