"""Training batches: multi-scale crops with flips and masks drawn on the fly by the evaluation's generator."""

import numpy as np
import pytest

from obscura.errors import ObscuraError
from obscura.inpainting.deep.data import CropSampler
from obscura.inpainting.masks import bucket_of


def ramp(h=96, w=160):
    """Horizontal ramp: a crop's value range tells how wide a strip of the photo it covers."""
    return np.repeat(np.linspace(0, 1, w, dtype=np.float32)[None, :, None], h, 0).repeat(3, 2)


def test_crops_span_several_scales_and_flip():
    sampler = CropSampler([ramp()], 16, seed=0, scales=(1.0, 6.0))
    images = sampler.batch(64, np.random.default_rng(1))["image"].numpy()[:, 0]
    spans = images[:, 8, -1] - images[:, 8, 0]                     # > 0: as in the photo, < 0: mirrored
    widths = np.abs(spans) * 159
    assert widths.min() < 20 and widths.max() > 70                 # 16 px crops of 16..96 px squares
    assert (spans > 0).any() and (spans < 0).any()


def test_masks_are_fresh_draws_in_the_requested_buckets_and_kinds():
    buckets = [(10, 20), (40, 50)]
    sampler = CropSampler([ramp()], 32, kinds=("box",), buckets=buckets, seed=0)
    a, b = (sampler.batch(8, np.random.default_rng(s))["hole"].numpy()[:, 0] for s in (1, 2))
    assert {bucket_of(m.mean(), buckets) for m in a} == set(buckets)
    assert not any(np.array_equal(x, y) for x in a for y in b)
    again = sampler.batch(8, np.random.default_rng(1))["hole"].numpy()[:, 0]
    np.testing.assert_array_equal(a, again)                        # seeded: resumable training
    for m in a:                                                     # kind box: one filled rectangle
        ys, xs = np.nonzero(m)
        assert m.sum() == (np.ptp(ys) + 1) * (np.ptp(xs) + 1)


def test_bad_sampler_settings():
    with pytest.raises(ObscuraError, match="no training images"):
        CropSampler([], 16)
    with pytest.raises(ObscuraError, match="scales"):
        CropSampler([ramp()], 16, scales=(0.5, 2.0))
