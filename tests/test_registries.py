"""Every method list lives in params.yaml: registries, params sections and dvc.yaml's foreach agree."""

import yaml

from conftest import REPO
from obscura.config import load_params
from obscura.generative.registry import MODELS
from obscura.inpainting.classical import CLASSICAL
from obscura.inpainting.deep.registry import METHODS
from obscura.inpainting.params import CLASSICAL_METHODS, DEEP_METHODS
from obscura.rendering.gaussians.registry import METHODS as SPLATS

STAGES = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]


def test_generative_models_registry_params_and_dvc_agree():
    params = load_params(REPO / "params.yaml")
    assert set(params.generative.models) == set(MODELS)
    for name in MODELS:
        assert getattr(params.generative, name) is not None       # every family has its section
        assert MODELS.config_class(name).name == name
    for stage in ("train_generative", "evaluate_generative"):
        assert STAGES[stage]["foreach"] == "${generative.models}"


def test_inpainting_methods_registry_params_and_dvc_agree():
    params = load_params(REPO / "params.yaml")
    assert set(params.inpainting.deep) <= set(METHODS) and set(params.inpainting.classical) <= set(CLASSICAL)
    assert "inpainting.deep" in STAGES["train_inpainting"]["params"]          # one stage trains them all
    assert CLASSICAL_METHODS == tuple(CLASSICAL) and set(DEEP_METHODS) == set(METHODS)   # params' name lists
    for name in METHODS:
        assert METHODS.config_class(name).name == name


def test_rendering_scenes_come_from_params():
    params = load_params(REPO / "params.yaml")
    assert STAGES["sfm"]["foreach"] == "${sfm.scenes}"
    assert STAGES["train_gaussians"]["foreach"] == "${gaussians.scenes}"
    assert set(params.gaussians.scenes) <= set(params.sfm.scenes)
    assert list(SPLATS) == ["gaussians"]


def test_sfm_stage_tracks_every_sfm_param():
    """A param the stage reads but dvc.yaml does not list would not rerun SfM when it changes."""
    from obscura.rendering.params import SfmParams

    listed = {p.removeprefix("sfm.") for p in STAGES["sfm"]["do"]["params"] if isinstance(p, str)}
    assert set(SfmParams.model_fields) - {"scenes", "reports"} <= listed
