"""fer_helpers.models: the original CNN layer by layer, its cost table, the VGG-BN builder, loading and saving."""
import json
import os
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np
import pytest

from fer_helpers import models
from fer_helpers.errors import FerError

# (type, filters/units, kernel, padding, activation) or (type, rate) or (type, pool): the student's model, in order.
ORIGINAL_LAYERS = [
    ("Rescaling",),
    ("Conv2D", 128, (3, 3), "valid", "relu"), ("MaxPooling2D", (2, 2)), ("Dropout", 0.4),
    ("Conv2D", 256, (3, 3), "valid", "relu"), ("MaxPooling2D", (2, 2)), ("Dropout", 0.4),
    ("Conv2D", 512, (3, 3), "valid", "relu"), ("MaxPooling2D", (2, 2)), ("Dropout", 0.4),
    ("Conv2D", 512, (3, 3), "valid", "relu"), ("MaxPooling2D", (2, 2)), ("Dropout", 0.4),
    ("Flatten",),
    ("Dense", 512, "relu"), ("Dropout", 0.4),
    ("Dense", 256, "relu"), ("Dropout", 0.3),
    ("Dense", 7, "softmax"),
]


def describe(layer):
    kind = type(layer).__name__
    if kind == "Conv2D":
        return (kind, layer.filters, tuple(layer.kernel_size), layer.padding, layer.activation.__name__)
    if kind == "MaxPooling2D":
        return (kind, tuple(layer.pool_size))
    if kind == "Dropout":
        return (kind, round(float(layer.rate), 6))
    if kind == "Dense":
        return (kind, layer.units, layer.activation.__name__)
    return (kind,)


def layers_of(model):
    return [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]


@pytest.fixture(scope="module")
def seed_cnn():
    return models.build_seed_cnn()


def test_seed_cnn_has_exactly_the_original_layers(seed_cnn):
    assert [describe(layer) for layer in layers_of(seed_cnn)] == ORIGINAL_LAYERS


def test_seed_cnn_parameter_count_and_shapes(seed_cnn):
    assert seed_cnn.count_params() == 4_232_199
    assert tuple(seed_cnn.input.shape) == (None, 48, 48, 1)
    assert tuple(seed_cnn.output.shape) == (None, 7)
    spatial = [layer.output.shape[1] for layer in layers_of(seed_cnn)
               if type(layer).__name__ in ("Conv2D", "MaxPooling2D")]
    assert spatial == [46, 23, 21, 10, 8, 4, 2, 1]


def test_seed_cnn_outputs_probabilities(seed_cnn):
    x = np.random.default_rng(0).integers(0, 256, size=(3, 48, 48, 1)).astype("float32")
    proba = keras.ops.convert_to_numpy(seed_cnn(x, training=False))
    assert proba.shape == (3, 7)
    assert np.all(proba >= 0)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)


def test_no_dropout_variant_has_no_dropout_layers():
    model = models.build_seed_cnn(conv_dropout=0, dense_dropout=(0, 0))
    kinds = [type(layer).__name__ for layer in layers_of(model)]
    assert "Dropout" not in kinds
    assert kinds.count("Conv2D") == 4 and kinds.count("Dense") == 3
    assert model.count_params() == 4_232_199  # dropout has no parameters


def test_layer_table_counts_conv_flops_by_the_formula(seed_cnn):
    table = models.layer_table(seed_cnn).set_index("layer")
    # conv2: output 21x21x256, each output value a 3x3x128 multiply-add = 2 FLOPs
    assert table.loc["conv2", "MFLOPs"] * 1e6 == pytest.approx(2 * 21 * 21 * 256 * 3 * 3 * 128)
    assert table.loc["conv4", "parameters"] == 3 * 3 * 512 * 512 + 512
    assert table.loc["dense1", "MFLOPs"] * 1e6 == pytest.approx(2 * 512 * 512)
    assert table.loc["pool1", "MFLOPs"] == 0
    assert table["parameters"].sum() == seed_cnn.count_params()
    assert models.count_flops(seed_cnn) == pytest.approx(table["MFLOPs"].sum() * 1e6)


def test_vgg_bn_builds_and_predicts():
    model = models.build_vgg_bn()
    x = np.zeros((2, 48, 48, 1), "float32")
    proba = np.asarray(model.predict(x, verbose=0))
    assert proba.shape == (2, 7)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    assert model.count_params() < 4_232_199 / 3  # global average pooling instead of the big dense head
    assert "BatchNormalization" in {type(layer).__name__ for layer in model.layers}


def test_build_unknown_architecture_is_one_line():
    with pytest.raises(FerError, match="unknown architecture 'densenet'") as info:
        models.build("densenet")
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("target, named", [
    ("no_such_model", "no_such_model"),              # not a bundled name
    ("missing.keras", "missing.keras"),              # a .keras file that is not there
    ("missing.weights.h5", "missing.weights.h5"),    # a weights file that is not there
    ("model.pt", "model.pt"),                        # a suffix load_model does not read
])
def test_load_model_errors_are_one_line_naming_the_input(tmp_path, target, named):
    path = target if target == "no_such_model" else str(tmp_path / target)
    with pytest.raises(FerError) as info:
        models.load_model(path)
    message = str(info.value)
    assert named in message
    assert "\n" not in message


def test_weights_round_trip_with_card(tmp_path):
    model = models.build_seed_cnn(conv_dropout=0, dense_dropout=(0, 0))
    weights = tmp_path / "mine.weights.h5"
    model.save_weights(weights)
    (tmp_path / "mine.json").write_text(json.dumps({"architecture": "seed_cnn",
                                                    "kwargs": {"conv_dropout": 0, "dense_dropout": [0, 0]}}))
    reloaded = models.load_model(weights)
    assert "Dropout" not in {type(layer).__name__ for layer in reloaded.layers}  # the card's kwargs were used
    x = np.random.default_rng(1).integers(0, 256, size=(4, 48, 48, 1)).astype("float32")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(reloaded(x, training=False)),
                                  keras.ops.convert_to_numpy(model(x, training=False)))


def test_weights_of_another_architecture_are_refused(tmp_path, recwarn):
    weights = tmp_path / "vgg.weights.h5"
    models.build_vgg_bn().save_weights(weights)
    (tmp_path / "vgg.json").write_text(json.dumps({"architecture": "seed_cnn"}))
    with pytest.raises(FerError, match="do not fit architecture 'seed_cnn'") as info:
        models.load_model(weights)
    assert "\n" not in str(info.value)
    # Keras warns "Skipping nested container ..." once per layer group before it refuses: models.load_weights
    # drops those warnings, which describe the refused load
    assert not [w for w in recwarn if "nested container" in str(w.message)]


def test_load_weights_refuses_a_load_that_left_layers_at_their_fresh_weights(tmp_path, monkeypatch):
    model = models.build_seed_cnn(widths=(4, 4, 4, 4))
    model.save_weights(tmp_path / "w.weights.h5")

    def load_leaving_a_layer(path):   # what Keras does when a saved file lacks a nested layer group
        warnings.warn("Skipping nested container at '_operations_by_depth/container_3': no matching group found "
                      "in the saved file. Affected layers will retain their freshly-initialized weights.",
                      stacklevel=2)

    monkeypatch.setattr(model, "load_weights", load_leaving_a_layer)
    with pytest.raises(ValueError, match="some layers kept their fresh weights"):
        models.load_weights(model, tmp_path / "w.weights.h5")


@pytest.mark.parametrize("card_text, reason", [
    ("{not json", "not a readable model card"),
    ('{"kwargs": {}}', 'must name its "architecture"'),
])
def test_a_broken_card_beside_the_weights_is_one_line_naming_the_card(tmp_path, card_text, reason):
    weights = tmp_path / "mine.weights.h5"
    models.build_seed_cnn().save_weights(weights)
    (tmp_path / "mine.json").write_text(card_text)
    with pytest.raises(FerError, match=reason) as info:
        models.load_model(weights)
    assert "mine.json" in str(info.value) and "\n" not in str(info.value)


def test_small_resnet_is_the_cpu_sized_reference_network():
    from fer_helpers import models
    model = models.build("small_resnet")
    assert model.count_params() == 490_007                        # widths 16-32-64-128, a block in stages 2-4
    assert 85e6 < models.count_flops(model) < 95e6               # ~91 MFLOPs: a fifth of the original CNN's
    assert sum(type(layer).__name__ == "Add" for layer in model.layers) == 3
    assert tuple(model.get_layer("gap").output.shape) == (None, 128)
    proba = np.asarray(model.predict(np.zeros((2, 48, 48, 1), "float32"), verbose=0))
    assert proba.shape == (2, 7) and np.allclose(proba.sum(axis=1), 1, atol=1e-5)


def test_seed_cnn_widths_narrow_the_same_design():
    from fer_helpers import FerError
    quarter = models.build_seed_cnn(widths=(32, 64, 128, 128))
    full = models.build_seed_cnn()
    assert [type(layer).__name__ for layer in quarter.layers] == [type(layer).__name__ for layer in full.layers]
    assert [layer.filters for layer in quarter.layers if type(layer).__name__ == "Conv2D"] == [32, 64, 128, 128]
    assert 400_000 < quarter.count_params() < 480_000          # about the reference network's 0.49M
    assert 25e6 < models.count_flops(quarter) < 32e6            # ~28 MFLOPs against 436
    with pytest.raises(FerError, match="widths needs 4 numbers"):
        models.build_seed_cnn(widths=(8, 16))


TINY = [{"architecture": "small_resnet", "kwargs": {"widths": [4, 8, 8, 8]}},
        {"architecture": "vgg_bn", "kwargs": {"widths": [4, 8]}}]


def faces(n=6, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, 48, 48, 1)).astype("float32")


@pytest.mark.parametrize("mirror", [False, True])
def test_an_ensemble_is_the_mean_of_its_members_probabilities(mirror):
    ensemble = models.build("ensemble", members=TINY, mirror=mirror)
    members = models.ensemble_members(ensemble)
    assert [m.name for m in members] == ["member_1", "member_2"]
    x = faces()
    views = [x, x[:, :, ::-1]] if mirror else [x]
    expected = np.mean([m.predict(v, verbose=0) for m in members for v in views], axis=0)
    np.testing.assert_allclose(ensemble.predict(x, verbose=0), expected, atol=1e-6)
    assert ensemble.count_params() == sum(m.count_params() for m in members)
    # its cost: every member's arithmetic, twice over with the mirror (each member runs on both views)
    table = models.layer_table(ensemble)
    assert "member_1/stem_conv" in set(table["layer"]) and "member_2/emotion" in set(table["layer"])
    single = sum(models.count_flops(models.build(m["architecture"], **m["kwargs"])) for m in TINY)
    assert models.count_flops(ensemble) == pytest.approx(single * (2 if mirror else 1))
    assert models.ensemble_members(members[0]) == []               # a plain network has none


def test_an_ensemble_round_trips_through_its_weights_and_card(tmp_path):
    ensemble = models.build_ensemble(TINY)
    ensemble.save_weights(tmp_path / "pair.weights.h5")
    (tmp_path / "pair.json").write_text(json.dumps({"architecture": "ensemble", "kwargs": {"members": TINY}}))
    again = models.load_model(tmp_path / "pair.weights.h5")
    np.testing.assert_allclose(again.predict(faces(), verbose=0), ensemble.predict(faces(), verbose=0), atol=1e-6)


@pytest.mark.parametrize("members, reason", [([], "no members"), ([{"architecture": "ensemble"}], "member 1 needs"),
                                             ([{"architecture": "lenet"}], "member 1 needs")])
def test_an_ensemble_of_nothing_or_of_unknown_networks_is_one_line(members, reason):
    with pytest.raises(FerError, match=reason):
        models.build_ensemble(members)
