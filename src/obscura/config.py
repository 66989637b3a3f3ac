"""params.yaml loaded into typed, validated sections (one per stage family)."""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from pydantic import Field, ValidationError, field_validator

from obscura.errors import ConfigError
from obscura.generative.params import GenerativeParams
from obscura.inpainting.params import InpaintingParams
from obscura.paths import workspace_root
from obscura.rendering.gaussians.params import GaussiansParams
from obscura.rendering.nerf.params import NerfParams
from obscura.rendering.params import ScenesParams, SfmParams
from obscura.section import Section

__all__ = ["Params", "Section", "load_params", "parse_overrides", "parse_params", "params_path"]


class TrackingParams(Section):
    experiment: str = Field(min_length=1)


class PhotoSplits(Section):
    """How many catalogue photos are held out for evaluation and kept unseen; the rest train."""

    heldout: int = Field(ge=1)
    unseen: int = Field(ge=0)


class PrepareParams(Section):
    """Turn the datasets that ship in packages into versioned arrays under data/prepared."""

    fashion_mnist_dir: Path
    train_limit: int | None = Field(gt=0, description="keep the first N training images (null: all)")
    test_limit: int | None = Field(gt=0, description="keep the first N test images (null: all)")
    faces: int = Field(gt=0, le=100, description="LFW rows 0..faces-1 (rows 0-99 are faces)")
    photo_size: int = Field(ge=32, description="held-out and unseen photos: centre square resized to this side")
    train_photo_side: int = Field(ge=32, description="training photos: shorter side (aspect kept, never upscaled)")
    photo_splits: PhotoSplits
    photo_seed: int = Field(ge=0, description="seed of the photo split (independent of the training seed)")
    output: Path
    metrics: Path = Field(description="flat counts and checksums (a DVC metrics file)")
    sources: Path = Field(description="every photo's split, package, version, file, licence and credit")



class OrchestrationParams(Section):
    """Prefect (flows/): the schedule ``make schedule`` serves, task retries and how wide sweeps fan out."""

    cron: str = Field(description="when the served deployment runs the pipeline: five cron fields")
    timezone: str = Field(min_length=1, description="IANA time zone of cron, e.g. UTC or Europe/Paris")
    retries: int = Field(ge=0, le=10, description="retries of a failed task (a DVC stage or a sweep configuration)")
    retry_delay_seconds: float = Field(ge=0)
    sweep_workers: int = Field(ge=1, description="sweep configurations run at once")

    @field_validator("cron")
    @classmethod
    def _five_fields(cls, value: str) -> str:
        if len(value.split()) != 5:
            raise ValueError("expected five cron fields (minute hour day-of-month month day-of-week), e.g. '0 3 * * *'")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import available_timezones

        if value not in available_timezones():
            raise ValueError("unknown time zone; use an IANA name such as UTC or Europe/Paris")
        return value


class Params(Section):
    """The whole params.yaml."""

    seed: int = Field(ge=0)
    tracking: TrackingParams
    prepare: PrepareParams
    scenes: ScenesParams
    sfm: SfmParams
    inpainting: InpaintingParams
    generative: GenerativeParams
    gaussians: GaussiansParams
    nerf: NerfParams
    orchestration: OrchestrationParams


def params_path(path: str | os.PathLike | None = None) -> Path:
    """``path``, else ``$OBSCURA_PARAMS``, else ``<workspace>/params.yaml``."""
    if path is not None:
        return Path(path)
    if os.environ.get("OBSCURA_PARAMS"):
        return Path(os.environ["OBSCURA_PARAMS"])
    return workspace_root() / "params.yaml"


def load_params(path: str | os.PathLike | None = None) -> Params:
    """Read and validate params.yaml; any problem raises one ConfigError naming key, value and rule."""
    path = params_path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: params file not found. Run from the repository root or set OBSCURA_PARAMS.")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of sections at the top level, got {type(raw).__name__}.")
    return parse_params(raw, source=str(path))


def parse_params(raw: dict, source: str = "params") -> Params:
    """Validate a params mapping (as read from YAML)."""
    try:
        return Params.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, source)) from None


def format_validation_error(exc: ValidationError, source: str) -> str:
    lines = [f"{source}: invalid parameters:"]
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "<top level>"
        if err["type"] == "extra_forbidden":
            lines.append(f"  {key}: unknown key (value {err['input']!r}); remove it or check the spelling.")
        elif err["type"] == "missing":
            lines.append(f"  {key}: required key is missing.")
        else:
            lines.append(f"  {key} = {err['input']!r}: {err['msg']}.")
    return "\n".join(lines)


def parse_overrides(items: list[str]) -> dict:
    """``FIELD=VALUE`` command-line items as a dict, each value read as YAML, except that numbers YAML 1.1
    keeps as strings (``3e-4``, ``1e5``) are floats."""
    bad = [item for item in items if "=" not in item]
    if bad:
        raise ConfigError(f"expected FIELD=VALUE, got {bad[0]!r} (e.g. lr=3e-4).")
    out = {}
    for key, text in (item.split("=", 1) for item in items):
        value = yaml.safe_load(text)
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                pass
        out[key] = value
    return out
