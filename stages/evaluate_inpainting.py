"""DVC stage ``evaluate_inpainting``: every method on the fixed held-out masks -> table, metrics, grids."""

from __future__ import annotations

import sys

from tqdm import tqdm

from obscura.config import Params
from obscura.errors import ObscuraError
from obscura.inpainting.data import photos
from obscura.inpainting.evaluate import (comparison_grid, evaluate, inception_scores, method_metrics, show_hole,
                                        summarise)
from obscura.inpainting.masks import bucket_name, read_mask_set
from obscura.inpainting.methods import get_method
from obscura.io import atomic_dir, save_image, write_csv, write_json
from obscura.tracking import model_name, stage_run


def run(params: Params) -> dict:
    cfg = params.inpainting
    images = photos(params.prepare.output, "heldout", cfg.image_size)
    cases = read_mask_set(cfg.masks_dir)
    names = list(cfg.classical) + list(cfg.deep)
    methods = {n: get_method(n, cfg.models_dir) for n in names}
    grid_bucket = bucket_name(tuple(cfg.grid_bucket))
    grid_cases = {}  # image -> index of its first case in the grid bucket
    for i, case in enumerate(cases):
        if bucket_name(case["bucket"]) == grid_bucket:
            grid_cases.setdefault(case["image"], i)
    shown = {image: {} for image in grid_cases}
    outputs = {name: [] for name in names}

    def keep(row, output):
        outputs[row["method"]].append(output)
        if grid_cases.get(row["image"]) == row["case"]:
            shown[row["image"]][row["method"]] = output

    with stage_run("evaluate_inpainting", {"inpainting": cfg}, experiment="inpainting", seed=params.seed,
                   dataset="photos") as tracker:
        with tqdm(total=len(cases) * len(methods), desc="evaluate inpainting") as bar:
            rows = evaluate(methods, images, cases, on_case=keep, progress=bar.update)
        broken = sorted({r["method"] for r in rows if not r["known_unchanged"]})
        if broken:
            raise ObscuraError(f"methods changed known pixels: {broken} (bug; outputs not written).")
        table, metrics = summarise(rows)
        metrics.update(inception_scores(outputs, [images[c["image"]] for c in cases], params.seed))
        with atomic_dir(cfg.reports / "grids") as tmp:
            for image, outputs in shown.items():
                mask = cases[grid_cases[image]]["mask"]
                grid = comparison_grid(show_hole(images[image], mask), outputs, images[image])
                save_image(tmp / f"{image}.png", grid)
        write_csv(cfg.reports / "table.csv",
                  [{k: round(v, 4) if isinstance(v, float) else v for k, v in r.items()} for r in table],
                  first=tuple(table[0]))
        write_csv(cfg.reports / "cases.csv", rows, first=tuple(rows[0]))
        write_json(cfg.reports / "metrics.json", metrics)
        tracker.log_metrics({k.replace("-", "_"): v for k, v in metrics.items()})
        for path in ("table.csv", "cases.csv", "metrics.json", "grids"):
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
