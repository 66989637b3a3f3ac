"""Coverage of the inpainting evaluation's KID intervals (`kid_bootstrap`) on synthetic paired features, where the
true KID is known: Gaussian "photos" and "fills" that share part of their photo (as a fill shares the known pixels),
one set alike in distribution (true KID 0) and one shifted; ``--per-photo`` cuts several cases from each photo (the
intervals then resample photos). Prints one JSON object.

    python bench/inpainting_kid.py [--cases 36] [--per-photo 1] [--dim 16] [--trials 200] [--resamples 400]
                                   [--shift 0.15]

The true KID of the alike set is 0; the shifted set's is the (unbiased) estimate on ``--reference`` cases. Coverage is
the share of trials whose 95 % interval holds the true value.
"""

from __future__ import annotations

import argparse
import json

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=36)
    ap.add_argument("--dim", type=int, default=16)
    ap.add_argument("--trials", type=int, default=200)
    ap.add_argument("--resamples", type=int, default=400)
    ap.add_argument("--shift", type=float, default=0.15)
    ap.add_argument("--reference", type=int, default=1500)
    ap.add_argument("--per-photo", type=int, default=1, help="cases per photo (the evaluation's 36 cases: 24 photos)")
    args = ap.parse_args()
    if min(args.per_photo, args.trials, args.resamples) < 1 or min(args.cases, args.reference) < 3 * args.per_photo:
        ap.error("--per-photo, --trials and --resamples must be >= 1; --cases and --reference >= 3 photos' cases")

    from obscura.inpainting.evaluate import kid_bootstrap

    rng = np.random.default_rng(1)

    def draw(n: int) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
        groups = np.arange(n) // args.per_photo                              # cases cut from the same photo
        photos = rng.normal(size=(groups[-1] + 1, args.dim))[groups]
        alike = photos * 0.8 + rng.normal(scale=0.6, size=photos.shape)     # unit variance: same distribution
        shifted = photos * 0.8 + rng.normal(scale=0.6, size=photos.shape) + args.shift
        return photos, {"alike": alike, "shifted": shifted}, groups

    truth, _ = kid_bootstrap(*draw(args.reference), resamples=2)
    true = {"alike": 0.0, "shifted": truth["shifted"][0]}        # alike: the photos' own distribution
    covered = {"alike": 0, "shifted": 0, "difference": 0}
    for t in range(args.trials):
        intervals, pairs = kid_bootstrap(*draw(args.cases), resamples=args.resamples, seed=t)
        for m in ("alike", "shifted"):
            covered[m] += intervals[m][1] <= true[m] <= intervals[m][2]
        covered["difference"] += pairs[0]["difference_lo"] <= true["alike"] - true["shifted"] <= pairs[0]["difference_hi"]
    print(json.dumps({"cases": args.cases, "per_photo": args.per_photo, "trials": args.trials, "true_kid": {m: round(v, 5) for m, v in true.items()},
                      "coverage_of_95_percent_intervals": {k: v / args.trials for k, v in covered.items()}}, indent=1))


if __name__ == "__main__":
    main()
