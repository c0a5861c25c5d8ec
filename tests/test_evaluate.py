"""fer_helpers.evaluate on hand-made labels and probabilities (and one tiny Keras model for TTA)."""
import math

import numpy as np
import pytest
from sklearn.metrics import f1_score

from fer_helpers import evaluate
from fer_helpers.data import CLASS_NAMES, NUM_CLASSES


def one_hot_proba(pred, confidence):
    """Rows whose arg-max is ``pred`` with probability ``confidence``; the rest shared by the other classes."""
    pred = np.asarray(pred)
    confidence = np.broadcast_to(np.asarray(confidence, dtype=float), pred.shape)
    proba = np.repeat(((1 - confidence) / (NUM_CLASSES - 1))[:, None], NUM_CLASSES, axis=1)
    proba[np.arange(len(pred)), pred] = confidence
    return proba


Y_TRUE = np.array([0, 0, 0, 1, 2, 2, 3, 3, 3, 3, 4, 5, 5, 6, 6])
Y_PRED = np.array([0, 2, 0, 0, 2, 5, 3, 3, 3, 4, 4, 5, 2, 6, 0])


# Worked by hand from the 15 labels above: 9 correct; F1 per class (2PR / (P + R)) angry 4/7, disgust 0,
# fear 2/5, happy 6/7, neutral 2/3, sad 1/2, surprise 2/3; macro-F1 is their plain mean over the 7 classes.
HAND_ACCURACY = 9 / 15
HAND_MACRO_F1 = (4 / 7 + 0 + 2 / 5 + 6 / 7 + 2 / 3 + 1 / 2 + 2 / 3) / 7


def test_summary_from_labels_and_probabilities_matches_the_hand_computed_figures():
    for given in (Y_PRED, one_hot_proba(Y_PRED, 0.6)):
        s = evaluate.summary(Y_TRUE, given)
        assert s["accuracy"] == pytest.approx(HAND_ACCURACY)
        assert s["macro_f1"] == pytest.approx(HAND_MACRO_F1)


def test_macro_f1_counts_a_never_predicted_class_as_zero():
    # Class 1 (disgust) occurs once and is never predicted: its F1 is 0 and macro-F1 averages over all 7 classes.
    table = evaluate.per_class_table(Y_TRUE, Y_PRED)
    assert table.loc["disgust", "f1"] == 0
    assert evaluate.summary(Y_TRUE, Y_PRED)["macro_f1"] == pytest.approx(
        f1_score(Y_TRUE, Y_PRED, average=None, labels=list(range(NUM_CLASSES)), zero_division=0).sum() / 7)
    # a perfect predictor of six classes that never says one of them cannot reach macro-F1 1
    y = np.arange(NUM_CLASSES).repeat(10)
    pred = np.where(y == 1, 0, y)
    assert evaluate.summary(y, pred)["macro_f1"] < 6.01 / 7


def test_per_class_table_shape_index_and_values():
    table = evaluate.per_class_table(Y_TRUE, Y_PRED)
    assert table.shape == (NUM_CLASSES, 4)
    assert list(table.index) == list(CLASS_NAMES)
    assert list(table.columns) == ["precision", "recall", "f1", "support"]
    assert table["support"].tolist() == np.bincount(Y_TRUE, minlength=NUM_CLASSES).tolist()
    # angry: 3 true, 2 found (recall 2/3); predicted 4 times, 2 right (precision 2/4)
    assert table.loc["angry", "recall"] == pytest.approx(2 / 3, abs=1e-3)
    assert table.loc["angry", "precision"] == pytest.approx(2 / 4, abs=1e-3)


def test_confusion_counts_and_row_normalisation():
    cm = evaluate.confusion(Y_TRUE, Y_PRED)
    assert cm.shape == (NUM_CLASSES, NUM_CLASSES)
    assert cm.sum() == len(Y_TRUE)
    assert cm[0, 0] == 2 and cm[0, 2] == 1  # rows: true class, columns: predicted
    assert cm[6, 0] == 1 and cm[0, 6] == 0
    np.testing.assert_array_equal(cm.sum(axis=1), np.bincount(Y_TRUE, minlength=NUM_CLASSES))
    normalised = evaluate.confusion(Y_TRUE, Y_PRED, normalise=True)
    present = np.bincount(Y_TRUE, minlength=NUM_CLASSES) > 0
    np.testing.assert_allclose(normalised[present].sum(axis=1), 1.0)
    np.testing.assert_allclose(np.diag(normalised), evaluate.per_class_table(Y_TRUE, Y_PRED)["recall"], atol=1e-3)
    # a class absent from y_true gives a row of zeros, not NaN
    assert not np.isnan(evaluate.confusion(np.array([0, 0]), np.array([0, 1]), normalise=True)).any()


def test_ece_is_zero_when_confidence_equals_accuracy():
    # ten predictions at 80% confidence, eight right; five at 100%, all right
    y = np.zeros(15, dtype=int)
    pred = np.array([0] * 8 + [3] * 2 + [0] * 5)
    proba = one_hot_proba(pred, [0.8] * 10 + [1.0] * 5)
    assert evaluate.expected_calibration_error(y, proba, bins=10) == pytest.approx(0, abs=1e-12)


def test_ece_on_a_hand_computed_example():
    # bin 0.8-0.9: two predictions at 0.85, one right -> |0.5 - 0.85| = 0.35, weight 2/3
    # bin 0.6-0.7: one prediction at 0.62, right     -> |1.0 - 0.62| = 0.38, weight 1/3
    y = np.array([0, 0, 4])
    proba = one_hot_proba(np.array([0, 2, 4]), [0.85, 0.85, 0.62])
    expected = (2 * 0.35 + 1 * 0.38) / 3
    assert evaluate.expected_calibration_error(y, proba, bins=10) == pytest.approx(expected)
    # more bins do not change it here (each group stays in one bin); one bin averages the gaps away
    assert evaluate.expected_calibration_error(y, proba, bins=1) == pytest.approx(abs(2 / 3 - (0.85 * 2 + 0.62) / 3))


def test_reliability_table_bins():
    y = np.array([0, 0, 4, 1, 1])
    proba = one_hot_proba(np.array([0, 2, 4, 1, 1]), [0.85, 0.85, 0.62, 1.0, 0.97])
    table = evaluate.reliability_table(y, proba, bins=10)
    assert table["bin"].tolist() == ["0.60-0.70", "0.80-0.90", "0.90-1.00"]  # empty bins left out, in order
    assert table["count"].tolist() == [1, 2, 2]
    assert table["count"].sum() == len(y)
    np.testing.assert_allclose(table["accuracy"], [1.0, 0.5, 1.0])
    np.testing.assert_allclose(table["confidence"], [0.62, 0.85, 0.985])
    np.testing.assert_allclose(table["lower"], [0.6, 0.8, 0.9])
    np.testing.assert_allclose(table["upper"] - table["lower"], 0.1)
    assert len(evaluate.reliability_table(y[:0], proba[:0], bins=10)) == 0


def test_most_confident_mistakes_order():
    y = np.array([0, 1, 2, 3, 4, 5])
    proba = one_hot_proba(np.array([0, 0, 0, 0, 4, 0]), [0.9, 0.5, 0.95, 0.7, 0.99, 0.3])
    # wrong: indices 1 (0.5), 2 (0.95), 3 (0.7), 5 (0.3); index 0 and 4 are right, however confident
    np.testing.assert_array_equal(evaluate.most_confident_mistakes(y, proba, k=10), [2, 3, 1, 5])
    np.testing.assert_array_equal(evaluate.most_confident_mistakes(y, proba, k=2), [2, 3])
    assert len(evaluate.most_confident_mistakes(y[[0, 4]], proba[[0, 4]])) == 0


def test_paired_comparison_counts_only_the_faces_one_model_gets_right_and_tests_them_as_coin_tosses():
    # Y_PRED is right on 9 faces; model b is right on the same faces but the first (0 -> 2) and also fixes the
    # faces at positions 1 and 5: only_a = 1, only_b = 2. By hand: P(at most 1 of 3 fair tosses, either side) = 1.
    y_b = Y_PRED.copy()
    y_b[0], y_b[1], y_b[5] = 2, 0, 2
    result = evaluate.paired_comparison(Y_TRUE, Y_PRED, one_hot_proba(y_b, 0.9))
    assert (result["only_a"], result["only_b"]) == (1, 2)
    assert result["p_value"] == pytest.approx(1.0)
    # 20 faces only b gets right, 5 only a: two-sided binomial p = 2 * P(X <= 5 | n = 25, 1/2) = 0.004077
    y_true = np.zeros(25, dtype=int)
    lopsided = evaluate.paired_comparison(y_true, np.r_[np.zeros(5), np.ones(20)], np.r_[np.ones(5), np.zeros(20)])
    assert (lopsided["only_a"], lopsided["only_b"]) == (5, 20)
    assert lopsided["p_value"] == pytest.approx(2 * sum(math.comb(25, k) for k in range(6)) / 2**25)
    assert lopsided["p_value"] == pytest.approx(0.004077, abs=1e-6)
    assert evaluate.paired_comparison(Y_TRUE, Y_PRED, Y_PRED) == {"only_a": 0, "only_b": 0, "p_value": 1.0}


def test_temperature_scaling_keeps_argmax_and_recovers_a_known_temperature():
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 1.5, size=(20000, NUM_CLASSES))
    true_p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = np.array([rng.choice(NUM_CLASSES, p=p) for p in true_p])
    over_confident = np.exp(2 * logits) / np.exp(2 * logits).sum(axis=1, keepdims=True)  # logits doubled
    t = evaluate.fit_temperature(y, over_confident)
    assert t == pytest.approx(2.0, rel=0.05)
    calibrated = evaluate.apply_temperature(over_confident, t)
    np.testing.assert_array_equal(calibrated.argmax(axis=1), over_confident.argmax(axis=1))
    np.testing.assert_allclose(calibrated.sum(axis=1), 1.0)
    assert evaluate.negative_log_likelihood(y, calibrated) < evaluate.negative_log_likelihood(y, over_confident)
    assert evaluate.expected_calibration_error(y, calibrated) < evaluate.expected_calibration_error(y, over_confident)
    np.testing.assert_allclose(evaluate.apply_temperature(true_p, 1.0), true_p, atol=1e-9)
    with pytest.raises(ValueError):
        evaluate.apply_temperature(true_p, 0)


@pytest.fixture(scope="module")
def tiny_model():
    import keras
    keras.utils.set_random_seed(1)
    inputs = keras.Input((48, 48, 1))
    x = keras.layers.Rescaling(1 / 255)(keras.layers.AveragePooling2D(8)(inputs))
    outputs = keras.layers.Dense(NUM_CLASSES, activation="softmax")(keras.layers.Flatten()(x))
    return keras.Model(inputs, outputs)


def test_predict_proba_flip_tta_is_the_mean_of_both_passes(tiny_model):
    rng = np.random.default_rng(2)
    x = rng.integers(0, 256, size=(5, 48, 48), dtype=np.uint8)
    plain = evaluate.predict_proba(tiny_model, x)
    mirrored = evaluate.predict_proba(tiny_model, x[:, :, ::-1].copy())
    tta = evaluate.predict_proba(tiny_model, x, tta="flip")
    assert plain.shape == (5, NUM_CLASSES)
    assert not np.allclose(plain, mirrored, atol=1e-4)  # the model is not mirror-symmetric: the test can fail
    np.testing.assert_allclose(tta, (plain + mirrored) / 2, atol=1e-6)


def test_predict_proba_rejects_unknown_tta(tiny_model):
    with pytest.raises(ValueError, match="unknown tta"):
        evaluate.predict_proba(tiny_model, np.zeros((1, 48, 48), np.uint8), tta="rotate")


def test_paired_bootstrap_matches_the_observed_difference_and_brackets_it_with_an_interval():
    rng = np.random.default_rng(1)
    y_true = rng.integers(0, NUM_CLASSES, 600)
    a = np.where(rng.random(600) < 0.5, y_true, rng.integers(0, NUM_CLASSES, 600))
    b = np.where(rng.random(600) < 0.7, y_true, rng.integers(0, NUM_CLASSES, 600))
    for metric in ("accuracy", "macro_f1"):
        result = evaluate.paired_bootstrap(y_true, a, one_hot_proba(b, 0.8), metric=metric, resamples=500)
        observed = evaluate.summary(y_true, b)[metric] - evaluate.summary(y_true, a)[metric]
        assert result["difference"] == pytest.approx(observed)
        assert result["low"] < observed < result["high"]
        assert result["low"] > 0  # b is right on ~74% of faces, a on ~57%: a real difference
    # the same model twice: every resample differs by exactly 0
    assert evaluate.paired_bootstrap(y_true, a, a, resamples=100) == {"difference": 0.0, "low": 0.0, "high": 0.0}
    # recall of one class, by hand: Y_PRED finds 0 of the 1 disgust face; a model that finds it gains 1.0
    fixed = Y_PRED.copy()
    fixed[3] = 1
    recall = evaluate.paired_bootstrap(Y_TRUE, Y_PRED, fixed, metric="recall_disgust", resamples=200)
    assert recall["difference"] == pytest.approx(1.0) and recall["low"] == 0.0 and recall["high"] == 1.0
    with pytest.raises(ValueError):
        evaluate.paired_bootstrap(Y_TRUE, Y_PRED, fixed, metric="recall_contempt")
