"""What training buys a deep inpainting method: its hole-PSNR gain over the harmonic fill it starts from, on the
evaluation's 30-40 % masks (held-out and unseen photos), along one training run. Prints one JSON object.

    python bench/inpainting_training.py [--method single_stage] [--steps 4000] [--every 1000]
                                        [--batch-size 8] [--lr 0.001] [--bucket 30 40] [--photos N] [--seed S]
                                        [--crop 64] [--beta1 0.9] [--set loss=l1 --set adv_weight=0.001]
                                        [--threads N]

The run uses the method's params.yaml section (crop, scales, config) with the given steps, batch size and lr
(cosine-annealed over --steps), so the points are one run's curve, not separate runs of each length; ``--photos N``
trains on a seeded N of the training photos (what more data would buy); ``--seed`` changes the initialisation,
crops, masks and that subset (how much of a gain is the training's own noise); ``--crop``, ``--beta1`` (the
generator's Adam) and ``--set`` (a field of the method's config dataclass, e.g. ``loss=l1``) try other training
choices; ``--threads`` sets torch's threads (the printed ``train_seconds`` then says what a step costs on them).
Needs `dvc repro prepare masks`.
"""

from __future__ import annotations

import argparse
import json
import time


def main() -> None:
    import numpy as np
    import torch
    from tqdm import tqdm

    from obscura.config import load_params, parse_overrides
    from obscura.errors import ObscuraError
    from obscura.inpainting.data import photos, training_photos
    from obscura.inpainting.deep.data import CropSampler
    from obscura.inpainting.deep.registry import make_config
    from obscura.inpainting.deep.train import InpaintTask
    from obscura.inpainting.evaluate import evaluate, summarise
    from obscura.inpainting.masks import bucket_name, photo_set, read_mask_set
    from obscura.inpainting.methods import deep_method
    from obscura.methods.loop import step_seed

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--method", default="single_stage")
    ap.add_argument("--steps", type=int, default=4000)
    ap.add_argument("--every", type=int, default=1000)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--bucket", type=int, nargs=2, default=(30, 40))
    ap.add_argument("--photos", type=int, default=None, help="train on a seeded subset of this many photos")
    ap.add_argument("--seed", type=int, default=None, help="initialisation, crops, masks, --photos subset (default: params.yaml's)")
    ap.add_argument("--crop", type=int, default=None, help="crop size (default: the method's params.yaml crop)")
    ap.add_argument("--beta1", type=float, default=0.9, help="the generator's Adam beta1")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override a field of the method's config (repeatable; VALUE parsed as YAML)")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = ap.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    params = load_params("params.yaml")
    cfg, seed = params.inpainting, params.seed if args.seed is None else args.seed
    if args.method not in cfg.deep:
        ap.error(f"--method: inpainting.deep has no {args.method!r}; configured: {', '.join(cfg.deep)}")
    section = cfg.deep[args.method]
    crop = section.crop if args.crop is None else args.crop
    try:
        config = make_config(args.method, **{**section.config, **parse_overrides(args.set)})
    except ObscuraError as exc:
        ap.error(f"--set: {exc}")
    torch.manual_seed(seed)
    model = config.setup()
    train = training_photos(params.prepare.output)
    if args.photos is not None:
        keep = np.random.default_rng(seed).permutation(len(train))[:args.photos]
        train = [train[i] for i in sorted(keep)]
    sampler = CropSampler(train, crop, kinds=tuple(cfg.kinds),
                          buckets=[tuple(b) for b in cfg.buckets], seed=seed, edges=config.uses_edges,
                          scales=section.scales)
    task = InpaintTask(model, sampler, args.steps, args.batch_size, args.lr, seed)
    for group in task.opt_g.param_groups:
        group["betas"] = (args.beta1, group["betas"][1])
    cases = [c for c in read_mask_set(cfg.masks_dir)
             if bucket_name(c["bucket"]) == bucket_name(tuple(args.bucket)) and c["set"] in ("heldout", "unseen")]
    images = {k: v for s in sorted({photo_set(c["set"]) for c in cases})
              for k, v in photos(params.prepare.output, s, cfg.image_size).items()}

    def score() -> dict:
        table, _ = summarise(evaluate({args.method: deep_method(model)}, images, cases))
        model.train()
        return {r["set"]: {"n": r["n"], "gain_hole_psnr": round(r["gain_hole_psnr"], 4),
                           "lo": round(r["gain_hole_psnr_lo"], 4), "hi": round(r["gain_hole_psnr_hi"], 4)}
                for r in table if r["bucket"] == r["kind"] == "all"}

    curve, seconds = [{"step": 0, **score()}], 0.0
    for step in tqdm(range(args.steps), desc=f"train {args.method}"):
        start = time.perf_counter()
        torch.manual_seed(step_seed(seed, step))  # as run_loop seeds each step (RePaint's noise, edge targets)
        task.step(step, None)
        seconds += time.perf_counter() - start
        if (step + 1) % args.every == 0 or step + 1 == args.steps:
            curve.append({"step": step + 1, "train_seconds": round(seconds, 1), **score()})
    print(json.dumps({"method": args.method, "seed": seed, "batch_size": args.batch_size, "lr": args.lr, "crop": crop,
                      "beta1": args.beta1, "config": config.to_dict(),
                      "bucket": list(args.bucket), "photos": len(train), "torch_threads": torch.get_num_threads(),
                      "curve": curve},
                     indent=1))


if __name__ == "__main__":
    main()
