"""Shared fixtures: tiny synthetic faces and a tiny model, so training tests take seconds, not minutes."""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import pytest


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


@pytest.fixture
def assert_holds_weights(tmp_path_factory):
    """``assert_holds_weights(model, path)``: every array of the ``.weights.h5`` file at ``path`` is in ``model``.

    The model saves itself again and the two files must hold the same arrays under the same names: a layer that
    kept its fresh weights, or a variable the file lacks, makes them differ."""
    import h5py

    def arrays(path):
        found = {}
        with h5py.File(path, "r") as f:
            f.visititems(lambda name, item: found.update({name: item[()]}) if isinstance(item, h5py.Dataset) else None)
        return found

    def check(model, path):
        again = tmp_path_factory.mktemp("resaved") / "model.weights.h5"
        model.save_weights(again)
        saved, held = arrays(path), arrays(again)
        assert sorted(held) == sorted(saved) and len(saved) == len(model.weights)
        differ = [name for name in saved if not np.array_equal(saved[name], held[name])]
        assert not differ, f"{len(differ)} of {len(saved)} arrays differ from {path}, e.g. {differ[:3]}"

    return check
