"""Face-size recall and detection time of the default detector for each `--min-face` setting.

Faces are the public-domain astronaut portrait pasted at known widths (face box width in px) on a 640x480 textured
background, 8 random placements per width (half mirrored). A face counts as found when a box centre lies within
30% of the pasted crop's size from the true face centre. Writes benchmarks/results/detect_recall.json.

    python benchmarks/detect_recall.py
"""
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from common import astronaut  # noqa: E402

WIDTHS = [16, 20, 24, 32, 40, 48, 56, 64, 80, 96, 128, 192]
W, H = 640, 480  # under the default 640 px cap, so the scale is set by --min-face alone
MIN_FACES = [16, 24, 32, 48, 64]
FACE_IN_CROP = 0.42  # YuNet's box on the astronaut's face is ~42% of the pasted crop's width (88 of 210 px)


def scenes(rng, width, n=8):
    import cv2
    a = astronaut()
    face = a[30:250, 130:340]
    bg = (cv2.resize(a[280:512, 0:512], (W, H)) * 0.6 + 60).astype(np.uint8)
    for k in range(n):
        cw = min(W - 1, int(width / FACE_IN_CROP))
        ch = min(H - 1, int(cw * face.shape[0] / face.shape[1]))
        f = cv2.resize(face if k % 2 else face[:, ::-1], (cw, ch), interpolation=cv2.INTER_AREA)
        img = bg.copy()
        x, y = int(rng.integers(0, W - cw + 1)), int(rng.integers(0, H - ch + 1))
        img[y:y + ch, x:x + cw] = f
        yield img, (x + cw / 2, y + ch * 0.45), (cw, ch)


def main():
    from emolens.faces import create_detector
    rows = []
    for mf in MIN_FACES:
        det = create_detector("auto", min_face=mf)
        rng = np.random.default_rng(0)
        recall = {}
        for w in WIDTHS:
            hits = n = 0
            for img, (cx, cy), (cw, ch) in scenes(rng, w):
                boxes = det.detect(img)
                hits += any(abs(b.x + b.w / 2 - cx) < 0.3 * cw and abs(b.y + b.h / 2 - cy) < 0.3 * ch for b in boxes)
                n += 1
            recall[w] = hits / n
        one = astronaut()
        for _ in range(3):
            det.detect(one)
        ts = []
        for _ in range(30):
            t = time.perf_counter()
            det.detect(one)
            ts.append(time.perf_counter() - t)
        smallest = min([w for w in WIDTHS if all(recall[v] == 1.0 for v in WIDTHS if v >= w)], default=None)
        row = {"detector": det.name, "min_face": mf, "detect_scale_512": round(det.scale(512, 512), 3),
               "detect_ms_512x512": round(1000 * float(np.median(ts)), 2),
               "smallest_width_always_found": smallest, "recall_by_face_width": recall}
        rows.append(row)
        print(f"min_face {mf:3}: scale {row['detect_scale_512']:.3f}, {row['detect_ms_512x512']:6.1f} ms on 512x512, "
              f"every face >= {smallest} px found; recall " + " ".join(f"{w}:{r:.2f}" for w, r in recall.items()),
              flush=True)
    out = Path(__file__).parent / "results" / "detect_recall.json"
    out.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
