"""The deep methods' initial fill: multigrid harmonic fill against the sparse direct ``harmonic`` solver."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from skimage import data
from skimage.transform import resize

from obscura.inpainting.classical.variational import harmonic
from obscura.inpainting.deep import multigrid
from obscura.inpainting.deep.nets import harmonic_fill, harmonic_fill_reference, pyramid_fill
from obscura.inpainting.deep.registry import make_config
from obscura.inpainting.masks import random_mask

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TOL = 2e-3  # max |multigrid - direct| over hole pixels and channels, images in [0, 1]


def photo(h, w):
    return resize(data.astronaut(), (h, w), anti_aliasing=True).astype(np.float32)


def as_torch(image, mask):
    x = torch.from_numpy(image.transpose(2, 0, 1).copy())[None]
    m = torch.from_numpy(mask.astype(np.float32))[None, None]
    return x * (1 - m), m


def old_fill(x, m, iterations=20):
    """The initial fill before: push-pull, then 20 Jacobi steps."""
    u = pyramid_fill(x, m)
    for _ in range(iterations):
        p = F.pad(u, (1, 1, 1, 1), mode="replicate")
        avg = (p[..., :-2, 1:-1] + p[..., 2:, 1:-1] + p[..., 1:-1, :-2] + p[..., 1:-1, 2:]) / 4
        u = u * (1 - m) + avg * m
    return u


CASES = [((40, 52), (10, 20), "strokes", 1), ((37, 61), (30, 40), "rectangles", 2),
         ((128, 128), (50, 60), "box", 3), ((128, 128), (50, 60), "strokes", 4)]


@pytest.mark.parametrize("shape, bucket, kind, seed", CASES)
def test_matches_direct_harmonic_solution(shape, bucket, kind, seed):
    image = photo(*shape)
    mask = random_mask(shape, bucket, kind, np.random.default_rng(seed))
    x, m = as_torch(image, mask)
    ref = harmonic(np.where(mask[..., None], 0.0, image).astype(np.float32), mask)
    out = harmonic_fill(x, m)[0].numpy().transpose(1, 2, 0)
    assert np.abs(out - ref)[mask].max() < TOL
    np.testing.assert_array_equal(out[~mask], image[~mask])  # known pixels exactly unchanged
    if shape[0] >= 128:  # large holes: the old 20-step Jacobi fill is far from converged there
        old = old_fill(x, m)[0].numpy().transpose(1, 2, 0)
        assert np.abs(old - ref)[mask].max() > 20 * TOL


def test_batch_with_different_masks_equals_one_by_one():
    rng = np.random.default_rng(5)
    images = [photo(64, 80), photo(64, 80)[::-1].copy(), np.full((64, 80, 3), 0.4, np.float32)]
    masks = [random_mask((64, 80), b, k, rng) for b, k in (((40, 50), "box"), ((1, 10), "strokes"),
                                                          ((20, 30), "rectangles"))]
    pairs = [as_torch(i, mk) for i, mk in zip(images, masks)]
    batch = harmonic_fill(torch.cat([p[0] for p in pairs]), torch.cat([p[1] for p in pairs]))
    for k, (x, m) in enumerate(pairs):
        torch.testing.assert_close(batch[k:k + 1], harmonic_fill(x, m), atol=1e-6, rtol=0)
    torch.testing.assert_close(batch[2], torch.full((3, 64, 80), 0.4), atol=1e-6, rtol=0)  # constant stays


def test_edge_cases_keep_known_pixels():
    x = torch.rand(2, 3, 9, 7)
    none = torch.zeros(2, 1, 9, 7)
    assert torch.equal(harmonic_fill(x, none), x)
    one = none.clone()
    one[0, 0, 4, 3] = 1  # one pixel: the mean of its neighbours
    out = harmonic_fill(x * (1 - one), one)
    known = one.expand_as(x) == 0
    assert torch.equal(out[known], x[known])
    expected = (x[0, :, 3, 3] + x[0, :, 5, 3] + x[0, :, 4, 2] + x[0, :, 4, 4]) / 4
    torch.testing.assert_close(out[0, :, 4, 3], expected, atol=1e-6, rtol=0)


def test_deep_methods_start_from_the_harmonic_fill():
    image = torch.from_numpy(photo(48, 48).transpose(2, 0, 1).copy())[None]
    hole = torch.from_numpy(random_mask((48, 48), (40, 50), "box", np.random.default_rng(0)))[None, None].float()
    model = make_config("single_stage", tiny=True).setup().eval()
    with torch.no_grad():
        out = model(image, hole)  # the generator head starts at zero: output = composite of the initial fill
    torch.testing.assert_close(out, harmonic_fill(image * (1 - hole), hole).clamp(0, 1) * hole + image * (1 - hole))


@pytest.mark.parametrize("shape, cycles", [((64, 64), 4), ((37, 61), 4), ((9, 7), 2), ((33, 20), 0)])
def test_compiled_fill_equals_the_torch_reference(shape, cycles):
    rng = np.random.default_rng(shape[0])
    buckets = [((1, 10), "strokes"), ((30, 40), "rectangles"), ((50, 60), "box"), ((20, 30), "strokes")]
    hole = torch.from_numpy(np.stack([random_mask(shape, b, k, rng) for b, k in buckets])[:, None].astype(np.float32))
    x = torch.from_numpy(rng.random((4, 3, *shape), dtype=np.float32)) * (1 - hole)
    out = multigrid.harmonic_fill(x.numpy(), hole.numpy(), cycles)
    torch.testing.assert_close(torch.from_numpy(out), harmonic_fill_reference(x, hole, cycles), atol=1e-5, rtol=0)
    assert out.dtype == np.float32
    out64 = multigrid.harmonic_fill(x.double().numpy(), hole.double().numpy(), cycles)
    torch.testing.assert_close(torch.from_numpy(out64), harmonic_fill_reference(x.double(), hole.double(), cycles),
                               atol=1e-12, rtol=0)


def test_fill_keeps_autograd_when_its_input_needs_it():
    image, mask = photo(24, 30), random_mask((24, 30), (30, 40), "box", np.random.default_rng(1))
    x, m = as_torch(image, mask)
    x = x.clone().requires_grad_()
    out = harmonic_fill(x, m)  # through the torch reference: the compiled kernels have no backward
    torch.testing.assert_close(out.detach(), harmonic_fill(x.detach(), m), atol=1e-5, rtol=0)
    weights = torch.rand_like(out)
    (grad,) = torch.autograd.grad((out * weights).sum(), x)
    v = torch.rand_like(x) * (1 - m)  # the fill is linear in the known pixels: <fill^T w, v> = <w, fill(v)>
    torch.testing.assert_close((grad * v).sum(), (weights * harmonic_fill(v, m)).sum(), rtol=1e-5, atol=0)
