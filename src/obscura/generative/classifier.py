"""A small Fashion-MNIST CNN; its penultimate features give a fast in-domain Fréchet distance."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


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


class ClassifierTask:
    """Cross-entropy with Adam; batches in a seeded order per epoch (as the generative models)."""

    def __init__(self, model: FashionClassifier, x: torch.Tensor, y: torch.Tensor, batch_size: int, lr: float,
                 seed: int):
        self.model, self.x, self.y, self.batch_size, self.seed = model, x, y, batch_size, seed
        self.steps_per_epoch = len(x) // batch_size
        self.optimizer = torch.optim.Adam(model.parameters(), lr=lr)

    def step(self, step: int, generator: torch.Generator) -> dict[str, float]:
        from obscura.generative.train import epoch_order

        epoch, i = divmod(step, self.steps_per_epoch)
        idx = epoch_order(self.seed, epoch, len(self.x))[i * self.batch_size:(i + 1) * self.batch_size]
        loss = F.cross_entropy(self.model.train()(self.x[idx]), self.y[idx].long())
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return {"loss": loss.item()}

    def state_dict(self) -> dict:
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])


def train_classifier(x: torch.Tensor, y: torch.Tensor, epochs: int, batch_size: int, lr: float, seed: int,
                     progress: bool = True, log=None, state_path=None, log_every: int = 20,
                     checkpoint_every: int = 100) -> FashionClassifier:
    """Seeded, resumable Adam training on images ``x`` (N, C, S, S) in [−1, 1] and labels ``y``;
    ``log(metrics, step)`` gets the loss curve."""
    from obscura.methods import run_loop

    torch.manual_seed(seed)
    task = ClassifierTask(FashionClassifier(x.shape[1], x.shape[2]), x, y, batch_size, lr, seed)
    run_loop(task, epochs * task.steps_per_epoch, seed=seed, state_path=state_path, log=log, log_every=log_every,
             checkpoint_every=checkpoint_every, desc="classifier", progress=progress,
             fingerprint={"n": len(x), "epochs": epochs, "batch_size": batch_size, "lr": lr})
    return task.model.eval()


def make_reference(path, x: torch.Tensor, y: torch.Tensor, x_test: torch.Tensor, y_test: torch.Tensor, cp,
                   real_samples: int, fid_samples: int, kid_subset_size: int, kid_subsets: int, seed: int,
                   log=None) -> dict:
    """Train the classifier (params section ``cp``), cache its features of ``real_samples`` test images
    at ``path`` (shared checkpoint format) and score the in-domain real-vs-real baseline: ``fid_samples``
    training images against the cached test features. Returns the metrics."""
    from pathlib import Path

    from obscura.methods import save_checkpoint
    from obscura.metrics import ClassifierFeatures, extract_features, fid_kid
    from obscura.generative.data import floor_indices

    path = Path(path)
    clf = train_classifier(x, y, cp.epochs, cp.batch_size, cp.lr, seed, log=log,
                           state_path=path.with_name(f".{path.name}.state"))
    feats = ClassifierFeatures(clf)
    real = extract_features(feats, x_test[:real_samples])
    perm = floor_indices(len(x), fid_samples, seed)
    base = fid_kid(real, extract_features(feats, x[perm]), kid_subset_size, kid_subsets, seed)
    save_checkpoint(path, "classifier", "fashion_mnist_cnn", {"channels": clf.channels, "image_size": clf.image_size},
                    clf.state_dict(), {"test_features": real})
    path.with_name(f".{path.name}.state").unlink(missing_ok=True)
    return {"test_accuracy": accuracy(clf, x_test, y_test), "train_images": len(x),
            "fd_classifier_real_baseline": base["fid"], "kd_classifier_real_baseline": base["kid"]}


@torch.no_grad()
def accuracy(model: FashionClassifier, x: torch.Tensor, y: torch.Tensor, batch_size: int = 512) -> float:
    pred = torch.cat([model(x[i:i + batch_size]).argmax(1) for i in range(0, len(x), batch_size)])
    return float((pred == y.long()).float().mean())


def load_reference(path, image_size: int, channels: int) -> tuple[FashionClassifier, torch.Tensor]:
    """The trained classifier and its cached test-set features, written by :func:`make_reference`."""
    from obscura.errors import ObscuraError
    from obscura.methods import read_checkpoint

    ref = read_checkpoint(path, "classifier", "run `dvc repro generative_classifier`")
    config = ref["config"]
    if (config["image_size"], config["channels"]) != (image_size, channels):
        raise ObscuraError(f"{path} was made for {config['channels']}x{config['image_size']} images, not "
                           f"{channels}x{image_size}; re-run `dvc repro generative_classifier`.")
    clf = FashionClassifier(config["channels"], config["image_size"])
    clf.load_state_dict(ref["state_dict"])
    return clf.eval(), ref["test_features"]
