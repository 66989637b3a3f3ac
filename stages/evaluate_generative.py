"""DVC stage ``evaluate_generative@<model>``: FID/KID (Inception), in-domain FD (classifier), model-specific
scores, a sample grid and a blend strip for one trained family."""

from __future__ import annotations

import json
import sys
import time

import torch

from obscura.config import Params
from obscura.errors import ObscuraError
from obscura.generative import metrics as M
from obscura.generative.checkpoint import load_model
from obscura.generative.classifier import load_reference as load_classifier
from obscura.generative.data import fashion_mnist
from obscura.generative.images import grid
from obscura.generative.registry import config_class
from obscura.io import save_image, write_json
from obscura.tracking import stage_run


def load_reference(path, gp) -> dict:
    if not path.is_file():
        raise ObscuraError(f"{path} is missing: run `dvc repro generative_reference` first.")
    ref = torch.load(path, map_location="cpu", weights_only=True)
    if (ref["image_size"], ref["channels"]) != (gp.image_size, gp.channels):
        raise ObscuraError(f"{path} was computed for {ref['channels']}x{ref['image_size']} images, params say "
                           f"{gp.channels}x{gp.image_size}; re-run the reference stages.")
    return ref


@torch.no_grad()
def generate(model, n: int, batch_size: int, seed: int) -> tuple[torch.Tensor, float]:
    g = torch.Generator().manual_seed(seed)
    t0 = time.perf_counter()
    out = torch.cat([model.sample(min(batch_size, n - i), g) for i in range(0, n, batch_size)])
    return out, n / (time.perf_counter() - t0)


@torch.no_grad()
def blend_strip(model, x_test: torch.Tensor, steps: int, seed: int, rows: int = 4) -> torch.Tensor:
    """Rows of latent paths between random test pairs (a z-interpolation for the encoder-less GAN)."""
    g = torch.Generator().manual_seed(seed + 1)
    if model.config.name == "gan":
        z = model.noise(2 * rows, g).view(rows, 2, -1)
        w = torch.linspace(0, 1, steps)[:, None]
        return torch.cat([model.decode((1 - w) * a + w * b) for a, b in z])
    idx = torch.randperm(len(x_test), generator=g)[: 2 * rows].view(rows, 2)
    return torch.cat([torch.cat([x_test[i:i + 1], M.blend(model, x_test[i], x_test[j], steps), x_test[j:j + 1]])
                      for i, j in idx.tolist()])


def run(params: Params, name: str) -> dict:
    config_class(name)
    gp, ev = params.generative, params.generative.eval
    model, _ = load_model(gp.output / name / "model.pt", expect=name, image_size=gp.image_size, channels=gp.channels)
    inception_ref = load_reference(gp.output / "reference" / "inception.pt", gp)
    clf, clf_real = load_classifier(gp.output / "reference" / "classifier.pt", gp.image_size, gp.channels)
    x_test, _ = fashion_mnist(gp.prepared, "test", gp.image_size, gp.channels)
    base = json.loads((gp.reports / "reference.json").read_text())
    clf_base = json.loads((gp.reports / "classifier.json").read_text())
    train_info = json.loads((gp.reports / name / "train.json").read_text())

    with stage_run(f"evaluate_generative@{name}", ev, experiment=params.tracking.experiment, seed=params.seed,
                   tags={"generative.model": name, "fid.network": M.INCEPTION_NAME,
                         "fid.samples": str(ev.fid_samples), "fid.real_samples": str(len(inception_ref["features"]))}
                   ) as tr:
        samples, per_second = generate(model, ev.fid_samples, ev.batch_size, params.seed)
        fake = M.extract_features(M.InceptionFeatures(), samples, ev.batch_size, desc=f"inception: {name} samples")
        scores = M.fid_kid(inception_ref["features"], fake, ev.kid_subset_size, ev.kid_subsets, params.seed)
        clf_feats = M.ClassifierFeatures(clf)
        in_domain = M.fid_kid(clf_real, M.extract_features(clf_feats, samples),
                              ev.kid_subset_size, ev.kid_subsets, params.seed)
        metrics = {
            "fid": scores["fid"], "kid": scores["kid"], "kid_std": scores["kid_std"],
            "fid_real_baseline": base["fid_real_baseline"], "kid_real_baseline": base["kid_real_baseline"],
            "fd_classifier": in_domain["fid"], "fd_classifier_real_baseline": clf_base["fd_classifier_real_baseline"],
            "fid_samples": ev.fid_samples, "real_samples": len(inception_ref["features"]),
            "samples_per_second": per_second, "train_seconds": train_info["train_seconds"],
            "train_steps": train_info["steps"],
        }
        x_eval = x_test[: ev.recon_images]
        if name in ("ae", "vae"):
            metrics.update(M.reconstruction(model, x_eval))
        if name == "vae":
            nll = M.vae_likelihood(model, x_test[: ev.nll_images], ev.nll_k, params.seed)
            metrics.update(elbo=nll["elbo"], kl=nll["kl"], nll_is=nll["nll_is"],
                           nll_is_bits_per_dim=nll["nll_is_bits_per_dim"], nll_k=ev.nll_k)
        if name != "gan":
            metrics["blend_off_manifold"] = M.blend_off_manifold(model, clf_feats, x_eval, pairs=16,
                                                                 seed=params.seed)
        out = gp.output / name
        save_image(out / "samples.png", grid(samples[: ev.grid]))
        save_image(out / "blend.png", grid(blend_strip(model, x_test, ev.blend_steps, params.seed),
                                           ncol=ev.blend_steps + (0 if name == "gan" else 2)))
        write_json(gp.reports / name / "metrics.json", metrics)
        tr.log_metrics(metrics)
        tr.log_image(out / "samples.png", "samples.png")
        tr.log_image(out / "blend.png", "blend.png")
    return metrics


if __name__ == "__main__":
    from stages._entry import main

    sys.exit(main(run))
