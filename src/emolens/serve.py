"""`emolens serve`: JSON API (POST /v1/predict, GET /healthz, OpenAPI at /docs) and a web page at /.

Uploads are read into memory with a hard size cap and never touch the disk; the model is loaded once;
inference runs in a bounded thread pool off the event loop; errors are JSON with a 4xx status, never a trace.
"""

import os
import threading
import time
from importlib import resources

from .errors import EmolensError

MAX_UPLOAD = 10 * 1024 * 1024
MAX_PIXELS = 40_000_000
FIELD_NAMES = ("file", "image")


def create_app(model=None, detector: str = "auto", workers: int = 0, max_upload: int = MAX_UPLOAD,
               max_pixels: int = MAX_PIXELS, min_face: int = 48):
    import anyio
    from fastapi import FastAPI, Request
    from fastapi.responses import HTMLResponse, JSONResponse
    from starlette.formparsers import MultiPartParser

    from . import __version__
    from .images import load_rgb
    from .predict import Recognizer

    MultiPartParser.spool_max_size = max_upload + 1  # keep uploaded parts in memory (never spooled to disk)
    rec = Recognizer(model, detector=detector, max_pixels=max_pixels, min_face=min_face)
    limiter = anyio.CapacityLimiter(workers or os.cpu_count() or 1)
    detect_lock = threading.Lock() if rec.detector.name == "haar" else None  # OpenCV cascades aren't thread-safe
    app = FastAPI(title="emolens", version=__version__,
                  description="Facial emotion recognition: faces, boxes and seven emotion probabilities.")

    class ApiError(Exception):
        def __init__(self, status: int, code: str, message: str):
            self.status, self.code, self.message = status, code, message

    def err(status, code, message):
        return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)

    @app.exception_handler(ApiError)
    async def _api_error(_req, e: ApiError):
        return err(e.status, e.code, e.message)

    @app.exception_handler(Exception)
    async def _any_error(_req, e: Exception):
        return err(500, "internal", "internal error")

    async def read_capped(request: Request) -> bytes:
        cl = request.headers.get("content-length")
        if cl and cl.isdigit() and int(cl) > max_upload + 64 * 1024:
            raise ApiError(413, "too_large", f"upload is {int(cl):,} bytes, over the limit of {max_upload:,}")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_upload + 64 * 1024:  # multipart framing allowance
                raise ApiError(413, "too_large", f"upload is over the limit of {max_upload:,} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    async def image_bytes(request: Request) -> tuple[bytes, str]:
        body = await read_capped(request)
        ctype = request.headers.get("content-type", "")
        if ctype.startswith("multipart/form-data"):
            async def receive():
                return {"type": "http.request", "body": body, "more_body": False}
            sub = Request(request.scope, receive)
            try:
                form = await sub.form(max_files=4, max_fields=16, max_part_size=max_upload)
            except Exception as e:
                raise ApiError(400, "bad_multipart", f"malformed multipart body ({e})") from None
            part = next((form[k] for k in FIELD_NAMES if k in form), None)
            if part is None or isinstance(part, str):
                raise ApiError(422, "missing_file", f"multipart field must be named 'file' (or 'image'); got "
                                                    f"{sorted(form.keys()) or 'no fields'}")
            data = await part.read()
            name = part.filename or "upload"
        else:
            data, name = body, "upload"
        if not data:
            raise ApiError(400, "empty", "empty upload: send image bytes as the body or a multipart 'file' field")
        if len(data) > max_upload:
            raise ApiError(413, "too_large", f"image is {len(data):,} bytes, over the limit of {max_upload:,}")
        return data, name

    def infer(data: bytes, name: str):
        rgb = load_rgb(data, max_pixels, name=name)  # format sniffed from the bytes by Pillow, not the header
        if detect_lock:
            with detect_lock:
                return rec.predict_full(rgb)
        return rec.predict_full(rgb)

    @app.post("/v1/predict", summary="Faces and emotions in one image",
              description="Send the image as a multipart field named `file` (or `image`), or as the raw body.")
    async def predict(request: Request):
        t0 = time.perf_counter()
        data, name = await image_bytes(request)
        try:
            result = await anyio.to_thread.run_sync(infer, data, name, limiter=limiter)
        except EmolensError as e:
            msg = str(e)
            if "over the limit" in msg or "decompression bomb" in msg:
                raise ApiError(413, "too_many_pixels", msg) from None
            if "not an image" in msg:
                raise ApiError(415, "not_an_image", msg) from None
            raise ApiError(400, "bad_image", msg) from None
        return {"faces": [f.to_dict() for f in result.faces], "image": {"width": result.width, "height": result.height},
                "model": {"name": rec.classifier.name, "arch": rec.classifier.info.get("arch"),
                          "version": __version__, "classes": list(rec.classes)},
                "detector": rec.detector.name, "time_ms": round((time.perf_counter() - t0) * 1000, 2)}

    @app.get("/healthz", summary="Liveness and model info")
    async def healthz():
        return {"status": "ok", "model": rec.classifier.name, "version": __version__, "detector": rec.detector.name}

    page = (resources.files("emolens") / "static" / "index.html").read_text()

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def index():
        return page

    return app


def run_server(host: str = "127.0.0.1", port: int = 8000, model=None, detector: str = "auto", workers: int = 0,
               min_face: int = 48):
    try:
        import uvicorn
    except ImportError:
        raise EmolensError("serving needs `pip install emolens[serve]` (fastapi, uvicorn, python-multipart)") from None
    import socket
    if workers < 0:
        raise EmolensError(f"--workers must be >= 0 (0 = number of cores), got {workers}")
    try:  # fail with one line before loading anything if the address cannot be served
        with socket.create_server((host, port)):
            pass
    except OSError as e:
        raise EmolensError(f"cannot listen on {host}:{port} ({os.strerror(e.errno) if e.errno else e})") from None
    app = create_app(model, detector, workers, min_face=min_face)
    print(f"emolens serving on http://{host}:{port}  (API docs: http://{host}:{port}/docs)")
    uvicorn.run(app, host=host, port=port, log_level="warning")
