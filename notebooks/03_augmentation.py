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
# - run a small, fair comparison (same data, same seed, same budget) and read its table without over-reading it.
#
# | mode | comparison (section 3.8) | 2-core CPU | one GPU |
# |---|---|---|---|
# | quick (`FER_QUICK=1`, the default) | 71 training faces in FER2013's proportions; 14 validation faces on the committed sample, 140 (20 per class) with FER_DATA; 6 variants x 1 epoch | 50 s on the sample (measured) | < 1 min (estimated) |
# | full (`FER_QUICK=0`) | 3,979 faces in FER2013's proportions, 6 variants x 4 epochs | ~45 min (computed: 107,580 face-passes at the ~46 faces/s of chapter 5's full run, plus validation; a run stopped unfinished at 23 min) | a few minutes (estimated) |
#
# The full-mode figure is computed, not timed end to end: the comparison trains 107,580 face-passes, about 4.2
# epochs of the 25,838 faces chapter 5 trains on (3.7 of FER2013's whole training split), and chapter 5's full run trained at about 46 faces/s on an idle 2-core CPU
# (9-10 min an epoch), hence about 40 min of training plus validation. Section 3.9 prints an estimate from the
# throughput of the machine you run on.
#
# The outputs saved in this notebook come from the run named in the first output line below: a quick-mode run
# (the line names its data), so the comparison's figures in them are noise (section 3.8 says why), not a result.

# %%
# Setup: the same cell opens every chapter. On Colab or Kaggle it fetches the course (helpers + sample data);
# everywhere it makes `fer_helpers` importable and prints what this run is: mode, data, hardware, versions.
import os
import sys

if ("google.colab" in sys.modules or "kaggle_secrets" in sys.modules) and os.path.basename(os.getcwd()) != "notebooks":
    if not os.path.isdir("fer-course"):
        # !git clone --quiet --depth 1 --branch main https://github.com/fer-course/fer-course.git
        # %pip install --quiet -e fer-course
    os.chdir("fer-course/notebooks")
sys.path.insert(0, os.path.abspath(".."))  # the repository root: fer_helpers imports even without installing

from fer_helpers import course

session = course.start()

# %% tags=["parameters"]
# Parameters: quick mode is the default; FER_QUICK=0 in the environment selects full mode.
FULL_EPOCHS, FULL_LARGEST_CLASS = 4, 1000
EPOCHS = 1 if session.quick else FULL_EPOCHS                   # per variant of the comparison (section 3.8)
LARGEST_CLASS = 18 if session.quick else FULL_LARGEST_CLASS    # happy faces in the comparison's training subset;
                                                               # the other classes follow FER2013's proportions
BATCH_SIZE = 32 if session.quick else 64
VALIDATION_FRACTION = 0.1
QUICK_VAL_PER_CLASS = 20                                       # quick mode with the full dataset: validation faces
                                                               # per class (the sample has 2 per class anyway)
LEARNING_RATE = 1e-3
LABEL_SMOOTHING = 0.1
# Chapter 5's augmentation: mirror, +-10.8 degrees, +-10% zoom and shift, +-10% brightness and contrast.
AUGMENTATION = dict(flip=True, rotation=0.03, zoom=0.1, translation=0.1, brightness=0.1, contrast=0.1)
RUN_ROOT = course.RUNS_DIR / ("03_augmentation_quick" if session.quick else "03_augmentation")

# %% [markdown]
# ## 3.1 Why augment
#
# A CNN with millions of weights and a few tens of thousands of faces can **memorise** the training set: every
# face, with its lighting, framing and label noise. What we want it to learn instead is the expression. We know
# several things that do *not* change an expression:
#
# - **pose**: a head turned or tilted a little, a face mirrored left to right;
# - **framing**: the face detector that cut these 48x48 crops placed each face a bit differently (off-centre,
#   closer, further);
# - **light**: a brighter or darker photo, more or less contrast.
#
# Augmentation turns this knowledge into data: every time a face is shown during training, it is shown with a
# small random change of that kind, **with the same label**. The network never sees the exact same image twice,
# so memorising pixels stops paying, and features that survive the changes (the shape of the mouth, the brows)
# are what is left to learn. It is regularisation, like dropout, but expressed in terms a person can check:
# look at the augmented faces and ask "is this still the same emotion?".
#
# We illustrate every transform on the same faces from the committed sample (they are part of the repository,
# so this figure is the same in quick and full mode).

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
# Keras has one preprocessing **layer** per transform. Each draws new random parameters for every image of every
# batch. The row labels give the strengths chapter 5 trains with:
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
# **Why not vertical flips?** An upside-down face never occurs in the data nor at prediction time (the face
# detector only finds upright faces). Training on it would spend the network's capacity on a case that never
# comes, and a mouth at the top of the image is not a cue the model should have to learn to ignore. The row
# "vertical flip" is in the figure to be looked at, not used.
#
# Rotation, zoom and shift must invent pixels at the border. `fill_mode="nearest"` repeats the edge pixel (the
# smeared edges you see below); Keras's default, `"reflect"`, mirrors the image into the gap, which can paste
# half an extra eye or mouth next to the face.

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
# What to notice: the flip row shows either the face or its mirror image (the hair changes sides); the
# geometric rows move the face by a few pixels only, yet on a 48-pixel image that is the width of an eye; the
# brightness and contrast rows change no position at all (contrast at 10% is hard to see). In every draw the
# expression is still readable. Too strong a transform would break that promise: exercise 1 turns the knobs up.
#
# ## 3.3 The pipeline, and why it does nothing at prediction time
#
# `fer_helpers.augment.augmentation_layers` chains the six layers into one `keras.Sequential`. Every face in a
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
# Notice also that the combined draws are **softer** than the original: rotation, zoom and shift each resample
# the image with bilinear interpolation, which blurs a little. The network therefore trains on slightly blurred
# faces and is tested on sharp ones, one more reason to keep the strengths modest.
#
# Random preprocessing layers are active only when called with `training=True`. Keras sets that flag for you:
# `fit` calls the model with `training=True`, `predict` and `evaluate` with `training=False`, and then each of
# these layers returns its input unchanged. Validation and test faces are therefore seen **as they are**, and a
# prediction is repeatable. The check below holds on any backend. (Its first line, `# NBVAL_CHECK_OUTPUT`, and
# lines like `# NBVAL_IGNORE_OUTPUT` in later cells tell the course's automatic checks (nbval) whether a cell's
# output must be identical on every run; you can ignore them.)

# %%
# NBVAL_CHECK_OUTPUT
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
# - **In front of the model, as layers** (what this course does). `fer_helpers.train.fit` wraps the network as
#   `Sequential([Input, augmentation, model])` for training only. The transforms then run where the model runs:
#   on the GPU if there is one, batch by batch, under the TensorFlow, JAX or PyTorch backend alike (they are
#   plain Keras layers). The model we save is the bare network: nothing random is left in it at prediction time.
# - **In the input pipeline**, e.g. `tf.data.Dataset.map(...)`. The transforms then run on the CPU, in parallel
#   with the accelerator working on the previous batch. That pays off when the augmentation is expensive and the
#   GPU would otherwise wait; for 48x48 faces it rarely matters. Keras 3's preprocessing layers also work inside
#   `tf.data` under any backend (wrap them in `keras.layers.Pipeline`); exercise 4 does it.
#
# The cell below builds the training wrapper the way `train.fit` does, to show what the model sees.

# %%
# NBVAL_CHECK_OUTPUT
from fer_helpers import models

network = models.build_seed_cnn()
trainer = keras.Sequential([keras.Input(network.input_shape[1:]), pipeline, network], name="seed_cnn_training")
print("training wrapper:", [layer.name for layer in trainer.layers], f"{trainer.count_params():,} parameters")
print("saved model:     ", network.name, f"{network.count_params():,} parameters (augmentation adds none)")

# %% [markdown]
# ## 3.5 Class imbalance: the counts
#
# FER2013's training split, as published (these counts are fixed, so the table is the same in every mode):

# %%
# NBVAL_CHECK_OUTPUT
import pandas as pd

fer_counts = pd.Series(augment.FER2013_TRAIN_COUNTS, name="faces")
imbalance = pd.DataFrame({"faces": fer_counts, "share %": (100 * fer_counts / fer_counts.sum()).round(1)})
print(f"FER2013 Training: {fer_counts.sum():,} faces; happy / disgust = {fer_counts['happy'] / fer_counts['disgust']:.1f}")
imbalance.T

# %% [markdown]
# What does an unweighted model do with *disgust*? The usual loss, cross-entropy, is an **average over faces**:
# disgust faces make up 1.5% of its terms, so on average they steer only 1.5% of each gradient step. The model
# learns that saying "disgust" rarely pays: its probability for disgust stays low, it seldom wins the arg-max,
# and disgust **recall** (the share of the disgust faces that the model labels *disgust*) often ends up near
# zero. Accuracy barely notices: a model that never says "disgust" loses at most 1.5 points of accuracy. That is
# why every table in this course reports **macro-F1** (all seven emotions count equally) beside accuracy, and why
# we look at disgust recall on its own.
#
# The data of this run, split as in chapter 5. The committed sample is balanced on purpose (20 faces per class
# and split), so on it there is no imbalance to see and section 3.7 recreates FER2013's in miniature; with the
# full data, the training column shows FER2013's own. In quick mode with the full data, the validation split is cut
# to 20 faces per class, as chapter 6 does too, to keep the run short.

# %%
from fer_helpers import evaluate, train

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
# so that they average 1 over the training faces (the loss keeps its usual size, so the learning rate needs no
# change):
#
# - `power=0`: every weight is 1, no balancing;
# - `power=1`: **inverse frequency**. This is scikit-learn's `'balanced'` (`n_faces / (7 * n_class)`): each class
#   then contributes the same total to the loss, whatever its size;
# - `power=0.5`: the **square root**, a compromise. A disgust face then weighs about 4 happy faces instead of 16.5.
#
# Why not simply use 'balanced'? Because a weight of about 9 on each of 436 faces means a handful of (noisy,
# sometimes mislabelled) disgust faces pull as hard as thousands of happy ones: the gradient gets noisy, and
# the model is pushed to predict disgust for faces that are not. The square root gives the rare classes a voice
# without handing them the microphone. The last three columns show each class's share of the total loss weight.

# %%
# NBVAL_CHECK_OUTPUT
fer_y = np.repeat(np.arange(data.NUM_CLASSES), list(augment.FER2013_TRAIN_COUNTS.values()))
POWERS = {"none (power 0)": 0.0, "sqrt (power 0.5)": 0.5, "balanced (power 1)": 1.0}
weight_table = pd.DataFrame({name: [augment.class_weights(fer_y, p)[i] for i in range(data.NUM_CLASSES)]
                             for name, p in POWERS.items()}, index=data.CLASS_NAMES)
loss_share = weight_table.mul(fer_counts, axis=0)
loss_share = (100 * loss_share / loss_share.sum()).add_prefix("loss share % ")
pd.concat([weight_table.round(2), loss_share.round(1)], axis=1)

# %% [markdown]
# Notice how the loss shares go from the class sizes (power 0) to 1/7 = 14.3% each (power 1), with the square
# root in between. `power=1` is exactly scikit-learn's `'balanced'`:

# %%
# NBVAL_CHECK_OUTPUT
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
# faces of the smaller classes, drawn at random with replacement, until every class is as large as the largest.
# On average this puts the same total weight on each class as `power=1`, but it works differently:
#
# | | class weights | oversampling |
# |---|---|---|
# | what changes | the loss: each face counts `w` times | the data: rare faces appear several times per epoch |
# | faces per epoch | unchanged | larger (FER2013: 7 x 7,215 = 50,505 instead of 28,709) |
# | a rare face's pull on one step | up to ~9x a normal face (`power=1`) | 1x, but it comes back more often |
# | the copies | - | **exact repeats**; only augmentation makes them differ |
#
# Two consequences. Per epoch, oversampling does more gradient steps, so "the same number of epochs" is not the
# same amount of training: the comparison below reports the faces seen per epoch. And without augmentation the
# network sees the same 436 disgust images over and over, which invites memorising exactly those.
#
# The comparison of section 3.8 trains on a subset that keeps FER2013's proportions (on the balanced sample,
# `subset_with_proportions` recreates them in miniature). Here it is, before and after oversampling:

# %%
x_sub, y_sub = augment.subset_with_proportions(x_train, y_train, augment.FER2013_TRAIN_COUNTS, LARGEST_CLASS,
                                               seed=session.seed)
x_over, y_over = augment.oversample(x_sub, y_sub, seed=session.seed)
disgust_over = x_over[y_over == 1]
print(f"disgust after oversampling: {len(disgust_over)} faces, of which "
      f"{len(set(data.pixel_hashes(disgust_over)))} distinct images")
pd.DataFrame({"subset": data.class_counts(y_sub), "oversampled": data.class_counts(y_over)}).T

# %% [markdown]
# The copies of one disgust face, as the oversampled training set holds them (top), and as the network sees them
# once augmentation is switched on (bottom):

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
# ## 3.8 Measuring the effect on a small, fixed budget
#
# Claims about augmentation and balancing are cheap; measurements are better. Six variants, each trained with
# `fer_helpers.train.fit` on **the same subset** (above), for **the same number of epochs**, from **the same
# random seed** (same initial weights, same batch order), with the recipe chapter 5 trains with (Adam, cosine
# schedule, label smoothing 0.1), and evaluated on **the same validation split** (10% of train, stratified, seed
# 42; in quick mode with the full data, 20 faces per class of it). Each run keeps its best epoch by validation
# accuracy: the same rule for all six, slightly optimistic for all six.
#
# **What `train.fit` does here**, in one line per piece (chapter 4 builds the network; chapter 5, sections 5.4
# and 5.5, explains the recipe in full):
#
# - **cosine schedule**: the learning rate climbs during the first epoch (a warm-up), then falls along a cosine
#   curve to zero at the last step: big steps while the weights are far from good, small ones to settle (a
#   one-epoch quick run is almost all warm-up);
# - **label smoothing 0.1**: a face's target is 0.914 for its labelled emotion and 0.014 for each of the six
#   others instead of 1 and 0, so the model is not pushed to total certainty on FER2013's sometimes doubtful
#   labels;
# - **best epoch kept**: after every epoch it scores the validation faces, and on return the model holds the
#   weights of the epoch with the best validation accuracy (the line "best validation accuracy ... at epoch ..."
#   it prints), not those of the last epoch;
# - **run folders**: each variant writes its kept weights, a CSV log of its epochs and a backup to a folder of
#   its own under `runs/03_augmentation/` (`runs/03_augmentation_quick/` in quick mode), so an interrupted
#   full-mode run resumes where it stopped when the cell is rerun; quick runs start afresh every time.
#
# This is a **small fixed budget, not a converged comparison**: full mode trains each variant for 4 epochs on
# about 4,000 faces, where a real run uses 25,838 faces and tens of epochs. It shows what each remedy does early
# in training. In quick mode (71 training faces and 1 epoch; 14 validation faces on the committed sample, 140
# with the full data) the figures are **noise**: after one epoch on 71 faces a network usually answers the same
# class for every face, so the rows often come out identical and at the level of the reference row. The point
# there is that the code runs: run the chapter in full mode (about 45 minutes on a 2-core CPU) to read a real
# table. The committed outputs are quick mode.
#
# **In quick mode, training and validation do not have the same proportions.** The training subset keeps
# FER2013's (*happy* the largest class, *disgust* the smallest), but the validation faces are balanced: 2 per
# class on the committed sample, 20 per class with the full data. That lowers the floor set by the reference row
# of the table, a "model" that always answers *happy*: on a balanced split it is right on 1 face in 7 (14%
# accuracy, macro-F1 about 0.04), against about 1 in 4 (25%, macro-F1 about 0.06) on full mode's validation
# split, which keeps FER2013's proportions. It also means that a model which learnt from its training faces to
# favour the common classes is judged on faces where they are no more common than the rest, so quick-mode
# accuracies cannot be set beside full-mode ones. The reference row is always computed on the same faces as the
# variants, so beating it means the same thing in both modes; the cell that shows the table prints the share
# of *happy* faces in your validation split.

# %%
VARIANTS = {  # name: (augmentation?, class-weight power or None, oversample?)
    "baseline": (False, None, False),
    "augmentation": (True, None, False),
    "class weights sqrt": (False, 0.5, False),
    "class weights balanced": (False, 1.0, False),
    "oversampling": (False, None, True),
    "augmentation + sqrt weights": (True, 0.5, False),
}
print(f"training subset: {len(y_sub)} faces ({len(y_over)} when oversampled) | validation: {len(y_val)} faces | "
      f"{EPOCHS} epoch(s) per variant, batch {BATCH_SIZE}")

# %%
# NBVAL_IGNORE_OUTPUT
results, seconds, faces_seen = {}, {}, {}
for name, (use_augmentation, power, use_oversampling) in VARIANTS.items():
    keras.utils.set_random_seed(session.seed)  # same initial weights and batch order for every variant
    x_fit, y_fit = (x_over, y_over) if use_oversampling else (x_sub, y_sub)
    net = models.build_seed_cnn()
    history = train.fit(
        net, x_fit, y_fit, x_val, y_val, RUN_ROOT / name.replace(" ", "_").replace("+", "and"),
        epochs=EPOCHS, batch_size=BATCH_SIZE,
        augmentation=augment.augmentation_layers(**AUGMENTATION, seed=session.seed) if use_augmentation else None,
        class_weight=augment.class_weights(y_fit, power) if power is not None else None,
        learning_rate=LEARNING_RATE, label_smoothing=LABEL_SMOOTHING, verbose=0,
        fresh=session.quick)  # quick runs take seconds: start over rather than resume one made with other data
    proba = evaluate.predict_proba(net, x_val)
    per_class = evaluate.per_class_table(y_val, proba)
    results[name] = {"faces per epoch": len(y_fit), **evaluate.summary(y_val, proba),
                     "disgust recall": per_class.loc["disgust", "recall"],
                     "predicted disgust": int((proba.argmax(axis=1) == 1).sum())}
    seconds[name], faces_seen[name] = float(history["seconds"].sum()), len(y_fit) * len(history)

# %% [markdown]
# The table, with one reference row that needs no training: a "model" that always answers *happy*, the largest
# class. A variant that does not clearly beat it on macro-F1 has not learned much yet.

# %%
# NBVAL_IGNORE_OUTPUT
always_happy = np.full_like(y_val, data.CLASS_NAMES.index("happy"))
reference = {"faces per epoch": 0, **evaluate.summary(y_val, always_happy), "disgust recall": 0.0,
             "predicted disgust": 0}
table = pd.DataFrame({**results, "reference: always 'happy'": reference}).T
table = table.astype({"faces per epoch": int, "predicted disgust": int}).round(3)
n_happy = int((y_val == data.CLASS_NAMES.index("happy")).sum())
print(f"validation: {len(y_val)} faces, {int((y_val == 1).sum())} of them disgust and {n_happy} happy "
      f"({n_happy / len(y_val):.0%}, the accuracy of always 'happy'; {session.mode} mode)")
table

# %%
# NBVAL_IGNORE_OUTPUT
ax = table[["accuracy", "macro_f1", "disgust recall"]].plot.barh(figsize=(8, 4.2))
ax.invert_yaxis()
ax.set_xlim(0, 1)
ax.set_xlabel("on the validation split")
ax.set_title(f"{EPOCHS} epoch(s) per variant on {len(y_sub)} faces ({session.mode} mode): a small budget")
ax.grid(axis="x", alpha=0.3)
ax.figure.tight_layout()
plots.save_fig("03_comparison")
plt.show()

# %% [markdown]
# ## 3.9 Reading the table without over-reading it
#
# What to look for, whatever your numbers are:
#
# - **How much is noise?** An accuracy *p* measured on *n* faces has a **standard error** of about
#   $\sqrt{p(1-p)/n}$: each face is a yes-or-no trial that comes out right with probability *p*, so the number of
#   right answers varies like the number of heads in *n* tosses of a coin that lands heads with probability *p*,
#   and an accuracy measured on *n* faces lands within about two standard errors of the model's true accuracy 19
#   times in 20. The cell below prints it for this validation split, and what a single disgust face is worth in
#   disgust recall. Differences smaller than about two standard errors, or than two or three disgust faces, are
#   within what another seed could change.
# - **Class weights** should move recall from the large classes to the small ones: expect disgust recall and
#   "predicted disgust" to rise from the baseline to sqrt to balanced, and accuracy to pay for it, or not. If
#   "predicted disgust" shoots far above the number of disgust faces, the recall was bought with false alarms:
#   low disgust **precision** (the share of the faces labelled *disgust* that really are disgust faces).
#   Macro-F1 counts both sides.
# - **Oversampling** aims at the same balance as 'balanced' weights, with more steps per epoch (the "faces per
#   epoch" column): if it does better, ask whether the extra steps, not the balancing, did it.
# - **Augmentation** makes training harder: it is a regulariser, and it pays when training is long enough for
#   the plain model to start memorising. On a budget of a few epochs it can tie with or trail the baseline; that
#   says nothing about a 60-epoch run (chapter 6 measures augmentation against overfitting).
# - **The combination** (augmentation + sqrt weights) is what chapter 5 trains with. This table checks that it is
#   not harmful early on; the case for it rests on long runs, where the baseline overfits and disgust matters.

# %%
# NBVAL_IGNORE_OUTPUT
p = float(table.loc["baseline", "accuracy"])
n_disgust = max(int((y_val == 1).sum()), 1)
print(f"standard error of an accuracy near {p:.2f} on {len(y_val)} faces: {100 * np.sqrt(p * (1 - p) / len(y_val)):.1f} points")
print(f"one disgust face in validation = {100 / n_disgust:.1f} points of disgust recall")

# %% [markdown]
# And what the comparison cost. The measured seconds are this run's. The estimate for full mode uses a
# steady-state training throughput (the seed CNN, two batches of 64 timed just below, without the start-up that
# dominates a one-epoch quick run) and leaves out validation and augmentation, so read it as a rough guide, and
# only on a machine that is not busy with something else: on a CPU shared with a training job the same cell
# measured 8 faces/s and printed 224 min. An earlier guess of 15-25 minutes proved low: a full-mode run on an
# idle machine had not finished after 23 minutes.

# %%
# NBVAL_IGNORE_OUTPUT
import time

probe = models.build_seed_cnn()
probe.compile(optimizer="adam", loss="categorical_crossentropy")
probe_x = data.as_model_input(np.resize(x_sub, (64, 48, 48)))
probe_y = keras.utils.to_categorical(np.resize(y_sub, 64), data.NUM_CLASSES)
probe.train_on_batch(probe_x, probe_y)  # the first step compiles the graph: not timed
start = time.perf_counter()
for _ in range(2):
    probe.train_on_batch(probe_x, probe_y)
per_face = (time.perf_counter() - start) / (2 * 64)

_, y_full_subset = augment.subset_with_proportions(fer_y, fer_y, augment.FER2013_TRAIN_COUNTS, FULL_LARGEST_CLASS)
full_faces = FULL_EPOCHS * sum(FULL_LARGEST_CLASS * data.NUM_CLASSES if over else len(y_full_subset)
                               for _, _, over in VARIANTS.values())
timing = pd.DataFrame({"seconds": seconds, "faces trained": faces_seen}).round(1)
print(f"this run ({session.mode} mode): {sum(seconds.values()):.0f} s of training for {sum(faces_seen.values())} "
      f"face-passes (epoch times include start-up and validation)")
print(f"steady-state training throughput on this machine: {1 / per_face:.0f} faces/s")
print(f"full mode ({FULL_EPOCHS} epochs, subset of {len(y_full_subset)} faces): {full_faces:,} face-passes "
      f"-> about {full_faces * per_face / 60:.0f} min of training, plus validation")
timing.T

# %% [markdown]
# ## Summary
#
# - Augmentation shows every training face with a small random change that keeps its label: mirror (never
#   upside down), a few degrees of rotation, a little zoom and shift, brightness and contrast. It is
#   regularisation you can look at.
# - The Keras preprocessing layers are active only with `training=True`; at prediction they return the input
#   unchanged. Put in front of the model, they run on the accelerator under any backend; in `tf.data` they run on
#   the CPU, in parallel.
# - FER2013 is unbalanced (16.5 happy faces per disgust face). Unweighted, a model learns to ignore disgust at a
#   cost of at most 1.5 points of accuracy: look at macro-F1 and per-class recall.
# - Class weights change the loss (inverse frequency = 'balanced'; the square root is a gentler compromise);
#   oversampling changes the data seen per epoch, with exact copies that only augmentation makes different.
# - Measure remedies on the same subset, seed, budget and validation split, and read differences against the
#   noise level. A few epochs show early effects, not the end of a real run.
#
# ## Exercises
#
# Answers that can be checked have a line under the exercise (run `from fer_helpers import check` first).
#
# 1. Turn the knobs up: build the pipeline with `augment.augmentation_layers(rotation=0.25, zoom=0.4,
#    translation=0.3, brightness=0.5, contrast=0.5)` and show seven random draws of each of the four faces, as
#    in section 3.3. Which draws would you still label with the original emotion? What does this say about
#    choosing augmentation strengths?
# 2. Show numerically that oversampling to the largest class and `power=1` weights put the same total weight on
#    every class of FER2013's training split (compute `count x weight` per class, and the class sizes after
#    oversampling). In what way do the two still differ during training?
#    - Check your answer: `check.exercise("3.2", (count_times_weight, faces_per_class))`, two numbers (each is
#      the same for all seven classes).
# 3. Why are the validation and test faces never augmented, oversampled or weighted? What would an oversampled
#    validation split report instead of accuracy?
# 4. Move augmentation into a `tf.data` pipeline: build a dataset of the training subset (`x_sub`, `y_sub` of
#    section 3.7) that shuffles, batches and applies the augmentation with `map`, and check the shape and value
#    range of one batch. When would you
#    prefer this to layers in front of the model?
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
# 2. With `power=1`, `count x weight` is the same for every class (28,709 / 7 = 4,101.3), and oversampling makes
#    every class 7,215 faces: in both cases each class carries 1/7 of the loss. They differ in *how*: weights
#    keep one pass over the data per epoch and make each disgust face count about 9 times (a few faces, large
#    pulls: noisier steps); oversampling keeps every face's pull at 1 but shows each disgust face about 16.5
#    times per epoch, in a 76% longer epoch, as exact copies unless augmentation is on.

# %% tags=["solution"]
w1 = augment.class_weights(fer_y, power=1)
_, fer_y_over = augment.oversample(fer_y, fer_y)
pd.DataFrame({"count x weight (power 1)": fer_counts * [w1[i] for i in range(data.NUM_CLASSES)],
              "faces after oversampling": data.class_counts(fer_y_over)}).round(1).T

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
