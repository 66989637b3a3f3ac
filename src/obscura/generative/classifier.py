"""A small Fashion-MNIST CNN; its penultimate features give a fast in-domain Fréchet distance."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm


class FashionClassifier(nn.Module):
    """Two conv blocks + a 128-d feature layer + a 10-way head, on images in [−1, 1]."""

    num_features = 128

    def __init__(self, channels: int = 1, image_size: int = 32, num_classes: int = 10):
        super().__init__()
        self.channels, self.image_size = channels, image_size
        s = image_size // 4
        self.body = nn.Sequential(
            nn.Conv2d(channels, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(64 * s * s, self.num_features), nn.ReLU(),
        )
        self.head = nn.Linear(self.num_features, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def train_classifier(x: torch.Tensor, y: torch.Tensor, epochs: int, batch_size: int, lr: float, seed: int,
                     progress: bool = True, on_epoch=None) -> FashionClassifier:
    """Seeded Adam training on images ``x`` (N, C, S, S) in [−1, 1] and labels ``y``."""
    torch.manual_seed(seed)
    model = FashionClassifier(x.shape[1], x.shape[2])
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    steps = len(x) // batch_size
    model.train()
    for epoch in range(epochs):
        order = torch.randperm(len(x), generator=gen)
        total = 0.0
        for i in tqdm(range(steps), desc=f"classifier epoch {epoch + 1}/{epochs}", disable=not progress,
                      leave=False):
            idx = order[i * batch_size:(i + 1) * batch_size]
            loss = F.cross_entropy(model(x[idx]), y[idx].long())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item()
        if on_epoch:
            on_epoch(epoch, {"loss": total / max(steps, 1)})
    return model.eval()


@torch.no_grad()
def accuracy(model: FashionClassifier, x: torch.Tensor, y: torch.Tensor, batch_size: int = 512) -> float:
    pred = torch.cat([model(x[i:i + batch_size]).argmax(1) for i in range(0, len(x), batch_size)])
    return float((pred == y.long()).float().mean())


def load_reference(path, image_size: int, channels: int) -> tuple[FashionClassifier, torch.Tensor]:
    """The trained classifier and its cached test-set features, written by stage ``generative_classifier``."""
    from pathlib import Path

    from obscura.errors import ObscuraError

    path = Path(path)
    if not path.is_file():
        raise ObscuraError(f"{path} is missing: run `dvc repro generative_classifier` first.")
    try:
        ref = torch.load(path, map_location="cpu", weights_only=True)
        clf = FashionClassifier(ref["channels"], ref["image_size"])
        clf.load_state_dict(ref["state_dict"])
    except Exception as exc:
        raise ObscuraError(f"{path}: not a readable classifier reference ({exc.__class__.__name__}); "
                           "re-run `dvc repro generative_classifier`.") from None
    if (ref["image_size"], ref["channels"]) != (image_size, channels):
        raise ObscuraError(f"{path} was made for {ref['channels']}x{ref['image_size']} images, not "
                           f"{channels}x{image_size}; re-run `dvc repro generative_classifier`.")
    return clf.eval(), ref["test_features"]
