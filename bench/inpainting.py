"""Inpainting benchmark: hole PSNR per bucket and seconds per image for every method, plus Criminisi
time on a 256x256 photo with a 30 % hole, and the best deep method's margin over the best classical one at
30-40 %. Prints one JSON object.

    python bench/inpainting.py [--models data/inpainting/models] [--size 128] [--per-bucket 1] [--workers 2]

Deep methods are included when their trained weights exist under --models. Held-out photos come
from data/prepared (run `dvc repro prepare`), else from skimage.data (chelsea, coffee).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np


def heldout(size: int) -> dict[str, np.ndarray]:
    from skimage import data
    from skimage.transform import resize

    from obscura.errors import ObscuraError
    from obscura.inpainting.data import photos

    try:
        return photos("data/prepared", "heldout", size)
    except ObscuraError:
        return {n: resize(getattr(data, n)()[:, :400], (size, size), anti_aliasing=True).astype(np.float32)
                for n in ("chelsea", "coffee")}


def main() -> None:
    from obscura.inpainting.classical import CLASSICAL
    from obscura.inpainting.classical.exemplar import criminisi
    from obscura.inpainting.deep.registry import METHODS
    from obscura.inpainting.evaluate import evaluate, summarise
    from obscura.inpainting.masks import mask_set, random_mask
    from obscura.inpainting.methods import get_method

    ap = argparse.ArgumentParser()
    ap.add_argument("--models", type=Path, default=Path("data/inpainting/models"))
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--per-bucket", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2, help="processes the cases run in (seconds are per core)")
    args = ap.parse_args()

    images = heldout(args.size)
    names = sorted(images)
    cases = []
    for case in mask_set((args.size, args.size), len(names) * args.per_bucket, seed=args.seed):
        cases.append({**case, "image": names[case["image"] % len(names)]})
    methods = {n: get_method(n) for n in CLASSICAL}
    methods.update({n: get_method(n, args.models) for n in METHODS if (args.models / n / "model.pt").is_file()})
    _, metrics = summarise(evaluate(methods, images, cases, workers=args.workers))
    result = {"image_size": args.size, "cases": len(cases), "methods": sorted(methods)}
    for key, value in metrics.items():
        method, bucket, score = key.split(".")
        if score in ("hole_psnr", "seconds"):
            result[f"{method}.{bucket}.{'hole_psnr_db' if score == 'hole_psnr' else 'seconds_per_image'}"] = value

    big = heldout(256)[names[0]]
    mask = random_mask((256, 256), (30, 31), "strokes", np.random.default_rng(args.seed))
    criminisi(big[:32, :32], mask[:32, :32] & False | (np.arange(32)[:, None] == 16))  # numba warm-up
    start = time.perf_counter()
    criminisi(big, mask)
    result["criminisi_256_hole30_seconds"] = round(time.perf_counter() - start, 3)
    result["criminisi_256_hole_ratio"] = round(float(mask.mean()), 4)
    deep = [m for m in METHODS if m in methods]
    if deep:
        best = max(deep, key=lambda m: result[f"{m}.30-40.hole_psnr_db"])
        result["best_deep_30_40"] = best
        classical = max(CLASSICAL, key=lambda m: result[f"{m}.30-40.hole_psnr_db"])
        result["best_classical_30_40"] = classical
        result["best_deep_minus_best_classical_30_40_db"] = round(
            result[f"{best}.30-40.hole_psnr_db"] - result[f"{classical}.30-40.hole_psnr_db"], 3)
    print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    main()
