"""Every command as a new user hits it: bad outputs, absurd sizes, running outside the project, help text.

Each failure must exit with status 2 and one ``error:`` line, no traceback, and leave no output behind.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from typer.testing import CliRunner

from obscura.cli import app
from obscura.generative.checkpoint import save_checkpoint
from obscura.generative.registry import tiny_config
from obscura.io import read_image, save_image

REPO = Path(__file__).resolve().parent.parent
OBSCURA = Path(sys.executable).parent / "obscura"
runner = CliRunner()


def cli(*args):
    return runner.invoke(app, [str(a) for a in args], prog_name="obscura")


def script(*args, cwd, **env):
    """The installed ``obscura`` script, as a user runs it."""
    return subprocess.run([OBSCURA, *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **env})


def fails(result, message):
    """Exit status 2, one ``error:`` line holding ``message``, no traceback."""
    code = getattr(result, "exit_code", getattr(result, "returncode", None))
    err = result.stderr
    assert code == 2, (code, err, getattr(result, "exception", None))
    lines = [line for line in err.strip().splitlines() if not line.startswith("note:")]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    assert message in lines[0], err


@pytest.fixture
def pictures(tmp_path, monkeypatch):
    """A 40x50 16-bit RGB PNG, its 8-bit copy and a mask, in the current folder."""
    import cv2

    monkeypatch.chdir(tmp_path)
    rgb16 = (np.random.default_rng(0).random((40, 50, 3)) * 65535).astype(np.uint16)
    cv2.imwrite("img16.png", rgb16[..., ::-1])
    save_image("img.png", rgb16 / 65535.0)
    mask = np.zeros((40, 50), np.uint8)
    mask[10:20, 10:30] = 255
    save_image("mask.png", mask)
    return rgb16


def test_inpaint_output_must_be_an_image_file(pictures, tmp_path):
    (tmp_path / "results").mkdir()
    before = sorted(os.listdir(tmp_path))
    fails(cli("inpaint", "img.png", "mask.png", "out", "--method", "harmonic"), "out: no file extension")
    fails(cli("inpaint", "img.png", "mask.png", "results", "--method", "harmonic"), "results: is a folder")
    fails(cli("inpaint", "img.png", "mask.png", "out.xyz", "--method", "harmonic"), "unknown image format '.xyz'")
    fails(cli("outpaint", "img.png", "out.xyz", "--right", "4"), "unknown image format '.xyz'")
    assert sorted(os.listdir(tmp_path)) == before and not os.listdir(tmp_path / "results")


def test_16_bit_input_keeps_16_bits_or_says_why_not(pictures, tmp_path):
    r = cli("inpaint", "img16.png", "mask.png", "out.png", "--method", "harmonic")
    assert r.exit_code == 0 and "note" not in r.stderr, r.output
    out = read_image("out.png")
    assert out.dtype == np.uint16
    np.testing.assert_array_equal(out[30:], pictures[30:])                      # known pixels, all 16 bits
    r = cli("inpaint", "img16.png", "mask.png", "out.jpg", "--method", "harmonic")
    assert r.exit_code == 0 and "16 bits per channel" in r.stderr and read_image("out.jpg").dtype == np.uint8


@pytest.mark.parametrize("right", ["100000", "1000000000"])
def test_outpaint_margins_are_bounded_up_front(pictures, tmp_path, right):
    fails(cli("outpaint", "img.png", "wide.png", "--right", right), "outpainting adds at most 1,048,576")
    fails(cli("outpaint", "img.png", "wide.png", "--left", "-3"), "Invalid value for '--left'")
    assert not (tmp_path / "wide.png").exists()


@pytest.mark.parametrize("args, message", [
    (("scene", "make", "orbit", "sc", "--views", "0"), "Invalid value for '--views'"),
    (("scene", "make", "orbit", "sc", "--views", "-1"), "Invalid value for '--views'"),
    (("scene", "make", "orbit", "sc", "--width", "-5"), "Invalid value for '--width'"),
    (("scene", "ingest", ".", "sc", "--max-size", "-5"), "Invalid value for '--max-size'"),
    (("scene", "ingest", ".", "sc", "--max-size", "0"), "greater than or equal to 32"),
    (("scene", "ingest", ".", "sc", "--fps", "0"), "Invalid value for '--fps'"),
])
def test_scene_sizes_are_checked(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    fails(cli(*args), message)
    assert not (tmp_path / "sc").exists()


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A project (dvc.yaml + params.yaml) holding a tiny ae checkpoint; the current folder is elsewhere."""
    root = tmp_path / "project"
    root.mkdir()
    (root / "dvc.yaml").write_text("stages: {}\n")
    shutil.copy(REPO / "params.yaml", root / "params.yaml")
    torch.manual_seed(0)
    save_checkpoint(root / "data" / "generative" / "ae" / "model.pt", tiny_config("ae", 32, 1).setup())
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    monkeypatch.delenv("OBSCURA_ROOT", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return root


def test_commands_find_the_project_root(project, monkeypatch):
    monkeypatch.chdir(project / "data" / "generative")                          # a subfolder of the project
    r = cli("info")
    assert r.exit_code == 0 and re.search(rf"workspace\s+{project}\n", r.output), r.output
    assert f"sqlite:///{project}/mlflow.db" in r.output
    assert cli("generative", "sample", "ae", "s.png", "--n", "4").exit_code == 0      # the project's checkpoint
    monkeypatch.chdir(project.parent / "elsewhere")
    monkeypatch.setenv("OBSCURA_ROOT", str(project))
    assert cli("generative", "sample", "ae", "s.png", "--n", "4").exit_code == 0
    save_image("i.png", np.zeros((8, 8, 3)))
    save_image("m.png", np.eye(8))
    fails(cli("inpaint", "i.png", "m.png", "o.png", "--method", "single_stage"),
          str(project / "data" / "inpainting" / "models" / "single_stage"))   # absolute, not ./data/...
    assert not Path("o.png").exists()


def test_outside_any_project_commands_say_so(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OBSCURA_ROOT", str(tmp_path))                          # no dvc.yaml here
    for args in (("info",), ("stage", "prepare"), ("repro",), ("generative", "train", "ae"),
                 ("generative", "sample", "ae", "x.png")):
        fails(cli(*args), "needs an Obscura project")
    assert os.listdir(tmp_path) == []                                            # no mlflow.db, no x.png


def test_installed_script_outside_the_repository_uses_its_checkout(tmp_path):
    r = script("info", cwd=tmp_path, OBSCURA_ROOT="")
    assert r.returncode == 0 and re.search(rf"workspace\s+{REPO}\n", r.stdout), r.stdout + r.stderr
    assert os.listdir(tmp_path) == []
    fails(script("stage", "nope", cwd=tmp_path, OBSCURA_ROOT=""), "no stage 'nope'")


def test_library_does_not_import_the_stages():
    for path in (REPO / "src" / "obscura").rglob("*.py"):
        text = path.read_text()
        assert not re.search(r"^\s*(from|import) stages\b|import_module\(.stages|sys\.path", text, re.M), path


def test_blend_models_resizing_and_user_checkpoints(project):
    ckpt = project / "data" / "generative" / "ae" / "model.pt"
    fails(cli("generative", "blend", "gan", "a.png", "b.png", "x.png"), "gan has no encoder")
    rng = np.random.default_rng(0)
    save_image("a.png", rng.random((28, 28)))
    save_image("b.png", rng.random((64, 48, 3)))
    r = cli("generative", "blend", "ae", "a.png", "b.png", "x.png", "--steps", 3, "--checkpoint", ckpt)
    assert r.exit_code == 0 and "fitted to the model's 32x32" in r.stderr, r.output
    assert read_image("x.png").shape == (36, 5 * 34 + 2)
    fails(cli("generative", "blend", "ae", "a.png", "b.png", "y.png", "--no-resize", "--checkpoint", ckpt),
          "is 28x28 but the ae model works on 32x32 images")
    Path("mine.pt").write_bytes(b"my own weights, not Obscura's")
    r = cli("generative", "sample", "ae", "y.png", "--checkpoint", "mine.pt")
    fails(r, "mine.pt: not a readable Obscura checkpoint")
    assert "delete" not in r.stderr.lower() and Path("mine.pt").exists() and not Path("y.png").exists()


def test_help_reads_naturally():
    text = cli("inpaint", "--help").output
    assert "Usage: obscura inpaint [OPTIONS] IMAGE MASK OUT" in text
    assert re.search(r"--method\s+TEXT", text) and re.search(r"--models\s+PATH", text)
    assert "<" not in text and "{" not in text
    text = cli("scene", "make", "--help").output
    assert "NAME [SCENE_DIR]" in text and re.search(r"--views\s+INTEGER", text)
    text = cli("stage", "--help").output
    assert "NAME [ARGS]..." in text


def test_readme_documents_every_command():
    import typer

    readme = (REPO / "README.md").read_text()

    def walk(group, prefix):
        for name, command in group.commands.items():
            if hasattr(command, "commands"):
                yield from walk(command, [*prefix, name])
            else:
                yield " ".join(["obscura", *prefix, name])

    missing = [c for c in walk(typer.main.get_command(app), []) if f"`{c}" not in readme]
    assert not missing, missing
    for fact in ("make run", "about an hour", "15 min", "white", "black", "biharmonic", "criminisi"):
        assert fact in readme, fact


@pytest.mark.slow
def test_generative_train_runs_the_library_from_a_subfolder(tmp_path, tiny_prepare, mlflow_store):
    from obscura.config import parse_params
    from stages import prepare

    prepare.run(parse_params(tiny_prepare))
    root = tmp_path / "project"
    (root / "sub").mkdir(parents=True)
    (root / "dvc.yaml").write_text("stages: {}\n")
    g = tiny_prepare["generative"]
    g.update(prepared=tiny_prepare["prepare"]["output"], output="data/generative", reports="reports/generative",
             epoch_fd_samples=0)
    g["ae"].update(train_images=64, epochs=1, batch_size=32, base_channels=8)
    (root / "params.yaml").write_text(yaml.safe_dump(tiny_prepare))
    r = script("generative", "train", "ae", cwd=root / "sub", OBSCURA_ROOT="")
    assert r.returncode == 0, r.stderr
    assert "2 steps" in r.stdout and (root / "reports" / "generative" / "ae" / "train.json").is_file()
    r = script("generative", "sample", "ae", "s.png", "--n", "4", cwd=root / "sub", OBSCURA_ROOT="")
    assert r.returncode == 0 and (root / "sub" / "s.png").is_file(), r.stderr
    assert sorted(os.listdir(root / "sub")) == ["s.png"]
