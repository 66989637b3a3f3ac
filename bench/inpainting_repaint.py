"""RePaint's settings on a validation set cut from the training photos: for each ``strength`` the ε-model is trained
as `train_inpainting` trains it (params.yaml's section, that strength), then run with the configured jump,
resample and sample steps and with each ``--variants`` change of those; hole PSNR over the harmonic fill (paired,
95 % interval) and KID/FID against the originals, next to push-pull, harmonic and Criminisi. Prints one JSON object.

    python bench/inpainting_repaint.py [--strengths 0.1 0.2 0.3] [--variants jump=3 sample_steps=20]
                                       [--variants-at 0.3] [--photos 19] [--bucket 30-40] [--seed 11]
                                       [--steps N] [--lr LR] [--batch-size B] [--crop C] [--set KEY=VALUE]

Cases: one seeded square of each of the first ``--photos`` training photos (`validation_squares`, 256²) x strokes,
rectangles, box at ``--bucket`` percent (one seeded mask each). ``--steps``, ``--lr``, ``--batch-size``, ``--crop``
and ``--set`` (a field of `DiffusionConfig`, e.g. ``ema_decay=0.999``) change the training from params.yaml's.
Each strength costs a training (≈ 3 min on 2 cores) and ≈ 3 s per case; needs `dvc repro prepare`. The
ε-model trains on the photos these squares are cut from (the classical fills learn nothing), so its scores here
are optimistic next to theirs: the held-out evaluation is the comparison.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict

import obscura  # noqa: F401  (first: sets torch's OpenMP spin count before torch loads)
import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--strengths", type=float, nargs="+", default=[0.1, 0.2, 0.3])
    ap.add_argument("--variants", nargs="*", default=["jump=3", "sample_steps=20"], metavar="KEY=VALUE",
                    help="inference settings tried one at a time on the model of --variants-at")
    ap.add_argument("--variants-at", type=float, default=0.3, help="the strength whose model the variants use")
    ap.add_argument("--photos", type=int, default=19)
    ap.add_argument("--bucket", default="30-40")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--steps", type=int, default=None, help="training steps (default: params.yaml's)")
    ap.add_argument("--lr", type=float, default=None, help="learning rate (default: params.yaml's)")
    ap.add_argument("--batch-size", type=int, default=None, help="batch size (default: params.yaml's)")
    ap.add_argument("--crop", type=int, default=None, help="crop size (default: params.yaml's)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override a field of the diffusion config (repeatable; VALUE parsed as YAML)")
    args = ap.parse_args()
    variants = {}
    for item in args.variants:
        key, sep, value = item.partition("=")
        if not sep or key not in ("jump", "resample", "sample_steps") or not value.isdigit() or int(value) < 1:
            ap.error(f"--variants takes jump=N, resample=N or sample_steps=N with N >= 1; got {item!r}")
        variants[item] = (key, int(value))
    if variants and args.variants_at not in args.strengths:
        ap.error(f"--variants-at {args.variants_at:g} is not among --strengths; the variants run on that model")

    import torch

    from obscura.config import load_params, parse_overrides
    from obscura.errors import ObscuraError
    from obscura.inpainting.classical import CLASSICAL
    from obscura.inpainting.data import training_photos, validation_squares
    from obscura.inpainting.deep.data import CropSampler
    from obscura.inpainting.deep.registry import make_config
    from obscura.inpainting.deep.train import train
    from obscura.inpainting.evaluate import evaluate, inception_scores, paired_difference
    from obscura.inpainting.masks import mask_set
    from obscura.inpainting.methods import deep_method

    params = load_params("params.yaml")
    cfg = params.inpainting
    section = cfg.deep["diffusion"]
    try:
        overrides = parse_overrides(args.set)
        make_config("diffusion", **{**section.config, **overrides})
    except ObscuraError as exc:
        ap.error(f"--set: {exc}")
    training = {"steps": section.steps, "lr": section.lr, "batch_size": section.batch_size, "crop": section.crop}
    training.update({k: v for k, v in (("steps", args.steps), ("lr", args.lr), ("batch_size", args.batch_size),
                                       ("crop", args.crop)) if v is not None})
    images = validation_squares(params.prepare.output, args.size, args.seed)
    names = sorted(images)[:args.photos]
    bucket = tuple(int(v) for v in args.bucket.split("-"))
    cases = [{**c, "image": names[c["image"]]}
             for c in mask_set((args.size, args.size), len(names), [bucket], ("strokes", "rectangles", "box"),
                               seed=args.seed)]

    methods = {name: CLASSICAL[name] for name in ("harmonic", "push_pull", "criminisi")}
    train_seconds = {}
    for strength in args.strengths:
        config = make_config("diffusion", **{**section.config, **overrides, "strength": strength})
        torch.manual_seed(params.seed)
        model = config.setup()
        sampler = CropSampler(training_photos(params.prepare.output), training["crop"], kinds=tuple(cfg.kinds),
                              buckets=[tuple(b) for b in cfg.buckets], seed=params.seed, edges=config.uses_edges,
                              scales=section.scales)
        trained = train(model, sampler, training["steps"], training["batch_size"], training["lr"], seed=params.seed)
        train_seconds[f"strength={strength:g}"] = round(trained["train_seconds"], 1)
        methods[f"strength={strength:g}"] = deep_method(model)
        if strength == args.variants_at:
            for label, (key, value) in variants.items():
                varied = make_config("diffusion", **{**config.to_dict(), key: value}).setup()
                varied.load_state_dict(model.state_dict())
                methods[f"strength={strength:g},{label}"] = deep_method(varied.eval())

    fills = defaultdict(list)
    rows = evaluate(methods, images, cases, on_case=lambda row, out: fills[row["method"]].append(out))
    seconds = defaultdict(list)
    for r in rows:
        seconds[r["method"]].append(r["seconds"])
    inception, _ = inception_scores(fills, [images[c["image"]] for c in cases], args.seed,
                                    groups=[c["image"] for c in cases])
    result = {"photos": len(names), "cases": len(cases), "bucket": args.bucket, "size": args.size,
              **training, "config": {**section.config, **overrides}, "torch_threads": torch.get_num_threads(),
              "train_seconds": train_seconds, "methods": {}}
    for name in methods:
        d = None if name == "harmonic" else next(p for p in paired_difference(rows, name, "harmonic")
                                                  if p["bucket"] == "all")
        hole = float(np.mean([r["hole_psnr"] for r in rows if r["method"] == name]))
        result["methods"][name] = {
            "hole_psnr": round(hole, 3),
            "over_harmonic": None if d is None else {k: round(d[k], 3) for k in ("mean", "lo", "hi")}
                                                    | {"wins": d["wins"]},
            "kid": inception[f"{name}.all.kid"], "kid_interval": [inception[f"{name}.all.kid_lo"],
                                                                   inception[f"{name}.all.kid_hi"]],
            "fid": inception[f"{name}.all.fid"],
            "seconds_per_case": round(float(np.mean(seconds[name])), 2)}
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
