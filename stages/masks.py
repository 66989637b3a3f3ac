"""DVC stage ``masks``: the fixed evaluation hole masks for the held-out and the unseen photos (one set for
every method): one per photo, bucket and kind; and one outpainting strip per held-out photo (set ``outpaint``)."""

from __future__ import annotations

import sys

from obscura.config import Params
from obscura.inpainting.data import photos
from obscura.inpainting.masks import OUTPAINT, mask_set, outpaint_set, write_mask_set
from obscura.tracking import stage_run

SETS = ("heldout", "unseen")


def run(params: Params) -> dict:
    cfg = params.inpainting
    shape = (cfg.image_size, cfg.image_size)
    sets = {}
    for offset, (name, buckets) in enumerate(zip(SETS, (cfg.buckets, cfg.unseen_buckets))):
        names = sorted(photos(params.prepare.output, name, cfg.image_size))
        if names:
            sets[name] = (mask_set(shape, len(names) * cfg.masks_per_bucket, buckets, cfg.kinds,
                                   seed=params.seed + offset), names)
    if cfg.outpaint and "heldout" in sets:
        names = sets["heldout"][1]
        sets[OUTPAINT] = (outpaint_set(shape, len(names), cfg.outpaint, seed=params.seed + len(SETS)), names)
    with stage_run("masks", {"inpainting": cfg}, experiment="inpainting", seed=params.seed,
                   dataset="photos") as tracker:
        index = write_mask_set(cfg.masks_dir, sets)
        tracker.log_artifact(cfg.masks_dir / "index.json")
        tracker.log_metrics({"mask_count": len(index)})
    return {"count": len(index)}


if __name__ == "__main__":
    from stages._entry import main

    sys.exit(main(run))
