"""DVC stage ``evaluate_inpainting``: every method on the fixed masks of the held-out and unseen photos and on the
outpainting strips (slow methods on their seeded subset, ``inpainting.cases_per_cell``) -> table, cases, ranking
(each method paired with ``inpainting.reference``), KID pairs (every two methods' KID difference on the FID cases,
with paired bootstrap intervals), metrics, grids."""

from __future__ import annotations

import sys

from tqdm import tqdm

from obscura.config import Params
from obscura.errors import ObscuraError
from obscura.inpainting.data import photos
from obscura.inpainting.evaluate import (comparison_grid, count_runs, evaluate, inception_scores, method_metrics,
                                        ranking, real_photo_pairs, show_hole, summarise)
from obscura.inpainting.masks import OUTPAINT, bucket_name, photo_set, read_mask_set
from obscura.inpainting.methods import get_method
from obscura.io import atomic_dir, save_image, write_csv, write_json
from obscura.tracking import model_name, stage_run


def run(params: Params) -> dict:
    cfg = params.inpainting
    cases = read_mask_set(cfg.masks_dir)
    sets = {photo_set(c["set"]) for c in cases}
    images = {k: v for s in sorted(sets) for k, v in photos(params.prepare.output, s, cfg.image_size).items()}
    names = list(cfg.classical) + list(cfg.deep)
    methods = {n: get_method(n, cfg.models_dir) for n in names}
    grid_bucket = bucket_name(tuple(cfg.grid_bucket))
    grid_cases = {i: f"{c['image']}_{c['kind']}" for i, c in enumerate(cases)
                  if c["set"] == "heldout" and c["slot"] == 0 and bucket_name(c["bucket"]) == grid_bucket}
    grid_cases.update({i: f"{OUTPAINT}_{c['image']}" for i, c in enumerate(cases)
                       if c["set"] == OUTPAINT and c["slot"] < 2})
    fid_cases = [i for i, c in enumerate(cases) if c["set"] == "heldout" and c["slot"] < cfg.fid_per_cell]
    fid_set = set(fid_cases)
    shown = {i: {} for i in grid_cases}
    kept = {name: {} for name in names}

    def keep(row, output):
        if row["case"] in shown:
            shown[row["case"]][row["method"]] = output
        if row["case"] in fid_set:
            kept[row["method"]][row["case"]] = output

    with stage_run("evaluate_inpainting", {"inpainting": cfg}, experiment="inpainting", seed=params.seed,
                   dataset="photos") as tracker:
        with tqdm(desc="evaluate inpainting", total=count_runs(methods, cases, cfg.cases_per_cell)) as bar:
            rows = evaluate(methods, images, cases, on_case=keep, progress=bar.update, per_cell=cfg.cases_per_cell,
                            workers=cfg.workers)
        broken = sorted({r["method"] for r in rows if not r["known_unchanged"]})
        if broken:
            raise ObscuraError(f"methods changed known pixels: {broken} (bug; outputs not written).")
        table, metrics = summarise(rows)
        scored = {m: [out[i] for i in fid_cases] for m, out in kept.items() if len(out) == len(fid_cases)}
        inception, kid_pairs = inception_scores(scored, [images[cases[i]["image"]] for i in fid_cases], params.seed,
                                                floor=real_photo_pairs(cases, fid_cases, images, params.seed),
                                                groups=[cases[i]["image"] for i in fid_cases])
        metrics.update(inception)
        for entry in table:
            if entry["set"] == "heldout" and entry["bucket"] == entry["kind"] == "all":
                entry.update({k: metrics.get(f"{entry['method']}.all.{k}") for k in ("fid", "kid", "kid_lo", "kid_hi")})
        with atomic_dir(cfg.reports / "grids") as tmp:
            for i, outputs in shown.items():
                target = images[cases[i]["image"]]
                grid = comparison_grid(show_hole(target, cases[i]["mask"]), outputs, target)
                save_image(tmp / f"{grid_cases[i]}.png", grid)
        write_csv(cfg.reports / "table.csv",
                  [{k: round(v, 6 if k.startswith("kid") else 4) if isinstance(v, float) else v for k, v in r.items()}
                   for r in table],
                  first=("method", "set", "bucket", "kind", "n", "hole_psnr", "hole_psnr_lo", "hole_psnr_hi",
                         "full_psnr", "full_psnr_lo", "full_psnr_hi", "ssim", "fid", "kid", "kid_lo", "kid_hi"))
        write_csv(cfg.reports / "cases.csv", rows, first=tuple(rows[0]))
        ranked = [{k: round(v, 6) if isinstance(v, float) else v for k, v in r.items()}
                  for r in ranking(rows, cfg.reference)]
        write_csv(cfg.reports / "ranking.csv", ranked, first=tuple(ranked[0]) if ranked else ())
        write_csv(cfg.reports / "kid_pairs.csv", [{k: round(v, 6) if isinstance(v, float) else v for k, v in r.items()}
                                                   for r in kid_pairs],
                  first=("method", "other", "kid", "other_kid", "difference", "difference_lo", "difference_hi"))
        write_json(cfg.reports / "metrics.json", metrics)
        tracker.log_metrics({k.replace("-", "_"): v for k, v in metrics.items()})
        for path in ("table.csv", "cases.csv", "ranking.csv", "kid_pairs.csv", "metrics.json", "grids"):
            tracker.log_artifact(cfg.reports / path)
        for name in names:                       # one child run per method, with the track's flat keys
            scores = method_metrics(metrics, name)
            with tracker.child(name) as child:
                child.log_metrics(scores)
            if name in cfg.deep:
                tracker.score_model(model_name("inpainting", name), scores, checkpoint=(cfg.models_dir / name,))
    return metrics


if __name__ == "__main__":
    from stages._entry import main

    sys.exit(main(run))
