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
# # 5. Training the CNN: callbacks, a validation split, and curves you can trust
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/fer-course/fer-course/blob/main/notebooks/05_training.ipynb)
# [![Open In Kaggle](https://kaggle.com/static/images/open-in-kaggle.svg)](https://kaggle.com/kernels/welcome?src=https://github.com/fer-course/fer-course/blob/main/notebooks/05_training.ipynb)
# [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/fer-course/fer-course/main?labpath=notebooks%2F05_training.ipynb)
#
# In chapter 4 we built the original project's CNN. Now we train it, and we train it **honestly**: the model is
# chosen on a validation split carved out of the training data, and the test split is looked at exactly once,
# at the very end. By the end of this chapter you will be able to:
#
# - carve a stratified, seeded validation split out of FER2013's training set, and say why the test set must not
#   play that role;
# - write `compile` and `fit` with the callbacks a real run needs: keep the best epoch, stop early, follow a
#   learning-rate schedule, log every epoch to CSV, and **resume after an interruption** (`BackupAndRestore`);
# - write a callback of your own, and check that the course's `train.fit` is the same loop, packaged;
# - balance the classes with loss weights, read training curves, and report accuracy beside macro-F1.
#
# | mode | data | 2-core CPU | one GPU |
# |---|---|---|---|
# | quick (`FER_QUICK=1`, the default) | the committed sample (or 100 faces per class), 2 epochs; section 5.5's loop on the same faces | 54 s (measured under nbval on 2026-12-07, 2 cores otherwise idle) | < 1 min (estimated) |
# | full (`FER_QUICK=0`) | all of FER2013's training set, up to 60 epochs | 9-10 min per epoch on an idle CPU (measured: 530-590 s, about 46 faces/s; up to 35 min while the cores were shared): ~10 h for 60 epochs, resumable; the committed run took 635 min for the 52 epochs it ran; section 5.5's small runs (350 faces, 2 epochs, four times) add a few minutes (estimated); the committed outputs were re-executed on 2026-12-07 from the finished run's files (training skipped) in 176 s | ~10-20 s per epoch (estimated) |
#
# **Modes.** Quick mode trains on the committed sample (or 100 faces per class of the full data) for 2 epochs:
# enough to see every step work, and its curves and scores are noise. Full mode trains on all of FER2013's
# training split for up to 60 epochs, hours on a CPU, and resumes where it stopped when the training cell is run
# again. Section 5.5's small hand-written runs are the same in both modes. The figures quoted in the text are from
# the full run saved here, named in the first output line below.

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
EPOCHS = 2 if session.quick else 60
BATCH_SIZE = 32 if session.quick else 64
QUICK_PER_CLASS = 100          # quick mode with the full dataset: this many training faces per class
VALIDATION_FRACTION = 0.1      # carved out of train, stratified
LEARNING_RATE = 1e-3
LABEL_SMOOTHING = 0.1
DEMO_PER_CLASS = 50            # section 5.5's hand-written loop: at most this many faces per class
DEMO_EPOCHS = 2                # ... and this many epochs, in both modes
PATIENCE = 5                   # EarlyStopping: epochs without a better validation accuracy before it stops
TIME_BUDGET_MIN = float(os.environ.get("FER_TIME_BUDGET_MIN", 0)) or None  # stop after this many minutes; rerun resumes
RUN_DIR = course.RUNS_DIR / ("05_training_quick" if session.quick else "05_training")

# %% [markdown]
# ## 5.1 Three splits, three jobs
#
# FER2013 comes as `train` (28,709 faces) and `test` (in our copy: PublicTest, 3,435 faces). During training we
# must make choices: which epoch's weights to keep, when to stop, which learning rate works. Every choice made
# by looking at a set of images **fits the model to that set a little**. If we chose on the test set, the test
# figure would no longer be an estimate of how the model does on new faces: it would be a score we optimised.
#
# So we cut a **validation** split out of `train`: 10% of it, *stratified* (each emotion keeps its share, so the
# rare *disgust* class is present in both parts) and *seeded* (every chapter and every rerun gets the same cut).
# Validation makes the choices; the test split is read once, at the end, and reported with its name.

# %%
from fer_helpers import data

train_split = data.load_split(session.data, "train")
x_train_all, y_train_all = train_split.x, train_split.y
x_train, x_val, y_train, y_val = data.train_val_split(x_train_all, y_train_all, VALIDATION_FRACTION, seed=42)
if session.quick and len(y_train) > QUICK_PER_CLASS * data.NUM_CLASSES:
    x_train, y_train = data.per_class_subset(x_train, y_train, QUICK_PER_CLASS)
print(f"train {len(y_train)} | validation {len(y_val)} | test: not loaded until section 5.8")

# %%
import pandas as pd

pd.DataFrame({"train": data.class_counts(y_train), "validation": data.class_counts(y_val)})

# %% [markdown]
# Notice that the validation column has the same proportions as the training column: that is what
# `stratify=y` in `train_val_split` buys.
#
# ## 5.2 The model
#
# The original project's CNN from chapter 4, unchanged: four 3x3 convolutions (128, 256, 512, 512 filters),
# each followed by 2x2 max-pooling and dropout 0.4, then dense layers of 512 and 256 units and a softmax over
# the seven emotions. About 4.2 million parameters.

# %%
from fer_helpers import models

model = models.build_seed_cnn()
print(f"{model.name}: {model.count_params():,} parameters, {models.count_flops(model) / 1e6:.0f} MFLOPs per face")

# %% [markdown]
# ## 5.3 Augmentation and class weights
#
# Chapter 3 shows both and measures them on a small budget; long runs need both, so this recipe switches both on.
#
# - **Augmentation**: random mirror, small rotations, zooms and shifts, and brightness and contrast jitter.
#   The layers sit *in front of* the model during training only: the saved model is exactly the architecture
#   above, and at prediction time it sees the face as it is.
# - **Class weights**: *happy* has 16 times more training faces than *disgust*. Unweighted, the loss is
#   dominated by the big classes and the model rarely predicts the small ones. Weighting each class by
#   1/frequency (the "balanced" weights) over-corrects: a few disgust faces then move the weights as much as
#   thousands of happy ones, and training gets noisy. The square root of that is the compromise we use. (The
#   original project balanced its classes without saying how; trained with the full "balanced" weights and this
#   chapter's other settings, this network stayed at chance through the ten epochs of its one run: chapter 6, 6.9.)

# %%
from fer_helpers import augment, recipes

# The run's settings in one object, a recipe (fer_helpers.recipes; chapter 9 compares recipes): chapter 5's own,
# recipes.SEED, with the parameters cell's epochs, batch size, rate and smoothing. train.fit reads every setting
# from it, these two included.
recipe = recipes.SEED.but("05_training", epochs=EPOCHS, batch_size=BATCH_SIZE, learning_rate=LEARNING_RATE,
                          label_smoothing=LABEL_SMOOTHING)
print("augmentation:", recipe.augmentation)
weights = augment.class_weights(y_train, power=recipe.class_weight_power)
pd.Series({name: round(weights[i], 2) for i, name in enumerate(data.CLASS_NAMES)}, name="loss weight").to_frame().T

# %% [markdown]
# ## 5.4 The learning-rate schedule
#
# Chapter 1b showed what the learning rate does to a loss curve. A large rate makes fast progress early on but
# cannot settle into a narrow minimum; a small one settles but crawls. A **schedule** gives both: a short linear
# *warm-up* (the first updates of a freshly initialised net are the wildest; starting small avoids a bad first
# step), then a *cosine decay* down to zero at the last step. Keras has it built in: a schedule is a function
# from the step number (not the epoch) to the learning rate, handed to the optimizer in place of a number.

# %%
import math

import keras
import matplotlib.pyplot as plt
import numpy as np

from fer_helpers import plots, train


def warmup_cosine(learning_rate, epochs, steps_per_epoch):
    """One epoch of linear warm-up from learning_rate / 10, then cosine decay to 0 at the last step."""
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=learning_rate / 10, warmup_target=learning_rate, warmup_steps=steps_per_epoch,
        decay_steps=(epochs - 1) * steps_per_epoch, alpha=0.0)


steps_per_epoch = math.ceil(len(y_train) / BATCH_SIZE)
schedule = warmup_cosine(LEARNING_RATE, EPOCHS, steps_per_epoch)
step_numbers = np.linspace(0, EPOCHS * steps_per_epoch, 200).astype(int)
learning_rates = [float(schedule(int(step))) for step in step_numbers]
fig, ax = plt.subplots(figsize=(6, 2.6))
ax.plot(step_numbers / steps_per_epoch, learning_rates)
ax.set_xlabel("epoch")
ax.set_ylabel("learning rate")
ax.set_title(f"warm-up, then cosine decay ({steps_per_epoch} steps per epoch)")
ax.grid(alpha=0.3)
plots.save_fig("05_learning_rate")
plt.show()

# %% [markdown]
# ## 5.5 The training loop, written out: compile, callbacks, fit
#
# Training a Keras model takes three calls. We write them out here and run them on a small subset (the same
# cells in both modes: a few dozen faces per class, two epochs); section 5.6 then runs the real training.
#
# **`compile`** fixes how the model learns: the **optimizer** (Adam, chapter 1b, section 1b.8, following the
# schedule above), the **loss** (cross-entropy on one-hot targets, with label smoothing) and the **metrics** to
# report. Label smoothing replaces the one-hot target (0, 0, 1, 0, ...) with (0.014, ..., 0.914, ...): FER2013's
# labels are noisy (chapter 2 shows faces whose label is doubtful), and a model asked for 100% certainty on those
# learns to be over-confident everywhere. The augmentation layers go *in front of* the model in a wrapper that
# only training uses: the saved model stays the architecture of section 5.2.

# %%
DEMO_SEED = 7
x_demo, y_demo = data.per_class_subset(x_train, y_train, DEMO_PER_CLASS)
x_demo_val, y_demo_val = data.per_class_subset(x_val, y_val, DEMO_PER_CLASS)
print(f"the subset for this section: train {len(y_demo)} | validation {len(y_demo_val)}")


def compile_trainer(model, augmentation, epochs, steps_per_epoch):
    """The model behind its augmentation, compiled: Adam on the warm-up + cosine schedule, smoothed cross-entropy."""
    trainer = keras.Sequential([keras.Input(model.input_shape[1:]), augmentation, model], name="trainer")
    trainer.compile(optimizer=keras.optimizers.Adam(warmup_cosine(LEARNING_RATE, epochs, steps_per_epoch)),
                    loss=keras.losses.CategoricalCrossentropy(label_smoothing=LABEL_SMOOTHING),
                    metrics=["accuracy"])
    return trainer


# %% [markdown]
# **Callbacks** are objects that `fit` calls at fixed points (the start and end of training, of each epoch, of
# each batch). A real run needs these four, each for a reason:
#
# | callback | what it does | why |
# |---|---|---|
# | `BackupAndRestore` | saves model and optimizer state after every epoch in `backup/` | a crash, a closed laptop or a Colab disconnect costs at most one epoch: **rerun the cell and training resumes** |
# | `ModelCheckpoint` | saves the weights whenever *validation* accuracy improves (`best.weights.h5`) | the last epoch is rarely the best; we keep the best one, chosen on validation |
# | `CSVLogger` | appends one row per epoch to `history.csv` | the curves survive the kernel; a resumed run continues the same file |
# | `EarlyStopping` | stops when validation accuracy has not improved for `patience` epochs | saves time once the model has stopped learning |
#
# The learning-rate schedule needs no callback here: it lives in the optimizer and changes the rate at every
# step. (Keras also has schedules as callbacks, `LearningRateScheduler` once per epoch and `ReduceLROnPlateau`
# when validation stalls.)

# %%
def training_callbacks(run_dir):
    """The callbacks of a real run, writing into run_dir."""
    run_dir.mkdir(parents=True, exist_ok=True)   # CSVLogger does not create its folder
    return [
        keras.callbacks.BackupAndRestore(str(run_dir / "backup"), delete_checkpoint=False),
        keras.callbacks.ModelCheckpoint(str(run_dir / "best.weights.h5"), monitor="val_accuracy", mode="max",
                                        save_best_only=True, save_weights_only=True),
        keras.callbacks.CSVLogger(str(run_dir / "history.csv"), append=True),
        keras.callbacks.EarlyStopping(monitor="val_accuracy", mode="max", patience=PATIENCE),
    ]


# %% [markdown]
# **`fit`** runs the epochs: it shuffles the faces, cuts them into batches of `batch_size`, takes one step per
# batch (chapter 1b, section 1b.5), evaluates on the validation data after each epoch, and calls the callbacks.
# The targets are one-hot vectors; `class_weight` multiplies each face's loss by its class's weight (section
# 5.3). Progress is printed once per epoch (`verbose=2`): one readable line, not a progress bar redrawn
# thousands of times into the saved notebook.

# %%
import shutil

keras.utils.set_random_seed(DEMO_SEED)            # the same initial weights and random draws on every run
by_hand = models.build_seed_cnn()
by_hand_augmentation = augment.augmentation_layers(flip=True, rotation=0.03, zoom=0.1, translation=0.1,
                                                   brightness=0.1, contrast=0.1, seed=DEMO_SEED)
demo_weights = augment.class_weights(y_demo, power=0.5)   # the subset's own class weights
by_hand_dir = course.RUNS_DIR / "05_training_by_hand"
shutil.rmtree(by_hand_dir, ignore_errors=True)   # start over on every run of this cell
trainer = compile_trainer(by_hand, by_hand_augmentation, DEMO_EPOCHS, math.ceil(len(y_demo) / BATCH_SIZE))
trainer.fit(data.as_model_input(x_demo), keras.utils.to_categorical(y_demo, data.NUM_CLASSES),
            validation_data=(data.as_model_input(x_demo_val), keras.utils.to_categorical(y_demo_val, data.NUM_CLASSES)),
            epochs=DEMO_EPOCHS, batch_size=BATCH_SIZE, class_weight=demo_weights,
            callbacks=training_callbacks(by_hand_dir), verbose=2)
trainer.load_weights(by_hand_dir / "best.weights.h5")   # back to the best epoch, chosen on validation
by_hand_weights = by_hand.get_weights()

# %% [markdown]
# What the callbacks left behind in the run folder: the best weights, the log and the backup.

# %%
print(sorted(p.name for p in by_hand_dir.iterdir()))
pd.read_csv(by_hand_dir / "history.csv").round(4)

# %% [markdown]
# **A callback of our own: a simulated crash.** A callback is a subclass of `keras.callbacks.Callback` that
# overrides the methods it needs (`on_epoch_end`, `on_train_batch_end`, ...); `self.model` is the model being
# trained, and `logs` holds the epoch's metrics. This one raises an error after the first epoch, as a crash
# would. We train a fresh model with it in a new folder, then rerun the same `fit` without it:
# `BackupAndRestore` finds the state saved at the end of epoch 1 and continues with epoch 2.

# %%
class Crash(keras.callbacks.Callback):
    """Raise an error at the end of epoch `after` (counting from 1), like a lost connection would."""

    def __init__(self, after):
        super().__init__()
        self.after = after

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.after:
            raise RuntimeError(f"simulated crash after epoch {epoch + 1}")


resume_dir = course.RUNS_DIR / "05_training_resume"
shutil.rmtree(resume_dir, ignore_errors=True)
resumed = compile_trainer(models.build_seed_cnn(), augment.augmentation_layers(), DEMO_EPOCHS,
                          math.ceil(len(y_demo) / BATCH_SIZE))
for attempt, extra in enumerate([[Crash(after=1)], []], start=1):
    try:
        resumed.fit(data.as_model_input(x_demo), keras.utils.to_categorical(y_demo, data.NUM_CLASSES),
                    validation_data=(data.as_model_input(x_demo_val),
                                     keras.utils.to_categorical(y_demo_val, data.NUM_CLASSES)),
                    epochs=DEMO_EPOCHS, batch_size=BATCH_SIZE, class_weight=weights,
                    callbacks=training_callbacks(resume_dir) + extra, verbose=2)
    except RuntimeError as error:
        print(f"run {attempt}: {error}")
print("epochs in the log:", list(pd.read_csv(resume_dir / "history.csv")["epoch"] + 1))

# %% [markdown]
# The second run printed only epoch 2: the first epoch's work survived the crash. The callbacks run in list
# order, so `BackupAndRestore` (first) had saved epoch 1 before `Crash` (last) raised.
#
# **A trap in resuming, found in this chapter's own full run.** `BackupAndRestore` restores the weights and the
# optimizer, but not the state of the random layers: Keras saves the counters of the seed generators that drive
# augmentation, dropout and the batch order nowhere. Every session seeds them alike at start-up, so each resumed
# session used to replay the first session's augmentations epoch by epoch: the same distorted faces, with the
# same dropout masks, in the same order, for the second, third and fourth time. The log showed it: the first
# epoch after each resume (epochs 8, 11 and 19 of the run's `history.csv`, counting from 1 as `train.read_history`
# does) had its training accuracy 7 to 8.5 points
# *above* the epoch before, and in the two later cases its validation accuracy 1.4 and 4.5 points *below*:
# memorising, not learning. `train.fit` now moves every seed generator of a resumed run to draws it has never
# used (`train.fresh_random_streams`); the epochs from 21 on were trained that way.
#
# ## 5.6 `train.fit`: the same loop, packaged
#
# The rest of the course calls `fer_helpers.train.fit`. It is the loop above, with what long runs need besides:
# it refuses to mix a run folder with a run of other settings (`run.json`), gives a resumed run fresh random
# draws (the trap above), saves the *bare* model's best weights rather than the wrapper's, writes each epoch's
# duration and learning rate into the log, can stop after a time budget (`FER_TIME_BUDGET_MIN`, to resume in the
# next session), and offers options later chapters use (other optimizers and schedules, mixup, weight averaging).
# The claim "the same loop" is checked: from the same seed, on the same subset, it must end with the same weights
# as our hand-written run (`tests/test_training_loop.py` checks it too).

# %%
keras.utils.set_random_seed(DEMO_SEED)
packaged = models.build_seed_cnn()
# the recipe of section 5.3 (the settings of the hand-written run), for DEMO_EPOCHS epochs, its augmentation
# seeded as the hand-written run's was
train.fit(packaged, x_demo, y_demo, x_demo_val, y_demo_val, course.RUNS_DIR / "05_training_packaged", recipe,
          epochs=DEMO_EPOCHS, seed=DEMO_SEED, patience=PATIENCE, fresh=True, verbose=0)
difference = max(float(np.abs(a - b).max()) for a, b in zip(by_hand_weights, packaged.get_weights()))
print(f"largest difference between the hand-written run's weights and train.fit's: {difference:.1e}")

# %% [markdown]
# Now the real run, with `train.fit`: all the training faces, `EPOCHS` epochs (the title cell's **Modes** says
# what each mode trains).

# %%
history = train.fit(model, x_train, y_train, x_val, y_val, RUN_DIR, recipe, time_budget_min=TIME_BUDGET_MIN,
                    fresh=session.quick)  # quick runs take seconds: start over, full runs resume

# %% [markdown]
# ## 5.7 Reading the curves
#
# What to look for:
#
# - **Training accuracy below validation accuracy** is normal here: training batches are augmented and pass
#   through dropout, validation faces are neither. In this chapter's full run it holds in every epoch except two
#   of the replayed ones of section 5.5 (11 and 19), where the network was seeing the very same distorted faces
#   again.
# - **The two losses are not on the same footing.** The training loss is class-weighted (Keras turns
#   `class_weight` into a weight per face; the accuracy is not weighted) and measured on augmented faces through
#   dropout, the validation loss on plain faces by the full network. So read the trends, not the gap: the
#   overfitting signal is validation loss turning up while training loss keeps falling, the model memorising
#   faces instead of learning expressions (chapter 6).
# - **Where the validation curve peaks** is the epoch whose weights we kept.

# %%
history = train.read_history(RUN_DIR)
fig = plots.plot_history(history, title=f"original CNN, {len(history)} epochs ({session.mode} mode)")
plots.save_fig("05_curves")
plt.show()
best_epoch = history.loc[history["val_accuracy"].idxmax()]
print(f"best epoch {int(best_epoch['epoch'])}: validation accuracy {best_epoch['val_accuracy']:.4f}; "
      f"{history['seconds'].sum() / 60:.1f} min of training over {len(history)} epochs")

# %% [markdown]
# ## 5.8 Validation report, then the test split, once
#
# Accuracy alone flatters a model on FER2013: one that never says *disgust* loses only 1.5% of accuracy for it on
# our validation split (44 of 2,871 faces), 1.6% on the test split.
# **Macro-F1**, the plain mean of the seven per-class F1 scores, counts each emotion equally, so we always
# report it beside accuracy. First the validation split, which chose the weights:

# %%
from fer_helpers import evaluate

val_proba = evaluate.predict_proba(model, x_val)
print(evaluate.report(y_val, val_proba, "validation (10% of train)"))

# %% [markdown]
# Now the test split, read for the first time in this chapter. Nothing below feeds back into any choice
# above: if you change something after seeing this number, the number stops being a test figure.

# %%
test_split = data.load_split(session.data, "test")
test_proba = evaluate.predict_proba(model, test_split.x)
test_name = "test (PublicTest)" if session.data_source != "sample" else "test (the committed sample)"
print(evaluate.report(test_split.y, test_proba, test_name))

# %% [markdown]
# What the full-mode run saved here says, read with the tools of this chapter:
#
# - **How the run ended.** It was run in sessions of 90 minutes (`FER_TIME_BUDGET_MIN=90` in the environment),
#   each resuming the last; the curves and `history.csv` hold all 52 epochs. It stopped at epoch 52 of its
#   planned 60, and there it stays: the machine that held its resumable state (`RUN_DIR/backup/`) was lost, and
#   the eight epochs left would have run at a
#   learning rate below 5e-5, after validation had gained only 1.5 points in the ten epochs up to its best
#   (epochs 38 to 48) and fallen back 0.8 since. So the cosine schedule did not reach zero; the kept weights are epoch 48's. The full-mode
#   outputs above were made later from that run's files (the bundled `seed`'s weights, log and settings, put
#   back in `RUN_DIR` with a `finished` marker), so the training cell loaded the kept weights instead of training. Chapters 6 and 7
#   and the model card (`fer_helpers/weights/seed.md`) say "52 of 60 planned epochs".
# - **The curves.** The jumps of training accuracy at epochs 8, 11 and 19 (and validation's dips at 11 and 19)
#   are the resuming trap of section 5.5, not learning; at epoch 21, the first resumed with fresh draws, training
#   accuracy falls back to where the curve was heading. After that validation accuracy creeps up while validation loss falls and then levels
#   off without turning up: no overfitting in sight. The model is held back by its regularisation instead:
#   training accuracy stays below validation in every epoch but two of the replayed ones.
# - **Per class.** *Happy* and *surprise* are read well; *fear* is the weak class, its recall the lowest of all
#   although it is weighted like an average class (1.04): a weight makes a class count more, it does not make it
#   less confusable with the others (chapter 7's confusion matrix shows where its faces go). *Disgust*'s recall is
#   bought with precision: the weighted model predicts it about twice as often as it occurs.
# - **Validation above test.** Four reasons, none of them a bug: validation chose the epoch, which flatters it
#   a little (the best of many epochs); 210 validation faces are byte-identical to faces the model trained on
#   (FER2013's `train` holds copies of its own images), and without them validation accuracy falls from 0.5535
#   to 0.5411, about a third of the gap (chapter 7, section 7.9); the two splits differ (our PublicTest lacks 154
#   *surprise* faces, one of the easiest classes for this model); and on about 3,000 faces each accuracy has a
#   standard error of about 0.9 points, so part of the gap is chance.

# %% [markdown]
# ## 5.9 Keeping the model
#
# The best weights are already on disk as `RUN_DIR/best.weights.h5`: a plain HDF5 file of arrays (no pickle, no
# code), which loads under the TensorFlow, JAX and PyTorch backends alike. Beside it we write a small *card*:
# which architecture the weights belong to and how they were made. Chapters 6, 7 and 8 use this model if it
# exists, and the bundled reference model otherwise.

# %%
import json

card = {"architecture": "seed_cnn", "kwargs": {}, "trained_in": "notebooks/05_training.ipynb",
        "mode": session.mode, "epochs_run": int(len(history)), "best_epoch": int(best_epoch["epoch"]),
        "selected_on": "validation (10% of train, stratified, seed 42)",
        "validation": evaluate.summary(y_val, val_proba), "test": evaluate.summary(test_split.y, test_proba),
        "test_split": test_name}
(RUN_DIR / "best.json").write_text(json.dumps(card, indent=1))
reloaded = models.load_model(RUN_DIR / "best.weights.h5")
same = np.allclose(evaluate.predict_proba(reloaded, x_val[:64]), val_proba[:64], atol=1e-5)
print("reloaded model gives the same predictions:", same)

# %% [markdown]
# ## Summary
#
# - The test split never chooses anything: a stratified, seeded validation split carved from train does.
# - Training is `compile` (optimizer with its learning-rate schedule, loss, metrics) and `fit` (epochs of
#   batches, validation after each epoch, callbacks). A real run needs callbacks: best-on-validation weights
#   (`ModelCheckpoint`), a CSV log, `EarlyStopping`, and `BackupAndRestore` so that an interruption costs at
#   most one epoch. `train.fit` is that loop, packaged, and gives the same weights.
# - Class weights (square root of inverse frequency) and augmentation are switched on here; chapter 3 explains
#   both and compares them on a small budget, chapter 6 shows what augmentation (and dropout) do to the gap
#   between training and validation.
# - Accuracy is reported beside macro-F1, and the test figure is reported once, with the split named.
#
# ## Exercises
#
# 1. Why does the training accuracy in the log sit *below* the validation accuracy in almost every epoch? Name
#    two reasons. In which epochs of the full run does it not, and why?
# 2. The training cell passes `fresh=session.quick`. What does a second run of that cell do in quick mode, and
#    what in full mode? Why is each the right behaviour for its mode?
# 3. Train once with the class weights and once with `class_weight=None`, on a training subset that keeps
#    FER2013's imbalance (`augment.subset_with_proportions`), and compare the per-class recall of *disgust*.
#    Why would a balanced subset (`data.per_class_subset`) make this comparison empty? (Two CNN trainings long
#    enough to show it take hours on a CPU; the solution shows the same mechanism on a linear classifier in a
#    minute, and you may do the same.)
# 4. Replace the cosine schedule with a constant learning rate (`recipe.but("constant_rate", schedule="constant")`, passed to `train.fit`). How do
#    the curves differ in the last epochs of a complete run (the committed one stopped at 52 of 60)?
# 5. A classmate reports "my model reached 70% on the test set after I tried 30 settings and kept the best".
#    What is wrong with that figure, and how would you fix the procedure?
# 6. Write a callback of your own, `LearningRateLog`, that puts the optimizer's current learning rate into `logs`
#    at the end of every epoch (`self.model.optimizer.learning_rate`; `keras.ops.convert_to_numpy` turns it into
#    a number). Put it *before* `CSVLogger` in the list of section 5.5, train the subset of that section for two
#    epochs in a new folder, and check that `history.csv` now has a `learning_rate` column that follows the
#    schedule of section 5.4. Why must it come before `CSVLogger`?

# %% [markdown] tags=["solution"]
# ## Solutions
#
# 1. Training batches are augmented (harder faces) and pass through dropout (a weaker, thinned network), while
#    validation faces are shown as they are to the full network; also, the training figure is an average over
#    the epoch while the weights improved during it. In the full run it is above validation only in epochs 11 and
#    19, two of the replayed epochs of section 5.5: there the network was shown faces, distortions and dropout masks it had already
#    trained on, so its training accuracy measured memory rather than skill.
# 2. In quick mode `fresh=True`: the run folder is emptied and the minute of training starts again, so a quick
#    run never mixes with one made on other data. In full mode `fresh=False`: `train.fit` finds the run folder
#    with the same settings and either resumes an unfinished run from the last epoch `BackupAndRestore` saved,
#    or, if the run finished, loads its best weights without training. Hours of training are never thrown away
#    by a rerun; pass `fresh=True` (or another `RUN_DIR`) to start over on purpose.
# 3. On a balanced subset every class weight is 1.0, so the two runs are the same run. On an imbalanced one the
#    weighted model pays about three times as much loss for a missed *disgust* face, so it predicts the rare
#    classes more often: their recall rises, at the price of some recall on *happy*, the largest class. Two CNN
#    runs long enough to show this take hours; the cell below shows the mechanism on a linear classifier
#    instead. On the committed sample (*disgust* has one training face) its figures are noise: run it with
#    `FER_DATA` set.
# 4. With a constant rate the validation accuracy keeps oscillating at the end; the cosine schedule's small
#    final steps let it settle, usually on a higher value.
# 5. The test set was used for selection 30 times, so 70% is optimistically biased. Select among the 30 settings
#    on a validation split carved from train, then measure the chosen one once on the test set.

# %% tags=["solution"]
# Solution to exercise 3. Class weights act on the loss, whatever the model, and a CNN needs hours before its
# rare classes move (the full run above sat on *happy* for its first epochs). A linear classifier on the pixels
# shows the same mechanism in about a minute: scikit-learn takes the same class-weight dict as Keras.
import warnings

from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

happy_faces = int(np.sum(y_train == data.CLASS_NAMES.index("happy")))   # the largest class sets the scale
x_small, y_small = augment.subset_with_proportions(x_train, y_train, augment.FER2013_TRAIN_COUNTS,
                                                   largest=min(2000, happy_faces))
print("training faces per class:", dict(zip(data.CLASS_NAMES, np.bincount(y_small, minlength=7).tolist())))


def flat_pixels(x):
    return x.reshape(len(x), -1).astype("float32") / 255.0


recall = {}
for name, class_weight in [("weighted", augment.class_weights(y_small)), ("unweighted", None)]:
    linear = LogisticRegression(C=0.01, max_iter=300, class_weight=class_weight)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)   # 300 iterations are enough to see the effect
        linear.fit(flat_pixels(x_small), y_small)
    recall[name] = evaluate.per_class_table(y_val, linear.predict_proba(flat_pixels(x_val)))["recall"]
pd.DataFrame(recall).T.round(3)


# %% [markdown] tags=["solution"]
# 6. Keras calls the callbacks in list order with the same `logs` dictionary, so a value added by one callback is
#    seen by those after it: after `CSVLogger` it would come too late for the file. The rate at the end of epoch 1
#    is the schedule's peak (the warm-up lasts one epoch), at the end of the last epoch 0.

# %% tags=["solution"]
class LearningRateLog(keras.callbacks.Callback):
    """Add the optimizer's learning rate at the end of each epoch to the epoch's logs."""

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))


lr_log_dir = course.RUNS_DIR / "05_training_lr_log"
shutil.rmtree(lr_log_dir, ignore_errors=True)
callbacks = training_callbacks(lr_log_dir)
callbacks.insert(2, LearningRateLog())          # after the checkpoint, before CSVLogger
logged = compile_trainer(models.build_seed_cnn(), augment.augmentation_layers(), DEMO_EPOCHS,
                         math.ceil(len(y_demo) / BATCH_SIZE))
logged.fit(data.as_model_input(x_demo), keras.utils.to_categorical(y_demo, data.NUM_CLASSES),
           validation_data=(data.as_model_input(x_demo_val), keras.utils.to_categorical(y_demo_val, data.NUM_CLASSES)),
           epochs=DEMO_EPOCHS, batch_size=BATCH_SIZE, class_weight=weights, callbacks=callbacks, verbose=0)
pd.read_csv(lr_log_dir / "history.csv")[["epoch", "learning_rate", "accuracy", "val_accuracy"]]
