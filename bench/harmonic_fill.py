"""The deep inpainting methods' harmonic initial fill: numba kernels against the torch reference, alone and inside a
training step, on the same seeded training batches (each method's params.yaml section), interleaved repetitions,
medians. Prints one JSON object; needs `dvc repro prepare`.

    python bench/harmonic_fill.py [--methods single_stage coarse_to_fine edge_guided] [--batches 10] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import time


def main() -> None:
    import numpy as np
    import torch

    import obscura.inpainting.deep.base as base
    from obscura.config import load_params
    from obscura.inpainting.data import training_photos
    from obscura.inpainting.deep.data import CropSampler
    from obscura.inpainting.deep.nets import harmonic_fill, harmonic_fill_reference
    from obscura.inpainting.deep.registry import make_config
    from obscura.inpainting.deep.train import InpaintTask
    from obscura.report import cpu_name

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--methods", nargs="+", default=["single_stage", "coarse_to_fine", "edge_guided"])
    ap.add_argument("--batches", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    params = load_params("params.yaml")
    cfg = params.inpainting
    fills = {"compiled": harmonic_fill, "reference": harmonic_fill_reference}
    out = {"machine": cpu_name(), "torch_threads": torch.get_num_threads(), "fill_ms": {}, "step_ms": {}}
    for method in args.methods:
        tp = cfg.deep[method]
        config = make_config(method, **tp.config)
        torch.manual_seed(params.seed)
        model = config.setup()
        sampler = CropSampler(training_photos(params.prepare.output), tp.crop, kinds=tuple(cfg.kinds),
                              buckets=[tuple(b) for b in cfg.buckets], seed=params.seed, edges=config.uses_edges,
                              scales=tp.scales)
        task = InpaintTask(model, sampler, tp.steps, tp.batch_size, tp.lr, params.seed)
        batches = [sampler.batch(tp.batch_size, np.random.default_rng(i)) for i in range(args.batches)]
        diff = max(float((harmonic_fill(b["image"] * (1 - b["hole"]), b["hole"])
                          - harmonic_fill_reference(b["image"] * (1 - b["hole"]), b["hole"])).abs().max())
                   for b in batches)
        out["max_fill_difference"] = max(diff, out.get("max_fill_difference", 0.0))
        fill, step = {k: [] for k in fills}, {k: [] for k in fills}
        task.step(0, None)                                    # warm-up: numba compile / first allocations
        for _ in range(args.repeats):
            for name, f in fills.items():
                start = time.perf_counter()
                with torch.no_grad():
                    for b in batches:
                        f(b["image"] * (1 - b["hole"]), b["hole"])
                fill[name].append((time.perf_counter() - start) / len(batches) * 1e3)
                base.harmonic_fill = f                        # what InpaintModel.prepare calls
                start = time.perf_counter()
                for i in range(args.batches):
                    task.step(i, None)
                step[name].append((time.perf_counter() - start) / args.batches * 1e3)
        base.harmonic_fill = harmonic_fill
        shape = f"{tp.batch_size}x{tp.crop}^2"
        out["fill_ms"][f"{method} ({shape})"] = {k: round(float(np.median(v)), 1) for k, v in fill.items()}
        out["step_ms"][method] = {k: round(float(np.median(v)), 1) for k, v in step.items()}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
