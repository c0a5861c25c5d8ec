"""Inference speed on this machine: classifier faces/s (PyTorch vs ONNX Runtime), end-to-end ms per photo,
folder throughput, cold start and peak memory. Writes benchmarks/results/speed.json.

    python benchmarks/speed.py [--weights runs/train/<run>/best.safetensors]
"""
import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from common import astronaut, collage, machine  # noqa: E402


def timeit(fn, reps, warm=3):
    for _ in range(warm):
        fn()
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return float(np.median(ts))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", default=None, help=".safetensors of the shipped model (for the PyTorch column)")
    ap.add_argument("--folder-photos", type=int, default=500)
    a = ap.parse_args()
    from emolens import Recognizer
    from emolens.predict import Classifier, bundled_models
    res = {"machine": machine(), "python": platform.python_version()}
    faces = np.random.default_rng(0).integers(0, 255, (64, 48, 48), dtype=np.uint8)
    clf = Classifier()
    res["onnx_faces_per_s_batch1"] = 1 / timeit(lambda: clf.logits(faces[:1]), 300)
    res["onnx_faces_per_s_batch64"] = 64 / timeit(lambda: clf.logits(faces), 30)
    # every bundled model, the same way (reps sized to ~10 s per figure, so the big flagship does not take minutes)
    res["bundled_classifiers"] = {}
    for name in bundled_models():
        c = Classifier(name)
        t64 = timeit(lambda: c.logits(faces), 1, warm=1)
        res["bundled_classifiers"][name] = {
            "mflops": c.info.get("mflops"), "acc_publictest": c.info.get("validation_metrics", {}).get("acc"),
            "faces_per_s_batch1": 1 / timeit(lambda: c.logits(faces[:1]), max(5, min(300, int(10 / (t64 / 64))))),
            "faces_per_s_batch64": 64 / timeit(lambda: c.logits(faces), max(3, min(30, int(10 / t64))))}
        print(name, res["bundled_classifiers"][name], flush=True)
    one = astronaut()
    many, truth = collage()
    with tempfile.TemporaryDirectory() as d:
        import cv2
        jpg = f"{d}/astronaut.jpg"
        cv2.imwrite(jpg, one[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 95])
        # default: faces from 48 px (--min-face 48); 24 finds smaller faces (the old behaviour: full resolution)
        for mf in (48, 24, 64):
            rec = Recognizer(min_face=mf)
            tag = "" if mf == 48 else f"_min_face_{mf}"
            res[f"e2e_ms_512x512_one_face{tag}"] = 1000 * timeit(lambda: rec.predict(one), 40)
            res[f"e2e_ms_512x512_jpeg_file{tag}"] = 1000 * timeit(lambda: rec.predict(jpg), 40)
            res[f"e2e_ms_1280x720_collage{tag}"] = 1000 * timeit(lambda: rec.predict(many), 20)
            res[f"collage_faces_found{tag}"] = f"{len(rec.predict(many))}/{len(truth)}"
        rec = Recognizer()
        t_detect = timeit(lambda: rec.detector.detect(one), 40)
        t_classify = timeit(lambda: rec.classifier.probs(np.zeros((1, 48, 48), np.uint8)), 100)
        res["profile_512x512_detect_ms"] = 1000 * t_detect
        res["profile_512x512_classify_one_face_ms"] = 1000 * t_classify
    with tempfile.TemporaryDirectory() as d:
        import cv2
        rng = np.random.default_rng(1)
        for i in range(a.folder_photos):
            img = np.roll(one, int(rng.integers(-40, 40)), axis=1)
            img = cv2.convertScaleAbs(img, alpha=float(rng.uniform(0.7, 1.2)), beta=float(rng.uniform(-20, 20)))
            cv2.imwrite(f"{d}/p{i:04d}.jpg", img[..., ::-1])
        t = time.perf_counter()
        r = subprocess.run([sys.executable, "-m", "emolens.cli", "predict", d, "--quiet", "--json", f"{d}/o.json"],
                           capture_output=True, text=True)
        dt = time.perf_counter() - t
        assert r.returncode == 0, r.stderr
        res["folder_photos_per_s"] = a.folder_photos / dt
        sample = str(Path(d) / "p0000.jpg")
        starts = []
        for _ in range(3):
            t = time.perf_counter()
            subprocess.run([sys.executable, "-m", "emolens.cli", "predict", sample, "--quiet"], check=True,
                           capture_output=True)
            starts.append(time.perf_counter() - t)
        res["cold_start_s"] = float(np.median(starts))
    if a.weights:  # last: importing torch first would load its OpenMP runtime under the detector's
        import torch

        from emolens.models import load_model
        from emolens.train import predict_logits
        torch.set_num_threads(os.cpu_count())
        m, _ = load_model(a.weights)
        x = torch.from_numpy(faces)
        res["torch_faces_per_s_batch1"] = 1 / timeit(lambda: predict_logits(m, x[:1]), 200)
        res["torch_faces_per_s_batch64"] = 64 / timeit(lambda: predict_logits(m, x), 30)
    res["peak_rss_mb_children"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    for k, v in res.items():
        print(f"{k:32} {v:.1f}" if isinstance(v, float) else f"{k:32} {v}")
    out = Path(__file__).parent / "results" / "speed.json"
    out.write_text(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
