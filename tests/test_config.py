import pytest

from obscura.config import load_params, parse_overrides, parse_params
from obscura.errors import ConfigError


def test_repository_params_are_valid(raw_params):
    from conftest import REPO

    params = load_params(REPO / "params.yaml")
    assert params.seed == raw_params["seed"]
    assert params.prepare.photo_splits.heldout == raw_params["prepare"]["photo_splits"]["heldout"]


@pytest.mark.parametrize("section,key,value,fragment", [
    ("prepare", "faces", -3, "prepare.faces = -3: Input should be greater than 0"),
    ("prepare", "photo_size", "large", "prepare.photo_size = 'large'"),
    ("prepare", "train_limit", 0, "prepare.train_limit = 0"),
    ("tracking", "experiment", "", "tracking.experiment = ''"),
])
def test_wrong_value_names_key_value_and_rule(raw_params, section, key, value, fragment):
    raw_params[section][key] = value
    with pytest.raises(ConfigError) as err:
        parse_params(raw_params)
    assert fragment in str(err.value)


@pytest.mark.parametrize("change,fragment", [
    ({"cases_per_cell": {"diffusion": 1}, "fid_per_cell": 2},
     "inpainting.cases_per_cell = {'diffusion': 1}: Value error, FID/KID scores every method on the held-out cases "
     "with rank < fid_per_cell = 2, but diffusion runs on 1 per cell"),
    ({"cases_per_cell": {"criminsi": 2}}, "inpainting.cases_per_cell = {'criminsi': 2}: Value error, unknown methods "
                                          "['criminsi']; classical: harmonic"),
    ({"classical": ["telea"]}, "inpainting.reference = 'harmonic': Value error, reference 'harmonic' is not one of "
                               "the methods evaluated (telea"),
    ({"reference": "telea", "classical": ["harmonic"]},
     "inpainting.reference = 'telea': Value error, reference 'telea' is not one of the methods evaluated (harmonic"),
    ({"cases_per_cell": {"harmonic": 2}}, "Value error, reference 'harmonic' must run on every case: remove it from "
                                          "cases_per_cell"),
    ({"deep": {"progressive": {"scales": [4, 2]}}},
     "inpainting.deep.progressive.scales = [4, 2]: Value error, crop scales [low, high] must satisfy 1 <= low <= high"),
])
def test_inpainting_params_are_checked_at_load_time(raw_params, change, fragment):
    raw_params["inpainting"].update(change)
    with pytest.raises(ConfigError) as err:
        parse_params(raw_params)
    message = str(err.value)
    assert fragment in message and message.count("\n  ") == 1, message            # exactly one error


def test_missing_and_unknown_keys(raw_params):
    del raw_params["prepare"]["photo_size"]
    raw_params["prepare"]["photo_sise"] = 64
    with pytest.raises(ConfigError) as err:
        parse_params(raw_params)
    message = str(err.value)
    assert "prepare.photo_size: required key is missing" in message
    assert "prepare.photo_sise: unknown key" in message


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="params file not found"):
        load_params(tmp_path / "nope.yaml")
    bad = tmp_path / "params.yaml"
    bad.write_text("prepare: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_params(bad)
    bad.write_text("- just\n- a list\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_params(bad)


def test_overrides_read_yaml_values_and_exponent_floats():
    assert parse_overrides(["lr=3e-4", "steps=5", "name=grid", "sizes=[1, 2]", "contract=true"]) == {
        "lr": 3e-4, "steps": 5, "name": "grid", "sizes": [1, 2], "contract": True}
    with pytest.raises(ConfigError, match="FIELD=VALUE"):
        parse_overrides(["lr"])
