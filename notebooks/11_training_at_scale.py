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
# # 11. Training at scale: backends, several devices, input pipelines and mixed precision
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/fer-course/fer-course/blob/main/notebooks/11_training_at_scale.ipynb)
# [![Open In Kaggle](https://kaggle.com/static/images/open-in-kaggle.svg)](https://kaggle.com/kernels/welcome?src=https://github.com/fer-course/fer-course/blob/main/notebooks/11_training_at_scale.ipynb)
# [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/fer-course/fer-course/main?labpath=notebooks%2F11_training_at_scale.ipynb)
#
# Chapters 5 and 6 trained one network on one processor. This chapter is about the four things that change when
# training gets bigger, each measured here on the only hardware this run had (a small, shared CPU), and each said
# plainly where a GPU would change the answer. By the end of it you will be able to:
#
# - say what a Keras **backend** is, run the same training under TensorFlow, JAX and PyTorch, move weights between
#   them, and choose one for a job;
# - explain **data-parallel** training (replicas, the global batch, averaged gradients, learning-rate scaling and
#   warm-up, checkpoints from one worker, several hosts), and check on two CPU devices that it computes exactly
#   what one device computes;
# - build a `tf.data` **input pipeline** and measure it against reading image folders from disk every epoch;
# - say what **mixed precision** buys on a GPU and costs on a CPU, and why the output layer stays in float32.
#
# | mode | what runs | 2-core CPU | one GPU |
# |---|---|---|---|
# | quick (`FER_QUICK=1`, the default) | a narrow VGG on 128-256 faces (the data found; the committed sample is repeated to that size), 3 timed epochs per measurement, 4 SGD steps per data-parallel check; 7 fresh processes | 118 s (measured under nbval on 2026-12-07, 2 cores otherwise idle) | ~1-2 min (estimated) |
# | full (`FER_QUICK=0`) | a VGG twice as wide (4x the arithmetic), 1,024-2,048 faces, 3 timed epochs per measurement | ~40 min (computed from the quick run's speeds: 4x the arithmetic on 8x the faces; the PyTorch rows take most of it) | a few minutes (estimated) |
#
# **Modes.** Quick mode trains a narrow VGG on 128-256 faces (the data found; the committed sample is repeated to that size), full mode a VGG twice
# as wide on 1,024-2,048 faces; the backend, data-parallel and precision measurements each run in a fresh
# process. The speeds come from a small, shared
# 2-core CPU (its load average is printed beside them): a method and an order of magnitude, not this CPU's best.
# The committed run had no GPU: its GPU columns say *not measured*, and a GPU machine fills them in. The saved
# outputs come from the run named in the first output line.

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
BATCH_SIZE = 32
WIDTHS = (8, 16, 32, 64) if session.quick else (16, 32, 64, 128)   # build_vgg_bn's channels per stage
BACKEND_IMAGES = 128 if session.quick else 1024     # faces per epoch in the backend and precision comparisons
PIPELINE_IMAGES = 256 if session.quick else 2048    # faces written as PNGs and fed by each input pipeline
TIMED_EPOCHS = 3                                    # timed epochs (the median counts), after one untimed one
PARALLEL_STEPS = 4                                  # SGD steps of the data-parallel check (a check, not a benchmark)
PER_REPLICA_BATCH = 16

# %% [markdown]
# ## 11.1 What a backend is
#
# Keras 3 is a front end: layers, models, `fit`, losses, optimizers, saving. The arithmetic underneath (the
# tensors, the convolutions, the gradients, where they run) is done by a **backend**, one of three array
# libraries: **TensorFlow** (the course's default), **JAX** or **PyTorch**. The same model code runs on all three.
#
# | changes with the backend | does not change |
# |---|---|
# | speed, and how the first step is prepared (TF traces a graph; JAX compiles the whole step with XLA; PyTorch runs eagerly, op by op) | layers, models, `compile`/`fit`/`predict`, callbacks, `keras.ops` |
# | the tensors' type (`tf.Tensor`, `jax.Array`, `torch.Tensor`) and the tools around them (profilers, debuggers, export) | the saved files: a `.weights.h5` or `.keras` file written under one backend loads under the others |
# | how to use several devices (`tf.distribute`, `keras.distribution` on JAX, `torch.distributed`) | the results, up to float32 rounding |
#
# A Python process chooses its backend **once**, at the first `import keras`, from `KERAS_BACKEND` (or
# `~/.keras/keras.json`). This kernel already imported Keras, so each backend below runs in a **fresh Python
# process** (`fer_helpers.isolated.run`, with `KERAS_BACKEND` set) that hands its result back; a backend that is
# not installed gets a row saying so. PyTorch's CPU build (about a gigabyte) is the `backends` extra
# (`pip install -e ".[backends]"`); the committed run had it installed.

# %%
import keras

from fer_helpers import machine, scale

print(f"this kernel: Keras {keras.__version__} on the {keras.backend.backend()} backend")
for backend in machine.BACKENDS:
    print(f"{backend:>10}: {'installed' if machine.backend_installed(backend) else 'not installed'}")
print(f"GPUs here (nvidia-smi): {machine.gpu_count()} | CPU cores: {os.cpu_count()} | "
      f"load average now (1 min): {machine.load_average()}")

# %% [markdown]
# ## 11.2 The same training under three backends
#
# A fair comparison changes only the backend. So, in every process: the same network (`build_vgg_bn` with
# `WIDTHS` channels, dropout 0 so that no backend draws random numbers the others do not), the **same initial
# weights** (made here, saved as a `.weights.h5` file, loaded by each process), the same faces in the same order
# (`shuffle=False`), the same optimizer (SGD with momentum). Each process trains one untimed epoch (tracing,
# compiling, allocating) and then `TIMED_EPOCHS` timed ones, of which the median counts. GPUs are hidden from it.

# %%
import pandas as pd

from fer_helpers import data

train_split = data.load_split(session.data, "train")
x_train, x_val, y_train, y_val = data.train_val_split(train_split.x, train_split.y, 0.1, seed=42)
x_bench, y_bench = scale.repeat_to(x_train, y_train, BACKEND_IMAGES)
print(f"{len(y_train)} training faces; the comparison uses {BACKEND_IMAGES} "
      f"({'repeated: ' if BACKEND_IMAGES > len(y_train) else ''}timing needs a fixed number, not new faces)")
backends = scale.backend_benchmark(x_bench, y_bench, widths=WIDTHS, batch_size=BATCH_SIZE, epochs=TIMED_EPOCHS)
backends[["status", "version", "cpu_images_per_s", "gpu_images_per_s", "first_epoch_s", "process_s", "load_1min"]]

# %% [markdown]
# The columns: `cpu_images_per_s` is the steady-state speed (the median timed epoch); `first_epoch_s` includes
# preparing the step, what you wait for before the first progress line; `process_s` is the whole process, imports
# included; `load_1min` is the load average as the process ended (only a load well above 2, the number of cores,
# means that other work shared them).

# %%
import matplotlib.pyplot as plt
import numpy as np

from fer_helpers import plots

measured = backends[backends["status"] == "ok"]
fig, ax = plt.subplots(figsize=(6, 2.6))
bars = ax.barh(measured.index, measured["cpu_images_per_s"], color="tab:blue")
ax.bar_label(bars, fmt="%.0f", padding=3)
ax.set_xlabel("training images per second (CPU, higher is better)")
ax.set_title(f"vgg_bn {WIDTHS}, batch {BATCH_SIZE}: same weights, same faces", fontsize=10)
ax.invert_yaxis()
ax.margins(x=0.15)
plots.save_fig("11_backends")
plt.show()

# %% [markdown]
# Did the three processes compute the same thing? Each one also reported how its predictions, with the weights
# loaded from this kernel's file, compare with this kernel's, and the losses of its first batches:

# %%
for backend, row in measured.iterrows():
    print(f"{backend:>10}: predictions vs this kernel's, max |difference| {row['weights_max_diff']:.0e} | loss of "
          f"batch 1 {row['first_step_loss']:.7f}, of batch 2 {row['second_step_loss']:.7f} | mean loss of the "
          f"last epoch {row['final_loss']:.4f}")

# %% [markdown]
# What to notice:
#
# - **Weights move between backends as they are.** Every process loaded the `.weights.h5` file written by this
#   kernel (on the TensorFlow backend) and predicted the same 16 faces: the probabilities differ from this
#   kernel's by at most a few 1e-8, the rounding of float32. Train on one backend, serve on another.
# - **Same start, slowly diverging paths.** The loss of the first batch agrees across the three backends to about
#   1e-7. After a single update (batch 2) one backend already differs in the sixth decimal: each sums the
#   gradients in its own order, and float32 sums in another order differ in their last bits. Training amplifies
#   this, and a few epochs later the mean losses differ in the second or third digit. Runs are reproducible within
#   one backend, not bit-for-bit across them; none of the three is "the right one".
# - **Speed depends on the backend and on the machine's load.** In this run (load 1.18 to 1.32 on two cores) the
#   three trained within about a fifth of each other. Another machine, load, model size or a GPU can reorder them:
#   measure under the load your machine will have before you choose.
#
# **When to pick which.** Keep TensorFlow when you rely on `tf.data`, `tf.distribute` or TensorFlow's deployment
# tools (TF Serving, LiteRT, TensorFlow.js). Pick JAX for long runs on GPUs or TPUs, where one compiled step
# repeated thousands of times pays back its compile time, and for `keras.distribution` (next section). Pick
# PyTorch when the model has to live in PyTorch code, or to debug op by op. For this course's 48x48 faces any of
# the three works: `fer_helpers`' unit tests run under all three (start JupyterLab with `KERAS_BACKEND=jax` to try).
#
# ### Why a busy machine hurts PyTorch most (optional)
#
# Expect a busy machine to hurt PyTorch most (not measured in this run: rerun the cell while another job keeps
# the cores busy to see it). PyTorch runs the network op by op (eagerly: Keras' default for it) and transposes
# Keras' channels-last images around every convolution, so each step issues many small operations, each of which
# may then wait for a core; TensorFlow (a traced graph) and JAX (one XLA-compiled step, hence its longest first
# epoch) issue few. Where PyTorch's time goes is easy to look at with `torch.profiler` around one epoch.
#
# ## 11.3 Data parallelism: one model, several devices, one global batch
#
# With several GPUs (or TPU cores, or machines) the simplest way to train faster is **data parallelism**:
#
# 1. every device holds a full copy of the model: a **replica**, with identical weights;
# 2. each training step takes a **global batch** and cuts it into equal slices, one per replica
#    (global batch = per-replica batch x number of replicas);
# 3. each replica computes the loss and the gradients on its slice, in parallel;
# 4. the gradients are **averaged** across replicas (an *all-reduce*), and every replica applies the same
#    averaged update, so the copies stay identical.
#
# Why this is *the same* SGD step: the loss of a batch is the mean of its examples' losses, and a gradient is
# linear, so the gradient of the mean over 32 faces is the mean of the gradients over two halves of 16. R devices
# with per-replica batch b compute exactly the step that one device computes with batch R x b; only the time
# changes. Here is that identity in plain NumPy, for a softmax regression on the faces' pixels:

# %%
def softmax_gradient(pixels, onehot, weights):
    """Gradient, with respect to `weights`, of the mean cross-entropy of softmax(pixels @ weights)."""
    logits = pixels @ weights
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    return pixels.T @ (p - onehot) / len(pixels)


rng = np.random.default_rng(0)
pixels = x_train[:32].reshape(32, -1) / 255.0
onehot = np.eye(data.NUM_CLASSES)[y_train[:32]]
weights = rng.normal(0, 0.01, (pixels.shape[1], data.NUM_CLASSES))
global_gradient = softmax_gradient(pixels, onehot, weights)                          # one device, batch 32
replica_gradients = [softmax_gradient(pixels[i:i + 16], onehot[i:i + 16], weights) for i in (0, 16)]
averaged = np.mean(replica_gradients, axis=0)                                        # two replicas of 16, all-reduce
print(f"batch 32 on one device vs the average of two replicas of 16: max |difference| "
      f"{np.abs(global_gradient - averaged).max():.1e} (largest entry {np.abs(global_gradient).max():.1e})")
print(f"batch 32 vs one replica's gradient alone: max |difference| "
      f"{np.abs(global_gradient - replica_gradients[0]).max():.1e}")

# %% [markdown]
# Averaging reproduces the global batch's gradient up to the last bits of float64; one replica's gradient alone
# is a different, noisier estimate. Three consequences decide how data-parallel runs are set up:
#
# - **The learning rate belongs to the global batch.** Going from one GPU with batch 64 to 8 GPUs with 64 each
#   makes the global batch 512: 8 times fewer steps per epoch, each averaging 8 times more faces. The **linear
#   scaling rule** (Goyal et al., 2017, their recipe for ImageNet) multiplies the learning rate by the same factor
#   and ramps it up over the first epochs (**warm-up**; they used 5), because a large rate on a freshly
#   initialised network diverges; it held up to batches of about 8,000 images. For Adam a square-root scaling is a
#   common starting point. Both are starting points to validate, not laws.
# - **Only what is per example splits cleanly.** BatchNormalization normalises with its batch's statistics: under
#   `tf.distribute` each replica uses its own slice's unless the layer is built with `synchronized=True`; under
#   JAX's `DataParallel` they are global. Dropout's masks depend on how random numbers are split across devices.
#   The check below uses a network without either.
# - **One worker writes.** All replicas hold the same weights, so one process (process 0, TensorFlow's "chief")
#   writes the checkpoints, logs and final model; the others would write the same files, or collide.
#
# The learning rates and steps for chapter 5's recipe (1e-3 at batch 64, 25,838 training faces) on more devices, by
# the linear rule (Goyal et al.'s, for SGD) and by the square-root rule (the usual starting point for Adam, which
# chapter 5 uses):

# %% tags=["nbval-check-output"]
import math

rows = []
for replicas in (1, 2, 4, 8):
    global_batch = 64 * replicas
    rows.append({"replicas": replicas, "per-replica batch": 64, "global batch": global_batch,
                 "steps per epoch": math.ceil(25_838 / global_batch),
                 "learning rate (linear rule, SGD)": 1e-3 * global_batch / 64,
                 "learning rate (square-root rule, Adam)": round(1e-3 * math.sqrt(global_batch / 64), 6),
                 "warm-up epochs": 1 if replicas == 1 else 5})
pd.DataFrame(rows).set_index("replicas")

# %% [markdown]
# ## 11.4 Two devices on one CPU, with JAX: `keras.distribution.DataParallel`
#
# There is no second GPU here, but XLA can present one CPU as several devices
# (`XLA_FLAGS=--xla_force_host_platform_device_count=2`, read once when JAX starts, hence a fresh process), and
# Keras' distribution API does the rest:
#
# ```python
# devices = keras.distribution.list_devices()              # ['cpu:0', 'cpu:1'] here; the GPUs on a GPU machine
# keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
# model = build_model()                                    # made after set_distribution: weights replicated
# model.compile(...); model.fit(x, y, batch_size=GLOBAL_BATCH)   # each batch split along its first axis
# ```
#
# `fer_helpers.scale.data_parallel_check` runs exactly that, after training the same network from the same initial
# weights on the same faces on **one** device with the **global** batch. The network is small (two convolutions,
# no dropout, no BatchNormalization) and the optimizer plain SGD, so any difference comes from the order of float32
# additions alone: we call the runs equal if no weight differs by more than 1e-5.

# %%
parallel = {}
parallel["jax"] = scale.data_parallel_check("jax", devices=2, steps=PARALLEL_STEPS,
                                            per_replica_batch=PER_REPLICA_BATCH, x=x_train, y=y_train)


def show_parallel(result):
    if result["status"] != "ok":
        print(f"{result['backend']}: {result['status']} {result.get('error', '')}")
        return
    print(f"{result['backend']}: {result['how']} on {result['devices']}")
    print(f"  global batch {result['global_batch']} = {result['per_replica_batch']} per replica x "
          f"{result['replicas']} replicas; {result['steps']} SGD steps, learning rate {result['learning_rate']}")
    print("  loss after each step, one device:", " ".join(f"{v:.6f}" for v in result["losses_one_device"]))
    print("  loss after each step, replicated:", " ".join(f"{v:.6f}" for v in result["losses_replicated"]))
    print(f"  max |weight difference| {result['max_weight_diff']:.1e} (tolerance {result['tolerance']:.0e}: "
          f"{'equal' if result['equal'] else 'NOT equal'}); the weights themselves moved by up to "
          f"{result['max_weight_change']:.1e}; load average {result['load_average_1min']}")


show_parallel(parallel["jax"])

# %% [markdown]
# The two runs agree to about 1e-8 (2.2e-08), while the training steps moved the weights by up to 3.0e-02:
# the two replicas together computed the one-device step. (The losses are Keras' running means over the steps
# so far, as `fit` logs them.)
#
# ## 11.5 The same with TensorFlow: `tf.distribute.MirroredStrategy`
#
# TensorFlow's own tool for several GPUs of one machine is `tf.distribute.MirroredStrategy`: model and optimizer
# are created inside `strategy.scope()`, which makes every weight a *mirrored* variable (one copy per device), and
# `fit` splits each batch across the replicas and all-reduces the gradients. To get two devices out of one CPU,
# TensorFlow must be told **before it initialises** to split it into two logical devices: a fresh process again.
# This run also trains one device with the **per-replica** batch (16), the tempting mistake of "keeping the batch
# size" when adding devices.

# %%
parallel["tensorflow"] = scale.data_parallel_check("tensorflow", devices=2, steps=PARALLEL_STEPS,
                                                   per_replica_batch=PER_REPLICA_BATCH, x=x_train, y=y_train,
                                                   contrast=True)
show_parallel(parallel["tensorflow"])
contrast = parallel["tensorflow"].get("max_weight_diff_per_replica_batch_on_one_device")
if contrast is not None:
    print(f"  one device with the per-replica batch ({PER_REPLICA_BATCH}) instead: max |weight difference| "
          f"{contrast:.1e}, not equal")

# %%
fig, axes = plt.subplots(1, 2, figsize=(8, 2.6), sharey=True)
for ax, (backend, result) in zip(axes, parallel.items()):
    if result["status"] != "ok":
        ax.set_title(f"{backend}: {result['status']}", fontsize=9)
        continue
    steps = np.arange(1, result["steps"] + 1)
    ax.plot(steps, result["losses_one_device"], "o-", label="one device, global batch", lw=3, alpha=0.4)
    ax.plot(steps, result["losses_replicated"], "x--", color="black", label=f"{result['replicas']} replicas")
    ax.set_title(f"{backend}: max |weight diff| {result['max_weight_diff']:.0e}", fontsize=9)
    ax.set_xlabel("SGD step")
    ax.set_xticks(steps)
axes[0].set_ylabel("training loss (running mean)")
axes[0].legend(fontsize=8)
plots.save_fig("11_data_parallel")
plt.show()

# %% [markdown]
# Both frameworks reproduce the one-device run to float32 rounding, and the per-replica-batch run does not: its
# weights differ by about as much as training moved them. Data parallelism is the same algorithm with the work
# split; what you must change is the learning rate, because it belongs to the global batch.
#
# On a machine with 8 GPUs, the same code runs with `keras.distribution.list_devices()` returning the GPUs (JAX)
# or `MirroredStrategy()` finding them by itself (TensorFlow); with the PyTorch backend, Keras leaves data
# parallelism to `torch.distributed` (`DistributedDataParallel`), not run here. On several machines (hosts) each
# runs the same script and one coordinates, and the same rules hold: the learning rate follows the global batch,
# every worker reads different faces, one worker writes.
#
# ### Several machines, in code (optional)
#
# With JAX:
#
# ```python
# keras.distribution.initialize(job_addresses="10.0.0.1:1234",   # the coordinator's address (host 0)
#                               num_processes=2, process_id=HOST_ID)
# keras.distribution.set_distribution(keras.distribution.DataParallel())   # all devices of all hosts
# model = build_model(); model.compile(...); model.fit(...)   # each host feeds its own share of every global batch
# if HOST_ID == 0:
#     model.save_weights("best.weights.h5")                    # one writer
# ```
#
# With TensorFlow, each worker gets the cluster and its own place in it through the `TF_CONFIG` variable, set
# before the strategy is made:
#
# ```python
# os.environ["TF_CONFIG"] = json.dumps({"cluster": {"worker": ["host0:12345", "host1:12345"]},
#                                       "task": {"type": "worker", "index": HOST_ID}})
# strategy = tf.distribute.MultiWorkerMirroredStrategy()
# with strategy.scope():
#     model = build_model(); model.compile(...)
# model.fit(dataset)   # a tf.data dataset of global batches; tf.data shards it across the workers
# ```
#
# Keras 3's callbacks do not know about workers: give the workers other than the first a throw-away folder (the
# pattern of TensorFlow's multi-worker guide) or skip their callbacks. And the network matters more than the
# devices: a few hundred GPUs cannot make up for a batch so large that the linear rule breaks.
#
# ## 11.6 Input pipelines: reading folders every epoch vs `tf.data`
#
# The classic Keras way to feed a network from class folders was `ImageDataGenerator().flow_from_directory("train/")`:
# every epoch it opened and decoded every image again in Python, and augmented it with SciPy. The rows below label
# it "original" as the idiom of the original project's time (its README does not say how it read its images: a
# likely reconstruction). **Keras 3 removed `ImageDataGenerator`**; a deprecated copy survives as
# `tf.keras.preprocessing.image.ImageDataGenerator` and is measured below. Its Keras 3 successor,
# `keras.utils.image_dataset_from_directory`, builds a `tf.data` pipeline: file names in, decoded batches out,
# decoding done in parallel in C++.
#
# `tf.data` is a chain of steps, each one line, each for a reason:
#
# | step | why |
# |---|---|
# | `from_tensor_slices((x, y))` or `image_dataset_from_directory(...)` | the source: arrays in memory, or files |
# | `.cache()` | keep the decoded faces after the first epoch: decode once, not every epoch |
# | `.shuffle(n)` | a new order every epoch (after `.cache()`, or the cached order is frozen) |
# | `.batch(b)` | faces to batches |
# | `.map(augment, num_parallel_calls=AUTOTUNE)` | random transforms on the CPU, on several batches at once |
# | `.prefetch(AUTOTUNE)` | prepare the next batches while the model trains on this one |
#
# The whole pipeline for arrays in memory, with chapter 3's augmentation mapped over batches (`keras.layers.Pipeline`
# keeps Keras' preprocessing layers usable in `tf.data` under any backend):

# %%
import tensorflow as tf

from fer_helpers import augment

augmentation = augment.augmentation_layers(flip=True, rotation=0.03, zoom=0.1, translation=0.1)
cpu_augmentation = keras.layers.Pipeline(augmentation.layers)
pipeline = (tf.data.Dataset.from_tensor_slices((data.as_model_input(x_train),
                                                keras.utils.to_categorical(y_train, data.NUM_CLASSES)))
            .cache()
            .shuffle(len(y_train), seed=session.seed)
            .batch(BATCH_SIZE)
            .map(lambda images, labels: (cpu_augmentation(images, training=True), labels),
                 num_parallel_calls=tf.data.AUTOTUNE)
            .prefetch(tf.data.AUTOTUNE))
images, labels = next(iter(pipeline))
print(f"one batch: images {tuple(images.shape)} {images.dtype.name}, labels {tuple(labels.shape)}; "
      f"{len(pipeline)} batches per epoch")

# %% [markdown]
# `scale.array_dataset` is that chain; `scale.folder_dataset` reads class folders, decoding every epoch or once
# (cached). `scale.pipeline_benchmark` writes the faces as PNG files in class folders (the Kaggle layout), then
# times each pipeline **reading** alone (median of 3 passes after an untimed one) and **feeding a training epoch**
# of the network above (median of `TIMED_EPOCHS` after an untimed one).

# %%
x_pipe, y_pipe = scale.repeat_to(x_train, y_train, PIPELINE_IMAGES)
pipelines = scale.pipeline_benchmark(x_pipe, y_pipe, batch_size=BATCH_SIZE, epochs=TIMED_EPOCHS,
                                     augmentation=augmentation, widths=WIDTHS)
print(f"{PIPELINE_IMAGES} faces as PNG files, batch {BATCH_SIZE}, {keras.backend.backend()} backend, "
      f"load average {machine.load_average()}")
pipelines

# %%
import matplotlib.ticker

fig, axes = plt.subplots(1, 2, figsize=(10, 3.2), sharey=True)
short = [name.split(" (")[0] if not name.startswith("original") else "original: flow_from_directory"
         for name in pipelines.index]
for ax, column, title in zip(axes, ["read_images_per_s", "train_images_per_s"],
                             ["reading alone (log scale)", "feeding a training epoch"]):
    bars = ax.barh(short, pipelines[column], color="tab:orange" if column.startswith("read") else "tab:blue")
    ax.bar_label(bars, fmt="%.0f", padding=3, fontsize=8)
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("images per second")
    ax.margins(x=0.25)
axes[0].set_xscale("log")
axes[0].xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda value, _: f"{value:,.0f}"))
axes[0].xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
axes[0].invert_yaxis()
plots.save_fig("11_pipelines")
plt.show()

# %% [markdown]
# What to notice:
#
# - **Reading alone**, the pipelines differ several-fold: serving decoded faces from memory (cached, or arrays
#   from the start) is three times or more faster than decoding the PNG files again in every epoch. The original
#   generator is in the same range as the uncached `tf.data` reader here: 48x48 PNGs are cheap to decode, and a few
#   hundred files are too few for parallel reading to show. Random augmentation on the CPU costs more than all the
#   reading.
# - **Feeding a training epoch**, the network is the bottleneck only once the faces are decoded: from the cache or
#   from arrays it trains at 780.5 and 768.5 images/s, while decoding the folders in every epoch halves that
#   (414.8) and the original generator lies between (614.4): on two cores, decoding competes with training for the
#   same cores. Augmenting on the CPU costs as much (410.4 against 768.5 for the same arrays; the benchmark's
#   `ImageDataGenerator` does not augment). One timed epoch of 256 faces is noisy: rerun before trusting a gap.
# - **On a GPU the picture turns around.** The training step gets one to two orders of magnitude faster while the
#   CPU that decodes the files does not: a pipeline that re-decodes every file starts to starve the GPU. That is
#   when `.cache()`, `num_parallel_calls` and `.prefetch()` pay off, and augmentation belongs on the GPU (chapter 3).
#
# ## 11.7 Mixed precision
#
# A float32 number takes 4 bytes; **float16** and **bfloat16** take 2. *Mixed* precision computes the layers in
# 16 bits and keeps the weights (and the optimizer's arithmetic) in float32, so that small updates are not
# rounded away. One line switches it on for every layer built afterwards:
#
# ```python
# keras.mixed_precision.set_global_policy("mixed_float16")    # or "mixed_bfloat16"
# ```
#
# **On a GPU it helps**: NVIDIA GPUs since Volta have *tensor cores* that multiply 16-bit matrices several times
# faster than float32, and 16-bit activations halve the memory traffic (Keras' documentation: "more than 3 times on
# modern GPUs and 60% on TPUs"). **On a CPU it usually does not**: most CPUs have no fast 16-bit arithmetic (this
# one advertises AVX2 and FMA, no AVX-512 BF16 or AMX), so 16-bit values are converted around float32 arithmetic.
#
# Two details matter:
#
# - **The output layer stays in float32.** float16 keeps about 3 significant digits and overflows above 65,504,
#   bfloat16 keeps fewer digits still, so probabilities near 0 or 1 and their logarithms come out wrong.
#   `scale.with_float32_output` rebuilds the last layer with `dtype="float32"` (in your own models, write
#   `layers.Dense(7, activation="softmax", dtype="float32")`).
# - **float16 needs loss scaling.** Small gradients underflow to zero in float16; under `mixed_float16`, `compile`
#   wraps the optimizer in a `LossScaleOptimizer`, which multiplies the loss before the gradients are computed
#   and divides them afterwards. bfloat16 has float32's range, so it needs none.
#
# The measurement runs in a fresh process, one policy after the other. Compare its float32 row only with the
# other rows of this table: it trains with Adam, while section 11.2 uses SGD with momentum.

# %%
precision = scale.precision_benchmark(x_bench, y_bench, widths=WIDTHS, batch_size=BATCH_SIZE, epochs=TIMED_EPOCHS)
print(f"{precision.attrs.get('backend', '')} on {precision.attrs.get('device', '?')}, "
      f"{BACKEND_IMAGES} faces, batch {BATCH_SIZE}")
precision

# %%
if machine.gpu_count():  # the same measurement with the GPU visible (not run here: this machine has none)
    precision_gpu = scale.precision_benchmark(x_bench, y_bench, device="any", widths=WIDTHS, batch_size=BATCH_SIZE,
                                              epochs=TIMED_EPOCHS)
    display(precision_gpu)
else:
    print("no GPU here: mixed precision on a GPU not measured")

# %%
ok = precision[precision["status"] == "ok"]
fig, ax = plt.subplots(figsize=(6, 2.2))
bars = ax.barh(ok.index, ok["images_per_s"], color="tab:green")
ax.bar_label(bars, fmt="%.0f", padding=3)
ax.set_xlabel("training images per second (CPU)")
ax.set_title("dtype policy on this CPU (output layer in float32)", fontsize=10)
ax.invert_yaxis()
ax.margins(x=0.15)
plots.save_fig("11_mixed_precision")
plt.show()

# %% [markdown]
# On this CPU neither 16-bit policy is faster than float32, as expected from hardware without fast 16-bit
# arithmetic: in this run float16 trained at 276.6 images/s and bfloat16 at 609.6, against float32's 816.4, and
# both took longer over their first epoch, which traces and converts more. The columns show the mechanics: the
# layers compute in 16 bits (`compute_dtype`), the weights stay float32 (`variable_dtype`), the output layer
# computes in float32, and only `mixed_float16` got a `LossScaleOptimizer`. The losses after these few epochs
# differ in the third digit (1.224 to 1.229), no more than between backends: with the weights kept in float32,
# 16-bit arithmetic trains the same network.
#
# On a GPU with tensor cores, expect the order to turn around, by how much depending on the GPU and on the network
# being large enough to keep it busy. Prefer `mixed_bfloat16` where the hardware has it (TPUs, NVIDIA GPUs since
# Ampere): a similar speed-up, no loss scaling.
#
# ## Summary
#
# - A Keras **backend** (TensorFlow, JAX, PyTorch) runs the arithmetic; the model code and the `.weights.h5`
#   files are the same under all three. Compare backends in separate processes from the same saved weights:
#   predictions agree to about 1e-8, training drifts apart slowly, and speed depends on the machine and its load:
#   measure before choosing.
# - **Data parallelism** splits each global batch across replicas and averages their gradients: it computes the
#   one-device step with the global batch (checked here on two CPU devices under JAX and TensorFlow). The learning
#   rate follows the global batch (linear rule for SGD, square-root rule as Adam's starting point, with warm-up);
#   under `tf.distribute` BatchNormalization uses each replica's slice unless `synchronized=True`; one worker writes.
# - An **input pipeline** that decodes once (`.cache()`), shuffles, batches, maps in parallel and prefetches is
#   rarely the bottleneck on a CPU; on a GPU it decides whether the GPU waits. `ImageDataGenerator` is gone from
#   Keras 3.
# - **Mixed precision** (`mixed_float16`, `mixed_bfloat16`) speeds up GPUs and TPUs and slows down most CPUs;
#   keep the output layer in float32, and let `mixed_float16` scale the loss.
#
# ## Exercises
#
# Answers that can be checked have a line under the exercise (run `from fer_helpers import check` first).
#
# 1. You move chapter 5's recipe (Adam, learning rate 1e-3, batch 64, one epoch of warm-up) to 6 GPUs with 96
#    faces per replica. What is the global batch, how many steps does an epoch of FER2013's 25,838 training faces
#    take, and what learning rate and warm-up does the linear scaling rule suggest? Why might you still prefer a
#    smaller learning rate than the rule's, and which?
#    - Check your answer: `check.exercise("11.1", (global_batch, steps_per_epoch, learning_rate))`.
# 2. The data-parallel check uses a network without BatchNormalization and without dropout. Predict what happens
#    to the maximum weight difference under `MirroredStrategy` if the network had a `BatchNormalization` layer,
#    and name the one argument that would make it equal again.
# 3. Run the TensorFlow data-parallel check on **four** logical devices with 8 faces per replica (global batch
#    32 again). Does it still equal one device with batch 32? Does it equal the two-device run of section 11.5?
# 4. In the folder pipeline, `.cache()` comes before `.shuffle()`. Build the array pipeline with the two steps
#    swapped, read two epochs, and compare the order of the labels. What went wrong, and why does it matter for
#    training?
# 5. A classmate reports: "mixed precision made my training 3 times slower, so it is useless". Under what
#    conditions is the observation right, and what would you ask before accepting the conclusion?

# %% [markdown] tags=["solution"]
# ## Solutions
#
# 1. Global batch 6 x 96 = 576, 9 times chapter 5's 64, so an epoch takes ceil(25,838 / 576) = 45 steps instead
#    of 404. The linear rule gives 1e-3 x 9 = 9e-3, reached after a warm-up of a few epochs (Goyal et al. used 5;
#    section 11.3's table computes the same for 1-8 replicas of 64). The rule was established for SGD with
#    momentum; with Adam, whose step size is already normalised per weight, 9e-3 is often too large: try the
#    square-root rule (1e-3 x sqrt(9) = 3e-3) and choose on the validation split. Also, 25,838 faces make only 45
#    updates per epoch at this batch size: a small dataset gains less from more devices than a large one.
# 2. Each replica would normalise with the mean and variance of its own 16 faces instead of all 32, so the
#    activations, the gradients and the weights would differ from the one-device run by much more than rounding.
#    `keras.layers.BatchNormalization(synchronized=True)`
#    all-reduces the statistics across replicas and restores the equality, at the price of one more communication
#    per layer and step. (Under JAX's `DataParallel` the batch is one sharded array and the statistics are global
#    already.)
# 3. The cell below. Yes: 4 x 8 = 32 faces per step, the same global batch, so the same steps up to rounding. It
#    also equals the two-device run up to rounding, since both equal the one-device run; the number of devices
#    changes the speed (on a real machine) and the order of the additions, not the algorithm.
# 4. With `.shuffle()` before `.cache()`, the first epoch's shuffled order is what gets cached: every later epoch
#    replays exactly that order (see the cell below). The model then sees the same sequence of batches every
#    epoch, which makes SGD's steps correlated from epoch to epoch; shuffling after the cache gives a new order
#    each epoch from the cached faces.
# 5. Right on hardware without fast 16-bit arithmetic (most CPUs, older GPUs before tensor cores, like this
#    chapter's CPU), and for networks so small that the GPU is never busy (then conversions and launch overheads
#    dominate). Ask: which device and which GPU generation, which policy (bfloat16 on a GPU without support for
#    it is emulated), whether the output layer stayed in float32, whether the first (compiling) epoch was counted,
#    and whether the input pipeline, not the model, was the bottleneck (then no arithmetic speed-up can show).

# %% tags=["solution"]
# Solution to exercise 3: four logical CPU devices, 8 faces per replica, global batch 32 (TensorFlow: no JAX needed).
four = scale.data_parallel_check("tensorflow", devices=4, steps=PARALLEL_STEPS, per_replica_batch=8,
                                 x=x_train, y=y_train)
show_parallel(four)
if four["status"] == "ok" and parallel["tensorflow"]["status"] == "ok":
    print("four vs two devices, loss after each step: max |difference| "
          f"{np.abs(np.subtract(four['losses_replicated'], parallel['tensorflow']['losses_replicated'])).max():.1e}")

# %% tags=["solution"]
# Solution to exercise 4: the cached order is frozen when .shuffle() comes before .cache().
labels_only = tf.data.Dataset.from_tensor_slices(y_train[:64])
for name, dataset in {"cache, then shuffle": labels_only.cache().shuffle(64, seed=1),
                      "shuffle, then cache": labels_only.shuffle(64, seed=1).cache()}.items():
    epochs = [[int(v) for v in dataset.as_numpy_iterator()][:12] for _ in range(2)]
    print(f"{name:>20}: epoch 1 {epochs[0]}\n{'':>20}  epoch 2 {epochs[1]}  same order: {epochs[0] == epochs[1]}")
