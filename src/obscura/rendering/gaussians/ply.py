"""The standard 3DGS ``point_cloud.ply`` (Inria layout, read by common splat viewers).

Vertex properties: x y z, nx ny nz (zeros), f_dc_0..2, f_rest_0..44 (channel-major: all 15 red
coefficients, then green, then blue), opacity (logit), scale_0..2 (log), rot_0..3 (w x y z, as stored).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from obscura.errors import ObscuraError
from obscura.rendering.gaussians.model import SH_REST

FIELDS = (["x", "y", "z", "nx", "ny", "nz"] + [f"f_dc_{i}" for i in range(3)]
          + [f"f_rest_{i}" for i in range(3 * SH_REST)] + ["opacity"] + [f"scale_{i}" for i in range(3)]
          + [f"rot_{i}" for i in range(4)])


def write_ply(path: str | os.PathLike, tensors: dict[str, torch.Tensor]) -> Path:
    """Write the gaussian parameters (``GaussianModel`` names) atomically as binary little-endian PLY."""
    from plyfile import PlyData, PlyElement

    from obscura.io import atomic_path

    t = {k: v.detach().cpu().float().numpy() for k, v in tensors.items()}
    n = len(t["means"])
    columns = np.concatenate([t["means"], np.zeros((n, 3), np.float32), t["sh_dc"].reshape(n, 3),
                              t["sh_rest"].transpose(0, 2, 1).reshape(n, 3 * SH_REST), t["opacity_logits"][:, None],
                              t["log_scales"], t["quats"]], 1)
    vertex = np.empty(n, dtype=[(f, "f4") for f in FIELDS])
    for i, f in enumerate(FIELDS):
        vertex[f] = columns[:, i]
    with atomic_path(path) as tmp:
        PlyData([PlyElement.describe(vertex, "vertex")]).write(str(tmp))
    return Path(path)


def read_ply(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Parameters from a 3DGS ``.ply`` (ours or another trainer's with the same layout; fewer f_rest is
    read as a lower SH degree). Anything else raises one clear error."""
    from plyfile import PlyData

    path = Path(path)
    if not path.is_file():
        raise ObscuraError(f"{path}: no such file.")
    try:
        vertex = PlyData.read(str(path))["vertex"].data
    except Exception as exc:
        raise ObscuraError(f"{path}: not a readable PLY file ({exc.__class__.__name__}: {exc}).") from None
    names = set(vertex.dtype.names or ())
    missing = [f for f in FIELDS[:9] + FIELDS[-8:] if f not in names]
    if missing or len(vertex) == 0:
        what = f"lacks {', '.join(missing[:6])}" if missing else "has no vertices"
        raise ObscuraError(f"{path}: not a 3D Gaussian Splatting point cloud ({what}); export one with "
                           "`obscura splat export`.")
    n = len(vertex)
    col = lambda *fs: np.stack([np.asarray(vertex[f], np.float32) for f in fs], 1)  # noqa: E731
    rest_count = sum(1 for f in names if f.startswith("f_rest_")) // 3
    rest = np.zeros((n, 3, SH_REST), np.float32)
    if rest_count:
        rest[:, :, :rest_count] = col(*[f"f_rest_{i}" for i in range(3 * rest_count)]).reshape(n, 3, rest_count)
    out = {"means": col("x", "y", "z"), "log_scales": col("scale_0", "scale_1", "scale_2"),
           "quats": col("rot_0", "rot_1", "rot_2", "rot_3"), "opacity_logits": col("opacity")[:, 0],
           "sh_dc": col("f_dc_0", "f_dc_1", "f_dc_2")[:, None], "sh_rest": rest.transpose(0, 2, 1)}
    tensors = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in out.items()}
    if not all(torch.isfinite(v).all() for v in tensors.values()):
        raise ObscuraError(f"{path}: holds NaN or infinite values; it is corrupt.")
    return tensors
