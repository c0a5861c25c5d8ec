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
# # 2. The dataset: FER2013, its splits and its flaws
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/fer-course/fer-course/blob/main/notebooks/02_dataset.ipynb)
# [![Open In Kaggle](https://kaggle.com/static/images/open-in-kaggle.svg)](https://kaggle.com/kernels/welcome?src=https://github.com/fer-course/fer-course/blob/main/notebooks/02_dataset.ipynb)
# [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/fer-course/fer-course/main?labpath=notebooks%2F02_dataset.ipynb)
#
# Every number in this course is a number *about FER2013*, so before training anything we look hard at the data:
# where they come from, how they are split and balanced, what they look like, and what is wrong with them. By
# the end of this chapter you will be able to:
#
# - read FER2013 from any of the layouts it is published in, and say what each split is (and is not);
# - measure the class imbalance and the pixel statistics, and say what they mean for training and for scores;
# - find byte-identical and near-identical images with hashes, within a split and across train and test;
# - find faces that are not faces and labels that contradict each other, and say what all this implies for
#   every accuracy figure in the rest of the course.
#
# | mode | data | 2-core CPU | one GPU |
# |---|---|---|---|
# | quick (`FER_QUICK=1`, the default) | the committed sample (20 faces per class per split) | 10 s (measured under nbval on 2026-12-07, 2 cores otherwise idle) | about the same: no model here |
# | full (`FER_QUICK=0`) | our copy of FER2013: Training + PublicTest, 28,709 + 3,435 = 32,144 faces (no PrivateTest) | 25 s (measured on 2026-12-07, 2 cores otherwise idle; the very first read of the JPEGs takes longer) | about the same |
#
# **Modes.** This chapter trains nothing. Quick mode reads the committed sample (20 faces per class per split,
# its test part labelled "test (the committed sample)"): the class bars are flat and few or no copies turn up.
# Full mode reads all of our copy of FER2013 in under a minute; every figure quoted in the text comes from that
# run, named in the first output line below. (CPU times measured on an idle 2-core CPU.)

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
# This chapter trains nothing, so full mode is cheap (under a minute): it only reads all the faces.
# (The banner's note about hours of CPU time concerns the training chapters.)
NEAR_MAX_BITS = 12             # near duplicates: average hashes (16x16 = 256 bits) at most this many bits apart
LOW_STD = 5.0                  # images whose pixels vary less than this (of 0..255) are near-constant
PAIRS_SHOWN = 8                # how many duplicate pairs each figure shows
SEED = 0                       # which random faces the grids show

# %% [markdown]
# ## 2.1 Where the faces come from, and what the splits are
#
# FER2013 was made for a Kaggle contest at the ICML 2013 workshop *Challenges in Representation Learning*
# (Goodfellow et al., 2013): faces that Pierre-Luc Carrier and Aaron Courville found with Google image searches
# for emotion words (section 2.9), cropped to 48x48 grayscale, published as one file, `fer2013.csv`, with one row
# per face and three columns:
#
# | column | content |
# |---|---|
# | `emotion` | a code: 0 angry, 1 disgust, 2 fear, 3 happy, **4 sad**, 5 surprise, **6 neutral** (not alphabetical) |
# | `pixels` | 2,304 numbers 0..255, row by row |
# | `Usage` | `Training` (28,709), `PublicTest` (3,589: the contest's public leaderboard), `PrivateTest` (3,589: the final ranking) |
#
# Most people now download a copy re-packed as image folders, and the copies differ:
#
# | copy | `train/` | `test/` |
# |---|---|---|
# | Kaggle `aadityasinghal/facial-expression-dataset` (the one this course uses) | Training | PublicTest |
# | Kaggle `msambare/fer2013` and others | Training | PublicTest **+** PrivateTest (7,178) |
# | `fer2013.csv` | `Usage == "Training"` | `Usage == "PublicTest"` (and `PrivateTest` as a third split) |
#
# So "test accuracy on FER2013" means different sets in different places: papers mostly report PrivateTest.
# In this course, **test means PublicTest**, written "test (PublicTest)". `data.load_split` reads all these
# layouts (image folders, also nested as `train/train/<class>`, with capitalised or synonym class names like
# `Angry` or `happiness`, JPEG or PNG; or the CSV) into the same arrays; `data/README.md` says how to get each
# copy. Let us read the two splits:

# %%
import time

from fer_helpers import data

start = time.perf_counter()
train = data.load_split(session.data, "train")
test = data.load_split(session.data, "test")
test_name = "test (PublicTest)" if session.data_source != "sample" else "test (the committed sample)"
print(f"read {len(train):,} training and {len(test):,} {test_name} faces in {time.perf_counter() - start:.1f} s")
print(f"arrays: x {train.x.shape} {train.x.dtype}, y {train.y.shape} {train.y.dtype} (class indices)")
print("first files:", ", ".join(train.files[:3]))

# %% [markdown]
# The image-folder copies keep the CSV's `Usage` in each file name (`Training_10118481.jpg`,
# `PublicTest_10709121.jpg`). Counting the prefixes checks cheaply that a split holds what its folder name
# claims, and tells a PublicTest-only `test/` from a PublicTest + PrivateTest one at a glance.
#
# Notice also that our `test/` holds 3,435 faces, not the CSV's 3,589: this copy lacks 154 PublicTest faces, all
# *surprise* (`data/README.md`). Every test (PublicTest) figure in this course is on these 3,435 faces, and
# *surprise* is rarer in our test split than in train (section 2.2).

# %%
from collections import Counter

import pandas as pd


def usage_of(file_name: str) -> str:
    """'angry/PublicTest_10709121.jpg' -> 'PublicTest'; '?' for names without the prefix."""
    base = file_name.rsplit("/", 1)[-1]
    return base.split("_", 1)[0] if "_" in base else "?"


pd.DataFrame({"train/": Counter(map(usage_of, train.files)), "test/": Counter(map(usage_of, test.files))}).fillna(0).astype(int)

# %% [markdown]
# The CSV's label codes are the classic trap: sorted by name, *neutral* comes before *sad*, but in the CSV
# neutral is 6 and sad is 4. A loader that maps codes to folder order silently swaps two classes; nothing
# crashes, the scores are just wrong. The cell below writes a tiny `fer2013.csv` (one sample face per class, with
# its CSV code) and reads it back with the same `load_split`.

# %% tags=["nbval-check-output"]
import csv
import tempfile
from pathlib import Path

import numpy as np

sample_train = data.load_split(course.SAMPLE_DIR, "train", verbose=False)  # the committed sample, in every mode
code_of = {name: code for code, name in data.CSV_CODES.items()}
with tempfile.TemporaryDirectory() as folder:
    csv_path = Path(folder) / "fer2013.csv"
    with open(csv_path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["emotion", "pixels", "Usage"])
        for label, name in enumerate(data.CLASS_NAMES):
            face = sample_train.x[np.flatnonzero(sample_train.y == label)[0]]
            writer.writerow([code_of[name], " ".join(map(str, face.ravel())), "Training"])
    from_csv = data.load_split(csv_path, "train", verbose=False)
table = pd.DataFrame({"CSV code": [code_of[data.CLASS_NAMES[i]] for i in from_csv.y],
                      "our index": from_csv.y, "class": [data.CLASS_NAMES[i] for i in from_csv.y]})
print(table.to_string(index=False))
print("pixels read back unchanged:", all(np.array_equal(from_csv.x[i], sample_train.x[np.flatnonzero(sample_train.y == i)[0]])
                                         for i in range(data.NUM_CLASSES)))

# %% [markdown]
# Our index is the alphabetical one of the Kaggle folders (`data.CLASS_NAMES`): output *i* of every model in
# this course is `CLASS_NAMES[i]`, whichever layout the faces came from.
#
# ## 2.2 How the classes are balanced
#
# A classifier learns the class frequencies along with the faces: it can ignore a rare class and lose little
# accuracy. So we need the counts before we can judge any score.

# %%
counts = pd.DataFrame({"train": data.class_counts(train.y), test_name: data.class_counts(test.y)})
shares = (100 * counts / counts.sum()).round(1).add_suffix(" %")
table = pd.concat([counts, shares], axis=1)
table.loc["total"] = [*counts.sum(), 100.0, 100.0]
table

# %%
from fer_helpers import plots

import matplotlib.pyplot as plt

fig = plots.plot_class_counts({"train": data.class_counts(train.y), test_name: data.class_counts(test.y)},
                              title=f"faces per class ({session.mode} mode: {len(train):,} train, {len(test):,} test)")
plots.save_fig("02_class_counts")
plt.show()
majority = counts["train"].idxmax()
if counts["train"].max() == counts["train"].min():
    print("all classes are equally large in this data (the balanced sample)")
else:
    print(f"largest class {majority}, {counts['train'].max() / counts['train'].min():.1f}x the smallest "
          f"({counts['train'].idxmin()})")
from fer_helpers import evaluate

always_majority = np.full(len(test.y), data.CLASS_NAMES.index(majority))
print(f"always answering '{majority}' scores {counts.loc[majority, test_name] / counts[test_name].sum():.1%} accuracy "
      f"on {test_name}, macro-F1 {evaluate.summary(test.y, always_majority)['macro_f1']:.3f}")

# %% [markdown]
# What to notice:
#
# - *disgust* has 436 training faces, 1.5% of train; *happy* has 7,215 (25.1%), 16.5 times more.
# - test (PublicTest) has much the same shape (except *surprise*: 7.6% of test against 11.0% of train, because
#   of the 154 missing faces). So the imbalance is in every score: always saying *happy* gets 26.1% accuracy on
#   our copy without looking at a face (24.9% on the complete PublicTest: 895 of its 3,589 faces, since the 154
#   missing are all *surprise*; the data's README). That is the floor any accuracy must be
#   compared to, and the reason the course reports **macro-F1** beside accuracy.
# - Chapter 3 measures the remedies: class weights in the loss and augmentation.
#
# **Macro-F1** in brief (chapter 7, section 7.3, derives it from a confusion matrix): for one class, the
# **precision** is the share of the faces the model calls that class that really belong to it, the **recall** the
# share of that class's faces the model finds, and **F1** = 2 x precision x recall / (precision + recall), high
# only when both are. Macro-F1 is the plain mean of the seven classes' F1: a class the model never predicts
# adds an F1 of 0, however small it is.
#
# ## 2.3 What the faces look like
#
# Statistics come later; first look. One row per emotion, random faces from the committed sample (the part of
# FER2013 this course redistributes):

# %%
fig = plots.class_grid(sample_train.x, sample_train.y, per_class=10, seed=SEED)
plots.save_fig("02_class_grid")
plt.show()

# %% [markdown]
# The faces are roughly centred and fill most of the frame, but pose, age, lighting, glasses, hands and
# watermarks vary a lot; some are drawings, statues or masks; in the *surprise* row one image is the text of a web
# page's "photo no longer available" notice; and some expressions look nothing like their label.
# At 48x48 pixels people disagree with many labels: Goodfellow et al. report that their own labellers reached
# 65 ± 5% accuracy on a sample of the data (their figure, not ours). Keep it in mind when a model "only" reaches
# 65-70%, the range of many published FER2013 results (other people's figures, mostly on PrivateTest).
#
# ## 2.4 Pixel statistics
#
# Three practical questions: how bright and contrasted are the faces (input scaling), does that differ between
# classes (a shortcut a model could learn instead of the expression), and between train and test (a shift that
# would make test scores lower than validation ones)?

# %%
def pixel_table(x, y):
    """Per class, in grey levels (0..255): the mean brightness of its images, how much that brightness varies
    from image to image (spread), and the mean contrast (the std of an image's pixels)."""
    flat = x.reshape(len(x), -1).astype(np.float32)
    per_image = pd.DataFrame({"class": [data.CLASS_NAMES[i] for i in y], "brightness": flat.mean(1),
                              "contrast": flat.std(1)})
    grouped = per_image.groupby("class")
    table = pd.DataFrame({"brightness": grouped["brightness"].mean(), "spread": grouped["brightness"].std(),
                          "contrast": grouped["contrast"].mean()}).reindex(data.CLASS_NAMES)
    table.loc["all"] = [per_image["brightness"].mean(), per_image["brightness"].std(), per_image["contrast"].mean()]
    return table


stats = pd.concat({"train": pixel_table(train.x, train.y), test_name: pixel_table(test.x, test.y)},
                  axis=1).astype(float).round(1)
print(f"all training pixels: mean {train.x.mean():.1f}, std {train.x.std():.1f} (of 0..255)")
stats

# %% [markdown]
# Brightness per image, train against test: if the two histograms differ, a model tuned on one is being tested
# on a different kind of picture.

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 3.3))
for split_name, split in [("train", train), (test_name, test)]:
    flat = split.x.reshape(len(split.x), -1)
    axes[0].hist(flat.mean(1), bins=40, range=(0, 255), density=True, histtype="step", lw=1.5, label=split_name)
    axes[1].hist(flat.std(1), bins=40, range=(0, 110), density=True, histtype="step", lw=1.5, label=split_name)
axes[0].set_xlabel("mean pixel value of an image (brightness)")
axes[1].set_xlabel("std of an image's pixels (contrast)")
for ax in axes:
    ax.set_ylabel("share of images (density)")
    ax.legend()
    ax.grid(alpha=0.3)
fig.tight_layout()
plots.save_fig("02_brightness")
plt.show()

# %% [markdown]
# Train and test have the same brightness and contrast distributions: no shift between the splits. The classes
# do differ: *surprise* faces are brightest on average (146 grey levels), *sad* darkest (121). But the spread
# within one class, about 33 grey levels, is larger than any gap between classes, so brightness is a weak cue at
# best, and brightness jitter in training (chapter 3) keeps a model from leaning on it. All pixels together have
# mean 129.5 and std about 65; the models simply divide by 255 (a `Rescaling` layer inside the model, so a
# saved model takes raw 0..255 faces). Too few to see at the far left of the contrast histogram sit images with
# no contrast at all: section 2.7.

# %% [markdown]
# ### Mean faces: the shape of each expression (optional)
#
# The average of all faces of one emotion: where the expression has a consistent shape (an open mouth for
# *surprise*, a smile for *happy*), it survives the averaging. The first row is the plain average. The second
# standardises each face first (minus its own mean, divided by its own std) and shows the class average minus the
# average of all faces: red where the class is brighter than the typical face, blue where darker. That isolates
# the *shape* of each expression.

# %%
flat = train.x.reshape(len(train.x), -1).astype(np.float32)
standardised = ((flat - flat.mean(1, keepdims=True)) / np.maximum(flat.std(1, keepdims=True), 1.0)).reshape(train.x.shape)
overall = standardised.mean(axis=0)
fig, axes = plt.subplots(2, data.NUM_CLASSES, figsize=(12, 4.1))
for label, name in enumerate(data.CLASS_NAMES):
    members = train.y == label
    axes[0, label].imshow(train.x[members].mean(axis=0), cmap="gray", vmin=0, vmax=255)
    axes[0, label].set_title(f"{name}\n({members.sum():,} faces)", fontsize=9)
    axes[1, label].imshow(standardised[members].mean(axis=0) - overall, cmap="RdBu_r", vmin=-0.5, vmax=0.5)
for ax in axes.ravel():
    ax.axis("off")
fig.text(0.01, 0.47, "standardised class mean minus the standardised mean of all faces", fontsize=9)
fig.tight_layout(rect=(0, 0, 1, 1))
plots.save_fig("02_mean_faces")
plt.show()

# %% [markdown]
# In the second row, *happy* has a bright band where teeth show, with darker patches on either side above it;
# *surprise* a dark, round open mouth; *neutral* a closed mouth; *disgust* is blotchy because it averages only
# 436 faces; *angry*, *fear* and *sad* differ only faintly from the average face, and are the classes models on
# FER2013 typically confuse most (chapter 7 checks ours).

# %% [markdown]
# ## 2.5 Exact duplicates: the same image twice
#
# A web crawl finds the same photo on many pages. Copies within train only waste a little time, but a copy in
# **both** train and test is a leak: the model has seen the answer, and the test figure rises for a reason that
# will not carry over to new faces.
#
# Comparing every pair pixel by pixel would take 28,709 x 3,435 comparisons. A **hash** does it in one pass: a
# short fingerprint of the bytes, equal for equal images and different (with overwhelming probability) as soon
# as one bit differs. With the training hashes in a set, each test image is looked up in constant time. The
# whole idea fits in three lines:

# %%
import hashlib

train_hashes = [hashlib.blake2b(image.tobytes(), digest_size=12).hexdigest() for image in train.x]
print("the same as the helper:", train_hashes[:50] == data.pixel_hashes(train.x[:50]))
groups = pd.Series(range(len(train_hashes))).groupby(train_hashes).agg(list)
copies = groups[groups.map(len) > 1]
print(f"train: {len(copies):,} images occur more than once, making {sum(map(len, copies)) - len(copies):,} "
      f"extra copies; the most repeated one occurs {max(map(len, copies), default=1)} times")

# %% [markdown]
# We hash the *decoded pixels*, not the files: the same pixels can be stored as different JPEG files. Now across
# the splits, with the helper that wraps the idea:

# %%
in_train = data.duplicates_of(test.x, train.x)
test_hashes = data.pixel_hashes(test.x)
pairs = []                                     # (test index, a training copy: one with another label if any)
for i in np.flatnonzero(in_train):
    members = groups[test_hashes[i]]
    pairs.append((i, next((j for j in members if train.y[j] != test.y[i]), members[0])))
disagree = [(i, j) for i, j in pairs if test.y[i] != train.y[j]]
print(f"{in_train.sum()} of {len(test):,} {test_name} faces ({in_train.mean():.1%}) are byte-identical to a "
      f"training face; {len(disagree)} of them have a training copy with a different label")


# %%
def show_pairs(top, bottom, top_titles, bottom_titles, name, note):
    """Pairs in columns: top row one image, bottom row its partner; saved as figures/<name>.png."""
    if len(top) == 0:
        print(f"no pairs in this data ({session.mode} mode); the saved outputs of this notebook show the full data")
        return
    images = list(top) + list(bottom)
    fig = plots.image_grid(images, titles=list(top_titles) + list(bottom_titles), columns=len(top), size=1.35)
    fig.suptitle(note, fontsize=10)
    fig.tight_layout()
    plots.save_fig(name)
    plt.show()


rng = np.random.default_rng(SEED)
shown = [pairs[k] for k in rng.permutation(len(pairs))[:PAIRS_SHOWN]]
show_pairs([test.x[i] for i, _ in shown], [train.x[j] for _, j in shown],
           [f"test: {data.CLASS_NAMES[test.y[i]]}" for i, _ in shown],
           [f"train: {data.CLASS_NAMES[train.y[j]]}" for _, j in shown],
           "02_duplicates", f"top: {test_name} faces; bottom: the identical training face")

# %% [markdown]
# 240 test (PublicTest) faces, 7.0%, have an exact copy in train. Most pairs carry the same label, so a model
# that memorised its training faces gets them right for free; a few carry another, and there the test set marks
# a correct memory as an error. Either way those 240 faces do not measure how the model does on *new* faces; from
# chapter 7 on, the course reports test (PublicTest) on all faces and on those without a copy in train
# (`~data.duplicates_of(test.x, train.x)`).
#
# ## 2.6 Near duplicates: the same photo, slightly changed
#
# Exact hashes miss copies re-cropped by a pixel, recompressed or brightened: one changed bit, a different hash.
# A **perceptual hash** survives such changes. The simplest, the *average hash*:
#
# 1. shrinks the image to a small grid (area averaging), forgetting detail and JPEG noise and softening small
#    shifts;
# 2. compares every cell with the image's mean brightness: 1 if brighter, 0 if not, forgetting brightness.
#
# Two images are compared by the **Hamming distance** of their hashes, the number of bits that differ. Here on a
# face of the sample, brightened, recompressed, moved by one pixel, and a different face:

# %% tags=["nbval-check-output"]
import cv2

face = sample_train.x[0]
variants = {"brightened by 40": np.clip(face.astype(int) + 40, 0, 255).astype(np.uint8),
            "JPEG quality 30": cv2.imdecode(cv2.imencode(".jpg", face, [cv2.IMWRITE_JPEG_QUALITY, 30])[1], 0),
            "moved 1 pixel": np.pad(face, ((0, 0), (1, 0)), mode="edge")[:, :48],
            "a different face": sample_train.x[-1]}
small = cv2.resize(face.astype(np.float32), (16, 16), interpolation=cv2.INTER_AREA)  # step 1
bits = small > small.mean()                                                          # step 2
print("hash as the helper computes it:", np.array_equal(bits.ravel(), data.average_hash(face[None])[0]))
for name, variant in variants.items():
    exact = data.pixel_hashes(variant[None]) == data.pixel_hashes(face[None])
    distance = int((data.average_hash(variant[None]) != data.average_hash(face[None])).sum())
    print(f"{name:>17}: same pixels {str(exact):>5} | average hashes differ in {distance:3d} of 256 bits")

# %% [markdown]
# Brightness and recompression cost one to three bits; a shift costs much more (17 bits for a single pixel),
# because edges move across the cells of the grid; a different face lands far away (unrelated images differ in
# roughly half the bits). So a copy shifted by even one pixel already lies beyond the 12-bit threshold used below
# (`NEAR_MAX_BITS`). The classic average hash shrinks to 8x8 (64 bits), too coarse for 48x48 faces: different
# faces collide. The table counts test faces whose nearest training face lies within a given distance, for both
# sizes, and how many of those are *not* exact copies:

# %%
start = time.perf_counter()
nearest = {}
for size in (8, 16):
    nearest[size] = data.nearest_by_hash(test.x, train.x, size=size)
rows = {}
for size, thresholds in [(8, (0, 2, 4)), (16, (0, 4, 8, 12, 16, 24))]:
    _, distance = nearest[size]
    for bits_apart in thresholds:
        close = distance <= bits_apart
        rows[f"{size}x{size}, <= {bits_apart} bits"] = {"test faces with a close train face": int(close.sum()),
                                                         "of which not exact copies": int((close & ~in_train).sum())}
print(f"nearest training face for every test face, two hash sizes: {time.perf_counter() - start:.1f} s")
pd.DataFrame(rows).T

# %% [markdown]
# With 8x8 hashes even "0 bits apart" includes faces that are not exact copies, and the count balloons with each
# extra bit. With 16x16 it grows slowly up to 8 bits, steadily to 16 and fast beyond, where look-alikes join;
# 12 bits is a cautious middle. The pairs decide; here are the nearest non-identical pairs around our threshold:

# %%
index16, distance16 = nearest[16]
near = np.flatnonzero((distance16 <= NEAR_MAX_BITS + 8) & ~in_train)
near = near[np.argsort(distance16[near], kind="stable")]
chosen = near[np.linspace(0, len(near) - 1, min(PAIRS_SHOWN + 4, len(near))).astype(int)] if len(near) else near
show_pairs([test.x[i] for i in chosen], [train.x[index16[i]] for i in chosen],
           [f"{distance16[i]} bits, {data.CLASS_NAMES[test.y[i]]}" for i in chosen],
           [f"train: {data.CLASS_NAMES[train.y[index16[i]]]}" for i in chosen],
           "02_near_duplicates", f"pairs up to {NEAR_MAX_BITS + 8} bits apart (16x16 average hash; threshold "
                                 f"{NEAR_MAX_BITS}); top: {test_name}, bottom: nearest training face")
near_dup = data.near_duplicates_of(test.x, train.x, max_distance=NEAR_MAX_BITS)
print(f"{test_name} faces with a training face at most {NEAR_MAX_BITS} bits away: {near_dup.sum()} "
      f"({near_dup.sum() - (near_dup & in_train).sum()} beyond the {in_train.sum()} exact copies)")

# %% [markdown]
# The pairs up to about 16 bits apart are the same photo, re-cropped, recompressed or re-lit (watermarks
# included); from about 17 bits on, different people in a similar pose appear. So 12 bits misses some copies
# rather than calling different photos the same. Some near copies, too, carry a different label from their
# training twin.
#
# ## 2.7 Faces that are not faces, and labels that contradict each other
#
# A web crawl also brings images that are not faces at all. The cheapest detector is contrast (section 2.4): a
# blank image has almost no variation in its pixels. The training images with the lowest pixel std:

# %%
train_std = train.x.reshape(len(train.x), -1).std(axis=1)
lowest = np.argsort(train_std, kind="stable")[:16]
fig = plots.image_grid(train.x[lowest], titles=[f"std {train_std[i]:.1f}, {data.CLASS_NAMES[train.y[i]]}" for i in lowest],
                       columns=8, size=1.35, suptitle="the 16 training images with the least contrast")
plots.save_fig("02_low_contrast")
plt.show()
flat_images = train_std < LOW_STD
print(f"{flat_images.sum()} training images have a pixel std below {LOW_STD:g}; their labels: "
      f"{ {name: n for name, n in data.class_counts(train.y[flat_images]).items() if n} }")

# %% [markdown]
# 12 training images are blank: 11 entirely black (std 0) and one flat grey, with labels of five different
# emotions; the next images by contrast are real faces, if very dark or flat. A blank image cannot show an
# emotion: these labels are noise, and the model is trained to give five different answers to the same input.
# (Contrast misses other non-faces, such as the text image of section 2.3; finding those needs a face detector,
# chapter 8.)
#
# Hashes find more label noise: **the same pixels with different labels**, certain evidence that at least one
# label is wrong (or that the image shows no clear emotion), without any model or human judgment.

# %%
conflicts = [members for members in copies if len(set(train.y[members])) > 1]
pairs_conflicting = [(members[0], next(j for j in members if train.y[j] != train.y[members[0]]))
                     for members in conflicts]
print(f"train: {len(conflicts)} groups of identical images carry more than one label; "
      f"train/test: {len(disagree)} identical pairs with different labels")
informative = [(i, j) for i, j in pairs_conflicting if train_std[i] >= LOW_STD][:PAIRS_SHOWN // 2]
cross = disagree[:PAIRS_SHOWN - len(informative)]
show_pairs([train.x[i] for i, _ in informative] + [test.x[i] for i, _ in cross],
           [train.x[j] for _, j in informative] + [train.x[j] for _, j in cross],
           [f"train: {data.CLASS_NAMES[train.y[i]]}" for i, _ in informative]
           + [f"test: {data.CLASS_NAMES[test.y[i]]}" for i, _ in cross],
           [f"train: {data.CLASS_NAMES[train.y[j]]}" for _, j in informative]
           + [f"train: {data.CLASS_NAMES[train.y[j]]}" for _, j in cross],
           "02_label_conflicts", "identical pixels, different labels (columns: one image and its copy)")

# %% [markdown]
# Look at the pairs and decide which label is right: often either could be, which is the point. FER2013's
# labels are single judgments of an ambiguous, tiny image; Microsoft's FER+ project (Barsoum et al., 2016) had
# every image relabelled by ten people and found that they often disagree (a separate download, not used here).
# Hence label smoothing in training (chapter 5) and, in chapter 7, a look at the faces the model gets "wrong"
# with high confidence, many of them labelling errors.
#
# ## 2.8 What this means for evaluation
#
# The duplicates also reach the validation split, carved out of train (chapter 5): a face with a copy in the
# rest of train is, again, a face the model has seen. On the course's split:

# %%
x_tr, x_val, y_tr, y_val = data.train_val_split(train.x, train.y, 0.1, seed=42)
val_seen = data.duplicates_of(x_val, x_tr)
test_clean = ~(in_train | near_dup)
summary = pd.DataFrame({
    "faces": [len(y_val), len(test), int(test_clean.sum())],
    "with an exact copy in (the rest of) train": [int(val_seen.sum()), int(in_train.sum()), 0],
    "share": [f"{val_seen.mean():.1%}", f"{in_train.mean():.1%}", "0.0%"],
}, index=["validation (10% of train, seed 42)", test_name, f"{test_name} without exact or near copies"])
summary

# %% [markdown]
# 210 of the 2,871 validation faces (7.3%) have an exact copy in the rest of train: about the same share as test
# (PublicTest). Validation scores are inflated in the same way, and not evenly: a model or an epoch that memorises
# more gains more on these leaked faces, so choosing on validation leans a little towards overfitting. Quote
# validation figures only as validation, and report the de-duplicated figures of chapter 7.
#
# What we take into the rest of the course:
#
# - **Name the split.** Test means PublicTest here; PrivateTest figures from papers are on other faces.
# - **Report beside the floor.** Always saying *happy* gives about 26% accuracy (macro-F1 0.06); macro-F1 shows
#   whether the rare classes are learned at all.
# - **Report the test figure twice**: on all of test (PublicTest), to compare with others, and on the faces
#   without an exact (stricter: or near) copy in train, for what the model does on new faces. Chapter 7 does
#   both, with the masks `data.duplicates_of` and `data.near_duplicates_of`.
# - **Expect a ceiling.** Blank images, contradicting copies and ambiguous faces keep any model below 100%, and a
#   few points of accuracy may be label noise rather than skill.
#
# We keep the duplicates and blank images in the training data: every published FER2013 result does, and
# removing them would make our figures incomparable. Exercise 4 measures what removing them would leave.
#
# ## 2.9 What a label can mean, and who is in the faces
#
# The rest of the course treats a label as "the right answer". What is it?
#
# **How the labels were made** (Goodfellow et al., 2013): Google image searches for 184 emotion-related keywords
# (such as "blissful" or "enraged"), combined with words for gender, age or ethnicity into about 600 queries; the
# first 1,000 images of each; OpenCV's face detector for the boxes; labellers who rejected wrongly labelled
# images, corrected crops and removed some duplicates; and a mapping of the keywords onto seven broad categories
# (those of the Toronto Face Database). So a FER2013 label says: *this photo came back for a search word that maps
# to "angry", and a labeller did not reject it.* It does not say what the person felt.
#
# **Posed, not felt.** Many photos are stock pictures (section 2.3's watermarks) of people *showing* an
# expression for a camera. A review of the research (Barrett et al. 2019, *Emotional expressions
# reconsidered*, Psychological Science in the Public Interest 20(1), doi:10.1177/1529100619832930) concludes that
# people do scowl when angry, smile when happy and so on more often than chance, but that expression varies a
# great deal across cultures, situations and people, that one configuration of facial movements occurs with more
# than one emotion, and that a scowl often communicates something other than an emotional state. A model trained
# on FER2013 learns the *facial configurations* that web photos stereotypically pair with seven words. We keep
# the word "emotion" for the seven labels, as the dataset does; read every prediction as "an expression that
# looks like what FER2013 calls *sad*", never as "this person is sad".
#
# **Who is in the faces.** Whoever a 2013 web search returned: adults and children, many stock-photo models,
# drawings and masks. The queries named gender, age and ethnicity, but no such attribute was kept: **FER2013 has
# no demographic labels**, so nobody can measure from it how its errors differ between groups of people. Nor were
# the people shown asked. Chapter 8 returns to both points, with what *can* be measured honestly and the law that
# applies when such a model is pointed at people.

# %% [markdown]
# ## Summary
#
# - FER2013 is 35,887 web faces, 48x48 grayscale, in three official splits (Training, PublicTest, PrivateTest);
#   copies re-pack them differently, so identify a "test" folder (file-name prefixes).
# - The CSV's label codes are not alphabetical (4 sad, 6 neutral); `data.load_split` maps every layout to
#   `data.CLASS_NAMES`.
# - The classes are imbalanced (disgust 1.5% of train, happy 25%); always saying *happy* is the accuracy floor.
# - Brightness and contrast are alike across the splits; the classes differ in mean brightness (121 grey levels
#   for *sad* to 146 for *surprise*) by less than the spread of about 33 within one class. The optional mean
#   faces show the shape of each expression.
# - Hashes of decoded pixels find exact copies (240 test faces are in train), average hashes near copies;
#   copies with different labels, like blank images with emotion labels, prove label noise.
# - A label is a search keyword mapped to one of seven words and not rejected by a labeller; many faces are
#   posed. A model learns expressions as web photos show them, not what people feel, and FER2013 records nothing
#   about who is in it.
#
# ## Exercises
#
# Answers that can be checked have a line under the exercise (run `from fer_helpers import check` first).
#
# 1. Section 2.2 gives the floor of always answering *happy*. A model that always answers *neutral* instead: what
#    are its accuracy and its macro-F1 on test (PublicTest)? Compute both (macro-F1 is defined in section 2.2),
#    and say in one sentence why the two differ so much.
#    - Check your answer: `check.exercise("2.1", (accuracy, macro_f1), y=test.y)`.
# 2. How many test (PublicTest) faces have an exact or near copy **inside** the test split itself? Count faces,
#    not pairs: every test face whose nearest *other* test face is at most `NEAR_MAX_BITS` bits away (16x16
#    average hash; exact copies included). Why does this matter less than copies across train and test?
#    - Check your answer: `check.exercise("2.2", your_count, x=test.x)`.
# 3. `NEAR_MAX_BITS` is 12 with 16x16 hashes. What do you trade when you raise it to 24? And why is an 8x8 hash
#    with threshold 4 a poor near-duplicate detector for FER2013?
# 4. Build a "cleaned" training set: drop images with a pixel std below `LOW_STD`, keep one image of every group
#    of identical training images (and none of a group whose copies disagree on the label), and drop training
#    images that also occur in test (byte-identical copies, as in 2.5). How many faces of each class remain?
# 5. You download a copy whose `test/` folder holds 7,178 faces. What is it, how do you check, and may you
#    compare your accuracy on it with a paper's PrivateTest figure?

# %% [markdown] tags=["solution"]
# ## Solutions
#
# 1. Accuracy is the share of *neutral* in test (607 of 3,435 = 17.7% in the full data; 1/7 = 14.3% on the
#    balanced sample). Macro-F1 averages the F1 of the seven classes: *neutral* gets a modest F1 (recall 1,
#    precision 0.177, so F1 = 2 x 0.177 / 1.177 = 0.30), the six others get 0, so macro-F1 is 0.30 / 7 = 0.043.
#    Accuracy counts the faces of one class; macro-F1 asks for every class.

# %% tags=["solution"]
from sklearn.metrics import accuracy_score, f1_score

always_neutral = np.full_like(test.y, data.CLASS_NAMES.index("neutral"))
print(f"always 'neutral': accuracy {accuracy_score(test.y, always_neutral):.3f}, macro-F1 "
      f"{f1_score(test.y, always_neutral, average='macro', labels=range(data.NUM_CLASSES), zero_division=0):.3f}")

# %% [markdown] tags=["solution"]
# 2. Copies inside test are counted twice, so they weigh double in the test figure, but the model has not seen
#    them: they do not inflate the score the way a train/test leak does.

# %% tags=["solution"]
_, within_test = data.nearest_by_hash(test.x)
exact_within = len(test_hashes) - len(set(test_hashes))
print(f"{test_name}: {exact_within} extra exact copies; {(within_test <= NEAR_MAX_BITS).sum()} faces have "
      f"another test face at most {NEAR_MAX_BITS} bits away")

# %% [markdown] tags=["solution"]
# 3. Raising the threshold finds more true copies (re-cropped more strongly) but also pairs different photos of
#    similar-looking faces: fewer missed leaks, more false alarms; the table in 2.6 shows the count growing
#    fast beyond ~16 bits, and the pairs show why. With 8x8 hashes, each bit summarises a 6x6-pixel block: so
#    little is left of a face that different faces share hashes; in the full data, 8x8 at 4 bits matches 985
#    test faces against 335 for 16x16 at 12 bits, and 745 of the 985 are not exact copies, mostly different
#    photos.
#
# 4. One way, with the arrays of this chapter:

# %% tags=["solution"]
keep = train_std >= LOW_STD
keep &= ~data.duplicates_of(train.x, test.x)
for members in copies:
    keep[members[1:]] = False                     # one image per group of identical ones ...
    if len(set(train.y[members])) > 1:
        keep[members[0]] = False                  # ... and none if the group's labels disagree
cleaned = pd.DataFrame({"before": data.class_counts(train.y), "after": data.class_counts(train.y[keep])})
cleaned.loc["total"] = cleaned.sum()
cleaned

# %% [markdown] tags=["solution"]
# 5. PublicTest and PrivateTest together (3,589 + 3,589 = 7,178). Check the file-name prefixes as in 2.1 (or, in a
#    copy without them, count the faces). You may not compare directly: a paper's PrivateTest figure is on half of
#    those faces. Report the figure on the PrivateTest half alone, or report yours as "PublicTest + PrivateTest".
