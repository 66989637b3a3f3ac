"""3DGS training on the built-in scenes: held-out PSNR against wall clock (one JSON object).

    python bench/gaussians.py [--scenes orbit room] [--set steps=2000 max_gaussians=200000 ...]

Trains with the params.yaml gaussians config (``--set`` overrides fields of it: the defaults fit
`make run`'s budget; the 15-min quality curve uses ``--set steps=2000 refine_stop=1400
max_gaussians=200000``) on the SfM cameras, measuring test PSNR every ``--eval-every`` steps; reports the PSNR reached at 5, 10 and
15 min of training time (evaluation time excluded), the final count and the step time. Needs
`dvc repro sfm@orbit sfm@room` first. Kernel speed (ns per pair, dense-reference ratio) is
bench/gaussians_kernels.py.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile

import obscura  # noqa: F401  (first: sets torch's OpenMP spin count before torch loads)
import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenes", nargs="+", default=["orbit", "room"])
    ap.add_argument("--set", nargs="+", default=[], metavar="FIELD=VALUE",
                    help="gaussians config overrides, e.g. steps=2000 max_gaussians=200000")
    ap.add_argument("--eval-every", type=int, default=250)
    ap.add_argument("--marks", type=float, nargs="+", default=[5, 10, 15], help="minutes to report PSNR at")
    args = ap.parse_args()
    from obscura.config import load_params, parse_overrides
    from obscura.errors import ConfigError

    try:
        overrides = parse_overrides(args.set)
    except ConfigError as exc:
        ap.error(f"--set: {exc}")
    from obscura.rendering.gaussians.registry import make_config
    from obscura.rendering.gaussians.train import peak_memory_mb, train

    params = load_params()
    out = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version()}, "scenes": {}}
    for scene in args.scenes:
        fields = {**params.gaussians.config, **params.gaussians.scenes.get(scene, {})}
        fields.update(overrides)
        config = make_config(**fields)
        with tempfile.TemporaryDirectory() as tmp:
            model, result = train(params.scenes.output / scene, os.path.join(tmp, "model"), config,
                                  params.gaussians.poses, params.seed, eval_every=args.eval_every, progress=False)
        curve = result["curve"]
        seconds = np.array([c["train_seconds"] for c in curve])
        marks = {f"test_psnr_at_{m:g}_min": (curve[int(np.searchsorted(seconds, 60 * m, side="right")) - 1]["test_psnr"]
                                            if len(curve) and seconds[0] <= 60 * m else None) for m in args.marks}
        m = result["metrics"]
        out["scenes"][scene] = {"config": config.to_dict(), "steps": m["steps"], "train_seconds": m["train_seconds"],
                                "seconds_per_step": m["train_seconds"] / m["steps"], "gaussians": len(model),
                                "final_test_psnr": curve[-1]["test_psnr"] if curve else None, **marks,
                                "curve": curve}
    out["peak_memory_mb"] = peak_memory_mb()
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
