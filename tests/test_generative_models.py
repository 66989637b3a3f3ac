"""Each generative family on a tiny seeded config: shapes, a step lowers the loss, sampling, blending."""

import pytest
import torch

from obscura.errors import ObscuraError
from obscura.generative import metrics as M
from obscura.generative.registry import MODELS, make_config, tiny_config
from obscura.generative.train import TrainSettings, train
from obscura.generative.vae import VAE

GEOMETRIES = [(1, 16), (3, 32)]


def batch(c=1, s=16, n=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand((n, c, s, s), generator=g) * 2 - 1


def build(name, c=1, s=16):
    torch.manual_seed(0)
    return tiny_config(name, s, c).setup()


def test_unknown_model_lists_names():
    with pytest.raises(ObscuraError, match="unknown generative model 'flow'.*ae, vae, gan, ddpm, ldm"):
        make_config("flow")
    with pytest.raises(ObscuraError, match="unknown config field.*latent_dim"):
        make_config("vae", latent_dim=3)


@pytest.mark.parametrize("c,s", GEOMETRIES)
@pytest.mark.parametrize("name", ["ae", "vae", "ldm"])
def test_autoencoding_shapes(name, c, s):
    model = build(name, c, s)
    x = batch(c, s, 4)
    z = model.encode(x)
    assert z.shape == (4, 2, s // 4, s // 4)
    assert model.decode(z).shape == x.shape


@pytest.mark.parametrize("c,s", GEOMETRIES)
def test_gan_and_ddpm_shapes(c, s):
    gan = build("gan", c, s)
    z = gan.noise(4)
    assert gan.generator(z).shape == (4, c, s, s)
    assert gan.discriminator(batch(c, s, 4)).shape == (4,)
    ddpm = build("ddpm", c, s)
    assert ddpm.unet(batch(c, s, 3), torch.tensor([0, 10, 49])).shape == (3, c, s, s)


@pytest.mark.parametrize("name", ["ae", "vae", "ddpm", "ldm"])
def test_one_step_lowers_loss_on_fixed_batch(name):
    model = build(name)
    x = model.training_data(batch())
    opts = model.configure_optimizers(2e-3)
    before = model.loss(x, torch.Generator().manual_seed(5))[0].item()
    model.training_step(x, opts, torch.Generator().manual_seed(5))
    after = model.loss(x, torch.Generator().manual_seed(5))[0].item()
    assert after < before


def test_gan_discriminator_and_generator_steps_lower_their_losses():
    gan = build("gan")
    x, z = batch(), gan.noise(8, torch.Generator().manual_seed(1))
    opts = gan.configure_optimizers(2e-3)
    d0 = gan.d_loss(x, z)[0].item()
    opts["discriminator"].zero_grad()
    gan.d_loss(x, z)[0].backward()
    opts["discriminator"].step()
    assert gan.d_loss(x, z)[0].item() < d0
    g0 = gan.g_loss(z).item()
    opts["generator"].zero_grad()
    gan.g_loss(z).backward()
    opts["generator"].step()
    assert gan.g_loss(z).item() < g0


def test_gan_samples_from_an_ema_of_the_generator():
    gan = build("gan")
    before = [p.clone() for p in gan.ema.parameters()]
    gan.training_step(batch(), gan.configure_optimizers(2e-3), torch.Generator().manual_seed(0))
    d = min(gan.config.ema_decay, 1 / 10)                       # first update of the warm-up
    for b, e, p in zip(before, gan.ema.parameters(), gan.generator.parameters()):
        assert torch.allclose(e, d * b + (1 - d) * p, atol=1e-6)
    gan.eval()
    z = gan.noise(4, torch.Generator().manual_seed(1))
    assert torch.allclose(gan.decode(z), gan.ema(z)) and not torch.allclose(gan.decode(z), gan.generator(z))
    plain = make_config("gan", image_size=16, base_channels=8, z_dim=8, ema_decay=0.0).setup().eval()
    assert torch.equal(plain.decode(z), plain.generator(z))
    with pytest.raises(ObscuraError, match="ema_decay"):
        make_config("gan", ema_decay=1.0)


def test_gan_minimax_generator_loss_is_log_one_minus_d():
    gan = make_config("gan", image_size=16, base_channels=8, z_dim=8, generator_loss="minimax").setup().eval()
    z = gan.noise(4, torch.Generator().manual_seed(0))
    d = torch.sigmoid(gan.discriminator(gan.generator(z)))
    assert torch.allclose(gan.g_loss(z), torch.log(1 - d).mean(), atol=1e-5)
    with pytest.raises(ObscuraError, match="generator_loss"):
        make_config("gan", generator_loss="wasserstein")


@pytest.mark.parametrize("c,s", GEOMETRIES)
@pytest.mark.parametrize("name", list(MODELS))
def test_sample_shape_and_range(name, c, s):
    model = build(name, c, s).eval()
    out = model.sample(3, torch.Generator().manual_seed(0))
    assert out.shape == (3, c, s, s)
    assert out.min() >= -1 and out.max() <= 1 and torch.isfinite(out).all()
    again = model.sample(3, torch.Generator().manual_seed(0))
    assert torch.equal(out, again)


def test_ae_blend_endpoints_reconstruct_inputs():
    model = build("ae")
    x = batch(n=8)
    train(model, x, TrainSettings(epochs=120, batch_size=8, lr=4e-3, seed=0), progress=False)
    strip = M.blend(model, x[0], x[1], 5)
    assert strip.shape == (5, 1, 16, 16)
    with torch.no_grad():
        assert torch.allclose(strip[0], model(x[:1])[0], atol=1e-6)
        assert torch.allclose(strip[-1], model(x[1:2])[0], atol=1e-6)
    assert torch.mean((strip[0] - x[0]) ** 2) < 0.05
    assert torch.mean((strip[-1] - x[1]) ** 2) < 0.05
    # the midpoint is not an endpoint
    assert torch.mean((strip[2] - strip[0]) ** 2) > 1e-3


def test_gan_cannot_blend_images():
    gan = build("gan")
    with pytest.raises(ObscuraError, match="no encoder"):
        M.blend(gan, batch()[0], batch()[1], 3)


def test_kl_is_nonnegative_and_matches_torch_distributions():
    g = torch.Generator().manual_seed(0)
    mu, logvar = torch.randn((6, 2, 4, 4), generator=g), torch.randn((6, 2, 4, 4), generator=g)
    kl = VAE.kl(mu, logvar)
    ref = torch.distributions.kl_divergence(
        torch.distributions.Normal(mu, (0.5 * logvar).exp()), torch.distributions.Normal(0.0, 1.0)).flatten(1).sum(1)
    assert torch.allclose(kl, ref, atol=1e-4)
    assert (kl >= 0).all()
    assert torch.allclose(VAE.kl(torch.zeros(2, 3), torch.zeros(2, 3)), torch.zeros(2))
    vae = build("vae")
    assert (vae.terms(batch())["kl"] >= 0).all()


def test_vae_importance_nll_bounded_by_elbo():
    vae = build("vae")
    x = batch(n=16)
    train(vae, x, TrainSettings(epochs=20, batch_size=8, lr=3e-3, seed=0), progress=False)
    r = M.vae_likelihood(vae, x[:4], k=256, seed=0)
    assert r["kl"] >= 0
    # log p(x) ≥ IWAE_k ≥ ELBO: the importance-sampled NLL is strictly below −ELBO for a trained VAE
    assert r["nll_is"] < -r["elbo"]
    assert r["nll_is"] > 0


def test_ldm_latent_scale_unit_variance():
    ldm = build("ldm")
    x = batch(n=32)
    scale = ldm.fit_latent_scale(x)
    assert scale > 0
    moments = ldm.training_data(x)
    assert moments.shape == (32, 4, 4, 4)
    z = ldm.latents(moments, torch.Generator().manual_seed(0))
    assert abs(float(z.std()) - 1.0) < 0.2


def test_ldm_rejects_mismatched_autoencoder():
    cfg = tiny_config("ldm", 16, 1)
    cfg.autoencoder_config = {**cfg.autoencoder_config, "image_size": 32}
    with pytest.raises(ObscuraError, match="autoencoder works on 1x32x32"):
        cfg.setup()


def test_wrong_input_geometry_is_one_clear_error():
    model = build("vae")
    with pytest.raises(ObscuraError, match=r"expects images of shape \(N, 1, 16, 16\)"):
        train(model, batch(3, 16), TrainSettings(epochs=1, batch_size=4, lr=1e-3), progress=False)


@pytest.mark.parametrize("name", ["ae", "vae", "gan", "ddpm", "ldm"])
def test_native_28x28_fashion_mnist_size(name):
    model = build(name, 1, 28).eval()
    assert model.sample(2, torch.Generator().manual_seed(0)).shape == (2, 1, 28, 28)
    x = model.training_data(batch(1, 28, 4))
    assert torch.isfinite(model.loss(x, torch.Generator().manual_seed(0))[0])
