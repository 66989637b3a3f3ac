import subprocess
import sys

import numpy as np
import pytest
from skimage import data
from skimage.transform import resize

from obscura.errors import ObscuraError
from obscura.inpainting.classical import CLASSICAL
from obscura.inpainting.evaluate import (comparison_grid, count_runs, evaluate, method_metrics, paired_difference,
                                         ranking, scores, summarise)
from obscura.inpainting.masks import mask_set
from obscura.inpainting.methods import deep_method, get_method
from obscura.inpainting.outpaint import extend_canvas, outpaint
from obscura.io import load_image, save_image
from obscura.metrics import mean_interval


@pytest.fixture(scope="module")
def photo():
    return resize(data.coffee()[:, 100:500], (40, 40), anti_aliasing=True).astype(np.float32)


def test_scores_label_hole_and_full(photo):
    mask = np.zeros((40, 40), bool)
    mask[:10] = True
    out = photo.copy()
    out[mask] = np.clip(out[mask] + 0.1, 0, 1)
    s = scores(out, photo, mask)
    err = ((out - photo.astype(np.float64)) ** 2)
    assert s["hole_psnr"] == pytest.approx(10 * np.log10(1 / err[mask].mean()))
    assert s["full_psnr"] == pytest.approx(10 * np.log10(1 / err.mean()))
    assert s["full_psnr"] > s["hole_psnr"]  # the hole is a quarter of the image
    assert 0 < s["ssim"] < 1 and s["hole_l1"] <= 0.1 + 1e-6


def test_evaluate_and_summarise(photo):
    cases = [{**c, "image": "coffee"} for c in mask_set((40, 40), 1, buckets=[(10, 20), (30, 40)], seed=0)]
    methods = {n: CLASSICAL[n] for n in ("harmonic", "telea")}
    rows = evaluate(methods, {"coffee": photo}, cases)
    assert len(rows) == 12 and all(r["known_unchanged"] and r["set"] == "heldout" for r in rows)
    table, metrics = summarise(rows)
    assert {(t["method"], t["bucket"], t["kind"]) for t in table} >= {
        ("harmonic", "10-20", "all"), ("telea", "30-40", "all"), ("harmonic", "all", "all"), ("telea", "all", "box")}
    assert metrics["harmonic.10-20.hole_psnr"] > 10 and metrics["telea.strokes.ssim"] > 0
    for t in table:
        assert t["hole_psnr_lo"] <= t["hole_psnr"] <= t["hole_psnr_hi"]
        assert t["full_psnr_lo"] <= t["full_psnr"] <= t["full_psnr_hi"]
        assert t["n"] == {"all": 6}.get(t["bucket"], 3) if t["kind"] == "all" else t["n"] == 2
    assert all(np.isfinite(v) for v in metrics.values())


def test_summary_intervals_are_the_bootstrap_of_the_case_scores():
    rng = np.random.default_rng(0)
    rows = [{"method": "m", "set": s, "bucket": b, "kind": k, "hole_psnr": rng.normal(20, 2),
             "full_psnr": rng.normal(30, 1), "ssim": 0.9, "hole_l1": 0.1, "seconds": 0.01}
            for s in ("heldout", "unseen") for b in ("10-20", "30-40") for k in ("strokes", "box") for _ in range(6)]
    table, metrics = summarise(rows)
    entry = next(t for t in table if (t["set"], t["bucket"], t["kind"]) == ("unseen", "30-40", "all"))
    scores = [r["hole_psnr"] for r in rows if r["set"] == "unseen" and r["bucket"] == "30-40"]
    assert entry["n"] == 12 and entry["hole_psnr"] == pytest.approx(np.mean(scores))
    assert (entry["hole_psnr_lo"], entry["hole_psnr_hi"]) == mean_interval(scores)
    assert entry["hole_psnr_lo"] < np.mean(scores) < entry["hole_psnr_hi"]
    assert metrics["m.unseen_30-40.hole_psnr"] == pytest.approx(np.mean(scores), abs=1e-6)
    assert metrics["m.box.hole_psnr"] == pytest.approx(
        np.mean([r["hole_psnr"] for r in rows if r["set"] == "heldout" and r["kind"] == "box"]), abs=1e-6)
    assert method_metrics(metrics, "m")["hole_psnr_unseen_30_40"] == metrics["m.unseen_30-40.hole_psnr"]


def test_paired_difference_uses_only_the_cases_both_methods_ran():
    """b beats a by exactly 0.5 dB on each shared case; a also ran cases b did not (which must not count). Two
    masks of one photo, size and kind are two cases (``masks_per_bucket`` > 1): pairs follow the case index."""
    rng = np.random.default_rng(1)
    rows = []
    for i in range(10):
        bucket = ("10-20", "30-40")[i % 2]
        base = {"set": "heldout", "case": i, "image": f"p{i // 4}", "bucket": bucket, "kind": "box"}
        score = rng.normal(18, 2)
        rows.append({**base, "method": "a", "hole_psnr": score})
        if i < 6:
            rows.append({**base, "method": "b", "hole_psnr": score + 0.5})
    out = {r["bucket"]: r for r in paired_difference(rows, "b", "a")}
    assert out["all"]["n"] == 6 and out["30-40"]["n"] == 3 and out["all"]["wins"] == 6
    assert out["all"]["mean"] == pytest.approx(0.5) and out["all"]["lo"] == pytest.approx(0.5)
    assert paired_difference(rows, "a", "b")[0]["mean"] == pytest.approx(-0.5)
    assert paired_difference(rows, "a", "missing") == []
    shared = [r["hole_psnr"] for r in rows if r["method"] == "a" and r["case"] < 6]
    assert out["all"]["reference_mean"] == pytest.approx(np.mean(shared))
    assert out["all"]["method_mean"] == pytest.approx(np.mean(shared) + 0.5)


def test_ranking_pairs_every_method_with_the_reference_on_shared_cases_only():
    """c runs on fewer, easier cases and has the highest plain mean, yet is 1 dB below the reference where both
    ran; b is 0.5 dB above it everywhere. The ranking puts b first, c last."""
    rows = []
    for i in range(8):
        base = {"set": "heldout", "case": i, "image": f"p{i}", "bucket": "30-40", "kind": "box"}
        ref = 15.0 + i
        rows += [{**base, "method": "ref", "hole_psnr": ref}, {**base, "method": "b", "hole_psnr": ref + 0.5}]
        if i >= 6:
            rows.append({**base, "method": "c", "hole_psnr": ref - 1.0})
    assert np.mean([r["hole_psnr"] for r in rows if r["method"] == "c"]) > \
        np.mean([r["hole_psnr"] for r in rows if r["method"] == "b"])
    ranked = [r for r in ranking(rows, "ref") if r["bucket"] == "all"]
    assert [r["method"] for r in ranked] == ["b", "c"]
    assert ranked[0]["difference"] == pytest.approx(0.5) and ranked[0]["n"] == 8 and ranked[0]["wins"] == 8
    assert ranked[1]["difference"] == pytest.approx(-1.0) and ranked[1]["n"] == 2 and ranked[1]["wins"] == 0
    assert ranked[1]["reference_hole_psnr"] == pytest.approx(21.5) and ranked[1]["hole_psnr"] == pytest.approx(20.5)


def test_gain_over_the_initial_fill_is_paired_per_case(photo):
    """A method with an ``initial_fill`` is scored against it on the same cases: the gain is the per-case
    difference of hole PSNRs, its interval the bootstrap of those differences; "yes" only when all of it is > 0."""
    cases = [{**c, "image": "coffee"} for c in mask_set((40, 40), 2, buckets=[(10, 20), (30, 40)], seed=1)]
    better = lambda image, mask: CLASSICAL["harmonic"](image, mask)  # noqa: E731
    better.initial_fill = lambda image, mask: np.where(mask[..., None], 0.0, image)  # a black hole
    same = lambda image, mask: CLASSICAL["push_pull"](image, mask)  # noqa: E731
    same.initial_fill = CLASSICAL["push_pull"]
    methods = {"better": better, "same": same, "telea": CLASSICAL["telea"]}
    rows = evaluate(methods, {"coffee": photo}, cases)
    by = {(r["method"], r["case"]): r for r in rows}
    black = evaluate({"black": better.initial_fill}, {"coffee": photo}, cases)
    gains = [by[("better", r["case"])]["hole_psnr"] - r["hole_psnr"] for r in black]
    assert [by[("better", r["case"])]["gain_hole_psnr"] for r in black] == pytest.approx(gains)
    assert all(by[("same", r["case"])]["gain_hole_psnr"] == 0 for r in black)
    assert not any("gain_hole_psnr" in r for r in rows if r["method"] == "telea")
    table, metrics = summarise(rows)
    overall = {t["method"]: t for t in table if t["bucket"] == t["kind"] == "all"}
    assert overall["better"]["gain_hole_psnr"] == pytest.approx(np.mean(gains))
    assert (overall["better"]["gain_hole_psnr_lo"], overall["better"]["gain_hole_psnr_hi"]) == mean_interval(gains)
    assert min(gains) > 0 and overall["better"]["beats_initial_fill"] == "yes"
    assert overall["same"]["beats_initial_fill"] == "no" and "beats_initial_fill" not in overall["telea"]
    assert metrics["better.all.gain_hole_psnr"] == pytest.approx(np.mean(gains), abs=1e-6)


def test_deep_method_exposes_the_fill_it_starts_from(photo):
    from obscura.inpainting.deep.registry import make_config

    mask = np.zeros((40, 40), bool)
    mask[10:25, 5:30] = True
    run = deep_method(make_config("single_stage", tiny=True).setup())
    np.testing.assert_allclose(run.initial_fill(photo, mask), CLASSICAL["harmonic"](photo, mask), atol=3e-3)


def test_slow_methods_run_on_their_nested_seeded_subset(photo):
    cases = [{**c, "image": "coffee", "set": "heldout"}
             for c in mask_set((40, 40), 4, buckets=[(10, 20)], kinds=("strokes", "box"), seed=0)]
    methods = {n: CLASSICAL[n] for n in ("harmonic", "telea")}
    rows = evaluate(methods, {"coffee": photo}, cases, per_cell={"telea": 1})
    telea = [r for r in rows if r["method"] == "telea"]
    assert len([r for r in rows if r["method"] == "harmonic"]) == 8
    assert len(telea) == 2 and {r["kind"] for r in telea} == {"strokes", "box"} and {r["slot"] for r in telea} == {0}
    wider = evaluate(methods, {"coffee": photo}, cases, per_cell={"telea": 3})
    assert {r["case"] for r in telea} < {r["case"] for r in wider if r["method"] == "telea"}
    assert count_runs(methods, cases, {"telea": 1}) == len(rows) and count_runs(methods, cases, {"telea": 3}) == len(wider)


def test_workers_give_the_serial_rows_and_fills_in_order(photo):
    from obscura.inpainting.deep.registry import make_config

    cases = [{**c, "image": "coffee", "set": "heldout"}
             for c in mask_set((40, 40), 2, buckets=[(10, 20), (30, 40)], kinds=("strokes", "box"), seed=0)]
    torch_model = make_config("single_stage", tiny=True).setup()
    methods = {"harmonic": get_method("harmonic"), "criminisi": get_method("criminisi", criminisi_patch=5),
               "single_stage": deep_method(torch_model)}
    seen = {1: [], 2: []}
    rows = {w: evaluate(methods, {"coffee": photo}, cases, per_cell={"criminisi": 1}, workers=w,
                        on_case=lambda row, out, w=w: seen[w].append((row["method"], row["case"], out)))
            for w in (1, 2)}
    assert len(rows[2]) == count_runs(methods, cases, {"criminisi": 1}) == 8 + 4 + 8
    for a, b in zip(rows[1], rows[2], strict=True):
        assert a.keys() == b.keys() and (a["method"], a["case"]) == (b["method"], b["case"])
        exact = a["method"] != "single_stage"     # torch runs on fewer threads in a worker: float rounding
        for k in ("hole_psnr", "full_psnr", "ssim", "gain_hole_psnr"):
            if k in a:
                assert a[k] == b[k] if exact else a[k] == pytest.approx(b[k], abs=1e-3), (a["method"], k)
    for (m1, c1, o1), (m2, c2, o2) in zip(seen[1], seen[2], strict=True):
        assert (m1, c1) == (m2, c2)
        np.testing.assert_allclose(o1, o2, atol=0 if m1 != "single_stage" else 1e-5)


def test_grid_has_a_tile_per_method(photo):
    grid = comparison_grid(photo, {"a": photo, "b": photo}, photo, columns=2)
    assert grid.shape[1] == 2 * 44 and grid.shape[0] == 2 * (40 + 14 + 4)


@pytest.mark.parametrize("name", ["harmonic", "criminisi"])
def test_outpaint_extends_and_keeps_image(photo, name):
    out = outpaint(photo, get_method(name, criminisi_patch=5), left=6, bottom=4)
    assert out.shape == (44, 46, 3)
    np.testing.assert_array_equal(out[:40, 6:], photo)
    assert out[:, :6].std() > 0.01  # filled with content, not left black


def test_outpaint_with_deep_model(photo):
    from obscura.inpainting.deep.registry import make_config

    fn = deep_method(make_config("single_stage", tiny=True).setup())
    out = outpaint(photo, fn, top=5, right=3)
    assert out.shape == (45, 43, 3)
    np.testing.assert_array_equal(out[5:, :40], photo)
    with pytest.raises(ObscuraError, match="margins"):
        extend_canvas(photo)


def test_unknown_method_and_missing_weights(tmp_path):
    with pytest.raises(ObscuraError, match="unknown inpainting method"):
        get_method("magic")
    with pytest.raises(ObscuraError, match="checkpoint not found; train it with `dvc repro train_inpainting`"):
        get_method("single_stage", tmp_path)


def _cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "obscura", *args], cwd=cwd, capture_output=True, text=True)


def test_cli_inpaint_and_errors(tmp_path, photo):
    save_image(tmp_path / "img.png", photo)
    mask = np.zeros((40, 40), np.uint8)
    mask[10:20, 12:30] = 255
    save_image(tmp_path / "mask.png", mask)
    r = _cli("inpaint", "img.png", "mask.png", "out.png", "--method", "telea", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    out, src = load_image(tmp_path / "out.png"), load_image(tmp_path / "img.png")
    np.testing.assert_array_equal(out[mask == 0], src[mask == 0])
    r = _cli("inpaint", "img.png", "mask.png", "default.png", cwd=tmp_path)   # the best classical fill by default
    assert r.returncode == 0 and "with harmonic" in r.stdout
    assert _cli("inpaint", "img.png", "mask.png", "harmonic.png", "--method", "harmonic", cwd=tmp_path).returncode == 0
    np.testing.assert_array_equal(load_image(tmp_path / "default.png"), load_image(tmp_path / "harmonic.png"))
    assert not np.array_equal(load_image(tmp_path / "default.png"), out)                  # telea's is another fill
    save_image(tmp_path / "small.png", mask[:20])
    r = _cli("inpaint", "img.png", "small.png", "bad.png", cwd=tmp_path)
    assert r.returncode == 2 and "resize the mask" in r.stderr and not (tmp_path / "bad.png").exists()
    save_image(tmp_path / "empty.png", np.zeros((40, 40), np.uint8))
    r = _cli("inpaint", "img.png", "empty.png", "bad.png", cwd=tmp_path)
    assert r.returncode == 2 and "nothing to inpaint" in r.stderr
    (tmp_path / "text.png").write_text("hello")
    r = _cli("inpaint", "text.png", "mask.png", "bad.png", cwd=tmp_path)
    assert r.returncode == 2 and "not a readable image" in r.stderr
    rgba = np.concatenate([(photo * 255).astype(np.uint8), np.full((40, 40, 1), 255, np.uint8)], 2)
    save_image(tmp_path / "rgba.png", rgba)
    r = _cli("inpaint", "rgba.png", "mask.png", "rgba_out.png", "--method", "harmonic", cwd=tmp_path)
    assert r.returncode == 0 and "alpha" in r.stderr
    r = _cli("outpaint", "img.png", "wide.png", "--right", "8", "--method", "harmonic", cwd=tmp_path)
    assert r.returncode == 0 and load_image(tmp_path / "wide.png").shape == (40, 48, 3)


def test_inception_scores_rank_identity_fill_best():
    import numpy as np

    from obscura.metrics import PixelFeatures
    from obscura.inpainting.evaluate import inception_scores

    rng = np.random.default_rng(0)
    targets = [rng.random((16, 16, 3), dtype=np.float32) for _ in range(6)]
    outputs = {"perfect": [t.copy() for t in targets],
               "noisy": [np.clip(t + rng.normal(0, 0.3, t.shape), 0, 1).astype(np.float32) for t in targets]}
    others = [rng.random((16, 16, 3), dtype=np.float32) for _ in range(3)]
    scores, pairs = inception_scores(outputs, targets, seed=0, net=PixelFeatures(3, 16), floor=(others, targets[:3]))
    assert abs(scores["perfect.all.fid"]) < 1e-3 and scores["perfect.all.kid"] < scores["noisy.all.kid"]
    assert scores["noisy.all.kid_lo"] <= scores["noisy.all.kid"] <= scores["noisy.all.kid_hi"]
    assert [(p["method"], p["other"]) for p in pairs] == [("perfect", "noisy")]
    assert pairs[0]["difference"] == pytest.approx(scores["perfect.all.kid"] - scores["noisy.all.kid"], abs=1e-6)
    assert scores["perfect.all.kid"] == 0 and pairs[0]["difference"] < 0
    assert scores["noisy.all.fid"] > 1.0 and scores["inception_images"] == 6
    assert scores["real_vs_real.all.fid"] > scores["perfect.all.fid"] and scores["real_vs_real_images"] == 3
    again, no_pairs = inception_scores({}, targets, seed=0, net=PixelFeatures(3, 16), floor=(others, targets[:3]))
    assert no_pairs == []
    assert again["real_vs_real.all.kid"] == scores["real_vs_real.all.kid"]       # the floor ignores the fills


def test_real_vs_real_floor_uses_distinct_photos_only():
    from obscura.inpainting.evaluate import real_photo_pairs

    images = {n: np.full((4, 4, 3), i, np.float32) for i, n in enumerate("abcdefgh")}
    cases = ([{"set": "heldout", "image": n} for n in "abcdeabcde"] +          # 5 held-out photos, repeated
             [{"set": "unseen", "image": n} for n in "fgfgfg"])                 # 2 unseen photos, 3 masks each
    fid_cases = list(range(10))
    unseen, originals = real_photo_pairs(cases, fid_cases, images, seed=0)
    assert [u[0, 0, 0] for u in unseen] == [5, 6]
    picked = [o[0, 0, 0] for o in originals]
    assert len(set(picked)) == 2 and set(picked) <= {0, 1, 2, 3, 4}
    assert [o[0, 0, 0] for o in real_photo_pairs(cases, fid_cases, images, seed=0)[1]] == picked   # seeded
    assert real_photo_pairs(cases[:10] + cases[10:11], fid_cases, images, seed=0) is None      # one unseen photo


def test_kid_bootstrap_is_the_unbiased_mmd_over_distinct_cases_with_paired_intervals():
    """KID is the cubic-kernel MMD² over pairs of distinct cases: torchmetrics' poly_mmd less its pairing of each
    fill with its own original, so fills equal to the photos score exactly 0 (torchmetrics' estimator: below 0); a
    fill set shifted away from the reals has a paired difference whose interval excludes 0; identical sets, 0."""
    import numpy as np
    import torch
    from torchmetrics.image.kid import poly_mmd

    from obscura.inpainting.evaluate import kid_bootstrap

    rng = np.random.default_rng(0)
    real = rng.normal(size=(30, 8))
    near = real + rng.normal(scale=0.3, size=real.shape)
    far = near + 1.0
    intervals, pairs = kid_bootstrap(real, {"near": near, "far": far, "copy": near.copy()}, resamples=500)
    gamma = 1 / real.shape[1]
    for name, fake in (("near", near), ("far", far)):
        kid, lo, hi = intervals[name]
        own = ((real * fake).sum(1) * gamma + 1) ** 3           # each fill against its own original
        cross_all = (real @ fake.T * gamma + 1) ** 3
        n = len(real)                                             # poly_mmd's cross term, all N² pairs, swapped for
        distinct = (cross_all.sum() - own.sum()) / (n * (n - 1))  # the N(N-1) pairs of distinct cases
        expected = float(poly_mmd(torch.from_numpy(real), torch.from_numpy(fake))) + 2 * cross_all.mean() - 2 * distinct
        assert kid == pytest.approx(expected, rel=1e-9)
        assert lo < kid < hi
    same = kid_bootstrap(real, {"same": real.copy()}, resamples=50)[0]["same"]
    assert same == pytest.approx((0.0, 0.0, 0.0), abs=1e-12) and float(poly_mmd(torch.from_numpy(real), torch.from_numpy(real))) < 0
    by_pair = {(p["method"], p["other"]): p for p in pairs}
    assert list(by_pair) == [("near", "far"), ("near", "copy"), ("far", "copy")]
    near_far = by_pair[("near", "far")]
    assert near_far["difference"] == pytest.approx(intervals["near"][0] - intervals["far"][0])
    assert near_far["difference_lo"] <= near_far["difference"] <= near_far["difference_hi"] < 0
    assert by_pair[("near", "copy")]["difference_lo"] == pytest.approx(0, abs=1e-12)
    assert by_pair[("near", "copy")]["difference_hi"] == pytest.approx(0, abs=1e-12)
    again = kid_bootstrap(real, {"near": near, "far": far, "copy": near.copy()}, resamples=500)
    assert again == (intervals, pairs)                                                   # seeded
    with pytest.raises(ValueError, match="at least 3 photos"):
        kid_bootstrap(real[:2], {"near": near[:2]})


def test_kid_bootstrap_pairs_only_cases_of_different_photos():
    """Two cases cut from one photo are not independent: with ``groups`` (each case's photo) every kernel term pairs
    cases of different photos, and the bootstrap resamples photos with all their cases."""
    import numpy as np

    from obscura.inpainting.evaluate import kid_bootstrap

    rng = np.random.default_rng(2)
    groups = np.repeat(np.arange(6), 2)                               # 12 cases, two per photo
    real = rng.normal(size=(6, 5))[groups]
    fill = real + rng.normal(scale=0.4, size=real.shape)
    k = lambda a, b: (a @ b.T / 5 + 1) ** 3                           # noqa: E731
    other = groups[:, None] != groups[None, :]
    expected = k(real, real)[other].mean() + k(fill, fill)[other].mean() - 2 * k(real, fill)[other].mean()
    (kid, lo, hi), = kid_bootstrap(real, {"fill": fill}, groups, resamples=300)[0].values()
    assert kid == pytest.approx(expected, rel=1e-12) and lo < kid < hi
    assert kid_bootstrap(real, {"fill": fill}, resamples=3)[0]["fill"][0] != pytest.approx(kid)   # cases alone
    assert kid_bootstrap(real, {"same": real.copy()}, groups, resamples=20)[0]["same"] == pytest.approx(
        (0.0, 0.0, 0.0), abs=1e-12)                                  # the photos' own duplicates are left out too
    with pytest.raises(ValueError, match="group labels"):
        kid_bootstrap(real, {"fill": fill}, groups[:5])
