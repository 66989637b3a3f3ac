"""What scoring one evaluation run costs: milliseconds per 256² case for each score of
:func:`obscura.inpainting.evaluate.scores` (SSIM in float32 as the evaluation computes it, in float64, and as
torchmetrics' 11x11 window computes it, with the largest differences), on harmonic fills of held-out cases.
Prints one JSON object.

    python bench/inpainting_scores.py [--cases 24] [--repeats 3]

Needs `dvc repro prepare masks`; one torch thread (as in each of the evaluation's 2 workers).
"""

from __future__ import annotations

import argparse
import json
import time

import obscura  # noqa: F401  (first: sets torch's OpenMP spin count before torch loads)
import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=24)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    import torch

    from obscura.config import load_params
    from obscura.inpainting.classical import CLASSICAL
    from obscura.inpainting.data import photos
    from obscura.inpainting.evaluate import scores
    from obscura.inpainting.masks import read_mask_set
    from torchmetrics.functional.image import structural_similarity_index_measure as reference

    from obscura.metrics import psnr, ssim

    torch.set_num_threads(1)
    params = load_params("params.yaml")
    cfg = params.inpainting
    images = photos(params.prepare.output, "heldout", cfg.image_size)
    cases = [c for c in read_mask_set(cfg.masks_dir) if c["set"] == "heldout"][::9][:args.cases]
    pairs = []
    for c in cases:
        target, mask = images[c["image"]], c["mask"]
        masked = np.where(mask[..., None], 0.0, target).astype(np.float32)
        pairs.append((CLASSICAL["harmonic"](masked, mask), target, mask))
    timed = {
        "scores": lambda o, t, m: scores(o, t, m),
        "hole_psnr": lambda o, t, m: psnr(o, t, m),
        "full_psnr": lambda o, t, m: psnr(o, t),
        "ssim_float32": lambda o, t, m: ssim(o, t),
        "ssim_float64": lambda o, t, m: ssim(o.astype(np.float64), t.astype(np.float64)),
        "ssim_torchmetrics_float32": lambda o, t, m: float(reference(*(torch.from_numpy(np.ascontiguousarray(
            v, np.float32)).permute(2, 0, 1)[None] for v in (o, t)), data_range=1.0)),
        "hole_l1": lambda o, t, m: float(np.abs(o.astype(np.float64) - t)[m].mean()),
    }
    for fn in timed.values():  # warm-up (imports, first-call allocations)
        fn(*pairs[0])
    ms = {name: [] for name in timed}
    for _ in range(args.repeats):
        for name, fn in timed.items():
            start = time.perf_counter()
            for pair in pairs:
                fn(*pair)
            ms[name].append(1e3 * (time.perf_counter() - start) / len(pairs))

    def largest(name: str) -> float:
        return float(f"{max(abs(timed['ssim_float32'](*p) - timed[name](*p)) for p in pairs):.2e}")

    print(json.dumps({"cases": len(pairs), "size": cfg.image_size, "torch_threads": torch.get_num_threads(),
                      "ms_per_case": {k: round(float(np.median(v)), 2) for k, v in ms.items()},
                      "ssim_float32_vs_float64_max_difference": largest("ssim_float64"),
                      "ssim_vs_torchmetrics_max_difference": largest("ssim_torchmetrics_float32")}, indent=1))


if __name__ == "__main__":
    main()
