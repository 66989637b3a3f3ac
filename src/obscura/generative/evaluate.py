"""Scoring trained generative models against Fashion-MNIST: the cached real-set references, then for one
model its samples' Inception FID/KID, the in-domain classifier Fréchet distance, family-specific
scores (reconstruction, ELBO/NLL, blend off-manifold), a sample grid and a blend strip."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import torch

from obscura.errors import ObscuraError
from obscura.generative import metrics as M
from obscura.metrics import ClassifierFeatures, extract_features, fid_kid, INCEPTION_NAME, InceptionFeatures
from obscura.generative.classifier import FashionClassifier
from obscura.generative.data import floor_indices


@dataclass
class Reference:
    """What every model is scored against: cached real Inception features, the classifier, test images."""

    inception: torch.Tensor
    classifier: FashionClassifier
    classifier_features: torch.Tensor
    test_images: torch.Tensor


def inception_reference_path(gen_params) -> Path:
    return gen_params.output / "reference" / "inception.pt"


def load_inception_reference(path: Path, image_size: int, channels: int) -> torch.Tensor:
    """Real-set Inception features written by stage ``generative_reference``."""
    if not path.is_file():
        raise ObscuraError(f"{path} is missing: run `dvc repro generative_reference` first.")
    ref = torch.load(path, map_location="cpu", weights_only=True)
    if (ref["image_size"], ref["channels"]) != (image_size, channels):
        raise ObscuraError(f"{path} was computed for {ref['channels']}x{ref['image_size']} images, params say "
                           f"{channels}x{image_size}; re-run the reference stages.")
    return ref["features"]


def save_inception_reference(path: Path, features: torch.Tensor, image_size: int, channels: int) -> None:
    from obscura.io import write_torch

    write_torch(path, {"features": features, "network": INCEPTION_NAME, "image_size": image_size,
                       "channels": channels})


def real_baseline(test_images: torch.Tensor, train_images: torch.Tensor, ev, seed: int
                  ) -> tuple[torch.Tensor, dict[str, float]]:
    """Inception features of ``test_images`` (to cache) and the real-vs-real scores of ``ev.fid_samples``
    seeded training images against them: the floor every model's figures should be read against."""
    net = InceptionFeatures()
    t0 = time.perf_counter()
    real = extract_features(net, test_images, ev.batch_size, desc="inception: test images")
    seconds = time.perf_counter() - t0
    perm = floor_indices(len(train_images), ev.fid_samples, seed)
    train = extract_features(net, train_images[perm], ev.batch_size, desc="inception: train images")
    base = fid_kid(real, train, ev.kid_subset_size, ev.kid_subsets, seed)
    return real, {"fid_real_baseline": base["fid"], "kid_real_baseline": base["kid"], "kid_real_baseline_std": base["kid_std"],
                  "real_samples": len(real), "fid_samples": len(train),
                  "inception_seconds_per_image": seconds / len(real)}


@torch.no_grad()
def generate(model, n: int, batch_size: int, seed: int) -> tuple[torch.Tensor, float]:
    """``n`` seeded samples and the sampling rate in images per second."""
    g = torch.Generator().manual_seed(seed)
    t0 = time.perf_counter()
    out = torch.cat([model.sample(min(batch_size, n - i), g) for i in range(0, n, batch_size)])
    return out, n / (time.perf_counter() - t0)


@torch.no_grad()
def blend_strip(model, x_test: torch.Tensor, steps: int, seed: int, rows: int = 4) -> torch.Tensor:
    """Rows of latent paths between random test pairs, endpoints included (a z-interpolation without
    endpoints for the encoder-less GAN)."""
    g = torch.Generator().manual_seed(seed + 1)
    if not hasattr(model, "encode"):
        z = model.noise(2 * rows, g).view(rows, 2, -1)
        w = torch.linspace(0, 1, steps)[:, None]
        return torch.cat([model.decode((1 - w) * a + w * b) for a, b in z])
    idx = torch.randperm(len(x_test), generator=g)[: 2 * rows].view(rows, 2)
    return torch.cat([torch.cat([x_test[i:i + 1], M.blend(model, x_test[i], x_test[j], steps), x_test[j:j + 1]])
                      for i, j in idx.tolist()])


def inception_scores(model, real: torch.Tensor, ev, seed: int, net: InceptionFeatures
                     ) -> tuple[dict, torch.Tensor, float]:
    """FID/KID of ``ev.fid_samples`` seeded samples against the ``real`` Inception features, the samples and
    the sampling rate (images per second)."""
    samples, per_second = generate(model, ev.fid_samples, ev.batch_size, seed)
    fake = extract_features(net, samples, ev.batch_size, desc=f"inception: {model.config.name} samples")
    return fid_kid(real, fake, ev.kid_subset_size, ev.kid_subsets, seed), samples, per_second


def evaluate_model(model, ref: Reference, ev, seed: int) -> tuple[dict, torch.Tensor, torch.Tensor]:
    """Every score of one trained model, its ``ev.fid_samples`` samples and its blend strip."""
    metrics, samples, per_second = inception_scores(model, ref.inception, ev, seed, InceptionFeatures())
    clf = ClassifierFeatures(ref.classifier)
    in_domain = fid_kid(ref.classifier_features, extract_features(clf, samples), ev.kid_subset_size,
                          ev.kid_subsets, seed)
    metrics.update(fd_classifier=in_domain["fid"], fid_samples=ev.fid_samples, real_samples=len(ref.inception),
                   samples_per_second=per_second)
    x_eval = ref.test_images[: ev.recon_images]
    if model.config.name in ("ae", "vae"):
        metrics.update(M.reconstruction(model, x_eval))
    if model.config.name == "vae":
        nll = M.vae_likelihood(model, ref.test_images[: ev.nll_images], ev.nll_k, seed)
        metrics.update(elbo=nll["elbo"], kl=nll["kl"], nll_is=nll["nll_is"],
                       nll_is_bits_per_dim=nll["nll_is_bits_per_dim"], nll_k=ev.nll_k)
    if model.config.name == "ddpm":
        bound = M.diffusion_bits_per_dim(model.diffusion.denoiser(), model.scheduler,
                                         ref.test_images[: ev.nll_images], ev.bound_timesteps, seed)
        metrics.update(bound, bound_images=min(ev.nll_images, len(ref.test_images)),
                       bound_timesteps=ev.bound_timesteps)
    if hasattr(model, "encode"):
        metrics["blend_off_manifold"] = M.blend_off_manifold(model, clf, x_eval, ev.blend_pairs, seed)
    return metrics, samples, blend_strip(model, ref.test_images, ev.blend_steps, seed)
