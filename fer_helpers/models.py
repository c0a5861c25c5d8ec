"""The networks of the course, built by name, and what they cost (parameters, FLOPs per layer).

Every model takes (48, 48, 1) pixels in 0..255 and rescales them itself, so a caller never has to remember
whether to divide by 255. Augmentation is not part of them: ``fer_helpers.train.fit`` puts it in front during
training only, so a saved model is exactly the architecture shown in chapter 4.
Bundled weights load by name: ``load_model('seed')``.
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import keras
import pandas as pd
from keras import layers

from . import course
from .data import IMAGE_SIZE, NUM_CLASSES
from .errors import FerError, reason

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
INPUT_SHAPE = (IMAGE_SIZE, IMAGE_SIZE, 1)


def build_seed_cnn(num_classes: int = NUM_CLASSES, conv_dropout: float = 0.4,
                   dense_dropout: tuple[float, float] = (0.4, 0.3), batch_norm: bool = False,
                   widths=(128, 256, 512, 512), name: str = "seed_cnn"):
    """The original project's CNN, exactly: four 3x3 'valid' convolutions (128, 256, 512, 512), each followed by
    2x2 max-pooling and dropout 0.4; Flatten; Dense 512 + dropout 0.4; Dense 256 + dropout 0.3; softmax.

    ``conv_dropout=0, dense_dropout=(0, 0)`` gives the unregularised variant of chapter 6; ``batch_norm=True``
    puts a BatchNormalization between each convolution and its ReLU (the first step of chapter 9's ladder);
    ``widths`` sets the four convolutions' filters (``(32, 64, 128, 128)``: the same design at a quarter of the
    width, 0.44M parameters and 28 MFLOPs a face instead of 4.2M and 436, for chapter 9's CPU ladder).
    """
    inputs = keras.Input(INPUT_SHAPE, name="pixels")
    x = layers.Rescaling(1.0 / 255, name="rescale")(inputs)
    if len(widths) != 4:
        raise FerError(f"seed_cnn has four convolutions: widths needs 4 numbers, not {len(widths)}")
    for block, filters in enumerate(widths, start=1):
        if batch_norm:
            x = layers.Conv2D(filters, 3, padding="valid", use_bias=False, name=f"conv{block}")(x)
            x = layers.BatchNormalization(name=f"bn{block}")(x)
            x = layers.Activation("relu", name=f"relu{block}")(x)
        else:
            x = layers.Conv2D(filters, 3, padding="valid", activation="relu", name=f"conv{block}")(x)
        x = layers.MaxPooling2D(2, name=f"pool{block}")(x)
        if conv_dropout:
            x = layers.Dropout(conv_dropout, name=f"dropout{block}")(x)
    x = layers.Flatten(name="flatten")(x)
    for i, (units, rate) in enumerate(zip((512, 256), dense_dropout), start=1):
        x = layers.Dense(units, activation="relu", name=f"dense{i}")(x)
        if rate:
            x = layers.Dropout(rate, name=f"dense_dropout{i}")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="emotion")(x)
    return keras.Model(inputs, outputs, name=name)


def build_vgg_bn(num_classes: int = NUM_CLASSES, widths=(32, 64, 128, 256), dropout: float = 0.4,
                 head: str = "gap", name: str = "vgg_bn"):
    """A VGG-style net with BatchNorm: two 3x3 'same' convolutions per stage, max-pooling between stages, global
    average pooling instead of a large Flatten + Dense head (``head='flatten'`` gives the original project's
    Flatten + Dense 512 + Dense 256 head instead, for chapter 9's comparison)."""
    inputs = keras.Input(INPUT_SHAPE, name="pixels")
    x = layers.Rescaling(1.0 / 255, name="rescale")(inputs)
    for stage, width in enumerate(widths, start=1):
        for conv in (1, 2):
            x = layers.Conv2D(width, 3, padding="same", use_bias=False, name=f"s{stage}_conv{conv}")(x)
            x = layers.BatchNormalization(name=f"s{stage}_bn{conv}")(x)
            x = layers.Activation("relu", name=f"s{stage}_relu{conv}")(x)
        if stage < len(widths):
            x = layers.MaxPooling2D(2, name=f"s{stage}_pool")(x)
    if head == "gap":
        x = layers.GlobalAveragePooling2D(name="gap")(x)
    elif head == "flatten":
        x = layers.MaxPooling2D(2, name="head_pool")(x)
        x = layers.Flatten(name="flatten")(x)
        for i, units in enumerate((512, 256), start=1):
            x = layers.Dense(units, activation="relu", name=f"dense{i}")(x)
            x = layers.Dropout(dropout, name=f"dense_dropout{i}")(x)
    else:
        raise FerError(f"unknown head '{head}' (gap, flatten)")
    x = layers.Dropout(dropout, name="head_dropout")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="emotion")(x)
    return keras.Model(inputs, outputs, name=name)


def build_resnet(num_classes: int = NUM_CLASSES, widths=(64, 128, 256, 512), blocks=(2, 2, 2, 2),
                 dropout: float = 0.2, name: str = "resnet"):
    """A ResNet-18-style net for 48x48 faces: a 3x3 stem (no 7x7 + max-pool: the faces are already small), then
    stages of basic residual blocks (two 3x3 convolutions + BatchNorm, the input added back), halving the size
    and doubling the width from one stage to the next; global average pooling; softmax. ``widths=(32, 64, 128,
    256)`` gives a quarter of the parameters of the default (11.2M)."""
    inputs = keras.Input(INPUT_SHAPE, name="pixels")
    x = layers.Rescaling(1.0 / 255, name="rescale")(inputs)
    x = layers.Conv2D(widths[0], 3, padding="same", use_bias=False, name="stem_conv")(x)
    x = layers.BatchNormalization(name="stem_bn")(x)
    x = layers.Activation("relu", name="stem_relu")(x)
    for stage, (width, count) in enumerate(zip(widths, blocks), start=1):
        for block in range(1, count + 1):
            stride = 2 if stage > 1 and block == 1 else 1
            prefix = f"s{stage}b{block}"
            shortcut = x
            y = layers.Conv2D(width, 3, strides=stride, padding="same", use_bias=False, name=f"{prefix}_conv1")(x)
            y = layers.BatchNormalization(name=f"{prefix}_bn1")(y)
            y = layers.Activation("relu", name=f"{prefix}_relu1")(y)
            y = layers.Conv2D(width, 3, padding="same", use_bias=False, name=f"{prefix}_conv2")(y)
            y = layers.BatchNormalization(name=f"{prefix}_bn2")(y)
            if stride != 1 or shortcut.shape[-1] != width:  # match the shape of what is added back
                shortcut = layers.Conv2D(width, 1, strides=stride, use_bias=False, name=f"{prefix}_proj")(shortcut)
                shortcut = layers.BatchNormalization(name=f"{prefix}_proj_bn")(shortcut)
            x = layers.Activation("relu", name=f"{prefix}_out")(layers.Add(name=f"{prefix}_add")([y, shortcut]))
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    x = layers.Dropout(dropout, name="head_dropout")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="emotion")(x)
    return keras.Model(inputs, outputs, name=name)


def build_small_resnet(num_classes: int = NUM_CLASSES, widths=(16, 32, 64, 128), blocks=(0, 1, 1, 1),
                       dropout: float = 0.2, name: str = "small_resnet"):
    """The course's reference network, sized for training on a CPU (0.49M parameters, ~91 MFLOPs a face):
    a conv-BN-ReLU stem at full resolution, then one stage per width. Each stage after the first halves the map
    (2x2 max-pooling) and widens it with a conv-BN-ReLU; ``blocks[i]`` basic residual blocks (two 3x3 conv-BN, the
    input added back, ReLU) follow in stage i; a stage without a block gets one more conv-BN-ReLU instead. Global
    average pooling, dropout, softmax. Cheap where the map is large (16 channels at 48x48), wide where it is small
    (128 at 6x6): that is what buys accuracy per FLOP."""

    def conv_bn_relu(x, width, label):
        x = layers.Conv2D(width, 3, padding="same", use_bias=False, name=f"{label}_conv")(x)
        x = layers.BatchNormalization(name=f"{label}_bn")(x)
        return layers.Activation("relu", name=f"{label}_relu")(x)

    inputs = keras.Input(INPUT_SHAPE, name="pixels")
    x = layers.Rescaling(1.0 / 255, name="rescale")(inputs)
    x = conv_bn_relu(x, widths[0], "stem")
    for stage, (width, count) in enumerate(zip(widths, blocks), start=1):
        if stage > 1:
            x = layers.MaxPooling2D(2, name=f"s{stage}_pool")(x)
        if stage > 1 or count == 0:
            x = conv_bn_relu(x, width, f"s{stage}")
        for block in range(1, count + 1):
            prefix = f"s{stage}b{block}"
            y = conv_bn_relu(x, width, f"{prefix}_1")
            y = layers.Conv2D(width, 3, padding="same", use_bias=False, name=f"{prefix}_2_conv")(y)
            y = layers.BatchNormalization(name=f"{prefix}_2_bn")(y)
            x = layers.Activation("relu", name=f"{prefix}_out")(layers.Add(name=f"{prefix}_add")([x, y]))
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    x = layers.Dropout(dropout, name="head_dropout")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="emotion")(x)
    return keras.Model(inputs, outputs, name=name)


@keras.saving.register_keras_serializable(package="fer_helpers")
class Mirror(layers.Layer):
    """The face's mirror image (left and right swapped): a fixed, not random, flip."""

    def call(self, inputs):
        return keras.ops.flip(inputs, axis=2)


def build_ensemble(members, mirror: bool = False, name: str = "ensemble"):
    """One model that averages the probabilities of several networks (chapter 9's ensemble, as a single model that
    exports and deploys like any other). ``members``: one ``{"architecture": ..., "kwargs": {...}}`` per network,
    in the form of a model card. ``mirror=True`` also runs each network on the mirror image and averages that in
    too (test-time augmentation inside the model: twice the arithmetic). Each network is a named sub-model,
    ``member_1``, ``member_2``, ...: :func:`ensemble_members` gives them back, e.g. to load each one's weights."""
    if not members:
        raise FerError("build_ensemble: no members given")
    inputs = keras.Input(INPUT_SHAPE, name="pixels")
    views = [inputs, Mirror(name="mirror")(inputs)] if mirror else [inputs]
    outputs = []
    for i, member in enumerate(members, start=1):
        if member.get("architecture") not in BUILDERS or member["architecture"] == "ensemble":
            raise FerError(f"build_ensemble: member {i} needs an architecture from "
                           f"{', '.join(a for a in BUILDERS if a != 'ensemble')}, not {member.get('architecture')!r}")
        network = build(member["architecture"], **{**member.get("kwargs", {}), "name": f"member_{i}"})
        outputs += [network(view) for view in views]
    return keras.Model(inputs, layers.Average(name="mean_probability")(outputs), name=name)


def ensemble_members(model) -> list:
    """The networks inside a model made by :func:`build_ensemble` (an empty list for any other model)."""
    return [layer for layer in model.layers if isinstance(layer, keras.Model) and layer.name.startswith("member_")]


BUILDERS = {"seed_cnn": build_seed_cnn, "vgg_bn": build_vgg_bn, "resnet": build_resnet,
            "small_resnet": build_small_resnet, "ensemble": build_ensemble}


def build(architecture: str, **kwargs):
    """Build a model by architecture name (``seed_cnn``, ``vgg_bn``, ``resnet``, ``small_resnet``, or
    ``ensemble`` with ``members=[...]``)."""
    if architecture not in BUILDERS:
        raise FerError(f"unknown architecture '{architecture}' (choose from {', '.join(BUILDERS)})")
    return BUILDERS[architecture](**kwargs)


def layer_table(model):
    """One row per layer: name, type, output shape, parameters and MFLOPs (1 multiply-add = 2 FLOPs) per image.

    Only convolutions and dense layers are counted: they are >99% of the arithmetic of these nets. The layers of
    a network inside another (an ensemble's members) are listed as ``member_1/stem_conv``, and their MFLOPs count
    once per call (twice where an ensemble also runs each member on the mirror image).
    """
    rows = []
    for layer, prefix, calls in _flat_layers(model):
        shape = tuple(layer.output.shape[1:]) if hasattr(layer, "output") else ()
        flops = 0
        kind = type(layer).__name__
        if kind == "Conv2D":
            kh, kw = layer.kernel_size
            cin = layer.input.shape[-1]
            flops = 2 * shape[0] * shape[1] * shape[2] * kh * kw * cin
        elif kind == "Dense":
            flops = 2 * layer.input.shape[-1] * layer.units
        rows.append({"layer": prefix + layer.name, "type": kind, "output shape": shape,
                     "parameters": int(layer.count_params()), "MFLOPs": calls * flops / 1e6})
    return pd.DataFrame(rows)


def _flat_layers(model, prefix: str = "", calls: int = 1):
    """(layer, name prefix, times called) for every layer, the layers of nested models included."""
    for layer in model.layers:
        if type(layer).__name__ == "InputLayer":
            continue
        if isinstance(layer, keras.Model):
            yield from _flat_layers(layer, f"{prefix}{layer.name}/", calls * max(1, len(layer._inbound_nodes)))
        else:
            yield layer, prefix, calls


def count_flops(model) -> float:
    """FLOPs per 48x48 image (convolutions and dense layers)."""
    return float(layer_table(model)["MFLOPs"].sum() * 1e6)


def bundled_models() -> list[str]:
    """Names of the models that ship with fer_helpers: each a card ``NAME.json`` beside ``NAME.weights.h5``, or an
    alias card such as ``best.json``. Files like ``NAME.run.json`` (the run's settings) are not models."""
    names = []
    for card in WEIGHTS_DIR.glob("*.json"):
        name = card.name[: -len(".json")]
        if "." in name:
            continue
        if (WEIGHTS_DIR / f"{name}.weights.h5").exists() or "alias" in json.loads(card.read_text()):
            names.append(name)
    return sorted(names)


def model_card(name: str) -> dict:
    """The card of a bundled model: architecture, recipe, split used for selection, measured figures."""
    path = WEIGHTS_DIR / f"{name}.json"
    if not path.exists():
        raise FerError(f"no bundled model '{name}' (bundled: {', '.join(bundled_models()) or 'none'})")
    card = json.loads(path.read_text())
    if "alias" in card:  # e.g. 'best' names whichever bundled model is currently the strongest
        return {**model_card(card["alias"]), "alias_of": card["alias"]}
    return card


def _read_card(path: Path) -> dict:
    """A model card beside a weights file, checked: valid JSON that names an architecture."""
    try:
        card = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise FerError(f"{path}: not a readable model card ({reason(err)})") from None
    if not isinstance(card, dict) or "architecture" not in card:
        raise FerError(f"{path}: a model card must name its \"architecture\" (e.g. \"seed_cnn\")")
    return card


def load_model(name_or_path: str | Path):
    """A ready-to-predict model from a bundled name ('seed', 'best'), a ``.keras`` file, or a ``.weights.h5``
    file with a card ``.json`` of the same stem beside it (``{"architecture": ..., "kwargs": {...}}``; chapter 5
    writes one) or in a training run's folder (``recipe.json``, which ``train`` writes: its architecture and
    ``model_kwargs``). A ``.weights.h5`` file with neither is taken to hold the original CNN (``seed_cnn``)."""
    text = str(name_or_path)
    path = Path(text)
    if not path.suffix and not path.exists():
        card, weights = model_card(text), weights_file(text)
    elif path.suffix == ".keras":
        if not path.exists():
            raise FerError(f"{path}: no such model file")
        try:
            return keras.saving.load_model(path, compile=False)
        except Exception as err:  # a truncated or foreign file
            raise FerError(f"{path}: not a loadable Keras model ({reason(err)})") from None
    elif text.endswith(".weights.h5"):
        weights = path
        card_path = Path(text[: -len(".weights.h5")] + ".json")
        if not weights.exists():
            raise FerError(f"{weights}: no such weights file")
        recipe_path = weights.parent / "recipe.json"
        if card_path.exists():
            card = _read_card(card_path)
        elif recipe_path.exists():
            recipe = _read_card(recipe_path)
            card = {"architecture": recipe["architecture"], "kwargs": recipe.get("model_kwargs") or {}}
        else:
            card = {"architecture": "seed_cnn"}
    else:
        raise FerError(f"{text}: not a bundled model name, a .keras file or a .weights.h5 file")
    model = build(card["architecture"], **card.get("kwargs", {}))
    try:
        load_weights(model, weights)
    except Exception as err:
        raise FerError(f"{weights}: weights do not fit architecture '{card['architecture']}' "
                       f"({reason(err)})") from None
    return model


def weights_file(name_or_path: str | Path) -> Path:
    """The file that holds the weights of what :func:`load_model` loads from ``name_or_path``."""
    path = Path(name_or_path)
    if not path.suffix and not path.exists():
        return WEIGHTS_DIR / f"{model_card(str(name_or_path)).get('alias_of', str(name_or_path))}.weights.h5"
    return path


def load_weights(model, path: str | Path) -> None:
    """Load a ``.weights.h5`` file into ``model``, all or nothing: every variable the file holds, or an error.

    Keras 3.15 answers a file that does not fit with a ``ValueError``, but first retries the layers
    that failed through a functional model's graph (``_operations_by_depth``) and warns once per layer group,
    "Skipping nested container ... Affected layers will retain their freshly-initialized weights". Those
    warnings describe the load that is about to be refused, so they are dropped; if one ever came with a load
    that succeeded, some layer would be left at its random start, and that is raised as an error here.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.load_weights(path)
    for warning in caught:
        if str(warning.message).startswith("Skipping nested container"):
            raise ValueError(f"some layers kept their fresh weights ({reason(warning.message, limit=1000)})")
        warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)


def course_model(runs_dir: str | Path | None = None, verbose: bool = True):
    """The model the later chapters evaluate: chapter 5's full-mode run if this machine has one, else the bundled
    reference model ``seed`` (the same architecture and recipe; the summary it prints says how many of the planned
    epochs it ran). Quick-mode runs are never used: a model trained on 126 faces for two epochs predicts at chance
    level and would teach nothing."""
    run = Path(runs_dir or course.RUNS_DIR) / "05_training" / "best.weights.h5"
    if run.exists():
        if verbose:
            print("model: chapter 5's full-mode run (runs/05_training/best.weights.h5)")
        return load_model(run)
    if verbose:
        card = model_card("seed")
        print(f"model: bundled reference 'seed' ({card.get('summary', 'see fer_helpers/weights/seed.json')})")
    return load_model("seed")
