"""Params profiles (profiles/*.yaml) as DVC experiments: checked against params.yaml, turned into one
`dvc exp run` command."""

import shutil
from pathlib import Path

import pytest

from obscura.errors import ConfigError
from obscura.profiles import load_profile

REPO = Path(__file__).resolve().parent.parent


def test_quality_profile_applies_to_params_and_becomes_one_dvc_experiment():
    profile = load_profile(REPO, "quality")
    cmd = profile.dvc_command(stamp="s")
    assert cmd[:5] == ["dvc", "exp", "run", "--name", "quality-s"]
    assert cmd[-3:] == ["evaluate_generative@ddpm", "evaluate_generative@ldm", "evaluate_generative@gan"]
    sets = dict(cmd[i + 1].split("=", 1) for i, a in enumerate(cmd) if a == "-S")
    assert sets["generative.ddpm.curve_every"] == "4" and sets["generative.gan.train_images"] == "null"
    assert int(sets["generative.ddpm.epochs"]) > 4                     # longer than the default run


@pytest.fixture
def project(tmp_path):
    shutil.copy(REPO / "params.yaml", tmp_path / "params.yaml")
    (tmp_path / "profiles").mkdir()
    return tmp_path


@pytest.mark.parametrize("params, message", [
    ({"generative.ddpm.epoch": 3}, "generative.ddpm.epoch is not a key of"),
    ({"generative.ddpm.epochs": 0}, r"generative.ddpm.epochs = 0: Input should be greater than or equal to 1"),
    ({"nosection.x": 1}, "nosection.x is not a key of"),
])
def test_a_profile_with_a_wrong_key_or_value_is_refused(project, params, message):
    import yaml

    (project / "profiles" / "bad.yaml").write_text(yaml.safe_dump({"targets": ["x"], "params": params}))
    with pytest.raises(ConfigError, match=message):
        load_profile(project, "bad")
    (project / "profiles" / "flat.yaml").write_text("generative.ddpm.epochs: 3\n")
    with pytest.raises(ConfigError, match="expected two keys"):
        load_profile(project, "flat")
    with pytest.raises(ConfigError, match="no profile 'nope'.*profiles: bad, flat"):
        load_profile(project, "nope")


def test_obscura_exp_dry_run_prints_the_command(monkeypatch):
    from typer.testing import CliRunner

    from obscura.cli import app

    monkeypatch.chdir(REPO)
    out = CliRunner().invoke(app, ["exp", "quality", "--dry-run"])
    assert out.exit_code == 0 and out.output.startswith("dvc exp run --name quality-")
    assert "-S generative.ddpm.curve_every=4" in out.output
    bad = CliRunner().invoke(app, ["exp", "nope"])
    assert bad.exit_code == 2 and "no profile 'nope'" in bad.output
