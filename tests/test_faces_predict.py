"""Prediction on real (public-domain) photos: scikit-image's astronaut (NASA) and generated images."""
import io
import json

import numpy as np
import pytest
from PIL import Image

from emolens import CLASSES, Recognizer
from emolens.errors import EmolensError
from emolens.faces import Box, create_detector, fer_crop
from emolens.predict import DEFAULT_MODEL, Face, bundled_model_path, bundled_models, resolve_model


@pytest.fixture(scope="module")
def rec():
    return Recognizer()


def test_bundled_models_have_a_model_card():
    from emolens.predict import Classifier
    assert DEFAULT_MODEL in bundled_models()
    for name in bundled_models():
        c = Classifier(name)
        assert c.classes == CLASSES and c.info["arch"] and c.info["input_size"] == 48 and c.name == name
        assert "validation_metrics" in c.info and c.info["validation_metrics"]["split"] == "val (PublicTest)"
        # the package stays small: the fast models are ~1-2 MB, the flagship is stored as fp16 (18 MB, not 36)
        assert bundled_model_path(name).stat().st_size < (20_000_000 if name == "emonet-l" else 5_000_000)
    assert Classifier().path == bundled_model_path()


def test_the_flagship_reads_the_astronaut_as_the_default_does(astronaut):
    """The fp16-stored flagship loads and agrees with the default on a clear smile (the sample photo)."""
    from emolens.predict import Classifier
    assert "emonet-l" in bundled_models() and Classifier("emonet-l").info["arch"] == "emonet-l"
    faces = Recognizer(model="emonet-l").predict(astronaut)
    assert len(faces) == 1 and faces[0].emotion == "happy" and faces[0].confidence > 0.5


def test_models_are_found_by_bundled_name_or_path(tmp_path, monkeypatch):
    for name in bundled_models():
        assert resolve_model(name) == bundled_model_path(name)
    assert resolve_model(None) == resolve_model("") == bundled_model_path(DEFAULT_MODEL)
    monkeypatch.chdir(tmp_path)
    (tmp_path / DEFAULT_MODEL).write_bytes(b"x")  # a file of that name in the working directory wins
    assert resolve_model(DEFAULT_MODEL).resolve() == tmp_path / DEFAULT_MODEL
    with pytest.raises(EmolensError, match="no such model file"):
        Recognizer(model="no-such-model")
    with pytest.raises(EmolensError, match="bundled model 'nope' is not installed"):
        bundled_model_path("nope")


def test_detector_finds_the_astronaut(astronaut):
    boxes = create_detector("auto").detect(astronaut)
    assert len(boxes) == 1
    b = boxes[0]
    assert 150 < b.x + b.w / 2 < 290 and 60 < b.y + b.h / 2 < 180 and b.score > 0.8


def test_min_face_sets_the_detection_scale_and_keeps_its_promise(astronaut):
    import cv2
    det = create_detector("auto", min_face=48)
    assert det.scale(512, 512) == pytest.approx(det.min_px / 48)      # 512 px photo: detect on ~235 px
    assert det.scale(4000, 3000) == pytest.approx(640 / 4000)          # the long-side cap wins on big photos
    assert create_detector("auto", min_face=16).scale(300, 300) == 1.0  # never upscales
    if det.name == "yunet":  # YuNet pays for its input padded to 32: snap to the grid, keep min_face >= 20 px
        assert det.detect_size(512, 512) == (224, 224)
        assert det.detect_size(720, 1280) == (320, 576)
        assert create_detector("auto", min_face=30).detect_size(100, 700) == (96, 512)
        assert create_detector("auto", min_face=30).detect_size(30, 700) == (30, 512)  # never above the photo
        for h, w in [(480, 640), (333, 517), (1080, 1920), (4000, 3000)]:
            dh, dw = det.detect_size(h, w)
            assert dh % 32 == 0 and dw % 32 == 0 and dh <= h and dw <= w
            f = det.scale(h, w)  # snapping never shrinks the nominal copy by more than 20/22
            assert dw >= w * f * 20 / 22 and dh >= h * f * 20 / 22
    # a face whose box is ~50 px (just above min_face 48) in a 640x480 scene is still found at the reduced scale
    face = cv2.resize(astronaut[30:250, 130:340], (120, 126), interpolation=cv2.INTER_AREA)
    scene = np.full((480, 640, 3), 90, np.uint8)
    scene[200:326, 400:520] = face
    boxes = det.detect(scene)
    assert len(boxes) == 1 and 400 < boxes[0].x + boxes[0].w / 2 < 520 and 40 <= boxes[0].w <= 70
    # a bigger min_face looks on a smaller copy and misses it: the knob really trades recall for speed
    assert create_detector("auto", min_face=160).detect(scene) == []
    with pytest.raises(EmolensError):
        create_detector("auto", max_side=8)


def test_haar_fallback_finds_the_astronaut(astronaut):
    boxes = create_detector("haar").detect(astronaut)
    assert len(boxes) >= 1 and 150 < boxes[0].x + boxes[0].w / 2 < 290


def test_shipped_model_label_for_the_sample(rec, astronaut):
    faces = rec.predict(astronaut)
    assert len(faces) == 1 and isinstance(faces[0], Face)
    assert faces[0].emotion == "happy"  # she is smiling
    assert sum(faces[0].scores.values()) == pytest.approx(1.0, abs=1e-4)
    assert list(faces[0].scores) == list(CLASSES)


def test_api_accepts_paths_bytes_pil_rgb_and_bgr(rec, astronaut, tmp_path):
    p = tmp_path / "a.png"
    Image.fromarray(astronaut).save(p)
    ref = rec.predict(astronaut)[0]
    for src, kw in [(p, {}), (str(p), {}), (p.read_bytes(), {}), (Image.fromarray(astronaut), {}),
                    (astronaut[..., ::-1].copy(), {"color": "bgr"})]:
        f = rec.predict(src, **kw)[0]
        assert f.box == ref.box and f.emotion == ref.emotion
        assert isinstance(f.box, tuple) and isinstance(f.confidence, float)


def test_multi_face_left_to_right(rec, astronaut):
    face = astronaut[20:260, 120:360]
    canvas = np.full((300, 900, 3), 200, np.uint8)
    canvas[30:270, 20:260] = face
    canvas[30:270, 620:860] = face[:, ::-1]
    faces = rec.predict(canvas)
    assert len(faces) == 2 and faces[0].box[0] < faces[1].box[0]


def test_no_face_is_not_an_error(rec):
    assert rec.predict(np.full((200, 300, 3), 127, np.uint8)) == []


def test_exif_rotation_is_applied(rec, astronaut, tmp_path):
    rotated = Image.fromarray(astronaut).transpose(Image.Transpose.ROTATE_90)  # lying on its side
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    p = tmp_path / "r.jpg"
    rotated.save(p, exif=exif, quality=95)
    r = rec.predict_full(p)
    assert (r.width, r.height) == (512, 512) and len(r.faces) == 1


@pytest.mark.parametrize("mode", ["L", "RGBA", "P", "CMYK", "I;16", "LA"])
def test_image_modes(rec, astronaut, tmp_path, mode):
    im = Image.fromarray(astronaut)
    if mode == "I;16":
        a = (np.asarray(im.convert("L")).astype(np.uint16) * 257)
        im = Image.fromarray(a)
        assert im.mode.startswith("I;16")
    else:
        im = im.convert(mode)
    ext = {"CMYK": ".jpg", "I;16": ".png"}.get(mode, ".png")
    p = tmp_path / f"x{ext}"
    im.save(p)
    assert len(rec.predict(p)) == 1


@pytest.mark.parametrize("fmt", ["webp", "tiff", "bmp", "gif"])
def test_formats(rec, astronaut, tmp_path, fmt):
    p = tmp_path / f"x.{fmt}"
    frames = [Image.fromarray(astronaut), Image.fromarray(255 - astronaut)]
    if fmt == "gif":
        frames[0].save(p, save_all=True, append_images=frames[1:])  # animated: first frame is used
    else:
        frames[0].save(p)
    assert len(rec.predict(p)) == 1


def test_bad_inputs(rec, tmp_path, astronaut):
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "text.jpg").write_text("hello")
    buf = io.BytesIO()
    Image.fromarray(astronaut).save(buf, "JPEG")
    (tmp_path / "cut.jpg").write_bytes(buf.getvalue()[:2000])
    for name, msg in [("missing.jpg", "no such file"), ("empty.jpg", "empty file"), ("text.jpg", "not an image"),
                      ("cut.jpg", "truncated")]:
        with pytest.raises(EmolensError, match=msg) as e:
            rec.predict(tmp_path / name)
        assert name in str(e.value) and "\n" not in str(e.value)
    for thing in (None, {"a": 1}, "no/such/file.png".split("/"), np.zeros((4, 4, 5), np.uint8)):
        with pytest.raises(EmolensError, match="not an image"):
            rec.predict(thing)
    noisy = astronaut.astype(np.float32)
    noisy[:10, :10] = np.nan                     # NaN/inf pixels are clipped, not a crash
    noisy[10:20, :10] = np.inf
    assert [f.emotion for f in rec.predict(noisy)] == ["happy"]


def test_decompression_bomb_guard(astronaut, tmp_path):
    small = Recognizer(max_pixels=100_000)
    p = tmp_path / "big.png"
    Image.fromarray(astronaut).save(p)
    with pytest.raises(EmolensError, match="over the limit"):
        small.predict(p)


def test_fer_crop_geometry():
    g = np.zeros((200, 200), np.uint8)
    g[50:150, 60:140] = 255  # a bright 'face' 80 wide
    crop = fer_crop(g, Box(60, 50, 80, 100, 1.0))
    assert crop.shape == (48, 48)
    # the box spans 80/(1.29*80) = 78% of the crop width, centred
    row = crop[24] > 127
    assert abs(row.sum() - 48 / 1.29) <= 2 and abs(np.flatnonzero(row).mean() - 23.5) <= 1.5
    assert fer_crop(g, Box(0, 0, 200, 200, 1.0), whole=True).shape == (48, 48)


def test_batch_prediction_matches_single(rec, astronaut):
    many = rec.predict_many([astronaut, np.full((100, 100, 3), 0, np.uint8), astronaut])
    assert [len(r.faces) for r in many] == [1, 0, 1]
    single = rec.predict(astronaut)[0]
    assert many[2].faces[0].scores == pytest.approx(single.scores, abs=1e-5)
    json.dumps([r.to_dict() for r in many])


@pytest.mark.parametrize("fmt", ["heic", "avif"])
def test_phone_formats_heic_and_avif(rec, astronaut, tmp_path, fmt):
    """iPhone photos are HEIC by default; AVIF is common on the web. Both read as paths and as bytes (uploads)."""
    from pillow_heif import register_heif_opener
    register_heif_opener()  # the writer side; emolens registers the reader itself when it meets such a file
    p = tmp_path / f"photo.{fmt.upper()}"
    Image.fromarray(astronaut).save(p, fmt.upper() if fmt == "avif" else "HEIF", quality=90)
    for src in (p, p.read_bytes()):
        assert [f.emotion for f in rec.predict(src)] == ["happy"]
    from emolens.images import is_image_name
    assert is_image_name(p.name)
    import subprocess
    import sys
    r = subprocess.run([sys.executable, "-m", "emolens.cli", "predict", str(p)], capture_output=True, text=True)
    assert r.returncode == 0 and "happy" in r.stdout, r.stderr  # a fresh process: emolens registers the reader
