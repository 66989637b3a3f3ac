"""One inpainting method against another on the evaluation's cases both ran: the paired hole-PSNR difference per
set and bucket, with 95 % bootstrap intervals. Reads reports/inpainting/cases.csv (`dvc repro evaluate_inpainting`).

    python bench/inpainting_paired.py diffusion push_pull [--score hole_psnr]
"""

from __future__ import annotations

import argparse
import csv
import json


def main() -> None:
    from obscura.config import load_params
    from obscura.inpainting.evaluate import paired_difference

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("method")
    ap.add_argument("reference")
    ap.add_argument("--score", default="hole_psnr", choices=("hole_psnr", "full_psnr", "ssim", "hole_l1"))
    args = ap.parse_args()
    path = load_params("params.yaml").inpainting.reports / "cases.csv"
    if not path.is_file():
        raise SystemExit(f"{path} not found: run `dvc repro evaluate_inpainting` first.")
    with path.open() as f:
        rows = list(csv.DictReader(f))
    out = paired_difference(rows, args.method, args.reference, args.score)
    if not out:
        raise SystemExit(f"no case in {path} was run by both {args.method!r} and {args.reference!r}: check the names "
                         "(column method) and inpainting.cases_per_cell.")
    print(json.dumps({"method": args.method, "reference": args.reference, "score": args.score,
                      "difference": [{k: round(v, 4) if isinstance(v, float) else v for k, v in r.items()}
                                     for r in out]}, indent=1))


if __name__ == "__main__":
    main()
