"""What training buys a deep inpainting method: its hole-PSNR gain over the harmonic fill it starts from, on the
evaluation's 30-40 % masks (held-out and unseen photos), along one training run. Prints one JSON object.

    python bench/inpainting_training.py [--method single_stage] [--steps 4000] [--every 1000]
                                        [--batch-size 8] [--lr 0.001] [--bucket 30 40]

The run uses the method's params.yaml section (crop, scales, config) with the given steps, batch size and lr
(cosine-annealed over --steps), so the points are one run's curve, not separate runs of each length. Needs
`dvc repro prepare masks`.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def main() -> None:
    import torch
    from tqdm import tqdm

    from obscura.config import load_params
    from obscura.inpainting.data import photos, training_photos
    from obscura.inpainting.deep.data import CropSampler
    from obscura.inpainting.deep.registry import make_config
    from obscura.inpainting.deep.train import InpaintTask
    from obscura.inpainting.masks import bucket_name, photo_set, read_mask_set
    from obscura.inpainting.methods import deep_method
    from obscura.metrics import mean_interval, psnr

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--method", default="single_stage")
    ap.add_argument("--steps", type=int, default=4000)
    ap.add_argument("--every", type=int, default=1000)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--bucket", type=int, nargs=2, default=(30, 40))
    args = ap.parse_args()

    params = load_params("params.yaml")
    cfg, seed = params.inpainting, params.seed
    section = cfg.deep[args.method]
    config = make_config(args.method, **section.config)
    torch.manual_seed(seed)
    model = config.setup()
    sampler = CropSampler(training_photos(params.prepare.output), section.crop, kinds=tuple(cfg.kinds),
                          buckets=[tuple(b) for b in cfg.buckets], seed=seed, edges=config.uses_edges,
                          scales=section.scales)
    task = InpaintTask(model, sampler, args.steps, args.batch_size, args.lr, seed)
    cases = [c for c in read_mask_set(cfg.masks_dir)
             if bucket_name(c["bucket"]) == bucket_name(tuple(args.bucket)) and c["set"] in ("heldout", "unseen")]
    images = {k: v for s in sorted({photo_set(c["set"]) for c in cases})
              for k, v in photos(params.prepare.output, s, cfg.image_size).items()}

    def score() -> dict:
        fn, out = deep_method(model), {}
        for set_name in ("heldout", "unseen"):
            gains = []
            for c in (c for c in cases if c["set"] == set_name):
                target, mask = images[c["image"]], c["mask"]
                masked = np.where(mask[..., None], 0.0, target).astype(np.float32)
                gains.append(psnr(fn(masked, mask), target, mask) - psnr(fn.initial_fill(masked, mask), target, mask))
            lo, hi = mean_interval(gains)
            out[set_name] = {"n": len(gains), "gain_hole_psnr": round(float(np.mean(gains)), 4),
                             "lo": round(lo, 4), "hi": round(hi, 4)}
        model.train()
        return out

    curve, seconds = [{"step": 0, **score()}], 0.0
    for step in tqdm(range(args.steps), desc=f"train {args.method}"):
        start = time.perf_counter()
        task.step(step, None)
        seconds += time.perf_counter() - start
        if (step + 1) % args.every == 0 or step + 1 == args.steps:
            curve.append({"step": step + 1, "train_seconds": round(seconds, 1), **score()})
    print(json.dumps({"method": args.method, "batch_size": args.batch_size, "lr": args.lr, "crop": section.crop,
                      "bucket": list(args.bucket), "torch_threads": torch.get_num_threads(), "curve": curve},
                     indent=1))


if __name__ == "__main__":
    main()
