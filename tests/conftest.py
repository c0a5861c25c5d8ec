"""Shared fixtures: tiny synthetic faces and a tiny model, so training tests take seconds, not minutes."""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture
def separable_faces():
    """Two 'emotions' told apart by brightness (angry = dark, happy = bright), 48x48 uint8, with noise."""
    rng = np.random.default_rng(0)
    n = 120
    y = np.where(np.arange(n) % 2 == 0, 0, 3)
    base = np.where(y == 0, 30, 220)[:, None, None]
    x = np.clip(base + rng.normal(0, 25, (n, 48, 48)), 0, 255).astype(np.uint8)
    return x, y


@pytest.fixture
def tiny_model():
    import keras
    from keras import layers

    def make(name="tiny", seed=0):
        keras.utils.set_random_seed(seed)
        inputs = keras.Input((48, 48, 1))
        h = layers.Rescaling(1 / 255)(inputs)
        h = layers.Conv2D(4, 3)(h)  # linear: no dead ReLU can make a test flaky
        h = layers.GlobalAveragePooling2D()(h)
        outputs = layers.Dense(7, activation="softmax")(h)
        return keras.Model(inputs, outputs, name=name)

    return make
