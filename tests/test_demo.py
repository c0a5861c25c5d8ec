"""fer_helpers.demo: the upload and webcam demos of chapter 8b show a real photo even with no upload and no Colab."""
import base64
import datetime
import importlib
import io
import sys
import types
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fer_helpers import demo, faces
from fer_helpers.errors import FerError

PHOTOS = Path(__file__).resolve().parent.parent / "data" / "photos"


def png_bytes(rgb):
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG")
    return buffer.getvalue()


def card():
    """A 30 x 40 colour test card (left half red, right half blue)."""
    rgb = np.zeros((30, 40, 3), np.uint8)
    rgb[:, :20] = (255, 0, 0)
    rgb[:, 20:] = (0, 0, 255)
    return rgb


def upload_value(name, content):
    """What ipywidgets 8's FileUpload holds after one upload."""
    return ({"name": name, "type": "image/png", "size": len(content), "content": memoryview(content),
             "last_modified": datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)},)


def test_no_upload_falls_back_to_a_bundled_photo(capsys):
    image, source = demo.uploaded_or_fallback(None)
    assert (image == faces.read_image(PHOTOS / "grace_hopper.jpg")).all()
    assert source == "data/photos/grace_hopper.jpg (bundled photo)"
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "no photo uploaded" in out and "data/photos/grace_hopper.jpg" in out
    image, _ = demo.uploaded_or_fallback((), fallback=PHOTOS / "astronaut.jpg", verbose=False)
    assert image.shape == (512, 512, 3) and capsys.readouterr().out == ""


def test_an_upload_is_read_in_both_ipywidgets_formats():
    content = png_bytes(card())
    for value in (upload_value("card.png", content), {"card.png": {"metadata": {}, "content": content}}):
        image, source = demo.uploaded_or_fallback(value)
        assert (image == card()).all() and source == "card.png (uploaded)"


def test_a_bad_upload_is_one_line_naming_the_file():
    with pytest.raises(FerError) as err:
        demo.uploaded_or_fallback(upload_value("notes.png", b"not an image at all"))
    message = str(err.value)
    assert message.startswith("notes.png: ") and "\n" not in message and "fer_upload_" not in message


def test_the_widget_calls_the_same_function_as_the_fallback(monkeypatch):
    widgets = pytest.importorskip("ipywidgets")
    shown, calls = [], []
    real = demo.uploaded_or_fallback

    def spy(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(demo, "uploaded_or_fallback", spy)
    upload = demo.upload_widget(lambda image, source: shown.append((image, source)))
    assert isinstance(upload, widgets.FileUpload) and shown == []
    upload.value = upload_value("card.png", png_bytes(card()))
    assert len(calls) == 1 and calls[0][0] is upload
    assert len(shown) == 1 and (shown[0][0] == card()).all() and shown[0][1] == "card.png (uploaded)"


def test_without_ipywidgets_the_module_imports_and_there_is_no_button(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # `import ipywidgets` now raises ImportError
    module = importlib.reload(demo)
    assert module.upload_widget(lambda image, source: None) is None
    assert "ipywidgets is not installed" in capsys.readouterr().out
    image, _ = module.uploaded_or_fallback(None, verbose=False)
    assert image.ndim == 3


def test_snapshot_elsewhere_than_colab_falls_back(monkeypatch, capsys):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    assert not demo.on_colab()
    image, source = demo.snapshot_or_fallback()
    assert (image == faces.read_image(PHOTOS / "astronaut.jpg")).all()
    assert source == "data/photos/astronaut.jpg (bundled photo)"
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "not on Colab" in out


def fake_colab(monkeypatch, eval_js):
    google = types.ModuleType("google")
    colab = types.ModuleType("google.colab")
    output = types.ModuleType("google.colab.output")
    output.eval_js = eval_js
    google.colab, colab.output = colab, output
    for name, module in (("google", google), ("google.colab", colab), ("google.colab.output", output)):
        monkeypatch.setitem(sys.modules, name, module)


def test_snapshot_on_colab_decodes_the_browser_picture(monkeypatch, capsys):
    url = "data:image/png;base64," + base64.b64encode(png_bytes(card())).decode()
    asked = []
    fake_colab(monkeypatch, lambda js: asked.append(js) or url)
    assert demo.on_colab()
    image, source = demo.snapshot_or_fallback()
    assert asked == ["takePhoto(0.8)"] and "async function takePhoto" in demo.TAKE_PHOTO_JS
    assert (image == card()).all() and source == "webcam snapshot"


def test_snapshot_with_the_camera_refused_falls_back(monkeypatch, capsys):
    def refuse(js):
        raise RuntimeError("NotAllowedError: Permission denied\n  at takePhoto")

    fake_colab(monkeypatch, refuse)
    image, source = demo.snapshot_or_fallback()
    assert image.shape == (512, 512, 3) and "bundled" in source
    out = capsys.readouterr().out.splitlines()
    assert "NotAllowedError: Permission denied" in out[-1] and "astronaut.jpg" in out[-1]


def test_data_urls_and_shown_paths():
    assert demo.decode_data_url("data:image/jpeg;base64," + base64.b64encode(b"abc").decode()) == b"abc"
    with pytest.raises(FerError, match="webcam"):
        demo.decode_data_url("undefined")
    assert demo.shown_path(PHOTOS / "astronaut.jpg") == "data/photos/astronaut.jpg"
    assert demo.shown_path("/somewhere/else/video.mp4") == "video.mp4"
