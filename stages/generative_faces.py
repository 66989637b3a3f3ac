"""DVC stage ``generative_faces``: the lecture's "blend two faces" demo (obscura.generative.faces)."""

from __future__ import annotations

import sys

from obscura.config import Params
from obscura.generative.faces import STRIP_SCALE, blend_faces, load_faces
from obscura.generative.images import grid
from obscura.io import save_image, write_json
from obscura.tracking import stage_run


def run(params: Params) -> dict:
    gp = params.generative
    faces = load_faces(gp.prepared, gp.image_size, gp.channels)
    with stage_run("generative_faces", {"generative.faces": gp.faces}, experiment="generative", seed=params.seed,
                   method="ae_vae", dataset="lfw") as tr:
        metrics, rows = blend_faces(gp, faces, params.seed, log=lambda logs, step: tr.log_metrics(logs, step=step))
        out = gp.output / "faces" / "blend.png"
        strip = grid(rows, ncol=gp.eval.blend_steps + 2)
        save_image(out, strip.repeat(STRIP_SCALE, 0).repeat(STRIP_SCALE, 1))
        write_json(gp.reports / "faces.json", metrics)
        tr.log_metrics(metrics)
        tr.log_image(out, "faces_blend.png")
    return metrics


if __name__ == "__main__":
    from stages._entry import main

    sys.exit(main(run))
