"""Gaussian splatting kernels: compiled rasterizer vs the dense reference, binning, projection and SH."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from obscura.rendering.gaussians import (RasterizeFunction, bin_gaussians, bin_gaussians_reference, eval_sh, project,
                                         rasterize, rasterize_dense, rgb_to_sh, sh_to_rgb)
from obscura.rendering.gaussians.rasterize import pack
from obscura.rendering.gaussians.sh import SH_C0

F64 = torch.float64
GRAD_NAMES = ("means2d", "conics", "colors", "opacities", "depths", "background")


def screen_scene(n: int, width: int, height: int, seed: int, opacity=(0.05, 0.95), sigma=(0.7, 6.0),
                 stack: bool = False) -> dict:
    """Random screen-space gaussians (float64), some partly or wholly off-screen.

    ``stack`` puts four round gaussians (opacities 0.999, 0.97, 0.96, 0.95) in front of everything, centred on
    pixel (20, 12): there alpha is clamped to 0.99, then 0.97 leaves T = 3e-4 and the next one stops compositing.
    """
    g = torch.Generator().manual_seed(seed)

    def rand(*shape):
        return torch.rand(*shape, generator=g, dtype=F64)

    means = rand(n, 2) * torch.tensor([width + 16.0, height + 16.0]) - 8
    s = sigma[0] + (sigma[1] - sigma[0]) * rand(n, 2)
    th = rand(n) * math.pi
    rot = torch.stack([torch.cos(th), -torch.sin(th), torch.sin(th), torch.cos(th)], -1).reshape(n, 2, 2)
    cov = rot @ torch.diag_embed(s**2) @ rot.transpose(1, 2) + 0.3 * torch.eye(2, dtype=F64)
    opacities, depths = opacity[0] + (opacity[1] - opacity[0]) * rand(n), 1 + 10 * rand(n)
    if stack:
        means[:4] = torch.tensor([20.5, 12.5], dtype=F64)
        cov[:4] = 4.0 * torch.eye(2, dtype=F64)
        opacities[:4] = torch.tensor([0.999, 0.97, 0.96, 0.95], dtype=F64)
        depths[:4] = torch.tensor([0.1, 0.2, 0.3, 0.4], dtype=F64)
    inv = torch.linalg.inv(cov)
    return {"means2d": means, "conics": torch.stack([inv[:, 0, 0], inv[:, 0, 1], inv[:, 1, 1]], -1),
            "colors": rand(n, 3), "opacities": opacities, "depths": depths,
            "radii": torch.ceil(3 * torch.linalg.eigvalsh(cov)[:, -1].sqrt()).int(),
            "background": torch.tensor([0.2, 0.5, 0.9], dtype=F64)}


SCENES = {  # name: (n, width, height, seed, opacity range, stack); 40x32 leaves partial edge tiles
    "sparse": (30, 40, 32, 0, (0.05, 0.95), False),
    "overlapping": (60, 40, 32, 1, (0.3, 0.9), False),
    "opaque": (150, 40, 32, 2, (0.5, 0.999), True),  # early termination and clamped alphas
}


def render(fn, scene: dict, width: int, height: int, dtype=F64, grad: bool = False, tile: int = 16):
    inputs = {k: v.to(dtype).clone().requires_grad_(grad) for k, v in scene.items() if k != "radii"}
    return fn(**inputs, radii=scene["radii"], width=width, height=height, tile=tile), inputs


@pytest.mark.parametrize("name", SCENES)
def test_forward_matches_dense_reference(name):
    n, width, height, seed, opacity, stack = SCENES[name]
    scene = screen_scene(n, width, height, seed, opacity, stack=stack)
    (image, depth, alpha), _ = render(rasterize, scene, width, height)
    (ref_image, ref_depth, ref_alpha), _ = render(rasterize_dense, scene, width, height)
    assert image.shape == (height, width, 3) and depth.shape == alpha.shape == (height, width)
    assert image.dtype == depth.dtype == alpha.dtype == F64
    torch.testing.assert_close(image, ref_image, rtol=0, atol=1e-9)
    torch.testing.assert_close(depth, ref_depth, rtol=0, atol=1e-8)
    torch.testing.assert_close(alpha, ref_alpha, rtol=0, atol=1e-9)
    if stack:  # 0.999 is clamped to 0.99, 0.97 leaves T = 3e-4, 0.96 would leave 1.2e-5 < 1e-4: stop
        assert alpha[12, 20].item() == pytest.approx(1 - 0.01 * 0.03, abs=1e-12)


@pytest.mark.parametrize("name", SCENES)
def test_float32_forward_close_to_float64_reference(name):
    n, width, height, seed, opacity, stack = SCENES[name]
    scene = screen_scene(n, width, height, seed, opacity, stack=stack)
    outs, _ = render(rasterize, scene, width, height, dtype=torch.float32)
    refs, _ = render(rasterize_dense, scene, width, height)
    for out, ref in zip(outs, refs):
        assert out.dtype == torch.float32
        torch.testing.assert_close(out.double(), ref, rtol=0, atol=2e-5 * max(1.0, ref.abs().max().item()))


def grads_of(fn, scene: dict, width: int, height: int, dtype=F64, tile: int = 16) -> dict:
    (image, depth, alpha), inputs = render(fn, scene, width, height, dtype=dtype, grad=True, tile=tile)
    g = torch.Generator().manual_seed(7)
    loss = ((image * torch.randn(image.shape, generator=g, dtype=F64).to(dtype)).sum()
            + (depth * torch.randn(depth.shape, generator=g, dtype=F64).to(dtype)).sum() * 0.1
            + (alpha * torch.randn(alpha.shape, generator=g, dtype=F64).to(dtype)).sum())
    loss.backward()
    return {k: inputs[k].grad.double() for k in GRAD_NAMES}


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).norm() / b.norm().clamp_min(1e-12)).item()


@pytest.mark.parametrize("name", SCENES)
def test_backward_matches_autograd_of_dense_reference(name):
    n, width, height, seed, opacity, stack = SCENES[name]
    scene = screen_scene(n, width, height, seed, opacity, stack=stack)
    got, ref = grads_of(rasterize, scene, width, height), grads_of(rasterize_dense, scene, width, height)
    for k in GRAD_NAMES:
        assert ref[k].norm() > 0, k
        assert rel_err(got[k], ref[k]) <= 1e-4, (k, rel_err(got[k], ref[k]))


@pytest.mark.parametrize("name", SCENES)
def test_float32_backward_close_to_float64_reference(name):
    n, width, height, seed, opacity, stack = SCENES[name]
    scene = screen_scene(n, width, height, seed, opacity, stack=stack)
    got, ref = grads_of(rasterize, scene, width, height, torch.float32), grads_of(rasterize_dense, scene, width, height)
    for k in GRAD_NAMES:
        assert rel_err(got[k], ref[k]) <= 1e-4, (k, rel_err(got[k], ref[k]))


@pytest.mark.parametrize("tile", [8, 32])
def test_other_tile_sizes(tile):
    n, width, height, seed, opacity, stack = SCENES["overlapping"]
    scene = screen_scene(n, width, height, seed, opacity, stack=stack)
    outs, _ = render(rasterize, scene, width, height, tile=tile)
    refs, _ = render(rasterize_dense, scene, width, height, tile=tile)
    for out, ref in zip(outs, refs):
        torch.testing.assert_close(out, ref, rtol=0, atol=1e-9)
    got = grads_of(rasterize, scene, width, height, tile=tile)
    ref = grads_of(rasterize_dense, scene, width, height, tile=tile)
    for k in GRAD_NAMES:
        assert rel_err(got[k], ref[k]) <= 1e-4, (k, rel_err(got[k], ref[k]))


def test_indefinite_conics_follow_the_same_rules():
    """A conic that is not positive definite has power > 0 somewhere (skipped) and no bounding ellipse."""
    width, height = 40, 32
    scene = screen_scene(20, width, height, seed=4)
    scene["conics"][:3] = torch.tensor([0.05, 0.3, 0.08], dtype=F64)
    outs, _ = render(rasterize, scene, width, height)
    refs, _ = render(rasterize_dense, scene, width, height)
    for out, ref in zip(outs, refs):
        torch.testing.assert_close(out, ref, rtol=0, atol=1e-9)
    got, ref = grads_of(rasterize, scene, width, height), grads_of(rasterize_dense, scene, width, height)
    for k in GRAD_NAMES:
        assert rel_err(got[k], ref[k]) <= 1e-4, (k, rel_err(got[k], ref[k]))


def test_single_gaussian_is_the_analytic_2d_gaussian():
    width = height = 32
    mean = torch.tensor([[15.3, 17.1]], dtype=F64)
    cov = torch.tensor([[9.0, 2.0], [2.0, 5.0]], dtype=F64)
    inv = torch.linalg.inv(cov)
    conic = torch.stack([inv[0, 0], inv[0, 1], inv[1, 1]])[None]
    colour, bg, op, z = torch.tensor([[0.9, 0.3, 0.1]], dtype=F64), torch.tensor([0.0, 0.2, 0.4], dtype=F64), 0.8, 2.5
    radius = torch.tensor([math.ceil(3 * math.sqrt(torch.linalg.eigvalsh(cov)[-1]))], dtype=torch.int32)
    image, depth, alpha = rasterize(mean, conic, colour, torch.tensor([op], dtype=F64), torch.tensor([z], dtype=F64),
                                    radius, width, height, bg)
    ys, xs = torch.meshgrid(torch.arange(height, dtype=F64) + 0.5, torch.arange(width, dtype=F64) + 0.5, indexing="ij")
    d = torch.stack([xs - mean[0, 0], ys - mean[0, 1]], -1)
    expected = op * torch.exp(-0.5 * torch.einsum("hwi,ij,hwj->hw", d, inv, d))
    expected = torch.where(expected >= 1 / 255, expected, torch.zeros_like(expected))  # the box covers the image
    torch.testing.assert_close(alpha, expected, rtol=0, atol=1e-12)
    torch.testing.assert_close(depth, z * expected, rtol=0, atol=1e-12)
    torch.testing.assert_close(image, expected[..., None] * colour[0] + (1 - expected[..., None]) * bg,
                               rtol=0, atol=1e-12)


def test_outputs_without_gaussians_are_the_background():
    empty = torch.zeros(0, 2, dtype=F64)
    image, depth, alpha = rasterize(empty, torch.zeros(0, 3, dtype=F64), torch.zeros(0, 3, dtype=F64),
                                    torch.zeros(0, dtype=F64), torch.zeros(0, dtype=F64),
                                    torch.zeros(0, dtype=torch.int32), 20, 10, torch.tensor([0.1, 0.2, 0.3], dtype=F64))
    assert torch.equal(image, torch.tensor([0.1, 0.2, 0.3], dtype=F64).expand(10, 20, 3))
    assert not depth.any() and not alpha.any()


@pytest.mark.parametrize("tile", [16, 8])
@pytest.mark.parametrize("footprints", [False, True])
def test_binning_matches_brute_force(tile, footprints):
    width, height = 70, 50
    scene = screen_scene(120, width, height, seed=3, sigma=(0.5, 12.0), opacity=(0.002, 0.99))
    radii = scene["radii"].clone()
    radii[::7] = 0  # culled
    means = scene["means2d"].clone()
    means[5] = torch.tensor([-40.0, 10.0])  # off-screen
    scene["opacities"][::9] = 0.003  # alpha never reaches 1/255: binned nowhere
    f = pack(means, scene["conics"], scene["colors"], scene["opacities"], scene["depths"],
             scene["background"]).footprints if footprints else None
    assert f is None or (f[::9, 0] < 0).all()
    got = bin_gaussians(means, radii, scene["depths"], width, height, tile, footprints=f)
    ref = bin_gaussians_reference(means, radii, scene["depths"], width, height, tile, footprints=f)
    assert (got.tiles_x, got.tiles_y) == (ref.tiles_x, ref.tiles_y) == (-(-width // tile), -(-height // tile))
    assert len(ref.gaussian_ids) > 100
    for a, b in zip(got[:4], ref[:4]):  # pairs, tile offsets and the per-gaussian slots and offsets
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", ["sparse", "opaque"])
@pytest.mark.parametrize("tile", [16, 8])
@pytest.mark.parametrize("dtype", [F64, torch.float32])
def test_footprint_binning_drops_only_pairs_that_composite_nothing(name, tile, dtype):
    """Tiles outside a gaussian's alpha >= 1/255 box are not binned; image, depth, alpha and every gradient are
    bit-identical to binning its whole 3-sigma box (also for faint gaussians and indefinite conics)."""
    n, width, height, seed, opacity, stack = SCENES[name]
    scene = screen_scene(n, width, height, seed, (0.002, opacity[1]), sigma=(0.7, 9.0), stack=stack)
    scene["opacities"][5::11] = 0.003  # below 1/255
    scene["conics"][7::13] = torch.tensor([0.3, 0.6, 0.2], dtype=F64)  # not positive definite
    inputs = [scene[k].to(dtype).clone().requires_grad_() for k in GRAD_NAMES]
    tight = rasterize(*inputs[:5], scene["radii"], width, height, inputs[5], tile=tile)
    packed = pack(*(x.detach() for x in inputs))
    box = bin_gaussians(scene["means2d"], scene["radii"], scene["depths"], width, height, tile)
    fit = bin_gaussians(scene["means2d"], scene["radii"], scene["depths"], width, height, tile,
                        footprints=packed.footprints)
    assert len(fit.gaussian_ids) < 0.9 * len(box.gaussian_ids)
    inputs_box = [scene[k].to(dtype).clone().requires_grad_() for k in GRAD_NAMES]
    full = RasterizeFunction.apply(*inputs_box, box, packed, width, height, tile)
    weights = [torch.randn(x.shape, generator=torch.Generator().manual_seed(i), dtype=dtype) for i, x in enumerate(full)]
    sum(((a * w).sum() for a, w in zip(tight, weights))).backward()
    sum(((a * w).sum() for a, w in zip(full, weights))).backward()
    for a, b in zip(tight, full):
        assert torch.equal(a, b)
    for name_, a, b in zip(GRAD_NAMES, inputs, inputs_box):
        assert torch.equal(a.grad, b.grad), name_


def look_at_viewmat(eye, target) -> torch.Tensor:
    """World-to-camera (OpenCV axes) looking from ``eye`` at ``target``."""
    eye, target = torch.tensor(eye, dtype=F64), torch.tensor(target, dtype=F64)
    z = torch.nn.functional.normalize(target - eye, dim=0)
    x = torch.nn.functional.normalize(torch.linalg.cross(z, torch.tensor([0.0, -1.0, 0.0], dtype=F64)), dim=0)
    rot = torch.stack([x, torch.linalg.cross(z, x), z])
    view = torch.eye(4, dtype=F64)
    view[:3, :3], view[:3, 3] = rot, -rot @ eye
    return view


CAMERA = {"fx": 100.0, "fy": 110.0, "cx": 32.0, "cy": 24.0, "width": 64, "height": 48}


def test_project_gaussian_on_the_optical_axis():
    z, sigma = 4.0, 0.2
    out = project(torch.tensor([[0.0, 0.0, z]], dtype=F64), torch.full((1, 3), math.log(sigma), dtype=F64),
                  torch.tensor([[0.3, -0.5, 0.2, 0.7]], dtype=F64), torch.eye(4, dtype=F64), **CAMERA)
    var_x, var_y = (CAMERA["fx"] / z) ** 2 * sigma**2 + 0.3, (CAMERA["fy"] / z) ** 2 * sigma**2 + 0.3
    torch.testing.assert_close(out.means2d, torch.tensor([[CAMERA["cx"], CAMERA["cy"]]], dtype=F64))
    torch.testing.assert_close(out.conics, torch.tensor([[1 / var_x, 0.0, 1 / var_y]], dtype=F64))
    torch.testing.assert_close(out.depths, torch.tensor([z], dtype=F64))
    assert out.radii.tolist() == [math.ceil(3 * math.sqrt(var_y))] and out.valid.tolist() == [True]


def test_project_matches_projected_samples_and_culls():
    g = torch.Generator().manual_seed(0)
    view = look_at_viewmat([0.5, -0.3, -3.0], [0.1, 0.2, 0.0])
    mean = torch.tensor([[0.4, 0.1, 0.3]], dtype=F64)
    log_scales = torch.log(torch.tensor([[0.004, 0.01, 0.002]], dtype=F64))
    quats = torch.tensor([[0.8, 0.3, -0.4, 0.2]], dtype=F64)
    out = project(mean, log_scales, quats, view, **CAMERA, low_pass=0.0)
    # sample the 3D gaussian, project every sample exactly; its 2D covariance is the EWA one (to first order)
    from obscura.rendering.gaussians import covariance3d

    cov3 = covariance3d(log_scales, quats)[0]
    pts = mean + torch.randn(400_000, 3, generator=g, dtype=F64) @ torch.linalg.cholesky(cov3).T
    cam = pts @ view[:3, :3].T + view[:3, 3]
    uv = torch.stack([CAMERA["fx"] * cam[:, 0] / cam[:, 2] + CAMERA["cx"],
                      CAMERA["fy"] * cam[:, 1] / cam[:, 2] + CAMERA["cy"]], -1)
    a, b, c = out.conics[0]
    cov2 = torch.linalg.inv(torch.stack([torch.stack([a, b]), torch.stack([b, c])]))
    torch.testing.assert_close(torch.cov(uv.T), cov2, rtol=0.02, atol=0.02 * cov2.diagonal().max().item())
    torch.testing.assert_close(out.means2d[0], uv.mean(0), rtol=0, atol=0.01)
    torch.testing.assert_close(out.depths[0], cam[:, 2].mean(), rtol=1e-3, atol=0)

    behind = project(torch.tensor([[0.0, 0.0, -1.0], [50.0, 0.0, 2.0], [0.1, 0.0, 2.0]], dtype=F64),
                     torch.full((3, 3), -3.0, dtype=F64), torch.tensor([[1.0, 0, 0, 0]] * 3, dtype=F64),
                     torch.eye(4, dtype=F64), **CAMERA)
    assert behind.valid.tolist() == [False, False, True]
    assert behind.radii[:2].tolist() == [0, 0] and behind.radii[2] > 0


def test_gradients_flow_from_image_to_3d_parameters():
    g = torch.Generator().manual_seed(1)
    n = 40
    means = (torch.randn(n, 3, generator=g, dtype=F64) * 0.3).requires_grad_()
    log_scales = (math.log(0.05) + 0.5 * torch.randn(n, 3, generator=g, dtype=F64)).requires_grad_()  # anisotropic
    quats = torch.randn(n, 4, generator=g, dtype=F64).requires_grad_()
    sh = torch.randn(n, 4, 3, generator=g, dtype=F64).mul(0.3).requires_grad_()
    view = look_at_viewmat([0.0, 0.0, -3.0], [0.0, 0.0, 0.0])
    proj = project(means, log_scales, quats, view, **CAMERA)
    dirs = torch.nn.functional.normalize(means - torch.linalg.inv(view)[:3, 3], dim=-1)
    colors = eval_sh(1, sh, dirs)
    image, depth, alpha = rasterize(proj.means2d, proj.conics, colors, torch.full((n,), 0.7, dtype=F64),
                                    proj.depths, proj.radii, CAMERA["width"], CAMERA["height"])
    (image.square().sum() + depth.sum() + alpha.sum()).backward()
    for p in (means, log_scales, quats, sh):
        assert torch.isfinite(p.grad).all() and (p.grad.abs().sum(-1) > 1e-8).float().mean() > 0.5


def test_sh_degree_0_is_the_dc_colour():
    rgb = torch.tensor([[0.1, 0.5, 0.9], [0.7, 0.0, 0.3]], dtype=F64)
    dirs = torch.nn.functional.normalize(torch.tensor([[0.3, -0.2, 1.0], [-1.0, 0.5, 0.2]], dtype=F64), dim=-1)
    coeffs = torch.cat([rgb_to_sh(rgb)[:, None], torch.randn(2, 15, 3, dtype=F64)], 1)  # higher bands ignored
    torch.testing.assert_close(eval_sh(0, coeffs, dirs), rgb)
    torch.testing.assert_close(sh_to_rgb(rgb_to_sh(rgb)), rgb)
    assert SH_C0 == pytest.approx(0.5 / math.sqrt(math.pi))


def test_sh_degree_1_matches_the_real_harmonics():
    g = torch.Generator().manual_seed(0)
    coeffs = torch.randn(1, 16, 3, generator=g, dtype=F64)
    d = torch.nn.functional.normalize(torch.tensor([[0.2, -0.7, 0.4]], dtype=F64), dim=-1)
    x, y, z = d[0]
    c1 = math.sqrt(3 / (4 * math.pi))  # real SH of band 1 (with the Condon-Shortley sign): -c y, c z, -c x
    expected = 0.5 + SH_C0 * coeffs[0, 0] - c1 * y * coeffs[0, 1] + c1 * z * coeffs[0, 2] - c1 * x * coeffs[0, 3]
    torch.testing.assert_close(eval_sh(1, coeffs, d)[0], expected.clamp_min(0))
    assert (eval_sh(3, coeffs, d) >= 0).all()
    with pytest.raises(ValueError):
        eval_sh(2, coeffs[:, :4], d)
