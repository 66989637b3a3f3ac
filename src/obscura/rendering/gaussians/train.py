"""Training 3D Gaussian Splatting on a scene with the shared resumable loop, and what comes after:
held-out evaluation, renders, orbit video and the ``.ply`` export.

A trained model is a directory: ``model.pt`` (shared checkpoint format: parameters, config, the
scene it came from) and ``point_cloud.ply`` (the standard 3DGS layout).
"""

from __future__ import annotations

import math
import os
import resource
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from obscura.errors import ObscuraError
from obscura.methods import read_checkpoint, run_loop, save_checkpoint
from obscura.metrics import psnr, ssim_differentiable
from obscura.rendering.cameras import Intrinsics
from obscura.rendering.gaussians.model import (PARAMS, GaussianModel, GaussiansConfig, random_points, scene_extent,
                                              torch_beside_rasterizer)
from obscura.rendering.gaussians.ply import write_ply
from obscura.rendering.gaussians.strategy import DensityControl, make_optimizer
from obscura.rendering.scene_format import SceneCameras, load_cameras

KIND = "gaussians"
POSES = {"sfm": "sfm", "ground_truth": "ground_truth"}


def scene_cameras(scene_dir: str | os.PathLike, poses: str = "sfm") -> SceneCameras:
    """The scene's cameras: SfM (undistorted) by default, or the built-in ground truth as an ablation."""
    if poses not in POSES:
        raise ObscuraError(f"unknown poses {poses!r}; use sfm or ground_truth.")
    return load_cameras(scene_dir, POSES[poses])


class GaussianTask:
    """One training view per step (a seeded shuffle per pass over the training views), rendered at
    1/``coarse_factor`` of the photo size (area-downsampled targets) before step ``coarse_until``."""

    def __init__(self, model: GaussianModel, cams: SceneCameras, seed: int):
        self.model, self.cams, self.seed = model, cams, seed
        self.images = torch.from_numpy(cams.load_images(cams.train))
        f = model.config.coarse_factor
        self.coarse = (torch.nn.functional.avg_pool2d(self.images.permute(0, 3, 1, 2), f).permute(0, 2, 3, 1)
                       .contiguous() if f > 1 else self.images)
        i = cams.intrinsics                  # pooling keeps the top-left corner and floors the size
        self.coarse_intrinsics = Intrinsics(i.fx / f, i.fy / f, i.cx / f, i.cy / f, i.width // f, i.height // f)
        self.background = cams.background or (0.0, 0.0, 0.0)
        self.extent = scene_extent(cams.poses)
        self.density = DensityControl(model.config, self.extent)
        self.optimizer = make_optimizer(model)

    def view(self, step: int) -> int:
        n = len(self.cams.train)
        epoch, i = divmod(step, n)
        return int(torch.randperm(n, generator=torch.Generator().manual_seed(self.seed * 7919 + epoch))[i])

    def step(self, step: int, generator: torch.Generator) -> dict[str, float]:
        c, model = self.model.config, self.model.train()
        model.sh_degree_active = min(step // c.sh_degree_every, c.sh_degree)
        t = min(step / max(c.steps - 1, 1), 1.0)
        self.optimizer.param_groups[0]["lr"] = self.extent * math.exp(
            (1 - t) * math.log(c.lr_means) + t * math.log(c.lr_means_final))
        k = self.view(step)
        coarse = step < c.coarse_until
        intrinsics = self.coarse_intrinsics if coarse else self.cams.intrinsics
        target = (self.coarse if coarse else self.images)[k]
        out = model.render(intrinsics, self.cams.poses[self.cams.train[k]], self.background)
        l1 = (out["rgb"] - target).abs().mean()
        loss = (1 - c.ssim_weight) * l1 + c.ssim_weight * (1 - ssim_differentiable(out["rgb"], target))
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if step < c.refine_stop:
            self.density.observe(out["means2d"], out["radii"], intrinsics.width, intrinsics.height)
        self.optimizer.step()
        with torch.no_grad():
            self.model.quats.data = torch.nn.functional.normalize(self.model.quats.data, dim=-1)
        self.density.step(step + 1, model, self.optimizer, generator)
        return {"loss": loss.item(), "l1": l1.item(), "psnr": psnr(out["rgb"].detach(), target),
                "gaussians": float(len(model))}

    def state_dict(self) -> dict:
        return {"model": {k: getattr(self.model, k).detach() for k in PARAMS},
                "optimizer": self.optimizer.state_dict(), "density": self.density.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.model.set_tensors(state["model"])
        self.optimizer = make_optimizer(self.model)
        self.optimizer.load_state_dict(state["optimizer"])
        self.density.load_state_dict(state["density"])


def init_model(config: GaussiansConfig, cams: SceneCameras, seed: int) -> GaussianModel:
    """Gaussians on the scene's points (SfM points, or ground-truth samples), else random in its bounds."""
    model = config.setup()
    if len(cams.points) >= 4:
        model.init_from_points(cams.points, cams.colors)
    else:
        model.init_from_points(*random_points(cams.poses, config.random_init, seed))
    return model


def train(scene_dir: str | os.PathLike, out_dir: str | os.PathLike, config: GaussiansConfig, poses: str = "sfm",
          seed: int = 0, log: Callable[[dict, int], None] | None = None, eval_every: int = 0,
          log_every: int = 10, checkpoint_every: int = 200, progress: bool = True) -> tuple[GaussianModel, dict]:
    """Train on ``scene_dir`` and write the model directory ``out_dir`` (atomically, at the end).

    Resumes from ``<out_dir>.state.pt`` after an interruption (same config, scene and seed). With
    ``eval_every`` the held-out PSNR is measured along the way (``curve`` in the result).
    """
    from obscura.io import atomic_dir

    cams = scene_cameras(scene_dir, poses)
    if not cams.train:
        raise ObscuraError(f"{scene_dir}: no training views (every image is held out).")
    torch.manual_seed(seed)
    model = init_model(config, cams, seed)
    task = GaussianTask(model, cams, seed)
    out_dir = Path(out_dir)
    state = out_dir.with_name(f".{out_dir.name}.state.pt")
    start = time.perf_counter()
    eval_seconds = 0.0

    def evaluate(step: int) -> dict:
        nonlocal eval_seconds
        t0 = time.perf_counter()
        point = {"test_psnr": evaluate_psnr(task.model, cams, cams.test, task.background),
                 "gaussians": float(len(task.model)), "train_seconds": t0 - start - eval_seconds}
        eval_seconds += time.perf_counter() - t0
        task.model.train()
        if log is not None:
            log(point, step)
        return point

    hooks = [(eval_every, evaluate)] if eval_every and cams.test else []
    with torch_beside_rasterizer():
        result = run_loop(task, config.steps, seed=seed, state_path=state, log=log, log_every=log_every,
                          checkpoint_every=checkpoint_every, hooks=hooks, desc=f"3dgs {Path(scene_dir).name}",
                          postfix=("loss", "psnr", "gaussians"),
                          fingerprint={"config": config.to_dict(), "scene": str(Path(scene_dir).resolve()),
                                       "poses": poses, "source": cams.source}, progress=progress)
    model = task.model.eval()
    model.sh_degree_active = config.sh_degree
    curve = [{k: e[k] for k in ("step", "train_seconds", "test_psnr", "gaussians")} for e in result.events]
    tail = result.rows[-max(1, len(result.rows) // 10):]
    metrics = {"steps": result.steps, "train_seconds": result.seconds, "resumed_from_step": result.resumed_from,
               "num_gaussians": len(model), "final_loss": float(np.mean([r["loss"] for r in tail])),
               "final_train_batch_psnr": float(np.mean([r["psnr"] for r in tail])),
               "wall_seconds": time.perf_counter() - start}
    with atomic_dir(out_dir) as tmp:
        save(tmp, model, scene_dir, poses)
    state.unlink(missing_ok=True)
    return model, {"metrics": metrics, "rows": result.rows, "curve": curve}


def evaluate_psnr(model: GaussianModel, cams: SceneCameras, indices: list[int], background) -> float:
    """Mean PSNR of ``indices`` views (no files written; for curves during training)."""
    model.eval()
    targets = cams.load_images(indices)
    with torch.no_grad():
        values = [psnr(model.render(cams.intrinsics, cams.poses[i], background)["rgb"].clamp(0, 1), t)
                  for i, t in zip(indices, targets)]
    return float(np.mean(values))


def save(model_dir: Path, model: GaussianModel, scene_dir, poses: str) -> None:
    tensors = {k: getattr(model, k).detach() for k in PARAMS}
    save_checkpoint(model_dir / "model.pt", KIND, model.config.name, model.config.to_dict(), tensors,
                    {"scene": str(Path(scene_dir).resolve()), "poses": poses})
    write_ply(model_dir / "point_cloud.ply", tensors)


def load(model_dir: str | os.PathLike) -> tuple[GaussianModel, dict]:
    """The trained model (eval mode, full SH degree) and the checkpoint's payload (scene, poses)."""
    from obscura.rendering.gaussians.registry import make_config

    payload = read_checkpoint(Path(model_dir) / "model.pt", KIND,
                              "train it with `obscura splat train SCENE_DIR OUT_DIR` (or `dvc repro train_gaussians`)")
    model = make_config(payload["method"], **payload["config"]).setup()
    model.set_tensors(payload["state_dict"])
    model.sh_degree_active = model.config.sh_degree
    return model.eval(), payload


def load_ply(path: str | os.PathLike) -> GaussianModel:
    """A model (eval mode) from a standard 3DGS ``.ply``, ours or another trainer's (a file with fewer
    ``f_rest`` is read zero-padded, which renders exactly as its lower SH degree)."""
    from obscura.rendering.gaussians.ply import read_ply
    from obscura.rendering.gaussians.registry import make_config

    model = make_config().setup()
    model.set_tensors(read_ply(path))
    model.sh_degree_active = model.config.sh_degree
    return model.eval()


def peak_memory_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
