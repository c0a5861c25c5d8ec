"""HTTP API, in-process (FastAPI TestClient)."""
import io

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from emolens.serve import create_app  # noqa: E402


@pytest.fixture(scope="module")
def client():
    return TestClient(create_app(max_upload=2_000_000, max_pixels=2_000_000), raise_server_exceptions=False)


@pytest.fixture(scope="module")
def jpeg(astronaut):
    buf = io.BytesIO()
    Image.fromarray(astronaut).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def test_health_docs_and_page(client):
    assert client.get("/healthz").json()["status"] == "ok"
    assert client.get("/docs").status_code == 200
    assert "/v1/predict" in client.get("/openapi.json").json()["paths"]
    page = client.get("/")
    assert page.status_code == 200 and "getUserMedia" in page.text and "http" not in page.text.split("<script>")[1]


def test_predict_multipart_and_raw(client, jpeg):
    r = client.post("/v1/predict", files={"file": ("a.jpg", jpeg, "image/jpeg")})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["image"] == {"width": 512, "height": 512} and len(body["faces"]) == 1
    f = body["faces"][0]
    assert f["emotion"] == "happy" and len(f["scores"]) == 7 and len(f["box"]) == 4 and 0 < f["detector_score"] <= 1
    assert body["model"]["version"] and body["model"]["classes"][3] == "happy"
    raw = client.post("/v1/predict", content=jpeg, headers={"content-type": "application/octet-stream"})
    assert raw.status_code == 200 and raw.json()["faces"][0]["box"] == f["box"]


def test_content_is_sniffed_not_trusted(client, jpeg):
    r = client.post("/v1/predict", files={"file": ("a.png", b"%PDF-1.4 not an image", "image/png")})
    assert r.status_code == 415 and r.json()["error"]["code"] == "not_an_image"
    r = client.post("/v1/predict", files={"file": ("x.txt", jpeg, "text/plain")})  # a JPEG with a wrong label
    assert r.status_code == 200


@pytest.mark.parametrize("kwargs, status, code", [
    (dict(content=b"", headers={"content-type": "image/jpeg"}), 400, "empty"),
    (dict(files={"photo": ("a.jpg", b"123", "image/jpeg")}), 422, "missing_file"),
    (dict(content=b"\0" * 2_200_000, headers={"content-type": "image/jpeg"}), 413, "too_large"),
])
def test_limits_and_errors(client, kwargs, status, code):
    r = client.post("/v1/predict", **kwargs)
    assert r.status_code == status and r.json()["error"]["code"] == code
    assert "Traceback" not in r.text


def test_pixel_bomb_and_truncated(client, jpeg):
    buf = io.BytesIO()
    Image.fromarray(np.zeros((2000, 1500), np.uint8)).save(buf, "PNG")  # 3 MP, tiny file
    r = client.post("/v1/predict", content=buf.getvalue())
    assert r.status_code == 413 and r.json()["error"]["code"] == "too_many_pixels"
    r = client.post("/v1/predict", content=jpeg[:3000])
    assert r.status_code == 400 and "truncated" in r.json()["error"]["message"]


def test_no_face_is_an_empty_list(client):
    buf = io.BytesIO()
    Image.fromarray(np.full((100, 100, 3), 128, np.uint8)).save(buf, "PNG")
    assert client.post("/v1/predict", content=buf.getvalue()).json()["faces"] == []
