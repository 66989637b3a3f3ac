"""DVC stage ``masks``: the fixed evaluation hole masks for the held-out photos (one set for every method)."""

from __future__ import annotations

import sys

from obscura.config import Params
from obscura.inpainting.data import photos
from obscura.inpainting.masks import mask_set, write_mask_set
from obscura.tracking import stage_run


def run(params: Params) -> dict:
    cfg = params.inpainting
    names = sorted(photos(params.prepare.output, "heldout", cfg.image_size))
    cases = mask_set((cfg.image_size, cfg.image_size), len(names) * cfg.masks_per_bucket, cfg.buckets, cfg.kinds,
                     seed=params.seed)
    with stage_run("masks", {"inpainting": cfg}, experiment="inpainting", seed=params.seed,
                   dataset="photos") as tracker:
        index = write_mask_set(cfg.masks_dir, cases, names)
        tracker.log_artifact(cfg.masks_dir / "index.json")
        tracker.log_metrics({"mask_count": len(index)})
    return {"count": len(index)}


if __name__ == "__main__":
    from stages._entry import main

    sys.exit(main(run))
