"""The lecture's "blend two faces" demo: the ae and vae architectures trained on the LFW faces (25×25 is
all that ships offline, resized to image_size); for a few face pairs the linear latent path is decoded by
both (rows alternate AE, VAE), and the midpoints' distance to the nearest real face is compared with real
faces' own spacing (``*_blend_off_manifold``: ≈ 1 on the data manifold, larger off it) in Inception
features, where a blurred face is far from every sharp one (on pixels, ``*_pixels``, a blur sits close to
both of its parents, so that measure favours blurry midpoints). ``crossfade_*``: the same for the pixel
average of each pair — what blending without a model gives."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from obscura.errors import ObscuraError
from obscura.generative import metrics as M
from obscura.metrics import InceptionFeatures, extract_features
from obscura.generative.images import to_model_space
from obscura.generative.registry import config_from_params
from obscura.generative.train import TrainSettings, train


STRIP_SCALE = 4   # the blend strip is saved 4x larger (nearest neighbour: the model's pixels as they are)


def load_faces(prepared: Path, image_size: int, channels: int) -> torch.Tensor:
    path = Path(prepared) / "faces.npz"
    if not path.is_file():
        raise ObscuraError(f"{path} is missing: run the `prepare` stage first (dvc repro prepare).")
    with np.load(path) as z:
        return to_model_space(z["x"], image_size, channels)


def blend_faces(gen_params, faces: torch.Tensor, seed: int,
                log: Callable[[dict, int], None] = lambda metrics, step: None) -> tuple[dict, torch.Tensor]:
    """Train ae and vae on ``faces``; return their scores and the blend rows (pairs × [ae, vae])."""
    fp = gen_params.faces
    settings = TrainSettings(epochs=fp.epochs, batch_size=fp.batch_size, lr=fp.lr, seed=seed,
                             log_every=max(1, len(faces) // fp.batch_size))
    pairs = M.blend_pairs(len(faces), fp.pairs, seed)
    measured = M.blend_pairs(len(faces), fp.measure_pairs, seed)
    inception = InceptionFeatures()
    real = {"": extract_features(inception, faces), "_pixels": faces.flatten(1)}

    def score(prefix: str, mids: torch.Tensor) -> None:
        points = {"": extract_features(inception, mids), "_pixels": mids.flatten(1)}
        for space, ref in real.items():
            metrics[f"{prefix}_blend_off_manifold{space}"] = M.off_manifold(points[space], ref)

    metrics, models = {}, {}
    score("crossfade", torch.stack([(faces[i] + faces[j]) / 2 for i, j in measured]))
    for name in ("ae", "vae"):
        torch.manual_seed(seed)
        model = config_from_params(name, gen_params).setup()
        train(model, faces, settings, on_step=lambda s, logs, n=name: log({f"{n}_{k}": v for k, v in logs.items()}, s))
        models[name] = model
        metrics.update({f"{name}_{k}": v for k, v in M.reconstruction(model, faces).items()})
        score(name, M.blend_midpoints(model, faces, fp.measure_pairs, seed))
    rows = [torch.cat([faces[i:i + 1], M.blend(models[name], faces[i], faces[j], gen_params.eval.blend_steps),
                       faces[j:j + 1]])
            for i, j in pairs for name in ("ae", "vae")]
    return metrics, torch.cat(rows)
