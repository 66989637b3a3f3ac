"""The inpainting evaluation's loop in 1 and in N processes on the same cases: wall seconds for each and the
largest hole-PSNR difference between them (0 for the classical methods; float rounding for the deep ones, whose
torch threads differ). Every case of a seeded subset of the held-out masks, each method on the cases
`inpainting.cases_per_cell` gives it, as `evaluate_inpainting` runs them (needs `dvc repro train_inpainting`).

    python bench/inpainting_workers.py [--cases 96] [--workers 1 2]
"""

from __future__ import annotations

import argparse
import json
import time


def main() -> None:
    import numpy as np

    from obscura.config import load_params
    from obscura.inpainting.data import photos
    from obscura.inpainting.evaluate import count_runs, evaluate
    from obscura.inpainting.masks import read_mask_set
    from obscura.inpainting.methods import get_method
    from obscura.report import cpu_name

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=96, help="held-out cases, a seeded subset")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = ap.parse_args()
    params = load_params("params.yaml")
    cfg = params.inpainting
    cases = [c for c in read_mask_set(cfg.masks_dir) if c["set"] == "heldout"]
    pick = np.random.default_rng(params.seed).choice(len(cases), min(args.cases, len(cases)), replace=False)
    cases = [cases[i] for i in sorted(pick)]
    images = photos(params.prepare.output, "heldout", cfg.image_size)
    methods = {n: get_method(n, cfg.models_dir) for n in [*cfg.classical, *cfg.deep]}
    seconds, rows = {}, {}
    for w in args.workers:
        start = time.perf_counter()
        rows[w] = evaluate(methods, images, cases, per_cell=cfg.cases_per_cell, workers=w)
        seconds[w] = round(time.perf_counter() - start, 1)
    first = rows[args.workers[0]]
    diff = {w: max(abs(a["hole_psnr"] - b["hole_psnr"]) for a, b in zip(first, rs)) for w, rs in rows.items()}
    print(json.dumps({"machine": cpu_name(),
                      "cases": len(cases), "runs": count_runs(methods, cases, cfg.cases_per_cell),
                      "seconds": seconds, "speedup": {w: round(seconds[args.workers[0]] / s, 2)
                                                      for w, s in seconds.items()},
                      "max_hole_psnr_difference_db": diff}, indent=1))


if __name__ == "__main__":
    main()
