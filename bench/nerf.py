"""NeRF on the CPU: held-out PSNR against training wall clock for both models on one scene, throughput,
render time, samples kept per ray and time per step; plus where a step's time goes (the hash encoding
in plain torch vs the compiled kernels). Prints one JSON object.

    python bench/nerf.py [--scene data/scenes/orbit] [--marks 60 120 300 600] [--models grid vanilla] [--views 2]
                         [--steps N]   (learning rate decaying over N steps, as in the stage; default constant)
                         [--set FIELD=VALUE ...]   (config overrides of every listed model that has the field)

Evaluation (the first ``--views`` held-out views at full size) is excluded from the clock. Needs `dvc repro sfm@orbit` (or --poses ground_truth).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import time

import obscura  # noqa: F401  (first: sets torch's OpenMP spin count before torch loads)
import numpy as np
import torch

from obscura.config import parse_overrides
from obscura.errors import ConfigError
from obscura.methods import run_loop
from obscura.metrics import psnr
from obscura.rendering.nerf.registry import MODELS
from obscura.rendering.nerf.train import (
    NerfTask,
    RaySampler,
    build_model,
    peak_memory_mb,
    render_image,
    scene_cameras,
)


class _Done(Exception):
    pass


def race(name: str, cams, marks: list[float], views: list[int], seed: int = 0, overrides: dict | None = None,
         steps: int | None = None) -> dict:
    """Train ``name`` and score the held-out ``views`` whenever the training clock passes a mark. Without
    ``steps`` its default config runs at a constant learning rate (the clock, not a step count, ends the run);
    with ``steps`` the learning rate decays over that many steps as in the stage, and the run is also scored
    when they are done (if that comes before the last mark)."""
    targets = cams.load_images(views)
    fields = MODELS.config_class(name).field_names()
    config = MODELS.make(name, **{k: v for k, v in (overrides or {}).items() if k in fields}, steps=steps or 10**9)
    model = build_model(name, config, cams, seed)
    task = NerfTask(model, RaySampler(cams, cams.train))
    points, clock = [], {"start": time.perf_counter(), "paused": 0.0}

    def check(step: int):
        elapsed = time.perf_counter() - clock["start"] - clock["paused"]
        if elapsed < marks[len(points)] and step < config.steps:
            return
        t = time.perf_counter()
        renders = [render_image(model, cams.intrinsics, cams.poses[i]) for i in views]
        render_s = (time.perf_counter() - t) / len(views)
        model.train()
        points.append({"seconds": round(elapsed, 1), "step": step,
                       "test_psnr": float(np.mean([psnr(r["rgb"], g) for r, g in zip(renders, targets)])),
                       "render_seconds_per_frame": render_s,
                       "render_samples_per_ray": float(np.mean([r["samples_per_ray"] for r in renders]))})
        clock["paused"] += time.perf_counter() - t
        if len(points) == len(marks) or step >= config.steps:
            raise _Done

    with contextlib.suppress(_Done):
        run_loop(task, config.steps, seed=seed, hooks=[(1, check)], log_every=10, progress=False)
    train_s = points[-1]["seconds"]
    return {"curve": points, "train_rays_per_second": task.rays_seen / train_s,
            "seconds_per_step": train_s / points[-1]["step"],
            "train_samples_per_ray_last_step": _last_samples(task), "peak_memory_mb": peak_memory_mb()}


def _last_samples(task: NerfTask) -> float:
    """Samples per ray that survive empty-space skipping in one more training step."""
    with torch.no_grad():
        origins, dirs, _ = task.sampler.batch(task.model.config.rays_per_step, torch.Generator().manual_seed(1))
        out = task.model.train().render_rays(origins, dirs, torch.Generator().manual_seed(2),
                                             getattr(task.model.config, "max_samples", None))
    return out["samples"] / max(out["n_rays"], 1)


def encoding_profile(n: int = 1 << 16, repeats: int = 3) -> dict:
    """Forward + backward seconds of the default hash encoding on ``n`` points: numba kernels vs the
    same lookup written as plain torch gathers (``hash_encode_reference``, what profiling pointed at)."""
    from obscura.rendering.nerf.hashgrid import HashGrid, hash_encode_reference

    c = MODELS.make("grid")
    grid = HashGrid(c.levels, c.features, c.log2_size, c.min_res, c.max_res)
    x = torch.rand(n, 3)

    def timed(fn):
        best = float("inf")
        for _ in range(repeats):
            grid.table.grad = None
            t = time.perf_counter()
            fn(x).square().sum().backward()
            best = min(best, time.perf_counter() - t)
        return best

    return {"points": n, "numba_seconds": timed(grid),
            "torch_seconds": timed(lambda x: hash_encode_reference(x, grid.table, grid.res, grid.hashed))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scene", default="data/scenes/orbit")
    ap.add_argument("--poses", default="sfm", choices=["sfm", "ground_truth"])
    ap.add_argument("--marks", type=float, nargs="+", default=[60, 120, 300, 600])
    ap.add_argument("--models", nargs="+", default=["grid", "vanilla"], choices=MODELS.names())
    ap.add_argument("--views", type=int, default=2, help="held-out views scored at each mark (full size)")
    ap.add_argument("--steps", type=int, help="decay the learning rate over this many steps (as the stage does) "
                    "instead of a constant rate; the run ends at the last mark or after these steps")
    ap.add_argument("--set", nargs="+", default=[], metavar="FIELD=VALUE", help="config overrides, e.g. distortion=0.01")
    args = ap.parse_args()
    try:
        overrides = parse_overrides(args.set)
    except ConfigError as exc:
        ap.error(f"--set: {exc}")
    if "steps" in overrides:
        ap.error("the number of steps is --steps N (it sets the learning-rate schedule), not --set steps=N")
    cams = scene_cameras(args.scene, args.poses)
    views = cams.test[:args.views]
    out = {"scene": args.scene, "poses": args.poses, "threads": torch.get_num_threads(), "overrides": overrides,
           "steps": args.steps,
           "scored_views": [cams.names[i] for i in views],
           "encoding_fwd_bwd": encoding_profile(), "models": {}}
    for name in args.models:
        out["models"][name] = race(name, cams, sorted(args.marks), views, overrides=overrides, steps=args.steps)
    if {"grid", "vanilla"} <= set(out["models"]) and not args.steps:  # with --steps the last points differ in time
        g, v = (out["models"][k]["curve"] for k in ("grid", "vanilla"))
        out["grid_minus_vanilla_db"] = [round(a["test_psnr"] - b["test_psnr"], 2) for a, b in zip(g, v)]
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
