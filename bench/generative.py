"""Generative benchmark: per model FID, KID, training time and samples/s, plus the total wall time of
the generative part of the pipeline against its 25-minute budget. Prints one JSON object.

    python bench/generative.py                       # run all stages with params.yaml (full cost, ~25 min)
    python bench/generative.py --scale 0.1           # 10 % of the training images and FID samples (a quick look)
    python bench/generative.py --from-reports        # read reports/generative after `dvc repro`
    python bench/generative.py --fid-samples 2000 --models ddpm   # re-score trained checkpoints at larger N
    python bench/generative.py --protocol full        # 2,000 generated vs 10,000 real test images (~45 min)
    python bench/generative.py --protocol full --models ldm --checkpoints DIR   # DIR/ldm/model.pt, e.g. from
        dvc get . data/generative/ldm/model.pt --rev <experiment ref> -o DIR/ldm/model.pt
    python bench/generative.py --step-time attention=true   # DDPM training step: params vs an override (~1 min)
    python bench/generative.py --reconstructions ae   # FID/KID of the AE's reconstructions: the LDM's ceiling

Runs write into bench/out/generative (never data/ or reports/) with an MLflow store of their own.
Re-scoring reports FID, KID (mean and std over overlapping subsets, as the pipeline) and a 95 % KID interval
from 10 disjoint subset pairs, beside the real-vs-real figure (train vs test images) at the same counts.
With --scale < 1, "projected_total_seconds" extrapolates training time and Inception cost linearly to scale 1.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODELS = ("ae", "vae", "gan", "ddpm", "ldm")
BUDGET_SECONDS = 25 * 60


def from_reports(reports: Path) -> dict:
    out = {"models": {}}
    for name in MODELS:
        path = reports / name / "metrics.json"
        if path.is_file():
            m = json.loads(path.read_text())
            out["models"][name] = {k: m.get(k) for k in ("fid", "kid", "kid_std", "fd_classifier", "train_seconds",
                                                         "samples_per_second", "fid_samples")}
    ref = reports / "reference.json"
    if ref.is_file():
        base = json.loads(ref.read_text())
        out.update({k: base.get(k) for k in ("fid_real_baseline", "real_samples")})
    return out


def scaled_params(scale: float):
    import yaml

    from obscura.config import parse_params

    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    g = raw["generative"]
    out = ROOT / "bench" / "out" / "generative"
    g.update(output=str(out / "data"), reports=str(out / "reports"))
    if scale != 1:
        for name in MODELS:
            n = g[name].get("train_images") or 60000
            g[name]["train_images"] = max(g[name]["batch_size"], int(n * scale))
        ev = g["eval"]
        ev["fid_samples"] = max(ev["kid_subset_size"], int(ev["fid_samples"] * scale))
        ev["real_samples"] = max(ev["kid_subset_size"], int(ev["real_samples"] * scale))
    return parse_params(raw), out


def run_all(scale: float) -> dict:
    sys.path.insert(0, str(ROOT))
    from stages import evaluate_generative, generative_classifier, generative_reference, train_generative

    params, out = scaled_params(scale)
    os.environ.setdefault("MLFLOW_TRACKING_URI", f"sqlite:///{out / 'mlflow.db'}")
    out.mkdir(parents=True, exist_ok=True)
    load0 = os.getloadavg()[0]
    t_all = time.perf_counter()
    timings = {}
    t = time.perf_counter()
    generative_classifier.run(params)
    timings["classifier_seconds"] = time.perf_counter() - t
    t = time.perf_counter()
    ref = generative_reference.run(params)
    timings["reference_seconds"] = time.perf_counter() - t
    models = {}
    for name in MODELS:
        t = time.perf_counter()
        train_generative.run(params, name)
        train_stage = time.perf_counter() - t
        t = time.perf_counter()
        m = evaluate_generative.run(params, name)
        models[name] = {"fid": m["fid"], "kid": m["kid"], "kid_std": m["kid_std"], "fd_classifier": m["fd_classifier"],
                        "train_seconds": m["train_seconds"], "train_stage_seconds": train_stage,
                        "evaluate_stage_seconds": time.perf_counter() - t,
                        "samples_per_second": m["samples_per_second"]}
    total = time.perf_counter() - t_all
    # project to scale 1: training time scales with images, Inception time with images scored;
    # stage start-up, model logging and the classifier (not scaled) stay as measured
    full, _ = scaled_params(1.0)
    per_image = ref["inception_seconds_per_image"]
    scored = lambda e: e.real_samples + e.fid_samples * (1 + len(MODELS))  # noqa: E731
    projected = (total + sum(v["train_seconds"] for v in models.values()) * (1 / scale - 1)
                 + per_image * (scored(full.generative.eval) - scored(params.generative.eval)))
    best = min(models, key=lambda k: models[k]["fid"])
    return {"models": models, **timings, "fid_real_baseline": ref["fid_real_baseline"],
            "fid_samples": params.generative.eval.fid_samples, "real_samples": ref["real_samples"],
            "best_model": best, "best_fid": models[best]["fid"], "scale": scale, "total_seconds": total,
            "projected_total_seconds": projected, "budget_seconds": BUDGET_SECONDS,
            "within_budget": projected <= BUDGET_SECONDS, "cpu_count": os.cpu_count(),
            "load_average_at_start": load0, "load_average_at_end": os.getloadavg()[0]}


PROTOCOLS = {"full": (2000, 10000)}    # generated images vs real test images


def rescore(n: int, models: list[str], n_real: int | None = None, checkpoints: Path | None = None) -> dict:
    """FID/KID of the checkpoints in data/generative (or ``checkpoints``/<model>/model.pt) at ``n`` samples
    against ``n_real`` (default ``n``) real test images, with the real-vs-real figure at the same counts (``n``
    train images vs the same test images) and a 95 % interval of KID from 10 disjoint subset pairs. Real features
    are cached in bench/out."""
    import torch

    from obscura.config import load_params
    from obscura.metrics import extract_features, fid_kid, InceptionFeatures, kid_interval
    from obscura.generative.checkpoint import load_model
    from obscura.generative.data import fashion_mnist, floor_indices
    from obscura.generative.evaluate import generate

    os.chdir(ROOT)                                   # params paths are relative to the repository
    params = load_params(ROOT / "params.yaml")
    gp, ev = params.generative, params.generative.eval
    n_real = n_real or n
    net = InceptionFeatures()
    cache = ROOT / "bench" / "out" / "generative" / "features"
    name = f"{gp.channels}x{gp.image_size}_tf-input"                 # TF range + nv_bilinear

    def cached(split: str, count: int, images) -> torch.Tensor:
        path = cache / f"{split}_{count}_{name}.pt"
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            torch.save(extract_features(net, images(), ev.batch_size, desc=f"inception: {split}"), path)
        return torch.load(path, weights_only=True)

    perm = floor_indices(60000, n, params.seed)
    test = cached("test", n_real, lambda: fashion_mnist(gp.prepared, "test", gp.image_size, gp.channels, n_real)[0])
    train = cached(f"train-seed{params.seed}", n,
                   lambda: fashion_mnist(gp.prepared, "train", gp.image_size, gp.channels)[0][perm])

    def score(fake):
        return {**fid_kid(test, fake, ev.kid_subset_size, ev.kid_subsets, params.seed),
                **kid_interval(test, fake, seed=params.seed)}

    out = {"samples": n, "real_samples": n_real, "real_vs_real": score(train), "models": {}}
    for name in models:
        model, _ = load_model((checkpoints or gp.output) / name / "model.pt", expect=name,
                              image_size=gp.image_size, channels=gp.channels)
        samples, _ = generate(model, n, ev.batch_size, params.seed)
        out["models"][name] = score(extract_features(net, samples, ev.batch_size, desc=f"inception: {name}"))
        out["models"][name]["fid_over_real_vs_real"] = out["models"][name]["fid"] / out["real_vs_real"]["fid"]
    return out


def step_time(overrides: list[str], rounds: int = 4, steps: int = 15) -> dict:
    """Seconds per DDPM training step (forward, backward, Adam, EMA) at the params' batch size: the configured
    model against the same model with ``overrides`` (``key=yaml-value`` on generative.ddpm), timed in rounds
    that alternate between the two in one process, so a change in the machine's speed hits both alike."""
    import dataclasses

    import torch
    import yaml

    from obscura.config import load_params
    from obscura.generative.registry import config_from_params

    params = load_params(ROOT / "params.yaml")
    gp = params.generative
    changes = {}
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--step-time takes key=value overrides of generative.ddpm, got {item!r}.")
        changes[key] = yaml.safe_load(value)
    base = config_from_params("ddpm", gp)
    unknown = set(changes) - {f.name for f in dataclasses.fields(base)}
    if unknown:
        raise SystemExit(f"--step-time: the ddpm config has no field {', '.join(sorted(unknown))}; its fields: "
                         f"{', '.join(f.name for f in dataclasses.fields(base))}.")
    variants = {"params": base, "override": dataclasses.replace(base, **changes)}
    batch = torch.randn(gp.ddpm.batch_size, gp.channels, gp.image_size, gp.image_size).clamp(-1, 1)
    times = {k: [] for k in variants}
    for name, config in variants.items():
        torch.manual_seed(params.seed)
        model = config.setup()
        opt = model.configure_optimizers(gp.ddpm.lr)["model"]
        variants[name] = (model, opt)
    for _ in range(rounds):
        for name, (model, opt) in variants.items():
            for i in range(steps + 2):
                if i == 2:                                   # two warm-up steps per round
                    t0 = time.perf_counter()
                loss = model.diffusion.loss(batch)
                opt.zero_grad()
                loss.backward()
                opt.step()
                model.diffusion.update_ema()
            times[name].append((time.perf_counter() - t0) / steps)
    med = {k: sorted(v)[len(v) // 2] for k, v in times.items()}
    return {"override": changes, "batch_size": gp.ddpm.batch_size, "seconds_per_step": med,
            "rounds": times, "ratio": med["override"] / med["params"], "torch_threads": torch.get_num_threads(),
            "load_average": os.getloadavg()[0]}


def reconstructions(name: str) -> dict:
    """FID/KID of ``name``'s reconstructions of the real-vs-real floor's seeded training images against the
    pipeline's cached test features: what a latent model decoding through this autoencoder could at best score
    (read against the floor, the same images unreconstructed)."""
    import torch

    from obscura.config import load_params
    from obscura.generative.checkpoint import load_model
    from obscura.generative.data import fashion_mnist, floor_indices
    from obscura.generative.evaluate import inception_reference_path, load_inception_reference
    from obscura.metrics import InceptionFeatures, extract_features, fid_kid

    os.chdir(ROOT)
    params = load_params(ROOT / "params.yaml")
    gp, ev = params.generative, params.generative.eval
    real = load_inception_reference(inception_reference_path(gp), gp.image_size, gp.channels)
    x, _ = fashion_mnist(gp.prepared, "train", gp.image_size, gp.channels)
    x = x[floor_indices(len(x), ev.fid_samples, params.seed)]
    model, _ = load_model(gp.output / name / "model.pt", expect=name, image_size=gp.image_size, channels=gp.channels)
    with torch.no_grad():
        rec = torch.cat([model.decode(model.encode(b)) for b in x.split(ev.batch_size)])
    scores = fid_kid(real, extract_features(InceptionFeatures(), rec, ev.batch_size, desc=f"inception: {name}"),
                     ev.kid_subset_size, ev.kid_subsets, params.seed)
    floor = json.loads((gp.reports / "reference.json").read_text())
    return {"model": name, "samples": len(x), "real_samples": len(real), **scores,
            "mse": float((rec - x).pow(2).mean()), "fid_real_baseline": floor["fid_real_baseline"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=float, default=1.0, help="fraction of training images and FID samples")
    ap.add_argument("--from-reports", action="store_true", help="summarise reports/generative instead of running")
    ap.add_argument("--fid-samples", type=int, help="re-score trained checkpoints at this many samples")
    ap.add_argument("--protocol", choices=list(PROTOCOLS),
                    help="re-score trained checkpoints: full = 2,000 generated vs 10,000 real test images")
    ap.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS,
                    help="with --fid-samples or --protocol")
    ap.add_argument("--checkpoints", type=Path, metavar="DIR",
                    help="with --fid-samples or --protocol: score DIR/<model>/model.pt instead of data/generative")
    ap.add_argument("--step-time", nargs="+", metavar="KEY=VALUE",
                    help="time DDPM training steps with params.yaml against these generative.ddpm overrides")
    ap.add_argument("--reconstructions", choices=("ae", "vae"),
                    help="FID/KID of this autoencoder's reconstructions of real images (an LDM's ceiling)")
    args = ap.parse_args()
    if args.reconstructions:
        with contextlib.redirect_stdout(sys.stderr):
            result = reconstructions(args.reconstructions)
    elif args.step_time:
        result = step_time(args.step_time)
    elif args.fid_samples or args.protocol:
        n, n_real = PROTOCOLS[args.protocol] if args.protocol else (args.fid_samples, args.fid_samples)
        with contextlib.redirect_stdout(sys.stderr):
            result = rescore(n, args.models, n_real, args.checkpoints and args.checkpoints.resolve())
    elif args.from_reports:
        result = from_reports(ROOT / "reports" / "generative")
    else:
        if not 0 < args.scale <= 1:
            ap.error("--scale must be in (0, 1]")
        with contextlib.redirect_stdout(sys.stderr):     # keep stdout for the one JSON object
            result = run_all(args.scale)
    print(json.dumps(result, indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
