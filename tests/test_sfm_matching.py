"""SfM settings chosen from the images (pure rules), loop closure on a generated video, mixed image sizes."""

import shutil

import numpy as np
import pycolmap
import pytest
from PIL import Image
from pydantic import ValidationError

from obscura.rendering.ingest import BadImagesError
from obscura.rendering.params import SfmParams
from obscura.rendering.retrieval import build_vocab_tree, num_visual_words
from obscura.rendering.scenes import build_scene, make_scene
from obscura.rendering.sfm import (_options, choose_matcher, match_images, max_num_features, peak_threshold, run_sfm,
                                  sift_pixels, verified_pairs)


def test_feature_count_follows_the_pixels_sift_sees():
    p = SfmParams(first_octave="auto", max_num_features="auto", max_image_size=1600)
    assert sift_pixels(p, 320, 240) == 4 * 320 * 240                      # first octave -1: upsampled 2x
    assert sift_pixels(p, 4000, 3000) == pytest.approx(1600 * 1200)       # downscaled to 1600, octave 0
    assert max_num_features(p, 320, 240) == 8192                          # octave -1: COLMAP's default
    assert max_num_features(p, 900, 1200) == 8192                         # 1.08 MP: still octave -1
    assert max_num_features(p, 1400, 1000) == 8192                        # octave 0: 1.4 MP / 200 -> 7000: floor
    assert max_num_features(p, 1600, 1200) == 10240                       # octave 0: 1.92 MP / 200 -> 9600
    assert max_num_features(p.model_copy(update={"max_image_size": 3000}), 3000, 2000) == 16384  # 6 MP: ceiling
    assert max_num_features(p.model_copy(update={"first_octave": -1}), 1600, 1200) == 8192  # a set octave -1
    assert max_num_features(p.model_copy(update={"max_num_features": 4000}), 1000, 750) == 4000  # a set value wins


def test_peak_threshold_follows_the_first_octave():
    p = SfmParams(first_octave="auto", peak_threshold="auto", max_image_size=1600)
    assert peak_threshold(p, 640, 480) == peak_threshold(p, 900, 1200) == pytest.approx(0.02 / 3)  # octave -1
    assert peak_threshold(p, 1600, 1200) == peak_threshold(p, 1400, 1000) == 0.004   # octave 0 keeps weaker peaks
    assert peak_threshold(p.model_copy(update={"first_octave": 1}), 640, 480) == 0.004
    assert peak_threshold(p.model_copy(update={"peak_threshold": 0.01}), 1600, 1200) == 0.01   # a set value wins
    extraction = _options(p, 0, 1600, 1200, {})[1]
    assert extraction.sift.peak_threshold == pytest.approx(0.004) and extraction.sift.first_octave == 0


def test_matcher_follows_image_count_and_video():
    p = SfmParams(matcher="auto", exhaustive_max_images=100)
    assert choose_matcher(p, 100, video=False) == "exhaustive"
    assert choose_matcher(p, 101, video=False) == "vocab_tree"
    assert choose_matcher(p, 12, video=True) == choose_matcher(p, 500, video=True) == "sequential"
    assert choose_matcher(p.model_copy(update={"matcher": "exhaustive"}), 500, video=True) == "exhaustive"


def test_vocabulary_size_follows_the_descriptor_count():
    assert num_visual_words(1_000) == 256 and num_visual_words(100_000) == 1000 and num_visual_words(10**7) == 4096


def test_vocabulary_tree_repeats_for_a_seed_on_several_threads(loop_sequence, tmp_path):
    trees = []
    for seed in (0, 0, 1):
        build_vocab_tree(loop_sequence / "features.db", tmp_path / "tree.bin", seed=seed, num_threads=2)
        trees.append((tmp_path / "tree.bin").read_bytes())
    assert trees[0] == trees[1] and trees[0] != trees[2]


@pytest.mark.parametrize("bad", [{"max_num_features": 10}, {"max_num_features": "many"}, {"matcher": "spatial"},
                                 {"peak_threshold": 0}, {"peak_threshold": "low"}, {"refine_reproj_factor": 0.5},
                                 {"refine_reproj_factor": -1}])
def test_bad_choice_params_are_refused(bad):
    with pytest.raises(ValidationError):
        SfmParams(**bad)


@pytest.fixture(scope="module")
def loop_sequence(tmp_path_factory):
    """24 frames (15 deg apart) on one closed circle around the objects, procedural textures, SIFT features
    extracted into a database: the last frame sits next to the first."""
    root = tmp_path_factory.mktemp("loop")
    scene = build_scene("orbit", 24, 240, 180, textures="procedural", turns=1.0, elevation_deg=(25.0, 25.0),
                        kind="video")
    make_scene("loop", scene, root / "scene", supersample=1, gt_points=0, progress=False)
    extraction = pycolmap.FeatureExtractionOptions(num_threads=1, use_gpu=False)
    extraction.sift.first_octave = -1
    pycolmap.extract_features(root / "features.db", root / "scene" / "images", extraction_options=extraction,
                              camera_mode=pycolmap.CameraMode.SINGLE, device=pycolmap.Device.cpu)
    return root


def _matched_pairs(root, tmp_path, loop_detection: bool):
    db = tmp_path / f"loop_{loop_detection}.db"
    shutil.copy(root / "features.db", db)
    params = SfmParams(sequential_overlap=2, loop_detection=loop_detection)
    info = match_images(db, params, "sequential", pycolmap.FeatureMatchingOptions(num_threads=1, use_gpu=False),
                        pycolmap.TwoViewGeometryOptions(), seed=0)
    assert not (tmp_path / "vocab_tree.bin").exists()
    return info, verified_pairs(db)[1]


def test_loop_detection_matches_the_end_of_a_video_with_its_start(loop_sequence, tmp_path):
    plain, plain_pairs = _matched_pairs(loop_sequence, tmp_path, loop_detection=False)
    assert plain == {"matcher": "sequential", "loop_detection": False}
    assert ("000.png", "001.png") in plain_pairs and ("000.png", "023.png") not in plain_pairs
    looped, loop_pairs = _matched_pairs(loop_sequence, tmp_path, loop_detection=True)
    assert looped["loop_detection"] and looped["vocab_tree_words"] == 256
    assert ("000.png", "023.png") in loop_pairs          # the loop closes: last frame next to the first
    assert set(plain_pairs) < set(loop_pairs)


def test_many_photos_are_matched_through_the_vocabulary_tree(loop_sequence, tmp_path):
    db = tmp_path / "tree.db"
    shutil.copy(loop_sequence / "features.db", db)
    info = match_images(db, SfmParams(), "vocab_tree", pycolmap.FeatureMatchingOptions(num_threads=1, use_gpu=False),
                        pycolmap.TwoViewGeometryOptions(), seed=0)
    pairs = verified_pairs(db)[1]
    assert info["matcher"] == "vocab_tree" and ("000.png", "023.png") in pairs and ("011.png", "012.png") in pairs


def test_images_of_two_sizes_are_refused_with_the_sizes_listed(loop_sequence, tmp_path):
    """The scene format holds one camera (scene.json width/height, one PINHOLE camera for the renderers), so
    a folder mixing sizes is refused before COLMAP runs, naming each size and its files."""
    images = tmp_path / "mixed" / "images"
    shutil.copytree(loop_sequence / "scene" / "images", images)
    for name in ["020.png", "021.png"]:
        with Image.open(images / name) as im:
            im.resize((320, 240)).save(images / name)
    with pytest.raises(BadImagesError, match=r"2 different sizes:\n  240x180: 000.png.*\n  320x240: 020.png, 021.png"):
        run_sfm(tmp_path / "mixed", SfmParams(), undistort=False, progress=False)
    assert not (tmp_path / "mixed" / "sparse").exists()
    assert np.asarray(Image.open(images / "020.png")).shape == (240, 320, 3)
