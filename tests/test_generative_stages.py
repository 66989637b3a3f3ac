"""The generative stages end to end on tiny params: reference features, training (LDM on the VAE),
evaluation metrics and images, MLflow runs and registered models."""

import json
import math

import pytest

from obscura.config import parse_params
from obscura.errors import ObscuraError


@pytest.fixture
def tiny_generative(tiny_prepare, raw_params, tmp_path, mlflow_store):
    from stages import prepare

    tiny_prepare["prepare"].update(train_limit=256, test_limit=64)
    prepare.run(parse_params(tiny_prepare))
    g = raw_params["generative"]
    g["prepared"] = tiny_prepare["prepare"]["output"]
    g.update(output=str(tmp_path / "data"), reports=str(tmp_path / "reports"), checkpoint_every=2, log_every=1,
             epoch_fd_samples=8)
    for name in ("ae", "vae", "gan", "ddpm", "ldm"):
        g[name].update(train_images=64, epochs=1, batch_size=32)
    for name in ("ae", "vae", "ddpm", "ldm"):
        g[name]["base_channels"] = 8
    g["ddpm"].update(ddim_steps=3, num_train_timesteps=50)
    g["ldm"].update(ddim_steps=3, num_train_timesteps=50)
    g["eval"].update(fid_samples=6, real_samples=8, kid_subset_size=4, kid_subsets=3, recon_images=8,
                     nll_images=4, nll_k=4, grid=4, blend_steps=3, batch_size=8)
    g["classifier"].update(train_images=128, epochs=1, batch_size=32)
    return parse_params(raw_params)


@pytest.mark.slow
def test_generative_pipeline_on_tiny_params(tiny_generative, tmp_path):
    import mlflow
    from mlflow.tracking import MlflowClient

    from stages import evaluate_generative, generative_classifier, generative_reference, train_generative

    p = tiny_generative
    with pytest.raises(ObscuraError, match="data/ae/model.pt: checkpoint not found"):
        train_generative.run(p, "ldm")                      # the LDM needs the trained autoencoder
    generative_classifier.run(p)
    ref = generative_reference.run(p)
    assert ref["real_samples"] == 8 and ref["fid_real_baseline"] > 0
    for name in ("ae", "ldm", "gan"):
        out = train_generative.run(p, name)
        assert out["steps"] == 2 and out["resumed_from_step"] == 0
    assert not (tmp_path / "data" / ".state" / "ldm.pt").exists()
    m = evaluate_generative.run(p, "ldm")
    for key in ("fid", "kid", "kid_std", "fd_classifier", "fid_real_baseline", "fd_classifier_real_baseline",
                "blend_off_manifold", "samples_per_second", "train_seconds"):
        assert key in m
    assert m["fid"] > 0 and m["fd_classifier"] > 0
    on_disk = json.loads((tmp_path / "reports" / "ldm" / "metrics.json").read_text())
    assert on_disk["fid_samples"] == 6 and on_disk["train_steps"] == 2
    assert (tmp_path / "data" / "ldm" / "samples.png").stat().st_size > 0
    assert (tmp_path / "data" / "ldm" / "blend.png").stat().st_size > 0
    assert (tmp_path / "reports" / "ae" / "loss.csv").read_text().startswith("step,epoch,")
    client = MlflowClient(mlflow.get_tracking_uri())
    assert {r.name for r in client.search_registered_models()} >= {"obscura-generative-ae", "obscura-generative-ldm",
                                                                    "obscura-generative-gan"}
    with pytest.raises(ObscuraError, match="unknown generative model 'flow'"):
        train_generative.run(p, "flow")


@pytest.mark.slow
def test_training_curve_scores_every_n_epochs_without_changing_the_weights(tiny_generative, tmp_path):
    import csv

    import torch

    from stages import evaluate_generative, generative_classifier, generative_reference, train_generative

    g = tiny_generative.generative
    plain = tiny_generative.model_copy(update={"generative": g.model_copy(update={
        "gan": g.gan.model_copy(update={"epochs": 3})})})
    curved = tiny_generative.model_copy(update={"generative": g.model_copy(update={
        "gan": g.gan.model_copy(update={"epochs": 3, "curve_every": 2})})})
    generative_classifier.run(plain)
    with pytest.raises(ObscuraError, match="inception.pt is missing"):
        train_generative.run(curved, "gan")                   # the curve needs the cached real features
    generative_reference.run(plain)
    train_generative.run(plain, "gan")
    weights = torch.load(tmp_path / "data" / "gan" / "model.pt", weights_only=False)
    train_generative.run(curved, "gan")
    again = torch.load(tmp_path / "data" / "gan" / "model.pt", weights_only=False)
    assert all(torch.equal(a, b) for a, b in zip(weights["state_dict"].values(), again["state_dict"].values()))
    rows = list(csv.DictReader(open(tmp_path / "reports" / "gan" / "epochs.csv")))
    assert [r["epoch"] for r in rows] == ["0", "1", "2"]
    assert [bool(r["fid"]) for r in rows] == [False, True, True]         # every 2nd epoch and the last
    seconds = [float(r["train_seconds"]) for r in rows]
    assert 0 < seconds[0] < seconds[1] < seconds[2]
    m = evaluate_generative.run(curved, "gan")                # the last point scores what the evaluation does
    assert float(rows[-1]["fid"]) == pytest.approx(m["fid"], rel=1e-4)
    assert float(rows[-1]["kid"]) == pytest.approx(m["kid"], rel=1e-4, abs=1e-7)


def test_faces_demo_blends_with_both_autoencoders(tiny_generative, tmp_path):
    from stages import generative_faces

    g = tiny_generative.generative
    faces = g.faces.model_copy(update={"epochs": 2, "pairs": 2, "batch_size": 5})   # tiny_prepare keeps 10 faces
    p = tiny_generative.model_copy(update={"generative": g.model_copy(update={"faces": faces})})
    m = generative_faces.run(p)
    for name in ("ae", "vae"):
        assert m[f"{name}_recon_psnr"] > 0 and m[f"{name}_blend_off_manifold"] > 0
    from obscura.io import load_image

    from obscura.generative.faces import STRIP_SCALE

    strip = load_image(tmp_path / "data" / "faces" / "blend.png", channels=None)
    steps, size = p.generative.eval.blend_steps, p.generative.image_size
    assert strip.shape[0] == STRIP_SCALE * (4 * (size + 2) + 2)                           # 2 pairs × ae/vae
    assert strip.shape[1] == STRIP_SCALE * ((steps + 2) * (size + 2) + 2)
    assert m["crossfade_blend_off_manifold"] > 0 and m["vae_blend_off_manifold_pixels"] > 0


def test_gan_evaluation_has_no_encoder_scores(tiny_generative):
    import torch

    from obscura.generative.classifier import FashionClassifier
    from obscura.generative.evaluate import Reference, evaluate_model
    from obscura.generative.registry import tiny_config

    ev = tiny_generative.generative.eval
    torch.manual_seed(0)
    gan = tiny_config("gan", image_size=32).setup().eval()
    clf = FashionClassifier(1, 32).eval()
    x = torch.rand(16, 1, 32, 32) * 2 - 1
    ref = Reference(inception=torch.randn(8, 2048), classifier=clf,
                    classifier_features=torch.randn(8, clf.num_features), test_images=x)
    metrics, samples, strip = evaluate_model(gan, ref, ev, seed=0)
    assert samples.shape == (ev.fid_samples, 1, 32, 32) and samples.abs().max() <= 1
    assert strip.shape == (4 * ev.blend_steps, 1, 32, 32)        # z-paths only, no encoded endpoints
    assert "blend_off_manifold" not in metrics and "recon_psnr" not in metrics and metrics["fid"] > 0


def test_ddpm_evaluation_reports_its_variational_bound_in_bits_per_dim(tiny_generative):
    import torch

    from obscura.generative.classifier import FashionClassifier
    from obscura.generative.evaluate import Reference, evaluate_model
    from obscura.generative.registry import MODELS

    ev = tiny_generative.generative.eval
    torch.manual_seed(0)
    ddpm = MODELS.make("ddpm", tiny=True, image_size=32, num_train_timesteps=20, ddim_steps=3).setup().eval()
    clf = FashionClassifier(1, 32).eval()
    x = torch.randint(0, 256, (8, 1, 32, 32)).float() * 2 / 255 - 1     # 8-bit images
    ref = Reference(inception=torch.randn(8, 2048), classifier=clf,
                    classifier_features=torch.randn(8, clf.num_features), test_images=x)
    metrics, _, _ = evaluate_model(ddpm, ref, ev, seed=0)
    parts = sum(metrics[f"bits_per_dim_{k}"] for k in ("prior", "diffusion", "decoder"))
    assert metrics["bits_per_dim"] == pytest.approx(parts) and metrics["bits_per_dim"] > 0
    assert metrics["bound_images"] == ev.nll_images and metrics["bound_timesteps"] == ev.bound_timesteps
    assert metrics["nll_bound"] == pytest.approx(metrics["bits_per_dim"] * 32 * 32 * math.log(2))
