"""Training a NeRF model on a scene with the shared resumable loop; saving, loading and rendering it.

A trained model is ``model.pt`` in the shared checkpoint format: the state dict (network, hash table,
occupancy grid), the config, and the scene it came from (directory, pose source, box, background).
"""

from __future__ import annotations

import math
import os
import resource
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from obscura.errors import ObscuraError
from obscura.methods import read_checkpoint, run_loop, save_checkpoint
from obscura.rendering.cameras import Intrinsics
from obscura.rendering.nerf.base import NerfModel, SceneBox
from obscura.rendering.rays import rays
from obscura.rendering.scene_format import SceneCameras, load_cameras

KIND = "nerf"
POSES = ("sfm", "ground_truth")


def scene_cameras(scene_dir: str | os.PathLike, poses: str = "sfm") -> SceneCameras:
    """The scene's SfM cameras (undistorted, else a pinhole ``sparse/0``) or its built-in ground truth."""
    if poses not in POSES:
        raise ObscuraError(f"unknown poses {poses!r}; use sfm or ground_truth.")
    if poses == "ground_truth":
        return load_cameras(scene_dir, "ground_truth")
    undistorted = Path(scene_dir) / "undistorted" / "sparse" / "0"
    return load_cameras(scene_dir, "undistorted" if undistorted.is_dir() else "sparse")


def build_model(name: str, config, cams: SceneCameras, seed: int = 0) -> NerfModel:
    """The model in the scene's box, with the scene's background colour (black when unknown)."""
    return config.setup(SceneBox.from_cameras(cams), cams.background or (0.0, 0.0, 0.0), seed)


class RaySampler:
    """Random training pixels (jittered inside the pixel) of the training views as world rays."""

    def __init__(self, cams: SceneCameras, indices: Sequence[int]):
        self.intr = cams.intrinsics
        self.images = torch.from_numpy((cams.load_images(list(indices)) * 255 + 0.5).astype(np.uint8))
        poses = torch.as_tensor(cams.poses[list(indices)], dtype=torch.float32)
        self.R, t = poses[:, :3, :3], poses[:, :3, 3]
        self.origins = -(self.R.transpose(1, 2) @ t[..., None])[..., 0]

    def batch(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``n`` rays: origins, unit directions and target colours."""
        k = torch.randint(len(self.images), (n,), generator=generator)
        v = torch.randint(self.intr.height, (n,), generator=generator)
        u = torch.randint(self.intr.width, (n,), generator=generator)
        uv = torch.stack([u, v], -1) + torch.rand(n, 2, generator=generator)
        cam = torch.stack([(uv[:, 0] - self.intr.cx) / self.intr.fx, (uv[:, 1] - self.intr.cy) / self.intr.fy,
                           torch.ones(n)], -1)
        dirs = torch.einsum("nj,nji->ni", cam, self.R[k])
        return self.origins[k], dirs / dirs.norm(dim=-1, keepdim=True), self.images[k, v, u].float() / 255


class NerfTask:
    """Adam with an exponential learning-rate decay from ``lr`` to ``lr_final``; MSE on the rays that fit
    in the step's sample budget (+ the coarse network's MSE for ``vanilla``, + the weighted distortion loss
    when the model returns one)."""

    def __init__(self, model: NerfModel, sampler: RaySampler):
        self.model, self.sampler, c = model, sampler, model.config
        self.optimizer = torch.optim.Adam(model.parameter_groups(), lr=c.lr, betas=(0.9, 0.99), eps=1e-15,
                                          fused=True)
        self.gamma = (c.lr_final / c.lr) ** (1 / max(c.steps, 1))
        self.rays_seen = 0

    def step(self, step: int, generator: torch.Generator) -> dict[str, float]:
        c, model = self.model.config, self.model.train()
        for group in self.optimizer.param_groups:
            group["lr"] = c.lr * self.gamma ** step
        model.before_step(step, generator)
        origins, dirs, target = self.sampler.batch(c.rays_per_step, generator)
        out = model.render_rays(origins, dirs, generator, max_samples=getattr(c, "max_samples", None))
        n = out["n_rays"]
        mse = (out["rgb"] - target[:n]).square().mean()
        loss = mse + ((out["rgb_coarse"] - target[:n]).square().mean() if "rgb_coarse" in out else 0.0)
        if "distortion" in out:
            loss = loss + c.distortion * out["distortion"]
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.rays_seen += n
        return {"loss": loss.item(), "psnr": -10 * math.log10(max(mse.item(), 1e-10)), "rays": float(n),
                "samples_per_ray": out["samples"] / max(n, 1)}

    def state_dict(self) -> dict:
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(), "rays_seen": self.rays_seen}

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.rays_seen = int(state["rays_seen"])


def train(model: NerfModel, cams: SceneCameras, seed: int = 0, state_path: str | os.PathLike | None = None,
          fingerprint: dict | None = None, log: Callable[[dict, int], None] | None = None, log_every: int = 20,
          checkpoint_every: int = 100, hooks=(), progress: bool = True) -> dict:
    """Train ``model`` for its config's ``steps`` on the training views (resumable through
    ``state_path``); returns summary metrics and the curve (``rows``)."""
    if not cams.train:
        raise ObscuraError("no training views: every image of the scene is held out.")
    task = NerfTask(model, RaySampler(cams, cams.train))
    result = run_loop(task, model.config.steps, seed=seed, state_path=state_path, fingerprint=fingerprint, log=log,
                      log_every=log_every, checkpoint_every=checkpoint_every, hooks=hooks,
                      desc=f"nerf {model.config.name}", postfix=("loss", "psnr", "samples_per_ray"),
                      progress=progress)
    model.eval()
    tail = result.rows[-max(1, len(result.rows) // 10):]
    metrics = {"steps": result.steps, "train_seconds": result.seconds, "resumed_from_step": result.resumed_from,
               "train_rays_per_second": task.rays_seen / max(result.seconds, 1e-9),
               "train_seconds_per_step": result.seconds / max(result.steps - result.resumed_from, 1),
               "train_psnr": float(np.mean([r["psnr"] for r in tail])),
               "final_loss": float(np.mean([r["loss"] for r in tail])),
               "samples_per_ray": float(np.mean([r["samples_per_ray"] for r in tail])),
               "parameters": sum(p.numel() for p in model.parameters()), "peak_memory_mb": peak_memory_mb()}
    return {"metrics": metrics, "rows": result.rows, "events": result.events}


@torch.no_grad()
def render_image(model: NerfModel, intrinsics: Intrinsics, pose: np.ndarray, chunk: int | None = None) -> dict:
    """``{"rgb": (H, W, 3), "depth": (H, W) camera z (0 where opacity < 0.5), "samples_per_ray"}``, rendered
    ``chunk`` rays at a time (default: the model config's ``render_chunk``)."""
    model.eval()
    chunk = chunk or model.config.render_chunk
    origins, dirs = rays(intrinsics, pose)
    origins, dirs = origins.reshape(-1, 3), dirs.reshape(-1, 3)
    scale = dirs.norm(dim=-1)
    outs = [model.render_rays(origins[i:i + chunk], dirs[i:i + chunk] / scale[i:i + chunk, None])
            for i in range(0, len(origins), chunk)]
    rgb, acc, dist = (torch.cat([o[k] for o in outs]) for k in ("rgb", "acc", "depth"))
    depth = torch.where(acc > 0.5, dist / scale, torch.zeros_like(dist))
    shape = (intrinsics.height, intrinsics.width)
    return {"rgb": rgb.clamp(0, 1).reshape(*shape, 3).numpy(), "depth": depth.reshape(shape).numpy(),
            "samples_per_ray": sum(o["samples"] for o in outs) / len(origins)}


def save(path: str | os.PathLike, model: NerfModel, scene_dir: str | os.PathLike, poses: str) -> Path:
    return save_checkpoint(path, KIND, model.config.name, model.config.to_dict(), model.state_dict(),
                           {"scene": str(Path(scene_dir).resolve()), "poses": poses,
                            "box": [list(model.box.lo), list(model.box.hi), [list(r) for r in model.box.rotation]],
                            "background": model.background.tolist()})


def load(path: str | os.PathLike) -> tuple[NerfModel, dict]:
    """The trained model (eval mode) and the checkpoint payload (``scene``, ``poses``)."""
    from obscura.rendering.nerf.registry import MODELS

    payload = read_checkpoint(path, KIND, "train it with `obscura nerf train SCENE_DIR OUT_DIR` "
                                          "(or `dvc repro train_nerf@<model>-<scene>`)")
    config = MODELS.make(payload["method"], **payload["config"])
    lo, hi, rotation = payload["box"]
    model = config.setup(SceneBox(tuple(lo), tuple(hi), tuple(map(tuple, rotation))), tuple(payload["background"]))
    model.load_state_dict(payload["state_dict"])
    return model.eval(), payload


def peak_memory_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

