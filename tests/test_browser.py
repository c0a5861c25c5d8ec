"""End-to-end: the web page in a real headless Chromium (Debian's chromium + chromedriver), driven over the
W3C WebDriver protocol with httpx. Opens the page, uploads the sample photo, waits for the label, and saves a
screenshot to docs/screenshot.png. Skipped where Chromium is not installed (.ci/run installs it)."""
import base64
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
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


def test_page_uploads_sample_and_shows_label(tmp_path):
    from emolens.predict_cli import sample_photo
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
                                         "--window-size=1300,900"]}}}}
        sid = wd.post("/session", json=caps).json()["value"]["sessionId"]
        s = f"/session/{sid}"
        try:
            wd.post(f"{s}/url", json={"url": f"http://127.0.0.1:{app_port}/"})
            el = wd.post(f"{s}/element", json={"using": "css selector", "value": "#file"}).json()["value"]
            eid = next(iter(el.values()))
            wd.post(f"{s}/element/{eid}/value", json={"text": str(sample_photo())})
            label = ""
            for _ in range(100):
                r = wd.post(f"{s}/elements", json={"using": "css selector", "value": ".face .emotion"}).json()["value"]
                if r:
                    label = wd.get(f"{s}/element/{next(iter(r[0].values()))}/text").json()["value"]
                    break
                time.sleep(0.2)
            assert label == "happy"
            png = base64.b64decode(wd.get(f"{s}/screenshot").json()["value"])
            out = Path(os.environ.get("EMOLENS_SCREENSHOT", tmp_path / "screenshot.png"))
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(png)
            assert png[:4] == b"\x89PNG"
        finally:
            wd.delete(s)
    finally:
        for p in (server, driver):
            p.terminate()
            p.wait(timeout=10)
