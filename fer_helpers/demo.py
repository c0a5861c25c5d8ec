"""Your own photo in chapter 8b: an upload button (JupyterLab, Binder) and a webcam snapshot (Colab).

Both end the same way: an RGB image and a line saying where it came from, ``(image, source)``, which the chapter
passes to one function that predicts and draws the emotions. Where there is no upload and no camera (always the
case when a notebook is executed headless: nbconvert, nbval, CI), they fall back to a bundled photo of
``data/photos/`` and say so in one line, so the cell still shows a real result.

- :func:`uploaded_or_fallback` reads the file given to an ``ipywidgets.FileUpload`` (ipywidgets 7 and 8);
- :func:`upload_widget` shows the button and calls ``show(image, source)`` with :func:`uploaded_or_fallback`'s
  answer on each upload: the same function the cell calls for its fallback;
- :func:`snapshot_or_fallback` takes a webcam photo through Colab's JavaScript bridge
  (``google.colab.output.eval_js``), on Colab only (recognised through ``sys.modules``, never a shell test).

ipywidgets, IPython and google.colab are imported inside the functions, so ``fer_helpers`` imports without them.
"""
from __future__ import annotations

import base64
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

from .course import REPO_ROOT, shown_path
from .errors import FerError, reason
from .faces import read_image

PHOTOS_DIR = REPO_ROOT / "data" / "photos"
#: The bundled photos the demos fall back to (public domain, not FER2013: data/photos/README.md).
UPLOAD_FALLBACK = PHOTOS_DIR / "grace_hopper.jpg"
SNAPSHOT_FALLBACK = PHOTOS_DIR / "astronaut.jpg"




def on_colab() -> bool:
    """True inside Google Colab (its kernel preloads the ``google.colab`` module)."""
    return "google.colab" in sys.modules


def _fallback(path: str | os.PathLike, why: str, verbose: bool) -> tuple[np.ndarray, str]:
    source = f"{shown_path(path)} (bundled photo)"
    if verbose:
        print(f"{why}: showing the bundled photo {shown_path(path)} instead")
    return read_image(path), source


def read_image_bytes(content: bytes, name: str = "upload") -> np.ndarray:
    """:func:`fer_helpers.faces.read_image` for bytes in memory (an upload, a webcam snapshot): the same checks
    and the same one-line :class:`FerError`, naming ``name`` instead of the temporary file used to read it."""
    suffix = Path(name).suffix if len(Path(name).suffix) <= 6 else ""
    with tempfile.TemporaryDirectory(prefix="fer_upload_") as folder:
        path = Path(folder) / f"upload{suffix}"
        path.write_bytes(bytes(content))
        try:
            return read_image(path)
        except FerError as err:
            message = str(err)
            for shown in sorted({str(path), str(path.resolve()), shown_path(path)}, key=len, reverse=True):
                message = message.replace(shown, name)
            raise FerError(message) from None


def _uploaded_files(value) -> list[tuple[str, bytes]]:
    """``[(name, bytes), ...]`` from a FileUpload's value: ipywidgets 8 (a tuple of dicts with 'name' and
    'content') or ipywidgets 7 (a dict {name: {'metadata': ..., 'content': ...}})."""
    if not value:
        return []
    if isinstance(value, dict):
        return [(name, bytes(item["content"])) for name, item in value.items()]
    return [(item["name"], bytes(item["content"])) for item in value]


def uploaded_or_fallback(upload=None, fallback: str | os.PathLike = UPLOAD_FALLBACK,
                         verbose: bool = True) -> tuple[np.ndarray, str]:
    """``(image, source)``: the photo last uploaded with ``upload`` (an ``ipywidgets.FileUpload``, or its value),
    as an (H, W, 3) uint8 RGB array; with nothing uploaded (or ``upload=None``) the bundled ``fallback`` photo,
    announced in one printed line (``verbose``). An upload that is not a usable image raises the one-line
    :class:`FerError` of ``read_image``, naming the uploaded file."""
    value = getattr(upload, "value", upload)
    files = _uploaded_files(value)
    if not files:
        return _fallback(fallback, "no photo uploaded", verbose)
    name, content = files[-1]
    return read_image_bytes(content, name), f"{name} (uploaded)"


def upload_widget(show, fallback: str | os.PathLike = UPLOAD_FALLBACK):
    """Display an upload button and an output area; each upload is shown with ``show(image, source)``.

    The callback calls :func:`uploaded_or_fallback`, the same function the chapter's cell calls for its
    fallback, and prints a bad upload's one-line error instead of a traceback. Returns the ``FileUpload``
    widget (pass it to :func:`uploaded_or_fallback`), or None, with one printed line, where ipywidgets is not
    installed.
    """
    try:
        import ipywidgets as widgets
        from IPython.display import display
    except ImportError:
        print("ipywidgets is not installed here, so there is no upload button (pip install ipywidgets)")
        return None
    upload = widgets.FileUpload(accept="image/*", multiple=False, description="Upload a photo")
    output = widgets.Output()

    def on_upload(change):
        with output:
            output.clear_output(wait=True)
            try:
                show(*uploaded_or_fallback(upload, fallback))
            except FerError as err:
                print(err)

    upload.observe(on_upload, names="value")
    display(widgets.VBox([upload, output]))
    return upload


#: Colab's webcam snippet: show the camera stream and a Capture button, return the picture as a JPEG data URL.
TAKE_PHOTO_JS = """
async function takePhoto(quality) {
  const div = document.createElement('div');
  const capture = document.createElement('button');
  capture.textContent = 'Capture';
  div.appendChild(capture);
  const video = document.createElement('video');
  video.style.display = 'block';
  const stream = await navigator.mediaDevices.getUserMedia({video: true});
  document.body.appendChild(div);
  div.appendChild(video);
  video.srcObject = stream;
  await video.play();
  google.colab.output.setIframeHeight(document.documentElement.scrollHeight, true);
  await new Promise((resolve) => capture.onclick = resolve);
  const canvas = document.createElement('canvas');
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  canvas.getContext('2d').drawImage(video, 0, 0);
  stream.getVideoTracks()[0].stop();
  div.remove();
  return canvas.toDataURL('image/jpeg', quality);
}
"""


def decode_data_url(url: str) -> bytes:
    """The bytes of a ``data:<type>;base64,<data>`` URL (what the browser's canvas.toDataURL returns)."""
    header, _, data = str(url).partition(",")
    if not header.startswith("data:") or ";base64" not in header:
        raise FerError("webcam snapshot: the browser did not return an image (expected a base64 data URL)")
    return base64.b64decode(data)


def snapshot_or_fallback(fallback: str | os.PathLike = SNAPSHOT_FALLBACK, quality: float = 0.8,
                         verbose: bool = True) -> tuple[np.ndarray, str]:
    """``(image, source)``: on Colab, a photo from the webcam (the cell shows the camera and waits for a click on
    Capture; the browser asks for permission first); elsewhere, or when the camera is refused or missing, the
    bundled ``fallback`` photo, announced in one printed line (``verbose``)."""
    if not on_colab():
        return _fallback(fallback, "not on Colab (the webcam snapshot uses Colab's JavaScript bridge)", verbose)
    from google.colab.output import eval_js
    from IPython.display import Javascript, display
    display(Javascript(TAKE_PHOTO_JS))
    try:
        url = eval_js(f"takePhoto({float(quality)})")
    except Exception as err:  # the browser's error (no camera, permission refused) comes back as an exception
        return _fallback(fallback, f"no webcam snapshot ({reason(err, limit=1000)})", verbose)
    return read_image_bytes(decode_data_url(url), "webcam.jpg"), "webcam snapshot"
