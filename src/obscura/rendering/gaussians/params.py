"""params.yaml ``gaussians:`` section (pydantic only: importing this stays cheap)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from obscura.section import Section


class GaussiansParams(Section):
    """3D Gaussian Splatting after SfM: one ``train_gaussians@<scene>`` stage per scene."""

    scenes: dict[str, dict[str, Any]] = Field(description="scene name -> overrides of `config` for that scene")
    poses: Literal["sfm", "ground_truth"] = Field("sfm", description="cameras: SfM (undistorted) or ground truth")
    config: dict[str, Any] = Field({}, description="fields of GaussiansConfig (steps, learning rates, density control)")
    eval_every: int = Field(0, ge=0, description="held-out PSNR every N steps for the curve (0: off)")
    orbit_frames: int = Field(48, ge=0, description="frames of the orbit video (0: no video)")
    output: Path = Path("data/gaussians")
    reports: Path = Path("reports/gaussians")
