"""The hybrid's structure fill and seam against its parents: hole PSNR per hole size and mask kind, and KID/FID
of the fills against the originals, for each structure fill, Criminisi and the hybrid at several seam widths.
Prints one JSON object.

    python bench/inpainting_hybrid.py [--split validation] [--photos 8] [--structures harmonic biharmonic]
                                      [--seams 0 8 16] [--buckets 10-20 30-40 50-60] [--size 256] [--seed 11]

Cases: the first ``--photos`` photos of ``--split`` (data/prepared; run `dvc repro prepare`): ``validation``, a
seeded square of each training photo (:func:`~obscura.inpainting.data.validation_squares`; for choosing the
hybrid's settings), or ``heldout`` x hole sizes ``--buckets`` (percent) x strokes, rectangles, box (one seeded mask
each). Each case runs every structure fill, Criminisi on the whole hole and Criminisi on the thick part (with the
structure fill as context) once; every seam reuses them, as ``hybrid`` would compute them.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict

import obscura  # noqa: F401  (first: sets torch's OpenMP spin count before torch loads)
import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--split", choices=("validation", "heldout"), default="validation")
    ap.add_argument("--photos", type=int, default=8)
    ap.add_argument("--structures", nargs="+", default=["harmonic", "biharmonic"])
    ap.add_argument("--seams", type=float, nargs="+", default=[0.0, 8.0, 16.0])
    ap.add_argument("--buckets", nargs="+", default=["10-20", "30-40", "50-60"])
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args()

    from obscura.inpainting.classical.exemplar import criminisi
    from obscura.inpainting.classical.hybrid import texture_weight, thick_part
    from obscura.inpainting.classical import CLASSICAL
    from obscura.inpainting.data import photos, validation_squares
    from obscura.inpainting.inputs import composite
    from obscura.inpainting.masks import bucket_name, mask_set
    from obscura.inpainting.evaluate import inception_scores
    from obscura.metrics import psnr

    images = (validation_squares("data/prepared", args.size, args.seed) if args.split == "validation"
              else photos("data/prepared", "heldout", args.size))
    names = sorted(images)[:args.photos]
    buckets = [tuple(int(v) for v in b.split("-")) for b in args.buckets]
    cases = [c for c in mask_set((args.size, args.size), len(images), buckets,
                                 ("strokes", "rectangles", "box"), seed=args.seed) if c["image"] < len(names)]
    scores, fills, seconds = defaultdict(list), defaultdict(list), defaultdict(float)
    for case in cases:
        target, mask = images[names[case["image"]]], case["mask"]
        masked = np.where(mask[..., None], 0.0, target).astype(np.float32)
        thick = thick_part(mask, 4)
        t0 = time.process_time()
        outputs = {"criminisi": criminisi(masked, mask)}
        seconds["criminisi"] += time.process_time() - t0
        for kind in args.structures:
            t0 = time.process_time()
            structure = outputs[kind] = CLASSICAL[kind](masked, mask)
            seconds[kind] += time.process_time() - t0
            texture = (criminisi(np.where(thick[..., None], 0.0, structure), thick, sources=~mask) if thick.any()
                       else structure)
            seconds[f"hybrid_{kind}"] += time.process_time() - t0
            for seam in args.seams:
                w = texture_weight(thick, seam)[..., None]
                outputs[f"hybrid_{kind}_seam_{seam:g}"] = (1 - w) * structure + w * texture
        for name, out in outputs.items():
            out = composite(out, target, mask)
            fills[name].append(out)
            value = psnr(out, target, mask)
            for group in (bucket_name(case["bucket"]), case["kind"], "all"):
                scores[(name, group)].append(value)
    inception, _ = inception_scores(fills, [images[names[c["image"]]] for c in cases], args.seed,
                                    groups=[c["image"] for c in cases])
    result = {"split": args.split, "photos": names, "cases": len(cases), "size": args.size,
              "hole_psnr": defaultdict(dict), "kid": {}, "kid_interval": {}, "fid": {},
              "cpu_seconds_per_case": {k: round(v / len(cases), 2) for k, v in seconds.items()}}
    for (name, group), values in sorted(scores.items()):
        result["hole_psnr"][name][group] = round(float(np.mean(values)), 3)
    for name in fills:
        result["kid"][name], result["fid"][name] = inception[f"{name}.all.kid"], inception[f"{name}.all.fid"]
        result["kid_interval"][name] = [inception[f"{name}.all.kid_lo"], inception[f"{name}.all.kid_hi"]]
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
