"""Detector comparison on generated test photos (astronaut portrait 512x512; 1280x720 collage of 8 faces,
70-300 px tall, some mirrored): faces found, false positives, ms per image. Writes results/detectors.json."""
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from common import astronaut, collage  # noqa: E402

from emolens.faces import create_detector  # noqa: E402


def score(boxes, truth):
    hit, fp = set(), 0
    for b in boxes:
        cx, cy = b.x + b.w / 2, b.y + b.h / 2
        m = [i for i, (tx, ty, tw) in enumerate(truth) if abs(cx - tx) < tw and abs(cy - ty) < tw]
        if m:
            hit.add(m[0])
        else:
            fp += 1
    return len(hit), fp


def main():
    one = astronaut()
    many, truth = collage()
    rows = []
    for name in ("yunet", "haar"):
        det = create_detector(name, max_side=1280, min_face=0)  # full resolution: the detectors themselves
        r = {"detector": name}
        for label, img, t in (("astronaut_512", one, [(223, 120, 60)]), ("collage_1280x720", many, truth)):
            det.detect(img)
            ts = []
            for _ in range(5):
                t0 = time.perf_counter()
                boxes = det.detect(img)
                ts.append(time.perf_counter() - t0)
            found, fp = score(boxes, t)
            r[label] = {"found": f"{found}/{len(t)}", "false_positives": fp, "ms": round(1000 * float(np.median(ts)), 1)}
        rows.append(r)
        print(r)
    (Path(__file__).parent / "results" / "detectors.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
