"""DVC stage ``masks``: the fixed evaluation hole masks for the held-out photos (one set for every method)."""

from __future__ import annotations

import json
import sys

from obscura.config import Params
from obscura.inpainting.data import photos
from obscura.inpainting.masks import bucket_name, mask_set
from obscura.io import atomic_dir, save_image
from obscura.tracking import stage_run


def run(params: Params) -> dict:
    cfg = params.inpainting
    names = sorted(photos(params.prepare.output, "heldout", cfg.image_size))
    shape = (cfg.image_size, cfg.image_size)
    cases = mask_set(shape, len(names) * cfg.masks_per_bucket, cfg.buckets, cfg.kinds, seed=params.seed)
    with stage_run("masks", cfg, experiment=params.tracking.experiment, seed=params.seed) as tracker:
        index = []
        with atomic_dir(cfg.masks_dir) as tmp:
            for case in cases:
                image = names[case["image"] % len(names)]
                repeat = case["image"] // len(names)
                file = f"{image}_{bucket_name(case['bucket'])}_{repeat}.png"
                save_image(tmp / file, case["mask"].astype("uint8") * 255)
                index.append({"file": file, "image": image, "bucket": list(case["bucket"]),
                              "kind": case["kind"], "ratio": round(case["ratio"], 6)})
            (tmp / "index.json").write_text(json.dumps(index, indent=2) + "\n")
        tracker.log_artifact(cfg.masks_dir / "index.json")
        tracker.log_metrics({"mask_count": len(index)})
    return {"count": len(index)}


if __name__ == "__main__":
    from stages._entry import main

    sys.exit(main(run))
