"""Augmentation as Keras layers, and the two ways of balancing FER2013's classes.

Augmentation layers sit at the front of the model: they run on whatever device the model runs on (GPU
included), under any Keras backend, and they are switched off automatically at inference (``training=False``).
They see pixels in 0..255, before the model's own rescaling.
"""
from __future__ import annotations

import keras
import numpy as np
from keras import layers

from .data import CLASS_NAMES, NUM_CLASSES
from .errors import FerError

#: Faces per class in FER2013's Training split (28,709 in all), in CLASS_NAMES order: the imbalance the course
#: balances. Happy has 16.5 times as many faces as disgust.
FER2013_TRAIN_COUNTS = {"angry": 3995, "disgust": 436, "fear": 4097, "happy": 7215, "neutral": 4965, "sad": 4830,
                        "surprise": 3171}


def augmentation_layers(flip: bool = True, rotation: float = 0.05, zoom: float = 0.1, translation: float = 0.1,
                        brightness: float = 0.1, contrast: float = 0.1, erasing: float = 0.0, seed: int | None = None):
    """A ``keras.Sequential`` of random transforms; a 0 (or False) leaves that transform out.

    ``rotation`` is a fraction of a full turn (0.05 = +-18 degrees); ``zoom`` and ``translation`` are fractions
    of the image side; ``brightness`` and ``contrast`` are relative factors; ``erasing`` is the probability that a
    random rectangle of the face is replaced by noise (random erasing, Zhong et al. 2017: the network cannot rely
    on any one part of the face, say the mouth, being visible).
    ``seed`` makes the draws repeatable; each layer gets its own (seed, seed + 1, ...), so that the flip
    decision and the rotation angle of a face are not drawn from the same random numbers.
    """
    def layer_seed(i):
        return None if seed is None else seed + i

    steps = []
    if flip:
        steps.append(layers.RandomFlip("horizontal", seed=layer_seed(0), name="flip"))
    if rotation:
        steps.append(layers.RandomRotation(rotation, fill_mode="nearest", seed=layer_seed(1), name="rotate"))
    if zoom:
        steps.append(layers.RandomZoom(zoom, fill_mode="nearest", seed=layer_seed(2), name="zoom"))
    if translation:
        steps.append(layers.RandomTranslation(translation, translation, fill_mode="nearest", seed=layer_seed(3),
                                              name="translate"))
    if brightness:
        steps.append(layers.RandomBrightness(brightness, value_range=(0, 255), seed=layer_seed(4),
                                             name="brightness"))
    if contrast:
        steps.append(layers.RandomContrast(contrast, value_range=(0, 255), seed=layer_seed(5), name="contrast"))
    if erasing:
        steps.append(layers.RandomErasing((erasing, erasing), value_range=(0, 255), seed=layer_seed(6), name="erase"))
    return keras.Sequential(steps, name="augmentation")


def class_weights(y: np.ndarray, power: float = 0.5) -> dict[int, float]:
    """Per-class loss weights proportional to (1 / frequency) ** power, averaging 1 over the training examples.

    ``power=1`` is scikit-learn's 'balanced' (a disgust face counts ~16x a happy one: noisy gradients);
    ``power=0.5`` (square root) is the gentler compromise that chapter 3 measures; ``power=0`` is no weighting.
    """
    counts = np.bincount(np.asarray(y, dtype=np.int64), minlength=NUM_CLASSES).astype(float)
    if counts.sum() == 0:
        raise FerError("class weights need at least one training label (got none)")
    weights = np.where(counts > 0, (counts.sum() / np.maximum(counts, 1)) ** power, 0.0)
    weights /= (weights * counts).sum() / counts.sum()
    return {i: float(w) for i, w in enumerate(weights)}


def oversample(x: np.ndarray, y: np.ndarray, seed: int = 0, target: str | int = "max"):
    """Repeat examples of the rarer classes (drawn with replacement) until each has ``target`` examples.

    ``target='max'`` matches the largest class; an int caps every class at that count from below only.
    The copies are exact repeats: augmentation is what makes them differ.
    """
    rng = np.random.default_rng(seed)
    counts = np.bincount(y, minlength=NUM_CLASSES)
    goal = counts.max() if target == "max" else int(target)
    index = [np.arange(len(y))]
    for label, count in enumerate(counts):
        if 0 < count < goal:
            index.append(rng.choice(np.flatnonzero(y == label), size=goal - count, replace=True))
    index = rng.permutation(np.concatenate(index))
    return x[index], y[index]


def subset_with_proportions(x: np.ndarray, y: np.ndarray, proportions, largest: int, seed: int = 0):
    """A random subset whose class sizes follow ``proportions`` (a dict by class name, e.g.
    :data:`FER2013_TRAIN_COUNTS`, or a sequence in CLASS_NAMES order), the largest class getting ``largest`` faces.

    Every class with a nonzero proportion keeps at least one face and none gets more than ``y`` holds. Unlike
    :func:`fer_helpers.data.per_class_subset` (the same number per class) it keeps the imbalance, which is what
    chapter 3 studies; on the balanced committed sample it recreates FER2013's proportions in miniature.
    """
    if isinstance(proportions, dict):
        proportions = [proportions[name] for name in CLASS_NAMES]
    share = np.asarray(proportions, dtype=float)
    if share.shape != (NUM_CLASSES,) or share.max() <= 0 or share.min() < 0:
        raise FerError(f"proportions must be {NUM_CLASSES} non-negative numbers, not all zero "
                       f"(got {list(proportions)})")
    share = share / share.max()
    rng = np.random.default_rng(seed)
    keep = []
    for label in range(NUM_CLASSES):
        idx = np.flatnonzero(np.asarray(y) == label)
        if share[label] <= 0 or len(idx) == 0:
            continue
        size = min(len(idx), max(1, int(round(largest * share[label]))))
        keep.extend(rng.choice(idx, size=size, replace=False))
    keep = np.sort(np.asarray(keep, dtype=np.int64))
    return x[keep], np.asarray(y)[keep]
