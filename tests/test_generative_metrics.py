"""FID/KID wrappers against a reference implementation, in-domain features, image helpers."""

import numpy as np
import pytest
import torch
from scipy import linalg

from obscura.errors import ObscuraError
from obscura.generative import metrics as M
from obscura.generative.classifier import FashionClassifier, accuracy, train_classifier
from obscura.generative.images import grid, to_model_space
from obscura.generative.registry import tiny_config
from obscura.metrics import (ClassifierFeatures, InceptionFeatures, extract_features, fid_kid, frechet_distance,
                             kid_interval)


def reference_fid(a: np.ndarray, b: np.ndarray) -> float:
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean))


def test_fid_on_cached_features_matches_reference():
    g = torch.Generator().manual_seed(0)
    a = torch.randn((400, 16), generator=g)
    b = torch.randn((300, 16), generator=g) * 1.3 + 0.5
    out = fid_kid(a, b, subset_size=100, subsets=20, seed=0)
    assert out["fid"] == pytest.approx(reference_fid(a.double().numpy(), b.double().numpy()), rel=1e-3)
    same = fid_kid(a[:200], a[200:], subset_size=100, subsets=20, seed=0)
    assert same["fid"] < 0.3 * out["fid"] and abs(same["kid"]) < 0.2 * out["kid"]
    again = fid_kid(a, b, subset_size=100, subsets=20, seed=0)
    assert again == out


def reference_kid(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD² with the cubic kernel (x·y / d + 1)³ (Bińkowski et al. 2018), written out."""
    k = lambda a, b: (a @ b.T / a.shape[1] + 1) ** 3  # noqa: E731
    m = len(x)
    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    return float((kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1)) - 2 * kxy.mean())


def test_kid_interval_from_disjoint_subsets():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn((60, 8), generator=g), torch.randn((60, 8), generator=g)
    whole = kid_interval(a, b + 0.5, pairs=1)                       # one pair: the whole sets, order-free
    assert whole["kid_disjoint"] == pytest.approx(reference_kid(a.double().numpy(), (b + 0.5).double().numpy()))
    assert whole["kid_low"] == whole["kid_high"] == whole["kid_disjoint"]
    real, same, shifted = (torch.randn((1000, 8), generator=g) for _ in range(3))
    null = kid_interval(real, same, pairs=10)
    assert null["kid_subset_size"] == 100 and null["kid_low"] < 0 < null["kid_high"]
    far = kid_interval(real, shifted + 0.5, pairs=10)
    assert far["kid_low"] > null["kid_high"] and far["kid_low"] < far["kid_disjoint"] < far["kid_high"]
    assert kid_interval(real, shifted + 0.5, pairs=10) == far                                # seeded
    with pytest.raises(ObscuraError, match="10 disjoint pairs need at least 20"):
        kid_interval(real[:15], same[:15], pairs=10)


def test_feature_width_mismatch_is_clear():
    with pytest.raises(ObscuraError, match="cached features have width 8, expected 16"):
        fid_kid(torch.zeros(10, 16), torch.zeros(10, 8), 5, 2, 0)


def test_inception_features_on_images_and_passthrough():
    net = InceptionFeatures()
    x = torch.rand(2, 1, 28, 28) * 2 - 1
    f = net(x)
    assert f.shape == (2, 2048) and torch.isfinite(f).all()
    assert torch.equal(net(f), f)
    assert torch.allclose(net(x.repeat(1, 3, 1, 1)), f, atol=1e-4)


def test_classifier_learns_and_features_separate_sets():
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 2, (256,), generator=g)
    x = torch.randn((256, 1, 16, 16), generator=g) * 0.2 + (y.float() * 1.2 - 0.6).view(-1, 1, 1, 1)
    clf = train_classifier(x.clamp(-1, 1), y, epochs=3, batch_size=32, lr=3e-3, seed=0, progress=False)
    assert accuracy(clf, x.clamp(-1, 1), y) > 0.95
    feats = ClassifierFeatures(clf)
    near = frechet_distance(feats, x[y == 0][:60], x[y == 0][60:])
    far = frechet_distance(feats, x[y == 0][:60], x[y == 1][:60])
    assert far > 3 * near


def test_reconstruction_metrics_and_blend_off_manifold():
    model = tiny_config("ae").setup()
    x = torch.rand(16, 1, 16, 16) * 2 - 1
    r = M.reconstruction(lambda t: t, x)
    assert r["recon_mse"] == 0 and r["recon_psnr"] > 60
    r = M.reconstruction(model, x)
    assert r["recon_mse"] > 0 and 0 < r["recon_psnr"] < 60
    ratio = M.blend_off_manifold(model, ClassifierFeatures(FashionClassifier(1, 16)), x, pairs=4, seed=0)
    assert ratio > 0 and np.isfinite(ratio)


def test_off_manifold_is_the_ratio_of_nearest_neighbour_distances():
    real = torch.tensor([[float(k), 0.0] for k in range(10)])                 # spacing 1 along a line
    assert M.off_manifold(real[:4] + torch.tensor([0.0, 3.0]), real) == pytest.approx(3.0)
    assert M.off_manifold(real[2:5].clone(), real) == 0.0
    assert M.blend_pairs(10, 3, seed=0) == M.blend_pairs(10, 3, seed=0) and len(M.blend_pairs(5, 9, seed=0)) == 2
    assert len({i for pair in M.blend_pairs(10, 5, seed=1) for i in pair}) == 10


def test_off_manifold_in_inception_features_does_not_favour_blurry_faces():
    """On pixels a blurred face sits closer to the real faces than an unseen sharp face does (blur halves the
    distance to everything); in the Inception features it is farther, as a person would judge."""
    from skimage.data import lfw_subset

    faces = to_model_space((lfw_subset()[:72] * 255).astype(np.uint8), 32, 1)
    real, unseen = faces[:60], faces[60:]
    k = torch.exp(-torch.arange(-4, 5.0).pow(2) / (2 * 1.5 ** 2))
    k = (k[:, None] * k[None]) / k.sum() ** 2
    blurred = torch.nn.functional.conv2d(torch.nn.functional.pad(unseen, (4,) * 4, mode="replicate"), k.view(1, 1, 9, 9))
    assert M.off_manifold(blurred.flatten(1), real.flatten(1)) < M.off_manifold(unseen.flatten(1), real.flatten(1))
    net = InceptionFeatures()
    feats = {name: extract_features(net, x) for name, x in (("real", real), ("unseen", unseen), ("blurred", blurred))}
    sharp, blur = M.off_manifold(feats["unseen"], feats["real"]), M.off_manifold(feats["blurred"], feats["real"])
    assert 0.8 < sharp < 1.25 and blur > 1.3 * sharp


def test_to_model_space_pads_resizes_and_converts():
    x = np.full((2, 28, 28), 255, np.uint8)
    out = to_model_space(x, 32, 1)
    assert out.shape == (2, 1, 32, 32)
    assert float(out[0, 0, 0, 0]) == -1 and float(out[0, 0, 16, 16]) == 1
    rgb = to_model_space(np.random.default_rng(0).random((3, 25, 25, 3)), 32, 3)
    assert rgb.shape == (3, 3, 32, 32) and rgb.min() >= -1 and rgb.max() <= 1
    assert to_model_space(x, 64, 3).shape == (2, 3, 64, 64)
    with pytest.raises(ObscuraError, match="1 or 3 channels"):
        to_model_space(np.zeros((2, 5, 8, 8)), 32, 1)


def test_grid_layout():
    g = grid(torch.zeros(5, 1, 4, 4), ncol=3, pad=1)
    assert g.shape == (2 * 5 + 1, 3 * 5 + 1, 1)
    assert g[1, 1, 0] == 0.5 and g[0, 0, 0] == 1



def test_diffusion_bound_of_the_exact_denoiser_of_a_point_mass_is_prior_plus_decoder():
    """Data = one 8-bit image c. The exact ε-predictor gives x̂_0 = c, so every KL(q ‖ p_θ) for t ≥ 1 is 0 and
    the bound is the closed-form prior KL plus the discretized-Gaussian decoder term."""
    import math

    from scipy.stats import norm

    from obscura.generative.scheduler import DDPMScheduler

    sched = DDPMScheduler(100, "linear")
    c = torch.full((1, 1, 4, 4), 2 * 100 / 255 - 1)

    def exact(xt, t):
        a = sched.alphas_cumprod[t].view(-1, 1, 1, 1)
        return ((xt.double() - a.sqrt() * c.double()) / (1 - a).sqrt()).float()

    out = M.diffusion_bits_per_dim(exact, sched, c.repeat(3, 1, 1, 1), timesteps=8, seed=0)
    a_T = float(sched.alphas_cumprod[-1])
    prior = 0.5 * (a_T * float(c[0, 0, 0, 0]) ** 2 + (1 - a_T) - 1 - math.log(1 - a_T))
    sigma = math.sqrt(float(sched.betas[0]))
    decoder = -math.log(norm.cdf(1 / 255 / sigma) - norm.cdf(-1 / 255 / sigma))
    assert out["bits_per_dim_diffusion"] == pytest.approx(0.0, abs=1e-6)
    assert out["bits_per_dim_prior"] == pytest.approx(prior / math.log(2), rel=1e-6)
    assert out["bits_per_dim_decoder"] == pytest.approx(decoder / math.log(2), rel=1e-4)
    assert out["bits_per_dim"] == pytest.approx((prior + decoder) / math.log(2), rel=1e-4)
    assert out["nll_bound"] == pytest.approx(16 * (prior + decoder), rel=1e-4)
    worse = M.diffusion_bits_per_dim(lambda xt, t: torch.zeros_like(xt), sched, c.repeat(3, 1, 1, 1), 8, seed=0)
    assert worse["bits_per_dim_diffusion"] > 0.1 and worse["bits_per_dim"] > out["bits_per_dim"]
