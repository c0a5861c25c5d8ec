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
# # 7. Evaluating a model honestly: beyond one accuracy figure
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/fer-course/fer-course/blob/main/notebooks/07_evaluation.ipynb)
# [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/fer-course/fer-course/main?labpath=notebooks%2F07_evaluation.ipynb)
#
# Chapter 5 trained a model and printed one line per split: accuracy and macro-F1. This chapter takes that
# model apart as an examiner would. Nothing is trained here, so every figure below is cheap to recompute.
# By the end of this chapter you will be able to:
#
# - say why accuracy misleads on an imbalanced dataset, and beat a majority-class baseline on the figure that
#   matters (macro-F1);
# - derive precision, recall and F1 of one class from a confusion matrix, read a row-normalised confusion
#   matrix, and name FER2013's hard pairs of emotions;
# - audit a model's most confident mistakes, measure its calibration (reliability diagram, ECE) and fix it with
#   a temperature fitted on validation;
# - report test-time augmentation and FER2013's train/test copies (exact and near) *beside* the plain figure, in
#   one table that names its split;
# - put a second model beside the first on the same faces: per-class recall side by side, and McNemar's paired
#   test for whether the difference is more than luck.
#
# | mode | data | 2-core CPU | one GPU |
# |---|---|---|---|
# | quick (`FER_QUICK=1`, the default) | the committed sample (140 test faces), or at most 600 faces per split | 44 s (measured on 2 cores shared with a training job; 10 s on an idle machine before section 7.11 was added) | < 1 min (estimated) |
# | full (`FER_QUICK=0`) | chapter 5's validation split (2,871 faces) and PublicTest (3,435 faces) | 3.5 min (measured on 2 cores shared with a training job and another chapter's run; 88 s on an idle machine before section 7.11 was added) | < 1 min (estimated) |
#
# The outputs saved in this notebook come from the run named in the first output line below.

# %%
# Setup: the same cell opens every chapter. On Colab or Kaggle it fetches the course (helpers + sample data);
# everywhere it makes `fer_helpers` importable and prints what this run is: mode, data, host, hardware, versions.
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
VALIDATION_FRACTION = 0.1                           # the same stratified, seeded cut as chapter 5
MAX_FACES = 600 if session.quick else None          # quick mode with the full dataset: at most this many per split
CALIBRATION_BINS = 15                               # confidence bins of the reliability diagram and of ECE
GALLERY_SIZE = 12                                   # how many confident mistakes to show
NEAR_MAX_BITS = 12                                  # near copies: 16x16 average hashes this close (chapter 2)

# %% [markdown]
# ## 7.1 One fixed model, two splits
#
# The model is chapter 5's: its own full run, if this machine has one (in `runs/05_training/`), or else the
# bundled model `seed`, the same architecture and recipe trained on the same faces. The bundled `seed` stopped
# at 52 of its 60 planned epochs (the rest would have run at a learning rate below 5e-5, where validation had
# been flat), so a finished run of your own may score a little differently; the methods do not change. The
# cell below says which model this run uses and, from its card, how many epochs it was trained. Either way the model is **fixed**: nothing in this chapter changes its weights.
#
# We examine this model, not the course's best, because its mistakes are plentiful and easy to see, and every
# method below works the same on any model. Section 7.11 then scores the course's best model, `best`, the same
# way on the same faces, beside it.

# %%
# NBVAL_IGNORE_OUTPUT
from fer_helpers import models

model = models.course_model()  # says which model; for the bundled one, its card's summary (epochs run of planned)

# %% [markdown]
# It is measured on two splits, and they are not equally trustworthy:
#
# - **validation**: the 10% of `train` that chapter 5 carved out with `seed=42` (the same cut here). It chose
#   the epoch whose weights were kept, and it holds copies of faces the model trained on (section 7.9), so its
#   figure is somewhat optimistic. In this chapter it has one more job: the only thing we fit, a *temperature*
#   in section 7.7, is fitted on it.
# - **test**: never used to choose anything, so its figure estimates how the model does on new faces. We read
#   it now for reporting only. Every analysis below runs on it, and none of them feeds back into the model.
#
# In quick mode on the committed sample the "validation" split is 14 faces of the sample's `train` folder:
# FER2013 training faces, 13 of which lie in the part of `train` the course model learned from. Quick-mode
# validation figures show the mechanics, not a measurement.

# %%
import time

import numpy as np
import pandas as pd

from fer_helpers import data, evaluate


def at_most(x, y, n, seed=0):
    """A random subset of at most n faces (class shares kept on average): quick mode on the full dataset only."""
    if n is None or len(y) <= n:
        return x, y, ""
    keep = np.sort(np.random.default_rng(seed).choice(len(y), size=n, replace=False))
    return x[keep], y[keep], f", {n} random faces"


train_split = data.load_split(session.data, "train")
x_train_all, y_train_all = train_split.x, train_split.y
x_train, x_val, y_train, y_val = data.train_val_split(x_train_all, y_train_all, VALIDATION_FRACTION, seed=42)
x_val, y_val, val_note = at_most(x_val, y_val, MAX_FACES)
test_split = data.load_split(session.data, "test")
x_test, y_test, test_note = at_most(test_split.x, test_split.y, MAX_FACES)

val_name = f"validation (10% of train{val_note})"
test_name = ("test (PublicTest" if session.data_source != "sample" else "test (the committed sample") + test_note + ")"
print(f"{val_name}: {len(y_val)} faces | {test_name}: {len(y_test)} faces")

# %% [markdown]
# We predict each split once and keep the probabilities: every figure in this chapter is computed from these
# arrays, so nothing below needs the model again until section 7.8. We time the test prediction to price
# test-time augmentation later.

# %%
# NBVAL_IGNORE_OUTPUT
val_proba = evaluate.predict_proba(model, x_val)       # the first call also builds the prediction graph
start = time.perf_counter()
test_proba = evaluate.predict_proba(model, x_test)
plain_seconds = time.perf_counter() - start
test_pred = test_proba.argmax(axis=1)
print(f"probabilities: validation {val_proba.shape}, test {test_proba.shape}; "
      f"test prediction took {plain_seconds:.2f} s ({1000 * plain_seconds / len(y_test):.1f} ms per face)")

# %% [markdown]
# ## 7.2 Accuracy, and why it is not enough
#
# Accuracy is the share of faces whose emotion the model gets right. It treats every *face* equally, so on an
# imbalanced dataset it is mostly a statement about the big classes. In our copy of PublicTest, 895 of the 3,435
# faces are *happy* (26%) and 56 are *disgust* (1.6%): a model could ignore disgust completely and lose at most
# 1.6 points of accuracy.
#
# The first thing to compare any model with is a **baseline** that does not look at the face: always answer
# the most frequent emotion of the *training* split (chosen on train, like everything else). A model that does
# not beat it clearly has learned nothing worth reporting.

# %%
pd.DataFrame({"train (90%)": data.class_counts(y_train), "validation": data.class_counts(y_val),
              test_name: data.class_counts(y_test)})

# %%
# NBVAL_IGNORE_OUTPUT
train_counts = np.bincount(y_train, minlength=data.NUM_CLASSES)
majority = int(train_counts.argmax())
baseline_pred = np.full(len(y_test), majority)
print(f"majority class of train: {data.CLASS_NAMES[majority]} ({train_counts[majority]} of {len(y_train)} faces"
      f"{'; a tie: every class has as many' if train_counts.min() == train_counts.max() else ''})")
pd.DataFrame({"always " + data.CLASS_NAMES[majority]: evaluate.summary(y_test, baseline_pred),
              "the model": evaluate.summary(y_test, test_proba)}).T.round(3).rename_axis(test_name)

# %% [markdown]
# What to notice:
#
# - The baseline's **accuracy** is the majority class's share of the test split. On the full PublicTest that
#   is *happy*'s 26%; on the committed sample every class has 20 faces, so it is 1/7 (14%).
# - Its **macro-F1** is tiny whatever its accuracy: only one class gets a non-zero F1, and macro-F1 divides by
#   seven. Macro-F1 is the figure a majority-class trick cannot inflate, which is why this course always prints it
#   beside accuracy.
#
# ## 7.3 Precision, recall and F1 of one class, by hand
#
# All per-class figures come from the **confusion matrix** `C`: row *i* counts the faces whose true emotion is
# *i*, column *j* those the model called *j*. For one class *c*:
#
# - **true positives** `TP = C[c, c]`: faces of *c* called *c*;
# - **false negatives** `FN` = the rest of row *c*: faces of *c* the model missed;
# - **false positives** `FP` = the rest of column *c*: other faces the model wrongly called *c*.
#
# **Precision** `TP / (TP + FP)` answers "when the model says *c*, how often is it right?"; **recall**
# `TP / (TP + FN)` answers "of the faces of *c*, how many does it find?". **F1**, their harmonic mean
# `2PR / (P + R)`, is high only when both are: a model that says *fear* for every face has recall 1 on fear and
# an F1 dragged down by its precision. Here is *fear*, by hand:

# %%
# NBVAL_IGNORE_OUTPUT
cm = evaluate.confusion(y_test, test_proba)
c = data.CLASS_NAMES.index("fear")
tp = cm[c, c]
fn = cm[c, :].sum() - tp
fp = cm[:, c].sum() - tp
precision = tp / max(tp + fp, 1)
recall = tp / max(tp + fn, 1)
f1 = 2 * precision * recall / max(precision + recall, 1e-12)
print(f"fear: TP {tp}, FN {fn}, FP {fp} -> precision {precision:.3f}, recall {recall:.3f}, F1 {f1:.3f}")
helper = evaluate.per_class_table(y_test, test_proba).loc["fear"]
print("evaluate.per_class_table agrees:",
      np.allclose([precision, recall, f1], helper[["precision", "recall", "f1"]], atol=5e-4))

# %% [markdown]
# scikit-learn's `classification_report` prints the same figures for every class, with three summary rows:
# accuracy, the **macro** average (each class counts 1/7) and the **weighted** average (each class counts by
# its *support*, its number of true faces).

# %%
# NBVAL_IGNORE_OUTPUT
from sklearn.metrics import classification_report, f1_score

print(classification_report(y_test, test_pred, labels=list(range(data.NUM_CLASSES)),
                            target_names=data.CLASS_NAMES, digits=3, zero_division=0))

# %% [markdown]
# What to look for: a class with high recall and low precision is one the model says too often (it is a
# "default answer" for doubtful faces); low recall and high precision is one it says rarely but rightly. On
# FER2013 models tend to find *happy* and *surprise* best: they are the most distinctive expressions (a smile;
# raised brows with an open mouth), and *happy* is also the most plentiful. A support of a few dozen faces makes a
# class's figures noisy: one face more or less moves them by several points.
#
# ## 7.4 Macro-F1 or weighted-F1?
#
# The weighted average follows the big classes, so it stays close to accuracy and hides the small ones. An
# example with FER2013's training counts: a model that is perfect on six emotions but calls every *disgust* face
# *angry*.

# %%
# NBVAL_CHECK_OUTPUT
counts = [3995, 436, 4097, 7215, 4965, 4830, 3171]          # FER2013 train, in CLASS_NAMES order
toy_true = np.repeat(np.arange(data.NUM_CLASSES), counts)
toy_pred = np.where(toy_true == 1, 0, toy_true)           # disgust (1) -> angry (0); everything else right
print(f"accuracy    {np.mean(toy_true == toy_pred):.4f}")
print(f"weighted-F1 {f1_score(toy_true, toy_pred, average='weighted'):.4f}")
print(f"macro-F1    {f1_score(toy_true, toy_pred, average='macro'):.4f}")

# %% [markdown]
# A whole emotion is missing from the model's vocabulary and weighted-F1 barely moves; macro-F1 drops by a
# seventh. That is what we want from a headline figure for a seven-emotion recogniser, so macro-F1 is the one
# this course reports. For the model:

# %%
# NBVAL_IGNORE_OUTPUT
print(f"{test_name}: accuracy {np.mean(test_pred == y_test):.3f} | "
      f"weighted-F1 {f1_score(y_test, test_pred, average='weighted', zero_division=0):.3f} | "
      f"macro-F1 {evaluate.summary(y_test, test_proba)['macro_f1']:.3f}")

# %% [markdown]
# ## 7.5 The confusion matrix
#
# Counts show where the faces are; the **row-normalised** matrix (each row divided by its total) shows what
# happens to each emotion: its diagonal is the recall, and the rest of its row says what that emotion is
# mistaken for. Read rows, not columns.

# %%
import matplotlib.pyplot as plt

from fer_helpers import plots

fig, axes = plt.subplots(1, 2, figsize=(12.5, 5.2))
plots.plot_confusion(cm, title=f"{test_name}: counts", ax=axes[0])
plots.plot_confusion(evaluate.confusion(y_test, test_proba, normalise=True), normalise=True,
                     title=f"{test_name}: row-normalised (diagonal = recall)", ax=axes[1])
plots.save_fig("07_confusion")
plt.show()

# %% [markdown]
# The largest off-diagonal cells, as a list:

# %%
# NBVAL_IGNORE_OUTPUT
rates = evaluate.confusion(y_test, test_proba, normalise=True)
pairs = [(data.CLASS_NAMES[i], data.CLASS_NAMES[j], cm[i, j], rates[i, j])
         for i in range(data.NUM_CLASSES) for j in range(data.NUM_CLASSES) if i != j and cm[i, j] > 0]
(pd.DataFrame(pairs, columns=["true", "called", "faces", "share of the true class"])
 .sort_values("share of the true class", ascending=False).head(8).round(3).reset_index(drop=True))

# %% [markdown]
# What the typical FER2013 confusions mean (check which of them your matrix shows):
#
# - **fear and surprise**: both raise the brows and widen the eyes, often with an open mouth; what tells them
#   apart (the brows pulled together in fear, the lips stretched) is a few pixels at 48x48.
# - **fear, sad and angry**: lowered or drawn-together brows and tense lips are shared by all three "negative"
#   emotions, and a mild one often looks like the others.
# - **sad and neutral**: a low-intensity sad face *is* almost neutral; many FER2013 faces are posed weakly.
# - **disgust into angry**: disgust has only 392 training faces here (436 in all of train), and its wrinkled
#   nose and lowered brows overlap with anger.
#
# These confusions are not only the model's: human annotators disagree on the same pairs, which is why human
# accuracy on FER2013 is only about 65±5% (Goodfellow et al. 2013, their figure).
#
# ## 7.6 The most confident mistakes
#
# The errors a model is *surest* about are the most instructive: either a systematic blind spot, or a label that
# is itself wrong. Looking at them is the cheapest audit of a dataset there is.

# %%
# NBVAL_IGNORE_OUTPUT
worst = evaluate.most_confident_mistakes(y_test, test_proba, k=GALLERY_SIZE)
plots.plot_mistakes(x_test, y_test, test_proba, worst, columns=6,
                    suptitle=f"the {len(worst)} most confident mistakes on {test_name}")
plots.save_fig("07_mistakes")
plt.show()

# %% [markdown]
# What to look for: faces whose label you would dispute yourself (label noise: FER2013's labels come from the
# web-search keywords that found each image, checked by human labellers (Goodfellow et al. 2013), and not every
# one survives a second look), faces hidden behind hands, glasses or text, drawings and non-faces, and expressions so
# faint that any label is a guess. A handful of such faces is normal for FER2013, and no model can be "right" on
# them.
#
# One warning: it is tempting to fix the test labels you disagree with. Doing so *after seeing the model's
# predictions* moves the test figure towards the model. If you relabel, relabel without looking at
# predictions, and report both figures.
#
# ## 7.7 Calibration: does 80% confident mean 80% right?
#
# A prediction comes with a confidence, its top probability. Anything built on top of the model (abstain when
# unsure, ask a human, combine with another signal) trusts that number. A model is **calibrated** when, among
# the faces it gives 80% confidence, about 80% are right.
#
# A **reliability diagram** checks that: group the predictions into confidence bins and plot each bin's
# accuracy against its confidence. The **expected calibration error** summarises it: the gap between accuracy
# and confidence in each bin, weighted by the bin's share of the faces,
# `ECE = sum over bins of (n_b / N) * |accuracy_b - confidence_b|`. By hand from the table, then the helper:

# %%
# NBVAL_IGNORE_OUTPUT
table = evaluate.reliability_table(y_test, test_proba, bins=CALIBRATION_BINS)
by_hand = (table["count"] * (table["accuracy"] - table["confidence"]).abs()).sum() / table["count"].sum()
ece_before = evaluate.expected_calibration_error(y_test, test_proba, bins=CALIBRATION_BINS)
print(f"ECE by hand {by_hand:.4f} | evaluate.expected_calibration_error {ece_before:.4f}")
table.round(3)

# %% [markdown]
# Bars below the diagonal mean **over-confidence** (right less often than claimed), bars above it
# **under-confidence**. Chapter 5 trained with label smoothing, whose targets never exceed about 0.91: that
# pushes a model towards under-confidence at the top, so look at the right end of the diagram. Bins holding a
# handful of faces are noise, and so is ECE on a small split. The table lists only the bins that hold faces, and
# the lowest never do: the top probability of seven classes is at least 1/7 (0.14), so with 15 bins the first
# two (up to 0.13) stay empty. The faces crowd into the bins where the model's confidences lie, so on the 140
# faces of the committed sample several bins hold only a few faces (the `count` column says how many).
#
# **Temperature scaling** (Guo et al. 2017) is the simplest fix. One number *T* rescales every prediction,
# `softmax(log(p) / T)`: *T* > 1 softens the probabilities, *T* < 1 sharpens them. The largest probability stays
# the largest, so the predicted emotion never changes: accuracy and macro-F1 stay exactly the same. On a fixed
# example:

# %%
# NBVAL_CHECK_OUTPUT
p = np.array([[0.70, 0.20, 0.05, 0.02, 0.01, 0.01, 0.01]])
for t in (0.5, 1.0, 2.0):
    print(f"T = {t}: " + " ".join(f"{v:.3f}" for v in evaluate.apply_temperature(p, t)[0]))

# %% [markdown]
# *T* is fitted by minimising the negative log-likelihood of the true labels on the **validation** split, then
# applied, unchanged, to test. Fitted on test, the test ECE would be a score we optimised, not a measurement.
# One caveat: validation holds some faces with a copy in the part of `train` the model learned from, and the
# model may be surer of those than of new faces, so they can pull *T* away from what test needs. Section 7.9
# counts them and refits *T* without them.

# %%
# NBVAL_IGNORE_OUTPUT
temperature = evaluate.fit_temperature(y_val, val_proba)
test_calibrated = evaluate.apply_temperature(test_proba, temperature)
ece_after = evaluate.expected_calibration_error(y_test, test_calibrated, bins=CALIBRATION_BINS)
direction = "softens: the model was over-confident there" if temperature > 1 else "sharpens: the model was under-confident there"
if not 0.051 < temperature < 19.9:
    direction += "; T is at the edge of the search range: the confidences carry little information"
print(f"temperature fitted on {val_name}: T = {temperature:.3f} ({direction})")
print(f"{test_name}: ECE {ece_before:.4f} -> {ece_after:.4f} | "
      f"NLL {evaluate.negative_log_likelihood(y_test, test_proba):.4f} -> "
      f"{evaluate.negative_log_likelihood(y_test, test_calibrated):.4f} | "
      f"predictions unchanged: {bool((test_calibrated.argmax(axis=1) == test_pred).all())}")

# %%
fig, axes = plt.subplots(1, 2, figsize=(9.6, 4.4))
plots.plot_reliability(table, title=f"{test_name}: as trained", ece=ece_before, ax=axes[0])
plots.plot_reliability(evaluate.reliability_table(y_test, test_calibrated, bins=CALIBRATION_BINS),
                       title=f"T = {temperature:.2f} (fitted on validation)", ece=ece_after, ax=axes[1])
plots.save_fig("07_reliability")
plt.show()

# %% [markdown]
# What to notice: temperature scaling helps on test exactly as far as validation resembles test. With
# chapter 5's 2,871 validation faces the fitted *T* is a stable estimate and the test ECE usually drops.
# Compare the two diagrams bin by bin, not only their ECE: one number *T* rescales every confidence, so it can
# overshoot where the gap was small. Sharpening an under-confident model, for example, can push some bins past
# the diagonal into over-confidence while the average gap, the ECE, still falls.
#
# In quick mode on the sample, *T* comes from 14 faces the model may have trained on: it can make test
# calibration *worse*, and that is the lesson too. A calibration fitted on too little, or on the wrong, data
# does not transfer.
#
# ## 7.8 Test-time augmentation: the mirror image too
#
# A face and its mirror image show the same emotion, and chapter 5 trained with random mirroring, so the model
# knows both views. **Flip TTA** predicts both and averages the probabilities: some errors of one view are
# outvoted by the other. The price is two forward passes per face, twice the compute and latency of every
# prediction, forever. So TTA is reported **beside** the plain figure, never instead of it, and with its cost.
# We decided to report both before computing either: TTA was not chosen because it looked good on test.

# %%
# NBVAL_IGNORE_OUTPUT
start = time.perf_counter()
test_proba_tta = evaluate.predict_proba(model, x_test, tta="flip")
tta_seconds = time.perf_counter() - start
changed = int((test_proba_tta.argmax(axis=1) != test_pred).sum())
rows = {}
for name, proba, seconds in [("plain", test_proba, plain_seconds), ("flip TTA", test_proba_tta, tta_seconds)]:
    rows[name] = {**evaluate.summary(y_test, proba),
                  "ECE": evaluate.expected_calibration_error(y_test, proba, bins=CALIBRATION_BINS),
                  "forward passes per face": 1 if name == "plain" else 2, "seconds": seconds}
print(f"{test_name}: flip TTA changed the predicted emotion of {changed} of {len(y_test)} faces")
pd.DataFrame.from_dict(rows, orient="index").round(4)

# %% [markdown]
# What to notice: the accuracy difference, compared with the number of faces whose prediction changed. On the
# committed sample one face is 0.7 points of accuracy, so a difference of a face or two says nothing; on the full
# PublicTest a face is 0.03 points. Averaging two views also tends to lower the confidence of doubtful faces,
# which changes ECE in a direction that depends on the model. For an over-confident model lower confidence is a
# step towards the diagonal; for an under-confident one (a fitted *T* below 1 in section 7.7 says so) it is a
# step away, so ECE can rise with TTA even where accuracy rises. TTA's probabilities would need a temperature
# of their own, fitted on validation predictions made with TTA. The time column measures this machine at this
# moment (other programs share its cores); the ratio of forward passes, 2, is the cost that transfers.
#
# ## 7.9 The FER2013 leak: test faces that are also training faces
#
# FER2013 was collected by web image search, and some images were found twice: a number of PublicTest images are
# **byte-identical** to training images. A model that saw them in training can score them from memory, which
# flatters the test figure. `data.duplicates_of` hashes the decoded pixels of every face and flags the test faces
# whose exact pixels occur in `train`.

# %%
# NBVAL_IGNORE_OUTPUT
duplicate = data.duplicates_of(x_test, x_train_all)
train_labels_by_hash = {}
for h, label in zip(data.pixel_hashes(x_train_all), y_train_all):
    train_labels_by_hash.setdefault(h, set()).add(int(label))
same_label = sum(int(y) in train_labels_by_hash[h]
                 for h, y, dup in zip(data.pixel_hashes(x_test), y_test, duplicate) if dup)
print(f"{test_name}: {duplicate.sum()} of {len(y_test)} faces also occur in train "
      f"({same_label} of them with the same label there)")

# %% [markdown]
# On our copy of the full data this finds 240 of PublicTest's 3,435 faces, 234 of them with the same label in
# train. In quick mode the check only compares the sample's 140 test faces with the sample's 140 training faces,
# so it finds few, although the course model trained on all of FER2013's `train`; run with `FER_DATA` set to see
# the leak in full. A duplicate whose label in train differs from its test label is label noise made visible: no
# model can be right on both copies.
#
# Does the model do better on the faces it may remember? Accuracy and macro-F1 on the two groups: a large gap
# means the model memorised training faces. Read the macro-F1 of the duplicates with care: a few hundred faces
# at most (240 in the full data, a face or two on the committed sample) leave the rarer emotions with a handful
# of faces each, or none, so one face more or less moves that figure by several points. (A group with no faces
# gets no row.)

# %%
# NBVAL_IGNORE_OUTPUT
groups = {"test faces with a copy in train": duplicate, "the other test faces": ~duplicate}
scores_by_group = {name: {"faces": int(members.sum()), **evaluate.summary(y_test[members], test_proba[members])}
                   for name, members in groups.items() if members.any()}
pd.DataFrame.from_dict(scores_by_group, orient="index").round(3)

# %% [markdown]
# Byte-identical copies are only part of the leak: a copy that was re-cropped, recompressed or re-lit has other
# bytes. Chapter 2 (section 2.6) finds such **near copies** with an *average hash*, a 16x16 fingerprint of the
# shrunk face that changes little under those edits, and calls two faces copies when their hashes differ in at
# most `NEAR_MAX_BITS` = 12 of 256 bits (in the full data, 95 test faces beyond the 240 exact copies).
# `data.near_duplicates_of` flags them; its mask includes the exact copies.

# %%
near_copy = data.near_duplicates_of(x_test, x_train_all, max_distance=NEAR_MAX_BITS)
any_copy = duplicate | near_copy
print(f"{test_name}: {any_copy.sum()} faces have a training face at most {NEAR_MAX_BITS} bits away: "
      f"exact copies {duplicate.sum()}, near copies {(near_copy & ~duplicate).sum()}; "
      f"{(~any_copy).sum()} of {len(y_test)} faces have neither")

# %% [markdown]
# Even that catches only what the hash can: chapter 2 shows that a copy moved by a single pixel already lies
# beyond the threshold, and 12 bits was chosen to miss some copies rather than pair different photos. So even
# the de-duplicated figure may still flatter the model a little: it is the better estimate of how the model does
# on new faces, not a guarantee.
#
# The validation split has the same leak. It is carved out of `train`, and `train` repeats images of its own, so
# some validation faces have a byte-identical copy in the part the model trained on (`x_train`). They inflate
# the validation figure, and not evenly: an epoch, or a model, that memorises more gains more on them, so choosing
# on validation leans towards memorising. They also sit in the split that fitted the temperature of section 7.7,
# so we refit it without them to see whether they mattered. (In quick mode on the sample, `x_train` is 126
# sample faces, not the faces the model learned from, so the count says little.)

# %%
# NBVAL_IGNORE_OUTPUT
val_copy = data.duplicates_of(x_val, x_train)
print(f"{val_name}: {val_copy.sum()} of {len(y_val)} faces have a byte-identical copy in the part of train the "
      f"model learned from")
if val_copy.any() and not val_copy.all():
    temperature_without_copies = evaluate.fit_temperature(y_val[~val_copy], val_proba[~val_copy])
    print(f"temperature fitted on validation without them: T = {temperature_without_copies:.3f} "
          f"(with them, section 7.7: T = {temperature:.3f})")
else:
    print(f"no faces to leave out: the temperature of section 7.7 (T = {temperature:.3f}) stands")

# %% [markdown]
# ## 7.10 The results table
#
# Everything in one table: the split named, plain beside TTA, with the copies of training faces included and
# removed (exact copies, then exact and near ones). The validation rows come first, as the split that chose the
# epoch; the test rows are the ones to quote, the plain one on all faces first.

# %%
# NBVAL_IGNORE_OUTPUT
every_val_face, every_test_face = np.ones(len(y_val), bool), np.ones(len(y_test), bool)
results = []
for split, y, proba, kept, tta, copies in [
        (val_name, y_val, val_proba, every_val_face, "no", "included"),
        (val_name, y_val, val_proba, ~val_copy, "no", "exact removed"),
        (test_name, y_test, test_proba, every_test_face, "no", "included"),
        (test_name, y_test, test_proba_tta, every_test_face, "flip (2 passes)", "included"),
        (test_name, y_test, test_proba, ~duplicate, "no", "exact removed"),
        (test_name, y_test, test_proba_tta, ~duplicate, "flip (2 passes)", "exact removed"),
        (test_name, y_test, test_proba, ~any_copy, "no", "exact and near removed"),
        (test_name, y_test, test_proba_tta, ~any_copy, "flip (2 passes)", "exact and near removed")]:
    if not kept.any():
        continue                                     # every face was a copy: nothing left to score
    scores = evaluate.summary(y[kept], proba[kept])
    results.append({"split": split, "faces": int(kept.sum()), "TTA": tta, "copies of training faces": copies,
                    "accuracy": round(scores["accuracy"], 4), "macro-F1": round(scores["macro_f1"], 4)})
pd.DataFrame(results)

# %% [markdown]
# How to quote it: "accuracy A and macro-F1 M on FER2013 PublicTest (3,435 faces in our copy), single pass";
# then, separately, the TTA and de-duplicated figures, saying which copies were removed and how they were
# found. In quick mode the table describes 140 sample faces and is only a demonstration.
#
# **Comparing with others.** Human accuracy on FER2013 is about 65±5% (Goodfellow et al. 2013, their figure).
# Most published model figures are on **PrivateTest**, which our copy does not contain, often with TTA, ensembles
# or selection on the test split itself; our PublicTest copy also lacks 154 *surprise* faces. Put a published
# figure beside ours only labelled as theirs, with their split and protocol.
#
# ## 7.11 The course's best model, beside the first
#
# Everything above examined chapter 5's original CNN. The course also ships a stronger model, `best`, trained with
# the recipe that chapter 9 builds step by step (a small residual network, SGD with a cosine schedule, stronger
# augmentation, a moving average of the weights). Its card says what it is and how it was trained:

# %%
# NBVAL_IGNORE_OUTPUT
best_card = models.model_card("best")
best_model = models.load_model("best")
first_name = ("chapter 5's run" if (course.RUNS_DIR / "05_training" / "best.weights.h5").exists() else "seed")
print(f"best: {best_card['architecture']}, {best_model.count_params():,} parameters, "
      f"{models.count_flops(best_model) / 1e6:.0f} MFLOPs a face; "
      f"{best_card['epochs_run']} epochs, {best_card['training_minutes']:.0f} minutes of training "
      f"({best_card['trained_on']})")
print(f"{first_name} (examined above): {model.count_params():,} parameters, {models.count_flops(model) / 1e6:.0f} MFLOPs a face")
print(f"selected on {best_card['selected_on']}")

# %% [markdown]
# Both models kept the epoch that scored best on the same validation faces (chapter 5's 10% of `train`, seed 42),
# which is also the split we compare them on first: both figures are somewhat optimistic, in the same way. The
# comparison is **paired**: the same faces, so the question is not only "which accuracy is higher" but "on how
# many faces do they disagree, and which way". McNemar's test (`evaluate.paired_comparison`) looks only at the
# faces exactly one model gets right: if the two were equally good, each such face would be a coin toss.

# %%
# NBVAL_IGNORE_OUTPUT
best_val_proba = evaluate.predict_proba(best_model, x_val)
paired_val = evaluate.paired_comparison(y_val, val_proba, best_val_proba)
print(f"{val_name}: {paired_val['only_b']} faces only best gets right, {paired_val['only_a']} only {first_name}; "
      f"McNemar p = {paired_val['p_value']:.2g}")
pd.DataFrame({first_name: evaluate.summary(y_val, val_proba),
              "best": evaluate.summary(y_val, best_val_proba)}).T.round(4).rename_axis(val_name)

# %% [markdown]
# Accuracy is one number; per class, where does `best` gain? Recall of each emotion on the same validation faces
# (with the number of faces of each: a class of a few dozen faces moves by several points per face or two):

# %%
# NBVAL_IGNORE_OUTPUT
recall_side_by_side = pd.DataFrame({"faces": data.class_counts(y_val),
                                    f"recall, {first_name}": evaluate.per_class_table(y_val, val_proba)["recall"],
                                    "recall, best": evaluate.per_class_table(y_val, best_val_proba)["recall"]})
recall_side_by_side["change"] = recall_side_by_side["recall, best"] - recall_side_by_side[f"recall, {first_name}"]
recall_side_by_side.round(3)

# %% [markdown]
# Then test (PublicTest), read once for `best`, here at the end, beside the first model's figure from section 7.10:
# all faces, and without the exact and near copies of training faces (section 7.9).

# %%
# NBVAL_IGNORE_OUTPUT
best_test_proba = evaluate.predict_proba(best_model, x_test)
paired_test = evaluate.paired_comparison(y_test, test_proba, best_test_proba)
print(f"{test_name}: {paired_test['only_b']} faces only best gets right, {paired_test['only_a']} only "
      f"{first_name}; McNemar p = {paired_test['p_value']:.2g}")
head_to_head = []
for faces_kept, kept in [("all", every_test_face), ("exact and near copies removed", ~any_copy)]:
    if not kept.any():
        continue
    for name, proba in [(first_name, test_proba), ("best", best_test_proba)]:
        scores = evaluate.summary(y_test[kept], proba[kept])
        head_to_head.append({"model": name, "faces": int(kept.sum()), "copies of training faces": faces_kept,
                             "accuracy": round(scores["accuracy"], 4), "macro-F1": round(scores["macro_f1"], 4)})
pd.DataFrame(head_to_head).rename_axis(test_name, axis=1)

# %% [markdown]
# What to notice (on the run saved here):
#
# - On the validation faces `best` is right on 526 faces that `seed` gets wrong, and wrong on 245 that `seed` gets
#   right. The two disagree on about a quarter of the faces, and a split that lopsided is not luck (McNemar
#   p = 2e-24). That p-value is somewhat optimistic, because both models chose their epoch on these faces; the
#   test split, below, chose nothing.
# - The gain is not spread evenly. It is largest where `seed` was weakest, on the three "negative" emotions of
#   section 7.5's confusions: fear (recall 0.139 to 0.390), angry (0.484 to 0.674) and sad (0.329 to 0.472).
#   Happy, neutral and surprise move by about 3 points or less. Disgust goes down (0.455 to 0.386), but on 44
#   faces that is 3 faces, within noise. Macro-F1 rises more than accuracy (0.482 to 0.613, against 0.554 to
#   0.651) because it weighs those small, hard classes as much as *happy*.
# - On test, read once: accuracy 0.521 to 0.636, macro-F1 0.460 to 0.598, and McNemar agrees (672 faces against
#   275). The gain holds on the 3,100 test faces without copies of training faces (0.512 to 0.622, and 0.430 to
#   0.557), so it does not come from remembering the copies. It is a better model, not a better memory.
#
# ## Summary
#
# - Accuracy counts faces; on FER2013 it is dominated by *happy*. Always compare with a majority-class baseline
#   and report macro-F1 beside accuracy: weighted-F1 hides a missing emotion, macro-F1 does not.
# - Precision, recall and F1 come from the confusion matrix; the row-normalised matrix shows what each emotion is
#   mistaken for. Fear, sad, angry and neutral blur into one another, as they do for human annotators.
# - The most confident mistakes are a cheap audit: many are doubtful labels, not model errors.
# - A reliability diagram and ECE say whether confidences mean what they say; temperature scaling fixes them
#   without changing a single prediction, fitted on validation, never on test.
# - Flip TTA and FER2013's copies of training faces (exact and near, in test and in validation) change the
#   figures: report them beside the plain figure, with the cost (two passes), the split named and the way the
#   copies were found.
# - Two models are compared on the same faces: per-class figures side by side, and McNemar's paired test, which
#   counts only the faces exactly one of them gets right. The course's `best` is compared that way with chapter
#   5's model in section 7.11; chapter 9 shows how its recipe was built.
#
# ## Exercises
#
# Answers that can be checked have a line under the exercise (run `from fer_helpers import check` first).
#
# 1. A "model" answers *happy* for every face. On our copy of PublicTest (3,435 faces, 895 happy), work out its
#    accuracy and macro-F1 from the definitions, without code.
#    - Check your answer: `check.exercise("7.1", (accuracy, macro_f1))`.
# 2. ECE depends on how the confidences are binned. Compute the test ECE with 5, 10, 15 and 30 bins, before and
#    after temperature scaling. What does this mean for comparing ECE figures between papers?
# 3. Fit the temperature on the test split instead of validation and compare *T* and the test ECE with section
#    7.7. Why may this test ECE not be reported?
# 4. A colleague reports "74% on FER2013" in an abstract; the paper's table shows it is PublicTest, with flip TTA,
#    duplicates included. List what is missing or misleading, and what a reader needs to compare it with the
#    figures of this chapter.
# 5. Chapter 5 chose its epoch on the validation split, and section 7.9 counted its faces that are byte-identical
#    to faces the model trained on (`x_train`) with `data.duplicates_of`. Count them yourself on the whole
#    validation split (in quick mode with the full dataset, `x_val` above is a subset of it), with
#    `data.pixel_hashes` and a Python set. What does a large count mean for chapter 5's validation figure, and
#    for the epoch it chose?
#    - Check your answer: `check.exercise("7.5", your_count, x_val=x_val, x_train=x_train)`, with the
#      arrays you counted on.
# 6. Is `best` (section 7.11) calibrated? Fit its temperature on the validation split as in section 7.7 and
#    compare its test ECE, before and after, with the first model's. Which of the two needs the larger correction,
#    and in which direction? (code)

# %% [markdown] tags=["solution"]
# ## Solutions
#
# 1. Accuracy = 895 / 3,435 = 0.261. For *happy*, precision = 0.261 (every face is called happy) and recall = 1,
#    so F1 = 2 x 0.261 x 1 / 1.261 = 0.413; the six other emotions are never predicted, so their F1 is 0.
#    Macro-F1 = 0.413 / 7 = 0.059. The cell below checks it.

# %% tags=["solution"]
# NBVAL_CHECK_OUTPUT
test_counts = [467, 56, 496, 895, 607, 653, 261]            # our copy of PublicTest, in CLASS_NAMES order
always_happy = evaluate.summary(np.repeat(np.arange(7), test_counts), np.full(sum(test_counts), 3))
print({name: round(value, 3) for name, value in always_happy.items()})

# %% [markdown] tags=["solution"]
# 2. With few bins, over- and under-confident faces inside one wide bin cancel out; with many bins, each bin holds
#    few faces and their accuracy is noisy, which adds a positive bias. ECE figures are comparable only with the
#    same number of bins (and the same split size).
#
#    A row can also come out the same in every column. When every non-empty bin lies on the same side of the
#    diagonal (all under-confident, say), no absolute value in the ECE formula flips a sign, so the bins cancel
#    out of it: ECE = |accuracy - mean confidence| of the whole split, whatever the number of bins. The cell prints
#    that figure, computed without bins, above the table. A few faces on the other side of the diagonal make ECE a
#    little larger than it, and still the same for every bin count as long as no bin mixes them with the rest.

# %% tags=["solution"]
# NBVAL_IGNORE_OUTPUT
for name, proba in [("as trained", test_proba), (f"T = {temperature:.2f}", test_calibrated)]:
    gap = abs(np.mean(proba.argmax(axis=1) == y_test) - proba.max(axis=1).mean())
    print(f"{name}: |accuracy - mean confidence| = {gap:.4f} (no bins)")
pd.DataFrame({bins: {"as trained": evaluate.expected_calibration_error(y_test, test_proba, bins=bins),
                     f"T = {temperature:.2f}": evaluate.expected_calibration_error(y_test, test_calibrated, bins=bins)}
              for bins in (5, 10, 15, 30)}).round(4).rename_axis("ECE with N bins:", axis=1)

# %% [markdown] tags=["solution"]
# 3. The temperature fitted on test minimises the test NLL, so the test ECE after it is optimistic by
#    construction: the test split has chosen something, and is no longer an independent measurement. The same
#    rule as chapter 5's epochs: fit on validation, measure on test.

# %% tags=["solution"]
# NBVAL_IGNORE_OUTPUT
t_test = evaluate.fit_temperature(y_test, test_proba)
ece_test_fitted = evaluate.expected_calibration_error(y_test, evaluate.apply_temperature(test_proba, t_test),
                                                      bins=CALIBRATION_BINS)
print(f"T fitted on validation {temperature:.3f} -> test ECE {ece_after:.4f}")
print(f"T fitted on test       {t_test:.3f} -> test ECE {ece_test_fitted:.4f}  (not a measurement)")

# %% [markdown] tags=["solution"]
# 4. Missing: the split (PublicTest, not the PrivateTest most papers use), the single-pass figure beside the TTA
#    one and the cost of TTA, the figure without the copies of training faces, macro-F1 beside accuracy, and how
#    the model was selected (on a validation split carved from train, or on the test split itself). To compare with this
#    chapter, a reader needs the same split, the same protocol (single pass or the same TTA) and both metrics.
# 5. Validation faces that are also training faces are scored partly from memory, so a large count makes chapter
#    5's validation figure optimistic. It also tilts the choice of epoch: the epochs that memorise more of their
#    training faces gain more on these faces, so choosing on validation leans towards overfitting. FER2013's
#    `train` repeats images of its own (on our copy, 28,709 files hold 27,473 distinct images), and a random split scatters the copies across
#    both parts: on the full data, 210 of the 2,871 validation faces have an identical copy in the model's training
#    part. That is 7% of the split, worth stating beside the validation figure; de-duplicating `train` before
#    splitting would remove it.

# %% tags=["solution"]
# NBVAL_IGNORE_OUTPUT
_, x_val_full, _, _ = data.train_val_split(x_train_all, y_train_all, VALIDATION_FRACTION, seed=42)
trained_on = set(data.pixel_hashes(x_train))
val_duplicates = sum(h in trained_on for h in data.pixel_hashes(x_val_full))
print(f"validation faces byte-identical to a face the model trained on: {val_duplicates} of {len(x_val_full)}")

# %% [markdown] tags=["solution"]
# 6. The same three steps as section 7.7, for each model: fit *T* on validation, apply it to test, compare the
#    ECE (15 bins). *T* below 1 means the model was under-confident (its probabilities get sharpened), above 1
#    over-confident. The cell prints both; read the direction from *T* and the size of the correction from how
#    far the ECE moves. On the run saved here `seed` needs the larger correction (T = 0.697, under-confident; ECE
#    0.0683 to 0.0471). `best`'s T = 0.945 is close to 1 and its test ECE, 0.0233, is already a third of `seed`'s;
#    scaling raises it a little, to 0.0350. A temperature fitted on validation fixes a real miscalibration, but a
#    model that is already nearly calibrated has little to gain, and the fitted correction can move its test ECE
#    the wrong way by about a hundredth.

# %% tags=["solution"]
# NBVAL_IGNORE_OUTPUT
for name, v_proba, t_proba in [(first_name, val_proba, test_proba), ("best", best_val_proba, best_test_proba)]:
    t = evaluate.fit_temperature(y_val, v_proba)
    before = evaluate.expected_calibration_error(y_test, t_proba, bins=CALIBRATION_BINS)
    after = evaluate.expected_calibration_error(y_test, evaluate.apply_temperature(t_proba, t), bins=CALIBRATION_BINS)
    print(f"{name}: T = {t:.3f} (fitted on validation); test ECE {before:.4f} -> {after:.4f}")
