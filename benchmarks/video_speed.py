"""Video throughput on this machine: frames/s of `Recognizer.video` (decode, detect, classify, track) on
generated clips with one moving face, every frame and every 5th classified, and with the annotated copy written
(`emolens predict clip.mp4 --save`). Writes benchmarks/results/video_speed.json.

    python benchmarks/video_speed.py
"""
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from common import astronaut  # noqa: E402


def make_clip(path: Path, w: int, h: int, seconds: float = 8.0, fps: int = 25) -> Path:
    """The astronaut (face ~90 px wide in a 512 px photo), scaled to the frame height, sliding across."""
    import cv2
    face = astronaut()
    side = h
    img = cv2.resize(face, (side, side))
    wr = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    n = int(seconds * fps)
    for i in range(n):
        frame = np.zeros((h, w, 3), np.uint8)
        x = int((w - side) * i / max(1, n - 1))
        frame[:, x:x + side] = img
        wr.write(np.ascontiguousarray(frame[..., ::-1]))
    wr.release()
    return path


def main():
    from emolens import Recognizer
    from emolens.predict_cli import predict_video
    rec = Recognizer()
    res = {"cpu_cores": os.cpu_count(), "clip_seconds": 8.0, "clip_fps": 25}
    with tempfile.TemporaryDirectory() as d:
        for w, h in ((640, 360), (1280, 720)):
            clip = make_clip(Path(d) / f"clip{w}.mp4", w, h)
            for every in (1, 5):
                t = time.perf_counter()
                frames = list(rec.video(clip, every=every))
                dt = time.perf_counter() - t
                found = sum(len(f.faces) == 1 for f in frames if f.classified) / sum(f.classified for f in frames)
                res[f"{w}x{h}_every{every}_frames_per_s"] = round(len(frames) / dt, 1)
                res[f"{w}x{h}_every{every}_face_found_rate"] = round(found, 3)
            if w >= 1280:  # HD video: faces are big, so look for faces from 96 px and detect on a 4x smaller copy
                t = time.perf_counter()
                frames = list(Recognizer(min_face=96).video(clip))
                res[f"{w}x{h}_every1_min_face_96_frames_per_s"] = round(len(frames) / (time.perf_counter() - t), 1)
                res[f"{w}x{h}_every1_min_face_96_face_found_rate"] = round(sum(len(f.faces) == 1 for f in frames) / len(frames), 3)
            t = time.perf_counter()
            rows, n = predict_video(rec, clip, 1, True, Path(d))
            res[f"{w}x{h}_every1_save_frames_per_s"] = round(n / (time.perf_counter() - t), 1)
    for k, v in res.items():
        print(f"{k}: {v}")
    out = Path(__file__).parent / "results" / "video_speed.json"
    out.write_text(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
