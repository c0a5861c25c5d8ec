# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 4. The CNN: the original project's network, layer by layer
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/fer-course/fer-course/blob/main/notebooks/04_architecture.ipynb)
# [![Open In Kaggle](https://kaggle.com/static/images/open-in-kaggle.svg)](https://kaggle.com/kernels/welcome?src=https://github.com/fer-course/fer-course/blob/main/notebooks/04_architecture.ipynb)
# [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/fer-course/fer-course/main?labpath=notebooks%2F04_architecture.ipynb)
#
# The course is built around one network: the convolutional net of the original student project. This chapter
# takes it apart before chapter 5 trains it. Nothing is trained here, so every number below is a property of the
# architecture, not of a lucky run. By the end of this chapter you will be able to:
#
# - write the network in plain Keras and check that the course's `fer_helpers.models.build_seed_cnn` is the
#   same network;
# - follow a 48x48 face through the layers (shapes, receptive field) and say which pixels the network never
#   sees, and why;
# - count parameters and FLOPs per layer by hand and with `models.layer_table`, and say where the cost sits;
# - measure how many faces per second it classifies on a CPU, and name what a modern (post-2015) design would change.
#
# | mode | data | 2-core CPU | one GPU |
# |---|---|---|---|
# | quick (`FER_QUICK=1`, the default) | one face, and 256 faces of the sample for timing | 21 s (measured under nbval on 2026-12-07, 2 cores otherwise idle) | < 1 min (estimated) |
# | full (`FER_QUICK=0`) | the same; only the timing runs longer (10 s per measurement) | 57 s (measured) | ~1 min (estimated) |
#
# **Modes.** This chapter trains nothing: quick and full mode build the same network and follow the same face
# through it. Only the speed measurements of section 4.7 differ: quick mode times each batch size for 2 seconds,
# full mode for 10, so its faces-per-second figures average over more calls. The outputs saved in this notebook
# come from the run named in the first output line below.

# %%
# Setup: the same cell opens every chapter. On Colab or Kaggle it fetches the course (a shallow clone: helpers
# and sample data) and adds only what the runtime lacks; everywhere it makes `fer_helpers` importable and prints
# what this run is: mode, data, host, hardware, versions.
import os
import subprocess
import sys

# Full mode (all of FER2013, real epochs; the table above says how long): uncomment the next line, then run.
# os.environ["FER_QUICK"] = "0"


# fer_helpers.course.hosted_runtime, copied: the package cannot be imported before it is fetched
def hosted_runtime() -> str | None:
    if "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ:
        return "colab"
    if "kaggle_secrets" in sys.modules or "KAGGLE_KERNEL_RUN_TYPE" in os.environ or "KAGGLE_URL_BASE" in os.environ:
        return "kaggle"
    return None


if hosted_runtime() and not os.path.isdir("../fer_helpers"):
    if not os.path.isdir("fer-course/fer_helpers"):  # once per runtime
        clone = "git clone --quiet --depth 1 --branch main https://github.com/fer-course/fer-course.git"
        git = subprocess.run(clone.split(), capture_output=True, text=True, env={**os.environ, "GIT_TERMINAL_PROMPT": "0"})
        if git.returncode or not os.path.isdir("fer-course/fer_helpers"):  # one sentence instead of git's lines
            offline = any(word in git.stderr.lower() for word in ("resolve host", "connect", "timed out"))
            why = (("no network: turn Internet on in the notebook's settings (Kaggle asks for a verified phone)"
                    if hosted_runtime() == "kaggle" else "no network: check the runtime's connection, then rerun")
                   if offline else "it is private, missing, or not this course (README: 'Publish your own copy')")
            raise RuntimeError(f"could not fetch the course from https://github.com/fer-course/fer-course: {why}")
    os.chdir("fer-course/notebooks" if os.path.isdir("fer-course/notebooks") else "fer-course/students")
sys.path.insert(0, os.path.abspath(".."))  # the repository root: fer_helpers imports without installing

from fer_helpers import course

session = course.start()

# %% tags=["parameters"]
# Parameters: quick mode is the default; FER_QUICK=0 in the environment selects full mode.
TIMING_SECONDS = 2 if session.quick else 10   # each speed measurement runs at least this long
TIMING_BATCH_SIZES = (1, 32, 256)             # one face at a time (a webcam) up to a large batch (a dataset)

# %% [markdown]
# ## 4.1 The original model, as the student wrote it
#
# The original project used a Keras `Sequential` model: a list of layers, each feeding the next. Four
# convolution blocks, then a classifier head:
#
# - **Conv2D** with 128, 256, 512 and 512 filters, each 3x3, `padding="valid"` (no border added), ReLU;
#   each followed by **MaxPooling 2x2** and **Dropout 0.4**;
# - **Flatten**; **Dense 512** + Dropout 0.4; **Dense 256** + Dropout 0.3; **Dense 7** with softmax, one
#   probability per emotion.
#
# Here it is, written out the long way, one line per layer. The only line that is the course's and not the
# original's is the `Rescaling` layer (section 4.5 says why it is there).

# %%
import keras
from keras import layers

student_cnn = keras.Sequential([
    keras.Input(shape=(48, 48, 1)),                    # a 48x48 grayscale face, pixels 0..255
    layers.Rescaling(1 / 255),                         # the course's addition: pixels to 0..1 inside the model

    layers.Conv2D(128, (3, 3), padding="valid", activation="relu"),
    layers.MaxPooling2D(pool_size=(2, 2)),
    layers.Dropout(0.4),

    layers.Conv2D(256, (3, 3), padding="valid", activation="relu"),
    layers.MaxPooling2D(pool_size=(2, 2)),
    layers.Dropout(0.4),

    layers.Conv2D(512, (3, 3), padding="valid", activation="relu"),
    layers.MaxPooling2D(pool_size=(2, 2)),
    layers.Dropout(0.4),

    layers.Conv2D(512, (3, 3), padding="valid", activation="relu"),
    layers.MaxPooling2D(pool_size=(2, 2)),
    layers.Dropout(0.4),

    layers.Flatten(),
    layers.Dense(512, activation="relu"),
    layers.Dropout(0.4),
    layers.Dense(256, activation="relu"),
    layers.Dropout(0.3),
    layers.Dense(7, activation="softmax"),             # angry, disgust, fear, happy, neutral, sad, surprise
], name="student_cnn")

# %% [markdown]
# ## 4.2 The same network from `fer_helpers`
#
# The other chapters build it with one call, `models.build_seed_cnn()`, written with the functional API and
# with named layers (`conv1`, `pool1`, ...) so that later chapters can reach into it. "The same network" is a
# claim we can check rather than trust: same layer types in the same order, same output shapes, same parameter
# counts, and, once the weights of one are copied into the other, the same predictions.

# %% tags=["nbval-check-output"]
import numpy as np

from fer_helpers import models

seed_cnn = models.build_seed_cnn()


def signature(model):
    """(type, output shape, parameters) per layer: what makes two networks the same, whatever their layer names."""
    return [(type(layer).__name__, tuple(layer.output.shape[1:]), layer.count_params())
            for layer in model.layers if type(layer).__name__ != "InputLayer"]


same_layers = signature(student_cnn) == signature(seed_cnn)
seed_cnn.set_weights(student_cnn.get_weights())
probe = np.random.default_rng(0).uniform(0, 255, size=(4, 48, 48, 1)).astype("float32")
same_predictions = np.allclose(student_cnn.predict(probe, verbose=0), seed_cnn.predict(probe, verbose=0), atol=1e-6)
print(f"{len(signature(seed_cnn))} layers each; same types, output shapes and parameter counts: {same_layers}")
print(f"parameters: {student_cnn.count_params():,} (student) vs {seed_cnn.count_params():,} (fer_helpers)")
print(f"same predictions after copying the weights: {same_predictions}")

# %% [markdown]
# Notice that the check needs no training: an untrained network is already a fixed function of its weights,
# and two networks that compute the same function from the same weights are the same network.
#
# ## 4.3 The summary, and the shapes through the net
#
# Keras prints the layer list with output shapes and parameter counts. `None` in a shape is the batch
# dimension: the model accepts any number of faces at once.

# %%
seed_cnn.summary()

# %% [markdown]
# Reading down the *Output Shape* column, the face shrinks and thickens. Each 3x3 `valid` convolution trims one
# pixel from every side (n -> n - 2); each 2x2 pooling halves the size, rounding down (n -> n // 2):
#
# 48 -> **46** -> 23 -> **21** -> 10 -> **8** -> 4 -> **2** -> 1 (convolutions in bold)
#
# while the channels go 1 -> 128 -> 256 -> 512 -> 512. The last column is the **receptive field**, which
# chapter 1 (section 1.6) derived and checked pixel by pixel: after four blocks one value sees 46x46 pixels.
# What is new here is the middle: how many numbers each layer produces per face.

# %% tags=["nbval-check-output"]
import pandas as pd

rows, field, jump = [], 1, 1
for layer in seed_cnn.layers:
    kind = type(layer).__name__
    if kind in ("Conv2D", "MaxPooling2D"):
        size = layer.kernel_size[0] if kind == "Conv2D" else layer.pool_size[0]
        field += (size - 1) * jump
        jump *= layer.strides[0]
    if kind in ("Rescaling", "Conv2D", "MaxPooling2D", "Flatten", "Dense"):
        shape = tuple(layer.output.shape[1:])
        rows.append({"layer": "input" if kind == "Rescaling" else layer.name, "type": kind,
                     "height x width": f"{shape[0]}x{shape[1]}" if len(shape) == 3 else "-",
                     "channels / units": shape[-1], "values per face": int(np.prod(shape)),
                     "receptive field": f"{field}x{field}" if len(shape) == 3 else "all"})
shapes = pd.DataFrame(rows)
print(shapes.to_string(index=False))

# %% [markdown]
# The same table as a picture. The middle panel is the trade the design makes: it gives up spatial detail
# (where) for channels (what). The right panel shows that the first convolution produces by far the most
# numbers per face (46 x 46 x 128 = 270,848), 118 times the 2,304 pixels it read: the largest single share of
# the activation memory a batch of faces needs during training (every layer's outputs are kept for the backward
# pass).

# %%
import matplotlib.pyplot as plt

from fer_helpers import plots

spatial = shapes[shapes["height x width"] != "-"]
fig, axes = plt.subplots(1, 3, figsize=(13, 3.4))
sides = [int(text.split("x")[0]) for text in spatial["height x width"]]
colours = ["tab:blue" if kind == "Conv2D" else "tab:orange" if kind == "MaxPooling2D" else "tab:gray"
           for kind in spatial["type"]]
axes[0].bar(spatial["layer"], sides, color=colours)
axes[0].set_title("height = width (pixels)")
for x_pos, side in enumerate(sides):
    axes[0].text(x_pos, side + 0.5, str(side), ha="center", fontsize=8)
axes[1].bar(shapes["layer"], shapes["channels / units"], color="tab:green")
axes[1].set_title("channels (conv, pool) / units (dense)")
axes[2].bar(shapes["layer"], shapes["values per face"], color="tab:purple")
axes[2].set_yscale("log")
axes[2].set_title("values per face (log scale)")
for ax in axes:
    ax.tick_params(axis="x", rotation=70, labelsize=8)
    ax.grid(axis="y", alpha=0.3)
axes[0].legend(handles=[plt.Rectangle((0, 0), 1, 1, color=c) for c in ("tab:gray", "tab:blue", "tab:orange")],
               labels=["input", "conv 3x3 valid", "max-pool 2x2"], fontsize=8)
fig.suptitle("a 48x48 face through the original CNN")
fig.tight_layout()
plots.save_fig("04_shapes")
plt.show()

# %% [markdown]
# ## 4.4 What valid padding throws away
#
# `padding="valid"` means a 3x3 window is only placed where it fits entirely inside the image. Two things
# follow.
#
# 1. **The border counts less.** A corner pixel is read by one window of the first convolution, most edge
#    pixels by three, every pixel at least two rows and columns from the border by nine (left panel below).
#    FER2013 faces are cropped tightly, so the border holds mostly chin, forehead and cheeks, sometimes background
#    or a hand (chapter 1's face has background on its right edge).
# 2. **The last two rows and columns are never seen at all.** The second convolution outputs a 21x21 map; the
#    2x2 pooling after it keeps 10x10 and drops the 21st row and column (index 20; we count from 0, as numpy
#    does). Traced back to the input, the values that were dropped are the only ones that depend on rows and
#    columns 46 and 47 of the face. The receptive field in 4.3 said the same thing: the last value sees 46x46
#    pixels, starting at the top-left corner.
#
# A claim like that is cheap to test: scramble those pixels and see whether the prediction moves.

# %% tags=["nbval-check-output"]
from fer_helpers import data

train_split = data.load_split(session.data, "train")
face = data.as_model_input(train_split.x[:1])            # any face will do: this is about the architecture
rng = np.random.default_rng(1)


def scrambled(image, rows_and_columns):
    """A copy of the face with the given rows and columns replaced by random pixels."""
    copy = image.copy()
    copy[:, rows_and_columns, :, :] = rng.uniform(0, 255, copy[:, rows_and_columns, :, :].shape)
    copy[:, :, rows_and_columns, :] = rng.uniform(0, 255, copy[:, :, rows_and_columns, :].shape)
    return copy


before = seed_cnn.predict(face, verbose=0)
for label, lines in [("rows/columns 46-47 (the last two)", [46, 47]), ("rows/columns 44-45", [44, 45]),
                     ("rows/columns 0-1 (the first two)", [0, 1])]:
    change = np.abs(seed_cnn.predict(scrambled(face, lines), verbose=0) - before).max()
    print(f"scrambling {label:36s} changes the prediction: {bool(change > 1e-6)}")

# %% [markdown]
# So this network classifies the top-left 46x46 of each face: 8% of the pixels (188 of 2,304) never reach
# the output. That is an accident of the arithmetic (an odd map size before a pooling), not a design choice,
# and it is invisible in `model.summary()`. Exercise 4 finds the input sizes for which nothing is dropped.

# %%
windows = np.zeros((48, 48))
for top in range(46):                                    # every 3x3 window position of conv1 ('valid')
    for left in range(46):
        windows[top:top + 3, left:left + 3] += 1
fig, axes = plt.subplots(1, 2, figsize=(8.5, 4))
shown = axes[0].imshow(windows, cmap="viridis")
axes[0].set_title("how many conv1 windows read each pixel")
fig.colorbar(shown, ax=axes[0], fraction=0.046)
axes[1].imshow(face[0, :, :, 0], cmap="gray", vmin=0, vmax=255)
unseen = np.zeros((48, 48, 4))
unseen[46:, :] = unseen[:, 46:] = (1, 0, 0, 0.6)
axes[1].imshow(unseen)
axes[1].set_title("red: rows and columns 46-47,\nnever seen by the output")
for ax in axes:
    ax.set_xticks([0, 23, 47])
    ax.set_yticks([0, 23, 47])
fig.tight_layout()
plots.save_fig("04_border")
plt.show()

# %% [markdown]
# ## 4.5 Why each piece is there
#
# | piece | what it does | why here |
# |---|---|---|
# | `Rescaling(1/255)` | pixels 0..255 -> 0..1, inside the model | gradients and initial weights assume inputs of order 1; inside the model, no caller can forget it or do it twice, and the saved model takes raw pixels |
# | 3x3 convolutions, stacked | each value looks at a 3x3 patch of the layer below | small kernels are cheap; with a pooling after each convolution, depth grows the receptive field to 46x46 (4.3). (The "two 3x3 layers see 5x5 with 18 weights instead of 25" argument is for VGG's back-to-back convolutions, 4.8; this net never stacks two) |
# | more filters deeper | 128 -> 512 channels | early layers detect edges and blobs (few kinds); deep layers detect parts (a raised lip corner, a frown) and there are many more kinds of those |
# | `padding="valid"` | no zero border | simple and no invented pixels, at the cost of the border (4.4) |
# | ReLU | max(0, x) | cheap, and its gradient does not vanish for positive inputs, so deep stacks train |
# | max-pooling 2x2 | keeps the largest of four values | halves the map (4x less work for the next layer), doubles the receptive field's growth, and gives some tolerance to small shifts (chapter 1, optional part of section 1.9: a 2-pixel shift moves the pooled map by exactly one column, a 1-pixel shift leaves only part of the pooled values unchanged) |
# | dropout 0.4 / 0.3 | zeroes a random 40% (30%) of values during training only, and scales the rest up (by 1 / 0.6, 1 / 0.7) so that each value keeps its average size | 4.2 million weights and 25,838 training faces (28,709 before the validation cut): without it the net memorises (chapter 6 measures it) |
# | Flatten + Dense 512, 256 | a fully connected classifier on the 512 features | combines features into the decision; here the map is 1x1, so Flatten just turns 1x1x512 into 512 |
# | Dense 7 + softmax | seven scores -> seven probabilities summing to 1 | the cross-entropy loss of chapter 5 compares them with the true emotion |
#
# Dropout is active only when the model is called with `training=True` (inside `fit`; chapter 1b, section 1b.10).
# At prediction time the full network is used, which is why `predict` gives the same answer twice.

# %% tags=["nbval-check-output"]
twice = [seed_cnn.predict(face, verbose=0) for _ in range(2)]
dropped = [seed_cnn(face, training=True) for _ in range(2)]
print("predict (dropout off): same output twice:", np.array_equal(*twice))
print("training=True (dropout on): same output twice:", np.array_equal(*[np.asarray(d) for d in dropped]))
print(f"softmax output sums to 1: {np.isclose(twice[0].sum(), 1.0)}")

# %% [markdown]
# ## 4.6 Where the parameters and the arithmetic are
#
# Chapter 1 (section 1.8) counted this network's parameters by formula and by Keras; they do not depend on the
# size of the image. Its arithmetic does: each of the H x W x C_out output values of a convolution costs
# k x k x C_in multiply-adds (2 FLOPs each), and a dense layer with N inputs and M units costs 2 x N x M FLOPs.
# `models.layer_table` puts both side by side.

# %%
cost = models.layer_table(seed_cnn)
cost = cost[cost["parameters"] > 0].reset_index(drop=True)
cost["% of parameters"] = 100 * cost["parameters"] / cost["parameters"].sum()
cost["% of FLOPs"] = 100 * cost["MFLOPs"] / cost["MFLOPs"].sum()
print(cost.round(1).to_string(index=False))
print(f"total: {cost['parameters'].sum():,} parameters, {cost['MFLOPs'].sum():.0f} MFLOPs per face")

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 3.4), sharey=True)
for ax, values, label, colour in [(axes[0], cost["parameters"] / 1e6, "parameters (millions)", "tab:blue"),
                                  (axes[1], cost["MFLOPs"], "MFLOPs per face", "tab:red")]:
    ax.barh(cost["layer"], values, color=colour)
    for y_pos, (value, part) in enumerate(zip(values, values / values.sum())):
        ax.text(value, y_pos, f" {100 * part:.0f}%", va="center", fontsize=8)
    ax.set_xlabel(label)
    ax.set_xlim(0, values.max() * 1.18)
    ax.grid(axis="x", alpha=0.3)
axes[0].invert_yaxis()
axes[0].set_title("parameters (memory, what is learned)")
axes[1].set_title("FLOPs (time, per face)")
fig.tight_layout()
plots.save_fig("04_cost")
plt.show()

# %% [markdown]
# What to notice:
#
# - **conv4 holds 56% of the parameters** (2.36 million) but works on a 2x2 map: 3x3x512x512 weights, used at
#   only four positions. Most of the network's capacity sits where there is the least spatial information.
# - **conv2 does 60% of the arithmetic**: fewer weights (0.3 million) but applied at 21x21 = 441 positions.
#   Time is spent where a large map meets many input *and* output channels (conv2: 441 positions x 3x3x128x256);
#   conv1 has the largest map but one input channel. *Parameter* memory sits where channels are many (conv4);
#   *activation* memory where maps are large (conv1, section 4.3).
# - The dense head has 9% of the parameters and under 0.2% of the FLOPs.
# - conv1 is almost free (1,280 parameters, 1% of FLOPs): one input channel.
#
# ## 4.7 How fast is it on a CPU?
#
# FLOPs predict speed only roughly: memory traffic, the batch size and the library's kernels matter as much.
# So we measure. We time `predict_on_batch` (one compiled call, no progress bar) on real faces, after one
# warm-up call that builds the compiled function, for one face at a time (a webcam) and for batches of 32 and
# 256 (a dataset). The figures depend on the machine and on what else runs on it, so the output names both
# (a load average above the number of cores means other programs were competing for them). The weights do
# not matter for speed, so the untrained network is timed.

# %%
import time

faces = data.as_model_input(np.resize(train_split.x, (max(TIMING_BATCH_SIZES), 48, 48)))


def faces_per_second(model, batch_size, seconds=TIMING_SECONDS):
    """Faces per second of model.predict_on_batch at this batch size, measured for at least `seconds`."""
    batch = faces[:batch_size]
    model.predict_on_batch(batch)                        # warm-up: builds the compiled predict function
    calls, start = 0, time.perf_counter()
    while calls == 0 or time.perf_counter() - start < seconds:
        model.predict_on_batch(batch)
        calls += 1
    return calls * batch_size / (time.perf_counter() - start)


load = f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores" if hasattr(os, "getloadavg") else ""
print(f"{course.hardware()}; {load}")
speed = {batch_size: faces_per_second(seed_cnn, batch_size) for batch_size in TIMING_BATCH_SIZES}
timing = pd.DataFrame({"batch size": list(speed), "faces / s": [round(v, 1) for v in speed.values()],
                       "ms per face": [round(1000 / v, 1) for v in speed.values()],
                       "GFLOP/s achieved": [round(v * models.count_flops(seed_cnn) / 1e9, 1) for v in speed.values()]})
print(timing.to_string(index=False))

# %% [markdown]
# Two effects pull in opposite directions, and which one wins depends on the machine:
#
# - **Overhead per call** (Python, dispatching the graph, matrix products too small to keep every core busy)
#   is shared by all the faces of a batch: this favours large batches, and on a GPU it dominates.
# - **Memory per batch** grows with the batch: conv1 alone produces 270,848 values per face (4.3), about 1 MB
#   in float32, so 277 MB for a batch of 256. One face's maps fit in the CPU's cache; a large batch's maps
#   must stream through main memory at every layer, which can make each face *slower* on a CPU.
#
# Read your own table: if batch 1 is close to the best, this CPU is limited by memory traffic more than by
# overhead. In the table saved here (an otherwise idle machine: the load average is this notebook's own work)
# the largest batch won, narrowly: batch 256 at about 376 faces/s, batch 32 at 338, both about twice batch 1's
# 164 (the shared overhead); going from 32 to 256 gained only a tenth (the memory traffic starts to bite). On a
# machine whose cores are shared with other work every figure drops,
# and the order can change: rerun the cell and read your own.
#
# ## 4.8 The design in today's terms
#
# The network works (chapter 5 trains it), but four choices would not be made today:
#
# - **No batch normalisation.** Normalising each layer's outputs over the batch (chapter 1b, section 1b.10, shows
#   the layer in training and inference mode) lets deeper nets train faster and with larger learning rates;
#   without it this net leans on dropout alone and on a careful learning rate.
# - **Parameters in the wrong place.** conv4 holds 2.36 million weights for a 2x2 map, and the dense head 0.4
#   million where one Dense(7) layer on the 512 features (3,591 parameters) would do. Global average pooling is
#   what keeps that head small once the last map is larger than 1x1 (on this net's 1x1 map it saves nothing by
#   itself; exercise 3 measures it on a larger map).
# - **An over-wide first layer.** 128 filters of 3x3x1 hold 9 weights each, so before their bias and ReLU their
#   maps are combinations of at most 9 independent ones: many are redundant (chapter 1 found most of them silent
#   on a face). Modern nets start at 32-64 channels (`build_vgg_bn`: 32).
# - **Valid padding shrinks the map to 1x1** and drops the border (4.4). `padding="same"` keeps the map size,
#   so one can use two convolutions per stage and stop at 6x6 instead of 1x1.
#
# `fer_helpers.models.build_vgg_bn` is such a design: two 3x3 `same` convolutions per stage with BatchNorm,
# global average pooling, one Dense layer; here at its default widths 32-64-128-256. Chapter 9 reaches it from
# the original CNN one change at a time (BatchNorm, then VGG-style depth at widths 64-128-256-512, then global
# average pooling), measuring each change on validation.

# %%
vgg = models.build_vgg_bn()
compare = pd.DataFrame([
    {"model": name, "parameters": net.count_params(), "MFLOPs per face": round(models.count_flops(net) / 1e6),
     "conv layers": sum(type(layer).__name__ == "Conv2D" for layer in net.layers),
     "last conv output": "x".join(map(str, next(layer.output.shape[1:3] for layer in reversed(net.layers)
                                       if type(layer).__name__ == "Conv2D")))}
    for name, net in [("original CNN (seed_cnn)", seed_cnn), ("VGG-style + BatchNorm (vgg_bn)", vgg)]])
compare

# %% [markdown]
# Twice as many convolutions, about a quarter of the parameters, about half the FLOPs. FLOPs do not predict the
# speed ratio, though, in either direction: vgg_bn keeps full 48x48 maps in its first stage (more memory traffic)
# and has more than twice as many layers to run (BatchNorm and ReLU are layers of their own there), but its maps
# have far fewer channels. Measured on this machine at the largest batch size (in the run saved here, vgg_bn was
# about 2.0 times faster, a little more than the 1.9 that the FLOPs suggest; other runs on the same CPU differ):

# %%
vgg_speed = faces_per_second(vgg, max(TIMING_BATCH_SIZES))
big = max(TIMING_BATCH_SIZES)
print(f"batch {big}: original CNN {speed[big]:.0f} faces/s, vgg_bn {vgg_speed:.0f} faces/s")

# %% [markdown]
# Whether the smaller net is also the *better* one is a question for training, not for counting: chapter 9's
# ladder takes it up.
#
# ## Summary
#
# - The original CNN is four 3x3 `valid` convolutions (128, 256, 512, 512), each with 2x2 max-pooling and
#   dropout 0.4, then Dense 512 and 256 with dropout and a 7-way softmax: 4,232,199 parameters, 436 MFLOPs per
#   face. `models.build_seed_cnn()` is exactly this network, checked layer by layer and prediction by
#   prediction.
# - The face shrinks 48 -> 46 -> 23 -> 21 -> 10 -> 8 -> 4 -> 2 -> 1 while channels grow to 512; the last value
#   sees a 46x46 square, and the last two rows and columns of every face are never seen.
# - Parameters live where channels are many (conv4: 56%), arithmetic where map area x input channels x output
#   channels is largest (conv2: 60%).
# - Speed is measured, not read off the FLOPs: on a CPU a large batch shares the cost of a call but overflows
#   the caches, and the net effect depends on the machine.
# - Today's designs add BatchNorm, start narrower, keep maps larger with `same` padding, and replace the dense
#   head with global average pooling (`build_vgg_bn`).
#
# ## Exercises
#
# Answers that can be checked have a line under the exercise (run `from fer_helpers import check` first).
#
# 1. The layer table of 4.3 gives conv3's parameters and FLOPs. Compute by hand those of a variant of conv3 with
#    384 filters of 5x5 (input 10x10x256, `valid`, with biases), then build that layer alone
#    (`keras.Sequential([keras.Input((10, 10, 256)), layers.Conv2D(384, 5)])`) and check your answer with
#    `models.layer_table`.
#    - Check your answers: `check.exercise("4.1", parameters)` and `check.exercise("4.1b", mflops)`.
# 2. Change every convolution to `padding="same"`. Predict the output shape of each block and the number of
#    parameters of the first Dense layer, then build it and check. What happens to the FLOPs?
#    - Check your answers: `check.exercise("4.2", block_output_shapes)` and
#      `check.exercise("4.2b", first_dense_parameters)`.
# 3. In the `padding="same"` network of exercise 2, replace `Flatten` with `GlobalAveragePooling2D`. How many
#    parameters does that save, and why? Then also remove the two hidden Dense layers (and their dropout): how many
#    parameters are left?
#    - Check your answers: `check.exercise("4.3", parameters_saved)` and `check.exercise("4.3b", parameters_left)`.
# 4. For which input sizes from 40 to 64 (both included) does the original architecture (valid padding, four
#    blocks) see every pixel and still end with at least a 1x1 map? Would cropping faces to 46x46 lose anything
#    compared with feeding 48x48 images?
#    - Check your answer: `check.exercise("4.4", list_of_sizes)`.
# 5. Using the timing table of 4.7: how many GFLOP/s does your CPU achieve at each batch size, and which batch
#    size gives the most faces per second? Explain the result with the two effects of 4.7, and say what you
#    would expect on a GPU.

# %% [markdown] tags=["solution"]
# ## Solutions
#
# 1. Weights 5 x 5 x 256 x 384 = 2,457,600, plus 384 biases: **2,457,984** parameters. The output is 6x6x384
#    (10 - 5 + 1 = 6); each value costs 5 x 5 x 256 = 6,400 multiply-adds, so 6 x 6 x 384 x 6,400 x 2 =
#    **176.9 MFLOPs**: more weights than conv3 but fewer outputs, so the FLOPs grow less than the parameters.

# %% tags=["solution"]
# Solution 1: the hand computation against the helper.
variant = keras.Sequential([keras.Input((10, 10, 256)), layers.Conv2D(384, 5, name="conv3_5x5")])
row = models.layer_table(variant).set_index("layer").loc["conv3_5x5"]
by_hand_parameters = 5 * 5 * 256 * 384 + 384
by_hand_mflops = 2 * 6 * 6 * 384 * (5 * 5 * 256) / 1e6
print(f"by hand: {by_hand_parameters:,} parameters, {by_hand_mflops:.1f} MFLOPs; "
      f"layer_table: {row['parameters']:,}, {row['MFLOPs']:.1f}")

# %% [markdown] tags=["solution"]
# 2. With `same`, convolutions keep the size and only pooling halves it: 48 -> 24 -> 12 -> 6 -> 3. Flatten then
#    gives 3 x 3 x 512 = 4,608 values, so Dense 512 has 4,608 x 512 + 512 = 2,359,808 parameters (9 times
#    more); the convolutions keep their parameter counts. Every convolution now runs on a larger map, so the
#    FLOPs grow (the cell below prints by how much).

# %% tags=["solution"]
# Solution 2: the same network with a padding argument, built compactly this time.
def student_like_cnn(padding="valid", head="flatten", hidden=(512, 256)):
    net = keras.Sequential([keras.Input(shape=(48, 48, 1)), layers.Rescaling(1 / 255)])
    for filters in (128, 256, 512, 512):
        net.add(layers.Conv2D(filters, (3, 3), padding=padding, activation="relu"))
        net.add(layers.MaxPooling2D((2, 2)))
        net.add(layers.Dropout(0.4))
    net.add(layers.Flatten() if head == "flatten" else layers.GlobalAveragePooling2D())
    for units, rate in zip(hidden, (0.4, 0.3)):
        net.add(layers.Dense(units, activation="relu"))
        net.add(layers.Dropout(rate))
    net.add(layers.Dense(7, activation="softmax"))
    return net


same = student_like_cnn(padding="same")
print("block outputs:", [tuple(layer.output.shape[1:]) for layer in same.layers if type(layer).__name__ == "MaxPooling2D"])
first_dense = next(layer for layer in same.layers if type(layer).__name__ == "Dense")
print(f"first Dense: {first_dense.count_params():,} parameters; "
      f"total {same.count_params():,} (valid: {seed_cnn.count_params():,})")
print(f"MFLOPs per face: {models.count_flops(same) / 1e6:.0f} (valid: {models.count_flops(seed_cnn) / 1e6:.0f})")

# %% [markdown] tags=["solution"]
# 3. The last map of the `same` network is 3x3x512: `Flatten` passes 4,608 numbers to Dense 512, global average
#    pooling passes 512 (one average per channel), so the first Dense layer loses (4,608 - 512) x 512 =
#    2,097,152 weights; its biases and everything else stay. Removing the two hidden Dense layers leaves a head of
#    512 x 7 + 7 = 3,591 parameters on top of the convolutions, whose counts do not depend on the padding; the
#    cell counts the totals. (On the original `valid` network the last map is 1x1 and the swap saves nothing.)

# %% tags=["solution"]
# Solution 3: the `same` network of exercise 2 with the two heads.
gap = student_like_cnn(padding="same", head="gap")
gap_only = student_like_cnn(padding="same", head="gap", hidden=())
print(f"Flatten: {same.count_params():,} | GAP: {gap.count_params():,} (saves {same.count_params() - gap.count_params():,})"
      f" | GAP, no hidden Dense: {gap_only.count_params():,} parameters")

# %% [markdown] tags=["solution"]
# 4. Every pixel is seen when every pooling gets an even-sized map (nothing is rounded away). The cell below
#    follows the arithmetic for each size: 46 and 62. 46 is the useful one: 46 -> 44 -> 22 -> 20 -> 10 -> 8 -> 4 -> 2 -> 1.
#    Cropping to the top-left 46x46 therefore loses nothing compared with what the network uses now: with the
#    same weights, the 46x46 crop should give exactly the prediction of the 48x48 face (a claim that is cheap to
#    test: build `student_like_cnn` with an `Input((46, 46, 1))`, copy `seed_cnn`'s weights with `set_weights`,
#    and compare the two predictions).

# %% tags=["solution"]
# Solution 4: follow n through conv (n - 2) and pool (n // 2); a pool on an odd n drops a row and a column.
def trace(n, blocks=4):
    sizes, complete = [n], True
    for _ in range(blocks):
        n -= 2
        complete &= n % 2 == 0
        n //= 2
        sizes.append(n)
    return sizes, complete and n >= 1


print("sees every pixel:", [n for n in range(40, 65) if trace(n)[1]])
print("48:", trace(48)[0], "| 46:", trace(46)[0])

# %% [markdown] tags=["solution"]
# 5. GFLOP/s = faces per second x 0.436 GFLOP per face; the timing table already has the column, and the cell
#    below prints which batch size won here. If a large batch wins, the fixed cost of a call dominated; if
#    batch 1 is as fast or faster, memory traffic dominated: a batch of 256 needs hundreds of MB for conv1's
#    output alone, far beyond the CPU's caches. A GPU has thousands of arithmetic units and very fast memory,
#    and a single 48x48 face keeps only a few of them busy, so there large batches win by a wide margin; for a
#    webcam demo (batch 1) the cost of a call matters more than the FLOPs.

# %% tags=["solution"]
# Solution 5
print(timing[["batch size", "GFLOP/s achieved"]].to_string(index=False))
best = max(speed, key=speed.get)
small = min(TIMING_BATCH_SIZES)
print(f"most faces per second at batch {best}; batch {big} / batch {small} throughput: {speed[big] / speed[small]:.2f}x")
