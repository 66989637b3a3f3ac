import gzip
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from obscura.config import parse_params
from obscura.data import fashion_mnist
from obscura.data.prepare import load_fashion_mnist, load_photos
from obscura.errors import DatasetMissingError, ObscuraError
from stages import prepare as prepare_stage


def test_prepare_writes_documented_arrays_and_logs_to_mlflow(tiny_prepare, mlflow_store):
    params = parse_params(tiny_prepare)
    metrics = prepare_stage.run(params)
    out = params.prepare.output
    x, y = load_fashion_mnist(out, "train")
    assert x.shape == (64, 28, 28) and x.dtype == np.uint8 and y.shape == (64,) and y.max() <= 9
    assert load_fashion_mnist(out, "test")[0].shape == (32, 28, 28)
    with np.load(out / "faces.npz") as z:
        assert z["x"].shape == (10, 25, 25) and 0.0 <= z["x"].min() and z["x"].max() <= 1.0
    with np.load(out / "digits.npz") as z:
        assert z["x"].shape == (1797, 8, 8)
    split = {name: load_photos(out, name) for name in ("train", "heldout", "unseen")}
    assert [len(split[s]) for s in ("heldout", "unseen")] == [24, 12] and len(split["train"]) >= 15
    assert sum(map(len, split.values())) == len(set().union(*split.values()))               # disjoint
    assert all(p.shape == (32, 32, 3) and p.dtype == np.uint8 for s in ("heldout", "unseen") for p in split[s].values())
    assert all(min(p.shape[:2]) <= 48 and p.shape[2] == 3 for p in split["train"].values())
    on_disk = json.loads(Path(params.prepare.metrics).read_text())
    assert on_disk == metrics and on_disk["fashion_mnist_train_count"] == 64
    assert all(isinstance(v, (int, float, str)) for v in on_disk.values())          # flat: a DVC metrics file
    sources = json.loads(Path(params.prepare.sources).read_text())
    assert {n for s in split.values() for n in s} == set(sources)
    assert all(sources[n]["split"] == s for s in split for n in split[s])
    assert all(v["licence"] and v["version"] and v["package"] for v in sources.values())
    assert sources["aqua"]["package"] == "mate-backgrounds" and sources["aqua"]["licence"] == "GPL-2+"
    manifest_text = (out / "photos" / "manifest.json").read_text()
    manifest = json.loads(manifest_text)
    assert all(e["source"] == sources[e["name"]] for entries in manifest.values() for e in entries)
    assert sources["astronaut"]["file"] == "skimage.data/astronaut.png"
    assert sources["aqua"]["file"] == "/usr/share/backgrounds/mate/nature/Aqua.jpg"
    for prefix in {sys.prefix, sys.base_prefix, str(Path(sys.executable).parent.parent)}:   # no virtualenv path
        assert prefix not in manifest_text and prefix not in Path(params.prepare.sources).read_text()

    run = MlflowClient(mlflow_store).search_runs(
        [MlflowClient(mlflow_store).get_experiment_by_name("obscura").experiment_id])[0]
    assert run.info.run_name == "prepare" and run.info.status == "FINISHED"
    assert run.data.params["prepare.train_limit"] == "64"
    assert run.data.metrics["fashion_mnist_train_count"] == 64
    assert run.data.tags["obscura.stage"] == "prepare"


def test_prepare_is_deterministic(tiny_prepare, mlflow_store, tmp_path):
    first = prepare_stage.run(parse_params(tiny_prepare))
    tiny_prepare["prepare"]["output"] = str(tmp_path / "again")
    assert prepare_stage.run(parse_params(tiny_prepare)) == first


def test_missing_dataset_tells_user_how_to_install(tiny_prepare, tmp_path, mlflow_store):
    tiny_prepare["prepare"]["fashion_mnist_dir"] = str(tmp_path / "nowhere")
    with pytest.raises(DatasetMissingError, match="make setup"):
        prepare_stage.run(parse_params(tiny_prepare))
    assert not Path(tiny_prepare["prepare"]["output"]).exists()


def test_interrupted_prepare_leaves_no_partial_output(tiny_prepare, mlflow_store, monkeypatch):
    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("obscura.data.shipped.digits", boom)
    with pytest.raises(KeyboardInterrupt):
        prepare_stage.run(parse_params(tiny_prepare))
    out = Path(tiny_prepare["prepare"]["output"])
    assert not out.exists() and not list(out.parent.glob(".prepared*"))


def test_missing_photo_package_stops_before_any_output(tiny_prepare, mlflow_store, monkeypatch, tmp_path):
    from dataclasses import replace

    from obscura.data import photos

    catalogue = tuple(replace(p, file=str(tmp_path / "gone.jpg")) if p.package == "mate-backgrounds" else p
                      for p in photos.CATALOGUE)
    monkeypatch.setattr(photos, "CATALOGUE", catalogue)
    with pytest.raises(DatasetMissingError, match="mate-backgrounds"):
        prepare_stage.run(parse_params(tiny_prepare))
    assert not Path(tiny_prepare["prepare"]["output"]).exists()


def test_photo_split_larger_than_the_catalogue(tiny_prepare, mlflow_store):
    tiny_prepare["prepare"]["photo_splits"] = {"heldout": 50, "unseen": 20}
    with pytest.raises(ObscuraError, match="leave some for training"):
        prepare_stage.run(parse_params(tiny_prepare))


def test_idx_reader_against_known_bytes(tmp_path):
    data = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    header = bytes([0, 0, 8, 3]) + b"".join(int(n).to_bytes(4, "big") for n in data.shape)
    (tmp_path / "a.gz").write_bytes(gzip.compress(header + data.tobytes()))
    np.testing.assert_array_equal(fashion_mnist.read_idx(tmp_path / "a.gz"), data)
    (tmp_path / "b.gz").write_bytes(gzip.compress(header + data.tobytes()[:-1]))
    with pytest.raises(ObscuraError, match="truncated"):
        fashion_mnist.read_idx(tmp_path / "b.gz")
