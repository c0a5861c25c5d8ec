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
# [![Open In Kaggle](https://kaggle.com/static/images/open-in-kaggle.svg)](https://kaggle.com/kernels/welcome?src=https://github.com/fer-course/fer-course/blob/main/notebooks/07_evaluation.ipynb)
# [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/fer-course/fer-course/main?labpath=notebooks%2F07_evaluation.ipynb)
#
# Chapter 5 trained a model and printed one line per split: accuracy and macro-F1. This chapter takes that
# model apart as an examiner would. Nothing is trained except in the optional section 7.13. By the end of this
# chapter you will be able to:
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
#   test for whether the difference is more than luck;
# - (optional, 7.12) draw what a model looks at with Grad-CAM (from the backend's gradients) and occlusion maps,
#   on right answers, mistakes, watermarks and non-faces;
# - (optional, 7.13) separate "remembered" from "easier" with a control experiment and paired uncertainty.
#
# | mode | data | 2-core CPU | one GPU |
# |---|---|---|---|
# | quick (`FER_QUICK=1`, the default) | the committed sample (140 test faces), or at most 600 faces per split | 28 s (measured under nbval on 2026-12-07, 2 cores otherwise idle) | < 1 min (estimated) |
# | full (`FER_QUICK=0`) | chapter 5's validation split (2,871 faces) and PublicTest (3,435 faces); the control of 7.13 trains two small models on 4,366 faces for 12 epochs | 9.1 min from scratch (measured on 2026-12-07, 2 cores nearly idle; 7.7 min of it the control's two models); the committed outputs are a re-run that loaded the two control models from their run folders (124 s, 2 cores otherwise idle) | a few minutes (estimated) |
#
# **Modes.** Quick mode evaluates the committed sample (14 validation and 140 test faces), draws coarser
# occlusion maps and trains 7.13's control models for one epoch. The text quotes the full-mode run saved here
# (first output line below); quick-mode figures show the mechanics, not a measurement: one test face is 0.7
# points, and the validation faces are mostly faces the model trained on.

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
VALIDATION_FRACTION = 0.1                           # the same stratified, seeded cut as chapter 5
MAX_FACES = 600 if session.quick else None          # quick mode with the full dataset: at most this many per split
CALIBRATION_BINS = 15                               # confidence bins of the reliability diagram and of ECE
GALLERY_SIZE = 12                                   # how many confident mistakes to show
NEAR_MAX_BITS = 12                                  # near copies: 16x16 average hashes this close (chapter 2)
SALIENCY_FACES = 3 if session.quick else 6         # faces per saliency figure (correct faces, mistakes)
OCCLUSION_STRIDE = 8 if session.quick else 4        # occlusion: the 8x8 patch moves this far (8: no overlap)
CONTROL_FACES = 600 if session.quick else 4000      # section 7.13: training faces per control model
CONTROL_EPOCHS = 1 if session.quick else 12         # section 7.13: epochs per control model
CONTROL_SELECT = 300 if session.quick else 1500     # section 7.13: validation faces that choose each model's epoch

# %% [markdown]
# ## 7.1 One fixed model, two splits
#
# The model is chapter 5's: its own full run if this machine has one (in `runs/05_training/`), or else the
# bundled `seed`, the same architecture and recipe on the same faces (it stopped at 52 of its 60 planned epochs,
# so a run of your own may score a little differently). Either way the model is **fixed**: nothing in this
# chapter changes its weights. We examine it rather than the course's best because its mistakes are plentiful
# and easy to see; section 7.11 scores `best` the same way beside it.

# %%
from fer_helpers import models

model = models.course_model()  # says which model; for the bundled one, its card's summary (epochs run of planned)

# %% [markdown]
# It is measured on two splits, and they are not equally trustworthy:
#
# - **validation**: the 10% of `train` that chapter 5 carved out with `seed=42`. It chose the epoch and holds
#   copies of faces the model trained on (7.9), so its figure is somewhat optimistic. Here it has one more job:
#   the only thing we fit, a *temperature* (7.7), is fitted on it.
# - **test**: never used to choose anything, so its figure estimates how the model does on new faces. We read it
#   for reporting only: nothing below feeds back into the model.

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
# We predict each split once and keep the probabilities: every figure until section 7.8 comes from these arrays.
# The test prediction is timed to price test-time augmentation later.

# %%
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
# imbalanced dataset it mostly describes the big classes. In our copy of PublicTest, 895 of the 3,435
# faces are *happy* (26%) and 56 are *disgust* (1.6%): a model could ignore disgust completely and lose at most
# 1.6 points of accuracy.
#
# The first comparison for any model is a **baseline** that does not look at the face: always answer the most
# frequent emotion of the *training* split. A model that does not beat it clearly has learned nothing worth
# reporting.

# %%
pd.DataFrame({"train (90%)": data.class_counts(y_train), "validation": data.class_counts(y_val),
              test_name: data.class_counts(y_test)})

# %%
train_counts = np.bincount(y_train, minlength=data.NUM_CLASSES)
majority = int(train_counts.argmax())
baseline_pred = np.full(len(y_test), majority)
print(f"majority class of train: {data.CLASS_NAMES[majority]} ({train_counts[majority]} of {len(y_train)} faces"
      f"{'; a tie: every class has as many' if train_counts.min() == train_counts.max() else ''})")
pd.DataFrame({"always " + data.CLASS_NAMES[majority]: evaluate.summary(y_test, baseline_pred),
              "the model": evaluate.summary(y_test, test_proba)}).T.round(3).rename_axis(test_name)

# %% [markdown]
# The baseline's **accuracy** is the majority class's share of the test split: *happy*'s 26% on PublicTest (1/7
# on the committed sample, where every class has 20 faces). Its **macro-F1** is tiny: only one class gets a
# non-zero F1, and macro-F1 divides by seven. A majority-class trick cannot inflate macro-F1, which is why this
# course always prints it beside accuracy.
#
# ## 7.3 Precision, recall and F1 of one class, by hand
#
# All per-class figures come from the **confusion matrix** `C`: row *i* counts the faces whose true emotion is
# *i*, column *j* those the model called *j*. For one class *c*:
#
# - **true positives** `TP = C[c, c]`: faces of *c* called *c*;
# - **false negatives** `FN` = the rest of row *c*: faces of *c* missed;
# - **false positives** `FP` = the rest of column *c*: other faces called *c*.
#
# **Precision** `TP / (TP + FP)` answers "when the model says *c*, how often is it right?"; **recall**
# `TP / (TP + FN)` answers "of the faces of *c*, how many does it find?". **F1**, their harmonic mean
# `2PR / (P + R)`, is high only when both are. Here is *fear*, by hand:

# %%
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
from sklearn.metrics import classification_report, f1_score

print(classification_report(y_test, test_pred, labels=list(range(data.NUM_CLASSES)),
                            target_names=data.CLASS_NAMES, digits=3, zero_division=0))

# %% [markdown]
# What to look for: high recall with low precision marks a class the model says too often (a "default answer"
# for doubtful faces); low recall with high precision, one it says rarely but rightly. Models tend to find
# *happy* and *surprise* best, the most distinctive expressions. A support of a few dozen faces makes a class's
# figures noisy.
#
# ## 7.4 Macro-F1 or weighted-F1?
#
# The weighted average follows the big classes, so it stays close to accuracy and hides the small ones. An
# example with FER2013's training counts: a model that is perfect on six emotions but calls every *disgust* face
# *angry*.

# %% tags=["nbval-check-output"]
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
print(f"{test_name}: accuracy {np.mean(test_pred == y_test):.3f} | "
      f"weighted-F1 {f1_score(y_test, test_pred, average='weighted', zero_division=0):.3f} | "
      f"macro-F1 {evaluate.summary(y_test, test_proba)['macro_f1']:.3f}")

# %% [markdown]
# ## 7.5 The confusion matrix
#
# Counts show where the faces are; the **row-normalised** matrix (each row divided by its total) shows what
# happens to each emotion: its diagonal is the recall, the rest of the row what it is mistaken for.

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
rates = evaluate.confusion(y_test, test_proba, normalise=True)
pairs = [(data.CLASS_NAMES[i], data.CLASS_NAMES[j], cm[i, j], rates[i, j])
         for i in range(data.NUM_CLASSES) for j in range(data.NUM_CLASSES) if i != j and cm[i, j] > 0]
(pd.DataFrame(pairs, columns=["true", "called", "faces", "share of the true class"])
 .sort_values("share of the true class", ascending=False).head(8).round(3).reset_index(drop=True))

# %% [markdown]
# What the typical FER2013 confusions mean (check which your matrix shows):
#
# - **fear and surprise**: both raise the brows and widen the eyes; what tells them apart is a few pixels at
#   48x48.
# - **fear, sad and angry**: lowered brows and tense lips are shared by all three "negative" emotions.
# - **sad and neutral**: a low-intensity sad face *is* almost neutral.
# - **disgust into angry**: disgust has only 392 training faces here (436 in all of train), and its wrinkled
#   nose and lowered brows overlap with anger.
#
# Human annotators disagree on the same pairs: human accuracy on FER2013 is only about 65±5% (Goodfellow et al.
# 2013).
#
# ## 7.6 The most confident mistakes
#
# The errors a model is *surest* about are the most instructive: a systematic blind spot, or a wrong label. They
# are the cheapest audit of a dataset there is.

# %%
worst = evaluate.most_confident_mistakes(y_test, test_proba, k=GALLERY_SIZE)
plots.plot_mistakes(x_test, y_test, test_proba, worst, columns=6,
                    suptitle=f"the {len(worst)} most confident mistakes on {test_name}")
plots.save_fig("07_mistakes")
plt.show()

# %% [markdown]
# What to look for: labels you would dispute yourself (FER2013's come from web-search keywords checked by human
# labellers, and not every one survives a second look), faces hidden behind hands, glasses or text, drawings and
# non-faces, and expressions so faint that any label is a guess. No model can be "right" on them.
#
# One warning: relabelling the test faces you disagree with *after seeing the model's predictions* moves the test
# figure towards the model. If you relabel, do it without looking at predictions, and report both figures.
#
# ## 7.7 Calibration: does 80% confident mean 80% right?
#
# A prediction comes with a confidence, its top probability, and anything built on the model (abstain when
# unsure, ask a human) trusts that number. A model is **calibrated** when, among the faces it gives 80%
# confidence, about 80% are right. A **reliability diagram** groups the predictions into confidence bins and
# plots each bin's accuracy against its confidence; the **expected calibration error** weights each bin's gap by
# its share of the faces, `ECE = sum over bins of (n_b / N) * |accuracy_b - confidence_b|`. By hand from the
# table, then the helper:

# %%
table = evaluate.reliability_table(y_test, test_proba, bins=CALIBRATION_BINS)
by_hand = (table["count"] * (table["accuracy"] - table["confidence"]).abs()).sum() / table["count"].sum()
ece_before = evaluate.expected_calibration_error(y_test, test_proba, bins=CALIBRATION_BINS)
print(f"ECE by hand {by_hand:.4f} | evaluate.expected_calibration_error {ece_before:.4f}")
table.round(3)

# %% [markdown]
# Bars below the diagonal mean **over-confidence** (right less often than claimed), above it
# **under-confidence**. Chapter 5 trained with label smoothing, whose targets never exceed about 0.91: that
# pushes a model towards under-confidence at the top. Bins holding a handful of faces (the `count` column) are
# noise; the first two (up to 0.13) stay empty, as the top probability of seven classes is at least 1/7 (0.14).
#
# **Temperature scaling** (Guo et al. 2017) is the simplest fix: one number *T* rescales every prediction,
# `softmax(log(p) / T)`; *T* > 1 softens the probabilities, *T* < 1 sharpens them. The largest stays the largest,
# so the predictions, and accuracy and macro-F1, do not change. On a fixed example:

# %% tags=["nbval-check-output"]
p = np.array([[0.70, 0.20, 0.05, 0.02, 0.01, 0.01, 0.01]])
for t in (0.5, 1.0, 2.0):
    print(f"T = {t}: " + " ".join(f"{v:.3f}" for v in evaluate.apply_temperature(p, t)[0]))

# %% [markdown]
# *T* is fitted by minimising the negative log-likelihood on the **validation** split, then applied, unchanged,
# to test: fitted on test, the test ECE would be a score we optimised, not a measurement. (Validation faces with a
# copy among the model's training faces may pull *T* off; section 7.9 refits it without them.)

# %%
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
# Temperature scaling helps on test exactly as far as validation resembles test: a *T* fitted on too little, or
# on the wrong, data (as in quick mode) does not transfer. Compare the diagrams bin by bin, not only their ECE:
# one number *T* can overshoot. In the run saved here the model was under-confident in almost every bin; after
# *T* = 0.70 most bins above 0.4 sit below the diagonal, now over-confident, while the ECE still falls.
#
# ## 7.8 Test-time augmentation: the mirror image too
#
# A face and its mirror image show the same emotion, and chapter 5 trained with random mirroring. **Flip TTA**
# predicts both and averages the probabilities, so some errors of one view are outvoted. The price is two
# forward passes for every prediction, forever; so TTA is reported **beside** the plain figure, with its cost,
# and we decided to report both before computing either.

# %%
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
# Compare the accuracy difference with the number of faces whose prediction changed (on the full PublicTest a
# face is 0.03 points). Averaging two views also lowers the confidence of doubtful faces: a step towards the
# diagonal for an over-confident model, away from it for an under-confident one (a fitted *T* below 1 in 7.7),
# so ECE can rise even where accuracy rises. The time column measures this machine at this moment; the ratio of
# forward passes, 2, is the cost that transfers.
#
# ## 7.9 The FER2013 leak: test faces that are also training faces
#
# FER2013 was collected by web image search, and some images were found twice: some PublicTest images are
# **byte-identical** to training images, which a model can score from memory. `data.duplicates_of` hashes the
# decoded pixels and flags the test faces whose exact pixels occur in `train`.

# %%
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
# train (quick mode on the sample finds few). A duplicate whose two labels differ is label noise made visible:
# no model can be right on both copies.
#
# Does the model do better on the faces it may remember? A gap has two readings: memory, or easier faces
# (popular stock photos); the optional section 7.13 tells them apart. With 240 faces at most, the duplicates'
# macro-F1 is noisy.

# %%
groups = {"test faces with a copy in train": duplicate, "the other test faces": ~duplicate}
scores_by_group = {name: {"faces": int(members.sum()), **evaluate.summary(y_test[members], test_proba[members])}
                   for name, members in groups.items() if members.any()}
pd.DataFrame.from_dict(scores_by_group, orient="index").round(3)

# %% [markdown]
# Byte-identical copies are only part of the leak: a re-cropped, recompressed or re-lit copy has other bytes.
# Chapter 2 (section 2.6) finds such **near copies** with a 16x16 *average hash*, calling two faces copies when
# their hashes differ in at most `NEAR_MAX_BITS` = 12 of 256 bits (in the full data, 95 test faces beyond the
# 240 exact copies). `data.near_duplicates_of` flags them, exact copies included.

# %%
near_copy = data.near_duplicates_of(x_test, x_train_all, max_distance=NEAR_MAX_BITS)
any_copy = duplicate | near_copy
print(f"{test_name}: {any_copy.sum()} faces have a training face at most {NEAR_MAX_BITS} bits away: "
      f"exact copies {duplicate.sum()}, near copies {(near_copy & ~duplicate).sum()}; "
      f"{(~any_copy).sum()} of {len(y_test)} faces have neither")

# %% [markdown]
# The hash misses some copies (one moved by a single pixel, chapter 2), so even the de-duplicated figure may
# flatter the model a little: a better estimate, not a guarantee.
#
# Validation has the same leak: `train` repeats images of its own, so some validation faces have a copy in the
# part the model trained on (`x_train`). They inflate the validation figure, most for an epoch that memorises
# most, so choosing on validation leans towards memorising. They also fitted *T* (7.7), so we refit it without
# them.

# %%
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
# Without the copies *T* barely moves (0.706 against 0.697 in the run saved here): 7.7's calibration stands.
#
# ## 7.10 The results table
#
# Everything in one table: the split named, plain beside TTA, copies of training faces included and removed
# (exact, then exact and near). The test rows are the ones to quote, the plain one on all faces first.

# %%
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
# then, separately, the TTA and de-duplicated figures, saying which copies were removed and how they were found.
#
# **Comparing with others.** Most published figures are on **PrivateTest**, which our copy lacks, often with TTA,
# ensembles or selection on the test split itself; our PublicTest copy also lacks 154 *surprise* faces. Put a
# published figure beside ours only labelled as theirs, with their split and protocol.
#
# ## 7.11 The course's best model, beside the first
#
# The course also ships a stronger model, `best`: two small residual networks trained with the recipe chapter 9
# builds (SGD with a cosine schedule, stronger augmentation, a moving average of the weights), their probabilities
# averaged (an *ensemble*). Its card:

# %%
best_card = models.model_card("best")
best_model = models.load_model("best")
first_name = ("chapter 5's run" if (course.RUNS_DIR / "05_training" / "best.weights.h5").exists() else "seed")
print(f"best: {best_card['architecture']}, {best_model.count_params():,} parameters, "
      f"{models.count_flops(best_model) / 1e6:.0f} MFLOPs a face; "
      f"{best_card['epochs_run']} epochs{' between its networks' if 'members' in best_card else ''}, "
      f"{best_card['training_minutes']:.0f} minutes of training "
      f"({best_card['trained_on']})")
print(f"{first_name} (examined above): {model.count_params():,} parameters, {models.count_flops(model) / 1e6:.0f} MFLOPs a face")
print(f"selected on {best_card['selected_on']}")

# %% [markdown]
# Both models were chosen on these validation faces (`best` more so: its stages and members too), so both figures
# are optimistic, `best`'s the more. The comparison is **paired**: McNemar's test (`evaluate.paired_comparison`)
# looks only at the faces exactly one model gets right; if the two were equally good, each such face would be a
# coin toss.

# %%
best_val_proba = evaluate.predict_proba(best_model, x_val)
paired_val = evaluate.paired_comparison(y_val, val_proba, best_val_proba)
print(f"{val_name}: {paired_val['only_b']} faces only best gets right, {paired_val['only_a']} only {first_name}; "
      f"McNemar p = {paired_val['p_value']:.2g}")
pd.DataFrame({first_name: evaluate.summary(y_val, val_proba),
              "best": evaluate.summary(y_val, best_val_proba)}).T.round(4).rename_axis(val_name)

# %% [markdown]
# Where does `best` gain? Recall of each emotion on the same faces (a class of a few dozen faces moves by
# several points per face or two):

# %%
recall_side_by_side = pd.DataFrame({"faces": data.class_counts(y_val),
                                    f"recall, {first_name}": evaluate.per_class_table(y_val, val_proba)["recall"],
                                    "recall, best": evaluate.per_class_table(y_val, best_val_proba)["recall"]})
recall_side_by_side["change"] = recall_side_by_side["recall, best"] - recall_side_by_side[f"recall, {first_name}"]
recall_side_by_side.round(3)

# %% [markdown]
# Then test, read once for `best`, beside the first model: all faces, and without the exact and near copies
# (7.9).

# %%
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
# What to notice:
#
# - On the validation faces `best` is right on 589 faces that the first model gets wrong, and wrong on 200 that it
#   gets right: a split that lopsided is not luck (McNemar p = 3e-45), though the p-value is optimistic, since
#   both models chose their epochs on these faces.
# - The gain is largest where the first model was weakest, the three "negative" emotions of 7.5: fear (recall 0.139
#   to 0.498), sad (0.329 to 0.542) and angry (0.484 to 0.649). Happy and neutral gain 5 and 8 points, surprise
#   stays (0.808), and disgust loses one face of its 44 (0.455 to 0.432). Macro-F1 rises more than accuracy
#   (0.4819 to 0.6550, against 0.5535 to 0.6890) because it weighs those small, hard classes as much as *happy*.
# - On test, read once: accuracy 0.5205 to 0.6734, macro-F1 0.4595 to 0.6586, and McNemar agrees (745 faces
#   against 220). The gain holds on the 3,100 test faces without copies of training faces (0.5116 to 0.6561, and
#   0.4304 to 0.6195): a better model, not a better memory.
#
# ## 7.12 What the models look at: Grad-CAM and occlusion (optional)
#
# Every figure so far says *how often* a model is right, none *why*. Chapter 2 found faces half hidden by hands,
# stock-photo watermarks written across cheeks, drawings and images that are not faces at all, and section 7.6
# showed some of them among the most confident mistakes. Does the model answer from the eyes and the mouth, or
# from a watermark? Two standard tools draw, over a face, which regions a model's answer depends on.
#
# **Grad-CAM** (Selvaraju et al. 2017) reuses what training already computes: gradients. Take the feature maps
# `A_k` of a late convolution (each `k` is one channel, a small image of "where this pattern is") and the
# gradient of the class's *logit* (its score before the softmax) with respect to them. The mean gradient of map
# `k`, `alpha_k`, says how much that pattern raises the class; the map is `ReLU(sum_k alpha_k A_k)`, the
# patterns that argue *for* the class, where they are. The gradient comes from the backend that runs Keras
# (TensorFlow, JAX or PyTorch; `saliency.gradient` is the only place that differs between them). By hand, for
# section 7.6's most confident mistake and the emotion the model called it:

# %%
import keras

from fer_helpers import saliency

layer = saliency.target_layer(model)               # the last map at least 6x6 wide (seed: conv3, 8x8; conv4 is 2x2)
features, head = saliency.split_at(model, layer)   # pixels -> the maps A, and A -> the input of the last Dense layer
face = x_test[worst[:1]]
called = int(test_proba[worst[0]].argmax())
A = np.asarray(keras.ops.convert_to_numpy(features(data.as_model_input(face), training=False)))
_, dA = saliency.gradient(lambda a: saliency.logits(model, head(a, training=False))[:, called], A)
alpha = dA.mean(axis=(1, 2))                       # one weight per channel: its mean gradient
cam = np.maximum((A * alpha[:, None, None, :]).sum(axis=-1), 0)[0]
print(f"layer {layer}: maps {A.shape[1:]}, {int((alpha > 0).sum())} of {alpha.shape[1]} channels argue for "
      f"'{data.CLASS_NAMES[called]}'")
print("saliency.grad_cam agrees:",
      np.allclose(cam, saliency.grad_cam(model, face, classes=called, size=None, normalise=False)[0],
                  rtol=1e-4, atol=1e-6))

# %% [markdown]
# The map has the resolution of its layer (8x8 in the first model, 6x6 in `best`): coarse, so it is upsampled to
# 48x48 and read as "roughly where", never pixel by pixel.
#
# **Occlusion** (Zeiler and Fergus 2014) needs no gradient and no layer, only predictions: paint an 8x8 square of
# the face flat grey (the face's own mean), predict again, and record how much the probability of the class
# drops; slide the square every `OCCLUSION_STRIDE` pixels. Red: covering the region lowers the probability (the
# model uses it); blue: covering it *raises* the probability (the region argued against the class). It works on
# any model, at the price of one forward pass per position:

# %%
start = time.perf_counter()
occluded = saliency.occlusion_map(model, face, classes=called, stride=OCCLUSION_STRIDE)[0]
positions = len(range(0, 48 - 8 + 1, OCCLUSION_STRIDE)) ** 2
print(f"occlusion: {time.perf_counter() - start:.1f} s for one face ({positions} forward passes); largest drop "
      f"{occluded.max():.3f}, largest rise {-occluded.min():.3f} in the probability of '{data.CLASS_NAMES[called]}'")
fig = saliency.plot_maps(face, {"Grad-CAM": saliency.grad_cam(model, face, classes=called),
                                "occlusion": occluded[None]},
                         titles=[f"{data.CLASS_NAMES[y_test[worst[0]]]}, called {data.CLASS_NAMES[called]}"],
                         size=2.2)
plt.show()

# %% [markdown]
# Both maps are descriptions of one model on one face, not explanations of emotion: a hot region means "this
# model's answer changes when this region changes", nothing more. Where the two methods agree, the reading is
# safer. Now three galleries, each for both bundled models (`seed`, or chapter 5's run, and `best`), each model's
# map drawn for the emotion *it* predicts (for `best`, the mean of its four networks' maps). First, faces both
# models get right, one per emotion where the split has one (chosen at random):

# %%
# extra code: Grad-CAM and occlusion of both models for a set of faces, each for its own predicted class
def maps_of(faces):
    rows = {}
    for name, net in [(first_name, model), ("best", best_model)]:
        rows[f"{name}: Grad-CAM"] = saliency.grad_cam(net, faces)
        rows[f"{name}: occlusion"] = saliency.occlusion_map(net, faces, stride=OCCLUSION_STRIDE)
    return rows


best_test_pred = best_test_proba.argmax(axis=1)
right_both = np.flatnonzero((test_pred == y_test) & (best_test_pred == y_test))
rng = np.random.default_rng(0)
correct_faces = [int(rng.choice(right_both[y_test[right_both] == c])) for c in range(data.NUM_CLASSES)
                 if (y_test[right_both] == c).any()][:SALIENCY_FACES]
fig = saliency.plot_maps(x_test[correct_faces], maps_of(x_test[correct_faces]),
                         titles=[data.CLASS_NAMES[y_test[i]] for i in correct_faces],
                         suptitle=f"right by both models, {test_name}")
plots.save_fig("07_saliency_correct")
plt.show()

# %% [markdown]
# Then section 7.6's most confident mistakes of the first model, with what each model called them:

# %%
mistake_faces = worst[:SALIENCY_FACES]
fig = saliency.plot_maps(x_test[mistake_faces], maps_of(x_test[mistake_faces]),
                         titles=[f"{data.CLASS_NAMES[y_test[i]]}\n{first_name}: {data.CLASS_NAMES[test_pred[i]]}"
                                 f"\nbest: {data.CLASS_NAMES[best_test_pred[i]]}" for i in mistake_faces],
                         suptitle=f"the most confident mistakes of {first_name}, {test_name}")
plots.save_fig("07_saliency_mistakes")
plt.show()

# %% [markdown]
# And chapter 2's odd faces: stock-photo watermarks, hands over the face, a drawing, and images that are no face at
# all. They were picked by eye from the committed sample (`data/sample/`), so every mode shows the same faces.
# The last column is chapter 2's detector (section 2.7): the training image of this run's data with the least
# contrast (on the full data, one of the 11 entirely black images). For each watermark, `WATERMARKS` gives the
# rows and columns of the band its text covers (read off the image, also by eye), for exercise 7.

# %%
ODD_FACES = {                                     # file in data/sample/ -> what it shows
    "test/angry/PublicTest_44679916.jpg": "watermark, hands",
    "test/disgust/PublicTest_32023453.jpg": "watermark",
    "test/disgust/PublicTest_93710701.jpg": "watermark",
    "test/fear/PublicTest_83872938.jpg": "watermark",
    "test/surprise/PublicTest_52359086.jpg": "watermark",
    "test/fear/PublicTest_21139848.jpg": "hands",
    "test/surprise/PublicTest_46713098.jpg": "hands",
    "test/surprise/PublicTest_47859715.jpg": "drawing",
    "train/surprise/Training_64747112.jpg": "text, no face",
    "train/sad/Training_87857337.jpg": "placeholder, no face",
}
WATERMARKS = {                                    # file -> (top, bottom, left, right) of the watermark's band
    "test/angry/PublicTest_44679916.jpg": (24, 33, 0, 48),
    "test/disgust/PublicTest_32023453.jpg": (27, 36, 0, 48),
    "test/disgust/PublicTest_93710701.jpg": (20, 30, 12, 48),
    "test/fear/PublicTest_83872938.jpg": (37, 48, 0, 48),
    "test/surprise/PublicTest_52359086.jpg": (23, 33, 0, 34),
}
train_std = x_train_all.reshape(len(x_train_all), -1).std(axis=1)
flattest = int(np.argmin(train_std))
odd_x = np.stack([data.read_gray48(course.SAMPLE_DIR / name) for name in ODD_FACES] + [x_train_all[flattest]])
odd_y = [data.CLASS_NAMES.index(name.split("/")[1]) for name in ODD_FACES] + [int(y_train_all[flattest])]
odd_what = list(ODD_FACES.values()) + [f"least contrast (std {train_std[flattest]:.1f})"]
odd_seed, odd_best = evaluate.predict_proba(model, odd_x), evaluate.predict_proba(best_model, odd_x)
odd_maps = maps_of(odd_x)
fig = saliency.plot_maps(odd_x, odd_maps, titles=[
    f"{what}\nlabel {data.CLASS_NAMES[y]}\n{first_name}: {data.CLASS_NAMES[ps.argmax()]}\n"
    f"best: {data.CLASS_NAMES[pb.argmax()]}"
    for what, y, ps, pb in zip(odd_what, odd_y, odd_seed, odd_best)], suptitle="chapter 2's odd faces")
plots.save_fig("07_saliency_odd")
plt.show()

# %% [markdown]
# How to read the three figures (the galleries of correct faces and mistakes change with the data, the odd faces
# do not):
#
# - **Where the heat sits on the faces both models get right.** Eyes, brows and mouth are where the seven
#   expressions differ (section 7.5); a model that relies on them lights them up. Compare the two models,
#   remembering that a coarser map reflects its layer's resolution (6x6 in `best`'s four networks), not the
#   model's quality.
# - **The mistakes.** A map on the mouth of a face called *happy* says what the model took for a smile; a map on
#   hair, background or a hand says the model answered from something that is not the expression.
# - **Grad-CAM and occlusion disagree** in places. Grad-CAM is a first-order, local reading through one layer
#   (and the first model's 8x8 layer is followed by more convolutions, so its map is only "roughly where");
#   occlusion measures what removing a patch really does, but a flat grey square is itself an unusual input.
#   Trust what both show.
# - **Images without a face.** Both models still answer: the web page's text notice is *happy* for the first
#   model and *neutral* for `best`, the placeholder (a white square with an X, on black) *sad* for both (its label
#   is *sad* too), and the maps point at whatever structure there is, a line of text, the edge of the square. The
#   softmax has no "no face" answer (chapter 8 puts a face detector in front for that). On an entirely blank
#   image, the last column in full mode (chapter 2: the blank training images carry five different labels), there
#   is no pattern to point at: both occlusion maps and the first model's Grad-CAM come out flat, but `best`'s
#   Grad-CAM is a bright blob in the middle. Its convolutions pad the borders with zeros (the first model's do
#   not), so even on a constant image its maps differ between the middle and the edges: the blob is the layer's
#   response to position, not evidence in the image.
# - Whether the models "look at" the watermarks is exercise 7; it can be answered from these maps.
#
# ## 7.13 Remembered or easier? A control for section 7.9 (optional)
#
# Section 7.9 found that the first model scores better on the test faces that also occur in `train` than on the
# others. Two stories fit that gap, and the chapter so far cannot tell them apart:
#
# - **remembered**: the model trained on those very images (some of them several times per epoch, since `train`
#   holds several copies of some), and scores them partly from memory;
# - **easier**: the images that were found twice on the web are popular stock photos of strong, posed
#   expressions, easier for any model, whether it has seen them or not.
#
# A **control** separates them: train two models that differ *only* in whether the training copies of those test
# faces are in their training data, and score both on the duplicated test faces and on the rest.
#
# - Model **with**: a random set of training faces, plus every training face that is an exact or near copy
#   (section 7.9's hashes) of a duplicated test face.
# - Model **without**: the same random set, plus as many other training faces instead of the copies, so both
#   train on the same number of faces with the same recipe, seed and number of epochs.
#
# If the gap is memory, *with* beats *without* on the duplicated faces and not on the rest. If the faces are easier,
# *without* (which never saw them) scores them higher than the rest too, and *with* gains little on them. The recipe
# is the one chapter 9's CPU ladder kept at a budget like this one: `best`'s network with chapter 5's Adam,
# augmentation and label smoothing, and a moving average of the weights at 0.98 (the ladder's
# `cpu_layout+residual+ema`, 0.48 validation accuracy after 8 epochs on 5,168 faces; `best`'s SGD recipe lost 10
# points there). Each model trains on `CONTROL_FACES` faces plus the copies or their stand-ins for `CONTROL_EPOCHS`
# epochs (full mode: 4,000 faces and 12 epochs), and `CONTROL_SELECT` validation faces (1,500 in full mode), none of
# them a copy, choose the epoch. A model this small, trained 12 short epochs, remembers less than the first model
# (4.2M parameters, 52 epochs over every training face): the control measures what this recipe remembers at this
# budget, a lower bound for the bundled models.

# %%
from fer_helpers import recipes

dup_faces = x_test[duplicate]
copy_fit = (data.near_duplicates_of(x_train, dup_faces, max_distance=NEAR_MAX_BITS) if duplicate.any()
            else np.zeros(len(y_train), bool))  # near_duplicates_of's mask includes the exact copies
copy_val = (data.near_duplicates_of(x_val, dup_faces, max_distance=NEAR_MAX_BITS) if duplicate.any()
            else np.zeros(len(y_val), bool))
n_copies = int(copy_fit.sum() + copy_val.sum())
others = np.flatnonzero(~copy_fit)
rng = np.random.default_rng(0)
shared = rng.choice(others, size=min(CONTROL_FACES, len(others) - n_copies), replace=False)
stand_ins = rng.choice(np.setdiff1d(others, shared), size=n_copies, replace=False)
control_sets = {
    "with": (np.concatenate([x_train[shared], x_train[copy_fit], x_val[copy_val]]),
             np.concatenate([y_train[shared], y_train[copy_fit], y_val[copy_val]])),
    "without": (x_train[np.concatenate([shared, stand_ins])], y_train[np.concatenate([shared, stand_ins])])}
x_select, y_select, _ = at_most(x_val[~copy_val], y_val[~copy_val], CONTROL_SELECT)  # chooses the epoch; no copy
print(f"{duplicate.sum()} duplicated test faces; {n_copies} training faces are exact or near copies of them "
      f"({int(copy_val.sum())} of those in the validation split); each control model trains on "
      f"{len(control_sets['with'][1])} faces, {len(shared)} of them shared, and selects on {len(y_select)} faces")

# %%
control_recipe = recipes.CPU_LADDER_BASE.but(  # what chapter 9's CPU ladder kept: cpu_layout+residual+ema
    "duplicate_control", architecture="small_resnet", ema=0.98, epochs=CONTROL_EPOCHS,
    model_kwargs={"widths": (16, 32, 64, 128), "blocks": (0, 1, 1, 1)})
control_proba = {}
start = time.perf_counter()
for name, (x_fit, y_fit) in control_sets.items():
    net, _ = recipes.train_recipe(control_recipe, x_fit, y_fit, x_select, y_select,
                                  course.RUNS_DIR / f"07_duplicate_control_{session.mode}" / name, verbose=0, seed=0)
    control_proba[name] = evaluate.predict_proba(net, x_test)
print(f"two control models: {(time.perf_counter() - start) / 60:.1f} min on this machine")

# %%
groups = {"duplicated": duplicate, "the rest": ~duplicate}
control_rows = [{"model": name, "test faces": group, "faces": int(members.sum()),
                 **evaluate.summary(y_test[members], proba[members])}
                for name, proba in [(first_name, test_proba), ("control: with", control_proba["with"]),
                                    ("control: without", control_proba["without"])]
                for group, members in groups.items() if members.any()]
pd.DataFrame(control_rows).round(3)

# %% [markdown]
# Two differences answer the question, each with its uncertainty:
#
# - **remembered?** *with* minus *without* on the same duplicated faces: a paired comparison (section 7.11), so
#   McNemar's test and a paired bootstrap interval (`evaluate.paired_bootstrap`) of the accuracy difference. The
#   same difference on the rest of the test faces is the yardstick: two training runs differ a little anyway.
# - **easier?** The duplicated faces against the rest, scored by *without*, the model that never saw them. These
#   are different faces, so the interval comes from resampling each group on its own (a plain, unpaired
#   bootstrap).

# %%
for group, members in groups.items():
    if not members.any():
        continue
    boot = evaluate.paired_bootstrap(y_test[members], control_proba["without"][members],
                                     control_proba["with"][members], metric="accuracy")
    mcnemar = evaluate.paired_comparison(y_test[members], control_proba["without"][members],
                                         control_proba["with"][members])
    print(f"remembered? {group} ({members.sum()} faces): with - without = {boot['difference']:+.3f} "
          f"(95% interval {boot['low']:+.3f} to {boot['high']:+.3f}); only with right {mcnemar['only_b']}, only "
          f"without right {mcnemar['only_a']}, McNemar p = {mcnemar['p_value']:.2g}")


def gap_interval(right_a, right_b, resamples=2000, seed=0):
    """Accuracy of group a minus group b (different faces), with a 95% bootstrap interval resampling each group."""
    rng = np.random.default_rng(seed)
    gaps = [rng.choice(right_a, len(right_a)).mean() - rng.choice(right_b, len(right_b)).mean()
            for _ in range(resamples)]
    return right_a.mean() - right_b.mean(), *np.quantile(gaps, [0.025, 0.975])


if duplicate.any() and (~duplicate).any():
    for name, proba in [(first_name, test_proba), ("control: without", control_proba["without"]),
                        ("control: with", control_proba["with"])]:
        right = proba.argmax(axis=1) == y_test
        gap, low, high = gap_interval(right[duplicate], right[~duplicate])
        print(f"easier? {name}: duplicated - rest = {gap:+.3f} (95% interval {low:+.3f} to {high:+.3f})")

# %% [markdown]
# How to read it. If *without* already scores the duplicated faces clearly above the rest (an interval above
# zero), those faces are easier, whoever looks at them. If, on top of that, *with* beats *without* on them (an
# interval above zero) by more than it does on the rest, part of the gap is memory. The two can both be true, and
# the first model's gap of section 7.9 mixes both, at its own, longer training. Neither reading changes the advice
# of section 7.10: report the figure without the copies beside the plain one; the control says how much the
# plain one owes to memory.
#
# In the run saved here (full mode) both are true. *Easier*: the model that never saw the copies scores the 240
# duplicated faces 0.116 above the rest (0.579 against 0.463; 95% interval +0.054 to +0.182). *Remembered*: the
# model that trained on the copies scores those same 240 faces 0.075 higher than the one that did not (0.654
# against 0.579; interval +0.021 to +0.129; 31 faces only it gets right, 13 only the other, McNemar p = 0.01),
# while on the rest of the test faces the two differ by 0.012 (interval -0.001 to +0.028, p = 0.1): two
# training runs' usual difference. So chapter 5's gap of 0.135 on the duplicated faces is partly easier faces
# (0.116 for a small model that never saw them) and partly memory (0.075 more for one that did); how the two
# share the gap of a model trained as long as chapter 5's, this small control cannot say.
#
# ## Summary
#
# - Accuracy counts faces and is dominated by *happy*: compare with a majority-class baseline and report macro-F1
#   beside accuracy (weighted-F1 hides a missing emotion, macro-F1 does not).
# - Precision, recall and F1 come from the confusion matrix; the row-normalised matrix shows what each emotion is
#   mistaken for. Fear, sad, angry and neutral blur into one another, for human annotators too.
# - The most confident mistakes are a cheap audit: many are doubtful labels, not model errors.
# - A reliability diagram and ECE say whether confidences mean what they say; a temperature fitted on validation,
#   never on test, fixes them without changing a single prediction.
# - Flip TTA and FER2013's copies of training faces (exact and near, in test and in validation) change the
#   figures: report them beside the plain figure, with the cost, the split named and how the copies were found.
# - Two models are compared on the same faces: per-class figures side by side, and McNemar's paired test (7.11).
# - Optional: Grad-CAM and occlusion draw where one model's answer on one face comes from, safest where they
#   agree (7.12); only a control separates "remembered" from "easier" test faces (7.13).
#
# ## Exercises
#
# Answers that can be checked have a line under the exercise (run `from fer_helpers import check` first).
#
# 1. A "model" guesses at random, each emotion with probability 1/7, without looking at the face. On our copy of
#    PublicTest (3,435 faces; 467, 56, 496, 895, 607, 653 and 261 in `data.CLASS_NAMES` order), work out its
#    expected accuracy and macro-F1 from the definitions of 7.3, using the expected counts. Why is its macro-F1
#    below 1/7, and which baseline of 7.2 should a model beat?
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
#
# ### Exercises on the optional sections (optional)
#
# 7. **Does the model use the watermark?** Look at the watermarked faces in section 7.12's figure of odd faces.
#    (a) From the maps alone: for each model, does the heat sit on the watermark's text or on the eyes and mouth?
#    (b) Measure it: with `saliency.share_inside(maps, mask)` compute, for each watermarked face, the share of each
#    map's positive mass inside the watermark's band (`WATERMARKS` gives its rows and columns), and compare it with
#    the band's share of the image. (c) Cover the band with the face's mean grey and predict again: does the answer
#    change? Why does (c) alone not prove that the watermark mattered? (code)
# 8. Section 7.13's control trained each model for `CONTROL_EPOCHS` epochs. Which way would you expect the
#    "remembered" difference to move with three times as many epochs, and why is the answer for the first model (52
#    epochs of every training face) not simply the control's figure?

# %% [markdown] tags=["solution"]
# ## Solutions
#
# 1. A guess is right with probability 1/7 whatever the face, so the expected accuracy is 1/7 = 0.143. For each
#    class, recall = 1/7 (a seventh of its faces are called it) and precision = its share of the faces (the
#    guesses called it are a random seventh of all faces), so F1 = 2 x share x (1/7) / (share + 1/7): 0.185 for
#    *happy* (share 0.261), 0.029 for *disgust* (0.016). Macro-F1, their plain mean, is 0.131: below 1/7,
#    because F1 is a harmonic mean and the small classes pull it down. A model should beat both baselines on
#    both figures; the always-*happy* one of 7.2 is the harder on accuracy, this one on macro-F1. The cell below
#    computes it and checks it against 200 simulated guessers.

# %% tags=["solution"]
test_counts = np.array([467, 56, 496, 895, 607, 653, 261])  # our copy of PublicTest, in CLASS_NAMES order
share = test_counts / test_counts.sum()
print(f"expected counts: accuracy {1 / 7:.3f}, macro-F1 {np.mean(2 * share / 7 / (share + 1 / 7)):.3f}")
y_public = np.repeat(np.arange(7), test_counts)
guessers = [evaluate.summary(y_public, np.random.default_rng(seed).integers(0, 7, len(y_public)))
            for seed in range(200)]
print(f"200 simulated guessers: accuracy {np.mean([g['accuracy'] for g in guessers]):.3f}, "
      f"macro-F1 {np.mean([g['macro_f1'] for g in guessers]):.3f}")

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
t_test = evaluate.fit_temperature(y_test, test_proba)
ece_test_fitted = evaluate.expected_calibration_error(y_test, evaluate.apply_temperature(test_proba, t_test),
                                                      bins=CALIBRATION_BINS)
print(f"T fitted on validation {temperature:.3f} -> test ECE {ece_after:.4f}")
print(f"T fitted on test       {t_test:.3f} -> test ECE {ece_test_fitted:.4f}  (not a measurement)")

# %% [markdown] tags=["solution"]
# 4. Missing: the split (PublicTest, not the PrivateTest most papers use), the single-pass figure beside the TTA one
#    and the cost of TTA, the figure without the copies of training faces, macro-F1 beside accuracy, and how the
#    model was selected (on a validation split carved from train, or on the test split itself). To compare with this
#    chapter, a reader needs the same split, the same protocol (single pass or the same TTA) and both metrics.
# 5. Validation faces that are also training faces are scored partly from memory, so a large count makes chapter 5's
#    validation figure optimistic. It also tilts the choice of epoch: the epochs that memorise more of their
#    training faces gain more on these faces, so choosing on validation leans towards overfitting. FER2013's `train`
#    repeats images of its own (chapter 2 counted 1,236 extra copies among its 28,709 files), and a random split
#    scatters the copies across both parts: on the full data, 210 of the 2,871 validation faces have an identical
#    copy in the model's training part. That is 7% of the split, worth stating beside the validation figure;
#    de-duplicating `train` before splitting would remove it.

# %% tags=["solution"]
_, x_val_full, _, _ = data.train_val_split(x_train_all, y_train_all, VALIDATION_FRACTION, seed=42)
trained_on = set(data.pixel_hashes(x_train))
val_duplicates = sum(h in trained_on for h in data.pixel_hashes(x_val_full))
print(f"validation faces byte-identical to a face the model trained on: {val_duplicates} of {len(x_val_full)}")

# %% [markdown] tags=["solution"]
# 6. The same three steps as section 7.7, for each model: fit *T* on validation, apply it to test, compare the ECE
#    (15 bins). *T* below 1 means the model was under-confident (its probabilities get sharpened), above 1
#    over-confident. The cell prints both; read the direction from *T* and the size of the correction from how far
#    the ECE moves. On the run saved here chapter 5's model needs the larger correction (T = 0.697, under-confident;
#    ECE 0.0683 to 0.0471). `best`'s T = 0.844 says under-confident too, less so, and its test ECE, 0.0362, is
#    about half the first model's; scaling lowers it to 0.0233. A temperature fitted on validation fixes a real
#    miscalibration; a model that is already nearly calibrated has less to gain, and on other faces the fitted
#    correction can move its ECE the wrong way.

# %% tags=["solution"]
for name, v_proba, t_proba in [(first_name, val_proba, test_proba), ("best", best_val_proba, best_test_proba)]:
    t = evaluate.fit_temperature(y_val, v_proba)
    before = evaluate.expected_calibration_error(y_test, t_proba, bins=CALIBRATION_BINS)
    after = evaluate.expected_calibration_error(y_test, evaluate.apply_temperature(t_proba, t), bins=CALIBRATION_BINS)
    print(f"{name}: T = {t:.3f} (fitted on validation); test ECE {before:.4f} -> {after:.4f}")

# %% [markdown] tags=["solution"]
# 7. (a) Read the rows of both models over the five watermarked faces: a map whose hot region follows the band of
#    text, rather than the eyes and the mouth, is evidence that the model uses the watermark. (b) The cell below
#    prints the share of each map inside the band beside the band's share of the image. A share near the band's
#    own share, or below it, says the model does not lean on that region more than on any other; a share well
#    above it says it does. The band often crosses the cheeks or the mouth, so a high share can also mean the
#    model uses the face *under* the text. (c) Covering the band removes the watermark and the face under it
#    at once, and a flat grey band is itself an input the model never saw in training: a changed answer says the
#    region mattered, not that the *text* did. The clean test would be the same photo with and without its
#    watermark; chapter 2's near-copy pairs sometimes provide one.
#
#    What the table shows for these five faces in the run saved here (the first model is chapter 5's run; the
#    occlusion columns are coarser in quick mode): the first model's Grad-CAM puts more than the band's share
#    inside the band on one face only, PublicTest_44679916, whose band also crosses the hands on the cheeks;
#    `best`'s does on four of the five, but its map is one blob on the middle of the face, and the bands cross the
#    cheeks and the mouth. Covering the band changes three answers: the first model's on PublicTest_32023453 (*angry*
#    to *fear*; the band covers the nose and the top of the open mouth) and on PublicTest_83872938 (*surprise* to
#    *neutral*; the band covers the mouth and the chin), and `best`'s on PublicTest_93710701 (*sad* to *happy*; the
#    band covers the nose and a cheek). Every band covers part of the face, so
#    neither test shows that the text itself is used, and both show how easily a region test is confounded by
#    what lies under the region.

# %% tags=["solution"]
rows = []
for name, (top, bottom, left, right) in WATERMARKS.items():
    i = list(ODD_FACES).index(name)
    band = np.zeros((48, 48), bool)
    band[top:bottom, left:right] = True
    covered = odd_x[i:i + 1].copy()
    covered[0, band] = int(odd_x[i].mean())
    row = {"face": name.split("/")[-1], "band's share of the image": band.mean()}
    for model_name, net, proba in [(first_name, model, odd_seed), ("best", best_model, odd_best)]:
        for kind in ("Grad-CAM", "occlusion"):
            row[f"{model_name}: {kind}"] = saliency.share_inside(odd_maps[f"{model_name}: {kind}"][i:i + 1], band)[0]
        after = evaluate.predict_proba(net, covered)[0]
        row[f"{model_name}: band covered"] = (f"{data.CLASS_NAMES[proba[i].argmax()]} {proba[i].max():.2f} -> "
                                              f"{data.CLASS_NAMES[after.argmax()]} {after[proba[i].argmax()]:.2f}")
    rows.append(row)
pd.DataFrame(rows).set_index("face").round(2)

# %% [markdown] tags=["solution"]
# 8. More epochs let a network fit its training faces more closely, so the "remembered" difference should grow
#    (and the duplicated faces' advantage for *with* with it); the "easier" gap of *without* should not depend on
#    it much. The first model is a different network (4.2M parameters against 0.49M), trained 52 epochs on all
#    25,838 fitting faces, with each duplicated image present in all its copies: more capacity and more
#    repetitions than the control. The control bounds its memory from below; only the same control at the first
#    model's own recipe and budget would measure it.

