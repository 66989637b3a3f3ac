"""reports/index.html: per-track summaries, tables with units and protocol, pictures, and links to MLflow runs.

Everything the page shows lives under ``reports/``: pictures stages write elsewhere (sample grids,
orbit videos) and the loss plots are copied or drawn into ``reports/assets/``, and the interactive
3DGS viewer (an npm bundle) reads its splats from a script beside it, so the folder opens offline,
from ``file://``, with no server and no CDN.
"""

from __future__ import annotations

import base64
import html
import json
import math
import os
import re
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from obscura.config import Params

ASSETS = "assets"
DEFAULT_UI = "http://127.0.0.1:5000"      # `make ui`
MAX_VIEWER_SPLATS = 100_000               # the viewer's copy keeps the most visible gaussians (32 bytes each)
SH_C0 = 0.28209479177387814


# --------------------------------------------------------------------------- MLflow runs

@dataclass(frozen=True)
class Run:
    run_id: str
    experiment_id: str
    stages: frozenset[str]      # stage names the run was recorded under
    names: frozenset[str]       # method / dataset / scene words of its name and stage tags
    metrics: Mapping[str, float]


class Runs:
    """Finished MLflow runs, newest first, found by stage and method/dataset/scene names.

    A run is identified from its name (``<stage>/<method>/<dataset-or-scene>`` or ``<stage>@<item>``)
    and its ``obscura.stage``/``dvc.stage`` tags, so both naming schemes resolve.
    """

    def __init__(self, runs: list[Run], ui: str = DEFAULT_UI):
        self.runs, self.ui = runs, ui.rstrip("/")

    @classmethod
    def from_store(cls, uri: str, ui: str | None = None) -> Runs:
        """The runs of every experiment in the store at ``uri`` (none when its sqlite file does not exist)."""
        ui = ui or (uri if uri.startswith(("http://", "https://")) else DEFAULT_UI)
        if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).is_file():
            return cls([], ui)
        from mlflow.tracking import MlflowClient

        client = MlflowClient(uri)
        experiments = [e.experiment_id for e in client.search_experiments()]
        found = client.search_runs(experiments, filter_string="attributes.status = 'FINISHED'",
                                   order_by=["attributes.start_time DESC"], max_results=5000) if experiments else []
        return cls([identify(r.info.run_id, r.info.experiment_id, r.info.run_name, r.data.tags, r.data.metrics)
                    for r in found], ui)

    def url(self, stage: str, *names: str, metric: str | None = None, value: float | None = None) -> str | None:
        """Link to the newest run of ``stage`` carrying all ``names``; among them, one that logged
        ``metric`` = ``value`` is preferred (the run the shown number came from)."""
        found = [r for r in self.runs if stage in r.stages and set(names) <= r.names]
        if metric is not None and value is not None:
            found = [r for r in found if _close(r.metrics.get(metric), value)] or found
        return f"{self.ui}/#/experiments/{found[0].experiment_id}/runs/{found[0].run_id}" if found else None


def identify(run_id: str, experiment_id: str, run_name: str | None, tags: Mapping[str, str],
             metrics: Mapping[str, float]) -> Run:
    labels = [label for label in (run_name, tags.get("obscura.stage"), tags.get("dvc.stage")) if label]
    parts = [re.split(r"[/@]", label) for label in labels]
    names = {word for p in parts for item in p[1:] for word in (item, *item.split("-")) if word}
    return Run(run_id, experiment_id, frozenset(p[0] for p in parts), frozenset(names), dict(metrics))


def _close(a: float | None, b: float) -> bool:
    return a is not None and math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-12)


# --------------------------------------------------------------------------- formatting

@dataclass(frozen=True)
class Col:
    """One metric column: JSON key, header with unit, formatter, which way is better (``max``/``min``)."""
    key: str
    label: str
    fmt: Callable[[float], str]
    better: str | None = None
    scale: float = 1.0


def fixed(digits: int) -> Callable[[float], str]:
    return lambda v: f"{v:,.{digits}f}"


def count(v: float) -> str:
    return f"{int(round(v)):,}"


def signed(v: float) -> str:
    return f"{v:+.2f}"


def seconds(v: float) -> str:
    return f"{v:.3g}" if v < 100 else f"{v:,.0f}"


@dataclass
class Row:
    head: list[str]                    # leading cells (HTML)
    values: Mapping[str, float]
    url: Callable[[str, float], str | None] = lambda key, value: None
    extra: Mapping[str, str] = field(default_factory=dict)     # cell text shown after a value (e.g. ± std)
    reference: bool = False            # a baseline row (real-vs-real floor): never marked best
    group: str = ""                    # best values are marked within a group (e.g. one scene)


def _intervals(values: Mapping[str, float], keys: tuple[str, ...]) -> dict[str, str]:
    """Cell suffixes `` [lo, hi]`` for the ``keys`` whose ``<key>_lo`` and ``<key>_hi`` are numbers."""
    return {k: f" [{values[f'{k}_lo']:.2f}, {values[f'{k}_hi']:.2f}]" for k in keys
            if _number(values.get(f"{k}_lo")) and _number(values.get(f"{k}_hi"))}


def table(heads: list[str], cols: list[Col], rows: list[Row], caption: str = "") -> str:
    """A method × metric table: best value per column in bold, every number linked to its run."""
    cols = [c for c in cols if any(_number(r.values.get(c.key)) for r in rows)]
    best = {}
    for c in cols:
        for g in {r.group for r in rows}:
            vals = [r.values[c.key] for r in rows if r.group == g and not r.reference and _number(r.values.get(c.key))]
            if c.better and len(vals) > 1:
                best[g, c.key] = max(vals) if c.better == "max" else min(vals)
    arrow = {"max": " ↑", "min": " ↓"}
    head = "".join(f"<th>{h}</th>" for h in heads) + "".join(
        f"<th class='num'>{html.escape(c.label)}{arrow.get(c.better, '')}</th>" for c in cols)
    body = []
    for r in rows:
        cells = "".join(f"<td>{h}</td>" for h in r.head)
        for c in cols:
            v = r.values.get(c.key)
            if not _number(v):
                cells += "<td class='num na'>—</td>"
                continue
            text = html.escape(c.fmt(v * c.scale)) + html.escape(r.extra.get(c.key, ""))
            link = r.url(c.key, v)
            if link:
                text = f"<a href='{html.escape(link)}' title='MLflow run'>{text}</a>"
            cls = "num best" if best.get((r.group, c.key)) == v and not r.reference else "num"
            cells += f"<td class='{cls}'>{text}</td>"
        body.append(f"<tr>{cells}</tr>")
    cap = f"<caption>{caption}</caption>" if caption else ""
    return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}


def _esc(text: object) -> str:
    return html.escape(str(text))


def label(name: str) -> str:
    """Human name of a method, model or scene key."""
    return NAMES.get(name, name.replace("_", " "))


NAMES = {"ae": "Autoencoder", "vae": "VAE", "gan": "GAN", "ddpm": "DDPM", "ldm": "Latent diffusion",
         "gaussians": "3D Gaussian Splatting", "grid": "NeRF (hash grid)", "vanilla": "NeRF (vanilla)",
         "voxels": "NeRF (voxel grid)",
         "single_stage": "single-stage CNN", "coarse_to_fine": "coarse-to-fine CNN", "edge_guided": "edge-guided CNN",
         "progressive": "progressive CNN", "diffusion": "diffusion", "total_variation": "total variation",
         "push_pull": "push-pull", "navier_stokes": "Navier-Stokes", "skimage_biharmonic": "biharmonic (scikit-image)",
         "orbit": "orbit", "room": "room"}
CURVE_LABELS = {"loss": "loss", "psnr": "training PSNR (dB)", "test_psnr": "held-out PSNR (dB)",
                "gaussians": "gaussians", "l1": "L1", "mse": "MSE", "elbo": "ELBO (nats)", "kl": "KL (nats)",
                "recon_nll": "reconstruction NLL (nats)", "d_loss": "discriminator loss", "g_loss": "generator loss",
                "d_real": "D(real)", "d_fake": "D(fake)"}


def cpu_name() -> str:
    """``<model name>, N logical cores`` of this machine (where the timings on the page were measured)."""
    model = ""
    try:
        model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("model name")), "")
    except OSError:
        pass
    import platform

    return f"{model or platform.processor() or platform.machine()}, {os.cpu_count()} logical cores"


# --------------------------------------------------------------------------- assets

def plot_curves(csv: Path, png: Path, columns: list[str] | None = None, x: str = "step") -> Path | None:
    """One small panel per numeric column of ``csv`` against ``x`` (log scale when it spans > 50×)."""
    import pandas as pd

    frame = pd.read_csv(csv)
    columns = [c for c in (columns or frame.columns) if c in frame and c not in (x, "epoch")
               and pd.api.types.is_numeric_dtype(frame[c])]
    if x not in frame or not columns or frame.empty:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ncol = min(len(columns), 3)
    nrow = -(-len(columns) // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(2.7 * ncol + 0.3, 2.1 * nrow + 0.35), squeeze=False, dpi=90)
    for ax in axes.flat[len(columns):]:
        ax.set_axis_off()
    for ax, c in zip(axes.flat, columns):
        values = frame[c].to_numpy(float)
        ax.plot(frame[x], values, lw=1.2, color="#1f5fa8", marker="." if len(values) < 20 else None)
        finite = values[np.isfinite(values)]
        if len(finite) and finite.min() > 0 and finite.max() / finite.min() > 50:
            ax.set_yscale("log")
        ax.set_title(CURVE_LABELS.get(c, c.replace("_", " ")), fontsize=10)
        ax.set_xlabel(x.replace("_", " "), fontsize=9)
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png)
    plt.close(fig)
    return png


def splat_bytes(ply: Path, max_splats: int = MAX_VIEWER_SPLATS) -> tuple[bytes, int, np.ndarray]:
    """The ``.splat`` encoding (32 bytes per gaussian: position, scale, RGBA, rotation) of a trained 3DGS
    ``.ply``, largest × most opaque first, at most ``max_splats``; also the gaussian count and the means kept."""
    from obscura.rendering.gaussians.ply import read_ply

    t = {k: v.numpy() for k, v in read_ply(ply).items()}
    alpha = 1.0 / (1.0 + np.exp(-t["opacity_logits"]))
    order = np.argsort(-np.exp(t["log_scales"].sum(1)) * alpha, kind="stable")[:max_splats]
    quats = t["quats"][order]
    quats = quats / np.maximum(np.linalg.norm(quats, axis=1, keepdims=True), 1e-12)
    record = np.zeros(len(order), [("position", "<f4", 3), ("scale", "<f4", 3), ("rgba", "u1", 4), ("rot", "u1", 4)])
    record["position"] = t["means"][order]
    record["scale"] = np.exp(t["log_scales"][order])
    rgb = np.clip(0.5 + SH_C0 * t["sh_dc"][order, 0], 0, 1)
    record["rgba"] = np.round(np.concatenate([rgb, alpha[order, None]], 1) * 255).astype(np.uint8)
    record["rot"] = np.clip(np.round(quats * 128 + 128), 0, 255).astype(np.uint8)
    return record.tobytes(), len(alpha), t["means"][order]


def viewer_camera(means: np.ndarray, poses: np.ndarray | None) -> dict[str, list[float]]:
    """Initial orbit camera: look at the splats' median from the first training camera, with the cameras'
    mean up (OpenCV: −y); without cameras, from the −z side at twice the spread."""
    target = np.median(means, 0) if len(means) else np.zeros(3)
    if poses is not None and len(poses):
        up = -poses[:, 1, :3].mean(0)
        position = -poses[0, :3, :3].T @ poses[0, :3, 3]
    else:
        spread = np.percentile(np.linalg.norm(means - target, axis=1), 90) if len(means) else 1.0
        up, position = np.array([0.0, -1.0, 0.0]), target + np.array([0.0, -0.5, -2.0]) * max(spread, 1e-3)
    up = up / max(np.linalg.norm(up), 1e-12)
    return {"up": up.round(4).tolist(), "position": np.round(position, 4).tolist(), "look_at": np.round(target, 4).tolist()}


# --------------------------------------------------------------------------- the page

@dataclass
class Track:
    key: str
    title: str
    best: str = "—"
    headline: str = "no results yet"
    protocol: str = ""
    tables: list[str] = field(default_factory=list)
    pictures: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)


class Page:
    """Collects the page's tracks while copying and drawing its assets under ``reports/assets``."""

    def __init__(self, params: Params, reports: Path, assets: Path, runs: Runs, viewer_bundle: Path | None = None):
        self.params, self.reports, self.assets, self.runs = params, Path(reports), Path(assets), runs
        self.cpu = cpu_name()
        self.viewer_bundle = Path(viewer_bundle) if viewer_bundle is not None and Path(viewer_bundle).is_file() else None
        self.scripts: list[str] = []

    def rel(self, path: Path) -> str:
        """Path of a file under the real or temporary assets folder as the page refers to it."""
        path = Path(path)
        if path.is_relative_to(self.assets):
            return f"{ASSETS}/{path.relative_to(self.assets).as_posix()}"
        return path.resolve().relative_to(self.reports.resolve()).as_posix()

    def copy(self, source: Path, name: str) -> str | None:
        if not Path(source).is_file():
            return None
        target = self.assets / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
        return self.rel(target)

    def figure(self, src: str | None, caption: str, cls: str = "") -> str:
        if src is None:
            return ""
        return (f"<figure class='{cls}'><a href='{_esc(src)}'><img src='{_esc(src)}' "
                f"alt='{_esc(re.sub('<[^>]+>', '', caption))}'></a>"
                f"<figcaption>{caption}</figcaption></figure>")

    def plot(self, csv: Path, name: str, title: str, columns: list[str] | None = None) -> str:
        if not csv.is_file():
            return ""
        png = plot_curves(csv, self.assets / name, columns)
        return self.figure(self.rel(png) if png else None, f"{_esc(title)} (from <a href='{_esc(self.rel(csv))}'>"
                                                          f"{_esc(csv.name)}</a>)", "plot")

    def link(self, path: Path, text: str) -> str:
        return f"<a href='{_esc(self.rel(path))}'>{_esc(text)}</a>" if Path(path).is_file() else ""

    # ------------------------------------------------------------------ generative

    def generative(self) -> Track:
        gp = self.params.generative
        reports, ev = Path(gp.reports), gp.eval
        track = Track("generative", "Generative models (Fashion-MNIST)")
        ref = _read_json(reports / "reference.json")
        clf = _read_json(reports / "classifier.json")
        results = {m: _read_json(reports / m / "metrics.json") for m in gp.models}
        results = {m: r for m, r in results.items() if r}
        fid_n, real_n = ref.get("fid_samples", ev.fid_samples), ref.get("real_samples", ev.real_samples)
        track.protocol = (f"FID and KID compare Inception-v3 pool features of {fid_n:,} generated images with "
                          f"{real_n:,} Fashion-MNIST test images ({gp.image_size}×{gp.image_size}, "
                          f"{'grey' if gp.channels == 1 else 'RGB'}); {fid_n:,} real training images score FID "
                          f"{ref['fid_real_baseline']:.1f} / KID ×10³ {1e3 * ref['kid_real_baseline']:.2f} against the "
                          f"same set — the real-vs-real floor at this sample count, not zero."
                          if ref else "FID/KID reference features not computed yet (stage generative_reference).")
        if results:
            best = min(results, key=lambda m: results[m].get("kid", math.inf))     # KID: unbiased at these counts
            r = results[best]
            std = f" ± {1e3 * r['kid_std']:.1f}" if _number(r.get("kid_std")) else ""
            track.best = label(best)
            track.headline = (f"KID ×10³ {1e3 * r['kid']:.1f}{std} (real-vs-real floor "
                              f"{1e3 * ref.get('kid_real_baseline', math.nan):.1f}), FID {r['fid']:.1f} (floor "
                              f"{ref.get('fid_real_baseline', math.nan):.1f})")
            cols = [Col("kid", "KID ×10³", fixed(2), "min", 1e3), Col("fid", "FID", fixed(1), "min"),
                    Col("fd_classifier", "Classifier FD", fixed(1), "min"),
                    Col("recon_psnr", "Reconstruction PSNR (dB)", fixed(2), "max"),
                    Col("nll_is_bits_per_dim", "NLL (bits/dim)", fixed(3), "min"),
                    Col("bits_per_dim", "Likelihood bound (bits/dim)", fixed(3), "min"),
                    Col("blend_off_manifold", "Blend off-manifold", fixed(2), "min"),
                    Col("samples_per_second", "Sampling (images/s)", count, "max"),
                    Col("train_seconds", "Training (s)", seconds), Col("train_steps", "Steps", count)]
            rows = [Row([_esc(label(m))], r, self._generative_url(m),
                        {"kid": f" ± {1e3 * r['kid_std']:.2f}"} if _number(r.get("kid_std")) else {})
                    for m, r in results.items()]
            if ref:
                floor = {"fid": ref["fid_real_baseline"], "kid": ref["kid_real_baseline"],
                         "fd_classifier": clf.get("fd_classifier_real_baseline")}
                rows.append(Row(["<em>real vs real (floor)</em>"], floor,
                                lambda k, v: self.runs.url("generative_reference", metric=f"{k}_real_baseline", value=v)
                                or self.runs.url("generative_classifier"), reference=True))
            track.tables.append(table(["Model"], cols, rows, caption=(
                f"{fid_n:,} samples per model; KID ± standard deviation over {ev.kid_subsets} subsets of "
                f"{ev.kid_subset_size}; classifier FD: Fréchet distance in the features of a small Fashion-MNIST "
                f"CNN (test accuracy {clf.get('test_accuracy', math.nan):.1%}); reconstruction PSNR on "
                f"{ev.recon_images} test images; NLL by importance sampling with {ev.nll_k} samples (VAE; its decoder is a "
                f"Bernoulli on grey levels, not a 256-level likelihood); likelihood bound: the DDPM variational bound "
                f"with a discretized-Gaussian decoder on {ev.nll_images} 8-bit test images, {ev.bound_timesteps} "
                f"timesteps drawn per image (unbiased); blend off-manifold: "
                f"nearest-real-image distance of {ev.blend_pairs} latent-blend midpoints ÷ that of real images, in the "
                f"classifier's features (≈ 1 on the data manifold, larger off it); timings on "
                f"{_esc(self.cpu)}.")))
        faces = _read_json(reports / "faces.json")
        if faces:
            cols = [Col("recon_psnr", "Reconstruction PSNR (dB)", fixed(2), "max"),
                    Col("recon_mse", "Reconstruction MSE", lambda v: f"{v:.4f}", "min"),
                    Col("blend_off_manifold", "Blend off-manifold (Inception)", fixed(2), "min"),
                    Col("blend_off_manifold_pixels", "Blend off-manifold (pixels)", fixed(2), "min")]
            names = {"ae": label("ae"), "vae": label("vae"), "crossfade": "pixel cross-fade (no model)"}
            rows = [Row([_esc(names[m])], {k.removeprefix(f"{m}_"): v for k, v in faces.items() if k.startswith(f"{m}_")},
                        lambda k, v: self.runs.url("generative_faces"))
                    for m in names]
            track.tables.append(table(["Model"], cols, rows, caption=(
                f"Blending two faces: AE and VAE trained on {self.params.prepare.faces} LFW faces (25×25, all that "
                f"ships offline → {gp.image_size}×{gp.image_size}); blend off-manifold: nearest-real-face distance of "
                f"{gp.faces.measure_pairs} latent-blend midpoints ÷ that of real faces, in the Inception features "
                "(≈ 1 on the face manifold, larger off it; a blurred face is far from every sharp one) and on "
                "pixels (which favours blurry midpoints: a blur sits close to both parents).")))
        grids = []
        for m in results:
            grids.append(self.figure(self.copy(Path(gp.output) / m / "samples.png", f"generative/{m}-samples.png"),
                                     f"{_esc(label(m))}: {ev.grid} random samples"))
            grids.append(self.figure(self.copy(Path(gp.output) / m / "blend.png", f"generative/{m}-blend.png"),
                                     f"{_esc(label(m))}: each row decodes a straight latent path in {ev.blend_steps} "
                                     "steps, between two test images shown at its ends (GAN: between two noise "
                                     "vectors)"))
        grids.append(self.figure(self.copy(Path(gp.output) / "faces" / "blend.png", "generative/faces-blend.png"),
                                 f"Blending two faces: {gp.faces.pairs} pairs, rows alternate AE and VAE"))
        if any(grids):
            track.pictures.append(f"<div class='grid'>{''.join(grids)}</div>")
        else:
            track.pictures.append("<p class='note'>Sample grids and blend strips appear here once "
                                  f"<code>{_esc(gp.output)}/&lt;model&gt;/samples.png</code> exist "
                                  "(<code>dvc repro evaluate_generative</code>, or <code>dvc pull</code>).</p>")
        plots = [self.plot(reports / m / "loss.csv", f"generative/{m}-loss.png", f"{label(m)} training curves")
                 for m in gp.models]
        if any(plots):
            track.pictures.append(f"<h4>Training curves</h4><div class='grid'>{''.join(plots)}</div>")
        track.links += [self.link(p, p.relative_to(reports).as_posix())
                        for m in gp.models for p in (reports / m / "metrics.json", reports / m / "train.json")]
        track.links += [self.link(reports / n, n) for n in ("reference.json", "classifier.json", "faces.json")]
        return track

    def _generative_url(self, model: str) -> Callable[[str, float], str | None]:
        def url(key: str, value: float) -> str | None:
            stage = "train_generative" if key in ("train_seconds", "train_steps") else "evaluate_generative"
            return (self.runs.url(stage, model, metric=key, value=value)
                    or self.runs.url("evaluate_generative", model, metric=key, value=value))
        return url

    # ------------------------------------------------------------------ inpainting

    def inpainting(self) -> Track:
        import pandas as pd

        from obscura.inpainting.masks import OUTPAINT

        cfg = self.params.inpainting
        reports = Path(cfg.reports)
        track = Track("inpainting", "Inpainting (hole filling)")
        if not (reports / "table.csv").is_file():
            return track
        frame = pd.read_csv(reports / "table.csv", dtype={"bucket": str})
        outpainted = frame[(frame.set == OUTPAINT) & (frame.bucket == "all") & (frame.kind == "all")] \
            if "set" in frame else frame.iloc[:0]
        if "set" in frame:                     # held-out rows by hole size (the unseen set and kinds: table.csv)
            frame = frame[(frame.set == "heldout") & (frame.kind == "all")]
        metrics = _read_json(reports / "metrics.json")
        overall = frame[frame.bucket == "all"].sort_values("hole_psnr", ascending=False)
        cases = int(overall.n.max()) if len(overall) else 0
        photos = self.params.prepare.photo_splits.heldout
        buckets = ", ".join(f"{lo}–{hi}" for lo, hi in cfg.buckets)
        slow = ", ".join(f"{_esc(label(m))} {k}" for m, k in cfg.cases_per_cell.items() if k)
        skipped = ", ".join(_esc(label(m)) for m, k in cfg.cases_per_cell.items() if not k)
        track.protocol = (f"Up to {cases} cases per method: {photos} held-out photos (shipped in packages, see "
                          f"{_esc(str(self.params.prepare.sources))}; never trained on) at "
                          f"{cfg.image_size}×{cfg.image_size} px × "
                          f"{len(cfg.buckets)} hole sizes ({buckets} % of the pixels) × {len(cfg.kinds)} mask kinds "
                          f"({', '.join(cfg.kinds)}), {cfg.masks_per_bucket} mask per photo, size and kind. Slow "
                          f"methods run on a seeded subset of each (size, kind) cell ({slow or 'none'} cases per "
                          f"cell; column n){f'; not run (budget): {skipped}' if skipped else ''}. Hole PSNR is measured inside the hole only, full-image PSNR over the whole "
                          "picture (known pixels are kept, so it is always higher).")
        deep = set(cfg.deep)

        def url(method: str) -> Callable[[str, float], str | None]:
            return lambda k, v: (self.runs.url("evaluate_inpainting", method)
                                 or self.runs.url("evaluate_inpainting", metric=f"{method}.all.{k}", value=v))

        try:                            # none or empty when only the reference ran
            ranked = pd.read_csv(reports / "ranking.csv", dtype={"bucket": str})
        except (FileNotFoundError, pd.errors.EmptyDataError):
            ranked = pd.DataFrame()
        order = self._inpainting_ranking(track, ranked, url) if len(ranked) else []
        if order:                                                      # the table below in the ranking's order
            order = [cfg.reference, *order]
            overall = overall.set_index("method", drop=False)
            overall = overall.loc[[m for m in order if m in overall.index]
                                  + [m for m in overall.index if m not in order]]
        elif len(overall):
            top = overall.iloc[0]
            track.best = label(top.method)
            track.headline = f"hole PSNR {top.hole_psnr:.2f} dB, SSIM {top.ssim:.3f} over all hole sizes"
        if len(overall):
            cols = [Col("n", "n (cases)", count), Col("hole_psnr", "Hole PSNR (dB)", fixed(2), "max"),
                    Col("full_psnr", "Full-image PSNR (dB)", fixed(2), "max"),
                    Col("ssim", "SSIM", fixed(3), "max"), Col("hole_l1", "Hole L1", fixed(3), "min"),
                    Col("kid", "KID ×10³", fixed(1), "min", 1e3), Col("fid", "FID", fixed(0), "min"),
                    Col("gain_hole_psnr", "Gain over its initial fill (dB)", fixed(2), "max"),
                    Col("seconds", "Time (s per image)", seconds, "min")]
            rows = []
            for r in overall.itertuples():
                values = {**r._asdict(), **{k: metrics.get(f"{r.method}.all.{k}") for k in ("fid", "kid")}}
                kind = "deep (trained)" if r.method in deep else "classical"
                ci = _intervals(values, ("hole_psnr", "full_psnr", "gain_hole_psnr"))
                kid_lo, kid_hi = (metrics.get(f"{r.method}.all.{k}") for k in ("kid_lo", "kid_hi"))
                if _number(kid_lo) and _number(kid_hi):
                    ci["kid"] = f" [{1e3 * kid_lo:.1f}, {1e3 * kid_hi:.1f}]"
                if values.get("beats_initial_fill") == "no":
                    ci["gain_hole_psnr"] = ci.get("gain_hole_psnr", "") + " — does not beat it"
                rows.append(Row([_esc(label(r.method)), kind], values, url(r.method), extra=ci))
            n_fid = int(metrics.get("inception_images") or cases)
            n_floor = int(metrics.get("real_vs_real_images") or 0)
            floor = (f" Real vs real: {n_floor} distinct unseen photos against {n_floor} distinct held-out originals, "
                     f"KID ×10³ {1e3 * metrics['real_vs_real.all.kid']:.1f}, FID {metrics['real_vs_real.all.fid']:.0f} "
                     f"(FID at {n_floor} images is biased further up than at {n_fid}; KID is comparable)."
                     if n_floor and _number(metrics.get("real_vs_real.all.kid")) else "")
            track.tables.append(table(["Method", "Kind"], cols, rows, caption=(
                f"Mean over the method's cases (n, up to {cases}), [95 % bootstrap interval of the mean]. KID/FID: "
                f"Inception features of the filled images of {n_fid} seeded held-out cases (the same for every "
                f"method that ran them) against their originals — with so few images FID is biased upwards; "
                f"compare KID, whose interval is a bootstrap over those cases.{floor} Gain: a deep method's hole PSNR minus that of the harmonic fill it starts "
                "from, on the same cases (it beats it when the whole interval is above 0). "
                f"Time: one {cfg.image_size}×{cfg.image_size} image on {_esc(self.cpu)}.")))
            by_bucket = frame[frame.bucket != "all"].pivot(index="method", columns="bucket", values="hole_psnr")
            by_bucket = by_bucket.loc[[m for m in overall.method if m in by_bucket.index]]
            bcols = [Col(b, f"{b.lstrip('0').replace('-', '–')} % hole", fixed(2), "max") for b in by_bucket.columns]
            brows = [Row([_esc(label(m))], dict(by_bucket.loc[m]), url(m)) for m in by_bucket.index]
            track.tables.append(table(["Method"], bcols, brows, caption=(
                "Hole PSNR (dB) by hole size (percent of the pixels); "
                f"up to {cfg.masks_per_bucket * photos * len(cfg.kinds)} cases per cell (all kinds).")))
        if len(outpainted):
            cols = [Col("hole_psnr", "Strip PSNR (dB)", fixed(2), "max"),
                    Col("full_psnr", "Full-image PSNR (dB)", fixed(2), "max"), Col("ssim", "SSIM", fixed(3), "max"),
                    Col("seconds", "Time (s per image)", seconds, "min")]
            rows = []
            for r in outpainted.sort_values("hole_psnr", ascending=False).itertuples():
                values = r._asdict()
                ci = _intervals(values, ("hole_psnr", "full_psnr"))
                rows.append(Row([_esc(label(r.method)), str(r.n)], values, extra=ci))
            track.tables.append(table(["Method", "n"], cols, rows, caption=(
                f"Outpainting (expand image): each held-out photo loses a strip on a seeded side and the rest is "
                f"extended by {cfg.outpaint:.0%} back to {cfg.image_size}×{cfg.image_size}; the strip is scored "
                "against the photo's own pixels. [95 % bootstrap interval of the mean]")))
        summaries = _read_json(reports / "train.json")
        trained = {m: summaries[m] for m in cfg.deep if summaries.get(m)}
        if trained:
            train_photos = _read_json(Path(self.params.prepare.metrics)).get("photos_train_count", "")
            cols = [Col("parameters", "Parameters", count), Col("steps", "Training steps", count),
                    Col("batch_size", "Batch", count), Col("crop", "Crop (px)", count),
                    Col("final_loss", "Final loss", lambda v: f"{v:.4f}")]
            rows = [Row([_esc(label(m))], {**t, "batch_size": cfg.deep[m].batch_size, "crop": cfg.deep[m].crop},
                        lambda k, v, m=m: self.runs.url("train_inpainting", m)) for m, t in trained.items()]
            track.tables.append(table(["Deep method"], cols, rows, caption=(
                f"Training of the deep methods on random crops of the {train_photos} training photos with random "
                "masks; the held-out photos above are never seen.")))
        lo, hi = cfg.grid_bucket
        grids = [self.figure(self.rel(p), (f"{_esc(p.stem)}: extended by {cfg.outpaint:.0%}" if p.stem.startswith(
            f"{OUTPAINT}_") else f"{_esc(p.stem)}: one {lo}–{hi} % hole") + ". Tiles: the input with the hole in "
                             "<span class='swatch'></span> magenta, each method (named above its tile), the ground "
                             "truth last.") for p in sorted((reports / "grids").glob("*.png"))]
        if grids:
            track.pictures.append(f"<div class='grid wide'>{''.join(grids)}</div>")
        plots = [self.plot(reports / "train" / f"{m}.csv", f"inpainting/{m}-loss.png", f"{label(m)} training curves")
                 for m in cfg.deep]
        if any(plots):
            track.pictures.append(f"<h4>Training curves</h4><div class='grid'>{''.join(plots)}</div>")
        track.links += [self.link(reports / "table.csv", "table.csv (method × hole size)"),
                        self.link(reports / "ranking.csv", f"ranking.csv (each method paired with "
                                                           f"{label(cfg.reference)})"),
                        self.link(reports / "cases.csv", "cases.csv (every method on every case it ran)"),
                        self.link(reports / "kid_pairs.csv", "kid_pairs.csv (every two methods' KID difference)"),
                        self.link(reports / "metrics.json", "metrics.json")]
        if trained:
            track.links.append(self.link(reports / "train.json", "train.json (the deep methods' training)"))
        return track

    def _inpainting_ranking(self, track: Track, ranked, url: Callable[[str], Callable]) -> list[str]:
        """The summary's pick and a table of every method against ``inpainting.reference`` on the cases both ran
        (``ranking.csv``): over all held-out cases, at the grids' hole size, on the unseen photos and on the
        outpainting strips. Returns the methods in order, best first."""
        from obscura.inpainting.masks import OUTPAINT, bucket_name

        cfg = self.params.inpainting
        ref = label(cfg.reference)
        lo, hi = cfg.grid_bucket
        groups = {"all": ("heldout", "all"), "size": ("heldout", bucket_name((lo, hi))), "unseen": ("unseen", "all"),
                  "outpaint": (OUTPAINT, "all")}
        heldout = ranked[(ranked.set == "heldout") & (ranked.bucket == "all")].sort_values("difference",
                                                                                          ascending=False)
        if not len(heldout):
            return []
        rows = []
        for r in heldout.itertuples():
            values, extra = {"wins": r.wins}, {"wins": f" of {r.n}"}
            for key, (set_name, bucket) in groups.items():
                hit = ranked[(ranked.method == r.method) & (ranked.set == set_name) & (ranked.bucket == bucket)]
                if len(hit):
                    h = hit.iloc[0]
                    values[key] = h.difference
                    extra[key] = f" [{h.difference_lo:+.2f}, {h.difference_hi:+.2f}] (n {h.n})"
            rows.append(Row([_esc(label(r.method))], values, url(r.method), extra=extra))
        cols = [Col("all", "All held-out holes (dB)", signed, "max"), Col("wins", "Cases it wins", count),
                Col("size", f"Held-out, {lo}–{hi} % holes (dB)", signed, "max"),
                Col("unseen", "Unseen photos (dB)", signed, "max"),
                Col("outpaint", "Outpainting strips (dB)", signed, "max")]
        track.tables.append(table(["Method"], cols, rows, caption=(
            f"Every method against {_esc(ref)} on the cases both ran: the mean of the per-case differences in hole "
            "PSNR, [95 % bootstrap interval], (n cases). Methods run on different subsets of the cases, so their "
            "plain means (next table) are not comparable; these paired differences are. A method is ahead of "
            "the reference only when the whole interval is above 0.")))
        ahead = heldout[heldout.difference_lo > 0]
        top = (ahead if len(ahead) else heldout).iloc[0]
        span = f"{top.difference:+.2f} dB [{top.difference_lo:+.2f}, {top.difference_hi:+.2f}]"
        if len(ahead):
            track.best = label(top.method)
            track.headline = f"hole PSNR {span} over {ref} on the {top.n} held-out cases both ran"
        else:
            track.best = ref
            track.headline = (f"no method beats it on the same cases with an interval above 0; closest: "
                              f"{label(top.method)} {span} over {top.n} held-out cases")
        return list(heldout.method)

    # ------------------------------------------------------------------ reconstruction

    def reconstruction(self) -> Track:
        p = self.params
        track = Track("reconstruction", "Reconstruction (SfM, 3D Gaussian Splatting, NeRF)")
        sfm = {s: _read_json(Path(p.sfm.reports) / f"{s}.json") for s in p.sfm.scenes}
        sfm = {s: m for s, m in sfm.items() if m}
        renderers = []    # (method key, scene, metrics, reports dir, data dir, stage names)
        for scene in p.gaussians.scenes:
            rep = Path(p.gaussians.reports) / scene
            if (rep / "metrics.json").is_file():
                renderers.append(("gaussians", scene, _read_json(rep / "metrics.json"), rep,
                                  Path(p.gaussians.output) / scene, ("train_gaussians", scene)))
        for name, run in p.nerf.runs.items():
            rep = Path(p.nerf.reports) / run.model / run.scene
            if (rep / "metrics.json").is_file():
                renderers.append((run.model, run.scene, _read_json(rep / "metrics.json"), rep,
                                  Path(p.nerf.output) / run.model / run.scene, ("train_nerf", *name.split("-", 1))))
        views = {(m, s): _view_count(rep / "views.csv") for m, s, _, rep, _, _ in renderers}
        track.protocol = (f"Every {p.scenes.test_every}th view of each scene is held out (never trained on); "
                          "held-out PSNR/SSIM compare full-resolution renders with those photos; renderers train on "
                          f"COLMAP's cameras (3DGS: {p.gaussians.poses} poses); SfM errors are measured against the "
                          "built-in "
                          "scenes' ground-truth cameras after a similarity alignment.")
        if renderers:
            best = {}
            for m, s, r, *_ in renderers:
                if _number(r.get("test_psnr")) and r["test_psnr"] > best.get(s, (None, -math.inf))[1]:
                    best[s] = (m, r["test_psnr"])
            winners = {m for m, _ in best.values()}
            track.best = (label(next(iter(winners))) if len(winners) == 1
                          else "; ".join(f"{s}: {label(m)}" for s, (m, _) in best.items()))
            track.headline = "; ".join(f"{s}: {v:.2f} dB held-out PSNR" for s, (_, v) in best.items())
            cols = [Col("test_psnr", "Held-out PSNR (dB)", fixed(2), "max"),
                    Col("test_ssim", "Held-out SSIM", fixed(3), "max"),
                    Col("train_psnr", "Training-view PSNR (dB)", fixed(2)),
                    Col("train_seconds", "Training (s)", seconds, "min"), Col("steps", "Steps", count),
                    Col("render_seconds_per_frame", "Render (s per frame)", lambda v: f"{v:.3f}", "min"),
                    Col("num_gaussians", "Gaussians", count), Col("chamfer_distance", "Mesh Chamfer", fixed(4), "min"),
                    Col("peak_memory_mb", "Peak memory (MB)", count, "min")]
            rows = [Row([_esc(label(m)), _esc(s), str(views[(m, s)] or "—")], r,
                        lambda k, v, st=st: self.runs.url(*st, metric=k, value=v) or self.runs.url(*st), group=s)
                    for m, s, r, _, _, st in renderers]
            track.tables.append(table(["Method", "Scene", "Held-out views"], cols, rows, caption=(
                f"Scenes rendered at {p.scenes.width}×{p.scenes.height} px. Training time and render time per "
                f"frame on {_esc(self.cpu)}.")))
        if sfm:
            cols = [Col("images_registered", "Images registered", count, "max"),
                    Col("num_points3d_filtered", "3D points (after outlier filter)", count),
                    Col("num_points3d", "3D points (triangulated)", count),
                    Col("mean_reprojection_error_px", "Reprojection error (px)", fixed(3), "min"),
                    Col("rotation_error_median_deg", "Rotation error, median (°)", fixed(3), "min"),
                    Col("center_error_median_pct", "Camera position error, median (% of extent)", fixed(3), "min"),
                    Col("focal_error_pct", "Focal length error (%)", fixed(2), "min"),
                    Col("time_total_s", "Time (s)", seconds, "min"),
                    Col("seconds_per_image", "Time (s per image)", seconds, "min")]
            rows = [Row([_esc(s)], m, lambda k, v, s=s: self.runs.url("sfm", s, metric=k, value=v),
                        {"images_registered": f" of {m.get('images_total', '?')}"}, group=s) for s, m in sfm.items()]
            features = (f"up to {p.sfm.max_num_features:,} features per image"
                        if isinstance(p.sfm.max_num_features, int) else "SIFT features per image chosen by image size")
            track.tables.append(table(["Scene"], cols, rows, caption=(
                f"COLMAP ({p.sfm.camera_model}, {features}); timings on {_esc(self.cpu)}.")))
            if not renderers:
                track.headline = "; ".join(f"{s}: {m.get('images_registered')}/{m.get('images_total')} images registered, "
                                           f"{m.get('mean_reprojection_error_px', math.nan):.2f} px" for s, m in sfm.items())
                track.best = "SfM only"
        pictures = []
        for s, m in sfm.items():
            preview = Path(p.sfm.reports) / f"{s}.png"
            pictures.append(self.figure(self.rel(preview), (
                f"SfM of <b>{_esc(s)}</b>: {m.get('images_registered')} cameras (red: centre and viewing direction) and "
                f"{m.get('num_points3d_filtered', 0):,} points after outlier filtering (its title says how many fall inside the plotted 1st–99th "
                "percentile box)")) if preview.is_file() else "")
        if any(pictures):
            track.pictures.append(f"<h4>Cameras and sparse points</h4><div class='grid'>{''.join(pictures)}</div>")
        for m, s, _, rep, data, _ in renderers:
            track.pictures.append(self._renderer_pictures(m, s, rep, data))
        for m, s, _, rep, _, _ in renderers:
            track.links += [self.link(rep / f, f"{m}/{s}/{f}") for f in ("metrics.json", "views.csv")]
        track.links += [self.link(Path(p.sfm.reports) / f"{s}.json", f"sfm/{s}.json") for s in sfm]
        return track

    def _renderer_pictures(self, method: str, scene: str, rep: Path, data: Path) -> str:
        name = f"{label(method)}, {scene}"
        key = f"{method}-{scene}"
        parts = [self.figure(self.rel(rep / "test_grid.png"),
                             f"{_esc(name)}: held-out views, ground truth (left) beside the render (right)", "tall")
                 if (rep / "test_grid.png").is_file() else "",
                 self.figure(self.rel(rep / "depth_grid.png"), f"{_esc(name)}: depth of the held-out views", "tall")
                 if (rep / "depth_grid.png").is_file() else "",
                 self.figure(self.rel(rep / "mesh.png"), f"{_esc(name)}: TSDF mesh") if (rep / "mesh.png").is_file() else ""]
        video = next((v for v in (data / "renders" / "orbit.mp4", data / "orbit.mp4") if v.is_file()), None)
        if video is not None:
            src = self.copy(video, f"rendering/{key}-orbit.mp4")
            parts.append(f"<figure><video src='{_esc(src)}' controls loop muted playsinline preload='metadata'></video>"
                         f"<figcaption>{_esc(name)}: orbit around the scene</figcaption></figure>")
        ply = data / "point_cloud.ply"
        if ply.is_file():
            parts.append(self._viewer(key, name, ply, scene))
        plots = [self.plot(rep / "loss.csv", f"rendering/{key}-loss.png", f"{name}: training",
                           ["loss", "psnr", "gaussians"]),
                 self.plot(rep / "curve.csv", f"rendering/{key}-curve.png", f"{name}: held-out PSNR during training",
                           ["test_psnr"]),
                 self.plot(rep / "train.csv", f"rendering/{key}-train.png", f"{name}: training", ["loss", "psnr"])]
        return f"<h4>{_esc(name)}</h4><div class='grid'>{''.join(parts + plots)}</div>"

    def _viewer(self, key: str, name: str, ply: Path, scene: str) -> str:
        from obscura.errors import ObscuraError
        from obscura.rendering.gaussians.train import scene_cameras

        if self.viewer_bundle is None:   # a viewer that can never load must not look like one still loading
            return (f"<figure class='viewer'><div class='splat-viewer' data-state='missing'>The interactive 3D viewer "
                    "is not built on this machine (<code>make setup</code> builds it with npm).</div><figcaption>"
                    f"{_esc(name)}: full model <a href='{_esc(Path(os.path.relpath(ply, self.reports)).as_posix())}'>"
                    f"{_esc(ply.name)}</a> (standard 3DGS .ply)</figcaption></figure>")
        data, total, means = splat_bytes(ply)
        try:
            cams = scene_cameras(Path(self.params.scenes.output) / scene, self.params.gaussians.poses)
            poses = cams.poses[cams.train]
        except ObscuraError:   # the scene is not on this machine: a default viewpoint
            poses = None
        camera = viewer_camera(means, poses)
        script = self.assets / "rendering" / f"{key}.splat.js"
        script.parent.mkdir(parents=True, exist_ok=True)
        script.write_text("(window.obscuraSplats = window.obscuraSplats || {})[" + json.dumps(key) + "] = \""
                          + base64.b64encode(data).decode() + "\";\n")
        self.scripts.append(self.rel(script))
        shown = len(data) // 32
        vec = lambda v: ",".join(f"{x:g}" for x in v)  # noqa: E731
        return (f"<figure class='viewer'><div class='splat-viewer' data-key='{_esc(key)}' data-up='{vec(camera['up'])}' "
                f"data-position='{vec(camera['position'])}' data-look-at='{vec(camera['look_at'])}'></div>"
                f"<figcaption>{_esc(name)}: interactive view of the trained gaussians (drag to orbit, right-drag to "
                f"pan, scroll to zoom); {shown:,} of {total:,} gaussians, the largest and most opaque, colour without "
                f"view dependence. Full model: <a href='{_esc(Path(os.path.relpath(ply, self.reports)).as_posix())}'>"
                f"{_esc(ply.name)}</a> (standard 3DGS .ply)</figcaption></figure>")


def _view_count(csv: Path) -> int | None:
    try:
        return max(sum(1 for _ in csv.open()) - 1, 0)
    except OSError:
        return None


STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d232b;background:#fafbfc}
main{max-width:1280px;margin:auto;padding:1.5em 2em 4em}
header p{margin:.2em 0;color:#4a5563;font-size:14px}
h1{margin:.2em 0}h2{margin-top:2.2em;border-bottom:2px solid #d7dde5;padding-bottom:.2em}h4{margin:1.4em 0 .4em}
nav a{margin-right:1em}
table{border-collapse:collapse;margin:.8em 0 1.4em;background:#fff;font-size:13px}
caption{caption-side:bottom;text-align:left;color:#4a5563;font-size:12px;padding-top:.4em;max-width:1100px}
th,td{border-bottom:1px solid #e3e7ec;padding:4px 8px;text-align:left;vertical-align:top}th.num{max-width:8em}
th{background:#eef2f6;font-weight:600}td.num,th.num{text-align:right}td.num{white-space:nowrap}
td.best{font-weight:700}td.na{color:#9aa4af}a{color:#1f5fa8;text-decoration:none}a:hover{text-decoration:underline}
.summary td:first-child{font-weight:600}.protocol{color:#333;background:#eef5ff;border-left:4px solid #1f5fa8;
padding:.5em .8em;font-size:14px;max-width:1100px}
.grid{display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start}
figure{margin:0;display:table}
figcaption{display:table-caption;caption-side:bottom;font-size:12px;color:#4a5563;padding-top:4px}
img,video{display:block;max-width:600px;background:#fff;border:1px solid #e3e7ec}
.wide img{max-width:820px}figure.plot img{max-width:100%}figure.tall img{height:720px;max-width:none}
video{width:480px}.splat-viewer{width:min(740px,90vw);height:460px;position:relative;background:#000;color:#ddd}
.swatch{display:inline-block;width:.9em;height:.9em;background:#f0f;vertical-align:middle;border:1px solid #999}
.note{color:#6b7480;font-style:italic}ul.links{columns:2;font-size:13px}
details pre{font-size:12px;background:#fff;border:1px solid #e3e7ec;padding:.8em;overflow:auto;max-height:480px}
"""


def write_report(params: Params, out: Path, runs: Runs, provenance: Mapping[str, str], params_text: str = "",
                 viewer_bundle: Path | None = None) -> Path:
    """Write ``out`` (reports/index.html) and its ``assets/`` folder from the reports and data of ``params``.

    ``provenance`` (e.g. built, commit, params hash) is printed under the title; ``viewer_bundle`` is the
    built npm splat viewer (``viewer/dist/splat-viewer.js``), copied beside the page when it exists.
    """
    from obscura.io import atomic_dir, atomic_path

    out = Path(out)
    reports = out.parent
    with atomic_dir(reports / ASSETS) as tmp:
        page = Page(params, reports, tmp, runs, viewer_bundle)
        tracks = [page.generative(), page.inpainting(), page.reconstruction()]
        viewer = ""
        if page.scripts:
            scripts = [*page.scripts, page.copy(page.viewer_bundle, "viewer/splat-viewer.js")]
            viewer = "".join(f"<script src='{_esc(s)}'></script>" for s in scripts)
        text = render_page(tracks, provenance, runs, params_text).replace("</body>", f"{viewer}</body>")
        with atomic_path(out) as tmp_out:
            tmp_out.write_text(text)
    return out


def render_page(tracks: list[Track], provenance: Mapping[str, str], runs: Runs, params_text: str) -> str:
    """The HTML: summary per track, then per track its protocol, tables, pictures and links."""
    facts = " · ".join(f"{_esc(k)}: <b>{_esc(v)}</b>" for k, v in provenance.items())
    summary = "".join(f"<tr><td><a href='#{t.key}'>{_esc(t.title)}</a></td><td>{_esc(t.best)}</td>"
                      f"<td>{_esc(t.headline)}</td><td>{_esc(t.protocol)}</td></tr>" for t in tracks)
    sections = []
    for t in tracks:
        body = [f"<p class='protocol'><b>Protocol.</b> {_esc(t.protocol)}</p>" if t.protocol else ""]
        body += t.tables or ["<p class='note'>No results yet: run the track's stages (<code>dvc repro</code>).</p>"]
        body += t.pictures
        links = [link for link in t.links if link]
        if links:
            body.append("<h4>Details</h4><ul class='links'>" + "".join(f"<li>{link}</li>" for link in links) + "</ul>")
        sections.append(f"<section id='{t.key}'><h2>{_esc(t.title)}</h2>{''.join(body)}</section>")
    linked = sum(body.count("title='MLflow run'") for body in sections)
    mlflow = (f"<p>{linked:,} numbers link to the MLflow run that logged them (open the dashboard first: "
              f"<code>make ui</code> → <a href='{_esc(runs.ui)}'>{_esc(runs.ui)}</a>).</p>" if linked else
              "<p class='note'>The tracking store held no run of these results when this page was built, so the "
              "numbers are not linked; <code>make ui</code> shows the runs of this machine.</p>")
    params = (f"<details><summary>params.yaml used for this page</summary><pre>{_esc(params_text)}</pre></details>"
              if params_text else "")
    nav = "".join(f"<a href='#{t.key}'>{_esc(t.title.split(' (')[0])}</a>" for t in tracks)
    return ("<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Obscura report</title>"
            f"<meta name='viewport' content='width=device-width,initial-scale=1'><style>{STYLE}</style></head><body><main>"
            f"<header><h1>Obscura report</h1><p>{facts}</p><nav>{nav}<a href='#runs'>Runs and parameters</a></nav></header>"
            "<h2>Summary</h2><table class='summary'><thead><tr><th>Track</th><th>Best method</th><th>Headline</th>"
            f"<th>Protocol</th></tr></thead><tbody>{summary}</tbody></table>{''.join(sections)}"
            f"<section id='runs'><h2>Runs and parameters</h2>{mlflow}{params}</section></main></body></html>\n")
