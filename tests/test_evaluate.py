import json

import numpy as np
import pytest

from emolens.evaluate import calibration_report, ece, evaluate, fit_temperature, metrics
from emolens.predict import softmax, tta_views


def test_metrics_match_an_independent_computation():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 7, 500)
    pred = np.where(rng.random(500) < 0.6, y, rng.integers(0, 7, 500))
    m = metrics(y, pred)
    cm = np.zeros((7, 7), int)
    for a, b in zip(y, pred):
        cm[a, b] += 1
    assert m["confusion_matrix"] == cm.tolist()
    assert m["accuracy"] == pytest.approx((y == pred).mean())
    f1s = []
    for c in range(7):
        tp, fp, fn = cm[c, c], cm[:, c].sum() - cm[c, c], cm[c].sum() - cm[c, c]
        p, r = tp / (tp + fp), tp / (tp + fn)
        f1s.append(2 * p * r / (p + r))
        name = ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"][c]
        assert m["per_class"][name]["recall"] == pytest.approx(r)
        assert m["per_class"][name]["precision"] == pytest.approx(p)
    assert m["macro_f1"] == pytest.approx(np.mean(f1s))


def test_no_face_counts_as_a_miss():
    y = np.array([0, 1, 2, 3])
    m = metrics(y, np.array([0, 1, -1, -1]))
    assert m["accuracy"] == 0.5 and sum(map(sum, m["confusion_matrix"])) == 2


def test_ece_and_temperature_recovery():
    rng = np.random.default_rng(1)
    true_logits = rng.normal(0, 2, (4000, 7))
    y = np.array([rng.choice(7, p=p) for p in softmax(true_logits)])
    over = true_logits * 3  # over-confident model: temperature 3 undoes it
    assert fit_temperature(over, y) == pytest.approx(3.0, rel=0.1)
    c = calibration_report(over, y)
    assert c["ece_after_crossfit"] < c["ece_before"] / 2
    assert c["nll_after_crossfit"] < c["nll_before"] and c["crossfit_repeats"] == 5
    calibrated = calibration_report(true_logits, y)  # already calibrated: T near 1, little to gain
    assert calibrated["temperature"] == pytest.approx(1.0, abs=0.1)
    assert calibrated["nll_after_crossfit"] == pytest.approx(calibrated["nll_before"], abs=0.01)
    perfect = np.eye(7)[y]
    assert ece(perfect, y) == pytest.approx(0.0)


def test_tta_views():
    x = np.random.default_rng(0).integers(0, 255, (3, 48, 48), dtype=np.uint8)
    assert len(tta_views(x, "none")) == 1 and len(tta_views(x, "flip")) == 2
    v = tta_views(x, "ten")
    assert len(v) == 10 and all(a.shape == x.shape for a in v)
    assert np.array_equal(v[0], x) and np.array_equal(v[5], x[:, :, ::-1])


def test_evaluate_report_files(easy_data, tmp_path):
    from emolens.train import TrainConfig, train
    run = train(TrainConfig(data=str(easy_data), epochs=1, max_batches=2, batch=32, threads=2,
                            project=str(tmp_path / "r")), progress=False)
    rep, out = evaluate(run / "best.safetensors", easy_data, split="val", tta="flip", calibrate=True,
                        project=str(tmp_path / "e"), progress=False)
    for f in ("report.json", "report.txt", "confusion_matrix.png", "predictions.csv"):
        assert (out / f).exists()
    saved = json.loads((out / "report.json").read_text())
    assert "PublicTest" in saved["split"] and saved["images"] == 70
    assert "tta_flip" in saved and "calibration" in saved and "ece" in saved["plain"]
    assert "PublicTest" in (out / "report.txt").read_text()
