"""Criminisi's speed on the evaluation's kind of case (held-out 256² photos, 30-40 % holes of every mask kind, one
numba thread as in the evaluation's workers): seconds per case with the patch search's lower bounds (the SSD over
the target's ``picked`` most distinctive pixels, for every source at once) and without them (``picked`` 0: the
plain scan with early abandonment), interleaved repetitions on the same cases; the fills must be identical, and
their SHA-256 (``fills_sha256``) compares them with another checkout's (``PYTHONPATH=<checkout>/src python
bench/criminisi.py``: an older commit's Criminisi, which ignores ``--picked``). Prints one JSON object; needs `dvc
repro prepare`.

    python bench/criminisi.py [--photos 4] [--picked 0 12] [--repeats 2] [--threads 1]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time


def main() -> None:
    import numba
    import numpy as np

    import obscura.inpainting.classical.exemplar as exemplar
    from obscura.inpainting.data import photos
    from obscura.inpainting.masks import random_mask
    from obscura.report import cpu_name

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--photos", type=int, default=4)
    ap.add_argument("--picked", type=int, nargs="+", default=[0, getattr(exemplar, "_PICKED", 12)])
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    numba.set_num_threads(args.threads)
    images = photos("data/prepared", "heldout", 256)
    cases = []
    for i, name in enumerate(sorted(images)[:args.photos]):
        for j, kind in enumerate(("strokes", "rectangles", "box")):
            mask = random_mask((256, 256), (30, 40), kind, np.random.default_rng(100 * i + j))
            cases.append((np.where(mask[..., None], 0.0, images[name]).astype(np.float32), mask))
    exemplar.criminisi(*cases[0])      # compile
    seconds, fills = {p: [] for p in args.picked}, {}
    for _ in range(args.repeats):
        for picked in args.picked:
            exemplar._PICKED = picked
            start = time.perf_counter()
            fills[picked] = [exemplar.criminisi(*case) for case in cases]
            seconds[picked].append((time.perf_counter() - start) / len(cases))
    first = fills[args.picked[0]]
    print(json.dumps({
        "machine": cpu_name(), "numba_threads": args.threads, "cases": len(cases),
        "hole_ratio": round(float(np.mean([m.mean() for _, m in cases])), 4),
        "seconds_per_case": {str(p): round(float(np.median(s)), 3) for p, s in seconds.items()},
        "identical_fills": all(all(np.array_equal(a, b) for a, b in zip(first, f)) for f in fills.values()),
        "fills_sha256": hashlib.sha256(b"".join(f.tobytes() for f in first)).hexdigest(),
        "criminisi_module": exemplar.__file__,
    }, indent=1))


if __name__ == "__main__":
    main()
