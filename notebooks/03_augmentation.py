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
# # 3. Augmentation and class balancing: more faces from the same data, a fair say for *disgust*
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/fer-course/fer-course/blob/main/notebooks/03_augmentation.ipynb)
# [![Open In Kaggle](https://kaggle.com/static/images/open-in-kaggle.svg)](https://kaggle.com/kernels/welcome?src=https://github.com/fer-course/fer-course/blob/main/notebooks/03_augmentation.ipynb)
# [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/fer-course/fer-course/main?labpath=notebooks%2F03_augmentation.ipynb)
#
# FER2013 has two problems that no architecture fixes by itself: it is **small** for a CNN (28,709 training faces
# for a network of about 4.2 million weights), and it is **unbalanced** (16.5 *happy* faces for every *disgust*
# face). This chapter treats both, then measures the treatments side by side. By the end of it you will be able to:
#
# - say which random transforms keep a facial expression intact (and which do not), apply them with Keras
#   preprocessing layers, and show that they are switched off at prediction time;
# - explain where augmentation runs (in front of the model, on the accelerator, under any Keras backend) and how
#   that differs from a `tf.data` input pipeline;
# - balance the classes with loss weights (inverse frequency, 'balanced', square root) or by oversampling, and
#   say what each one changes;
# - train a model with plain Keras (`compile`, `fit` with `class_weight`) and run a small, fair comparison (same
#   data, same seed, same budget), reading each difference against its noise level (a second seed, McNemar's
#   test, bootstrap intervals).
#
# | mode | comparison (section 3.8) | 2-core CPU | one GPU |
# |---|---|---|---|
# | quick (`FER_QUICK=1`, the default) | a toy (3,500 points, seconds); small CNN on 71 training faces in FER2013's proportions, 14 validation faces on the committed sample, 6 variants x 2 epochs | 45 s (measured under nbval on 2026-12-07, 2 cores otherwise idle) | < 1 min (estimated) |
# | full (`FER_QUICK=0`) | the toy; small CNN on all 25,838 training faces, 2,871 validation faces, 6 variants x 5 epochs | 11.4 min (measured: 684 s on 2026-12-07 with the 2 cores otherwise idle, the committed run; 1,782 s earlier that day on cores shared with other chapter runs; most of it the six trainings, whose minutes the table prints) | a few minutes (estimated) |
#
# **Modes.** Only the comparison's data, epochs and batch size (sections 3.5 and 3.7 to 3.9) change with the mode;
# quick mode on the full data keeps 20 validation faces per class. Quick mode's table on faces is noise, while the
# toy shows the mechanism in every mode. The figures quoted in the text come from the full run saved here, named
# in the first output line below.

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
EPOCHS = 2 if session.quick else 5                      # per variant of the comparison on faces (section 3.8)
LARGEST_CLASS = 18 if session.quick else None           # quick: a 71-face subset in FER2013's proportions;
                                                        # None: the whole training split (it has them already)
BATCH_SIZE = 32 if session.quick else 64
LEARNING_RATE = 1e-3
VALIDATION_FRACTION = 0.1
QUICK_VAL_PER_CLASS = 20                                # quick mode with the full dataset: validation faces
                                                        # per class (the sample has 2 per class anyway)
# Chapter 5's augmentation: mirror, +-10.8 degrees, +-10% zoom and shift, +-10% brightness and contrast.
AUGMENTATION = dict(flip=True, rotation=0.03, zoom=0.1, translation=0.1, brightness=0.1, contrast=0.1)

# %% [markdown]
# ## 3.1 Why augment
#
# A CNN with millions of weights and a few tens of thousands of faces can **memorise** the training set: every
# face, with its lighting, framing and label noise. We want it to learn the expression instead, and we know
# several things that do *not* change an expression:
#
# - **pose**: a head turned or tilted a little, a face mirrored left to right;
# - **framing**: the face detector placed each 48x48 crop a bit differently (off-centre, closer, further);
# - **light**: a brighter or darker photo, more or less contrast.
#
# Augmentation turns this knowledge into data: each time a face is shown during training, it gets a small random
# change of that kind, **with the same label**. The network never sees the exact same image twice, so memorising
# pixels stops paying, and what survives the changes (the shape of the mouth, the brows) is left to learn. It is
# regularisation, like dropout, that a person can check: look at the augmented faces and ask "is this still the
# same emotion?". Every figure uses the same faces of the committed sample.

# %%
import matplotlib.pyplot as plt
import numpy as np

from fer_helpers import augment, data, plots

sample = data.load_split(course.SAMPLE_DIR, "train")
SHOWN = ["happy/Training_50963464.jpg", "surprise/Training_70709344.jpg", "angry/Training_45111651.jpg",
         "disgust/Training_80419429.jpg"]
faces = np.stack([sample.x[sample.files.index(name)] for name in SHOWN])
print("faces for the figures:", ", ".join(f"data/sample/train/{name}" for name in SHOWN))

# %% [markdown]
# ## 3.2 The transforms, one at a time
#
# Keras has one preprocessing **layer** per transform, drawing new random parameters for every image of every
# batch. The strengths below are chapter 5's:
#
# | layer | what it does | why it is safe for expressions |
# |---|---|---|
# | `RandomFlip("horizontal")` | mirrors left-right, half of the time | expressions are (nearly) symmetric; a mirrored smile is a smile |
# | `RandomRotation(0.03)` | turns by up to 0.03 of a full turn (+-10.8 degrees) | heads tilt that much in photos |
# | `RandomZoom(0.1)` | zooms in or out by up to 10% | the face detector's crops vary in scale |
# | `RandomTranslation(0.1, 0.1)` | shifts by up to 10% of the side (4.8 pixels) | and in position |
# | `RandomBrightness(0.1)` | adds up to +-10% of the 0..255 range | exposure varies |
# | `RandomContrast(0.1)` | stretches or squeezes contrast by up to 10% | so does contrast |
#
# **Why not vertical flips?** An upside-down face never occurs, in the data or at prediction time (the face
# detector finds upright faces only): training on it would spend capacity on a case that never comes. The
# figure's "vertical flip" row is there to be looked at, not used.
#
# Rotation, zoom and shift must invent pixels at the border: `fill_mode="nearest"` repeats the edge pixel (the
# smeared edges below); Keras's default, `"reflect"`, mirrors the image into the gap, which can paste half an
# extra eye next to the face.

# %%
import keras
from keras import layers

TRANSFORMS = {
    "horizontal flip": layers.RandomFlip("horizontal", seed=1),
    "vertical flip\n(not used)": layers.RandomFlip("vertical", seed=1),
    "rotation\n+-10.8 deg": layers.RandomRotation(0.03, fill_mode="nearest", seed=2),
    "zoom +-10%": layers.RandomZoom(0.1, fill_mode="nearest", seed=3),
    "translation\n+-10%": layers.RandomTranslation(0.1, 0.1, fill_mode="nearest", seed=4),
    "brightness\n+-10%": layers.RandomBrightness(0.1, value_range=(0, 255), seed=5),
    "contrast +-10%": layers.RandomContrast(0.1, value_range=(0, 255), seed=6),
}
DRAWS = 7


def show_rows(rows: dict, title: str):
    """One row per entry: the original face, then DRAWS random versions of it."""
    fig, axes = plt.subplots(len(rows), DRAWS + 1, figsize=(1.15 * (DRAWS + 1), 1.2 * len(rows)))
    for r, (label, (original, versions)) in enumerate(rows.items()):
        for c, image in enumerate([original, *versions]):
            ax = axes[r, c]
            ax.imshow(np.squeeze(image), cmap="gray", vmin=0, vmax=255, interpolation="nearest")
            ax.set_xticks([]), ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
            if r == 0:
                ax.set_title("original" if c == 0 else f"draw {c}", fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


face = faces[0]
copies = np.repeat(data.as_model_input(face[None]), DRAWS, axis=0)  # (7, 48, 48, 1) float32 in 0..255
rows = {label: (face, np.asarray(layer(copies, training=True))) for label, layer in TRANSFORMS.items()}
show_rows(rows, "each transform alone, seven random draws on the same face")
plots.save_fig("03_transforms")
plt.show()

# %% [markdown]
# What to notice: the flip row shows the face or its mirror image (the hair changes sides); the geometric rows
# move the face by a few pixels only, yet on a 48-pixel image that is the width of an eye; brightness and
# contrast move nothing (contrast at 10% is hard to see). In every draw the expression is still readable; too
# strong a transform would break that promise (exercise 1 turns the knobs up).
#
# ## 3.3 The pipeline, and why it does nothing at prediction time
#
# `fer_helpers.augment.augmentation_layers` chains the six layers into one `keras.Sequential`: every face of a
# training batch gets its own random mirror, angle, zoom, shift, brightness and contrast.

# %%
pipeline = augment.augmentation_layers(**AUGMENTATION, seed=session.seed)
print(" -> ".join(layer.name for layer in pipeline.layers))
batch = data.as_model_input(faces)
rows = {name.split("/")[0]: (f, np.asarray(pipeline(np.repeat(batch[i:i + 1], DRAWS, axis=0), training=True)))
        for i, (name, f) in enumerate(zip(SHOWN, faces))}
show_rows(rows, "the combined pipeline (chapter 5's settings), seven draws per face")
plots.save_fig("03_pipeline")
plt.show()

# %% [markdown]
# The combined draws are also **softer**: rotation, zoom and shift resample the image with bilinear
# interpolation, which blurs a little, so the network trains on slightly blurred faces and is tested on sharp
# ones: one more reason to keep the strengths modest.
#
# Random preprocessing layers are active only when called with `training=True`. Keras sets that flag for you
# (chapter 1b, section 1b.10): `fit` calls the model with `training=True`, `predict` and `evaluate` with
# `training=False`, and then these layers return their input unchanged. Validation and test faces are seen
# **as they are**, and a prediction is repeatable. The check below holds on any backend (its cell tag
# `nbval-check-output` makes the course's automatic checks compare its printed lines on every run; ignore it).

# %% tags=["nbval-check-output"]
augmented = np.asarray(pipeline(batch, training=True))
unchanged = np.asarray(pipeline(batch, training=False))
print("input", batch.shape, batch.dtype, "-> output", augmented.shape, augmented.dtype)
print("training=True changes every face:", all(not np.allclose(a, b) for a, b in zip(augmented, batch)))
print("training=False returns the input exactly:", np.array_equal(unchanged, batch))
print("values stay in 0..255:", bool(augmented.min() >= 0 and augmented.max() <= 255))

# %% [markdown]
# ## 3.4 Where augmentation runs
#
# There are two places to put it.
#
# - **In front of the model, as layers** (what this course does): the training wrapper is
#   `Sequential([Input, augmentation, model])`. The transforms run where the model runs, on the GPU if there is
#   one, under any Keras backend; the saved model is the bare network, with nothing random left in it.
# - **In the input pipeline**, e.g. `tf.data.Dataset.map(...)`: the transforms run on the CPU while the
#   accelerator works on the previous batch, which pays off only when augmentation is expensive (rarely for
#   48x48 faces). Wrapped in `keras.layers.Pipeline`, the same layers work there under any backend (exercise 4).
#
# The cell below builds the training wrapper the way the course's `train.fit` does (chapter 5):

# %% tags=["nbval-check-output"]
from fer_helpers import models

network = models.build_seed_cnn()
trainer = keras.Sequential([keras.Input(network.input_shape[1:]), pipeline, network], name="seed_cnn_training")
print("training wrapper:", [layer.name for layer in trainer.layers], f"{trainer.count_params():,} parameters")
print("saved model:     ", network.name, f"{network.count_params():,} parameters (augmentation adds none)")

# %% [markdown]
# ## 3.5 Class imbalance: the counts
#
# FER2013's training split, as published:

# %% tags=["nbval-check-output"]
import pandas as pd

fer_counts = pd.Series(augment.FER2013_TRAIN_COUNTS, name="faces")
imbalance = pd.DataFrame({"faces": fer_counts, "share %": (100 * fer_counts / fer_counts.sum()).round(1)})
print(f"FER2013 Training: {fer_counts.sum():,} faces; happy / disgust = {fer_counts['happy'] / fer_counts['disgust']:.1f}")
imbalance.T

# %% [markdown]
# What does an unweighted model do with *disgust*? The loss, cross-entropy, is an **average over faces**: disgust
# faces make up 1.5% of its terms, so they carry about 1.5% of the loss's weight. The model learns that saying
# "disgust" rarely pays, and disgust **recall** (the share of disgust faces labelled *disgust*) often ends up near
# zero. Accuracy barely notices: never saying "disgust" costs at most 1.5 points. That is why the course reports
# **macro-F1** (chapter 2, section 2.2) beside accuracy, and disgust recall on its own.
#
# The data of this run, with validation carved out of train as in chapter 5 (the sample is balanced on purpose,
# so section 3.7 recreates FER2013's imbalance in miniature):

# %%
from fer_helpers import evaluate

train_split = data.load_split(session.data, "train")
x_train, x_val, y_train, y_val = data.train_val_split(train_split.x, train_split.y, VALIDATION_FRACTION, seed=42)
if session.quick and session.data_source != "sample":
    x_val, y_val = data.per_class_subset(x_val, y_val, QUICK_VAL_PER_CLASS)
pd.DataFrame({"train": data.class_counts(y_train), "validation": data.class_counts(y_val)}).T

# %% [markdown]
# ## 3.6 Remedy one: class weights (change the loss)
#
# Keras's `fit(..., class_weight={class: weight})` multiplies each face's loss term by the weight of its class.
# `fer_helpers.augment.class_weights(y, power)` gives weights proportional to `(1 / frequency) ** power`, scaled
# to average 1 over the training faces (so the learning rate needs no change):
#
# - `power=0`: every weight is 1, no balancing;
# - `power=1`: **inverse frequency**, scikit-learn's `'balanced'` (`n_faces / (7 * n_class)`): each class
#   contributes the same total to the loss, whatever its size;
# - `power=0.5`: the **square root**, a compromise: a disgust face weighs about 4 happy faces instead of 16.5.
#
# Why not simply 'balanced'? A weight of about 9 on each of 436 faces lets a handful of (noisy, sometimes
# mislabelled) disgust faces pull as hard as thousands of happy ones: the gradient gets noisy, and the model is
# pushed to call faces disgust that are not. The square root gives the rare classes a voice without handing them
# the microphone. The last three columns show each class's share of the total loss weight.

# %% tags=["nbval-check-output"]
fer_y = np.repeat(np.arange(data.NUM_CLASSES), list(augment.FER2013_TRAIN_COUNTS.values()))
POWERS = {"none (power 0)": 0.0, "sqrt (power 0.5)": 0.5, "balanced (power 1)": 1.0}
weight_table = pd.DataFrame({name: [augment.class_weights(fer_y, p)[i] for i in range(data.NUM_CLASSES)]
                             for name, p in POWERS.items()}, index=data.CLASS_NAMES)
loss_share = weight_table.mul(fer_counts, axis=0)
loss_share = (100 * loss_share / loss_share.sum()).add_prefix("loss share % ")
pd.concat([weight_table.round(2), loss_share.round(1)], axis=1)

# %% [markdown]
# The loss shares go from the class sizes (power 0) to 1/7 = 14.3% each (power 1), the square root in between.
# `power=1` is exactly scikit-learn's `'balanced'`:

# %% tags=["nbval-check-output"]
from sklearn.utils.class_weight import compute_class_weight

balanced = compute_class_weight("balanced", classes=np.arange(data.NUM_CLASSES), y=fer_y)
print("augment.class_weights(power=1) == sklearn 'balanced':",
      np.allclose(weight_table["balanced (power 1)"].to_numpy(), balanced))

# %%
fig, (ax_counts, ax_weights) = plt.subplots(1, 2, figsize=(11, 3.4))
fer_counts.plot.bar(ax=ax_counts, rot=0, color="tab:gray")
ax_counts.set_title("FER2013 Training: faces per class")
ax_counts.grid(axis="y", alpha=0.3)
weight_table.plot.bar(ax=ax_weights, rot=0)
ax_weights.set_title("loss weight per face (mean 1 over the faces)")
ax_weights.grid(axis="y", alpha=0.3)
fig.tight_layout()
plots.save_fig("03_class_weights")
plt.show()

# %% [markdown]
# ## 3.7 Remedy two: oversampling (change the data)
#
# Instead of weighting the rare faces, we can **show them more often**: `fer_helpers.augment.oversample` repeats
# faces of the smaller classes, drawn at random with replacement, until every class is as large as the largest:
# on average the same total weight per class as `power=1`, reached differently:
#
# | | class weights | oversampling |
# |---|---|---|
# | what changes | the loss: each face counts `w` times | the data: rare faces appear several times per epoch |
# | faces per epoch | unchanged | larger (FER2013: 7 x 7,215 = 50,505 instead of 28,709) |
# | a rare face's pull on one step | up to ~9x a normal face (`power=1`) | 1x, but it comes back more often |
# | the copies | - | **exact repeats**; only augmentation makes them differ |
#
# Two consequences. Oversampling does more steps per epoch, so section 3.8 gives it fewer epochs, for about the
# same number of faces seen. And without augmentation the network sees the same few hundred disgust images over
# and over, which invites memorising exactly those.
#
# The comparison trains on faces in FER2013's proportions (in quick mode a subset of the sample that recreates
# them, `subset_with_proportions`); here they are, before and after oversampling:

# %%
if LARGEST_CLASS is None:
    x_sub, y_sub = x_train, y_train
else:
    x_sub, y_sub = augment.subset_with_proportions(x_train, y_train, augment.FER2013_TRAIN_COUNTS, LARGEST_CLASS,
                                                   seed=session.seed)
x_over, y_over = augment.oversample(x_sub, y_sub, seed=session.seed)
disgust_over = x_over[y_over == 1]
print(f"disgust after oversampling: {len(disgust_over)} faces, of which "
      f"{len(set(data.pixel_hashes(disgust_over)))} distinct images")
pd.DataFrame({"subset": data.class_counts(y_sub), "oversampled": data.class_counts(y_over)}).T

# %% [markdown]
# ### The copies, as the network sees them (optional)
#
# One disgust face, as the oversampled training set holds it (top), and as the network sees it once
# augmentation is switched on (bottom):

# %%
hashes = data.pixel_hashes(disgust_over)
most_copied = max(set(hashes), key=hashes.count)
repeated = disgust_over[[h == most_copied for h in hashes]][:DRAWS + 1]
seen = np.asarray(pipeline(data.as_model_input(repeated), training=True))
fig, axes = plt.subplots(2, len(repeated), figsize=(1.15 * len(repeated), 2.6), squeeze=False)
for c in range(len(repeated)):
    for r, image in enumerate((repeated[c], seen[c])):
        axes[r, c].imshow(np.squeeze(image), cmap="gray", vmin=0, vmax=255, interpolation="nearest")
        axes[r, c].set_xticks([]), axes[r, c].set_yticks([])
axes[0, 0].set_ylabel("copies", fontsize=9)
axes[1, 0].set_ylabel("augmented", fontsize=9)
fig.suptitle(f"one disgust face, {hashes.count(most_copied)} times in the oversampled set")
fig.tight_layout()
plots.save_fig("03_oversampled_copies")
plt.show()

# %% [markdown]
# ## 3.8 Measuring the effect: first a toy you can see, then faces
#
# Claims about balancing are cheap; measuring them means training. You know what training does from chapter
# 1b: gradient descent (here Adam) makes the cross-entropy loss small, one batch per step, epoch after epoch. In
# Keras it is three calls: `keras.Sequential([...])` builds the model, `compile(optimizer, loss)` picks Adam and
# cross-entropy, and `fit(x, y, epochs, batch_size, class_weight)` runs the steps; only `class_weight`
# (section 3.6) changes between the runs below. Chapter 5 takes these calls
# apart and writes the loop out by hand (section 5.5).
#
# *For teachers.* In the book's order this section comes before chapters 4 and 5: all it needs of training is
# chapter 1b. Short of time, run the toy, read the committed table and section 3.9, and come back to
# `small_cnn` and `train_variant` after chapter 5: nothing in chapters 4 and 5 depends on them.
#
# **The toy.** Points in a plane, two overlapping classes in *happy*-to-*disgust* proportions (3,300 "common"
# points to 200 "rare" ones, 16.5 to 1). The model is one `Dense` layer, a straight line between the classes
# (logistic regression), trained with no, square-root and balanced weights, and scored on fresh points.

# %%
import time

from sklearn.metrics import f1_score


def toy_points(rng, common=3300, rare=200):
    """Two overlapping round clouds: 'common' (class 0) around (0, 0), 'rare' (class 1) around (1.6, 1.2)."""
    x = np.concatenate([rng.normal((0.0, 0.0), 1.0, (common, 2)), rng.normal((1.6, 1.2), 1.0, (rare, 2))])
    return x.astype("float32"), np.repeat([0, 1], [common, rare])


rng = np.random.default_rng(session.seed)
x_toy, y_toy = toy_points(rng)          # to train on
x_toy_val, y_toy_val = toy_points(rng)  # to score on: new points, same proportions

toy_models, toy_rows = {}, {}
for label, power in {"no weights": 0.0, "sqrt": 0.5, "balanced": 1.0}.items():
    counts = np.bincount(y_toy)
    weights = (len(y_toy) / counts) ** power             # (1 / frequency) ** power, as in section 3.6 ...
    weights /= (weights * counts).sum() / len(y_toy)     # ... scaled to average 1 over the points
    keras.utils.set_random_seed(session.seed)            # same initial line, same batches for every run
    toy = keras.Sequential([keras.Input((2,)), layers.Dense(2, activation="softmax")])
    toy.compile(optimizer=keras.optimizers.Adam(0.05), loss="sparse_categorical_crossentropy")
    toy.fit(x_toy, y_toy, epochs=10, batch_size=128, class_weight=dict(enumerate(weights)), verbose=0)
    predicted = toy.predict(x_toy_val, verbose=0).argmax(axis=1)
    hits = int(((predicted == 1) & (y_toy_val == 1)).sum())
    toy_models[label] = toy
    toy_rows[label] = {"weight of a rare point": weights[1] / weights[0], "predicted rare": int((predicted == 1).sum()),
                       "rare recall": hits / (y_toy_val == 1).sum(), "rare precision": hits / max((predicted == 1).sum(), 1),
                       "accuracy": (predicted == y_toy_val).mean(), "macro_f1": f1_score(y_toy_val, predicted, average="macro")}
print(f"toy validation: {len(y_toy_val):,} points, {(y_toy_val == 1).sum()} of them rare")
pd.DataFrame.from_dict(toy_rows, orient="index").round(3)

# %%
grid = np.stack(np.meshgrid(np.linspace(-3.5, 5, 200), np.linspace(-3.5, 4.5, 200)), axis=-1).reshape(-1, 2)
fig, ax = plt.subplots(figsize=(6.5, 5))
ax.scatter(*x_toy_val[y_toy_val == 0].T, s=3, color="tab:gray", alpha=0.4, label="common (3,300)")
ax.scatter(*x_toy_val[y_toy_val == 1].T, s=9, color="tab:red", label="rare (200)")
for (label, toy), color in zip(toy_models.items(), ["black", "tab:blue", "tab:green"]):
    p_rare = toy.predict(grid, verbose=0)[:, 1].reshape(200, 200)
    ax.contour(grid[:, 0].reshape(200, 200), grid[:, 1].reshape(200, 200), p_rare, levels=[0.5], colors=color)
    ax.plot([], [], color=color, label=f"boundary, {label}")
ax.set_title("the weights move the boundary into the common class")
ax.legend(loc="lower right", fontsize=8)
fig.tight_layout()
plots.save_fig("03_toy_boundaries")
plt.show()

# %% [markdown]
# Every run draws a straight line, and the weights only **move** it. Unweighted, the line sits deep inside the
# rare cloud: on the overlap, "common" is the better bet 16.5 times to 1. Square-root, then balanced weights push
# it into the common cloud: rare recall rises, rare precision falls, and accuracy pays, because common points
# outnumber rare ones. The model learnt nothing new; missing a rare point just costs more. With 3,500
# validation points these differences are far above the noise (section 3.9 shows how to check).
#
# ### The same on faces: a small CNN
#
# Faces need a network that can see shapes; this one is small on purpose (on all 25,838 training faces, a few
# minutes per variant on a 2-core CPU, where chapter 5's network takes 10 minutes per epoch), built from chapter
# 1's pieces: four 3x3 **convolutions** (16, 32, 64 then 128 filters), each followed by **batch
# normalisation** (chapter 1b, section 1b.10) and **ReLU**, with 2x2 **max pooling** between them (48, 24, 12
# then 6 pixels a side); **global average pooling** turns each of the 128 final maps into one number, and a
# softmax `Dense` layer gives the seven probabilities. Chapter 4 takes the course's larger network apart.

# %% tags=["nbval-check-output"]
def small_cnn():
    """A small CNN: four conv-BN-ReLU layers (16 to 128 filters) with 2x2 max-pooling between them, global
    average pooling, softmax over the 7 emotions."""
    model = keras.Sequential([keras.Input((48, 48, 1)), layers.Rescaling(1 / 255)], name="small_cnn")
    for i, width in enumerate((16, 32, 64, 128)):
        if i:
            model.add(layers.MaxPooling2D(2))
        model.add(layers.Conv2D(width, 3, padding="same", use_bias=False))
        model.add(layers.BatchNormalization())
        model.add(layers.Activation("relu"))
    model.add(layers.GlobalAveragePooling2D())
    model.add(layers.Dense(data.NUM_CLASSES, activation="softmax"))
    return model


print(f"small_cnn: {small_cnn().count_params():,} parameters "
      f"(chapter 4's network: {network.count_params():,})")

# %% [markdown]
# Six variants, each trained by the function below from **the same random seed** (same initial weights, same
# batch order), on **the same training faces**, for **the same budget**, then scored on **the same validation
# split** (10% of train, stratified, seed 42). The learning rate falls smoothly from 0.001 to 0 over the run
# (`CosineDecay`), so every variant ends settled, and the last epoch's model is scored: no epoch is picked on the
# validation split. Oversampling gets fewer epochs (section 3.7; the "faces seen" column).
#
# The variants: no weights; **no weights, another seed** (how much chance alone moves the figures); square-root
# weights; balanced weights; oversampling; augmentation with square-root weights (chapter 5's recipe).

# %%
import math


def train_variant(x, y, epochs, class_weight=None, augmentation=None, seed=session.seed):
    """Train a fresh small_cnn on (x, y) and return it with its training time in seconds."""
    keras.utils.set_random_seed(seed)
    net = small_cnn()
    trainer = net if augmentation is None else keras.Sequential([keras.Input((48, 48, 1)), augmentation, net])
    steps = epochs * math.ceil(len(y) / BATCH_SIZE)
    trainer.compile(optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(LEARNING_RATE, steps)),
                    loss="sparse_categorical_crossentropy")
    start = time.perf_counter()
    trainer.fit(data.as_model_input(x), y, epochs=epochs, batch_size=BATCH_SIZE, class_weight=class_weight, verbose=0)
    return net, time.perf_counter() - start


over_epochs = max(1, round(EPOCHS * len(y_sub) / len(y_over)))
VARIANTS = {  # name: (training faces, labels, epochs, class weights, augmentation, seed)
    "no weights": (x_sub, y_sub, EPOCHS, None, None, session.seed),
    "no weights, another seed": (x_sub, y_sub, EPOCHS, None, None, session.seed + 1),
    "sqrt weights": (x_sub, y_sub, EPOCHS, augment.class_weights(y_sub, 0.5), None, session.seed),
    "balanced weights": (x_sub, y_sub, EPOCHS, augment.class_weights(y_sub, 1.0), None, session.seed),
    "oversampling": (x_over, y_over, over_epochs, None, None, session.seed),
    "augmentation + sqrt weights": (x_sub, y_sub, EPOCHS, augment.class_weights(y_sub, 0.5),
                                    augment.augmentation_layers(**AUGMENTATION, seed=session.seed), session.seed),
}
print(f"training: {len(y_sub):,} faces ({len(y_over):,} when oversampled) | validation: {len(y_val):,} faces | "
      f"{EPOCHS} epochs per variant ({over_epochs} oversampled), batch {BATCH_SIZE}")

# %%
proba, rows = {}, {}
for name, (x_fit, y_fit, epochs, weights, augmentation, seed) in VARIANTS.items():
    net, seconds = train_variant(x_fit, y_fit, epochs, weights, augmentation, seed)
    proba[name] = evaluate.predict_proba(net, x_val)
    per_class = evaluate.per_class_table(y_val, proba[name])
    rows[name] = {"faces seen": epochs * len(y_fit), "minutes": seconds / 60, **evaluate.summary(y_val, proba[name]),
                  "disgust recall": per_class.loc["disgust", "recall"],
                  "disgust precision": per_class.loc["disgust", "precision"],
                  "predicted disgust": int((proba[name].argmax(axis=1) == 1).sum()),
                  "mean P(disgust) %": 100 * proba[name][:, 1].mean()}
    print(f"{name}: {seconds / 60:.1f} min, validation accuracy {rows[name]['accuracy']:.3f}")

# %% [markdown]
# The table, with a reference row: always answering *happy*. "predicted disgust" counts the faces
# called *disgust* (compare the real disgust faces printed above it); "mean P(disgust)" averages the
# probability of disgust over all validation faces (compare disgust's loss share in section 3.6).

# %%
always_happy = np.full_like(y_val, data.CLASS_NAMES.index("happy"))
reference = {"faces seen": 0, "minutes": 0.0, **evaluate.summary(y_val, always_happy), "disgust recall": 0.0,
             "disgust precision": 0.0, "predicted disgust": 0, "mean P(disgust) %": 0.0}
table = pd.DataFrame.from_dict({**rows, "reference: always 'happy'": reference}, orient="index").round(3)
n_disgust, n_happy = int((y_val == 1).sum()), int((y_val == data.CLASS_NAMES.index("happy")).sum())
print(f"validation ({session.mode} mode): {len(y_val):,} faces, {n_disgust} of them disgust and {n_happy} happy")
table

# %%
shown = table.drop(index="reference: always 'happy'")
fig, (ax_overall, ax_disgust, ax_count) = plt.subplots(1, 3, figsize=(13, 3.6), sharey=True)
shown[["accuracy", "macro_f1"]].plot.barh(ax=ax_overall)
ax_overall.axvline(table.loc["reference: always 'happy'", "accuracy"], color="gray", ls=":", label="always 'happy'")
ax_overall.set_title("all faces")
shown[["disgust recall", "disgust precision"]].plot.barh(ax=ax_disgust, color=["tab:red", "tab:purple"])
ax_disgust.set_title("disgust")
shown["predicted disgust"].plot.barh(ax=ax_count, color="tab:red")
ax_count.axvline(n_disgust, color="black", ls="--", label=f"real disgust faces ({n_disgust})")
ax_count.set_title("faces labelled 'disgust'")
for ax in (ax_overall, ax_disgust, ax_count):
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
ax_overall.invert_yaxis()
fig.suptitle(f"small CNN, {len(y_sub):,} training faces, {EPOCHS} epochs per variant; scored on "
             f"{len(y_val):,} validation faces ({session.mode} mode)")
fig.tight_layout()
plots.save_fig("03_comparison")
plt.show()

# %% [markdown]
# ## 3.9 Reading the table without over-reading it
#
# Before reading a difference, ask how large chance alone would make it. Four measures:
#
# - **The standard error of an accuracy.** Each of *n* faces is a yes-or-no trial that comes out right with
#   probability *p*, so an accuracy varies like the share of heads in *n* coin tosses: its standard error is about
#   $\sqrt{p(1-p)/n}$, and a measured accuracy lands within about two standard errors of the model's true one 19
#   times in 20. With *n* the number of disgust faces, the same formula gives the standard error of disgust
#   recall, and one disgust face moves that recall by 1/*n*.
# - **A paired test.** All variants are scored on the same faces, so we can count the faces that only one of two
#   models gets right; McNemar's test (`evaluate.paired_comparison`, chapter 7) says how likely a split at least
#   that lopsided is if the two models were equally good (the p-value: below 0.05, call it a difference).
# - **A paired bootstrap** (`evaluate.paired_bootstrap`) for figures that are not a count of right faces, like
#   macro-F1 and disgust recall: redraw the validation faces with replacement 2,000 times, score both models on
#   each draw, and keep the middle 95% of the differences. An interval that contains 0 is not a difference.
# - **A second seed**, the most direct: a variant that differs from "no weights" by no more than the two seeds
#   differ from each other has shown nothing.

# %%
p, n = float(table.loc["no weights", "accuracy"]), len(y_val)
recall = float(table.loc["balanced weights", "disgust recall"])
print(f"standard error of an accuracy near {p:.2f} on {n:,} faces: {100 * np.sqrt(p * (1 - p) / n):.1f} points")
print(f"standard error of a disgust recall near {recall:.2f} on {n_disgust} disgust faces: "
      f"{100 * np.sqrt(recall * (1 - recall) / max(n_disgust, 1)):.1f} points; one disgust face = "
      f"{100 / max(n_disgust, 1):.1f} points")
paired = {}
for name in proba:
    if name == "no weights":
        continue
    test = evaluate.paired_comparison(y_val, proba["no weights"], proba[name])
    row = {"accuracy change": table.loc[name, "accuracy"] - table.loc["no weights", "accuracy"],
           "right only with no weights": test["only_a"], "right only with this": test["only_b"],
           "McNemar p": test["p_value"]}
    for metric, label in (("macro_f1", "macro-F1"), ("recall_disgust", "disgust recall")):
        boot = evaluate.paired_bootstrap(y_val, proba["no weights"], proba[name], metric=metric)
        row[f"{label} change [95% interval]"] = f"{boot['difference']:+.3f} [{boot['low']:+.3f}, {boot['high']:+.3f}]"
    paired[name] = row
pd.DataFrame.from_dict(paired, orient="index").round({"accuracy change": 3, "McNemar p": 4})

# %% [markdown]
# What the tables show:
#
# - **Chance first.** The same recipe from another seed moved accuracy by 1.3 points (McNemar p = 0.09) and
#   macro-F1 by 0.011, and left disgust at zero: differences of that size are noise here.
# - **Class weights** did what section 3.6 says: disgust recall rose from 0 (no weights) to 0.341 (square root)
#   to 0.500 (balanced), the faces called disgust from 0 to 47 to 211 (44 real ones), the average belief in
#   disgust from 1.4% to 3.8% to 8.0%. The price is precision (0.319, then 0.104: balanced weights raise more
#   than eight false alarms for every disgust face they find) and accuracy. Square root weights cost 1.3 points of
#   accuracy (p = 0.04, but no more than a second seed moves it: unproven), and gained 0.040 macro-F1 (interval
#   +0.018 to +0.061): a real gain where it was wanted. Balanced weights cost 4.9 points (p < 0.0001) and gained no macro-F1 (-0.006,
#   interval -0.023 to +0.010): they overshoot.
# - **Oversampling** landed between the two weightings: disgust recall 0.432, 64 faces called disgust, precision
#   0.297, macro-F1 +0.036 (interval +0.013 to +0.057) for 2.3 points of accuracy (p = 0.004). Its copies are exact
#   repeats here (no augmentation), so a repeated disgust face can be learnt by heart.
# - **Augmentation** with square-root weights is the lowest row at this budget: accuracy 5.6 points down (p <
#   0.0001), macro-F1 -0.034, and disgust recall only 0.045 where square-root weights alone reached 0.341. Five
#   epochs are too few: a slightly different face every epoch is a harder task, and a regulariser pays only once
#   training is long enough for the network to run out of things to learn (untested here; in chapter 6 it wins
#   at 60 epochs).
# - **The combination** chapter 5 uses is chosen for its long run, not from this table: a comparison answers its
#   question at its own budget. What transfers is the direction of each effect (weights and oversampling buy
#   minority recall with precision and some accuracy; balanced weights buy too much), not the size.

# %% [markdown]
# ## Summary
#
# - Augmentation shows every training face with a small random change that keeps its label (mirror, never upside
#   down; a few degrees of rotation; a little zoom and shift; brightness and contrast): regularisation you can
#   look at.
# - Keras preprocessing layers are active only with `training=True`. In front of the model they run on the
#   accelerator under any backend; in `tf.data`, on the CPU in parallel.
# - FER2013 is unbalanced (16.5 happy faces per disgust face). Unweighted, a model learns to ignore disgust at a
#   cost of at most 1.5 points of accuracy: look at macro-F1 and per-class recall.
# - Class weights change the loss (inverse frequency = 'balanced'; the square root is gentler); oversampling
#   changes the data, with exact copies. Neither teaches anything new about the rare class: they move the
#   boundary (the toy's line) towards it, buying recall with false alarms.
# - Training in plain Keras is three calls: build, `compile(optimizer, loss)`, `fit(x, y, epochs, batch_size,
#   class_weight)`, the ideas of chapter 1b; chapter 5 takes them apart.
# - Measure remedies on the same data, seed, budget and validation split, and read each difference against its
#   noise: a second seed, McNemar's test for accuracy, a paired bootstrap for macro-F1 and recall. A few epochs of
#   a small network show early effects, not the end of a real run.
#
# ## Exercises
#
# Answers that can be checked have a line under the exercise (run `from fer_helpers import check` first).
#
# 1. Turn the knobs up: build the pipeline with `augment.augmentation_layers(rotation=0.25, zoom=0.4,
#    translation=0.3, brightness=0.5, contrast=0.5)` and show seven random draws of each of the four faces, as
#    in section 3.3. Which draws would you still label with the original emotion? What does this say about
#    choosing augmentation strengths?
# 2. Section 3.7 says that oversampling and `power=1` weights put the same total weight on every class. With the
#    gentler `power=0.5`, compute `count x weight` per class of FER2013's training split: how many times more
#    total weight does *happy* carry than *disgust* (16.5 times with no weights, once with `power=1`)? And in what
#    way do `power=1` weights and oversampling still differ during training?
#    - Check your answer: `check.exercise("3.2", happy_over_disgust)`.
# 3. Why are the validation and test faces never augmented, oversampled or weighted? What would an oversampled
#    validation split report instead of accuracy?
# 4. Move augmentation into a `tf.data` pipeline: build a dataset of the training subset (`x_sub`, `y_sub` of
#    section 3.7) that shuffles, batches and applies the augmentation with `map`, and check the shape and value
#    range of one batch. When would you prefer this to layers in front of the model?
# 5. Suppose one variant has *lower* accuracy but *higher* macro-F1 than the baseline. How can both happen at
#    once, and which would you report?

# %% [markdown] tags=["solution"]
# ## Solutions
#
# 1. Run the cell below. With a quarter turn, 40% zoom and 30% shifts, some draws cut off the mouth or the brows,
#    turn the face on its side, or wash it out to white or black: the label no longer describes the image, and
#    training on it teaches noise. Choose
#    strengths by looking at augmented faces and asking whether a person would still give the same label; then
#    confirm on the validation split.

# %% tags=["solution"]
strong = augment.augmentation_layers(rotation=0.25, zoom=0.4, translation=0.3, brightness=0.5, contrast=0.5,
                                     seed=session.seed)
rows = {name.split("/")[0]: (f, np.asarray(strong(np.repeat(batch[i:i + 1], DRAWS, axis=0), training=True)))
        for i, (name, f) in enumerate(zip(SHOWN, faces))}
show_rows(rows, "too strong: rotation 0.25, zoom 0.4, translation 0.3, brightness and contrast 0.5")
plt.show()

# %% [markdown] tags=["solution"]
# 2. With `power=0.5` each weight is proportional to 1 / sqrt(count), so `count x weight` grows as sqrt(count):
#    *happy* carries sqrt(7,215 / 436) = 4.07 times the total weight of *disgust*, a quarter of the imbalance
#    without weights (16.5) but not yet none. With `power=1`, `count x weight` is the same for every class
#    (28,709 / 7 = 4,101.3), and oversampling makes every class 7,215 faces: in both cases each class carries 1/7
#    of the loss. They differ in *how*: weights keep one pass over the data per epoch and make each disgust face
#    count about 9 times (a few faces, large pulls: noisier steps); oversampling keeps every face's pull at 1 but
#    shows each disgust face about 16.5 times per epoch, in a 76% longer epoch, as exact copies unless
#    augmentation is on.

# %% tags=["solution"]
w_half, w1 = augment.class_weights(fer_y, power=0.5), augment.class_weights(fer_y, power=1)
_, fer_y_over = augment.oversample(fer_y, fer_y)
totals = pd.DataFrame({"count x weight (power 0.5)": fer_counts * [w_half[i] for i in range(data.NUM_CLASSES)],
                       "count x weight (power 1)": fer_counts * [w1[i] for i in range(data.NUM_CLASSES)],
                       "faces after oversampling": data.class_counts(fer_y_over)})
print(f"power 0.5: happy / disgust total weight = {totals.iloc[:, 0]['happy'] / totals.iloc[:, 0]['disgust']:.2f}")
totals.round(1).T

# %% [markdown] tags=["solution"]
# 3. Validation and test must estimate how the model does on faces as they come, in the proportions they come:
#    augmenting them would measure something else (and make the figure random), weighting them would change what
#    the metric means. An oversampled validation split would count each disgust face about 16 times, so its
#    "accuracy" would approach the mean per-class recall (balanced accuracy), computed on repeats that are not
#    independent evidence. If you want a measure that treats classes equally, compute macro-F1 or balanced
#    accuracy on the plain split.
#
# 4. The cell below. `keras.layers.Pipeline` (unlike `Sequential`) stays compatible with `tf.data` under every
#    Keras backend. The input pipeline runs on the CPU, in parallel with the accelerator: prefer it when the
#    augmentation is expensive (large images, many transforms) and the GPU would otherwise wait for data, or when
#    other steps (decoding, resizing) already live in `tf.data`. For 48x48 faces, layers in front of the model are
#    simpler and fast enough.

# %% tags=["solution"]
import tensorflow as tf

cpu_pipeline = keras.layers.Pipeline(augment.augmentation_layers(**AUGMENTATION, seed=session.seed).layers)
dataset = (tf.data.Dataset.from_tensor_slices((data.as_model_input(x_sub), y_sub))
           .shuffle(len(y_sub), seed=session.seed)
           .batch(BATCH_SIZE)
           .map(lambda x, y: (cpu_pipeline(x, training=True), y), num_parallel_calls=tf.data.AUTOTUNE)
           .prefetch(tf.data.AUTOTUNE))
images, labels = next(iter(dataset))
print("batch:", tuple(images.shape), images.dtype.name, "| values", float(tf.reduce_min(images)), "..",
      float(tf.reduce_max(images)), "| labels", tuple(labels.shape))

# %% [markdown] tags=["solution"]
# 5. Accuracy counts faces, so it is dominated by the large classes; macro-F1 averages the seven per-class F1
#    scores, so each emotion counts equally. A balancing remedy typically trades a few correct *happy* or
#    *neutral* faces (many faces, small effect on their F1) for more correct *disgust* or *fear* faces (few faces,
#    large effect on their F1): accuracy can go down while macro-F1 goes up. Report both, with the per-class
#    table; which one to optimise depends on the use (an application where missing disgust is costly wants
#    macro-F1 or per-class recall).
