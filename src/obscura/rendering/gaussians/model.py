"""The Gaussian scene: parameters, initialisation from points, and rendering one camera."""

from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from obscura.errors import ObscuraError
from obscura.methods import MethodConfig
from obscura.rendering.cameras import Intrinsics, camera_centers
from obscura.rendering.gaussians.projection import project
from obscura.rendering.gaussians.rasterize import rasterize
from obscura.rendering.gaussians.sh import eval_sh, rgb_to_sh

PARAMS = ("means", "log_scales", "quats", "opacity_logits", "sh_dc", "sh_rest")
SH_REST = 15                       # degree-3 coefficients beyond the DC term (the .ply layout keeps all)


@dataclass
class GaussiansConfig(MethodConfig):
    """Inria 3DGS: model, learning rates and adaptive density control (iteration counts scaled for CPU)."""

    name: ClassVar[str] = "gaussians"
    tiny_overrides: ClassVar[dict] = {"steps": 60, "refine_start": 20, "refine_every": 10, "refine_stop": 50,
                                      "opacity_reset_every": 40, "sh_degree_every": 20, "max_gaussians": 5000,
                                      "random_init": 500}
    steps: int = 3000
    sh_degree: int = 3
    sh_degree_every: int = 1000          # raise the active SH degree every N steps
    init_opacity: float = 0.1
    random_init: int = 20000             # points drawn in the cameras' bounds when the scene has none
    # Inria's rates ×3 (opacity ×2): with ~2k instead of 30k steps they reach 24.7 dB instead of 21.4 dB
    # held-out PSNR on `orbit` after 600 steps (the ×1 rates: 1.6e-4, 2.5e-3, 1.25e-4, 0.05, 5e-3, 1e-3).
    lr_means: float = 4.8e-4             # × scene extent, decayed exponentially to lr_means_final
    lr_means_final: float = 4.8e-6
    lr_sh_dc: float = 7.5e-3
    lr_sh_rest: float = 3.75e-4
    lr_opacity: float = 0.1
    lr_scales: float = 1.5e-2
    lr_quats: float = 3e-3
    ssim_weight: float = 0.2             # loss (1 − λ)·L1 + λ·(1 − SSIM)
    coarse_factor: int = 2               # train at 1/f of the photo size before coarse_until (CPU speed)
    coarse_until: int = 0
    refine_start: int = 500
    refine_every: int = 100
    refine_stop: int = 2000
    grad_threshold: float = 2e-4         # mean view-space positional gradient (NDC units, as Inria)
    percent_dense: float = 0.01          # clone below, split above this fraction of the extent
    min_opacity: float = 0.005
    max_screen_radius: float = 20.0      # prune larger than this (pixels) after the first opacity reset
    max_world_scale: float = 0.1         # prune larger than this fraction of the extent, likewise
    opacity_reset_every: int = 3000
    max_gaussians: int = 200_000

    def validate(self) -> None:
        if not 0 <= self.sh_degree <= 3:
            raise ObscuraError(f"gaussians: sh_degree must be 0..3, got {self.sh_degree}.")
        if self.coarse_factor < 1:
            raise ObscuraError(f"gaussians: coarse_factor must be at least 1, got {self.coarse_factor}.")
        if self.steps < 1:
            raise ObscuraError(f"gaussians: steps must be at least 1, got {self.steps}.")

    def setup(self) -> "GaussianModel":
        return GaussianModel(self)


def _knn_scale(points: np.ndarray, k: int = 3) -> np.ndarray:
    """Mean distance to the ``k`` nearest other points (Inria's initial scale)."""
    from scipy.spatial import cKDTree

    d, _ = cKDTree(points).query(points, k=k + 1)
    return np.maximum(d[:, 1:].mean(1), 1e-7)


class GaussianModel(torch.nn.Module):
    """Parameters (N varies with densification): ``means`` (N, 3), ``log_scales`` (N, 3), ``quats``
    (N, 4) wxyz, ``opacity_logits`` (N,), ``sh_dc`` (N, 1, 3), ``sh_rest`` (N, 15, 3)."""

    def __init__(self, config: GaussiansConfig, n: int = 0):
        super().__init__()
        self.config = config
        self.sh_degree_active = 0
        shapes = {"means": (3,), "log_scales": (3,), "quats": (4,), "opacity_logits": (), "sh_dc": (1, 3),
                  "sh_rest": (SH_REST, 3)}
        for name in PARAMS:
            self.register_parameter(name, torch.nn.Parameter(torch.zeros(n, *shapes[name])))

    def __len__(self) -> int:
        return self.means.shape[0]

    def set_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        """Replace every parameter (any N); used after densification and when loading."""
        for name in PARAMS:
            setattr(self, name, torch.nn.Parameter(tensors[name].detach().float().contiguous()))

    def init_from_points(self, points: np.ndarray, colors: np.ndarray) -> None:
        n = len(points)
        if n < 4:
            raise ObscuraError(f"need at least 4 points to initialise the gaussians, got {n}.")
        quats = torch.zeros(n, 4)
        quats[:, 0] = 1
        p = self.config.init_opacity
        self.set_tensors({
            "means": torch.as_tensor(points, dtype=torch.float32),
            "log_scales": torch.log(torch.as_tensor(_knn_scale(points), dtype=torch.float32))[:, None].repeat(1, 3),
            "quats": quats,
            "opacity_logits": torch.full((n,), math.log(p / (1 - p))),
            "sh_dc": rgb_to_sh(torch.as_tensor(colors, dtype=torch.float32))[:, None],
            "sh_rest": torch.zeros(n, SH_REST, 3),
        })

    @property
    def opacities(self) -> torch.Tensor:
        return torch.sigmoid(self.opacity_logits)

    def render(self, intrinsics: Intrinsics, pose, background=(0.0, 0.0, 0.0)) -> dict[str, torch.Tensor]:
        """``rgb`` (H, W, 3), ``depth`` (H, W; expected camera z, normalised by alpha), ``alpha`` (H, W)
        and the projection (``means2d`` keeps its gradient for densification, ``radii``)."""
        viewmat = torch.as_tensor(np.asarray(pose), dtype=torch.float32)
        proj = project(self.means, self.log_scales, self.quats, viewmat, intrinsics.fx, intrinsics.fy,
                       intrinsics.cx, intrinsics.cy, intrinsics.width, intrinsics.height)
        centre = torch.as_tensor(camera_centers(np.asarray(pose)[None])[0], dtype=torch.float32)
        dirs = torch.nn.functional.normalize(self.means.detach() - centre, dim=-1)
        colors = eval_sh(self.sh_degree_active, torch.cat([self.sh_dc, self.sh_rest], 1), dirs)
        if self.training:
            proj.means2d.retain_grad()
        image, depth, alpha = rasterize(proj.means2d, proj.conics, colors, self.opacities, proj.depths, proj.radii,
                                        intrinsics.width, intrinsics.height,
                                        torch.as_tensor(background, dtype=torch.float32))
        return {"rgb": image, "depth": depth / alpha.clamp_min(1e-6) * (alpha > 1e-3), "alpha": alpha,
                "means2d": proj.means2d, "radii": proj.radii}


@contextmanager
def torch_beside_rasterizer():
    """Torch's thread count while the compiled rasterizer runs: unchanged under numba's workqueue layer (the
    default here; its workers sleep, and torch on 2 threads made a 58k-gaussian step 0.41-0.50 s instead of
    0.52-0.60 s), one thread under any other layer (two spinning OpenMP pools made a step ~15x slower)."""
    import numba

    threads = torch.get_num_threads()
    if numba.config.THREADING_LAYER != "workqueue":
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def random_points(poses: np.ndarray, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points uniform in the box of the camera centres (grown by half its size), grey-ish colours."""
    c = camera_centers(poses)
    lo, hi = c.min(0), c.max(0)
    pad = 0.5 * (hi - lo).max()
    rng = np.random.default_rng(seed)
    return rng.uniform(lo - pad, hi + pad, (n, 3)), rng.uniform(0.3, 0.7, (n, 3))


def scene_extent(poses: np.ndarray) -> float:
    """Inria's ``cameras_extent``: 1.1 × the largest camera distance from the cameras' mean centre."""
    c = camera_centers(poses)
    return 1.1 * float(np.linalg.norm(c - c.mean(0), axis=1).max())
