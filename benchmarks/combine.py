"""Do the warm-restart stages combine into something better than the last one? PublicTest accuracy and macro-F1
of each checkpoint, of logit-averaged ensembles of the first k (probabilities averaged; k times the inference
cost), and of a uniform weight average of all of them (free at inference; BN statistics averaged too).
Writes benchmarks/results/combine.json.

    python benchmarks/combine.py --data ../shared/fer2013 CKPT.safetensors CKPT.safetensors [...]

List the newest/best stage first: ensembles are built cumulatively in the order given.
"""
import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from common import machine  # noqa: E402


def score(y, probs):
    from sklearn.metrics import f1_score
    pred = probs.argmax(1)
    return {"acc": round(float((pred == y).mean()), 4), "macro_f1": round(float(f1_score(y, pred, average="macro")), 4)}


def weight_average(paths, out):
    """Uniform average of every float tensor; the model card of the first file is kept."""
    from emolens.models import atomic_save_safetensors, read_safetensors
    tensors, meta = read_safetensors(paths[0])
    acc = {k: v.double() if v.is_floating_point() else v for k, v in tensors.items()}
    for p in paths[1:]:
        t, _ = read_safetensors(p)
        for k, v in t.items():
            if v.is_floating_point():
                acc[k] += v.double()
    avg = {k: (v / len(paths)).float() if v.is_floating_point() else v for k, v in acc.items()}
    atomic_save_safetensors(avg, out, meta)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("checkpoints", nargs="+", help=".safetensors checkpoints, best first")
    a = ap.parse_args()
    from emolens.data import eval_split, load_dataset
    from emolens.evaluate import _Model
    from emolens.predict import softmax

    x, y, split = eval_split(load_dataset(a.data, progress=False), "val")
    probs, rows = [], []
    for p in a.checkpoints:
        probs.append(softmax(_Model(p).logits(x)))
        rows.append({"what": f"single {p}", **score(y, probs[-1])})
        print(rows[-1], flush=True)
    for k in range(2, len(probs) + 1):
        rows.append({"what": f"ensemble of the first {k} (logit cost x{k})", **score(y, np.mean(probs[:k], 0))})
        print(rows[-1], flush=True)
    with tempfile.TemporaryDirectory() as d:
        avg = weight_average(a.checkpoints, Path(d) / "avg.safetensors")
        rows.append({"what": f"weight average of all {len(probs)}", **score(y, softmax(_Model(avg).logits(x)))})
        print(rows[-1], flush=True)
    out = {"machine": machine(), "split": split,
           "rows": rows}
    (Path(__file__).parent / "results" / "combine.json").write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
