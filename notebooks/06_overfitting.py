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
# # 6. Overfitting: measuring the gap, and what dropout and augmentation buy
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/fer-course/fer-course/blob/main/notebooks/06_overfitting.ipynb)
# [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/fer-course/fer-course/main?labpath=notebooks%2F06_overfitting.ipynb)
#
# A network with four million weights can learn the faces it is shown by heart instead of learning what an
# expression looks like. This chapter measures that, with experiments designed so that the numbers mean
# something: one model family, one data subset, one seed, one change at a time. By the end of it you will be
# able to:
#
# - say what overfitting is and measure it as the gap between training and validation accuracy, with both
#   sides measured the same way;
# - run a controlled experiment on regularisation (none, dropout, augmentation, both) and read its curves;
# - show how the gap grows when the training set shrinks;
# - take apart an inflated accuracy: the original project's "84%", which pooled training and test images.
#
# | mode | data | 2-core CPU | one GPU |
# |---|---|---|---|
# | quick (`FER_QUICK=1`, the default) | the committed sample: 126 training and 14 validation faces; with FER_DATA, 50 training and 20 validation faces per class (350 and 140); 6 runs of 2 epochs | 75 s on the sample, 3.1 min with FER_DATA (measured; it reads all of FER2013 first) | < 1 min (estimated) |
# | full (`FER_QUICK=0`) | at most 1,000 training faces per class (6,392), the whole validation split (2,871); 6 runs of 12 epochs | ~3 h (computed: 72 epochs of 6,392 faces at the ~46 faces/s of chapter 5's full run, plus validation), resumable | 5-10 min (estimated) |
#
# Quick mode was measured on the committed sample under `pytest --nbval-lax` on an idle 2-core CPU (75 s,
# 2026-11-29); quick mode with FER_DATA took 3.1 min (2026-11-30, `jupyter nbconvert --execute`). The full-mode
# figures are computed: chapter 5's full epoch (25,838 training and 2,871 validation faces) took 9-10 min on the same idle CPU (a
# GPU needs an estimated 10-20 s); one epoch here trains on a quarter as many faces (6,392) and validates on the
# same 2,871, about 0.27 of that cost, and the chapter runs 72 such epochs (6 runs x 12) plus a few minutes of
# scoring.
#
# The outputs saved in this notebook come from the run named in the first output line below. **In quick mode
# the numbers are noise**, whichever data it reads. On the committed sample the runs train on 126 faces and
# validate on 14, so a validation accuracy moves in steps of 7 points (one face); with FER_DATA they train on 350
# faces and validate on 140, one face being 0.7 points. Either way, two epochs barely move a network away from
# chance. Section 6.3 prints what one validation face is worth in your run. The prose says what a full run is
# expected to show, and says so where the quick-mode outputs cannot show it. The committed outputs are a
# quick-mode run (its first line names the data): full mode takes about three hours of this CPU, and has not been
# committed.

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
EPOCHS = 2 if session.quick else 12          # the same for every run of the chapter
BATCH_SIZE = 32 if session.quick else 64
PER_CLASS = 1000                             # full mode: the experiment's training subset, at most this many per class
QUICK_PER_CLASS = 50                         # quick mode with the full dataset: training faces per class
QUICK_VAL_PER_CLASS = 20                     # quick mode with the full dataset: validation faces per class
QUICK_SCORE_PER_CLASS = 100                  # quick mode with the full dataset: faces per class scored in 6.8
VALIDATION_FRACTION = 0.1                    # carved out of train, stratified, seed 42 (as in chapter 5)
LEARNING_RATE = 1e-3
FRACTIONS = (0.1, 0.3, 1.0)                  # section 6.7: shares of the training subset
AUGMENTATION = dict(flip=True, rotation=0.03, zoom=0.1, translation=0.1, brightness=0.1, contrast=0.1)
SUFFIX = "_quick" if session.quick else ""   # quick and full runs live in different run folders

# %% [markdown]
# ## 6.1 What overfitting is
#
# A model **overfits** when it fits the particular examples it was trained on better than the population they
# were drawn from: it has learnt their noise along with their signal. We cannot see the population, but we can
# hold some of it back. The **gap** between the score on the training examples and the score on held-back
# examples (our validation split) is the measure of overfitting; a model whose two scores agree has learnt only
# what carries over to new faces.
#
# The idea in its smallest form: twelve noisy points from a sine curve, fitted with polynomials of growing
# degree, and scored on 200 other points from the same curve.

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from fer_helpers import plots

rng = np.random.default_rng(0)
t_fit, t_held = np.sort(rng.uniform(0, 1, 12)), rng.uniform(0, 1, 200)
y_fit_toy = np.sin(2 * np.pi * t_fit) + rng.normal(0, 0.25, t_fit.size)
y_held_toy = np.sin(2 * np.pi * t_held) + rng.normal(0, 0.25, t_held.size)
grid = np.linspace(0, 1, 300)
fig, axes = plt.subplots(1, 3, figsize=(11, 3), sharey=True)
rows = []
for ax, degree in zip(axes, (1, 3, 11)):
    poly = np.polynomial.Polynomial.fit(t_fit, y_fit_toy, degree)
    mse_fit = np.mean((poly(t_fit) - y_fit_toy) ** 2)
    mse_held = np.mean((poly(t_held) - y_held_toy) ** 2)
    rows.append({"degree": degree, "squared error, 12 fitted points": mse_fit, "squared error, 200 held-back points": mse_held})
    ax.plot(t_held, y_held_toy, ".", color="0.75", ms=3, label="held back")
    ax.plot(t_fit, y_fit_toy, "o", color="C0", label="fitted")
    ax.plot(grid, poly(grid), color="C3", label=f"degree {degree}")
    ax.set_ylim(-2, 2)
    ax.set_title(f"degree {degree}: fit {mse_fit:.2f}, held back {mse_held:.2f}", fontsize=10)
axes[0].legend(fontsize=8, loc="lower left")
plots.save_fig("06_polynomial")
plt.show()
pd.DataFrame(rows).set_index("degree").round(3)

# %% [markdown]
# Degree 1 **underfits**: it is wrong on both sets. Degree 3 has the shape of the truth. Degree 11 has as many
# coefficients as there are points, passes through every one of them (error near zero), and swings wildly in
# between: the lowest training error and the worst held-back error. More capacity than data is the recipe for
# overfitting, and judged by its training error alone, degree 11 would win.
#
# ## 6.2 Why the original CNN needed dropout
#
# The original project's network (chapter 4) has about 4.2 million weights for 25,838 training faces: some 160
# adjustable numbers per face. Like the degree-11 polynomial, it has room to memorise every face, label noise
# included (Zhang et al., ICLR 2017, showed that standard image CNNs fit even randomly relabelled CIFAR-10
# training images perfectly). The original project fought this with **dropout** after every block (0.4 after each
# convolution block, 0.4 and 0.3 after the dense layers).
#
# Dropout, during training only, sets each activation to zero with probability *p* and multiplies the survivors
# by 1/(1-*p*), so their expected sum is unchanged. Every batch trains a different random thinned network; no
# unit can count on a particular partner being present, so the network cannot store a face in one fragile
# combination of units. At prediction time nothing is dropped. Here is a Keras `Dropout(0.4)` layer on a vector
# of ones. (Comment lines such as `# NBVAL_CHECK_OUTPUT` or `# NBVAL_IGNORE_OUTPUT` at the top of a cell tell the
# course's automatic checks (nbval) whether the cell's output must come out identical on every run; you can
# ignore them.)

# %%
# NBVAL_CHECK_OUTPUT
import keras

ones = np.ones((1, 1000), dtype="float32")
dropout = keras.layers.Dropout(0.4, seed=0)
during_training = np.asarray(dropout(ones, training=True))
at_prediction = np.asarray(dropout(ones, training=False))
print("values during training:", sorted({round(float(v), 4) for v in during_training.ravel()}), "(0, or 1/0.6)")
print("at prediction the layer passes its input unchanged:", bool(np.array_equal(at_prediction, ones)))

# %% [markdown]
# The share of zeros is about 40% on each call (a different 40% each time). Dropout has no weights of its own:
# the network with and without it has the same parameter count, so the comparison below changes the training
# and nothing else.

# %%
# NBVAL_CHECK_OUTPUT
from fer_helpers import models


def build_variant(dropout: bool):
    """The original CNN (chapter 4); without dropout if ``dropout`` is False."""
    if dropout:
        return models.build_seed_cnn()
    return models.build_seed_cnn(conv_dropout=0, dense_dropout=(0, 0), name="seed_cnn_no_dropout")


for flag in (False, True):
    net = build_variant(flag)
    n_dropout = sum(type(layer).__name__ == "Dropout" for layer in net.layers)
    print(f"{net.name:20s} {net.count_params():,} parameters, {n_dropout} dropout layers")

# %% [markdown]
# ## 6.3 One experiment, one change at a time
#
# To learn what dropout and augmentation *do*, everything else must stay fixed. The four variants differ only
# in the two switches:
#
# | variant | dropout (0.4 / 0.4, 0.3) | augmentation (mirror, rotate, zoom, shift, brightness, contrast) |
# |---|---|---|
# | (a) no regularisation | off | off |
# | (b) dropout only: the original | on | off |
# | (c) augmentation only | off | on |
# | (d) dropout + augmentation | on | on |
#
# and share everything else: the same training subset and validation split, the same starting weights, the
# same seed for shuffling and augmentation, the same epochs, optimizer, learning-rate schedule and class
# weights (chapter 5's recipe). Label smoothing, which chapter 5 uses, is switched off here: it is a
# regulariser too, and would blur the comparison.
#
# In full mode the training subset is at most 1,000 faces per class (all 392 *disgust* faces, 1,000 of every
# other emotion): big enough for real curves, small enough for six runs. The validation split is chapter 5's
# (10% of train, stratified, seed 42). In quick mode the runs train on at most 50 faces per class (on the
# committed sample, the 18 per class its training part holds) and, with FER_DATA, validate on 20 faces per class
# of that split. The cell prints what one validation face is worth in accuracy. The test split is not used
# until section 6.8.

# %%
from fer_helpers import augment, data

train_split = data.load_split(session.data, "train")
x_train, x_val, y_train, y_val = data.train_val_split(train_split.x, train_split.y, VALIDATION_FRACTION, seed=42)
x_fit, y_fit = data.per_class_subset(x_train, y_train, QUICK_PER_CLASS if session.quick else PER_CLASS)
if session.quick and session.data_source != "sample":
    x_val, y_val = data.per_class_subset(x_val, y_val, QUICK_VAL_PER_CLASS)
CLASS_WEIGHTS = augment.class_weights(y_fit, power=0.5)
print(f"validation: {len(y_val):,} faces, so one face is worth {100 / len(y_val):.2g} points of validation accuracy")
pd.DataFrame({"training subset": data.class_counts(y_fit), "validation": data.class_counts(y_val)}).T

# %% [markdown]
# Every run starts from the same weights: we draw them once and copy them into each new network (the dropout
# layers hold no weights, so the same list fits all four variants). We reseed before each run, so that the batch
# shuffles start from the same state, and give the augmentation layers a seed of their own (`seed=session.seed`,
# as in chapter 3), so that (c) and (d) see the same transformed faces. Without it, each augmentation layer
# would take its seed from Python's random generator, which the dropout layers of (d), built just before, have
# already drawn from: (c) and (d) would then differ in their augmentations as well as in dropout.

# %%
from fer_helpers import course, evaluate, train

course.seed_everything(session.seed)
INITIAL_WEIGHTS = build_variant(dropout=False).get_weights()


def run(name: str, dropout: bool, augmented: bool, x, y):
    """Train one variant from INITIAL_WEIGHTS into runs/06_<name>; returns the model (best weights) and history."""
    course.seed_everything(session.seed)
    model = build_variant(dropout)
    model.set_weights(INITIAL_WEIGHTS)
    augmentation = augment.augmentation_layers(**AUGMENTATION, seed=session.seed) if augmented else None
    history = train.fit(model, x, y, x_val, y_val, course.RUNS_DIR / f"06_{name}{SUFFIX}", epochs=EPOCHS,
                        batch_size=BATCH_SIZE, augmentation=augmentation, class_weight=CLASS_WEIGHTS,
                        learning_rate=LEARNING_RATE, label_smoothing=0.0, verbose=0,
                        fresh=session.quick)  # quick runs take seconds: start over, full runs resume
    print(f"  {name}: {len(history)} epochs of {len(y)} examples in {history['seconds'].sum() / 60:.1f} min")
    return model, history


# %% [markdown]
# ## 6.4 Training the four variants
#
# Each run lives in its own folder (`runs/06_none`, `runs/06_dropout`, ...; `_quick` appended in quick mode)
# with chapter 5's callbacks: the best-on-validation weights, a CSV log, and `BackupAndRestore`. A finished run
# is not trained again, and an interrupted one resumes: in full mode on a CPU (about three hours for the six runs
# of this chapter, see the timing table) you can stop the kernel and rerun the cell later.

# %%
# NBVAL_IGNORE_OUTPUT
VARIANTS = {  # run name: (label, dropout, augmentation)
    "none": ("(a) no regularisation", False, False),
    "dropout": ("(b) dropout (the original)", True, False),
    "augment": ("(c) augmentation only", False, True),
    "dropout_augment": ("(d) dropout + augmentation", True, True),
}
trained, histories = {}, {}
for name, (label, use_dropout, use_augmentation) in VARIANTS.items():
    trained[name], histories[name] = run(name, use_dropout, use_augmentation, x_fit, y_fit)

# %% [markdown]
# ## 6.5 Reading the curves
#
# One column per variant, the same axes everywhere; the shaded band is the gap between training and validation.
# What to look for in a full run (12 epochs on up to 1,000 faces per class). These are the pictures to expect,
# not this notebook's outputs: full mode has not been committed, and in quick mode the curves cannot show them,
# since after two epochs every variant is still near chance and the bands, a few points wide, are noise.
#
# - **(a) no regularisation**: training accuracy races ahead and training loss heads for zero, while validation
#   accuracy stalls. The validation *loss* typically bottoms out after a few epochs and then **rises**: the model
#   grows more and more confident, including on the validation faces it gets wrong. That rise is the clearest
#   sign of memorising.
# - **(b) dropout** and **(c) augmentation** slow the training curves down and keep the band narrower; they
#   attack the same problem from two sides (a thinned network, a changing face).
# - **(d) both**: the logged training accuracy may sit *below* validation. That is not underfitting: see 6.6.

# %%
# NBVAL_IGNORE_OUTPUT
fig = plots.plot_histories({VARIANTS[name][0]: h for name, h in histories.items()},
                           title=f"one network, four trainings: same {len(y_fit)} faces, same starting weights "
                                 f"({session.mode} mode)")
plots.save_fig("06_curves")
plt.show()

# %% [markdown]
# ## 6.6 The gap, measured honestly
#
# The training accuracy Keras logs is **not** comparable with the validation accuracy when dropout or
# augmentation is on: it is measured on the thinned network and on transformed faces, averaged over an epoch
# during which the weights kept changing, while validation uses the whole network on untouched faces. So the
# table measures the gap two ways:
#
# - **logged**: training minus validation accuracy as Keras logged them, at the last epoch ("end") and at the
#   epoch whose weights were kept (the best validation epoch, "kept");
# - **clean**: the kept weights score their own training faces exactly as they score the validation faces: in
#   prediction mode, untransformed ("train acc, kept (clean)"). Same weights, same epoch as "gap, kept (logged)",
#   measured fairly: "gap, kept (clean)" is the gap that measures overfitting.
#
# Beside them: the best validation accuracy (which chose the kept weights) and the validation macro-F1 of those
# weights, because accuracy alone hides the rare emotions.

# %%
def gap_row(model, history, x_seen, y_seen) -> dict:
    """The overfitting figures of one run (``model`` holds its kept weights): logged and clean gaps, macro-F1."""
    last, kept = history.iloc[-1], history.loc[history["val_accuracy"].idxmax()]
    clean_train = evaluate.summary(y_seen, evaluate.predict_proba(model, x_seen))
    val = evaluate.summary(y_val, evaluate.predict_proba(model, x_val))
    return {"train acc, end (logged)": last["accuracy"],
            "gap, end (logged)": last["accuracy"] - last["val_accuracy"],
            "kept epoch": int(kept["epoch"]),
            "best val acc": kept["val_accuracy"],
            "train acc, kept (clean)": clean_train["accuracy"],
            "gap, kept (logged)": kept["accuracy"] - kept["val_accuracy"],
            "gap, kept (clean)": clean_train["accuracy"] - val["accuracy"],
            "val macro-F1, kept": val["macro_f1"]}


# %%
# NBVAL_IGNORE_OUTPUT
gaps = pd.DataFrame({VARIANTS[name][0]: gap_row(trained[name], histories[name], x_fit, y_fit)
                     for name in VARIANTS}).T
gaps["kept epoch"] = gaps["kept epoch"].astype(int)
gaps.round(3)

# %% [markdown]
# What to look for in a full run (again what to expect, since full mode's outputs are not committed). In quick
# mode the table cannot show it: the kept weights have barely left chance level, every gap is within a few
# points of zero (a handful of faces), and rows may even coincide. There the table shows how the gaps are
# computed, not how the variants compare.
#
# - **Logged against clean, at the kept epoch**: for (a) the two should roughly agree (nothing handicaps its
#   training pass); for (b), (c) and (d) the clean gap should be larger, because the logged training figure is
#   handicapped. A negative logged gap with a positive clean gap is the usual picture of a regularised model.
# - **The clean gap across variants**: expect it to be largest for (a) and to shrink with each regulariser.
# - **End against kept**: for (a), a gap at the end much larger than at the kept epoch means training went on
#   memorising after validation stopped improving; the kept weights are the ones from before.
#
# A regulariser earns its place if it narrows the gap **and** keeps or raises the validation figures; one that
# narrows the gap only by lowering the training score has made the model weaker, not better. A full run that
# ranks the variants differently from these expectations is a result, not a mistake, if the differences are
# larger than the noise: on full mode's 2,871 validation faces the standard error of an accuracy near 0.5 is
# about one point (chapter 3, section 3.9, explains the formula). In quick mode, rank nothing.
#
# ## 6.7 Less data, bigger gap
#
# Memorising 600 faces is easier than memorising 6,000. We train the original (variant b, dropout) on 10%, 30%
# and 100% of the training subset; each smaller set is a stratified part of the next larger one, so only the
# amount of data changes.
#
# One trap: with the same number of *epochs*, a run on 10% of the data makes a tenth of the weight updates and
# simply stops early, undertrained. So each small set is **repeated** until it is as long as the full subset:
# every run makes the same number of updates and is validated at the same points.

# %%
import math


def stratified_fraction(y, fraction: float, seed: int = 0) -> np.ndarray:
    """Indices of ``fraction`` of each class (at least one face); with one seed, a smaller fraction is a subset
    of a larger one."""
    rng = np.random.default_rng(seed)
    keep = []
    for label in range(data.NUM_CLASSES):
        members = rng.permutation(np.flatnonzero(y == label))
        keep.extend(members[:max(1, math.ceil(fraction * len(members)))] if len(members) else [])
    return np.sort(np.asarray(keep, dtype=np.int64))


# %%
# NBVAL_CHECK_OUTPUT
# The helper on a synthetic label vector: 100 labels of each class; fractions nest, classes keep their share.
y_demo = np.repeat(np.arange(data.NUM_CLASSES), 100)
parts = {f: stratified_fraction(y_demo, f) for f in FRACTIONS}
print({f: len(idx) for f, idx in parts.items()}, "| per class at 10%:", np.bincount(y_demo[parts[0.1]]).tolist())
print("10% inside 30% inside 100%:", set(parts[0.1]) <= set(parts[0.3]) <= set(parts[1.0]))

# %%
# NBVAL_IGNORE_OUTPUT
small_rows = {}
for fraction in FRACTIONS:
    keep = stratified_fraction(y_fit, fraction)
    if fraction == 1.0:   # the 100% run is variant (b) from 6.4: no need to train it twice
        model, history = trained["dropout"], histories["dropout"]
    else:
        repeat = keep[np.resize(np.arange(len(keep)), len(y_fit))]   # the small set, cycled to full length
        model, history = run(f"dropout_data{round(fraction * 100)}", True, False, x_fit[repeat], y_fit[repeat])
    row = gap_row(model, history, x_fit[keep], y_fit[keep])
    small_rows[fraction] = {"training faces": len(keep), **row}
small = pd.DataFrame(small_rows).T.rename_axis("fraction")
small["training faces"] = small["training faces"].astype(int)
small[["training faces", "train acc, kept (clean)", "best val acc", "gap, kept (clean)",
       "val macro-F1, kept"]].round(3)

# %%
# NBVAL_IGNORE_OUTPUT
fig, ax = plt.subplots(figsize=(6, 3.6))
n_faces = small["training faces"].astype(int)
train_acc, val_acc = small["train acc, kept (clean)"], small["best val acc"]
ax.plot(n_faces, train_acc, "o-", label="training faces (clean)")
ax.plot(n_faces, val_acc, "s-", label="validation")
ax.fill_between(n_faces, train_acc, val_acc, color="0.5", alpha=0.15, label="gap")
for n, top, bottom in zip(n_faces, train_acc, val_acc):
    ax.annotate(f"gap {round(top - bottom, 2) + 0.0:+.2f}", (n, max(top, bottom)), ha="center", fontsize=8, xytext=(0, 6),
                textcoords="offset points")
ax.set_xscale("log")
ax.set_xticks(n_faces, [f"{n:,}\n({f:.0%})" for n, f in zip(n_faces, small.index)])
ax.minorticks_off()
ax.margins(x=0.12)
ax.set_xlabel("training faces (share of the subset)")
ax.set_ylabel("accuracy")
ax.set_ylim(0, 1.1)
ax.set_title(f"original CNN (dropout), same number of updates ({session.mode} mode)")
ax.grid(alpha=0.3)
ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
plots.save_fig("06_small_data")
plt.show()

# %% [markdown]
# What to look for in a full run: with less data the training faces are fitted at least as well (fewer to
# memorise, seen more often) while validation accuracy falls, so the gap opens from right to left. Dropout does
# not prevent this; it only slows it down. In quick mode the three runs are still near chance and the figure
# shows no gap to speak of. This is the learning-curve view of the whole chapter: more (or more varied)
# data is the most reliable regulariser there is, and augmentation is a cheap imitation of it.
#
# ## 6.8 The original's "84%", reproduced as a lesson
#
# The original student project reported an accuracy of 84%. It was measured on the training and test images
# **pooled together**. On FER2013 the training split is 28,709 faces and PublicTest 3,435, so in such a pool
# nearly nine faces in ten are faces the model was trained on:

# %%
# NBVAL_CHECK_OUTPUT
n_train_fer, n_public_test = 28_709, 3_435
print(f"share of the pooled images seen in training: {n_train_fer:,} / {n_train_fer + n_public_test:,} = "
      f"{n_train_fer / (n_train_fer + n_public_test):.1%}")

# %% [markdown]
# A pooled accuracy is the weighted mean of its two parts, so with nine faces in ten from training it is mostly
# the *training* accuracy. Whether that flatters the model depends on the model. One that **overfits**, like the
# original project's, scores its training faces well above new ones, and the pool carries that lead into the
# reported figure. A model that scores its training faces no better than new ones gains nothing from the pool
# (whose figure is still not a measure of new faces).
#
# We reproduce the mistake with two models of the two kinds:
#
# - **the course model** (`models.course_model()`: chapter 5's full run if this machine has one, else the bundled
#   reference model `seed`, both trained on the 90% of train that chapter 5's split keeps). The bundled `seed`
#   fits its training faces little better than new ones: it stopped at 52 of its 60 planned epochs, having
#   trained with chapter 5's augmentation (the mirror, small rotations, zooms and shifts, brightness and
#   contrast), dropout and label smoothing, and at its kept
#   epoch its logged training accuracy was well below its validation accuracy (its model card and log:
#   `fer_helpers/weights/seed.md`, `seed.history.csv`). It has little or no lead on its training faces for the
#   pool to carry, so expect its (i), (ii) and (iii) to lie close together, in every mode. (A chapter 5 run of
#   your own that trained longer may have a larger lead.)
# - **variant (a)**, trained without any regulariser: the overfitting kind, once it has trained long enough.
#   That is full mode, where its training faces should score far above new ones (section 6.6) and its pooled
#   figure should sit clearly above its test figure. In quick mode (a) is still near chance and shows no
#   inflation either.
#
# Each is scored on four sets:
#
# 1. **its own training images**;
# 2. **training + test pooled**: the original's figure;
# 3. **the test split alone**: the figure that counts;
# 4. **the test split without duplicates of its training images**: FER2013 contains test images that are
#    byte-identical to training images (with the full data, 240 of PublicTest's 3,435 have a twin in the training
#    split). A model can only remember the ones it trained on, so each model's duplicates are looked up among its
#    own training images: the 90% of train for the course model, the training subset of 6.3 for (a).
#
# In full mode set 1 is all the images each model trained on. In quick mode with FER_DATA, the course model's
# set 1 is a part of them (at most 100 per class, as for the test faces), while its duplicate check still looks
# through all of them. On the committed sample, the course model's set 1 is the sample's 140 training faces:
# they were drawn from FER2013's training split, so the model trained on about nine in ten of them (the others
# fell into its validation split); its duplicate check can only compare against those 140 faces and finds few
# or none. This is the first time the chapter reads the test split.

# %%
# NBVAL_IGNORE_OUTPUT
test_split = data.load_split(session.data, "test")
x_test, y_test = test_split.x, test_split.y
if session.data_source == "sample":
    x_course_trained = train_split.x                 # the sample's training faces: most were in its training
    x_seen, y_seen = train_split.x, train_split.y
    test_name = "test (the committed sample)"
else:
    x_course_trained = x_train                       # exactly the images the course model was trained on
    x_seen, y_seen = x_train, y_train
    test_name = "test (PublicTest)"
    if session.quick:
        x_seen, y_seen = data.per_class_subset(x_seen, y_seen, QUICK_SCORE_PER_CLASS)
        x_test, y_test = data.per_class_subset(x_test, y_test, QUICK_SCORE_PER_CLASS)
        test_name = f"test (a {len(y_test):,}-face subset of PublicTest, at most {QUICK_SCORE_PER_CLASS} per class)"
print(f"{test_name}: {len(y_test):,} faces")
contenders = {  # name: (model, training images scored in (i), their labels, all the images it was trained on)
    "course model": (models.course_model(), x_seen, y_seen, x_course_trained),
    "(a) no regularisation": (trained["none"], x_fit, y_fit, x_fit),
}

# %% [markdown]
# For each model, what its pool is made of, and how many test faces have a byte-identical twin among the images
# it trained on:

# %%
# NBVAL_IGNORE_OUTPUT
duplicate, seen_share = {}, {}
for who, (_, _, y_own, x_trained_on) in contenders.items():
    duplicate[who] = data.duplicates_of(x_test, x_trained_on)
    seen_share[who] = len(y_own) / (len(y_own) + len(y_test))
    print(f"{who}: pool of {len(y_own):,} training + {len(y_test):,} test faces = {seen_share[who]:.0%} training "
          f"faces; test faces byte-identical to one of its {len(x_trained_on):,} training faces: "
          f"{duplicate[who].sum()}")

# %%
# NBVAL_IGNORE_OUTPUT
rows = []
for who, (net, x_own, y_own, _) in contenders.items():
    proba_own, proba_test = evaluate.predict_proba(net, x_own), evaluate.predict_proba(net, x_test)
    new = ~duplicate[who]
    scored = {
        "(i) its training images": (y_own, proba_own),
        "(ii) train + test pooled (the original's figure)": (np.concatenate([y_own, y_test]),
                                                              np.concatenate([proba_own, proba_test])),
        f"(iii) {test_name}": (y_test, proba_test),
        "(iv) test without duplicates of its training images": (y_test[new], proba_test[new]),
    }
    for what, (y, p) in scored.items():
        rows.append({"model": who, "scored on": what, "faces": len(y), **evaluate.summary(y, p)})
leak = pd.DataFrame(rows).set_index(["model", "scored on"])
leak.round(4)

# %%
# NBVAL_IGNORE_OUTPUT
fig, axes = plt.subplots(1, len(contenders), figsize=(12, 3.4), sharey=True)
for ax, who in zip(axes, contenders):
    part = leak.loc[who, ["accuracy", "macro_f1"]].rename(columns={"macro_f1": "macro-F1"})
    part.plot.barh(ax=ax, legend=ax is axes[-1])
    for container in ax.containers:
        ax.bar_label(container, fmt="%.3f", fontsize=8, padding=2)
    ax.set_xlim(0, 1.12)
    ax.set_xlabel("score")
    ax.set_ylabel("")
    ax.set_title(f"{who}: pool {seen_share[who]:.0%} training faces", fontsize=10)
    ax.grid(axis="x", alpha=0.3)
axes[0].invert_yaxis()
axes[-1].legend(loc="lower right", fontsize=8)
fig.suptitle(f"each model scored four ways ({session.mode} mode, data: {session.data_source})")
fig.tight_layout()
plots.save_fig("06_leak")
plt.show()

# %% [markdown]
# Why (ii) is inflated, in one line of arithmetic: the pooled accuracy is the training accuracy and the test
# accuracy weighted by their shares of the pool. The cell below checks it on the numbers above.

# %%
# NBVAL_IGNORE_OUTPUT
for who, share in seen_share.items():
    acc = leak.loc[who, "accuracy"]
    print(f"{who}: {share:.3f} x {acc.iloc[0]:.4f} (training) + {1 - share:.3f} x {acc.iloc[2]:.4f} (test) "
          f"= {share * acc.iloc[0] + (1 - share) * acc.iloc[2]:.4f}; pooled accuracy {acc.iloc[1]:.4f}")

# %% [markdown]
# What to read in the table:
#
# - The pooled figure (ii) always lies between (i) and (iii), and the larger the share of training faces in the
#   pool, the closer it is to (i). In the original's pool that share was 89%: its "84%" described mostly how
#   well the network had learnt its own training faces.
# - Pooling flatters a model by its lead on its training faces, (i) minus (iii), times their share of the pool.
#   The more a model overfits, the larger that lead. The course model has little or none, so its pooled figure
#   lies close to its test figure, above or below it: here the mistake costs almost nothing, which is how it
#   goes unnoticed until a model overfits. The case that shows it is variant (a) in full mode; a model that
#   memorised its training set perfectly would score close to 90% on the original's pool whatever it did on new
#   faces.
# - (iii) and (iv) are the only figures measured on the test split, the faces kept apart from training; (iv) is
#   (iii) without the few test faces that are copies of training faces. (iii) is the one to report, with its
#   name, because it is the split others report on too; (iv) is its check, leaving out the test faces the model
#   may simply remember. If (iv) is clearly below (iii), the duplicates were helping and (iv) is
#   the better estimate for genuinely new faces: report it beside (iii). Where few or no duplicates are found
#   (on the sample, and for (a), which trained on only part of train) the two rows coincide or nearly so.
# - Macro-F1 beside accuracy: if the gap between (i) and (iii) is larger for macro-F1, the rare classes are
#   memorised more than they are learnt.
#
# ## Summary
#
# - Overfitting is fitting the training examples better than new ones; the train-validation gap measures it,
#   provided both sides are measured the same way (prediction mode, untransformed faces, the same weights).
# - The logged training accuracy of a model with dropout or augmentation is handicapped and understates the gap.
# - A fair comparison changes one thing at a time: same model family, data, starting weights, seed, epochs.
#   Dropout and augmentation are expected to narrow the gap, and are worth keeping when validation figures
#   hold or rise; less data is expected to open it, even with dropout. The committed quick-mode runs (a few
#   faces, one or two epochs, every model at chance) cannot show either: full mode (~3 h) measures them.
# - More, or more varied, data is the best regulariser.
# - A figure measured on training images, alone or pooled with test images, says little about new faces. The
#   original's "84%" was such a figure; the test split alone, named, is the number to report.
#
# ## Exercises
#
# Answers that can be checked have a line under the exercise (run `from fer_helpers import check` first).
#
# 1. In your table, the logged training accuracy of variant (d) may be below its validation accuracy. Is (d)
#    underfitting? Which column answers the question, and why?
# 2. Plot the logged gap (training minus validation accuracy, as Keras logged them) against the epoch for all
#    four variants on one axis, and mark each variant's clean gap at its kept epoch. Section 6.6 says the logged
#    gap is biased for (b), (c) and (d): in which direction? Can the logged curves alone tell you which variant
#    overfits least?
# 3. Section 6.7 repeats the small training sets until they are as long as the full subset. What would the
#    learning curve show if the 10% run were instead trained for the same number of epochs on its 10%?
# 4. The original reported 84% on a pool that was 89.3% training images (28,709 of 32,144). Which training
#    accuracies are compatible with that figure, and what test accuracy does each imply? What can you conclude
#    about the original model's test accuracy from "84%" alone?
#    - Check your answer: `check.exercise("6.4", (lowest, highest))`, the training accuracies at the two
#      ends of the compatible range.
# 5. The table's "best val acc" is the maximum over epochs of the validation accuracy. Is it a fair estimate of
#    the model's accuracy on new faces? When is the difference largest?
#    - Check your answer: `check.exercise("6.5", "yes")` or `check.exercise("6.5", "no")`.

# %% [markdown] tags=["solution"]
# ## Solutions
#
# 1. The logged column cannot answer it: it is measured with dropout active, on augmented faces, and averaged
#    over an epoch of changing weights. The columns "train acc, kept (clean)" and "gap, kept (clean)" can: if the
#    clean training accuracy is above the validation accuracy, the model fits its training faces better than new
#    ones (a positive clean gap), so it is not underfitting in the sense of failing to fit the training data;
#    whether more capacity or more epochs would help is a question for the validation curve (still rising at the
#    last epoch?). In quick mode the clean training accuracy is itself near chance, and there the answer is yes:
#    two epochs have not fitted even the training faces.
# 2. See the cell below. The logged gap *understates* the overfitting of (b), (c) and (d): their logged training
#    accuracy is measured with dropout active or on augmented faces, below what the same weights score on their
#    training faces as they are. Their curves sit low partly because of how they are measured, so the logged
#    curves alone cannot rank the variants. The clean gaps (the stars, measured the same way for all four) can;
#    the distance between a variant's curve and its star at the kept epoch is the size of its handicap. In a full
#    run, expect (a)'s clean gap to be the largest; in quick mode two epochs decide nothing.
# 3. The 10% run would make a tenth of the weight updates: its training accuracy would stay low, the gap would
#    look *small*, and the curve would suggest that less data overfits less, the opposite of the truth. It would
#    measure undertraining, not the effect of data.
# 4. With training accuracy *a*, the pooled 84% implies test accuracy *t* = (0.84 - 0.893 *a*) / 0.107. Test
#    accuracy between 0 and 1 needs *a* between about 82% and 94%, and over that narrow range *t* sweeps from
#    100% down to 0% (cell below). So "84%" pins down the training accuracy and says next to nothing about
#    accuracy on new faces.
# 5. It is optimistic: picking the best of many epochs on the same validation faces fits the choice to those
#    faces' noise, a small case of the overfitting this chapter is about. The bias is largest with a small
#    validation split and many epochs or settings tried. In quick mode the split is 14 faces on the sample (one
#    face is 7 points) or 140 with FER_DATA (0.7 points); section 6.3 prints the figure for your run. The test
#    split, read once, gives the unbiased figure.

# %% tags=["solution"]
# Solution to exercise 2: the logged gap per epoch (lines) and the clean gap of the kept weights (stars).
fig, ax = plt.subplots(figsize=(6, 3.4))
for name, history in histories.items():
    label = VARIANTS[name][0]
    line, = ax.plot(history["epoch"], history["accuracy"] - history["val_accuracy"], "o-", ms=3, label=label)
    ax.plot(gaps.loc[label, "kept epoch"], gaps.loc[label, "gap, kept (clean)"], "*", ms=12, color=line.get_color())
ax.plot([], [], "*", ms=12, color="0.3", label="clean gap, kept epoch")   # one legend entry for the stars
ax.axhline(0, color="0.4", lw=0.8)
ax.set_xlabel("epoch")
ax.set_ylabel("train - validation accuracy")
ax.grid(alpha=0.3)
ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
plt.show()

# %% tags=["solution"]
# Solution to exercise 4: which test accuracy a pooled 84% implies, for a range of training accuracies.
share = 28_709 / (28_709 + 3_435)
for a in (0.80, 0.82, 0.85, 0.88, 0.90, 0.92, 0.94, 0.96):
    t = (0.84 - share * a) / (1 - share)
    print(f"training accuracy {a:.0%} -> test accuracy {t:6.1%}" + ("   (impossible)" if not 0 <= t <= 1 else ""))
