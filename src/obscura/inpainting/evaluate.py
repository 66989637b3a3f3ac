"""Scoring: every method on every (held-out photo, mask); per method x bucket summaries and grids."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable

import numpy as np

from obscura.inpainting.masks import bucket_name
from obscura.metrics import mean_interval, psnr, ssim


def scores(output: np.ndarray, target: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    """hole_psnr (hole pixels only), full_psnr (whole image), ssim (whole image), hole_l1."""
    return {
        "hole_psnr": psnr(output, target, mask),
        "full_psnr": psnr(output, target),
        "ssim": ssim(output, target),
        "hole_l1": float(np.abs(output.astype(np.float64) - target)[mask].mean()),
    }


def _runs_on(method: str, case: dict, per_cell: dict[str, int] | None) -> bool:
    return case.get("slot", 0) < (per_cell or {}).get(method, np.inf)


def count_runs(methods, cases: list[dict], per_cell: dict[str, int] | None = None) -> int:
    """How many (method, case) runs :func:`evaluate` makes (the progress bar's total)."""
    return sum(_runs_on(name, case, per_cell) for case in cases for name in methods)


def _run_case(methods: dict[str, Callable], target: np.ndarray, index: int, case: dict,
              per_cell: dict[str, int] | None) -> list[tuple[dict, np.ndarray]]:
    """Every method that runs on one case: (row, output) pairs in ``methods``' order."""
    mask, out_rows = case["mask"], []
    masked = np.where(mask[..., None], 0.0, target).astype(np.float32)
    for name, fn in methods.items():
        if not _runs_on(name, case, per_cell):
            continue
        start = time.perf_counter()
        out = fn(masked, mask)
        seconds = time.perf_counter() - start
        row = {"method": name, "case": index, "set": case.get("set", "heldout"), "image": case["image"],
               "bucket": bucket_name(case["bucket"]), "kind": case["kind"], "slot": case.get("slot", 0),
               "ratio": float(mask.mean()), "seconds": seconds,
               "known_unchanged": bool(np.array_equal(out[~mask], target[~mask])),
               **scores(out, target, mask)}
        initial = getattr(fn, "initial_fill", None)
        if initial is not None:
            row["gain_hole_psnr"] = row["hole_psnr"] - psnr(initial(masked, mask), target, mask)
        out_rows.append((row, out))
    return out_rows


_WORKER: dict = {}


def _start_worker(methods, images, cases, per_cell) -> None:
    _WORKER.update(methods=methods, images=images, cases=cases, per_cell=per_cell)


def _worker_case(index: int) -> list[tuple[dict, np.ndarray]]:
    w = _WORKER
    case = w["cases"][index]
    return _run_case(w["methods"], w["images"][case["image"]], index, case, w["per_cell"])


def evaluate(methods: dict[str, Callable], images: dict[str, np.ndarray], cases: list[dict],
             on_case: Callable[[dict, np.ndarray], None] | None = None, progress=None,
             per_cell: dict[str, int] | None = None, workers: int = 1) -> list[dict]:
    """Run every method on every case (dict with ``image`` name, ``mask``, ``bucket``, ``kind`` and optional
    ``set``, ``slot``), or, for a method in ``per_cell``, on the cases with ``slot`` below its count.

    Returns one row per (method, case run) with scores and ``seconds``; a method with an ``initial_fill`` (the
    deep ones, :func:`~obscura.inpainting.methods.deep_method`) also gets ``gain_hole_psnr``: its hole PSNR minus
    that of the fill it starts from, on the same case. ``on_case(row, output)`` sees every output (for grids);
    ``progress()`` is called once per row. ``workers`` > 1 runs the cases in that many spawned processes (the
    methods must pickle), each with an equal share of the cores for torch and numba; the rows come back in the
    same order, with the same fills (the deep methods' to float rounding: their torch threads differ). Starting
    the workers costs a few seconds (imports, the methods unpickled), so it pays only on more than a few cases.
    """
    if workers > 1:
        from obscura.workers import WorkerPool

        with WorkerPool(workers, _start_worker, (methods, images, cases, per_cell)) as running:
            results = running.imap(_worker_case, range(len(cases)))
            return _collect(results, on_case, progress)
    results = (_run_case(methods, images[case["image"]], i, case, per_cell) for i, case in enumerate(cases))
    return _collect(results, on_case, progress)


def _collect(results, on_case, progress) -> list[dict]:
    rows = []
    for pairs in results:
        for row, out in pairs:
            rows.append(row)
            if on_case is not None:
                on_case(row, out)
            if progress is not None:
                progress()
    return rows


def summarise(rows: list[dict]) -> tuple[list[dict], dict[str, float]]:
    """Means per (method, set) over each bucket, each kind and all cases, as table rows (columns method, set,
    bucket, kind, n, scores; hole and full-image PSNR with 95 % bootstrap intervals of the mean over the
    cases, ``<score>_lo``/``_hi``), and flat metrics ``<method>.<group>.<score>``: group is the bucket
    (``30-40``), the kind (``strokes``) or ``all``, prefixed ``<set>_`` on the other photo sets (``unseen_``).
    Methods whose rows have ``gain_hole_psnr`` also get its mean and interval and ``beats_initial_fill``:
    ``yes`` when the whole interval is above 0 dB, else ``no``."""
    groups = defaultdict(list)
    for r in rows:
        for group in ((r["bucket"], "all"), ("all", r["kind"]), ("all", "all")):
            groups[(r["method"], r["set"], *group)].append(r)
    keys = ("hole_psnr", "full_psnr", "ssim", "hole_l1", "seconds")
    table, metrics = [], {}
    for (method, set_name, bucket, kind), rs in sorted(groups.items()):
        entry = {"method": method, "set": set_name, "bucket": bucket, "kind": kind, "n": len(rs)}
        group = bucket if kind == "all" else kind
        group = group if set_name == "heldout" else f"{set_name}_{group}"
        gain = ("gain_hole_psnr",) if all("gain_hole_psnr" in r for r in rs) else ()
        for k in keys + gain:
            entry[k] = float(np.mean([r[k] for r in rs]))
            metrics[f"{method}.{group}.{k}"] = round(entry[k], 6)
            if k in ("hole_psnr", "full_psnr", "gain_hole_psnr"):
                entry[f"{k}_lo"], entry[f"{k}_hi"] = mean_interval([r[k] for r in rs])
        if gain:
            entry["beats_initial_fill"] = "yes" if entry["gain_hole_psnr_lo"] > 0 else "no"
        table.append(entry)
    return table, metrics


def paired_difference(rows: list[dict], method: str, reference: str, score: str = "hole_psnr") -> list[dict]:
    """``method`` minus ``reference`` on the cases both ran (rows with the same ``case``, the mask's index), per
    set over all buckets and per (set, bucket): n, both methods' mean ``score`` on those cases (``method_mean``,
    ``reference_mean``), the mean difference with the 95 % bootstrap interval of the paired differences and how
    many cases ``method`` wins. Methods scored on different subsets are compared only where they overlap."""
    by_case = defaultdict(dict)
    for r in rows:
        by_case[(r["set"], r["bucket"], int(r["case"]))][r["method"]] = float(r[score])
    groups = defaultdict(list)
    for (set_name, bucket, _), by_method in sorted(by_case.items()):
        if method in by_method and reference in by_method:
            pair = (by_method[method], by_method[reference])
            groups[(set_name, "all")].append(pair)
            groups[(set_name, bucket)].append(pair)
    out = []
    for (set_name, bucket), pairs in sorted(groups.items()):
        ours, theirs = np.array(pairs).T
        ds = ours - theirs
        lo, hi = mean_interval(ds)
        out.append({"set": set_name, "bucket": bucket, "n": len(ds), "method_mean": float(ours.mean()),
                    "reference_mean": float(theirs.mean()), "mean": float(ds.mean()), "lo": lo, "hi": hi,
                    "wins": int((ds > 0).sum())})
    return out


def ranking(rows: list[dict], reference: str, score: str = "hole_psnr") -> list[dict]:
    """Every method against ``reference`` on the cases both ran (:func:`paired_difference`), the fair ranking
    when methods run on different subsets: rows ``method, set, bucket, n, <score>, reference_<score>,
    difference, difference_lo, difference_hi, wins``, per set and bucket with the largest difference first."""
    out = []
    for method in sorted({r["method"] for r in rows} - {reference}):
        for d in paired_difference(rows, method, reference, score):
            out.append({"method": method, "set": d["set"], "bucket": d["bucket"], "n": d["n"],
                        score: d["method_mean"], f"reference_{score}": d["reference_mean"], "difference": d["mean"],
                        "difference_lo": d["lo"], "difference_hi": d["hi"], "wins": d["wins"]})
    return sorted(out, key=lambda r: (r["set"], r["bucket"], -r["difference"]))


def method_metrics(metrics: dict[str, float], method: str) -> dict[str, float]:
    """One method's entries of ``metrics`` (``<method>.<bucket>.<score>``) under the keys every method shares:
    ``hole_psnr`` over all buckets, ``hole_psnr_30_40`` for one bucket, ``fid``, ``kid``."""
    out = {}
    for key, value in metrics.items():
        owner, _, rest = key.partition(".")
        if owner == method and "." in rest:
            bucket, score = rest.split(".", 1)
            out[score if bucket == "all" else f"{score}_{bucket.replace('-', '_')}"] = value
    return out


def comparison_grid(masked: np.ndarray, outputs: dict[str, np.ndarray], target: np.ndarray,
                    columns: int = 6) -> np.ndarray:
    """Labelled tiles (uint8): input with hole (magenta), each method, ground truth."""
    import cv2

    from obscura.io import to_uint8

    tiles = [("input", masked), *outputs.items(), ("ground truth", target)]
    h, w = target.shape[:2]
    bar = 14
    rows = -(-len(tiles) // columns)
    grid = np.full((rows * (h + bar + 4), columns * (w + 4), 3), 255, np.uint8)
    for i, (label, tile) in enumerate(tiles):
        r, c = divmod(i, columns)
        y, x = r * (h + bar + 4) + 2, c * (w + 4) + 2
        grid[y + bar:y + bar + h, x:x + w] = to_uint8(tile)
        cv2.putText(grid, label[:18], (x + 1, y + bar - 4), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 0, 0), 1,
                    cv2.LINE_AA)
    return grid


def show_hole(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return np.where(mask[..., None], np.array([1.0, 0.0, 1.0], np.float32), image)


def real_photo_pairs(cases: list[dict], fid_cases: list[int], images: dict[str, np.ndarray],
                     seed: int) -> tuple[list[np.ndarray], list[np.ndarray]] | None:
    """The real-vs-real floor's two sets: the N distinct unseen photos and N distinct held-out originals of the
    FID cases (seeded choice), or None when either set has fewer than 2 photos."""
    unseen = sorted({c["image"] for c in cases if c["set"] == "unseen"})
    heldout = sorted({cases[i]["image"] for i in fid_cases})
    n = min(len(unseen), len(heldout))
    if n < 2:
        return None
    chosen = sorted(np.random.default_rng(seed).choice(heldout, n, replace=False).tolist())
    return [images[k] for k in unseen[:n]], [images[k] for k in chosen]


def kid_bootstrap(real: np.ndarray, fakes: dict[str, np.ndarray], groups=None, resamples: int = 2000,
                  seed: int = 0, confidence: float = 0.95) -> tuple[dict[str, tuple[float, float, float]], list[dict]]:
    """KID of each method's fills against the real images of the same cases, with percentile-bootstrap intervals,
    and every pair of methods' difference with its paired interval.

    ``real`` (N, d) and each ``fakes[m]`` (N, d) are features in case order; ``groups`` (N labels, default: every
    case its own) names each case's photo. KID is the unbiased MMD² with the cubic kernel k(x, y) = (x·y / d + 1)³
    as a U-statistic over pairs of cases of *different* photos: every term — real with real, fill with fill, real
    with fill — pairs case i with a case j of another photo. A fill is not independent of its own original (they
    share the known pixels), nor of another case cut from the same photo, so torchmetrics' estimator, which also
    pairs each fill with its own original, is biased low by the fill's likeness to it; over independent pairs the
    estimate is unbiased (0 in expectation when fills and photos are alike in distribution, exactly 0 for fills
    equal to the photos). A bootstrap draw resamples the photos with all their cases (a cluster bootstrap), the
    same draw for every method (differences are paired), and again pairs only cases of different photos. Returns
    ``{method: (kid, lo, hi)}`` and rows ``method, other, kid, other_kid, difference, difference_lo,
    difference_hi`` for each pair in the order of ``fakes``."""
    n, d = real.shape
    labels = np.unique(np.arange(n) if groups is None else np.asarray(groups), return_inverse=True)[1].ravel()
    if len(labels) != n:
        raise ValueError(f"{len(labels)} group labels for {n} cases")
    members = [np.flatnonzero(labels == g) for g in range(labels.max() + 1)]
    if len(members) < 3:
        raise ValueError(f"KID intervals need cases of at least 3 photos, got {len(members)}")
    if resamples < 1 or not 0 < confidence < 1:
        raise ValueError(f"resamples must be >= 1 and confidence in (0, 1); got {resamples}, {confidence}")
    names = list(fakes)
    feats = np.concatenate([real, *(fakes[m] for m in names)]).astype(np.float64)
    gram = (feats @ feats.T / d + 1.0) ** 3
    block = [slice(k * n, (k + 1) * n) for k in range(len(names) + 1)]
    within = [gram[b, b] for b in block]                       # real-real, then each method's fill-fill
    across = [gram[block[0], b] for b in block[1:]]            # real-fill

    def kids(idx: np.ndarray) -> np.ndarray:
        apart = labels[idx][:, None] != labels[idx][None, :]

        def mean(kernel: np.ndarray) -> float:
            return kernel[np.ix_(idx, idx)][apart].mean()

        xx = mean(within[0])
        return np.array([xx + mean(within[k + 1]) - 2 * mean(across[k]) for k in range(len(names))])

    full = kids(np.arange(n))
    rng = np.random.default_rng(seed)
    draws = np.array([kids(np.concatenate([members[g] for g in rng.integers(0, len(members), len(members))]))
                      for _ in range(resamples)])
    draws = draws[np.isfinite(draws).all(axis=1)]                # a draw of one photo repeated has no pairs
    if not len(draws):
        raise ValueError("every bootstrap draw repeated one photo: too few photos for an interval")
    tail = 50 * (1 - confidence)
    lo, hi = np.percentile(draws, [tail, 100 - tail], axis=0)
    intervals = {m: (float(full[k]), float(lo[k]), float(hi[k])) for k, m in enumerate(names)}
    pairs = []
    for a in range(len(names)):
        for b in range(a + 1, len(names)):
            diff_lo, diff_hi = np.percentile(draws[:, a] - draws[:, b], [tail, 100 - tail])
            pairs.append({"method": names[a], "other": names[b], "kid": float(full[a]), "other_kid": float(full[b]),
                          "difference": float(full[a] - full[b]), "difference_lo": float(diff_lo),
                          "difference_hi": float(diff_hi)})
    return intervals, pairs


def inception_scores(outputs: dict[str, list[np.ndarray]], targets: list[np.ndarray], seed: int,
                     net=None, floor: tuple[list[np.ndarray], list[np.ndarray]] | None = None,
                     groups: list | None = None) -> tuple[dict[str, float], list[dict]]:
    """FID and KID (Inception features, the generative track's network) of each method's fills against the
    ground-truth images of the same cases: ``<method>.all.fid`` / ``.kid``, KID over pairs of cases of different
    photos (``groups``: each case's photo) with its 95 % bootstrap interval ``.kid_lo`` / ``.kid_hi``
    (:func:`kid_bootstrap`; with cases of fewer than 3 photos torchmetrics' KID, no interval); ``inception_images``
    records N.
    Also returns the paired KID difference of every two methods (:func:`kid_bootstrap`'s rows).

    ``floor``: two sets of N real photos, all distinct (the unseen photos and as many held-out originals); their
    scores against each other are the real-vs-real figures at N (``real_vs_real.all.fid`` / ``.kid``, N in
    ``real_vs_real_images``). Few distinct photos make FID strongly biased upwards (rank-deficient
    covariances); KID is unbiased at small N and is the figure to compare.
    """
    import torch

    from obscura.metrics import InceptionFeatures, extract_features, fid_kid

    net = net or InceptionFeatures()

    def features(images: list[np.ndarray]) -> torch.Tensor:
        x = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float() * 2 - 1
        return extract_features(net, x, batch_size=16)

    def score(name: str, real: torch.Tensor, fake: torch.Tensor, kid: bool = True) -> None:
        result = fid_kid(real, fake, subset_size=len(fake), subsets=10, seed=seed)
        scores[f"{name}.all.fid"] = round(result["fid"], 4)
        if kid:          # torchmetrics' KID: unbiased only when fake and real are independent
            scores[f"{name}.all.kid"] = round(result["kid"], 6)

    scores = {"inception_images": float(len(targets))}
    real = features(targets)
    fakes = {method: features(images) for method, images in outputs.items()}
    groups = list(range(len(targets))) if groups is None else groups
    paired = len(set(groups)) >= 3
    for method, fake in fakes.items():
        score(method, real, fake, kid=not paired)
    pairs = []
    if fakes and paired:
        intervals, pairs = kid_bootstrap(real.numpy(), {m: f.numpy() for m, f in fakes.items()}, groups, seed=seed)
        for method, values in intervals.items():
            for key, value in zip(("kid", "kid_lo", "kid_hi"), values):
                scores[f"{method}.all.{key}"] = round(value, 6)
    if floor is not None:
        others, originals = floor
        scores["real_vs_real_images"] = float(len(others))
        score("real_vs_real", features(originals), features(others))
    return scores, pairs
