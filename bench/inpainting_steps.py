"""Milliseconds per training step of deep inpainting methods, as `train_inpainting` trains them (params.yaml's
batch, crop, scales and config), on the training photos. Prints one JSON object.

    python bench/inpainting_steps.py [--methods diffusion single_stage] [--variants precision=bf16]
                                     [--threads 1] [--steps 30] [--rounds 4]

Each method (and each ``--variants`` change of its config, e.g. ``precision=bf16`` for `diffusion`) trains its own
model; the rounds of ``--steps`` steps interleave them, so a drifting machine weighs on all alike. The first round
warms up and is not counted; the figure is the median over the others. ``--threads`` sets torch's threads: one is
what each of `train_inpainting`'s two workers has on 2 cores (the other worker busy then, unlike here).
Needs `dvc repro prepare`.
"""

from __future__ import annotations

import argparse
import json
import time

import obscura  # noqa: F401  (first: sets torch's OpenMP spin count before torch loads)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--methods", nargs="+", default=None, help="deep methods (default: params.yaml's)")
    ap.add_argument("--variants", nargs="*", default=[], metavar="KEY=VALUE",
                    help="config changes, each timed on every method whose config has that field")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=30, help="steps per round")
    ap.add_argument("--rounds", type=int, default=4, help="rounds (the first is warm-up)")
    args = ap.parse_args()
    if args.steps < 1 or args.rounds < 2 or args.threads < 1:
        ap.error("--steps and --threads must be >= 1 and --rounds >= 2 (the first round is warm-up)")

    import numpy as np
    import torch

    from obscura.config import load_params, parse_overrides
    from obscura.errors import ObscuraError
    from obscura.inpainting.data import training_photos
    from obscura.inpainting.deep.data import CropSampler
    from obscura.inpainting.deep.registry import make_config
    from obscura.inpainting.deep.train import InpaintTask

    torch.set_num_threads(args.threads)
    params = load_params("params.yaml")
    cfg = params.inpainting
    methods = args.methods or list(cfg.deep)
    unknown = [m for m in methods if m not in cfg.deep]
    if unknown:
        ap.error(f"--methods: {unknown} not in params.yaml's inpainting.deep ({', '.join(cfg.deep)})")
    try:
        changes = {v: parse_overrides([v]) for v in args.variants}
    except ObscuraError as exc:
        ap.error(f"--variants: {exc}")
    images = training_photos(params.prepare.output)
    tasks = {}
    for method in methods:
        section = cfg.deep[method]
        fields = make_config(method, **section.config).to_dict()
        for label, change in {"params.yaml": {}, **changes}.items():
            if not set(change) <= set(fields):
                continue
            try:
                config = make_config(method, **{**section.config, **change})
            except ObscuraError as exc:
                ap.error(f"--variants {label}: {exc}")
            torch.manual_seed(params.seed)
            sampler = CropSampler(images, section.crop, kinds=tuple(cfg.kinds), buckets=[tuple(b) for b in cfg.buckets],
                                  seed=params.seed, edges=config.uses_edges, scales=section.scales)
            tasks[(method, label)] = InpaintTask(config.setup(), sampler, args.steps * args.rounds, section.batch_size,
                                                 section.lr, params.seed)
    unused = [label for label in changes if not any(key[1] == label for key in tasks)]
    if unused:
        ap.error(f"--variants {unused}: no method in {methods} has that config field")
    times = {key: [] for key in tasks}
    for r in range(args.rounds):
        for key, task in tasks.items():
            t0 = time.perf_counter()
            for i in range(args.steps):
                task.step(r * args.steps + i, torch.Generator().manual_seed(i))
            if r:
                times[key].append((time.perf_counter() - t0) / args.steps * 1000)
    result = {"threads": args.threads, "steps_per_round": args.steps, "rounds_counted": args.rounds - 1,
              "ms_per_step": {f"{m} ({label})": round(float(np.median(t)), 1) for (m, label), t in times.items()},
              "batch": {m: cfg.deep[m].batch_size for m in methods}, "crop": {m: cfg.deep[m].crop for m in methods}}
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
