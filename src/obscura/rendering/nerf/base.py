"""What every NeRF model shares: the scene box it lives in, the world → model-space map, the
interface the trainer and renderers use, and small building blocks (MLP, encodings)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from obscura.errors import ObscuraError
from obscura.rendering.nerf.volume import contract


@dataclass(frozen=True)
class SceneBox:
    """The scene's box ``[lo, hi]`` in a rotated frame ``y = rotation · x`` of the world (camera-pose)
    coordinates ``x``."""

    lo: tuple[float, float, float]
    hi: tuple[float, float, float]
    rotation: tuple[tuple[float, float, float], ...] = ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0))

    @classmethod
    def from_cameras(cls, cams, percentile: float = 0.5, margin: float = 0.05) -> SceneBox:
        """The built-in scene's bounds with ground-truth poses (world axes). Else the model's 3D points
        in their principal axes (SfM frames are arbitrarily rotated; this keeps the box tight), over the
        ``percentile`` … ``100 − percentile`` range (robust to stray points). Grown by ``margin`` of its
        largest side."""
        if cams.source == "ground_truth" and "bounds" in cams.info:
            lo, hi = np.asarray(cams.info["bounds"]["min"]), np.asarray(cams.info["bounds"]["max"])
            rotation = np.eye(3)
        elif len(cams.points) >= 8:
            centred = cams.points - np.median(cams.points, 0)
            dist = np.linalg.norm(centred, axis=1)
            rotation = np.linalg.svd(centred[dist <= np.percentile(dist, 100 - percentile)], full_matrices=False)[2]
            rotation[2] *= np.linalg.det(rotation)
            lo, hi = np.percentile(cams.points @ rotation.T, [percentile, 100 - percentile], axis=0)
        else:
            raise ObscuraError(f"{cams.image_paths[0].parent.parent}: the camera model has {len(cams.points)} "
                               "3D points, too few to bound the scene; rerun `obscura sfm SCENE_DIR`.")
        pad = margin * float((hi - lo).max())
        return cls(tuple(float(v) for v in lo - pad), tuple(float(v) for v in hi + pad),
                   tuple(tuple(float(v) for v in row) for row in rotation))

    @property
    def center(self) -> np.ndarray:
        return (np.asarray(self.lo) + np.asarray(self.hi)) / 2

    @property
    def half(self) -> np.ndarray:
        return (np.asarray(self.hi) - np.asarray(self.lo)) / 2


class NerfModel(torch.nn.Module):
    """Base of the models: ``render_rays`` (world rays, unit directions) → per-ray ``rgb``, ``acc``,
    ``depth`` (distance along the ray); ``before_step`` is called by the trainer with each step's
    generator (e.g. to update an occupancy grid)."""

    def __init__(self, config, box: SceneBox, background=(0.0, 0.0, 0.0)):
        super().__init__()
        self.config, self.box = config, box
        self.register_buffer("box_center", torch.tensor(box.center, dtype=torch.float32))
        self.register_buffer("box_half", torch.tensor(box.half, dtype=torch.float32))
        self.register_buffer("background", torch.tensor(background, dtype=torch.float32))
        self.register_buffer("box_rotation", torch.tensor(box.rotation, dtype=torch.float32))

    def to_box_frame(self, origins: torch.Tensor, dirs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """World rays in the box's frame (a rotation: distances along rays are unchanged)."""
        return origins @ self.box_rotation.T, dirs @ self.box_rotation.T

    def to_unit(self, x: torch.Tensor) -> torch.Tensor:
        """Box-frame points → model space ``[−1, 1]³`` (the box, contracted outside when configured)."""
        u = (x - self.box_center) / self.box_half
        return contract(u) if getattr(self.config, "contract", False) else u

    def near_far(self, origins: torch.Tensor, dirs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        from obscura.rendering.nerf.volume import ray_box

        near_min = float(self.box_half.max()) * 0.02
        if getattr(self.config, "contract", False):
            near = torch.full((len(origins),), near_min)
            return near, torch.full_like(near, float(self.box_half.max()) * self.config.far_factor)
        return ray_box(origins, dirs, self.box_center - self.box_half, self.box_center + self.box_half, near_min)

    def before_step(self, step: int, generator: torch.Generator) -> None:
        """Hook run before each training step (default: nothing)."""

    def render_rays(self, origins: torch.Tensor, dirs: torch.Tensor,
                    generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        raise NotImplementedError


def mlp(d_in: int, width: int, depth: int, d_out: int) -> torch.nn.Sequential:
    """``depth`` hidden ReLU layers of ``width``."""
    layers, d = [], d_in
    for _ in range(depth):
        layers += [torch.nn.Linear(d, width), torch.nn.ReLU()]
        d = width
    return torch.nn.Sequential(*layers, torch.nn.Linear(d, d_out))


def positional_encoding(x: torch.Tensor, frequencies: int) -> torch.Tensor:
    """``(x, sin(2^k π x), cos(2^k π x))`` for ``k < frequencies`` (NeRF eq. 4, with the input kept)."""
    scaled = x[..., None, :] * (2.0 ** torch.arange(frequencies, dtype=x.dtype) * math.pi)[:, None]
    return torch.cat([x, torch.sin(scaled).flatten(-2), torch.cos(scaled).flatten(-2)], -1)


def spherical_harmonics(d: torch.Tensor, degree: int) -> torch.Tensor:
    """Real SH basis of unit directions up to ``degree`` ≤ 2: (N, (degree + 1)²)."""
    x, y, z = d.unbind(-1)
    out = [torch.full_like(x, 0.28209479)]
    if degree >= 1:
        out += [-0.48860251 * y, 0.48860251 * z, -0.48860251 * x]
    if degree >= 2:
        out += [1.09254843 * x * y, -1.09254843 * y * z, 0.31539157 * (3 * z * z - 1), -1.09254843 * x * z,
                0.54627422 * (x * x - y * y)]
    return torch.stack(out, -1)


def trunc_exp(x: torch.Tensor) -> torch.Tensor:
    """exp with its input clamped (stable density activation)."""
    return torch.exp(x.clamp(max=15.0))
