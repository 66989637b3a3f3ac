import numpy as np
import pytest

from obscura.errors import ObscuraError
from obscura.inpainting.inputs import check_inputs
from obscura.inpainting.masks import (BUCKETS, KINDS, SIDES, bucket_of, load_mask, mask_set, outpaint_mask, outpaint_set,
                                     random_mask)
from obscura.inpainting.outpaint import extend_canvas
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


@pytest.mark.parametrize("side", SIDES)
def test_outpaint_strip_is_what_outpainting_the_rest_adds(side):
    """Filling the strip extends the rest of the photo by the fraction on that side: the canvas and mask that
    `obscura outpaint` makes from the rest are the photo with the strip zeroed and the strip."""
    image = np.random.default_rng(0).random((48, 64, 3)).astype(np.float32)
    mask = outpaint_mask(image.shape[:2], side, 0.25)
    rows, cols = np.nonzero(~mask)
    rest = image[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    assert (~mask).sum() == rest.shape[0] * rest.shape[1]          # the known part is one rectangle
    margin = image.shape[1] - rest.shape[1] if side in ("left", "right") else image.shape[0] - rest.shape[0]
    along = rest.shape[1] if side in ("left", "right") else rest.shape[0]
    assert margin == round(0.25 * along) and margin > 0            # 64 -> 51 + 13; 48 -> 38 + 10
    canvas, new = extend_canvas(rest, **{side: margin})
    np.testing.assert_array_equal(new, mask)
    np.testing.assert_array_equal(canvas, np.where(mask[..., None], 0.0, image))


def test_outpaint_set_is_seeded_with_every_side_and_a_slot_per_photo():
    a, b = outpaint_set((40, 40), 24, 0.25, seed=3), outpaint_set((40, 40), 24, 0.25, seed=3)
    assert all(np.array_equal(x["mask"], y["mask"]) and x["slot"] == y["slot"] for x, y in zip(a, b))
    assert sorted(c["slot"] for c in a) == list(range(24)) and {c["kind"] for c in a} == {"outpaint"}
    sides = {tuple(np.nonzero(c["mask"][20])[0][[0, -1]]) if c["mask"][20].any() else "row" for c in a}
    assert len(sides) == 3                   # left strip, right strip, and top/bottom strips (row 20 known)
    assert all(c["bucket"] == (20, 30) and c["ratio"] == pytest.approx(8 / 40) for c in a)
    with pytest.raises(ObscuraError, match="unknown side"):
        outpaint_mask((40, 40), "front", 0.25)
    with pytest.raises(ObscuraError, match="no strip"):
        outpaint_mask((40, 40), "left", 0.001)


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
