"""params.yaml ``inpainting:`` section (pydantic only; no torch import)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, ValidationInfo, field_validator

from obscura.section import Section

DEFAULT_BUCKETS = [(1, 10), (10, 20), (20, 30), (30, 40), (40, 50), (50, 60)]
# The method names the registries (classical.CLASSICAL, deep.registry.METHODS) know, without importing numba
# or torch; tests/test_registries.py checks that they agree.
CLASSICAL_METHODS = ("harmonic", "biharmonic", "total_variation", "push_pull", "telea", "navier_stokes",
                     "skimage_biharmonic", "criminisi", "hybrid")
DEEP_METHODS = ("single_stage", "coarse_to_fine", "edge_guided", "progressive", "diffusion")


class DeepTrainParams(Section):
    """Training of one deep method; ``config`` overrides fields of the method's config dataclass."""

    steps: int = Field(300, ge=1)
    batch_size: int = Field(8, ge=1)
    crop: int = Field(64, ge=16, description="side of the random training crops")
    scales: tuple[float, float] = Field((1.0, 4.0), description=(
        "a crop covers crop x s photo pixels, s log-uniform in [low, high] (training photos have a 512 px shorter "
        "side, the evaluation photos are whole photos at 256: s = 2 matches their scale)"))
    lr: float = Field(2e-3, gt=0)
    config: dict[str, int | float | str | bool] = Field(default_factory=dict)

    @field_validator("scales")
    @classmethod
    def _scales(cls, value):
        if not 1.0 <= value[0] <= value[1]:
            raise ValueError(f"crop scales [low, high] must satisfy 1 <= low <= high; got {list(value)}")
        return value


class InpaintingParams(Section):
    image_size: int = Field(128, ge=32, description=(
        "side of the held-out and unseen photos as masked and evaluated (resized to it); training crops the "
        "prepared training photos at their own size"))
    buckets: list[tuple[int, int]] = Field(default_factory=lambda: list(DEFAULT_BUCKETS))
    kinds: list[str] = Field(default_factory=lambda: ["strokes", "rectangles", "box"])
    masks_per_bucket: int = Field(1, ge=1, description="evaluation masks per photo, bucket and kind")
    unseen_buckets: list[tuple[int, int]] = Field(default_factory=lambda: [(30, 40)],
                                                  description="buckets of the masks on the unseen photos")
    outpaint: float = Field(0.25, ge=0, le=1, description=(
        "outpainting cases (photo set `outpaint`): each held-out photo loses a strip on a seeded side and the "
        "rest is extended by this fraction back to full size; 0: none"))
    fid_per_cell: int = Field(2, ge=1, description="held-out cases per (bucket, kind) scored by FID/KID")
    cases_per_cell: dict[str, int] = Field(default_factory=dict, description=(
        "method -> seeded cases per (photo set, bucket, kind) cell it runs on (nested subsets); unlisted: all; "
        "0: not run; otherwise at least fid_per_cell (validated after it)"))
    workers: int = Field(2, ge=1, description=(
        "processes evaluate_inpainting runs the cases in, each with an equal share of the cores (same fills; "
        "the deep methods' to float rounding)"))
    train_workers: int = Field(2, ge=1, description=(
        "processes train_inpainting trains the deep methods in, side by side, the longest first, each with an "
        "equal share of the cores (a method's weights depend on that share, not on which methods it runs beside)"))
    classical: list[str] = Field(default_factory=lambda: [
        "harmonic", "biharmonic", "total_variation", "push_pull", "telea", "navier_stokes", "skimage_biharmonic",
        "criminisi", "hybrid"])
    deep: dict[str, DeepTrainParams] = Field(default_factory=dict)
    reference: str = Field("harmonic", validate_default=True, description=(
        "the method every other one is paired with on the cases both ran (ranking.csv); it must run on every case"))
    grid_bucket: tuple[int, int] = Field((30, 40), description="bucket shown in the comparison grids")
    masks_dir: Path = Path("data/inpainting/masks")
    models_dir: Path = Path("data/inpainting/models")
    reports: Path = Path("reports/inpainting")

    @field_validator("buckets", "unseen_buckets")
    @classmethod
    def _buckets(cls, value):
        for lo, hi in value:
            if not 0 <= lo < hi <= 100:
                raise ValueError(f"bucket ({lo}, {hi}) must satisfy 0 <= lo < hi <= 100 (percent)")
        return value

    @field_validator("cases_per_cell")
    @classmethod
    def _cases(cls, value, info: ValidationInfo):
        unknown = sorted(set(value) - set(CLASSICAL_METHODS) - set(DEEP_METHODS))
        if unknown:
            raise ValueError(f"unknown methods {unknown}; classical: {', '.join(CLASSICAL_METHODS)}; deep: "
                             f"{', '.join(DEEP_METHODS)}")
        bad = {k: v for k, v in value.items() if v < 0}
        if bad:
            raise ValueError(f"cases per cell must be >= 0 (0: the method is not run); got {bad}")
        fid = info.data.get("fid_per_cell")
        few = {k: v for k, v in value.items() if fid is not None and 0 < v < fid}
        if few:
            raise ValueError("FID/KID scores every method on the held-out cases with rank < fid_per_cell = "
                             f"{fid}, but {', '.join(f'{k} runs on {v}' for k, v in few.items())} per cell: "
                             f"give each at least {fid} (or 0: not run), or lower fid_per_cell")
        return value

    @field_validator("reference")
    @classmethod
    def _reference(cls, value, info: ValidationInfo):
        run = [*info.data.get("classical", []), *info.data.get("deep", {})]
        if value not in run:
            raise ValueError(f"reference {value!r} is not one of the methods evaluated ({', '.join(run)})")
        if value in info.data.get("cases_per_cell", {}):
            raise ValueError(f"reference {value!r} must run on every case: remove it from cases_per_cell")
        return value

    @field_validator("kinds")
    @classmethod
    def _kinds(cls, value):
        bad = sorted(set(value) - {"strokes", "rectangles", "box"})
        if bad or not value:
            raise ValueError(f"mask kinds must be a non-empty subset of strokes, rectangles, box; got {bad}")
        return value
