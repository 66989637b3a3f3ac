import numpy as np
import pytest

from obscura.errors import ObscuraError
from obscura.inpainting.inputs import check_inputs
from obscura.inpainting.masks import BUCKETS, KINDS, bucket_of, load_mask, mask_set, random_mask
from obscura.io import save_image


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("bucket", BUCKETS)
def test_masks_hit_their_bucket(kind, bucket):
    rng = np.random.default_rng(7)
    for shape in [(64, 64), (48, 80)]:
        mask = random_mask(shape, bucket, kind, rng)
        assert mask.dtype == bool and mask.shape == shape
        assert bucket_of(mask.mean()) == bucket


def test_mask_set_is_seeded_one_per_image_bucket_and_kind_with_nested_slots():
    a = mask_set((32, 32), n_images=3, seed=5)
    b = mask_set((32, 32), n_images=3, seed=5)
    c = mask_set((32, 32), n_images=3, seed=6)
    assert len(a) == 3 * len(BUCKETS) * len(KINDS)
    assert all(np.array_equal(x["mask"], y["mask"]) and x["slot"] == y["slot"] for x, y in zip(a, b))
    assert not all(np.array_equal(x["mask"], y["mask"]) for x, y in zip(a, c))
    for bucket in BUCKETS:
        for kind in KINDS:
            cell = [m for m in a if m["bucket"] == bucket and m["kind"] == kind]
            assert sorted(m["image"] for m in cell) == sorted(m["slot"] for m in cell) == [0, 1, 2]
            assert all(bucket_of(m["ratio"]) == bucket for m in cell)


def test_strokes_are_not_boxes():
    mask = random_mask((64, 64), (20, 30), "strokes", np.random.default_rng(0))
    ys, xs = np.nonzero(mask)
    bbox = (np.ptp(ys) + 1) * (np.ptp(xs) + 1)
    assert mask.sum() < 0.8 * bbox


def test_unknown_kind_and_bad_bucket():
    rng = np.random.default_rng(0)
    with pytest.raises(ObscuraError, match="unknown mask kind"):
        random_mask((32, 32), (10, 20), "circles", rng)
    with pytest.raises(ObscuraError, match="bucket"):
        random_mask((32, 32), (30, 20), "box", rng)


def test_load_user_mask_png(tmp_path):
    mask = np.zeros((20, 30), bool)
    mask[5:10, 3:20] = True
    save_image(tmp_path / "m.png", mask.astype(np.uint8) * 255)
    np.testing.assert_array_equal(load_mask(tmp_path / "m.png"), mask)
    rgba = np.zeros((20, 30, 4), np.uint8)
    rgba[..., :3] = mask[..., None] * 255
    rgba[..., 3] = 255
    save_image(tmp_path / "rgba.png", rgba)
    np.testing.assert_array_equal(load_mask(tmp_path / "rgba.png"), mask)


def test_bad_masks_and_images(tmp_path):
    image = np.random.default_rng(0).random((20, 30, 3)).astype(np.float32)
    grey = np.full((20, 30), 128, np.uint8)
    save_image(tmp_path / "grey.png", grey)
    with pytest.raises(ObscuraError, match="grey"):
        load_mask(tmp_path / "grey.png")
    (tmp_path / "notes.png").write_text("not an image")
    with pytest.raises(ObscuraError, match="not a readable image"):
        load_mask(tmp_path / "notes.png")
    with pytest.raises(ObscuraError, match="resize the mask"):
        check_inputs(image, np.ones((30, 20), bool))
    with pytest.raises(ObscuraError, match="no hole"):
        check_inputs(image, np.zeros((20, 30), bool))
    with pytest.raises(ObscuraError, match="whole image"):
        check_inputs(image, np.ones((20, 30), bool))
    with pytest.raises(ObscuraError, match=r"\[0, 1\]"):
        check_inputs(image * 3, np.eye(20, 30, dtype=bool))


def test_documented_conversions():
    rng = np.random.default_rng(0)
    gray = rng.random((10, 12)).astype(np.float32)
    mask = np.eye(10, 12, dtype=bool)
    img, m = check_inputs(gray, mask)
    assert img.shape == (10, 12, 3) and np.array_equal(img[..., 0], img[..., 2])
    rgba = (rng.random((10, 12, 4)) * 255).astype(np.uint8)
    img, _ = check_inputs(rgba, np.stack([mask * 255] * 3, -1).astype(np.uint8))
    np.testing.assert_allclose(img, rgba[..., :3] / 255.0, atol=1e-7)
