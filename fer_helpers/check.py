"""Check your answers to the chapters' exercises.

Where an exercise has an answer that can be checked (a number, a shape, a list, a choice), the line under it
shows the call::

    from fer_helpers import check
    check.exercise("4.1", your_answer)  # prints "4.1: correct" or "4.1: not yet: <a hint>"; returns True / False

``check.available()`` lists the exercises it knows. The expected answers are computed from ``fer_helpers``
itself (the chapter's models are built and counted, receptive fields and sizes are worked out from their
layers), not copied from the solutions, so they stay right if the code changes. A few answers depend on the data
you loaded; pass those arrays as keywords, as the line under the exercise shows
(``check.exercise("7.5", n, x_val=x_val, x_train=x_train)``).

Numbers may be ints, floats, NumPy scalars or strings like ``"1,180,160"``; shares may be fractions (0.26) or
percentages (26 or ``"26%"``); several answers go in a tuple or list; choices may be ``True``/``False`` or
``"yes"``/``"no"`` in any case.
"""
from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import augment, data, evaluate, faces, models

# --- reading an answer ------------------------------------------------------------------------------------------

def _number(value) -> float | None:
    """A float from an int, float, NumPy scalar or a string such as '1,180,160' or '26.1%'; None if not one."""
    if isinstance(value, (bool, np.bool_)) or np.ndim(value) != 0:
        return None
    if isinstance(value, str):
        text = value.strip().replace(",", "").replace("_", "")
        try:
            return float(text[:-1]) / 100 if text.endswith("%") else float(text)
        except ValueError:
            return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _share(value) -> float | None:
    """A fraction in 0..1; a number above 1 is read as a percentage."""
    number = _number(value)
    return number / 100 if number is not None and number > 1 else number


def _items(value) -> list | None:
    """A tuple, list, set or 1-d array as a list; None for anything else."""
    if isinstance(value, (tuple, list, set, frozenset)):
        return list(value)
    if isinstance(value, np.ndarray) and value.ndim == 1:
        return value.tolist()
    return None


_YES_NO = {"yes": True, "y": True, "true": True, "no": False, "n": False, "false": False}


def _yes_no(value) -> bool | None:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    return _YES_NO.get(value.strip().lower()) if isinstance(value, str) else None


# --- ways of comparing ------------------------------------------------------------------------------------------

def _exact(answer, expected) -> bool:
    number = _number(answer)
    return number is not None and number == expected


def _within(tolerance: float, share: bool = False) -> Callable[[Any, float], bool]:
    def compare(answer, expected) -> bool:
        number = _share(answer) if share else _number(answer)
        return number is not None and abs(number - expected) <= tolerance
    return compare


def _each(compare: Callable) -> Callable[[Any, list], bool]:
    """Element-wise over a sequence of the expected length, in order."""
    def compare_all(answer, expected) -> bool:
        items = _items(answer)
        return items is not None and len(items) == len(expected) and all(map(compare, items, expected))
    return compare_all


def _same_set(answer, expected) -> bool:
    items = _items(answer)
    if items is None:
        return False
    numbers = [_number(item) for item in items]
    return None not in numbers and sorted(numbers) == sorted(expected)


def _shapes(answer, expected) -> bool:
    """Block outputs as (h, w, c) shapes, as (h, w) or as side lengths h: each form is accepted."""
    items = _items(answer)
    if items is None or len(items) != len(expected):
        return False
    for item, shape in zip(items, expected):
        parts = _items(item)
        parts = [item] if parts is None else parts
        if len(parts) not in (1, 2, 3) or [_number(p) for p in parts] != list(shape[:len(parts)]):
            return False
    return True


def _choice(answer, expected) -> bool:
    return _yes_no(answer) is expected


def _contains(answer, expected) -> bool:
    return isinstance(answer, str) and expected in answer.strip().strip("`").lower()


def _parameter_name(answer, expected) -> bool:
    return isinstance(answer, str) and answer.strip().strip("`").split("=")[0].strip().lower() == expected


# --- expected answers, from fer_helpers -------------------------------------------------------------------------

@functools.cache
def _seed_cnn():
    return models.build_seed_cnn()


@functools.cache
def _vgg_bn():
    return models.build_vgg_bn()


@functools.cache
def _seed_table():
    return models.layer_table(_seed_cnn()).set_index("layer")


@functools.cache
def _seed_cnn_same():
    """Chapter 4's network with every convolution padded 'same' (exercise 4.2), rebuilt from its config."""
    import keras
    config = _seed_cnn().get_config()
    for layer in config["layers"]:
        layer.pop("build_config", None)          # shapes are inferred again for the new padding
        if layer["class_name"] == "Conv2D":
            layer["config"]["padding"] = "same"
    return keras.Model.from_config(config)


@functools.cache
def _conv3_variant_row():
    """Exercise 4.1's layer: conv3 of chapter 4 with 384 filters of 5x5 (input 10x10x256, valid, biases)."""
    import keras
    layer = keras.Sequential([keras.Input((10, 10, 256)), keras.layers.Conv2D(384, 5, name="conv3_5x5")])
    return models.layer_table(layer).set_index("layer").loc["conv3_5x5"]


def _layers_of(model, kind: str) -> list:
    return [layer for layer in model.layers if type(layer).__name__ == kind]


def _output_size(size: int, kernel: int, stride: int, padding: str) -> int:
    return math.ceil(size / stride) if padding == "same" else (size - kernel) // stride + 1


def _receptive_field(model) -> int:
    """r grows by (k - 1) x jump at every convolution and pooling; the jump multiplies by the stride."""
    field, jump = 1, 1
    for layer in model.layers:
        window = getattr(layer, "kernel_size", None) or getattr(layer, "pool_size", None)
        if window is not None:
            field += (window[0] - 1) * jump
            jump *= layer.strides[0]
    return field


def _sees_every_pixel(sizes=range(40, 65)) -> list[int]:
    """Input sizes for which every 'valid' convolution + pooling of chapter 4's net drops nothing and ends >= 1x1."""
    convs, pools = _layers_of(_seed_cnn(), "Conv2D"), _layers_of(_seed_cnn(), "MaxPooling2D")
    found = []
    for n in sizes:
        complete, size = True, n
        for conv, pool in zip(convs, pools):
            size -= conv.kernel_size[0] - 1
            complete &= size % pool.pool_size[0] == 0
            size //= pool.pool_size[0]
        if complete and size >= 1:
            found.append(n)
    return found


def _always(emotion: str, y) -> list[float]:
    """Accuracy and macro-F1 of answering ``emotion`` for every face of ``y``."""
    y = np.asarray(y)
    scores = evaluate.summary(y, np.full(len(y), data.CLASS_NAMES.index(emotion)))
    return [scores["accuracy"], scores["macro_f1"]]


# Our copy of PublicTest, faces per class in data.CLASS_NAMES order (the figures given in exercise 7.1).
_PUBLIC_TEST_COUNTS = (467, 56, 496, 895, 607, 653, 261)


def _uniform_guess(y=None) -> list[float]:
    """Expected accuracy and macro-F1 of guessing each emotion with probability 1/7, from the expected counts: on
    ``y`` if given, else on our copy of PublicTest. Class k's precision is its share of the faces, its recall 1/7."""
    counts = (np.bincount(np.asarray(y), minlength=data.NUM_CLASSES) if y is not None
              else np.asarray(_PUBLIC_TEST_COUNTS))
    share, recall = counts / counts.sum(), 1 / data.NUM_CLASSES
    f1 = np.where(share > 0, 2 * share * recall / np.maximum(share + recall, 1e-12), 0.0)
    return [recall, float(f1.mean())]


def _pooled_csv() -> list[float]:
    """Training accuracies a for which 84% on the CSV's whole pool (28,709 train + 3,589 PublicTest + 3,589
    PrivateTest) leaves a test accuracy t = (0.84 - share * a) / (1 - share) between 0 and 1, with a itself
    between 0 and 1."""
    share = sum(augment.FER2013_TRAIN_COUNTS.values()) / (28_709 + 2 * 3_589)
    return [max(0.0, (0.84 - (1 - share)) / share), min(1.0, 0.84 / share)]


def _happy_over_disgust(power: float = 0.5) -> float:
    """How many times more total loss weight (count x weight) happy carries than disgust in FER2013's train."""
    y = np.repeat(np.arange(data.NUM_CLASSES), list(augment.FER2013_TRAIN_COUNTS.values()))
    weights, counts = augment.class_weights(y, power=power), np.bincount(y)
    happy, disgust = data.CLASS_NAMES.index("happy"), data.CLASS_NAMES.index("disgust")
    return counts[happy] * weights[happy] / (counts[disgust] * weights[disgust])


def _haar_parameter() -> str:
    name = "max_side"
    assert name in inspect.signature(faces.HaarDetector).parameters
    return name


def _orientation_call() -> str:
    name = "exif_transpose"
    assert name in inspect.getsource(faces.read_image)
    return name


# --- the exercises ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Exercise:
    description: str
    expected: Callable[..., Any]          # called with the data keywords the exercise needs
    matches: Callable[[Any, Any], bool]
    hint: str
    needs: tuple[str, ...] = ()


_EXERCISES = {
    "1.1": _Exercise(
        "output sizes of a 5x5 convolution on 48x48: (valid stride 1, same stride 1, valid stride 2)",
        lambda: [_output_size(48, 5, s, p) for p, s in (("valid", 1), ("same", 1), ("valid", 2))], _each(_exact),
        "three side lengths in the order (a), (b), (c); 'valid' gives floor((n - k) / s) + 1, 'same' pads so that "
        "only the stride shrinks the map"),
    "1.3": _Exercise(
        "receptive field, in pixels, of the four VGG-style blocks of models.build_vgg_bn()",
        lambda: _receptive_field(_vgg_bn()), _exact,
        "each 3x3 convolution adds 2 x jump, each 2x2 pooling adds 1 x jump and doubles the jump; there is no pooling "
        "after the fourth block"),
    "1.3b": _Exercise(
        "weights of one 5x5 convolution and of two stacked 3x3 ones (one input and one output channel)",
        lambda: [5 * 5, 2 * 3 * 3], _each(_exact),
        "a pair (one 5x5, two 3x3); a k x k kernel over one channel holds k x k weights"),
    "1.4": _Exercise(
        "does a softmax temperature change (the accuracy, the cross-entropy)? two yes/no answers",
        lambda: [False, True], _each(_choice),
        "a pair of yes/no; dividing all logits by the same positive number keeps their order but not their gaps"),
    "1.5": _Exercise(
        "parameters of models.build_vgg_bn()",
        lambda: _vgg_bn().count_params(), _exact,
        "per convolution 3 x 3 x c_in x c_out (no bias) plus 4 x c_out for its BatchNormalization; then the "
        "softmax layer on the pooled channels, with its biases"),
    "2.1": _Exercise(
        "accuracy and macro-F1 of always answering 'neutral' on test (PublicTest); pass y=test.y",
        lambda y: _always("neutral", y), _each(_within(0.003, share=True)),
        "a pair (accuracy, macro-F1); accuracy is the share of neutral faces; only neutral gets a nonzero F1 "
        "(its recall is 1), and macro-F1 averages over all seven classes", needs=("y",)),
    "2.2": _Exercise(
        "test faces with an exact or near copy (<= 12 bits) inside the test split; pass x=test.x",
        lambda x: int((data.nearest_by_hash(x)[1] <= 12).sum()), _exact,
        "count faces, not extra copies: every face whose nearest other test face (data.nearest_by_hash) is at "
        "most 12 bits away, exact copies included", needs=("x",)),
    "3.2": _Exercise(
        "with power=0.5 weights, happy's total weight (count x weight) over disgust's, on FER2013 train",
        _happy_over_disgust, _within(0.02),
        "one number; count x weight per class with augment.class_weights(y, power=0.5) on labels built from "
        "augment.FER2013_TRAIN_COUNTS, then happy's total divided by disgust's"),
    "4.1": _Exercise(
        "parameters of conv3 with 384 filters of 5x5 (input 10x10x256, valid)",
        lambda: int(_conv3_variant_row()["parameters"]), _exact,
        "kernel height x width x input channels x filters, plus one bias per filter"),
    "4.1b": _Exercise(
        "MFLOPs per face of that layer",
        lambda: float(_conv3_variant_row()["MFLOPs"]), _within(0.5),
        "output height x width x filters, times the multiply-adds per output value, times 2 FLOPs each; in millions"),
    "4.2": _Exercise(
        "output shapes of the four blocks with padding='same' (list of (h, w, c), or of side lengths)",
        lambda: [tuple(p.output.shape[1:]) for p in _layers_of(_seed_cnn_same(), "MaxPooling2D")], _shapes,
        "four shapes, one per block; with 'same' only the 2x2 pooling changes the size (rounding down), and the "
        "channels are the block's filters"),
    "4.2b": _Exercise(
        "parameters of the first Dense layer with padding='same'",
        lambda: int(_seed_cnn_same().get_layer("dense1").count_params()), _exact,
        "Flatten gives h x w x c values of the last block; the Dense layer has one weight per value and unit, "
        "plus one bias per unit"),
    "4.3": _Exercise(
        "parameters saved by GlobalAveragePooling2D instead of Flatten in the padding='same' network of 4.2",
        lambda: (int(np.prod(_seed_cnn_same().get_layer("flatten").output.shape[1:]))
                 - _layers_of(_seed_cnn_same(), "Conv2D")[-1].filters) * _seed_cnn_same().get_layer("dense1").units,
        _exact,
        "compare how many numbers Flatten and global average pooling pass on to the first Dense layer; each one "
        "costs a weight per unit of that layer"),
    "4.3b": _Exercise(
        "parameters left with GlobalAveragePooling2D and no hidden Dense layers",
        lambda: (sum(c.count_params() for c in _layers_of(_seed_cnn(), "Conv2D"))
                 + (_layers_of(_seed_cnn(), "Conv2D")[-1].filters + 1) * data.NUM_CLASSES), _exact,
        "all convolution parameters, plus the softmax layer: one weight per pooled channel and class, plus "
        "one bias per class"),
    "4.4": _Exercise(
        "input sizes from 40 to 64 for which the network sees every pixel and ends with at least 1x1",
        _sees_every_pixel, _same_set,
        "a list of sizes; follow n through conv (n - 2) and pool (n // 2) four times: every pooling must get an "
        "even size"),
    "6.4": _Exercise(
        "lowest and highest training accuracy compatible with 84% on the CSV's pool of 35,887 faces",
        _pooled_csv, _each(_within(0.006, share=True)),
        "a pair (lowest, highest); write 84% = (training share) x a + (test share) x t for this pool, find a where t "
        "is at its largest and at its smallest, and remember that a is an accuracy too"),
    "6.5": _Exercise(
        "is 'best val acc' (max over epochs) a fair estimate of accuracy on new faces? yes/no",
        lambda: False, _choice,
        "think about what choosing the maximum of many noisy measurements on the same faces does to it"),
    "7.1": _Exercise(
        "expected accuracy and macro-F1 of guessing each emotion with probability 1/7 on PublicTest (counts given)",
        _uniform_guess, _each(_within(0.003, share=True)),
        "a pair (accuracy, macro-F1); every class's recall is 1/7 and its precision is its share of the faces; "
        "F1 = 2PR / (P + R) per class, then the plain mean of the seven"),
    "7.5": _Exercise(
        "validation faces byte-identical to a training face; pass x_val=... and x_train=...",
        lambda x_val, x_train: int(data.duplicates_of(x_val, x_train).sum()), _exact,
        "compare exact pixels (data.pixel_hashes or data.duplicates_of), and count validation faces, not pairs",
        needs=("x_val", "x_train")),
    "8.1": _Exercise(
        "the HaarDetector parameter that decides the smallest face found in a large photo",
        _haar_parameter, _parameter_name,
        "give the parameter's name as a string; look at faces.HaarDetector's arguments: which one shrinks the "
        "photo before the search?"),
    "8.3": _Exercise(
        "the function read_image calls to put a phone photo upright",
        _orientation_call, _contains,
        "give the function's name as a string; read faces.read_image: phones store a rotation tag in the photo's "
        "metadata"),
    "9.1": _Exercise(
        "validation faces McNemar's test needs for a 1-point gain when 10% of the faces are discordant (p < 0.05)",
        lambda: 1.96 ** 2 * 0.10 / 0.01 ** 2, _within(200),
        "with b and c the faces only one recipe gets right, McNemar's statistic is (b - c)^2 / (b + c); write both "
        "as shares of N faces and solve for the N that reaches the 5% critical value of a chi-square with 1 degree "
        "of freedom"),
    "10.2": _Exercise(
        "about how many times smaller a TFLite file with 8-bit weights is than one with 32-bit weights",
        lambda: 32 / 8, _within(0.5),
        "compare the bits per weight; the file is almost all weights"),
    "10.2b": _Exercise(
        "GFLOP/s needed for 2,000 faces/s with chapter 4's network (models.count_flops)",
        lambda: 2000 * models.count_flops(_seed_cnn()) / 1e9, _within(10),
        "faces per second x FLOPs per face, in billions; models.count_flops(models.build_seed_cnn()) gives FLOPs"),
    "11.1": _Exercise(
        "global batch, steps per epoch and linear-scaling learning rate: 6 replicas x 96 faces, 25,838 faces, "
        "base 1e-3 at batch 64",
        lambda: [6 * 96, math.ceil(25_838 / (6 * 96)), 1e-3 * 6 * 96 / 64],
        _each(lambda answer, expected: _within(expected * 1e-3)(answer, expected)),
        "three numbers (global batch, steps per epoch, learning rate); an epoch is every face once, and the rule "
        "multiplies the learning rate by how many times larger the batch is"),
}


def available() -> dict[str, str]:
    """The exercises that can be checked, {id: what the answer is}."""
    return {key: exercise.description for key, exercise in _EXERCISES.items()}


def exercise(chapter_and_number: str, answer, **data_arrays) -> bool:
    """Check ``answer`` to exercise ``chapter_and_number`` (e.g. ``"4.1"``); print one line and return True/False.

    Exercises whose answer depends on your data take the arrays as keywords (see :func:`available`).
    """
    key = str(chapter_and_number).strip().lower()
    if key not in _EXERCISES:
        raise ValueError(f"unknown exercise {chapter_and_number!r}; checkable exercises: {', '.join(_EXERCISES)}")
    item = _EXERCISES[key]
    missing = [name for name in item.needs if data_arrays.get(name) is None]
    if missing:
        raise TypeError(f"exercise {key} is checked on your data: pass {', '.join(f'{m}=...' for m in missing)}")
    unexpected = set(data_arrays) - set(inspect.signature(item.expected).parameters)
    if unexpected:
        raise TypeError(f"exercise {key} takes no {', '.join(sorted(unexpected))}")
    expected = item.expected(**data_arrays)
    correct = bool(item.matches(answer, expected))
    print(f"{key}: correct" if correct else f"{key}: not yet: {item.hint}")
    return correct
