"""Honest evaluation: metrics on a named split, confusion matrix, calibration, optional TTA reported apart.

Works with a training checkpoint (.safetensors, needs torch) or an exported/bundled model (.onnx, no torch).
With `detect=True` the data is a folder of full photos (<root>/<class>/<photo>): faces are found first, and a
photo with no face counts as a miss (the no-face rate is reported on its own).
"""
from __future__ import annotations

import csv
import io
import json
import os
import sys
from pathlib import Path

import numpy as np

from .errors import EmolensError
from .labels import CLASSES, NUM_CLASSES
from .predict import softmax, tta_views
from .train_helpers import atomic_write_text


class _Model:
    """Uniform .logits(uint8 faces) over torch checkpoints and ONNX files."""

    def __init__(self, path):
        from .predict import resolve_model
        p = resolve_model(path)
        if not p.is_file():
            raise EmolensError(f"{p}: no such model file")
        self.path = p
        if p.suffix == ".onnx":
            from .predict import Classifier
            self.clf = Classifier(p)
            self.info, self.temperature = self.clf.info, self.clf.temperature
            self.logits = self.clf.logits
        elif p.suffix == ".safetensors":
            import torch

            from .models import load_model
            from .train import predict_logits
            torch.set_num_threads(os.cpu_count() or 1)
            model, self.info = load_model(p)
            self.temperature = float(self.info.get("temperature", 1.0))
            self.logits = lambda x: predict_logits(model, torch.from_numpy(np.ascontiguousarray(x))).numpy()
        else:
            raise EmolensError(f"{p}: model must be a .safetensors checkpoint or an .onnx file")

    def view_logits(self, x, tta):
        return [self.logits(np.ascontiguousarray(v)) for v in tta_views(x, tta)]


def ece(probs: np.ndarray, labels: np.ndarray, bins: int = 15) -> float:
    """Expected calibration error (equal-width confidence bins), the usual definition."""
    conf, pred = probs.max(1), probs.argmax(1)
    edges = np.linspace(0, 1, bins + 1)
    total = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        m = (conf > lo) & (conf <= hi)
        if m.any():
            total += m.mean() * abs((pred[m] == labels[m]).mean() - conf[m].mean())
    return float(total)


def nll(logits, labels, t=1.0) -> float:
    p = softmax(logits / t)
    return float(-np.log(np.clip(p[np.arange(len(labels)), labels], 1e-12, 1)).mean())


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """Temperature minimising NLL (bounded scalar search; scipy ships with scikit-learn)."""
    from scipy.optimize import minimize_scalar
    res = minimize_scalar(lambda lt: nll(logits, labels, float(np.exp(lt))), bounds=(-3, 3), method="bounded")
    return float(np.exp(res.x))


def calibration_report(logits: np.ndarray, labels: np.ndarray, seed: int = 0, repeats: int = 5) -> dict:
    """ECE and NLL before/after temperature scaling. The 'after' figures are cross-fitted (T fitted on one half,
    measured on the other, both ways) and averaged over `repeats` random halvings, so they are not measured on
    the data the temperature was fitted on and do not hinge on one lucky split."""
    rng = np.random.default_rng(seed)
    ece_after, nll_after = [], []
    for _ in range(repeats):
        idx = rng.permutation(len(labels))
        halves = [idx[: len(idx) // 2], idx[len(idx) // 2:]]
        e = n = 0.0
        for a, b in (halves, halves[::-1]):
            t = fit_temperature(logits[a], labels[a])
            e += ece(softmax(logits[b] / t), labels[b]) * len(b)
            n += nll(logits[b], labels[b], t) * len(b)
        ece_after.append(e / len(labels))
        nll_after.append(n / len(labels))
    t_all = fit_temperature(logits, labels)
    return {"ece_before": ece(softmax(logits), labels), "ece_after_crossfit": float(np.mean(ece_after)),
            "nll_before": nll(logits, labels), "nll_after_crossfit": float(np.mean(nll_after)),
            "nll_after": nll(logits, labels, t_all), "temperature": t_all, "crossfit_repeats": repeats}


def metrics(y: np.ndarray, pred: np.ndarray, probs: np.ndarray | None = None) -> dict:
    from sklearn.metrics import accuracy_score, classification_report, confusion_matrix, f1_score

    labels = list(range(NUM_CLASSES))
    valid = pred >= 0
    pred_c = np.where(valid, pred, -1)
    cm = confusion_matrix(y[valid], pred_c[valid], labels=labels)
    rep = classification_report(y, pred_c, labels=labels, target_names=list(CLASSES), output_dict=True, zero_division=0)
    text = classification_report(y, pred_c, labels=labels, target_names=list(CLASSES), digits=4, zero_division=0)
    out = {"n": int(len(y)), "accuracy": float(accuracy_score(y, pred_c)),
           "macro_f1": float(f1_score(y, pred_c, labels=labels, average="macro", zero_division=0)),
           "per_class": {c: {k: float(rep[c][k]) for k in ("precision", "recall", "f1-score", "support")} for c in CLASSES},
           "confusion_matrix": cm.tolist(), "report_text": text}
    if probs is not None:
        out["ece"] = ece(probs, y)
    return out


def plot_confusion(cm: np.ndarray, title: str, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cm = np.asarray(cm, dtype=float)
    norm = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    fig, axes = plt.subplots(1, 2, figsize=(14, 6))
    for ax, mat, fmt, sub in ((axes[0], cm, "{:.0f}", "counts"), (axes[1], norm, "{:.2f}", "row-normalised (recall)")):
        im = ax.imshow(mat, cmap="Blues")
        ax.set_xticks(range(NUM_CLASSES), CLASSES, rotation=45, ha="right")
        ax.set_yticks(range(NUM_CLASSES), CLASSES)
        ax.set(xlabel="predicted", ylabel="true", title=sub)
        thresh = mat.max() / 2
        for i in range(NUM_CLASSES):
            for j in range(NUM_CLASSES):
                ax.text(j, i, fmt.format(mat[i, j]), ha="center", va="center",
                        color="white" if mat[i, j] > thresh else "black", fontsize=8)
        fig.colorbar(im, ax=ax, fraction=0.046)
    fig.suptitle(title)
    fig.tight_layout()
    tmp = path.with_name(path.stem + f".tmp{os.getpid()}.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)


def _photos(data, recognizer_kw, progress):
    """Detect + classify every photo of a split-less <root>/<class>/<photo> folder."""
    from tqdm import tqdm

    from .data import scan_folder
    from .images import load_rgb
    from .predict import Recognizer

    root = Path(data)
    items = scan_folder(root)
    if not items:
        raise EmolensError(f"{root}: no photos in class folders")
    rec = Recognizer(**recognizer_kw)
    y, pred, probs, names, bad = [], [], [], [], []
    for rel, cls, _ in tqdm(items, desc="photos", unit="img", disable=not progress, file=sys.stderr):
        try:
            rgb = load_rgb(root / rel)
        except EmolensError as e:
            bad.append(str(e))
            continue
        boxes, crops = rec.detect_and_crop(rgb)
        y.append(cls)
        names.append(rel)
        if not boxes:
            pred.append(-1)
            probs.append(np.full(NUM_CLASSES, np.nan))
            continue
        k = int(np.argmax([b.w * b.h for b in boxes]))  # the labelled face: the largest
        p = rec.classifier.probs(crops[k:k + 1], rec.tta)[0]
        pred.append(int(p.argmax()))
        probs.append(p)
    if bad:
        print(f"warning: skipped {len(bad)} unreadable file(s): " + "; ".join(bad[:5]), file=sys.stderr)
    if not y:
        raise EmolensError(f"{root}: none of the photos could be read")
    return np.array(y), np.array(pred), np.array(probs), names


def evaluate(model, data, split: str = "auto", tta: str = "none", allow_train: bool = False, detect: bool = False,
             detector: str = "auto", calibrate: bool = False, project: str = "runs/evaluate", name: str = "",
             progress: bool = True, min_face: int = 48) -> tuple[dict, Path]:
    from .train_helpers import new_run_dir, writable_dir

    m = _Model(model)
    writable_dir(project)  # before the work, not after it
    report: dict = {"model": str(m.path), "arch": m.info.get("arch"), "data": str(data)}
    if detect:
        y, pred, probs, names = _photos(data, {"model": m.path if m.path.suffix == ".onnx" else None,
                                               "detector": detector, "tta": tta, "min_face": min_face}, progress)
        if m.path.suffix != ".onnx":
            print("note: --detect classifies with the ONNX path; using the bundled model", file=sys.stderr)
        split_name = "photos with face detection (split-less folder)"
        found = pred >= 0
        report.update(split=split_name, no_face_rate=float(1 - found.mean()), images=int(len(y)))
        report["plain"] = metrics(y, pred)
        report["plain"]["accuracy_on_found_faces"] = float((pred[found] == y[found]).mean()) if found.any() else 0.0
        logits = None
    else:
        from .data import eval_split, load_dataset
        ds = load_dataset(data, progress=progress)
        x, y, split_name = eval_split(ds, split, allow_train)
        if len(y) == 0:
            raise EmolensError(f"{data}: the '{split}' split is empty")
        views = m.view_logits(x, tta if tta != "none" else "none")
        logits = views[0]
        t = m.temperature
        p_plain = softmax(logits / t)
        report.update(split=split_name, images=int(len(y)), temperature=t)
        report["plain"] = metrics(y, p_plain.argmax(1), p_plain)
        if tta != "none":
            p_tta = np.mean([softmax(v / t) for v in views], axis=0)
            report[f"tta_{tta}"] = metrics(y, p_tta.argmax(1), p_tta)
        if calibrate:
            report["calibration"] = calibration_report(logits, y)
        probs, pred = p_plain, p_plain.argmax(1)
        names = [f"{i}" for i in range(len(y))]
    out = new_run_dir(project, name or (m.info.get("arch") or m.path.stem))
    best_key = f"tta_{tta}" if f"tta_{tta}" in report else "plain"
    plot_confusion(np.array(report[best_key]["confusion_matrix"]),
                   f"{m.path.name} on {split_name}: acc {report[best_key]['accuracy']:.4f}, "
                   f"macro-F1 {report[best_key]['macro_f1']:.4f}" + (f" (TTA {tta})" if best_key != "plain" else ""),
                   out / "confusion_matrix.png")
    atomic_write_text(out / "report.json", json.dumps(report, indent=2))
    atomic_write_text(out / "report.txt", render_text(report))
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["item", "label", "predicted"] + [f"p_{c}" for c in CLASSES])
    for nm, yy, pp, pr in zip(names, y, pred, probs):
        w.writerow([nm, CLASSES[yy], CLASSES[pp] if pp >= 0 else "no face"] + [f"{v:.5f}" for v in pr])
    atomic_write_text(out / "predictions.csv", buf.getvalue())
    return report, out


def render_text(r: dict) -> str:
    lines = [f"model: {r['model']} ({r.get('arch')})", f"data:  {r['data']}",
             f"split: {r['split']}  ({r['images']:,} images)"]
    if "no_face_rate" in r:
        lines.append(f"no face found: {r['no_face_rate']:.1%} of photos (counted as misses)")
    for key in [k for k in r if k == "plain" or k.startswith("tta_")]:
        m = r[key]
        label = "plain" if key == "plain" else f"test-time augmentation ({key[4:]})"
        lines += ["", f"== {label}: accuracy {m['accuracy']:.4f}   macro-F1 {m['macro_f1']:.4f}"
                  + (f"   ECE {m['ece']:.4f}" if "ece" in m else ""), m["report_text"]]
    if "calibration" in r:
        c = r["calibration"]
        lines += [f"calibration: ECE {c['ece_before']:.4f} at T=1 -> {c['ece_after_crossfit']:.4f} with temperature "
                  f"scaling, NLL {c['nll_before']:.4f} -> {c.get('nll_after_crossfit', c['nll_after']):.4f} "
                  f"(2-fold cross-fitted, mean of {c.get('crossfit_repeats', 1)} halvings); "
                  f"T fitted on the whole split = {c['temperature']:.3f}"]
    return "\n".join(lines) + "\n"
