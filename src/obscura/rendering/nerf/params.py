"""params.yaml section ``nerf`` (pydantic only: importing this stays cheap)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator

from obscura.section import Section


class NerfRun(Section):
    """One ``train_nerf@<model>-<scene>`` run; ``config`` overrides fields of the model's config dataclass."""

    model: Literal["grid", "vanilla"]
    scene: str = Field(min_length=1, description="scene directory name under scenes.output")
    poses: Literal["sfm", "ground_truth"] = "sfm"
    config: dict[str, Any] = Field(default_factory=dict)


class NerfParams(Section):
    """NeRF models (src/obscura/rendering/nerf) trained on the scenes after SfM."""

    output: Path = Path("data/nerf")
    reports: Path = Path("reports/nerf")
    log_every: int = Field(20, ge=1)
    checkpoint_every: int = Field(100, ge=1, description="steps between resumable training states")
    orbit_frames: int = Field(36, ge=2)
    orbit_scale: float = Field(0.25, gt=0, le=2, description="orbit video size relative to the photos")
    mesh_scale: float = Field(0.25, gt=0, le=2, description="size of the depth renders fused into the TSDF")
    mesh_voxels: int = Field(384, ge=16, description="TSDF voxels along the scene box diagonal")
    runs: dict[str, NerfRun] = Field(default_factory=dict)

    @field_validator("runs")
    @classmethod
    def _named(cls, v: dict[str, NerfRun]) -> dict[str, NerfRun]:
        wrong = [f"{k} (expected {r.model}-{r.scene})" for k, r in v.items() if k != f"{r.model}-{r.scene}"]
        if wrong:
            raise ValueError(f"run names must be <model>-<scene>: {', '.join(wrong)}")
        return v
