"""Photo folder / video ingest: normalisation and one clear error per kind of bad input."""

import json

import numpy as np
import pytest
from PIL import Image

from obscura.errors import ObscuraError
from obscura.rendering.ingest import BadImagesError, check_images, ingest
from obscura.rendering.scenes.textures import photo


def _save(path, array, **kw):
    Image.fromarray((np.asarray(array) * 255).astype(np.uint8)).save(path, **kw)
    return path


def _photos(folder, n=4, size=(48, 36)):
    folder.mkdir(parents=True, exist_ok=True)
    img = photo("astronaut")
    for i in range(n):
        _save(folder / f"p{i}.jpg", img[i * 20:i * 20 + size[1], i * 10:i * 10 + size[0]])
    return folder


def test_ingest_rotates_by_exif_downscales_and_writes_split(tmp_path):
    src = _photos(tmp_path / "in", n=9, size=(80, 60))
    upright = np.asarray(Image.open(src / "p3.jpg"))
    # p3 is stored sideways with EXIF orientation 6 ("rotate 90 CW to view"): it must come out as the others
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(np.rot90(upright, 1)).save(src / "p3.jpg", exif=exif, quality=95)
    out = ingest(src, tmp_path / "scene", max_size=40, test_every=8, progress=False)
    assert out == {"num_images": 9, "width": 40, "height": 30}
    names = [f"p{i}.png" for i in range(9)]
    assert sorted(p.name for p in (tmp_path / "scene" / "images").iterdir()) == names
    got = np.asarray(Image.open(tmp_path / "scene" / "images" / "p3.png"), np.float32)
    ref = np.asarray(Image.fromarray(upright).resize((40, 30), Image.Resampling.LANCZOS), np.float32)
    assert got.shape == (30, 40, 3) and np.abs(got - ref).mean() < 6  # JPEG re-encode noise only
    info = json.loads((tmp_path / "scene" / "scene.json").read_text())
    assert info["split"]["test"] == ["p0.png", "p8.png"] and info["kind"] == "photos"


def test_exif_35mm_focal_becomes_the_focal_prior_in_pixels(tmp_path):
    src = _photos(tmp_path / "in", n=4, size=(80, 60))
    for i, f35 in enumerate([28, 28, None, 30]):
        if f35:
            exif = Image.Exif()
            exif.get_ifd(0x8769)[0xA405] = f35
            Image.open(src / f"p{i}.jpg").save(src / f"p{i}.jpg", exif=exif, quality=95)
    ingest(src, tmp_path / "scene", max_size=40, progress=False)
    info = json.loads((tmp_path / "scene" / "scene.json").read_text())
    assert info["focal_prior_px"] == pytest.approx(28 / 36 * 40)  # median of 28, 28, 30 mm; long side 40 px
    assert info["focal_prior_source"] == "EXIF FocalLengthIn35mmFilm"
    ingest(_photos(tmp_path / "plain"), tmp_path / "plain_scene", progress=False)
    assert "focal_prior_px" not in json.loads((tmp_path / "plain_scene" / "scene.json").read_text())


def test_ingest_video_takes_frames_at_the_requested_rate(tmp_path):
    import cv2

    path = tmp_path / "walk.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (64, 48))
    for i in range(20):  # 2 seconds at 10 fps
        writer.write(np.full((48, 64, 3), i * 12, np.uint8))
    writer.release()
    out = ingest(path, tmp_path / "scene", max_size=None, video_fps=2.0, progress=False)
    assert out == {"num_images": 4, "width": 64, "height": 48, "dropped_frames": 0}
    first, second = (np.asarray(Image.open(tmp_path / "scene" / "images" / f"frame_{i:05d}.png")) for i in (0, 1))
    assert abs(float(second.mean()) - float(first.mean()) - 5 * 12) < 8  # frame 5 follows frame 0


def test_blurry_and_redundant_video_frames_are_dropped_and_listed(tmp_path):
    import cv2

    from obscura.rendering.ingest import select_frames

    img = (photo("astronaut") * 255).astype(np.uint8)
    frames = [np.ascontiguousarray(img[i * 8:i * 8 + 96, i * 8:i * 8 + 128]) for i in range(8)]
    frames[3] = cv2.GaussianBlur(frames[3], (0, 0), 4)       # motion blur
    frames[6] = frames[5].copy()                              # camera stopped
    keep, dropped = select_frames(frames)
    assert keep == [0, 1, 2, 4, 5, 7] and dropped == {"blurry": [3], "redundant": [6]}
    path = tmp_path / "walk.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 2, (128, 96))
    for f in frames:
        writer.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    writer.release()
    out = ingest(path, tmp_path / "scene", max_size=None, video_fps=2.0, progress=False)
    info = json.loads((tmp_path / "scene" / "scene.json").read_text())
    assert out["num_images"] == 6 and out["dropped_frames"] == 2
    assert info["dropped_frames"] == {"blurry": ["frame_00003"], "redundant": ["frame_00006"]}
    assert "frame_00003.png" not in info["images"] and "frame_00007.png" in info["images"]


def test_corrupt_jpeg_and_text_named_jpg_are_listed_in_one_error(tmp_path):
    src = _photos(tmp_path / "in")
    data = (src / "p1.jpg").read_bytes()
    (src / "p1.jpg").write_bytes(data[: len(data) // 2])       # truncated JPEG
    (src / "notes.jpg").write_text("this is not a photo\n")
    with pytest.raises(BadImagesError) as err:
        ingest(src, tmp_path / "scene", progress=False)
    msg = str(err.value)
    assert "p1.jpg" in msg and "corrupt" in msg and "notes.jpg" in msg and "not an image" in msg
    assert "p0.jpg" not in msg and "Remove these files" in msg
    assert not (tmp_path / "scene").exists()


def test_fewer_than_three_images_is_an_error(tmp_path):
    src = _photos(tmp_path / "in", n=2)
    with pytest.raises(BadImagesError, match=r"found 2 image\(s\).*at least 3"):
        ingest(src, tmp_path / "scene", progress=False)
    with pytest.raises(BadImagesError, match="at least 3"):
        check_images(sorted(src.iterdir()))


def test_mixed_sizes_name_the_odd_files(tmp_path):
    src = _photos(tmp_path / "in", n=4, size=(48, 36))
    _save(src / "odd.png", photo("coffee")[:50, :70])
    with pytest.raises(BadImagesError) as err:
        ingest(src, tmp_path / "scene", max_size=None, progress=False)
    msg = str(err.value)
    assert "2 different sizes" in msg and "70x50: odd" in msg and "48x36" in msg
    with pytest.raises(BadImagesError, match="70x50: odd.png"):
        check_images(sorted(src.iterdir()))


def test_missing_folder_and_non_video_file(tmp_path):
    with pytest.raises(ObscuraError, match="not a directory"):
        ingest(tmp_path / "nope", tmp_path / "scene", progress=False)
    (tmp_path / "a.txt").write_text("x")
    with pytest.raises(ObscuraError, match="not a video"):
        ingest(tmp_path / "a.txt", tmp_path / "scene", progress=False)


def test_cli_ingest_bad_folder_exits_2_with_the_list(tmp_path):
    import subprocess
    import sys

    src = _photos(tmp_path / "in")
    (src / "notes.jpg").write_text("not a photo")
    proc = subprocess.run([sys.executable, "-m", "obscura", "scene", "ingest", str(src), str(tmp_path / "scene")],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 2 and "notes.jpg: not an image" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "scene").exists()
    (src / "notes.jpg").unlink()
    ok = subprocess.run([sys.executable, "-m", "obscura", "scene", "ingest", str(src), str(tmp_path / "scene"),
                         "--max-size", "32"], capture_output=True, text=True, cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert "4 images of 32x24" in ok.stdout
