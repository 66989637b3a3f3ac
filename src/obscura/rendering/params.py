"""params.yaml sections ``scenes`` and ``sfm`` (pydantic only: importing this stays cheap)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from obscura.section import Section

BUILTIN_SCENES = ("orbit", "room")


class SceneSpec(Section):
    """One built-in scene's camera set."""

    num_views: int = Field(ge=3, description="number of rendered views")
    fov_x_deg: float = Field(60.0, gt=10, lt=150, description="horizontal field of view")


class IngestParams(Section):
    """How photo folders / videos become scenes."""

    max_size: int | None = Field(1600, ge=32, description="downscale so the longest side is at most this (null: keep)")
    video_fps: float = Field(2.0, gt=0, description="frames per second taken from a video input")


class ScenesParams(Section):
    """Built-in multi-view scenes with ground truth, and user photo ingest."""

    output: Path = Path("data/scenes")
    width: int = Field(480, ge=32)
    height: int = Field(360, ge=32)
    supersample: int = Field(2, ge=1, le=8, description="rays per pixel along each axis (anti-aliasing)")
    test_every: int = Field(8, ge=2, description="every N-th image (index % N == 0) is held out for testing")
    gt_points: int = Field(20000, ge=0, description="ground-truth surface points written with the scene")
    builtin: dict[str, SceneSpec] = {"orbit": SceneSpec(num_views=48), "room": SceneSpec(num_views=32, fov_x_deg=65)}
    ingest: IngestParams = IngestParams()
    photos: dict[str, Path] = Field({}, description="user scenes: name -> photo folder or video file")

    @field_validator("builtin")
    @classmethod
    def _known(cls, v: dict[str, SceneSpec]) -> dict[str, SceneSpec]:
        unknown = sorted(set(v) - set(BUILTIN_SCENES))
        if unknown:
            raise ValueError(f"unknown built-in scene(s) {unknown}; available: {list(BUILTIN_SCENES)}")
        return v

    @field_validator("photos")
    @classmethod
    def _distinct(cls, v: dict[str, Path], info) -> dict[str, Path]:
        clash = sorted(set(v) & set(info.data.get("builtin", {})))
        if clash:
            raise ValueError(f"photo scene name(s) {clash} clash with built-in scenes; rename them")
        return v


class SfmParams(Section):
    """COLMAP structure-from-motion (pycolmap)."""

    scenes: list[str] = Field(["orbit", "room"], description="scene names (under scenes.output) to reconstruct")
    camera_model: Literal["SIMPLE_PINHOLE", "PINHOLE", "SIMPLE_RADIAL", "RADIAL", "OPENCV"] = "SIMPLE_RADIAL"
    single_camera: bool = Field(True, description="all images share one camera (same device and zoom)")
    max_image_size: int = Field(1600, ge=64, description="SIFT runs on images downscaled to this side")
    max_num_features: int | Literal["auto"] = Field("auto", description="SIFT features kept per image; auto: 8192 "
                                                    "at octave -1, else one per AUTO_PX_PER_FEATURE px SIFT sees, "
                                                    "within AUTO_FEATURES")
    first_octave: int | Literal["auto"] = Field("auto", description="SIFT first octave; -1 upsamples first: ~4x "
                                                "more features, ~4x slower, ~4x smaller pose errors than 0; auto: "
                                                "-1 up to AUTO_OCTAVE_MAX_PIXELS pixels, else 0")
    peak_threshold: float | Literal["auto"] = Field("auto", description="SIFT DoG peak threshold (lower: more, "
                                                    "weaker keypoints); auto: AUTO_PEAK_THRESHOLD by first octave")
    mapper: Literal["incremental", "global"] = Field("incremental", description="incremental (COLMAP) or global "
                                                     "(GLOMAP-style rotation averaging + global positioning)")
    matcher: Literal["auto", "exhaustive", "sequential", "vocab_tree"] = Field(
        "auto", description="auto: sequential for video, exhaustive up to exhaustive_max_images photos, else "
        "vocab_tree (retrieval with a vocabulary tree built from the photos' own features)")
    exhaustive_max_images: int = Field(100, ge=2, description="auto matcher: exhaustive up to this many photos")
    sequential_overlap: int = Field(10, ge=1)
    loop_detection: bool = Field(True, description="sequential matching also matches loop candidates retrieved "
                                 "with a vocabulary tree built from the sequence's own features")
    min_num_matches: int = Field(15, ge=4)
    num_threads: int = Field(-1, ge=-1, description="-1: all cores")
    refine_reproj_factor: float = Field(3.0, description="final refinement: drop observations reprojecting more "
                                        "than this x the mapped model's mean error, then a global BA; 0: off")
    deterministic: bool = Field(True, description="mapping on one thread and a fixed seed: same params -> same model")
    outlier_neighbors: int = Field(20, ge=2, description="statistical outlier removal: neighbours")
    outlier_std: float = Field(2.0, gt=0, description="statistical outlier removal: std ratio")
    reports: Path = Path("reports/sfm")

    @field_validator("first_octave")
    @classmethod
    def _octave(cls, v):
        if v != "auto" and not -1 <= v <= 2:
            raise ValueError("first_octave must be auto or -1..2")
        return v

    @field_validator("peak_threshold")
    @classmethod
    def _peak(cls, v):
        if v != "auto" and not 0 < v < 1:
            raise ValueError("peak_threshold must be auto or between 0 and 1 (COLMAP's default: 0.0067)")
        return v

    @field_validator("max_num_features")
    @classmethod
    def _features(cls, v):
        if v != "auto" and v < 64:
            raise ValueError("max_num_features must be auto or >= 64")
        return v

    @field_validator("refine_reproj_factor")
    @classmethod
    def _refine(cls, v):
        if v != 0 and v < 1:
            raise ValueError("refine_reproj_factor must be 0 (off) or >= 1 (x the mean reprojection error)")
        return v

    @field_validator("num_threads")
    @classmethod
    def _not_zero(cls, v: int) -> int:
        if v == 0:
            raise ValueError("use -1 for all cores or a positive thread count")
        return v
