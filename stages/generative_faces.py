"""DVC stage ``generative_faces``: the lecture's "blend two faces" demo.

The ae and vae architectures of params are trained on the LFW faces (25×25, resized to image_size);
for a few face pairs the linear latent path is decoded by both (rows alternate AE, VAE), and the
midpoints' distance to the nearest real face is compared with real faces' own spacing
(``*_blend_off_manifold``: ≈ 1 on the data manifold, larger off it).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

from obscura.config import Params
from obscura.errors import ObscuraError
from obscura.generative import metrics as M
from obscura.generative.images import grid, to_model_space
from obscura.generative.registry import config_from_params
from obscura.generative.train import TrainSettings, train
from obscura.io import save_image, write_json
from obscura.tracking import stage_run


def load_faces(prepared: Path, image_size: int, channels: int) -> torch.Tensor:
    path = Path(prepared) / "faces.npz"
    if not path.is_file():
        raise ObscuraError(f"{path} is missing: run the `prepare` stage first (dvc repro prepare).")
    with np.load(path) as z:
        return to_model_space(z["x"], image_size, channels)


def run(params: Params) -> dict:
    gp, fp = params.generative, params.generative.faces
    faces = load_faces(gp.prepared, gp.image_size, gp.channels)
    settings = TrainSettings(epochs=fp.epochs, batch_size=fp.batch_size, lr=fp.lr, seed=params.seed,
                             log_every=max(1, len(faces) // fp.batch_size))
    g = torch.Generator().manual_seed(params.seed)
    pairs = torch.randperm(len(faces), generator=g)[: 2 * fp.pairs].view(-1, 2).tolist()
    pixels = M.PixelFeatures(gp.channels, gp.image_size)
    metrics, rows = {}, []
    with stage_run("generative_faces", fp, experiment=params.tracking.experiment, seed=params.seed) as tr:
        models = {}
        for name in ("ae", "vae"):
            torch.manual_seed(params.seed)
            model = config_from_params(name, gp).setup()
            train(model, faces, settings, on_step=lambda s, logs, n=name: tr.log_metrics(
                {f"{n}_{k}": v for k, v in logs.items()}, step=s))
            models[name] = model
            metrics.update({f"{name}_{k}": v for k, v in M.reconstruction(model, faces).items()})
            metrics[f"{name}_blend_off_manifold"] = M.blend_off_manifold(model, pixels, faces, fp.pairs,
                                                                         params.seed)
        for i, j in pairs:
            for name in ("ae", "vae"):
                path = M.blend(models[name], faces[i], faces[j], gp.eval.blend_steps)
                rows.append(torch.cat([faces[i:i + 1], path, faces[j:j + 1]]))
        out = gp.output / "faces" / "blend.png"
        save_image(out, grid(torch.cat(rows), ncol=gp.eval.blend_steps + 2))
        write_json(gp.reports / "faces.json", metrics)
        tr.log_metrics(metrics)
        tr.log_image(out, "faces_blend.png")
    return metrics


if __name__ == "__main__":
    from stages._entry import main

    sys.exit(main(run))
