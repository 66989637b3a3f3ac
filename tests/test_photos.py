"""The natural photos shipped in packages: catalogue, licences, the seeded split and its errors."""

from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from obscura.data import photos
from obscura.data.prepare import square_photo, training_photo
from obscura.errors import DatasetMissingError, ObscuraError


def test_every_photo_is_installed_with_a_licence_and_version():
    photos.check_installed()
    assert len(photos.PHOTOS) == len(photos.CATALOGUE) >= 50
    for p in photos.CATALOGUE:
        source = p.source()
        assert source["licence"] and source["credit"] and source["version"] not in ("", "unknown"), p.name
        assert "opencv" not in source["package"] and "lfw" not in source["file"]


def test_split_is_disjoint_deterministic_and_stratified():
    first = photos.split(24, 12, seed=0)
    assert first == photos.split(24, 12, seed=0)
    assert [len(first[s]) for s in ("heldout", "unseen")] == [24, 12]
    names = [n for s in photos.SPLITS for n in first[s]]
    assert len(names) == len(set(names)) == len(photos.CATALOGUE)
    assert all(first[s] == sorted(first[s]) for s in photos.SPLITS)
    assert photos.split(24, 12, seed=1) != first
    for split in ("heldout", "train"):      # every package with >= 5 photos appears in both
        packages = Counter(photos.PHOTOS[n].package for n in first[split])
        assert all(packages[pkg] >= 1 for pkg, n in Counter(p.package for p in photos.CATALOGUE).items() if n >= 5)


def test_split_asking_for_too_many_photos():
    with pytest.raises(ObscuraError, match="leave some for training"):
        photos.split(40, 20, seed=0)


def test_missing_package_is_one_clear_error(tmp_path):
    gone = [replace(photos.PHOTOS["aqua"], file=str(tmp_path / "a.jpg")),
            replace(photos.PHOTOS["garden"], file=str(tmp_path / "b.jpg")),
            replace(photos.PHOTOS["kite"], package="plasma-workspace-wallpapers", file=str(tmp_path / "c.jpg"))]
    with pytest.raises(DatasetMissingError) as err:
        photos.check_installed(tuple(gone))
    message = str(err.value)
    assert message.count("mate-backgrounds") == 2 and "plasma-workspace-wallpapers" in message
    assert "make setup" in message


def test_missing_python_module_is_listed_with_the_rest(tmp_path):
    gone = [replace(photos.PHOTOS["astronaut"], module="obscura_no_such_package.data"),
            replace(photos.PHOTOS["portrait"], package="no-such-wheel", module="obscura_no_such_module"),
            replace(photos.PHOTOS["aqua"], file=str(tmp_path / "a.jpg")), photos.PHOTOS["kite"]]
    with pytest.raises(DatasetMissingError) as err:
        photos.check_installed(tuple(gone))
    message = str(err.value)
    assert "mate-backgrounds, no-such-wheel, scikit-image are" in message
    assert "`pip install no-such-wheel scikit-image`" in message
    assert "apt-get install mate-backgrounds`" in message and "plasma" not in message


def test_every_debian_photo_is_a_dep_of_the_prepare_stage():
    import yaml
    from conftest import REPO

    deps = [Path(d) for d in yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]["prepare"]["deps"]
            if d.startswith("/")]
    assert all(any(Path(p.file).is_relative_to(d) for d in deps) for p in photos.CATALOGUE if p.registry == "debian")
    assert all(not p.location().startswith("/") for p in photos.CATALOGUE if p.registry == "pypi")


def test_corrupt_photo_file(tmp_path):
    (tmp_path / "broken.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(ObscuraError, match="cannot read .*broken.jpg"):
        replace(photos.PHOTOS["aqua"], file=str(tmp_path / "broken.jpg")).load(64)


def test_square_and_training_photos():
    wide = photos.PHOTOS["bythewater"]
    square = square_photo(wide, 40)
    assert square.shape == (40, 40, 3) and square.dtype == np.uint8
    train = training_photo(wide, 48)
    assert min(train.shape[:2]) == 48 and train.shape[1] > train.shape[0]      # aspect kept
    small = photos.PHOTOS["coins"]                                               # 303 x 384, grey -> RGB
    assert training_photo(small, 1000).shape == (303, 384, 3)                    # never upscaled


def test_validation_squares_are_seeded_full_height_crops_of_the_training_photos(tmp_path):
    import imageio.v3 as iio

    from obscura.inpainting.data import validation_squares

    (tmp_path / "photos").mkdir()
    x = np.broadcast_to(np.arange(200, dtype=np.uint8), (40, 200))
    wide = np.stack([x, x[:, ::-1], np.full_like(x, 7)], -1)
    iio.imwrite(tmp_path / "photos" / "wide.png", wide)
    iio.imwrite(tmp_path / "photos" / "held.png", wide[:, :40])
    manifest = {"train": [{"name": "wide", "path": "photos/wide.png"}],
                "heldout": [{"name": "held", "path": "photos/held.png"}]}
    (tmp_path / "photos" / "manifest.json").write_text(__import__("json").dumps(manifest))
    first = validation_squares(tmp_path, 40, seed=0)
    assert list(first) == ["wide"] and first["wide"].shape == (40, 40, 3)          # training photos only
    left = int(round(first["wide"][0, 0, 0] * 255))
    np.testing.assert_allclose(first["wide"], wide[:, left:left + 40] / 255, atol=1e-6)   # a crop, full height
    np.testing.assert_array_equal(validation_squares(tmp_path, 40, seed=0)["wide"], first["wide"])
    offsets = {int(round(validation_squares(tmp_path, 40, seed=s)["wide"][0, 0, 0] * 255)) for s in range(5)}
    assert len(offsets) > 1
    assert validation_squares(tmp_path, 20, seed=0)["wide"].shape == (20, 20, 3)
