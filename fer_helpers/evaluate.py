"""How good is a model, honestly: accuracy beside macro-F1, per-class figures, confusion, calibration, TTA.

Accuracy alone flatters a model on FER2013: a net that never says 'disgust' loses only 1.6% of test accuracy
for it. Macro-F1 (the plain mean of the seven per-class F1 scores) counts each emotion equally, so it is
always reported beside accuracy.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import minimize_scalar
from scipy.stats import binomtest
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

from .data import CLASS_NAMES, NUM_CLASSES, as_model_input


def predict_proba(model, x: np.ndarray, batch_size: int = 256, tta: str | None = None) -> np.ndarray:
    """Class probabilities (N, 7) for uint8 faces (N, 48, 48).

    ``tta='flip'``: test-time augmentation, the average of the face and its mirror image. Report it beside the
    plain figure, never instead of it: it doubles the cost of every prediction.
    """
    inputs = as_model_input(x)
    proba = np.asarray(model.predict(inputs, batch_size=batch_size, verbose=0))
    if tta == "flip":
        proba = (proba + np.asarray(model.predict(inputs[:, :, ::-1], batch_size=batch_size, verbose=0))) / 2
    elif tta is not None:
        raise ValueError(f"unknown tta '{tta}' (None or 'flip')")
    return proba


def summary(y_true: np.ndarray, proba_or_pred: np.ndarray) -> dict[str, float]:
    """{'accuracy': ..., 'macro_f1': ...} from labels and either probabilities (N, 7) or predicted labels (N,)."""
    y_pred = _labels(proba_or_pred)
    return {"accuracy": float(accuracy_score(y_true, y_pred)),
            "macro_f1": float(f1_score(y_true, y_pred, average="macro", labels=list(range(NUM_CLASSES)),
                                       zero_division=0))}


def per_class_table(y_true: np.ndarray, proba_or_pred: np.ndarray):
    """Precision, recall, F1 and support per emotion, as a DataFrame (index: class names)."""
    p, r, f, s = precision_recall_fscore_support(y_true, _labels(proba_or_pred), labels=list(range(NUM_CLASSES)),
                                                 zero_division=0)
    return pd.DataFrame({"precision": p, "recall": r, "f1": f, "support": s}, index=list(CLASS_NAMES)).round(3)


def confusion(y_true: np.ndarray, proba_or_pred: np.ndarray, normalise: bool = False) -> np.ndarray:
    """Confusion matrix, rows = true class, columns = predicted; ``normalise`` divides each row by its total
    (the diagonal is then each class's recall)."""
    cm = confusion_matrix(y_true, _labels(proba_or_pred), labels=list(range(NUM_CLASSES)))
    if normalise:
        cm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    return cm


def expected_calibration_error(y_true: np.ndarray, proba: np.ndarray, bins: int = 15) -> float:
    """ECE: the gap between confidence and accuracy, averaged over confidence bins weighted by their size.

    0 means 'when the model says 70% it is right 70% of the time'."""
    table = reliability_table(y_true, proba, bins)
    return float((table["count"] * (table["accuracy"] - table["confidence"]).abs()).sum() / max(len(y_true), 1))


def reliability_table(y_true: np.ndarray, proba: np.ndarray, bins: int = 15):
    """Per confidence bin: number of predictions, their mean confidence and their accuracy (a reliability diagram)."""
    confidence = proba.max(axis=1)
    correct = proba.argmax(axis=1) == np.asarray(y_true)
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    rows = []
    for b in range(bins):
        mask = which == b
        if mask.any():
            rows.append({"bin": f"{edges[b]:.2f}-{edges[b + 1]:.2f}", "lower": float(edges[b]),
                         "upper": float(edges[b + 1]), "count": int(mask.sum()),
                         "confidence": float(confidence[mask].mean()), "accuracy": float(correct[mask].mean())})
    return pd.DataFrame(rows, columns=["bin", "lower", "upper", "count", "confidence", "accuracy"])


def negative_log_likelihood(y_true: np.ndarray, proba: np.ndarray) -> float:
    """Mean -log(probability given to the true class): the loss temperature scaling minimises."""
    y_true = np.asarray(y_true)
    p_true = np.clip(np.asarray(proba, dtype=np.float64)[np.arange(len(y_true)), y_true], 1e-12, 1.0)
    return float(-np.log(p_true).mean())


def apply_temperature(proba: np.ndarray, temperature: float) -> np.ndarray:
    """Rescale probabilities as softmax(log(p) / T): T > 1 softens them, T < 1 sharpens them, T = 1 changes nothing.

    log(p) equals the model's logits up to a per-row constant, which softmax ignores, so this is temperature
    scaling of the logits. The arg-max never moves: accuracy and macro-F1 stay exactly the same."""
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    logits = np.log(np.clip(np.asarray(proba, dtype=np.float64), 1e-12, 1.0)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    e = np.exp(logits)
    return e / e.sum(axis=1, keepdims=True)


def fit_temperature(y_true: np.ndarray, proba: np.ndarray, bounds: tuple[float, float] = (0.05, 20.0)) -> float:
    """The temperature T that minimises the negative log-likelihood of ``apply_temperature(proba, T)``.

    Fit it on the VALIDATION split, then apply it to test: fitted on test, the test calibration figure would be
    a score we optimised, not a measurement (Guo et al. 2017, "On calibration of modern neural networks")."""
    y_true = np.asarray(y_true)
    result = minimize_scalar(lambda log_t: negative_log_likelihood(y_true, apply_temperature(proba, np.exp(log_t))),
                             bounds=(np.log(bounds[0]), np.log(bounds[1])), method="bounded",
                             options={"xatol": 1e-4})
    return float(np.exp(result.x))


def paired_comparison(y_true: np.ndarray, proba_or_pred_a: np.ndarray, proba_or_pred_b: np.ndarray) -> dict:
    """McNemar's exact test of two models on the same faces.

    Faces both models get right, or both wrong, say nothing about which is better; only the faces exactly one of
    them gets right count. If the two were equally good, each such face would be a fair coin toss, so the
    two-sided binomial test of ``only_a`` against ``only_a + only_b`` gives the probability of a split at least
    this lopsided by luck. Sharper than comparing two accuracies as if measured on different faces.
    Returns {'only_a': ..., 'only_b': ..., 'p_value': ...}."""
    y_true = np.asarray(y_true)
    right_a, right_b = _labels(proba_or_pred_a) == y_true, _labels(proba_or_pred_b) == y_true
    only_a, only_b = int((right_a & ~right_b).sum()), int((right_b & ~right_a).sum())
    p_value = 1.0 if only_a + only_b == 0 else float(binomtest(only_a, only_a + only_b, 0.5).pvalue)
    return {"only_a": only_a, "only_b": only_b, "p_value": p_value}


def paired_bootstrap(y_true: np.ndarray, proba_or_pred_a: np.ndarray, proba_or_pred_b: np.ndarray,
                     metric: str = "macro_f1", resamples: int = 2000, level: float = 0.95, seed: int = 0) -> dict:
    """How sure is ``metric(b) - metric(a)``, for two models scored on the same faces? A paired bootstrap.

    Draws ``resamples`` sets of faces with replacement, the same draw for both models (paired: a hard face counts
    against both), and takes the central ``level`` share of the differences. An interval that contains 0 is no
    evidence of a difference. ``metric``: 'accuracy', 'macro_f1' (the seven classes, as :func:`summary`) or
    'recall_<class>' (e.g. 'recall_disgust'). Works where McNemar's test (:func:`paired_comparison`, for accuracy)
    does not: macro-F1 and a class's recall are not sums over faces.
    Returns {'difference': ..., 'low': ..., 'high': ...}."""
    y = np.asarray(y_true)
    a, b = _labels(proba_or_pred_a), _labels(proba_or_pred_b)
    if metric == "accuracy":
        def score(t, p):
            return (t == p).mean(axis=1)
    elif metric == "macro_f1":
        def score(t, p):
            f1 = [2 * ((t == c) & (p == c)).sum(axis=1) / np.maximum((t == c).sum(axis=1) + (p == c).sum(axis=1), 1)
                  for c in range(NUM_CLASSES)]
            return np.mean(f1, axis=0)
    elif metric.startswith("recall_") and metric[len("recall_"):] in CLASS_NAMES:
        label = CLASS_NAMES.index(metric[len("recall_"):])

        def score(t, p):
            return ((t == label) & (p == label)).sum(axis=1) / np.maximum((t == label).sum(axis=1), 1)
    else:
        raise ValueError(f"unknown metric '{metric}' (accuracy, macro_f1 or recall_<class>)")
    rng = np.random.default_rng(seed)
    differences = []
    for start in range(0, resamples, 250):  # in chunks: 250 x n indices at a time keeps memory small
        idx = rng.integers(0, len(y), size=(min(250, resamples - start), len(y)))
        differences.append(score(y[idx], b[idx]) - score(y[idx], a[idx]))
    low, high = np.quantile(np.concatenate(differences), [(1 - level) / 2, (1 + level) / 2])
    observed = score(y[None], b[None])[0] - score(y[None], a[None])[0]
    return {"difference": float(observed), "low": float(low), "high": float(high)}


def most_confident_mistakes(y_true: np.ndarray, proba: np.ndarray, k: int = 12) -> np.ndarray:
    """Indices of the ``k`` wrong predictions made with the highest confidence (often label noise)."""
    wrong = np.flatnonzero(proba.argmax(axis=1) != np.asarray(y_true))
    return wrong[np.argsort(-proba[wrong].max(axis=1))][:k]


def report(y_true: np.ndarray, proba: np.ndarray, split: str) -> str:
    """A short printable report: the split's name, accuracy and macro-F1, then the per-class table."""
    s = summary(y_true, proba)
    lines = [f"{split}: {len(y_true)} faces | accuracy {s['accuracy']:.4f} | macro-F1 {s['macro_f1']:.4f}",
             per_class_table(y_true, proba).to_string()]
    return "\n".join(lines)


def _labels(proba_or_pred: np.ndarray) -> np.ndarray:
    a = np.asarray(proba_or_pred)
    return a.argmax(axis=1) if a.ndim == 2 else a
