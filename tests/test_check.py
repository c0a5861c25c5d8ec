"""fer_helpers.check: every checkable exercise accepts the answer its chapter's solution gives, rejects a wrong one,
and never prints the answer in its hint."""
import re

import numpy as np
import pytest

from fer_helpers import check

# The answers as the chapters' solution cells compute or state them (notebooks/NN_*.py, "## Solutions").
SAME_PADDING_BLOCKS = [(24, 24, 128), (12, 12, 256), (6, 6, 512), (3, 3, 512)]
RIGHT = {
    "1.1": (44, 48, 22),
    "1.3": 68,
    "1.3b": (25, 18),
    "1.4": ("no", "yes"),
    "1.5": 1_176_359,
    "2.1": (0.177, 0.043),
    "3.2": 4.07,
    "4.1": 2_457_984,
    "4.1b": 176.9,
    "4.2": SAME_PADDING_BLOCKS,
    "4.2b": 2_359_808,
    "4.3": 2_097_152,
    "4.3b": 3_840_007,
    "4.4": [46, 62],
    "6.4": (0.80, 1.0),
    "6.5": "no",
    "7.1": (0.143, 0.131),
    "8.1": "max_side",
    "8.3": "ImageOps.exif_transpose(image)",
    "9.1": 3_842,
    "10.2": 4,
    "10.2b": 871.3,
    "11.1": (576, 45, 9e-3),
}
WRONG = {
    "1.1": (44, 44, 22),
    "1.3": 52,
    "1.3b": (25, 9),
    "1.4": ("yes", "yes"),
    "1.5": 1_176_359 + 7,
    "2.1": (0.261, 0.059),
    "3.2": 16.5,
    "4.1": 2_457_600,
    "4.1b": 88.5,
    "4.2": [(23, 23, 128), (10, 10, 256), (4, 4, 512), (1, 1, 512)],
    "4.2b": 262_656,
    "4.3": 0,
    "4.3b": 4_232_199,
    "4.4": [46],
    "6.4": (0.82, 0.94),
    "6.5": "yes",
    "7.1": (0.261, 0.059),
    "8.1": "min_neighbors",
    "8.3": "convert",
    "9.1": 384,
    "10.2": 2,
    "10.2b": 435.6,
    "11.1": (576, 44, 9e-3),
}


def _faces_with_copies():
    """20 random 'faces', two of them exact copies of others: 4 faces have a copy inside the set."""
    x = np.random.default_rng(0).integers(0, 256, (20, 48, 48), dtype=np.uint8)
    x[5], x[9] = x[3], x[7]
    return x


X = _faces_with_copies()
# 2.2: x[3], x[5], x[7] and x[9] have a copy in the set (the other faces are noise, far apart in hash bits).
# 7.5: of the validation part x[:8], only x[7] recurs in the training part x[8:] (as x[9]).
# 2.1: our copy of PublicTest (3,435 faces, 607 neutral).
PUBLIC_TEST_Y = np.repeat(np.arange(7), [467, 56, 496, 895, 607, 653, 261])
DATA = {"2.1": {"y": PUBLIC_TEST_Y}, "2.2": {"x": X}, "7.5": {"x_val": X[:8], "x_train": X[8:]}}
RIGHT.update({"2.2": 4, "7.5": 1})
WRONG.update({"2.2": 2, "7.5": 2})


def test_every_exercise_is_tested():
    assert set(check.available()) == set(RIGHT) == set(WRONG)
    assert all(isinstance(text, str) and text for text in check.available().values())


@pytest.mark.parametrize("key", sorted(RIGHT))
def test_right_answer_passes_and_wrong_one_fails(key, capsys):
    assert check.exercise(key, RIGHT[key], **DATA.get(key, {})) is True
    assert capsys.readouterr().out.strip() == f"{key}: correct"
    assert check.exercise(key, WRONG[key], **DATA.get(key, {})) is False
    assert capsys.readouterr().out.startswith(f"{key}: not yet: ")


def _spellings(value):
    """How an answer could be written in a hint: 1180160, 1,180,160, 0.261, 26.1, ..."""
    if isinstance(value, (list, tuple)):
        return [s for item in value for s in _spellings(item)]
    if isinstance(value, str):
        return [value.lower()] if "(" not in value else ["exif_transpose"]
    if float(value).is_integer():
        return [str(int(value)), f"{int(value):,}"]
    return [f"{value:.3f}", f"{value:.2f}", f"{100 * value:.1f}"] if value < 1 else [f"{value:.1f}", f"{value:.0f}"]


@pytest.mark.parametrize("key", sorted(k for k in RIGHT if k not in ("1.4", "6.5")))   # yes/no: nothing to leak
def test_hint_does_not_give_the_answer(key, capsys):
    check.exercise(key, WRONG[key], **DATA.get(key, {}))
    hint = capsys.readouterr().out.split("not yet: ", 1)[1].lower()
    for spelling in _spellings(RIGHT[key]):
        assert not re.search(rf"(?<![\w.,]){re.escape(spelling)}(?![\w]|[.,]\d)", hint), (key, spelling, hint)


def test_accepts_reasonable_formats():
    assert check.exercise("4.1", "2,457,984")
    assert check.exercise("4.1", np.int64(2_457_984))
    assert check.exercise("4.1", 2_457_984.0)
    assert check.exercise("1.1", [44, 48, 22]) and check.exercise("1.1", np.array([44, 48, 22]))
    assert check.exercise("4.2", [24, 12, 6, 3]) and check.exercise("4.2", [(24, 24), (12, 12), (6, 6), (3, 3)])
    assert check.exercise("7.1", ("14.3%", 13.1)) and check.exercise("7.1", [1 / 7, 0.131])
    assert check.exercise("11.1", ("576", 45, "0.009"))
    assert check.exercise("6.4", (80, "100%"))
    assert check.exercise("4.4", {62, 46})
    assert check.exercise("1.4", (False, True)) and check.exercise("6.5", "No")
    assert check.exercise("8.1", " `MAX_SIDE` ") and check.exercise("8.1", "max_side=None")
    assert check.exercise(" 4.1B ", 177)


def test_rejects_malformed_answers():
    assert not check.exercise("4.1", None)
    assert not check.exercise("4.1", "a lot")
    assert not check.exercise("4.1", [1_180_160, 1])
    assert not check.exercise("1.1", (44, 48))
    assert not check.exercise("6.5", "maybe")
    assert not check.exercise("8.1", 640)


def test_data_dependent_answers_follow_the_data():
    # The committed sample is balanced: always 'neutral' scores 1/7, and its F1 is 2p / (1 + p) with p = 1/7.
    balanced = np.repeat(np.arange(7), 20)
    p = 1 / 7
    assert check.exercise("2.1", (p, 2 * p / (1 + p) / 7), y=balanced)
    assert not check.exercise("2.1", (0.177, 0.043), y=balanced)
    # A uniform guess: recall 1/7 everywhere; on balanced labels every precision is 1/7 too, so macro-F1 = 1/7.
    assert check.exercise("7.1", (p, p), y=balanced)
    assert not check.exercise("7.1", (0.143, 0.131), y=balanced)
    with pytest.raises(TypeError, match="y="):
        check.exercise("2.1", (0.177, 0.043))
    # Against a training part holding only x[3], two validation faces are copies: x[3] and x[5].
    assert check.exercise("7.5", 2, x_val=X[:8], x_train=X[3:4])
    with pytest.raises(TypeError, match="x="):
        check.exercise("2.2", 4)
    with pytest.raises(TypeError, match="takes no"):
        check.exercise("4.1", 1_180_160, x=X)


def test_unknown_exercise_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"4\.1") as error:
        check.exercise("4.9", 1)
    assert "5.1" not in str(error.value)
