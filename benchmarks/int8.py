"""Does int8 pay for the shipped classifier on this CPU? Accuracy change on PublicTest and faces/s (batch 64)
for the fp32 model, ONNX Runtime dynamic int8 (`emolens export --int8`) and static QDQ int8 (per-channel weights,
activations calibrated on 1,024 training faces). Writes benchmarks/results/int8.json.

    python benchmarks/int8.py --data ../shared/fer2013 [--model model.onnx]
"""
import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from common import machine  # noqa: E402


def faces_per_s(clf, faces, reps=30):
    for _ in range(3):
        clf.logits(faces)
    t = time.perf_counter()
    for _ in range(reps):
        clf.logits(faces)
    return len(faces) * reps / (time.perf_counter() - t)


def static_int8(src, out, calib, clf):
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    def norm(f):
        return (f[:, None].astype(np.float32) / (255 * clf.std)) - clf.mean / clf.std

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter([{clf.input_name: norm(calib[i:i + 64])} for i in range(0, len(calib), 64)])

        def get_next(self):
            return next(self.it, None)

    pre = str(Path(out).with_suffix(".pre.onnx"))
    quant_pre_process(str(src), pre)
    quantize_static(pre, str(out), Reader(), quant_format=QuantFormat.QDQ, activation_type=QuantType.QUInt8,
                    weight_type=QuantType.QInt8, per_channel=True)
    m, m0 = onnx.load(str(out)), onnx.load(str(src))
    del m.metadata_props[:]
    m.metadata_props.extend(m0.metadata_props)  # keep the model card (classes, normalisation, temperature)
    onnx.save(m, str(out))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--model", default=None)
    a = ap.parse_args()
    from sklearn.metrics import f1_score

    from emolens.data import load_dataset, train_val
    from emolens.export import quantize_dynamic_onnx
    from emolens.predict import Classifier, bundled_model_path
    src = Path(a.model) if a.model else bundled_model_path()
    xtr, _, xva, yva, val_name = train_val(load_dataset(a.data, progress=False), 0.1, 0)
    calib = xtr[np.random.default_rng(0).choice(len(xtr), 1024, replace=False)]
    bench = np.random.default_rng(0).integers(0, 255, (64, 48, 48), dtype=np.uint8)
    rows = []
    with tempfile.TemporaryDirectory() as d:
        dyn = quantize_dynamic_onnx(src, Path(d) / "dynamic.onnx")
        qdq = Path(d) / "static.onnx"
        static_int8(src, qdq, calib, Classifier(src))
        for name, path in [("fp32", src), ("int8 dynamic", dyn), ("int8 static QDQ", qdq)]:
            clf = Classifier(path)
            pred = clf.probs(xva).argmax(1)
            rows.append({"variant": name, "bytes": os.path.getsize(path), "split": val_name,
                         "acc": round(float((pred == yva).mean()), 4),
                         "macro_f1": round(float(f1_score(yva, pred, average="macro")), 4),
                         "faces_per_s_batch64": round(faces_per_s(clf, bench), 1)})
            print(rows[-1], flush=True)
    out = {"machine": machine(), "model": str(src),
           "rows": rows}
    (Path(__file__).parent / "results" / "int8.json").write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
