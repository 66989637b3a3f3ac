"""Every trainer, killed with SIGKILL mid-run and started again, ends with the weights of an
uninterrupted run; and two fresh processes with the same seed train identical weights."""

import hashlib
import os
import signal
import subprocess
import sys

import pytest

SCRIPT = r'''
import hashlib, sys, time
import numpy as np, torch
torch.set_num_threads(1)
name, state, mode = sys.argv[1], sys.argv[2] if sys.argv[2] != "-" else None, sys.argv[3]

def tick(logs, step):
    print(step, flush=True)
    if mode == "slow":
        time.sleep(0.4)

def digest(tensors):
    h = hashlib.sha256()
    for k in sorted(tensors):
        h.update(k.encode()); h.update(tensors[k].detach().contiguous().numpy().tobytes())
    return h.hexdigest()

x = torch.rand((48, 1, 16, 16), generator=torch.Generator().manual_seed(3)) * 2 - 1
if name in ("vae", "gan", "ddpm", "ldm"):
    from obscura.generative.registry import tiny_config
    from obscura.generative.train import TrainSettings, train
    torch.manual_seed(0)
    extra = {"ema_decay": 0.9} if name in ("ddpm", "ldm") else {}
    from obscura.generative.registry import MODELS
    model = MODELS.make(name, tiny=True, **extra).setup()
    if name == "ldm":
        model.fit_latent_scale(x)
    train(model, x, TrainSettings(2, 8, 2e-3, seed=7, checkpoint_every=3, log_every=1), state_path=state,
          on_step=lambda s, l: tick(l, s), progress=False)
    out = model.state_dict()
elif name == "classifier":
    from obscura.generative.classifier import train_classifier
    y = torch.arange(48) % 10
    out = train_classifier(x, y, 2, 8, 2e-3, seed=7, log=tick, state_path=state, progress=False, log_every=1,
                           checkpoint_every=3).state_dict()
elif name == "inpainting":
    from skimage import data
    from skimage.transform import resize
    from obscura.inpainting.deep.data import CropSampler
    from obscura.inpainting.deep.registry import make_config
    from obscura.inpainting.deep.train import train
    torch.manual_seed(0)
    model = make_config("edge_guided", tiny=True).setup()
    photo = resize(data.astronaut(), (48, 48), anti_aliasing=True).astype(np.float32)
    train(model, CropSampler([photo], 32, seed=1, edges=True), 12, 2, 1e-3, seed=3, log=tick, log_every=1,
          checkpoint_every=3, state_path=state, progress=False)
    out = model.state_dict()
elif name == "gaussians":
    from pathlib import Path
    from obscura.rendering.gaussians.registry import make_config
    from obscura.rendering.gaussians.train import train
    scene, out_dir = Path(sys.argv[4]), Path(sys.argv[5])
    model, _ = train(scene, out_dir, make_config(tiny=True, steps=24, refine_start=6, refine_every=6, refine_stop=18),
                     "ground_truth", seed=3, log=tick, log_every=1, checkpoint_every=3, progress=False)
    out = {k: getattr(model, k) for k in ("means", "log_scales", "quats", "opacity_logits", "sh_dc", "sh_rest")}
print("digest", digest(out), flush=True)
'''

TRAINERS = ["vae", "gan", "ddpm", "ldm", "classifier", "inpainting", "gaussians"]


@pytest.fixture(scope="module")
def script(tmp_path_factory):
    path = tmp_path_factory.mktemp("kill9") / "train.py"
    path.write_text(SCRIPT)
    return path


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    from obscura.rendering.scenes import build_scene, make_scene

    root = tmp_path_factory.mktemp("kill9scene") / "orbit"
    make_scene("orbit", build_scene("orbit", 9, 48, 36), root, supersample=1, gt_points=800, progress=False)
    return root


def run(script, name, state, mode, scene, out):
    extra = [str(scene), str(out)] if name == "gaussians" else []
    return [sys.executable, str(script), name, str(state) if state else "-", mode, *extra]


def last_digest(stdout: str) -> str:
    return [line for line in stdout.splitlines() if line.startswith("digest")][-1]


@pytest.mark.slow
@pytest.mark.parametrize("name", TRAINERS)
def test_kill_9_then_rerun_matches_an_uninterrupted_run(script, scene, tmp_path, name):
    state = tmp_path / "state.pt"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(run(script, name, state, "slow", scene, tmp_path / "a"), stdout=subprocess.PIPE,
                            text=True, env=env)
    for line in proc.stdout:                # step 5 logged: the checkpoint at step 3 is on disk
        if line.strip() == "5":
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    resumed = subprocess.run(run(script, name, state, "fast", scene, tmp_path / "a"), capture_output=True,
                             text=True, env=env, check=True).stdout
    assert resumed.split()[0] != "1"        # it did not start again from the first step
    clean = subprocess.run(run(script, name, None, "fast", scene, tmp_path / "b"), capture_output=True, text=True,
                           env=env, check=True).stdout
    again = subprocess.run(run(script, name, None, "fast", scene, tmp_path / "c"), capture_output=True, text=True,
                           env=env, check=True).stdout
    assert last_digest(resumed) == last_digest(clean) == last_digest(again)
