"""Bounded load test of `emolens serve` on loopback: requests/s, p50/p99 latency and errors at 1, 8 and 32
concurrent clients. Starts its own server on 127.0.0.1, sends only there, stops by itself.

    python benchmarks/load.py [--requests 1000] [--max-seconds 300]
"""
import argparse
import asyncio
import io
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))
from common import astronaut  # noqa: E402


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def level(url, body, clients, total, deadline):
    lat, errors, sent = [], 0, 0
    lock = asyncio.Lock()

    async def worker(client):
        nonlocal errors, sent
        while True:
            async with lock:
                if sent >= total or time.time() > deadline:
                    return
                sent += 1
            t = time.perf_counter()
            try:
                r = await client.post(url, files={"file": ("a.jpg", body, "image/jpeg")})
                ok = r.status_code == 200 and r.json()["faces"] and r.json()["faces"][0]["emotion"] == "happy"
            except httpx.HTTPError:
                ok = False
            lat.append(time.perf_counter() - t)
            errors += not ok

    t0 = time.perf_counter()
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=clients)) as client:
        await asyncio.gather(*(worker(client) for _ in range(clients)))
    wall = time.perf_counter() - t0
    lat_ms = np.array(lat) * 1000
    return {"clients": clients, "requests": len(lat), "errors": int(errors), "req_per_s": round(len(lat) / wall, 1),
            "p50_ms": round(float(np.percentile(lat_ms, 50)), 1), "p99_ms": round(float(np.percentile(lat_ms, 99)), 1)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--max-seconds", type=float, default=300, help="per concurrency level")
    a = ap.parse_args()
    buf = io.BytesIO()
    Image.fromarray(astronaut()).save(buf, "JPEG", quality=90)
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "emolens.cli", "serve", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        url = f"http://127.0.0.1:{port}/v1/predict"
        rows = [asyncio.run(level(url, buf.getvalue(), c, a.requests, time.time() + a.max_seconds)) for c in (1, 8, 32)]
    finally:
        server.terminate()
        server.wait(timeout=10)
    for r in rows:
        print(r)
    (Path(__file__).parent / "results" / "load.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
