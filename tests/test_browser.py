"""End-to-end: the web page in a real headless Chromium (Debian's chromium + chromedriver), driven over the
W3C WebDriver protocol with httpx. Opens the page, uploads the sample photo, waits for the label, and saves a
screenshot to docs/screenshot.png. Skipped where Chromium is not installed (.ci/run installs it)."""
import base64
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(not (CHROMIUM and DRIVER), reason="chromium/chromedriver not installed")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url, timeout=60):
    t = time.time()
    while time.time() - t < timeout:
        try:
            return httpx.get(url, timeout=2)
        except httpx.HTTPError:
            time.sleep(0.3)
    raise TimeoutError(url)


@contextlib.contextmanager
def page(tmp_path, extra_args=()):
    """A running `emolens serve`, a headless Chromium on its page; yields (WebDriver client, session path)."""
    app_port, drv_port = free_port(), free_port()
    server = subprocess.Popen([sys.executable, "-m", "emolens.cli", "serve", "--port", str(app_port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    driver = subprocess.Popen([DRIVER, f"--port={drv_port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_http(f"http://127.0.0.1:{app_port}/healthz")
        wait_http(f"http://127.0.0.1:{drv_port}/status")
        wd = httpx.Client(base_url=f"http://127.0.0.1:{drv_port}", timeout=60)
        caps = {"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
            "binary": CHROMIUM, "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                                         "--disable-component-update", "--no-first-run", "--disable-quic",
                                         "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}",
                                         "--window-size=1300,900", *extra_args]}}}}
        sid = wd.post("/session", json=caps).json()["value"]["sessionId"]
        s = f"/session/{sid}"
        try:
            wd.post(f"{s}/url", json={"url": f"http://127.0.0.1:{app_port}/"})
            yield wd, s
        finally:
            wd.delete(s)
    finally:
        for p in (server, driver):
            p.terminate()
            p.wait(timeout=10)


def find(wd, s, css):
    r = wd.post(f"{s}/element", json={"using": "css selector", "value": css}).json()["value"]
    return next(iter(r.values()))


def text(wd, s, css) -> str:
    """Text of the first element matching css, or '' if there is none (read in one step: live mode rebuilds
    the page's face cards every frame, so a found element can be gone by the time it is read)."""
    return js(wd, s, f"const e = document.querySelector({css!r}); return e ? e.textContent : ''")


def js(wd, s, script):
    return wd.post(f"{s}/execute/sync", json={"script": script, "args": []}).json()["value"]


def wait_for(fn, timeout=30):
    t = time.time()
    while time.time() - t < timeout:
        v = fn()
        if v:
            return v
        time.sleep(0.2)
    return fn()


def test_page_uploads_sample_and_shows_label(tmp_path):
    from emolens.predict_cli import sample_photo
    with page(tmp_path) as (wd, s):
        wd.post(f"{s}/element/{find(wd, s, '#file')}/value", json={"text": str(sample_photo())})
        assert wait_for(lambda: text(wd, s, ".face .emotion")) == "happy"
        png = base64.b64decode(wd.get(f"{s}/screenshot").json()["value"])
        out = Path(os.environ.get("EMOLENS_SCREENSHOT", tmp_path / "screenshot.png"))
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(png)
        assert png[:4] == b"\x89PNG"


def write_y4m(path: Path, rgb: np.ndarray, frames: int = 10):
    """A raw YUV 4:2:0 video Chromium can play as a fake webcam (--use-file-for-fake-video-capture)."""
    import cv2
    h, w = rgb.shape[:2]
    i420 = cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420).tobytes()
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{w} H{h} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            f.write(b"FRAME\n" + i420)


def test_live_webcam_mode_streams_frames_and_tracks_the_face(tmp_path, astronaut):
    """The webcam is a fake device playing the astronaut photo; Live sends frame after frame."""
    cam = tmp_path / "cam.y4m"
    write_y4m(cam, astronaut)
    args = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={cam}"]
    with page(tmp_path, args) as (wd, s):
        wd.post(f"{s}/element/{find(wd, s, '#cam')}/click", json={})
        assert wait_for(lambda: js(wd, s, "return !document.getElementById('live').disabled"))
        wd.post(f"{s}/element/{find(wd, s, '#live')}/click", json={})
        assert wait_for(lambda: text(wd, s, "#status").startswith("Live: 1 face(s)"))
        assert text(wd, s, ".face .emotion") == "happy"
        n0 = js(wd, s, "return liveFrames")
        assert wait_for(lambda: js(wd, s, "return liveFrames") >= n0 + 3)  # frame after frame...
        assert js(wd, s, "return nextId") == 2 and text(wd, s, ".face .label").startswith("Face 1")  # ...one track
        if os.environ.get("EMOLENS_SCREENSHOT"):
            Path(os.environ["EMOLENS_SCREENSHOT"]).with_name("screenshot_live.png").write_bytes(
                base64.b64decode(wd.get(f"{s}/screenshot").json()["value"]))
        wd.post(f"{s}/element/{find(wd, s, '#live')}/click", json={})  # stop
        assert wait_for(lambda: text(wd, s, "#live") == "Live")
