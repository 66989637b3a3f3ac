"""DDPMScheduler maths: schedules, q(x_t|x_0), ancestral vs DDIM, and the deterministic (ODE) limit."""

import pytest
import torch

from obscura.errors import ObscuraError
from obscura.generative.ddpm import Diffusion
from obscura.generative.scheduler import DDPMScheduler
from obscura.generative.unet import UNet


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
def test_schedule_shapes_and_limits(schedule):
    s = DDPMScheduler(1000, schedule)
    assert s.betas.shape == (1000,) and s.num_train_timesteps == 1000
    assert (s.betas > 0).all() and (s.betas < 1).all()
    assert (s.alphas_cumprod[1:] < s.alphas_cumprod[:-1]).all()
    assert s.alphas_cumprod[0] > 0.99 and s.alphas_cumprod[-1] < 1e-3
    assert torch.allclose(s.alphas_cumprod, torch.cumprod(1 - s.betas, 0))


def test_linear_schedule_matches_ho_et_al():
    s = DDPMScheduler(1000, "linear")
    assert torch.allclose(s.betas, torch.linspace(1e-4, 0.02, 1000, dtype=torch.float64))


def test_unknown_schedule_is_clear_error():
    with pytest.raises(ObscuraError, match="unknown beta_schedule 'quadratic'"):
        DDPMScheduler(100, "quadratic")


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
@pytest.mark.parametrize("t", [0, 250, 999])
def test_q_xt_given_x0_statistics_match_schedule(schedule, t):
    s = DDPMScheduler(1000, schedule)
    g = torch.Generator().manual_seed(0)
    x0 = torch.full((200_000,), 0.7)
    xt = s.add_noise(x0, torch.randn(x0.shape, generator=g), t)
    a = float(s.alphas_cumprod[t])
    assert abs(float(xt.mean()) - a ** 0.5 * 0.7) < 0.01
    assert abs(float(xt.var()) - (1 - a)) < 0.01 * max(1 - a, 0.02) + 2e-4
    # per-sample timesteps broadcast over image dims
    x = torch.ones(3, 2, 4, 4)
    out = s.add_noise(x, torch.zeros_like(x), torch.tensor([0, 10, 999]))
    assert torch.allclose(out[:, 0, 0, 0], s.alphas_cumprod[[0, 10, 999]].sqrt().float())


def test_one_forward_step_composes_to_q_xt():
    s = DDPMScheduler(100, "linear")
    g = torch.Generator().manual_seed(1)
    x = torch.full((100_000,), -0.5)
    for t in range(0, 30):
        x = s.add_noise_step(x, torch.randn(x.shape, generator=g), t)
    a = float(s.alphas_cumprod[29])
    assert abs(float(x.mean()) + 0.5 * a ** 0.5) < 0.01 and abs(float(x.var()) - (1 - a)) < 0.01


def gaussian_eps(s: DDPMScheduler, mu: float, sd: float):
    """The exact ε-predictor when the data are N(mu, sd²): E[ε | x_t]."""
    def eps(x, t):
        a = float(s.alphas_cumprod[t])
        return (1 - a) ** 0.5 * (x - a ** 0.5 * mu) / (a * sd ** 2 + 1 - a)
    return eps


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
def test_ddim_eta1_all_steps_equals_ancestral_ddpm(schedule):
    s = DDPMScheduler(200, schedule, clip_sample=True)
    eps = gaussian_eps(s, 0.3, 0.4)
    g = torch.Generator().manual_seed(0)
    x_T = torch.randn(64, generator=g)
    noises = [torch.randn(64, generator=g) for _ in s.timesteps()]
    a = b = x_T
    ts = s.ddim_timesteps(200)
    assert ts == s.timesteps()
    for k, (t, t_prev) in enumerate(zip(ts, [*ts[1:], -1])):
        a = s.step(eps(a, t), t, a, noise=noises[k])
        b = s.ddim_step(eps(b, t), t, t_prev, b, eta=1.0, noise=noises[k])
    assert torch.allclose(a, b, atol=1e-4)


def test_ddim_all_steps_reaches_the_deterministic_flow_limit():
    """η = 0 with every step integrates the probability-flow ODE; for Gaussian data its solution is the
    affine map that keeps x_t's standardised value: x_0 = μ + σ (x_T − √ᾱ_T μ)/√(ᾱ_T σ² + 1 − ᾱ_T)."""
    mu, sd = 0.3, 0.4
    s = DDPMScheduler(1000, "linear", clip_sample=False)
    eps = gaussian_eps(s, mu, sd)
    x_T = torch.linspace(-2.5, 2.5, 11, dtype=torch.float64)
    aT = float(s.alphas_cumprod[-1])
    exact = mu + sd * (x_T - aT ** 0.5 * mu) / (aT * sd ** 2 + 1 - aT) ** 0.5

    def run(steps):
        x = x_T.clone()
        ts = s.ddim_timesteps(steps)
        for t, t_prev in zip(ts, [*ts[1:], -1]):
            x = s.ddim_step(eps(x, t), t, t_prev, x, eta=0.0)
        return x

    err = {n: float((run(n) - exact).abs().max()) for n in (50, 500, 1000)}
    assert err[1000] < 5e-3                       # all steps: within tolerance of the exact limit
    assert 1.7 < err[500] / err[1000] < 2.3       # first-order convergence towards it
    assert err[50] < 0.08
    # determinism: no generator involved, same result twice
    assert torch.equal(run(50), run(50))


def test_ancestral_sampling_recovers_gaussian_data_distribution():
    mu, sd = -0.2, 0.3
    s = DDPMScheduler(300, "cosine", clip_sample=False)
    eps = gaussian_eps(s, mu, sd)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(20_000, generator=g, dtype=torch.float64)
    for t in s.timesteps():
        x = s.step(eps(x, t), t, x, generator=g)
    assert abs(float(x.mean()) - mu) < 0.02 and abs(float(x.std()) - sd) < 0.02


def test_ddim_timesteps_and_bad_counts():
    s = DDPMScheduler(1000)
    ts = s.ddim_timesteps(50)
    assert len(ts) == 50 and ts[0] == 999 and ts[-1] == 0 and ts == sorted(ts, reverse=True)
    with pytest.raises(ObscuraError, match="DDIM steps must be in 1..1000"):
        s.ddim_timesteps(0)


@pytest.mark.parametrize("channels,size", [(1, 32), (3, 32), (1, 64), (3, 64)])
def test_unet_shapes(channels, size):
    net = UNet(channels, base_channels=8, channel_mults=(1, 2, 2), attention=True)
    x = torch.randn(2, channels, size, size)
    assert net(x, torch.tensor([3, 700])).shape == x.shape
    assert net(x, 5).shape == x.shape


def test_unet_rejects_indivisible_size():
    net = UNet(1, base_channels=8, channel_mults=(1, 2, 2))
    with pytest.raises(ObscuraError, match="divisible by 4"):
        net(torch.randn(1, 1, 30, 30), 0)


class GaussianEps(torch.nn.Module):
    def __init__(self, s, mu, sd):
        super().__init__()
        self.eps = gaussian_eps(s, mu, sd)

    def forward(self, x, t):
        return self.eps(x, int(t))


def test_ddim_inversion_then_sampling_returns_the_image():
    s = DDPMScheduler(1000, "linear", clip_sample=False)
    d = Diffusion((1, 8, 8), 8, (1,), False, s, ema_decay=0.0)
    d.unet = GaussianEps(s, 0.1, 0.5)
    x0 = torch.rand(2, 1, 8, 8, generator=torch.Generator().manual_seed(0)) - 0.5
    x_T = d.invert(x0, steps=200)
    aT = float(s.alphas_cumprod[-1])           # the exact inverse flow map for N(0.1, 0.5²) data
    assert torch.allclose(x_T, aT ** 0.5 * 0.1 + (x0 - 0.1) / 0.5 * (aT * 0.25 + 1 - aT) ** 0.5, atol=0.03)
    back = d.sample(2, sampler="ddim", steps=200, x_T=x_T)
    assert torch.allclose(back, x0, atol=0.02)


def test_min_snr_weighting_reweights_each_image_by_its_timestep():
    from obscura.generative.ddpm import min_snr_weight

    sched = DDPMScheduler(100, "cosine")
    t = torch.arange(100)
    snr = sched.alphas_cumprod / (1 - sched.alphas_cumprod)
    w = min_snr_weight(sched, t, 5.0)
    assert torch.allclose(w, torch.where(snr > 5, 5 / snr, torch.ones_like(snr)))
    assert w[0] < 0.01 and w[-1] == 1                              # nearly clean steps weigh little

    x0 = torch.rand(6, 1, 8, 8) * 2 - 1
    plain = Diffusion((1, 8, 8), 8, (1, 2), False, sched, 0.0)
    weighted = Diffusion((1, 8, 8), 8, (1, 2), False, sched, 0.0, min_snr_gamma=5.0)
    weighted.load_state_dict(plain.state_dict())
    big = Diffusion((1, 8, 8), 8, (1, 2), False, sched, 0.0, min_snr_gamma=1e30)
    big.load_state_dict(plain.state_dict())
    loss = {k: m.loss(x0, torch.Generator().manual_seed(3)) for k, m in
            (("plain", plain), ("weighted", weighted), ("big", big))}
    assert torch.allclose(loss["big"], loss["plain"])              # gamma above every SNR: the plain loss
    # by hand: the same draws of t and noise, each image's squared error times its weight
    g = torch.Generator().manual_seed(3)
    tt = torch.randint(0, 100, (6,), generator=g)
    noise = torch.randn(x0.shape, generator=g)
    err = (plain.unet(sched.add_noise(x0, noise, tt), tt) - noise).pow(2).flatten(1).mean(1)
    assert torch.allclose(loss["weighted"], (err * min_snr_weight(sched, tt, 5.0).float()).mean())
