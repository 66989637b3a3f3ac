import numpy as np
import pytest
import torch
from skimage import data
from skimage.transform import resize

from obscura.errors import ObscuraError
from obscura.inpainting.deep.base import hole_l1, hole_mse
from obscura.inpainting.deep.data import CropSampler
from obscura.inpainting.deep.diffusion import repaint_path
from obscura.inpainting.deep.edge_guided import canny_edges, known_edges
from obscura.inpainting.deep.nets import pyramid_fill
from obscura.inpainting.deep.registry import METHODS, load_checkpoint, make_config, save_checkpoint
from obscura.inpainting.deep.train import train



pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def photos():
    return [resize(data.astronaut(), (64, 64), anti_aliasing=True).astype(np.float32),
            resize(data.rocket()[:, 100:500], (48, 64), anti_aliasing=True).astype(np.float32)]


@pytest.mark.parametrize("name", sorted(METHODS))
def test_tiny_config_learns_and_keeps_shape(name, photos):
    torch.manual_seed(0)
    config = make_config(name, tiny=True)
    model = config.setup()
    batch = CropSampler(photos, 32, seed=1, edges=config.uses_edges, buckets=[(20, 40)]).batch(4)  # sizeable holes
    opt = torch.optim.Adam(model.generator_parameters(), lr=1e-3)  # 3e-3 overshoots on some batches (coarse_to_fine)
    losses = []
    for _ in range(8):
        torch.manual_seed(1)  # same timesteps/noise/teacher-forcing draws each step: a fixed objective
        loss, logs, out = model.generator_loss(batch)
        assert out.shape == batch["image"].shape
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    model.eval()
    image = torch.rand(1, 3, 21, 30)  # odd size: padding must be undone
    hole = torch.zeros(1, 1, 21, 30)
    hole[..., 5:15, 8:20] = 1
    with torch.no_grad():
        out = model(image, hole)
    assert out.shape == image.shape
    known = hole.expand_as(image) == 0
    assert torch.equal(out[known], image[known])  # known pixels exactly unchanged
    assert out.min() >= 0 and out.max() <= 1


def test_discriminator_step_runs(photos):
    model = make_config("single_stage", tiny=True).setup()
    batch = CropSampler(photos, 32).batch(2)
    _, _, out = model.generator_loss(batch)
    d = model.discriminator_loss(batch["image"], out, batch["hole"])
    d.backward()
    assert all(p.grad is not None for p in model.discriminator.parameters() if p.requires_grad)


def test_checkpoint_round_trip(tmp_path):
    model = make_config("coarse_to_fine", tiny=True).setup().eval()
    save_checkpoint(tmp_path / "ckpt", model)
    name, loaded = load_checkpoint(tmp_path / "ckpt")
    image, hole = torch.rand(1, 3, 16, 16), torch.zeros(1, 1, 16, 16)
    hole[..., 4:10, 4:10] = 1
    with torch.no_grad():
        assert name == "coarse_to_fine" and torch.equal(model(image, hole), loaded(image, hole))
    with pytest.raises(ObscuraError, match="checkpoint not found; train it with"):
        load_checkpoint(tmp_path)


def test_registry_rejects_unknowns():
    with pytest.raises(ObscuraError, match="unknown deep inpainting method"):
        make_config("magic")
    with pytest.raises(ObscuraError, match="unknown config field"):
        make_config("single_stage", widht=3)


def test_registry_converts_or_rejects_field_types():
    config = make_config("single_stage", adv_weight="1e-3", width="8", fill_cycles=2)
    assert config.adv_weight == 0.001 and type(config.adv_weight) is float and config.width == 8
    assert type(make_config("single_stage", adv_weight=0).adv_weight) is float
    import numpy as np

    numpy_config = make_config("single_stage", adv_weight=np.float64(0.2), width=np.int64(8), blocks=2e0)
    assert (numpy_config.adv_weight, numpy_config.width, numpy_config.blocks) == (0.2, 8, 2)
    assert type(numpy_config.width) is int and type(numpy_config.blocks) is int
    for field, value in (("width", 16.5), ("width", "wide"), ("adv_weight", True), ("loss", 1)):
        with pytest.raises(ObscuraError, match=f"config field {field} must be"):
            make_config("single_stage", **{field: value})


def test_pyramid_fill_is_constant_on_constant_image():
    image = torch.full((2, 3, 17, 23), 0.3)
    hole = (torch.rand(2, 1, 17, 23) < 0.6).float()
    filled = pyramid_fill(image * (1 - hole), hole)
    torch.testing.assert_close(filled, image)


def test_canny_targets_and_known_edges():
    image = torch.zeros(1, 3, 32, 32)
    image[..., :, 16:] = 1.0
    edges = canny_edges(image)
    assert edges[0, 0, :, 14:18].sum() >= 30 and edges[0, 0, :, :12].sum() == 0
    hole = torch.zeros(1, 1, 32, 32)
    hole[..., 10:20, 10:20] = 1
    seen, grown = known_edges(edges, hole)
    assert seen[..., 8:22, 8:22].sum() == 0 and seen.sum() > 0


def test_hole_losses_ignore_known_pixels():
    a, b = torch.zeros(1, 3, 4, 4), torch.full((1, 3, 4, 4), 2.0)
    hole = torch.zeros(1, 1, 4, 4)
    hole[..., :2, :] = 1
    b[..., 2:, :] = 5.0
    assert hole_l1(b, a, hole).item() == pytest.approx(2.0)
    assert hole_mse(b, a, hole).item() == pytest.approx(4.0)


def test_hole_loss_is_the_configured_one():
    image, hole = torch.rand(2, 3, 16, 16), torch.zeros(2, 1, 16, 16)
    hole[..., 4:12, 4:12] = 1
    out = image + 0.1 * torch.randn_like(image)
    for loss, reference in (("mse", hole_mse), ("l1", hole_l1)):
        model = make_config("single_stage", tiny=True, loss=loss).setup()
        assert model.hole_loss(out, image, hole).item() == pytest.approx(reference(out, image, hole).item())
    with pytest.raises(ObscuraError, match="loss must be one of mse, l1"):
        make_config("single_stage", loss="l2")


@pytest.mark.parametrize("strength, jump", [(1.0, 1), (0.5, 1), (1.0, 2), (0.5, 3)])
def test_repaint_with_oracle_denoiser_recovers_the_hole(strength, jump):
    """With the exact noise predictor for a known x0, the RePaint chain must land on x0 in the hole:
    checks the strided steps, the re-noised pasting of known pixels and the resampling jumps."""
    model = make_config("diffusion", tiny=True, sample_steps=5, resample=3, strength=strength, jump=jump).setup()
    target = torch.rand(1, 3, 16, 16)
    x0 = target * 2 - 1
    sched = model.diffusion.scheduler

    class Oracle(torch.nn.Module):
        def forward(self, x, t):
            a = sched.alpha_bar(t, x)
            return (x - a.sqrt() * x0) / (1 - a).sqrt()

    model.diffusion.ema = Oracle()
    hole = torch.zeros(1, 1, 16, 16)
    hole[..., 3:12, 4:13] = 1
    out = model(target * (1 - hole), hole)
    torch.testing.assert_close(out, target, atol=1e-4, rtol=0)


def test_repaint_path_is_the_papers_schedule():
    """Jump length 1 repeats every step (down, up, down); longer jumps go back up that many steps at each
    multiple of the jump length; the last step lands on x_0 once."""
    assert repaint_path(3, 1, 2) == [0, 1, 0, 1, 2, 1, 2, 3]
    assert repaint_path(5, 2, 2) == [0, 1, 2, 1, 0, 1, 2, 3, 4, 3, 2, 3, 4, 5]
    assert repaint_path(4, 1, 1) == [0, 1, 2, 3, 4]
    for n, jump, resample in [(10, 3, 4), (7, 2, 3), (6, 10, 2)]:
        path = repaint_path(n, jump, resample)
        moves = np.diff(path)
        assert path[0] == 0 and path[-1] == n and set(moves) <= {-1, 1}
        assert (moves == 1).sum() == n + (resample - 1) * jump * len(range(jump, n, jump))


@pytest.mark.parametrize("bad", [{"jump": 0}, {"resample": 0}, {"strength": 0.0}, {"strength": 1.5},
                                 {"precision": "fp16"}])
def test_repaint_config_refuses_bad_schedules(bad):
    with pytest.raises(ObscuraError, match="diffusion"):
        make_config("diffusion", tiny=True, **bad)


def test_repaint_model_trains_in_bf16_when_asked():
    """precision=bf16: the ε-loss runs under bfloat16 autocast (near the fp32 loss on the same batch and noise, not
    equal to it, and float32 itself); inference stays fp32 (the same weights fill the same hole identically)."""
    batch = {"image": torch.rand(8, 3, 16, 16)}
    image, hole = torch.rand(1, 3, 16, 16), (torch.rand(1, 1, 16, 16) < 0.3).float()
    losses, fills = {}, {}
    for precision in ("fp32", "bf16"):
        torch.manual_seed(0)
        model = make_config("diffusion", tiny=True, precision=precision).setup()
        torch.manual_seed(1)
        losses[precision] = model.generator_loss(batch)[0]
        fills[precision] = model.eval()(image, hole)
    assert losses["bf16"].dtype == torch.float32 and losses["bf16"] != losses["fp32"]
    assert float(losses["bf16"]) == pytest.approx(float(losses["fp32"]), rel=0.05)
    assert torch.equal(fills["bf16"], fills["fp32"])


@pytest.mark.parametrize("below, limit", [(True, 15), (False, 50)])
def test_repaint_model_trains_on_the_timesteps_its_chain_visits(below, limit):
    """train_below_start: the ε-loss draws t only below the chain's start, round(strength·T); else all T."""
    model = make_config("diffusion", tiny=True, strength=0.3, train_below_start=below).setup()
    assert model.start_timestep() == 14
    seen = []
    unet = model.diffusion.unet
    unet.register_forward_hook(lambda mod, args, out: seen.append(args[1]))
    batch = {"image": torch.rand(64, 3, 8, 8)}
    torch.manual_seed(0)
    for _ in range(4):
        model.generator_loss(batch)
    t = torch.cat(seen)
    assert int(t.max()) == limit - 1 and int(t.min()) == 0


def test_interrupted_training_resumes_to_identical_weights(tmp_path, photos):
    """The shared loop: a run stopped after a checkpoint and restarted ends where an uninterrupted one does."""
    def run(state=None, log=None):
        torch.manual_seed(0)
        model = make_config("edge_guided", tiny=True).setup()
        sampler = CropSampler(photos, 32, seed=1, edges=True)
        metrics = train(model, sampler, 8, 2, 1e-3, seed=3, state_path=state, log=log, log_every=1,
                        checkpoint_every=3, progress=False)
        return model, metrics

    def crash(logs, step):
        if step == 7:
            raise KeyboardInterrupt

    ref, ref_metrics = run()
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "s.pt", crash)
    resumed, metrics = run(tmp_path / "s.pt")
    assert metrics["resumed_from_step"] == 6
    assert metrics["final_loss"] == ref_metrics["final_loss"]
    assert all(torch.equal(v, ref.state_dict()[k]) for k, v in resumed.state_dict().items())
