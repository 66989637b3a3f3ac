import cv2
import numpy as np
import pytest
from skimage import data
from skimage.restoration import inpaint_biharmonic
from skimage.transform import resize

from obscura.errors import ObscuraError
from obscura.inpainting.classical import CLASSICAL
from obscura.inpainting.classical.exemplar import _best_source, _fields_into, _maps, _order, criminisi
from obscura.inpainting.classical.hybrid import hybrid, texture_weight, thick_part
from obscura.inpainting.classical.variational import (_tv_descent, _tv_descent_reference, biharmonic, harmonic,
                                                      total_variation)
from obscura.inpainting.masks import random_mask


@pytest.fixture(scope="module")
def photo():
    return resize(data.chelsea()[:300, 50:350], (48, 48), anti_aliasing=True).astype(np.float32)


def ramp(h=40, w=52):
    yy, xx = np.mgrid[0:h, 0:w]
    return np.stack([xx / w, yy / h, 0.3 + 0.4 * (xx + yy) / (w + h)], -1).astype(np.float32)


@pytest.mark.parametrize("name", sorted(CLASSICAL))
@pytest.mark.parametrize("kind", ["strokes", "box"])
def test_known_pixels_exactly_unchanged(photo, name, kind):
    mask = random_mask(photo.shape[:2], (20, 30), kind, np.random.default_rng(3))
    out = CLASSICAL[name](photo, mask)
    assert out.shape == photo.shape and out.dtype == np.float32
    np.testing.assert_array_equal(out[~mask], photo[~mask])
    assert np.isfinite(out).all() and out.min() >= 0 and out.max() <= 1
    # the hole really was filled: not left at zero
    assert np.abs(out[mask] - photo[mask]).mean() < 0.25


@pytest.mark.parametrize("method", [harmonic, biharmonic, total_variation])
def test_pde_recovers_linear_ramp(method):
    image = ramp()
    mask = np.zeros(image.shape[:2], bool)
    mask[10:30, 12:40] = True
    mask[3:8, 44:49] = True
    out = method(image, mask)
    np.testing.assert_allclose(out, image, atol=2e-3)


def test_total_variation_kernel_matches_its_numpy_reference():
    rng = np.random.default_rng(3)
    u = rng.random((23, 31, 3))
    hole = np.zeros((23, 31), bool)
    hole[:9, 20:] = True                      # touching the top and right borders
    hole[12:20, 3:11] = True
    fast = _tv_descent(u, hole, 40, 1e-2, 0.2)
    np.testing.assert_allclose(fast, _tv_descent_reference(u, hole, 40, 1e-2, 0.2), rtol=0, atol=1e-12)
    np.testing.assert_array_equal(fast[~hole], u[~hole])
    assert np.abs(fast - u)[hole].max() > 1e-3   # the descent moved the hole


def test_own_biharmonic_matches_skimage(photo):
    mask = np.zeros(photo.shape[:2], bool)
    mask[12:30, 15:35] = True
    ref = inpaint_biharmonic(photo, mask, channel_axis=-1)
    np.testing.assert_allclose(biharmonic(photo, mask)[mask], ref[mask], atol=1e-4)


def test_harmonic_is_discrete_mean_value():
    rng = np.random.default_rng(0)
    image = rng.random((20, 20, 3)).astype(np.float32)
    mask = np.zeros((20, 20), bool)
    mask[5:15, 6:14] = True
    out = harmonic(image, mask).astype(np.float64)
    avg = (out[:-2, 1:-1] + out[2:, 1:-1] + out[1:-1, :-2] + out[1:-1, 2:]) / 4
    inner = mask[1:-1, 1:-1]
    np.testing.assert_allclose(out[1:-1, 1:-1][inner], avg[inner], atol=1e-5)


def test_criminisi_reproduces_periodic_texture():
    period = 6
    yy, xx = np.mgrid[0:60, 0:60]
    stripes = ((xx + 2 * yy) % period < 3).astype(np.float32)
    texture = np.stack([stripes, 1 - stripes, 0.5 * np.ones_like(stripes)], -1)
    mask = np.zeros((60, 60), bool)
    mask[20:38, 22:40] = True
    out = criminisi(texture, mask, patch_size=7)
    np.testing.assert_allclose(out, texture, atol=1e-6)
    # the diffusion fill cannot do this: it blurs the stripes
    assert np.abs(harmonic(texture, mask) - texture)[mask].mean() > 0.2


@pytest.mark.parametrize("kind", ["strokes", "rectangles", "box"])
def test_criminisi_incremental_fields_give_the_reference_fill(kind):
    """The fast path updates the priority fields around each patch; the reference recomputes them on the whole
    image after every patch: the fills must be identical, holes touching the border included."""
    image = resize(data.astronaut()[:256, 128:384], (64, 64), anti_aliasing=True).astype(np.float32)
    mask = random_mask((64, 64), (30, 40), kind, np.random.default_rng(5))
    mask[:3, 20:30] = True
    np.testing.assert_array_equal(criminisi(image, mask, patch_size=7),
                                  criminisi(image, mask, patch_size=7, incremental=False))


def test_criminisi_fields_match_opencv(photo):
    """Sobel gradients, the Gaussian-blurred normals, the eroded known region and the front agree with OpenCV's
    operators (to rounding) on a photo with a hole."""
    known = ~random_mask(photo.shape[:2], (20, 30), "strokes", np.random.default_rng(1))
    gx, gy, valid, nx, ny, front = _maps(photo, known)
    gray = photo @ np.array([0.299, 0.587, 0.114], np.float32)
    np.testing.assert_allclose(gx, cv2.Sobel(gray, cv2.CV_64F, 1, 0, ksize=3) / 8, atol=1e-6)
    np.testing.assert_allclose(gy, cv2.Sobel(gray, cv2.CV_64F, 0, 1, ksize=3) / 8, atol=1e-6)
    kf = cv2.GaussianBlur(known.astype(np.float64), (5, 5), 1.0)
    cx, cy = cv2.Sobel(kf, cv2.CV_64F, 1, 0, ksize=3), cv2.Sobel(kf, cv2.CV_64F, 0, 1, ksize=3)
    norm = np.hypot(cx, cy) + 1e-12
    np.testing.assert_allclose(nx, cx / norm, atol=1e-6)
    np.testing.assert_allclose(ny, cy / norm, atol=1e-6)
    k8 = known.astype(np.uint8)
    np.testing.assert_array_equal(valid, cv2.erode(k8, np.ones((3, 3), np.uint8), borderType=cv2.BORDER_REPLICATE) > 0)
    np.testing.assert_array_equal(front, ~known & (cv2.dilate(k8, np.ones((3, 3), np.uint8)) > 0))


def test_compiled_fields_are_the_numpy_fields():
    """The compiled field update gives numpy's fields bit for bit, on the whole image and on any region of it
    (borders included), odd sizes down to the smallest image a 3 px patch allows."""
    rng = np.random.default_rng(2)
    for shape in [(40, 40), (23, 37), (3, 5), (5, 3), (3, 3)]:
        work = rng.random((*shape, 3)).astype(np.float32)
        known = rng.random(shape) > 0.4
        reference = _maps(work, known)
        fields = [np.full(shape, np.nan), np.full(shape, np.nan), np.zeros(shape, bool), np.full(shape, np.nan),
                  np.full(shape, np.nan), np.zeros(shape, bool)]
        _fields_into(work, known, *fields, 0, shape[0], 0, shape[1])
        for field, ref in zip(fields, reference):
            np.testing.assert_array_equal(field, ref)
        for _ in range(10):
            y0, x0 = rng.integers(0, shape[0]), rng.integers(0, shape[1])
            y1, x1 = rng.integers(y0 + 1, shape[0] + 1), rng.integers(x0 + 1, shape[1] + 1)
            for field, ref in zip(fields, reference):     # a value the kernel must overwrite
                field[y0:y1, x0:x1] = ~ref[y0:y1, x0:x1] if field.dtype == bool else np.nan
            _fields_into(work, known, *fields, y0, y1, x0, x1)
            for field, ref in zip(fields, reference):
                np.testing.assert_array_equal(field, ref)


@pytest.mark.parametrize("chunks", [1, 2, 5])
@pytest.mark.parametrize("guess", [0, 37, 255])
@pytest.mark.parametrize("tiled", [False, True])
@pytest.mark.parametrize("picked", [0, 3, 12])
def test_best_source_is_the_first_exhaustive_minimum(chunks, guess, tiled, picked):
    """The chunked parallel scan, pruned by the lower bounds of any number of picked pixels and bounded by any
    guess, returns what an exhaustive argmin returns: random values, and a tiled 4 px pattern where the minimum
    (an exact copy) is tied at many sources."""
    rng = np.random.default_rng(0)
    work = rng.integers(0, 3, (20, 20, 3)).astype(np.float32)   # few values: many exact ties
    if tiled:
        work = np.tile(work[:4, :4], (5, 5, 1))
    src_y, src_x = np.nonzero(rng.random((16, 16)) < 0.8)
    oy, ox = np.nonzero(rng.random((5, 5)) < 0.6)
    target = work[2 + oy, 7 + ox] + (0 if tiled else rng.integers(0, 2, (oy.size, 3)))
    ssd = np.array([((work[y + oy, x + ox] - target) ** 2).sum() for y, x in zip(src_y, src_x)])
    assert (ssd == ssd.min()).sum() > (1 if tiled else 0)
    planes, bounds = np.ascontiguousarray(work.transpose(2, 0, 1)), np.empty((16, 16), np.float32)
    guess = min(guess, src_y.size - 1)
    assert _best_source(work, planes, src_y, src_x, oy, ox, target, chunks, guess, _order(target), picked,
                        bounds) == int(np.argmin(ssd))
    # the bounds are the picked pixels' SSDs
    pick = _order(target)[:picked]
    expect = [((work[y + oy[pick], x + ox[pick]] - target[pick]) ** 2).sum() for y, x in zip(src_y, src_x)]
    np.testing.assert_allclose(bounds[src_y, src_x], expect, rtol=1e-6)


@pytest.mark.parametrize("picked", [0, 12, 1000])
def test_best_source_on_photo_values_with_near_ties(picked):
    """On float32 photo values the pruned scan returns the first minimum of the SSD summed as the scan sums it
    (float32 squares added in float64, pixel by pixel): the target is a source patch with one channel moved by one
    ulp, repeated so that the minimum is tied, next to sources that differ from it by a few ulps more."""
    tile = resize(data.astronaut()[100:200, 200:300], (12, 12), anti_aliasing=True).astype(np.float32)
    work = np.tile(tile, (3, 3, 1))
    work[20:32, 0:12] = np.nextafter(work[20:32, 0:12], np.float32(2))     # a near copy: every value one ulp up
    src_y, src_x = np.nonzero(np.ones((30, 30), bool))
    oy, ox = np.nonzero(np.random.default_rng(1).random((7, 7)) < 0.7)
    target = work[5 + oy, 4 + ox].copy()
    target[0, 1] = np.nextafter(target[0, 1], np.float32(0))
    ssd = np.array([np.cumsum(((work[y + oy, x + ox] - target) ** 2).ravel().astype(np.float64))[-1]
                    for y, x in zip(src_y, src_x)])
    assert (ssd == ssd.min()).sum() > 1 and np.sort(np.unique(ssd))[1] < 1e-10     # tied, and a near miss
    planes, bounds = np.ascontiguousarray(work.transpose(2, 0, 1)), np.empty((30, 30), np.float32)
    for guess in (0, int(np.argmin(ssd)), src_y.size - 1):
        assert _best_source(work, planes, src_y, src_x, oy, ox, target, 2, guess, _order(target), picked,
                            bounds) == int(np.argmin(ssd))


def test_best_source_ties_survive_float32_bounds():
    """Every pixel picked: a source's bound is its whole SSD summed in float32, which can round above the float64
    sum the scan compares. A copy tied with the guess but earlier must still win (the bounds' slack), for noisy
    targets whose float32 sums round either way."""
    tile = resize(data.astronaut()[100:200, 200:300], (10, 10), anti_aliasing=True).astype(np.float32)
    work = np.tile(tile, (2, 3, 1))                                   # every patch has exact copies
    src_y, src_x = np.nonzero(np.ones((16, 26), bool))
    oy, ox = np.nonzero(np.ones((5, 5), bool))
    planes, bounds = np.ascontiguousarray(work.transpose(2, 0, 1)), np.empty((16, 26), np.float32)
    rng = np.random.default_rng(3)
    for _ in range(40):
        target = work[2 + oy, 3 + ox] + rng.normal(0, 0.05, (oy.size, 3)).astype(np.float32)
        ssd = np.array([np.cumsum(((work[y + oy, x + ox] - target) ** 2).ravel().astype(np.float64))[-1]
                        for y, x in zip(src_y, src_x)])
        tied = np.flatnonzero(ssd == ssd.min())
        assert tied.size > 1
        assert _best_source(work, planes, src_y, src_x, oy, ox, target, 1, int(tied[-1]), _order(target), 25,
                            bounds) == tied[0]


def test_hybrid_splits_thin_and_thick():
    mask = np.zeros((40, 40), bool)
    mask[5:7, :] = True  # 2-px scratch
    mask[20:32, 10:22] = True  # 12-px block
    thick = thick_part(mask, radius=3)
    assert not thick[5:7].any() and thick[22:30, 12:20].all()


def test_hybrid_is_structure_where_thin_texture_where_thick_and_a_blend_between():
    """A linear ramp above periodic stripes: a 2-px scratch across the ramp gets the biharmonic fill (exact on a
    ramp), the inside of a block in the stripes gets Criminisi's copy (exact on a period it has seen), and the
    seam between goes from one to the other in proportion to the depth into the thick part."""
    yy, xx = np.mgrid[0:72, 0:72].astype(np.float32)
    ramp = np.stack([xx / 71, yy / 71, 0.5 + 0 * xx], -1)
    stripes = ((xx + 2 * yy) % 6 < 3).astype(np.float32)
    image = np.where((yy < 24)[..., None], ramp, np.stack([stripes, 1 - stripes, 0.5 + 0 * xx], -1))
    mask = np.zeros((72, 72), bool)
    mask[10:12, 4:68] = True                 # thin: the radius-4 disk does not fit
    mask[38:60, 26:48] = True                # thick, surrounded by stripes
    seam = 6.0
    out = hybrid(image, mask, radius=4, patch_size=7, seam=seam)
    thick = thick_part(mask, 4)
    np.testing.assert_allclose(out[10:12, 4:68], image[10:12, 4:68], atol=1e-4)     # structure where thin
    w = texture_weight(thick, seam)
    deep = w == 1.0
    assert deep.sum() > 50
    np.testing.assert_allclose(out[deep], image[deep], atol=1e-6)                   # texture where thick
    structure = biharmonic(image, mask)
    texture = criminisi(np.where(thick[..., None], 0.0, structure), thick, patch_size=7, sources=~mask)
    band = thick & (w < 1.0)
    assert band.sum() > 50
    expected = (1 - w[..., None]) * structure + w[..., None] * texture
    np.testing.assert_allclose(out[band], np.clip(expected[band], 0, 1), atol=1e-5)  # a blend at the seam
    assert np.abs(out[band] - structure[band]).max() > 0.1 and np.abs(out[band] - texture[band]).max() > 0.1
    assert np.isclose(w[thick].min(), 1 / seam, atol=0.05)   # first pixel inside: one pixel deep
    hard = hybrid(image, mask, radius=4, patch_size=7, seam=0)                      # seam 0: a hard switch
    np.testing.assert_allclose(hard[thick], np.clip(texture[thick], 0, 1), atol=1e-6)


def test_criminisi_copies_only_from_its_sources():
    """Left half in {0.1, 0.2}, right half in {0.7, 0.8}, a hole across the middle: with the right half as the
    only sources every filled pixel takes a right-half value; by default both halves are copied from."""
    rng = np.random.default_rng(3)
    image = np.where(np.arange(48)[None, :, None] < 24, 0.1, 0.7) + 0.1 * rng.integers(0, 2, (48, 48, 1))
    image = np.repeat(image, 3, axis=2).astype(np.float32)
    mask = np.zeros((48, 48), bool)
    mask[16:32, 12:36] = True
    sources = ~mask
    sources[:, :24] = False
    def right(values):
        return np.isclose(values[:, None], [0.7, 0.8], atol=1e-5).any(1)

    restricted = criminisi(image, mask, patch_size=5, sources=sources)[mask, 0]
    assert right(restricted).all()
    default = criminisi(image, mask, patch_size=5)[mask, 0]
    assert right(default).any() and not right(default).all()
    with pytest.raises(ObscuraError, match="outside the hole"):
        criminisi(image, mask, patch_size=5, sources=np.ones_like(mask))


def test_hybrid_copies_the_structure_fill_when_scratches_leave_no_clean_patch():
    """Scratches every 6 px leave no clean 7x7 patch of the photo: the hybrid copies from the context it filled
    (Criminisi alone has nothing to copy and says so)."""
    image = np.random.default_rng(4).random((48, 48, 3)).astype(np.float32)
    mask = np.zeros((48, 48), bool)
    mask[::6] = True
    mask[18:34, 18:34] = True
    with pytest.raises(ObscuraError, match="fully known"):
        criminisi(image, mask, patch_size=7)
    out = hybrid(image, mask, radius=4, patch_size=7)
    assert np.isfinite(out).all() and np.array_equal(out[~mask], image[~mask])


def test_criminisi_needs_source_patches():
    image = np.random.default_rng(0).random((12, 12, 3)).astype(np.float32)
    mask = np.zeros((12, 12), bool)
    mask[2:10, 2:10] = True
    with pytest.raises(ObscuraError, match="fully known"):
        criminisi(image, mask, patch_size=9)
    with pytest.raises(ObscuraError, match="odd"):
        criminisi(image, mask, patch_size=4)
