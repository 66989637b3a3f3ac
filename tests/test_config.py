import pytest

from obscura.config import load_params, parse_params
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
