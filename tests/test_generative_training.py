"""Seeded, resumable training and checkpoint safety."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from obscura.errors import ObscuraError
from obscura.generative.checkpoint import CheckpointError, load_model, save_checkpoint
from obscura.generative.registry import MODELS, tiny_config
from obscura.generative.train import TrainSettings, learning_rate, train
from obscura.methods import read_checkpoint


def data(n=32, c=1, s=16):
    return torch.rand((n, c, s, s), generator=torch.Generator().manual_seed(3)) * 2 - 1


SETTINGS = TrainSettings(epochs=3, batch_size=8, lr=2e-3, seed=7, checkpoint_every=2, log_every=1)


@pytest.mark.parametrize("name", ["vae", "gan", "ddpm"])
def test_two_seeded_runs_give_identical_losses(name):
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        model = tiny_config(name).setup()
        runs.append((train(model, data(16), SETTINGS, progress=False), model.state_dict()))
    (a, sa), (b, sb) = runs
    assert a.steps == b.steps == 6
    assert [r["loss"] for r in a.rows] == [r["loss"] for r in b.rows]
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    torch.manual_seed(0)
    other = train(tiny_config(name).setup(), data(16), TrainSettings(**{**SETTINGS.__dict__, "seed": 8}),
                  progress=False)
    assert [r["loss"] for r in other.rows] != [r["loss"] for r in a.rows]


def test_bf16_ddpm_training_repeats_and_tracks_fp32():
    """bfloat16 autocast: the same seed gives the same weights twice, and losses stay near the fp32 run's."""
    runs = {}
    for precision in ("fp32", "bf16", "bf16"):
        torch.manual_seed(0)
        model = MODELS.make("ddpm", tiny=True, precision=precision).setup()
        res = train(model, data(16), SETTINGS, progress=False)
        runs.setdefault(precision, []).append(([r["loss"] for r in res.rows], model.state_dict()))
    (la, sa), (lb, sb) = runs["bf16"]
    assert la == lb and all(torch.equal(sa[k], sb[k]) for k in sa)
    fp32 = torch.tensor(runs["fp32"][0][0])
    assert not torch.equal(torch.tensor(la), fp32)                          # autocast did run in bf16
    assert torch.allclose(torch.tensor(la), fp32, rtol=0.05)
    with pytest.raises(ObscuraError, match="precision"):
        MODELS.make("ddpm", tiny=True, precision="fp16")


def test_cosine_learning_rate_falls_from_lr_to_zero_and_is_applied():
    settings = TrainSettings(**{**SETTINGS.__dict__, "lr_schedule": "cosine"})
    assert learning_rate(settings, 0, 100) == settings.lr
    assert learning_rate(settings, 50, 100) == pytest.approx(settings.lr / 2)
    assert learning_rate(settings, 99, 100) < 0.001 * settings.lr
    assert learning_rate(SETTINGS, 99, 100) == SETTINGS.lr                  # constant
    seen = []
    model = tiny_config("gan").setup()
    original = model.training_step

    def spy(x, opts, generator=None):
        seen.append(sorted({g["lr"] for o in opts.values() for g in o.param_groups}))
        return original(x, opts, generator)

    model.training_step = spy
    train(model, data(), settings, progress=False)                         # 12 steps, both optimisers
    assert [s[0] for s in seen] == pytest.approx([learning_rate(settings, i, 12) for i in range(12)])
    assert all(len(s) == 1 for s in seen)
    with pytest.raises(ObscuraError, match="lr_schedule"):
        learning_rate(TrainSettings(**{**SETTINGS.__dict__, "lr_schedule": "step"}), 0, 10)


class Interrupt(Exception):
    pass


def test_interrupted_run_resumes_to_identical_result(tmp_path):
    torch.manual_seed(0)
    ref_model = tiny_config("gan").setup()
    ref = train(ref_model, data(), SETTINGS, progress=False)

    torch.manual_seed(0)
    model = tiny_config("gan").setup()

    def crash(step, logs):
        if step == 7:           # mid-epoch, one step after the checkpoint at step 6
            raise Interrupt

    with pytest.raises(Interrupt):
        train(model, data(), SETTINGS, state_path=tmp_path / "state.pt", on_step=crash, progress=False)
    assert read_checkpoint(tmp_path / "state.pt", "training-state")["step"] == 6
    torch.manual_seed(123)      # a different process would start with fresh weights
    fresh = tiny_config("gan").setup()
    res = train(fresh, data(), SETTINGS, state_path=tmp_path / "state.pt", progress=False)
    assert res.resumed_from == 6 and res.steps == ref.steps == 12
    assert [r["loss"] for r in res.rows] == [r["loss"] for r in ref.rows]
    assert all(torch.equal(v, ref_model.state_dict()[k]) for k, v in fresh.state_dict().items())
    # the time in training steps is kept across the interruption: it grows epoch after epoch
    seconds = [e["train_seconds"] for e in res.epochs]
    assert len(seconds) == 3 and 0 < seconds[0] < seconds[1] < seconds[2]
    # a finished state is not trained further
    again = train(tiny_config("gan").setup(), data(), SETTINGS, state_path=tmp_path / "state.pt", progress=False)
    assert again.steps == 12 and again.resumed_from == 12


def test_state_from_other_settings_is_not_resumed(tmp_path):
    torch.manual_seed(0)
    train(tiny_config("ae").setup(), data(), SETTINGS, state_path=tmp_path / "s.pt", fingerprint={"a": 1},
          progress=False)
    res = train(tiny_config("ae").setup(), data(), SETTINGS, state_path=tmp_path / "s.pt", fingerprint={"a": 2},
                progress=False)
    assert res.resumed_from == 0 and res.steps == 12


SCRIPT = """
import sys, time, torch
from obscura.generative.registry import tiny_config
from obscura.generative.train import TrainSettings, train
torch.manual_seed(0)
x = torch.rand((32, 1, 16, 16), generator=torch.Generator().manual_seed(3)) * 2 - 1
def slow(step, logs):
    print(step, flush=True)
    if sys.argv[2] == "slow":
        time.sleep(0.3)
r = train(tiny_config("vae").setup(), x, TrainSettings(4, 8, 2e-3, seed=7, checkpoint_every=3, log_every=1),
          state_path=sys.argv[1], on_step=slow, progress=False)
print("done", r.steps, r.resumed_from, repr(r.rows[-1]["loss"]), flush=True)
"""


def test_kill_9_mid_epoch_then_rerun_finishes_same_total_steps(tmp_path):
    script = tmp_path / "run.py"
    script.write_text(SCRIPT)
    state = tmp_path / "state.pt"
    proc = subprocess.Popen([sys.executable, str(script), str(state), "slow"], stdout=subprocess.PIPE, text=True)
    for line in proc.stdout:        # step 7 logged: the checkpoint at 6 is written, epoch 2 (steps 5-8) half done
        if line.strip() == "7":
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert read_checkpoint(state, "training-state")["step"] == 6
    resumed = subprocess.run([sys.executable, str(script), str(state), "fast"], capture_output=True, text=True,
                             check=True).stdout.splitlines()[-1]
    clean = subprocess.run([sys.executable, str(script), str(tmp_path / "clean.pt"), "fast"], capture_output=True,
                           text=True, check=True).stdout.splitlines()[-1]
    _, steps, resumed_from, loss = resumed.split()
    assert (steps, resumed_from) == ("16", "6")
    assert clean.split()[1] == "16" and clean.split()[3] == loss


def test_checkpoint_roundtrip(tmp_path):
    torch.manual_seed(0)
    model = tiny_config("ddpm", 16, 3).setup().eval()
    save_checkpoint(tmp_path / "m.pt", model)
    loaded, payload = load_model(tmp_path / "m.pt", expect="ddpm", image_size=16, channels=3)
    assert payload["method"] == "ddpm"
    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    assert torch.equal(loaded.sample(2, g()), model.sample(2, g()))


def test_checkpoint_of_another_model_is_one_clear_error(tmp_path):
    save_checkpoint(tmp_path / "gan.pt", tiny_config("gan").setup())
    with pytest.raises(CheckpointError, match="holds a 'gan' model, but a 'vae' model was requested"):
        load_model(tmp_path / "gan.pt", expect="vae")


def test_checkpoint_with_wrong_geometry_is_one_clear_error(tmp_path):
    save_checkpoint(tmp_path / "ae.pt", tiny_config("ae", 16, 1).setup())
    with pytest.raises(CheckpointError, match="trained on 1x16x16 images, but 1x32x32"):
        load_model(tmp_path / "ae.pt", image_size=32)
    with pytest.raises(CheckpointError, match="trained on 1x16x16 images, but 3x16x16"):
        load_model(tmp_path / "ae.pt", channels=3)


def test_missing_and_corrupt_checkpoints_are_refused(tmp_path):
    with pytest.raises(CheckpointError, match="checkpoint not found"):
        load_model(tmp_path / "nope.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(os.urandom(512))
    with pytest.raises(CheckpointError, match="corrupt or was not written by Obscura"):
        load_model(bad)
    good = tmp_path / "good.pt"
    save_checkpoint(good, tiny_config("vae").setup())
    truncated = tmp_path / "trunc.pt"
    truncated.write_bytes(good.read_bytes()[:2000])
    with pytest.raises(CheckpointError, match="corrupt"):
        load_model(truncated)
    other = tmp_path / "plain.pt"
    torch.save({"weights": torch.zeros(3)}, other)
    with pytest.raises(CheckpointError, match="not an Obscura checkpoint"):
        load_model(other)


class Payload:
    def __reduce__(self):
        return (Path.touch, (Path(os.environ["OBSCURA_TEST_MARKER"]),))


def test_checkpoint_with_pickled_code_is_never_executed(tmp_path, monkeypatch):
    marker = tmp_path / "executed"
    monkeypatch.setenv("OBSCURA_TEST_MARKER", str(marker))
    evil = tmp_path / "evil.pt"
    torch.save({"format": "obscura.checkpoint", "version": 2, "x": Payload()}, evil)
    with pytest.raises(CheckpointError, match="not loaded"):
        load_model(evil)
    time.sleep(0.05)
    assert not marker.exists()


def test_mismatched_weights_are_one_clear_error(tmp_path):
    model = tiny_config("vae").setup()
    path = save_checkpoint(tmp_path / "v.pt", model)
    payload = torch.load(path, weights_only=True)
    payload["config"] = payload["config"].replace('"base_channels": 8', '"base_channels": 16')
    torch.save(payload, path)
    with pytest.raises(CheckpointError, match="weights do not fit the vae architecture"):
        load_model(path)
