"""``obscura generative sample|blend`` on a tiny checkpoint, and their one-line errors (exit 2)."""

import subprocess
import sys

import imageio.v3 as iio
import numpy as np
import pytest
import torch

from obscura.generative.checkpoint import save_checkpoint
from obscura.generative.registry import tiny_config
from obscura.io import save_image


def cli(*args):
    return subprocess.run([sys.executable, "-m", "obscura", "generative", *map(str, args)], capture_output=True,
                          text=True)


@pytest.fixture(scope="module")
def ckpts(tmp_path_factory):
    d = tmp_path_factory.mktemp("gen_cli")
    torch.manual_seed(0)
    save_checkpoint(d / "ae.pt", tiny_config("ae", 16, 1).setup())
    save_checkpoint(d / "gan.pt", tiny_config("gan", 16, 1).setup())
    rng = np.random.default_rng(0)
    save_image(d / "a.png", rng.random((16, 16)))
    save_image(d / "b.png", rng.random((16, 16)))
    save_image(d / "big.png", rng.random((28, 28)))
    return d


def test_sample_and_blend_write_pngs(ckpts):
    r = cli("sample", "ae", ckpts / "s.png", "--n", 6, "--checkpoint", ckpts / "ae.pt")
    assert r.returncode == 0, r.stderr
    grid = iio.imread(ckpts / "s.png")
    assert grid.shape == (2 * 18 + 2, 3 * 18 + 2)
    r = cli("blend", "ae", ckpts / "a.png", ckpts / "big.png", ckpts / "bl.png", "--steps", 4,
            "--checkpoint", ckpts / "ae.pt")                                   # other sizes are fitted by default
    assert r.returncode == 0 and "big.png is 28x28; fitted to the model's 16x16" in r.stderr, r.stderr
    strip = iio.imread(ckpts / "bl.png")
    assert strip.shape == (18 + 2, 6 * 18 + 2)
    a = iio.imread(ckpts / "a.png")
    assert np.abs(strip[2:18, 2:18].astype(int) - a.astype(int)).max() <= 1     # first tile is input A


def test_errors_are_one_line_exit_2(ckpts):
    cases = [
        (("sample", "flow", ckpts / "x.png"), "unknown generative model 'flow'"),
        (("sample", "vae", ckpts / "x.png", "--checkpoint", ckpts / "ae.pt"), "holds a 'ae' model"),
        (("blend", "ae", ckpts / "a.png", ckpts / "big.png", ckpts / "x.png", "--no-resize", "--checkpoint",
          ckpts / "ae.pt"), "is 28x28 but the ae model works on 16x16"),
        (("blend", "gan", ckpts / "a.png", ckpts / "b.png", ckpts / "x.png", "--checkpoint", ckpts / "gan.pt"),
         "no encoder"),
        (("sample", "ae", ckpts / "x.png", "--checkpoint", ckpts / "a.png"), "not a readable Obscura checkpoint"),
    ]
    for args, message in cases:
        r = cli(*args)
        assert r.returncode == 2, (args, r.stderr)
        assert message in r.stderr and "Traceback" not in r.stderr
        assert len(r.stderr.strip().splitlines()) == 1
    assert not (ckpts / "x.png").exists()
