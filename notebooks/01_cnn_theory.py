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
# # 1. How a CNN sees a face: convolution, pooling, receptive fields and softmax, by hand
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/fer-course/fer-course/blob/main/notebooks/01_cnn_theory.ipynb)
# [![Open In Kaggle](https://kaggle.com/static/images/open-in-kaggle.svg)](https://kaggle.com/kernels/welcome?src=https://github.com/fer-course/fer-course/blob/main/notebooks/01_cnn_theory.ipynb)
# [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/fer-course/fer-course/main?labpath=notebooks%2F01_cnn_theory.ipynb)
#
# Every later chapter trains or inspects a convolutional neural network (CNN). This one opens it up on a single
# real face from FER2013: each operation is written once in plain numpy, then checked against the Keras layer
# that does the same job. By the end of this chapter you will be able to:
#
# - say what a 48x48 grayscale face is to a network, and compute a convolution, a ReLU and a max-pooling by hand;
# - predict a layer's output size, its parameter count and its receptive field from its kernel size and stride;
# - turn logits into probabilities with softmax (and a temperature) and compute the cross-entropy loss;
# - explain why a CNN suits faces better than a dense network on 2,304 pixels: locality, weight sharing and
#   translation equivariance.
#
# | mode | data | 2-core CPU | one GPU |
# |---|---|---|---|
# | quick (`FER_QUICK=1`, the default) | one face from the committed sample, the course model | 13 s (measured under nbval on 2026-12-07, 2 cores otherwise idle) | not needed |
# | full (`FER_QUICK=0`) | the same: this chapter trains nothing | 18 s (measured) | not needed |
#
# **Modes.** This chapter trains nothing, so quick and full mode run the same cells on the same face of the
# committed sample. The trained weights it inspects are the course model's: chapter 5's run if this machine has
# one, else the bundled reference. The outputs saved in this notebook come from the run named in the first output
# line below.

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
# Parameters. This chapter trains nothing, so quick and full mode run the same cells on the same face.
FACE_FILE = "happy/Training_1433924.jpg"   # the face we take apart: one image of the committed sample
PATCH_ROWS, PATCH_COLS = slice(14, 22), slice(11, 19)   # an 8x8 patch around the left eye (as we look at it)
FILTERS_SHOWN = 16                         # how many first-layer filters and feature maps to draw

# %% [markdown]
# ## 1.1 What the network is given: a 48x48 array of numbers
#
# One face is enough, from the committed sample (`data/sample/`), so every reader sees the same numbers.
# `load_split` returns the images as one numpy array; a face is a slice of it.

# %%
import numpy as np

from fer_helpers import data

sample = data.load_split(course.SAMPLE_DIR, "train")
face = sample.x[sample.files.index(FACE_FILE)]
label = int(sample.y[sample.files.index(FACE_FILE)])
print(f"{FACE_FILE}: label {label} = {data.CLASS_NAMES[label]}")
print(f"{type(face).__name__} of shape {face.shape}, dtype {face.dtype}: {face.size} numbers from "
      f"{face.min()} to {face.max()}, mean {face.mean():.1f}")

# %% [markdown]
# That is all there is: 2,304 integers between 0 (black) and 255 (white), in 48 rows of 48. There is no "eye" or
# "mouth" in the array, only numbers; whatever the network knows about faces it must build from how neighbouring
# numbers relate. Zoomed in on the eye, the numbers are plain to read: the dark iris and eyebrow are the small
# values, the skin around them the large ones.

# %%
import matplotlib.pyplot as plt
from matplotlib.patches import Rectangle

from fer_helpers import plots

patch = face[PATCH_ROWS, PATCH_COLS]
fig, (ax_face, ax_patch) = plt.subplots(1, 2, figsize=(10, 4.8), gridspec_kw={"width_ratios": [1, 1.15]})
ax_face.imshow(face, cmap="gray", vmin=0, vmax=255)
ax_face.add_patch(Rectangle((PATCH_COLS.start - 0.5, PATCH_ROWS.start - 0.5), patch.shape[1], patch.shape[0],
                            fill=False, edgecolor="red", linewidth=2))
ax_face.set_title(f"the face: {face.shape[0]}x{face.shape[1]} pixels")
ax_patch.imshow(patch, cmap="gray", vmin=0, vmax=255)
for (i, j), value in np.ndenumerate(patch):
    ax_patch.text(j, i, str(value), ha="center", va="center", fontsize=9,
                  color="white" if value < 128 else "black")
ax_patch.set_xticks(range(patch.shape[1]), range(PATCH_COLS.start, PATCH_COLS.stop))
ax_patch.set_yticks(range(patch.shape[0]), range(PATCH_ROWS.start, PATCH_ROWS.stop))
ax_patch.set_xlabel("column")
ax_patch.set_ylabel("row")
ax_patch.set_title("the red patch: what the network actually receives")
fig.tight_layout()
plots.save_fig("01_pixels")
plt.show()

# %% [markdown]
# The course's models take these values as float32 in 0..255 and divide by 255 themselves (a `Rescaling` layer),
# so in this chapter we work with `x = face / 255`, values in 0..1.
#
# ## 1.2 Convolution by hand
#
# A convolutional layer slides a small grid of weights, the **kernel** or **filter** (here 3x3), over the image.
# At each position it multiplies the 9 pixels under the kernel by the 9 weights and adds the products. The result,
# the **feature map**, is large where the patch looks like the kernel, small or negative where it looks like its
# opposite. As a double loop:

# %%
x = face.astype("float64") / 255


def conv2d_valid(image, kernel):
    """Slide `kernel` over `image` ('valid': only where it fits entirely); output (H-k+1, W-k+1)."""
    k = kernel.shape[0]
    out = np.zeros((image.shape[0] - k + 1, image.shape[1] - k + 1))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = np.sum(image[i:i + k, j:j + k] * kernel)
    return out


# %% [markdown]
# **Output size.** With 'valid' padding the kernel is only placed where it fits entirely: a 3x3 kernel has 46
# positions along 48 pixels. In general, for an input of size $n$, kernel $k$, padding $p$ on each side and
# stride $s$:
#
# $$n_\text{out} = \left\lfloor \frac{n + 2p - k}{s} \right\rfloor + 1$$
#
# 'valid' means $p = 0$ ($48 \to 46$); 'same' pads with $p = (k-1)/2$ zeros so that the size is kept ($48 \to 48$).
# The original CNN of this course uses 'valid', so each convolution trims a one-pixel border.
#
# Four classic hand-designed kernels show what a 3x3 filter can detect:
#
# - **Sobel x** weighs the right column against the left: it responds to *vertical* edges (brightness changing
#   from left to right), positive for dark-to-bright, negative for bright-to-dark;
# - **Sobel y**, its transpose, responds to *horizontal* edges (top to bottom);
# - **blur** averages the 9 pixels: it removes detail;
# - **sharpen** is 5 times the centre minus its four neighbours: it exaggerates detail.

# %%
KERNELS = {
    "Sobel x (vertical edges)": np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=float),
    "Sobel y (horizontal edges)": np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]], dtype=float),
    "blur": np.full((3, 3), 1 / 9),
    "sharpen": np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], dtype=float),
}
hand_maps = {name: conv2d_valid(x, kernel) for name, kernel in KERNELS.items()}
for name, fmap in hand_maps.items():
    print(f"{name:28s} {x.shape} -> {fmap.shape}")

# %% [markdown]
# One output value in full: the Sobel x response at row 17, column 13 (inside the eye patch) is the sum of the
# products of the kernel and the 3x3 pixels whose top-left corner is at (17, 13).

# %%
i, j = 17, 13
window = x[i:i + 3, j:j + 3]
print("pixels / 255:\n", window.round(2))
print("kernel:\n", KERNELS["Sobel x (vertical edges)"])
print(f"sum of products = {np.sum(window * KERNELS['Sobel x (vertical edges)']):.3f} "
      f"= feature map[{i}, {j}] = {hand_maps['Sobel x (vertical edges)'][i, j]:.3f}")

# %% [markdown]
# The four feature maps below (red positive, blue negative, white zero; each edge map on its own scale): Sobel x
# responds most to near-vertical boundaries such as the jaw line on the right, Sobel y to the eyebrows, eyes and
# lips; blurring loses the detail of the teeth, sharpening makes it crisper (and noisier).

# %%
fig, axes = plt.subplots(2, 5, figsize=(12, 5.2), gridspec_kw={"height_ratios": [1, 2.2]})
axes[0, 0].axis("off")
axes[1, 0].imshow(x, cmap="gray", vmin=0, vmax=1)
axes[1, 0].set_title("input (48x48)", fontsize=9)
for col, (name, kernel) in enumerate(KERNELS.items(), start=1):
    scale = np.abs(kernel).max()
    axes[0, col].imshow(kernel, cmap="RdBu_r", vmin=-scale, vmax=scale)
    for (a, b), w in np.ndenumerate(kernel):
        axes[0, col].text(b, a, f"{w:.2g}", ha="center", va="center", fontsize=8,
                          color="white" if abs(w) > 0.6 * scale else "black")
    axes[0, col].set_title(name, fontsize=9)
    fmap = hand_maps[name]
    if name in ("blur", "sharpen"):   # these keep the brightness: shown as images
        axes[1, col].imshow(fmap, cmap="gray", vmin=0, vmax=1)
    else:                             # edge responses are signed: red positive, blue negative
        m = np.abs(fmap).max()
        axes[1, col].imshow(fmap, cmap="RdBu_r", vmin=-m, vmax=m)
    axes[1, col].set_title(f"feature map {fmap.shape[0]}x{fmap.shape[1]}", fontsize=9)
for ax in axes.ravel():
    ax.set_xticks([]), ax.set_yticks([])
fig.tight_layout()
plots.save_fig("01_hand_filters")
plt.show()

# %% [markdown]
# **Convolution or cross-correlation?** What we wrote, and what every deep-learning library calls "convolution",
# is strictly a *cross-correlation*: the kernel is laid on the image as it is. Signal processing's convolution
# flips it first (rows and columns reversed): no change for blur and sharpen, swapped signs for Sobel x. A trained
# network simply learns the flipped weights; the difference matters only when you copy a kernel from a
# signal-processing text into a Keras layer. SciPy has both:

# %%
from scipy import signal

sobel_x = KERNELS["Sobel x (vertical edges)"]
ours = hand_maps["Sobel x (vertical edges)"]
print("ours == scipy correlate2d:                  ", np.allclose(ours, signal.correlate2d(x, sobel_x, "valid")))
print("ours == scipy convolve2d:                   ", np.allclose(ours, signal.convolve2d(x, sobel_x, "valid")))
print("convolve2d == ours with the kernel flipped: ",
      np.allclose(signal.convolve2d(x, sobel_x, "valid"), conv2d_valid(x, sobel_x[::-1, ::-1])))

# %% [markdown]
# ## 1.3 The same with a Keras `Conv2D` layer
#
# A `Conv2D` layer with 4 filters holds exactly these weights, in a kernel tensor of shape
# `(height, width, input channels, filters)` = `(3, 3, 1, 4)`, plus one bias per filter (switched off here to
# match our loop). Keras works on batches of images with a channel axis: the face enters as `(1, 48, 48, 1)`.
# We set the weights ourselves instead of training them, and compare.

# %% tags=["nbval-check-output"]
import keras

kernel_tensor = np.stack(list(KERNELS.values()), axis=-1)[:, :, None, :].astype("float32")  # (3, 3, 1, 4)
conv = keras.layers.Conv2D(filters=4, kernel_size=3, padding="valid", use_bias=False)
conv.build((None, 48, 48, 1))
conv.set_weights([kernel_tensor])
keras_maps = keras.ops.convert_to_numpy(conv(x[None, :, :, None].astype("float32")))
numpy_maps = np.stack(list(hand_maps.values()), axis=-1)[None]
difference = np.abs(keras_maps - numpy_maps).max()
print("kernel tensor", kernel_tensor.shape, "| input", (1, 48, 48, 1), "| output", keras_maps.shape)
print("numpy and Keras agree to within 1e-5:", bool(difference < 1e-5))

# %%
print(f"largest absolute difference: {difference:.1e} (float32 rounding; Keras computes in float32, numpy in float64)")

# %% [markdown]
# Same numbers: a `Conv2D` layer is our double loop, run in optimised code over many filters, channels and images at
# once. With $c_\text{in}$ input channels (e.g. the 128 maps of the previous layer) each filter is
# $k \times k \times c_\text{in}$ and sums over all channels, so each output map combines every input map.
#
# ## 1.4 ReLU, max pooling and stride
#
# **ReLU** (rectified linear unit), $\max(0, z)$, follows every convolution in our CNN. Without a non-linearity,
# stacked convolutions would collapse into a single convolution (a linear map of a linear map is linear) and depth
# would buy nothing. After ReLU a Sobel x map keeps only its dark-to-bright edges.
#
# **Max pooling** 2x2 keeps the largest value of each non-overlapping 2x2 block: the map halves in each direction
# (46 -> 23), the strongest responses survive, and a feature that moves by a pixel gives the same output as long
# as its maximum stays inside the same block (an optional part of section 1.9 measures how often). Again by hand
# first:

# %%
def relu(z):
    return np.maximum(z, 0)


def max_pool2(fmap):
    """2x2 max pooling with stride 2; an odd last row or column is dropped, as Keras does ('valid')."""
    out = np.zeros((fmap.shape[0] // 2, fmap.shape[1] // 2))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = fmap[2 * i:2 * i + 2, 2 * j:2 * j + 2].max()
    return out


edges = hand_maps["Sobel x (vertical edges)"]
rectified = relu(edges)
pooled = max_pool2(rectified)

# %%
keras_pooled = keras.ops.convert_to_numpy(keras.layers.MaxPooling2D(2)(rectified[None, :, :, None].astype("float32")))
print("by hand:", rectified.shape, "->", pooled.shape, "| Keras:", keras_pooled.shape[1:3])
print("numpy and Keras agree to within 1e-6:", bool(np.abs(keras_pooled[0, :, :, 0] - pooled).max() < 1e-6))

# %% [markdown]
# **Stride** is the step of the sliding window: pooling above used 2, and a convolution can too. A 3x3 convolution
# with stride 2 gives $\lfloor (48 - 3)/2 \rfloor + 1 = 23$ positions per side, exactly every other value of the
# stride-1 map, for a quarter of the arithmetic: the other common way (besides pooling) to shrink maps.

# %%
strided = keras.layers.Conv2D(4, 3, strides=2, padding="valid", use_bias=False)
strided.build((None, 48, 48, 1))
strided.set_weights([kernel_tensor])
strided_maps = keras.ops.convert_to_numpy(strided(x[None, :, :, None].astype("float32")))
print("stride 2:", strided_maps.shape[1:3], "| equals every other value of the stride-1 map:",
      np.allclose(strided_maps, keras_maps[:, ::2, ::2, :], atol=1e-5))

# %%
fig = plots.map_grid([edges, rectified, pooled, max_pool2(pooled)], columns=4, size=2.6,
                     titles=["Sobel x map (46x46)", "after ReLU (46x46)", "max-pooled 2x2 (23x23)",
                             "pooled again (11x11)"])
plots.save_fig("01_relu_pool")
plt.show()

# %% [markdown]
# After two poolings the map is coarse (11x11) but still shows roughly *where* the strong vertical edges are:
# pooling trades exact position for robustness and smaller maps, so later layers are cheaper and each of their
# units covers more of the face (section 1.6).
#
# ## 1.5 Learned filters: an untrained layer versus a trained one
#
# A CNN is not given Sobel kernels: its first layer starts from random weights and learns its own 3x3 filters
# from the labelled faces, because they help lower the loss (chapter 1b shows how, and learns an edge filter back
# from data). Below, the 16 strongest of the 128 first-layer filters of the original CNN, twice: freshly
# initialised (Glorot-uniform random weights), and after training on FER2013 (the course model, see **Modes**).
# Each row shows the filters with the largest weights first.

# %%
from fer_helpers import models

trained = models.course_model()
untrained = models.build_seed_cnn()   # the same architecture, random initial weights (seeded)


def first_layer_filters(model):
    """The conv1 kernels as (128, 3, 3), strongest (largest L2 norm) first."""
    kernel = model.get_layer("conv1").get_weights()[0]
    filters = np.moveaxis(kernel[:, :, 0, :], -1, 0)
    order = np.argsort(-np.linalg.norm(filters.reshape(len(filters), -1), axis=1))
    return filters[order]


random_filters, learned_filters = first_layer_filters(untrained), first_layer_filters(trained)
fig = plots.map_grid(list(random_filters[:FILTERS_SHOWN]) + list(learned_filters[:FILTERS_SHOWN]),
                     columns=FILTERS_SHOWN, size=0.8, symmetric=True, row_labels=["untrained", "trained"],
                     suptitle="first-layer 3x3 filters (red positive, blue negative)")
plots.save_fig("01_filters_untrained_vs_trained")
plt.show()

# %% [markdown]
# Numbers to go with the picture, for all 128 filters. The cosine between a filter and the constant filter says
# how much of it is a plain average: +1 for a pure blur (a brightness detector), -1 for a negated blur, 0 for a
# pure contrast detector such as Sobel (weights summing to zero). Beside it, the shares of filters whose weights
# sum to a negative number and with a negative bias: on an evenly lit patch of brightness $v$ a filter responds
# $v \times (\text{sum of its weights}) + \text{bias}$, so these two signs decide whether ReLU lets anything through.

# %%
import pandas as pd


def average_cosine(filters):
    """Cosine between each 3x3 filter and the constant filter: +1 = pure average, -1 = negated average, 0 = contrast."""
    flat = filters.reshape(len(filters), -1)
    return flat.sum(axis=1) / (3 * np.linalg.norm(flat, axis=1) + 1e-12)


def filter_signs(model, filters):
    """How the conv1 filters of a model answer brightness: cosine statistics and the shares of negative signs."""
    cosine, bias = average_cosine(filters), model.get_layer("conv1").get_weights()[1]
    return {"cosine: mean": cosine.mean(), "cosine: median": np.median(cosine), "mean |cosine|": np.abs(cosine).mean(),
            "weights sum < 0": (cosine < 0).mean(), "bias < 0": (bias < 0).mean()}


pd.DataFrame({"untrained": filter_signs(untrained, random_filters),
              "trained": filter_signs(trained, learned_filters)}).round(2).T

# %% [markdown]
# The feature maps the two layers produce on our face, after ReLU. Many are black on this face (the count
# below); of the others we show 8 per layer, spread evenly from the most varied to the least: a fair sample, not
# the 8 most striking.

# %%
def conv1_maps(model):
    """conv1's 128 feature maps of the face (after ReLU) as (128, 46, 46), the most varied (largest std) first."""
    conv1 = keras.Model(model.input, model.get_layer("conv1").output)
    maps = np.moveaxis(keras.ops.convert_to_numpy(conv1(data.as_model_input(face[None])))[0], -1, 0)
    return maps[np.argsort(-maps.std(axis=(1, 2)))]


def spread(maps, n=8):
    """n of the maps that are not zero everywhere, evenly spaced in the order given."""
    live = maps[maps.max(axis=(1, 2)) > 0]
    return list(live[np.linspace(0, len(live) - 1, n).round().astype(int)])


maps_random, maps_learned = conv1_maps(untrained), conv1_maps(trained)
fig = plots.map_grid(spread(maps_random) + spread(maps_learned), columns=8, size=1.4,
                     row_labels=["untrained", "trained"],
                     suptitle="conv1 feature maps of the face after ReLU, from most to least varied (white = strong)")
plots.save_fig("01_feature_maps")
plt.show()
for name, maps in [("untrained", maps_random), ("trained", maps_learned)]:
    print(f"{name:9s} conv1: {(maps.max(axis=(1, 2)) == 0).sum():3d} of 128 maps are zero everywhere on this face")

# %% [markdown]
# What to notice:
#
# - Even the untrained maps show the face: any 3x3 filter mixes an average (blur), a gradient (edge) and a spot
#   detector, so a random first layer already passes on most of the image. What a network knows about emotions
#   lies in how the deeper layers and the dense head combine these maps.
# - Nobody asked the trained filters to be edge detectors: they are whatever lowered the loss. Large networks
#   trained on colour photographs famously learn oriented edge and colour-blob detectors in their first layer
#   (Krizhevsky et al. 2012, Zeiler and Fergus 2014, for 11x11 and 7x7 filters); a 3x3 filter on a grayscale face
#   has far less room, and neither row shows clean oriented edges. The difference is in the signs (the table):
#   random filters sum to either sign, about half each, with a zero bias; almost all trained ones sum to a
#   negative number, and most have a negative bias.
# - So on an evenly lit patch a trained filter responds below zero and ReLU silences it; only a strong local
#   contrast (a dark eye against bright skin) pushes it above zero. Hence far more trained maps are zero
#   everywhere (the count above), and those that survive look like edge maps: the trained filters are
#   *thresholded* contrast detectors. One face cannot tell such a filter from a "dead" one that never fires:
#   count the silent maps over a few hundred faces to find out.
#
# ## 1.6 Receptive field: how much of the face one unit sees
#
# A unit of conv1 sees 3x3 pixels; a unit of conv2 sees 3x3 units of pool1, each covering 2x2 units of conv1, each
# covering 3x3 pixels. The region of the input that can influence a unit, its **receptive field**, grows with
# depth. With $r$ the receptive field (in input pixels) and $j$ the *jump* (how many input pixels apart two
# neighbouring units of the layer are), layer by layer:
#
# $$r_\text{out} = r_\text{in} + (k - 1)\, j_\text{in}, \qquad j_\text{out} = j_\text{in} \cdot s$$
#
# starting from $r = 1$, $j = 1$ at the input. A 3x3 convolution adds $2j$ pixels; a 2x2 pooling adds $j$ and
# doubles the jump, so every convolution after a pooling widens the view twice as fast as the one before.

# %% tags=["nbval-check-output"]
SEED_CNN_LAYERS = [("conv1", 3, 1), ("pool1", 2, 2), ("conv2", 3, 1), ("pool2", 2, 2),
                   ("conv3", 3, 1), ("pool3", 2, 2), ("conv4", 3, 1), ("pool4", 2, 2)]


def receptive_fields(layers, size=48):
    """Output size, receptive field and jump after each (name, kernel, stride) layer, 'valid' padding."""
    r, jump, rows = 1, 1, [{"layer": "input", "k": "", "s": "", "output size": size, "receptive field": 1, "jump": 1}]
    for name, k, s in layers:
        size = (size - k) // s + 1
        r = r + (k - 1) * jump
        jump = jump * s
        rows.append({"layer": name, "k": k, "s": s, "output size": size, "receptive field": r, "jump": jump})
    return pd.DataFrame(rows).set_index("layer")


rf_table = receptive_fields(SEED_CNN_LAYERS)
print(rf_table.to_string())

# %% [markdown]
# A conv4 unit sees a 38x38 window, about two thirds of the face's area; after pool4 a single unit sees 46x46
# pixels. So the fourth block can respond to whole-face configurations (a smile *with* raised cheeks and narrowed
# eyes) where conv1 sees only bits of edges. One detail of 'valid' padding with flooring pooling: the last two rows
# and columns (46 and 47) are in no receptive field at all; the network never looks at them.

# %% [markdown]
# ### Checking the formula by experiment (optional)
#
# The receptive field is a statement about which pixels can change a unit, so we can test it: light up one pixel
# at a time (2,304 images, each black but for one pixel) and see which ones change the unit. To make the test
# exact we use a *linear stand-in* of the CNN: the same layer geometry, all-ones kernels and average pooling
# (same windows as max pooling, but every pixel of the window counts, never just the largest).

# %%
def linear_stand_in(upto):
    """The seed CNN's geometry up to layer `upto`: all-ones 3x3 'valid' convolutions, 2x2 average pooling."""
    inputs = keras.Input((48, 48, 1))
    y = inputs
    for name, k, s in SEED_CNN_LAYERS:
        if name.startswith("conv"):
            y = keras.layers.Conv2D(1, k, use_bias=False, kernel_initializer="ones")(y)
        else:
            y = keras.layers.AveragePooling2D(k)(y)
        if name == upto:
            break
    return keras.Model(inputs, y)


one_pixel_images = np.eye(48 * 48, dtype="float32").reshape(-1, 48, 48, 1)   # image n: pixel n lit, all else 0
influence = {}
for layer in ("conv1", "conv2", "conv3", "conv4", "pool4"):
    responses = linear_stand_in(layer).predict(one_pixel_images, batch_size=256, verbose=0)
    influence[layer] = responses[:, 0, 0, 0].reshape(48, 48)   # how much each pixel moves the top-left unit
    rows, cols = np.nonzero(influence[layer])
    print(f"{layer}: the top-left unit is moved by rows {rows.min()}-{rows.max()}, columns {cols.min()}-{cols.max()}: "
          f"{rows.max() - rows.min() + 1}x{cols.max() - cols.min() + 1} pixels "
          f"(formula: {rf_table.loc[layer, 'receptive field']})")

# %% [markdown]
# The measured windows match the formula. The second panel below also shows *how much* each pixel counts: a pixel
# near the centre of the window reaches the unit through many overlapping paths, a pixel at the edge through one,
# so what the unit actually responds to is concentrated in the middle of the theoretical square (Luo et al., 2016,
# call this the **effective** receptive field).

# %%
fig, (ax_rf, ax_eff) = plt.subplots(1, 2, figsize=(11, 4.6))
ax_rf.imshow(face, cmap="gray", vmin=0, vmax=255)
colours = {"conv1": "yellow", "conv2": "orange", "conv3": "red", "conv4": "magenta", "pool4": "cyan"}
for layer, colour in colours.items():
    r = int(rf_table.loc[layer, "receptive field"])
    ax_rf.add_patch(Rectangle((-0.5, -0.5), r, r, fill=False, edgecolor=colour, linewidth=2,
                              label=f"{layer}: {r}x{r}"))
ax_rf.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
ax_rf.set_title("receptive field of the top-left unit of each layer")
im = ax_eff.imshow(influence["conv4"] / influence["conv4"].max(), cmap="magma")
ax_eff.add_patch(Rectangle((-0.5, -0.5), 38, 38, fill=False, edgecolor="magenta", linestyle="--", linewidth=1.5))
ax_eff.set_title("how much each pixel moves that conv4 unit\n(linear stand-in, 1 = most; dashed: 38x38)")
fig.colorbar(im, ax=ax_eff, fraction=0.046)
for ax in (ax_rf, ax_eff):
    ax.set_xticks([0, 16, 32, 47]), ax.set_yticks([0, 16, 32, 47])
fig.tight_layout()
plots.save_fig("01_receptive_field")
plt.show()

# %% [markdown]
# ## 1.7 Dense layers and softmax: from feature maps to seven probabilities
#
# After pool4 the face is a 1x1x512 block of features; `Flatten` makes it a vector $x$ of 512 numbers. A **dense**
# layer computes $h = \text{ReLU}(W^\top x + b)$ (Keras stores $W$ as inputs x outputs, so the code reads `x @ W`):
# every output unit sees every input feature. Two dense layers (512 and 256 units) combine the features, and a
# last one with 7 units gives one score per emotion, the **logits** $z_1, \dots, z_7$: any real numbers.
# **Softmax** turns them into probabilities:
#
# $$p_c = \frac{e^{z_c / T}}{\sum_{c'} e^{z_{c'} / T}}$$
#
# with temperature $T = 1$ in the model. Exponentials make every $p_c$ positive, the division makes them sum to 1,
# and the largest logit gets the largest probability. An example with made-up logits:

# %% tags=["nbval-check-output"]
def softmax(logits, temperature=1.0):
    z = np.asarray(logits, dtype=float) / temperature
    z = z - z.max()        # does not change the result (exercise 4), but keeps exp() from overflowing
    e = np.exp(z)
    return e / e.sum()


example_logits = np.array([1.0, -1.0, 0.5, 3.0, 1.5, 0.0, 0.5])   # made up: "happy" is the strongest
table = pd.DataFrame({f"T = {t:g}": softmax(example_logits, t) for t in (0.5, 1, 2, 5)}, index=data.CLASS_NAMES)
table.insert(0, "logit", example_logits)
print(table.round(3).to_string())

# %% [markdown]
# The temperature divides every logit before the softmax. $T < 1$ sharpens the distribution towards the largest
# logit, $T > 1$ flattens it towards uniform (1/7 = 0.143 each); the ranking, and so the predicted class, never
# changes. Training uses $T = 1$; a temperature fitted afterwards is a common way to make a model's confidence
# honest (*calibration*), and a high temperature is how *knowledge distillation* usually exposes a teacher's second
# choices (chapter 9 says when $T = 1$ is enough).

# %%
fig, ax = plt.subplots(figsize=(8, 3.2))
width = 0.27
for n, t in enumerate((0.5, 1, 2)):
    ax.bar(np.arange(7) + (n - 1) * width, softmax(example_logits, t), width, label=f"T = {t:g}")
ax.axhline(1 / 7, color="grey", linestyle=":", label="uniform (1/7)")
ax.set_xticks(range(7), data.CLASS_NAMES)
ax.set_ylabel("probability")
ax.set_title("softmax of the same logits at three temperatures")
ax.legend()
fig.tight_layout()
plots.save_fig("01_softmax_temperature")
plt.show()

# %% [markdown]
# **Cross-entropy**, the loss every chapter trains with, is minus the log of the probability given to the true
# class: $L = -\log p_\text{true}$. It is 0 for a certain, correct prediction and grows without bound as
# $p_\text{true} \to 0$, so a confident mistake costs far more than a hesitant one:

# %%
p = softmax(example_logits)
for true_class in ("happy", "neutral", "disgust"):
    c = data.CLASS_NAMES.index(true_class)
    print(f"true class {true_class:8s}: p = {p[c]:.3f}, loss = -log p = {-np.log(p[c]):.3f}")
print(f"a uniform guess (p = 1/7 for every class) costs {np.log(7):.3f}: roughly where an untrained model's loss starts")

# %% [markdown]
# Now the same steps on the trained model and our face. The model's last layer applies the softmax itself, so to
# see its logits we take the 256 features entering that layer and apply its weights by hand, $z = W^\top h + b$,
# then our `softmax`; the result must equal the model's own output.

# %%
features = keras.Model(trained.input, trained.get_layer("dense2").output)   # the 256 features after ReLU
h = keras.ops.convert_to_numpy(features(data.as_model_input(face[None])))[0]
W, b = trained.get_layer("emotion").get_weights()                          # (256, 7) and (7,)
logits = h @ W + b
by_hand = softmax(logits)
from_model = keras.ops.convert_to_numpy(trained(data.as_model_input(face[None])))[0]
print(f"features {h.shape} -> logits {logits.shape}; by hand == model output (to 1e-5):",
      np.allclose(by_hand, from_model, atol=1e-5))
pd.DataFrame({"logit": logits, "probability": by_hand}, index=data.CLASS_NAMES).round(3).T

# %%
print(f"true class {data.CLASS_NAMES[label]}: p = {by_hand[label]:.3f}, "
      f"cross-entropy = {-np.log(by_hand[label]):.3f}; predicted: {data.CLASS_NAMES[by_hand.argmax()]}")

# %% [markdown]
# ## 1.8 Counting parameters
#
# The parameters are the numbers training adjusts. Each filter of a convolution has $k \times k \times c_\text{in}$
# weights and one bias; each unit of a dense layer has $n_\text{in}$ weights and one bias:
#
# $$\text{conv: } k \cdot k \cdot c_\text{in} \cdot c_\text{out} + c_\text{out}, \qquad
#   \text{dense: } n_\text{in} \cdot n_\text{out} + n_\text{out}$$
#
# Pooling, ReLU, dropout, rescaling and flatten have none. For the original CNN, by formula and by Keras:

# %% tags=["nbval-check-output"]
cnn = models.build_seed_cnn()
rows = []
c_in = 1
for name, c_out in [("conv1", 128), ("conv2", 256), ("conv3", 512), ("conv4", 512)]:
    rows.append({"layer": name, "formula": f"3*3*{c_in}*{c_out} + {c_out}", "by formula": 9 * c_in * c_out + c_out})
    c_in = c_out
n_in = rf_table.loc["pool4", "output size"] ** 2 * c_in    # Flatten: 1*1*512
for name, n_out in [("dense1", 512), ("dense2", 256), ("emotion", 7)]:
    rows.append({"layer": name, "formula": f"{n_in}*{n_out} + {n_out}", "by formula": n_in * n_out + n_out})
    n_in = n_out
params = pd.DataFrame(rows).set_index("layer")
params["Keras count_params"] = [cnn.get_layer(name).count_params() for name in params.index]
params["share"] = (params["by formula"] / params["by formula"].sum()).map("{:.1%}".format)
print(params.to_string())
print(f"total: {params['by formula'].sum():,} by formula, {cnn.count_params():,} by Keras")

# %% [markdown]
# Notice where the parameters are: conv4 alone holds more than half (512 filters, each 3x3x512), while conv1,
# which sees the pixels, has only 1,280. Because pool4 shrinks the maps to 1x1, the first dense layer is cheap
# here; with 'same' padding and fewer poolings, `Flatten` would feed it thousands of values and it would dominate.
#
# ## 1.9 Why a CNN for faces, and not a dense network on the pixels?
#
# A dense network could take the 2,304 pixels as a vector. Three properties of convolutions make them the better
# fit for images:
#
# - **Locality.** A conv unit looks at a small neighbourhood, a dense unit at every pixel. Edges, corners and
#   textures are formed by nearby pixels, so local units learn them first and later layers compose them.
# - **Weight sharing.** The same 3x3 filter is applied at all 2,116 positions: an eyebrow detector learned at one
#   place works everywhere, and all positions train its 10 parameters at once. A dense layer producing the same
#   46x46x128 maps would need a separate weight from every pixel to every output value.
# - **Translation equivariance.** Shift the face, and the feature maps shift with it (checked below). Shift it by
#   one pixel and every dense unit sees an unrelated input, so a dense net must learn each face position
#   separately.
#
# In numbers:

# %%
dense_net = keras.Sequential([keras.Input((48, 48, 1)), keras.layers.Rescaling(1 / 255), keras.layers.Flatten(),
                              keras.layers.Dense(512, activation="relu"), keras.layers.Dense(256, activation="relu"),
                              keras.layers.Dense(7, activation="softmax")], name="dense_on_pixels")
conv1_outputs = 46 * 46 * 128
comparison = pd.DataFrame([
    {"what": "conv1 (3x3, 128 filters)", "parameters": cnn.get_layer("conv1").count_params()},
    {"what": "a dense layer giving the same 46x46x128 outputs", "parameters": 48 * 48 * conv1_outputs + conv1_outputs},
    {"what": "dense net on pixels (2304-512-256-7)", "parameters": dense_net.count_params()},
    {"what": "the original CNN (4 conv + 3 dense)", "parameters": cnn.count_params()},
]).set_index("what")
comparison["MFLOPs per face"] = [models.layer_table(cnn).set_index("layer").loc["conv1", "MFLOPs"],
                                 2 * 48 * 48 * conv1_outputs / 1e6, models.count_flops(dense_net) / 1e6,
                                 models.count_flops(cnn) / 1e6]
print(comparison.to_string(formatters={"parameters": "{:,}".format, "MFLOPs per face": "{:,.1f}".format}))

# %% [markdown]
# Read the table honestly: the whole dense net has *fewer* parameters than the CNN (1.3 million against 4.2), and
# needs less than a hundredth of its arithmetic. The CNN's advantage is how it uses them: conv1 gets 46x46x128
# outputs out of 1,280 weights, where a dense layer would need 624 million. What a dense net must learn separately
# for every position of an eye or a mouth corner, a CNN learns once; with 25,838 training faces (28,709 before the
# validation cut of chapter 5, section 5.1), that matters.
#
# Equivariance, checked: shift the face 3 pixels to the right, filter both with Sobel x, and compare.

# %%
shift = 3
shifted = np.zeros_like(x)
shifted[:, shift:] = x[:, :-shift]                        # the face moved 3 pixels right (black enters on the left)
map_of_shifted = conv2d_valid(shifted, sobel_x)            # conv(shift(face))
shifted_map = hand_maps["Sobel x (vertical edges)"][:, :-shift]  # shift(conv(face)), cut to the common columns
print("conv(shift(face)) == shift(conv(face)), exactly, right of the 3 new columns:",
      np.array_equal(map_of_shifted[:, shift:], shifted_map))

# %% [markdown]
# ### Does pooling make the maps shift-invariant? (optional)
#
# After ReLU and pooling, how many of the pooled values survive a shift of 1 or 2 pixels unchanged?

# %%
for s in (1, 2):
    moved = np.zeros_like(x)
    moved[:, s:] = x[:, :-s]
    before, after = max_pool2(relu(conv2d_valid(x, sobel_x))), max_pool2(relu(conv2d_valid(moved, sobel_x)))
    before, after = before[:, 1:before.shape[1] - s // 2], after[:, s // 2 + 1:]   # align, skip the new border
    active = (before > 0) | (after > 0)                                             # ignore all-zero blocks
    same = np.isclose(after, before)[active].mean()
    print(f"shift {s} px: {same:.0%} of the non-zero pooled values are unchanged "
          f"(comparing pooled column q with q - {s // 2})")

# %% [markdown]
# A 2-pixel shift moves the pooled map by exactly one column; a 1-pixel shift leaves only part of the pooled values
# in place: pooling gives *some* tolerance to small shifts, not full invariance. Real robustness to where the face
# sits comes from depth (large receptive fields) and from training on shifted faces (augmentation, chapter 3).
#
# ## Summary
#
# - To the network a face is a 48x48 array of numbers; a convolution slides a small kernel over it and sums
#   products, giving a feature map of size $\lfloor (n + 2p - k)/s \rfloor + 1$ (46x46 for 3x3 'valid').
# - Keras `Conv2D` computes exactly our numpy double loop (a cross-correlation: the kernel is not flipped), over
#   many filters and channels at once. ReLU adds the non-linearity; 2x2 max pooling halves the maps.
# - Trained first-layer filters are learned, not designed; the receptive field grows with depth
#   ($r \mathrel{+}= (k-1)\,j$, $j \mathrel{*}= s$) until a conv4 unit sees 38x38 pixels and a pool4 unit 46x46.
# - Dense layers end in 7 logits; softmax makes them probabilities (temperature sharpens or flattens them without
#   changing the ranking), and cross-entropy $-\log p_\text{true}$ is the loss.
# - Parameters: $k^2 c_\text{in} c_\text{out} + c_\text{out}$ per convolution, $n_\text{in} n_\text{out} + n_\text{out}$
#   per dense layer: 4,232,199 for the original CNN, over half of them in conv4.
# - Convolutions suit faces through locality, weight sharing and translation equivariance, not through a smaller
#   parameter count.
#
# Every weight in this chapter was given. Chapter 1b shows where they come from: the loss, its gradient, and
# gradient descent.
#
# ## Exercises
#
# Answers that can be checked have a line under the exercise (run `from fer_helpers import check` first).
#
# 1. Predict the output size of a 5x5 convolution on a 48x48 face with (a) 'valid' padding and stride 1, (b) 'same'
#    padding and stride 1, (c) 'valid' padding and stride 2. Check your answers with Keras.
#    - Check your answer: `check.exercise("1.1", (a, b, c))`.
# 2. Write the 3x3 kernel that detects *diagonal* edges (bright top-left, dark bottom-right), apply it with
#    `conv2d_valid` to the face and plot the feature map. Where does it respond?
# 3. A VGG-style block stacks two 3x3 convolutions before each pooling. Use `receptive_fields` to compute the
#    receptive field after the fourth block of `models.build_vgg_bn()` (no pooling after the fourth). Compare one 5x5
#    convolution with two stacked 3x3 ones: same receptive field? How many weights each (one input and one output
#    channel)? Does padding change the receptive field?
#    - Check your answers: `check.exercise("1.3", receptive_field)` and
#      `check.exercise("1.3b", (weights_one_5x5, weights_two_3x3))`.
# 4. Show that adding the same constant to all logits does not change the softmax, and explain why `softmax`
#    subtracts the maximum logit. Does a temperature change the accuracy of a model? Its cross-entropy?
#    - Check your answers: `check.exercise("1.4", (changes_accuracy, changes_cross_entropy))`, each "yes"
#      or "no".
# 5. Count the parameters of `models.build_vgg_bn()` with the formulas of section 1.8 (a `BatchNormalization`
#    layer over $c$ channels holds $4c$ numbers: scale, offset, moving mean and moving variance; a convolution
#    with `use_bias=False` has no bias) and check against `count_params()`.
#    - Check your answer: `check.exercise("1.5", your_count)`.

# %% [markdown] tags=["solution"]
# ## Solutions
#
# 1. (a) $\lfloor(48-5)/1\rfloor+1 = 44$; (b) 48 ('same' pads 2 pixels on each side); (c)
#    $\lfloor(48-5)/2\rfloor+1 = 22$. The cell below checks them with Keras.

# %% tags=["solution"]
for padding, stride in [("valid", 1), ("same", 1), ("valid", 2)]:
    layer = keras.layers.Conv2D(1, 5, strides=stride, padding=padding)
    print(f"5x5, {padding}, stride {stride}: {layer.compute_output_shape((1, 48, 48, 1))[1:3]}")

# %% [markdown] tags=["solution"]
# 2. A kernel with positive weights towards the top-left and negative towards the bottom-right, e.g. the
#    diagonal Sobel below. It responds most along edges running from bottom-left to top-right, where brightness
#    changes across the diagonal: the jaw line and the slanted eyebrows, in red or blue depending on the direction
#    of the change.

# %% tags=["solution"]
diagonal = np.array([[2, 1, 0], [1, 0, -1], [0, -1, -2]], dtype=float)
fmap = conv2d_valid(x, diagonal)
fig = plots.map_grid([fmap], columns=1, size=3.2, symmetric=True, titles=["diagonal edges (red +, blue -)"])
plt.show()

# %% [markdown] tags=["solution"]
# 3. Two stacked 3x3 convolutions see 5x5 pixels, like one 5x5, with 18 weights instead of 25 and one more ReLU
#    between them (more non-linearity for fewer parameters: VGG's argument). Padding changes the output *size*
#    but not the receptive field: the formula does not contain $p$ (with 'same' padding part of the field simply
#    lies on the padded zeros near the border). Four blocks, as in `build_vgg_bn` (no pooling after the last),
#    reach a receptive field of 68 pixels, more than the 48 of the face: its central units see all of it. (Print
#    only these two rows: the table's `output size` column assumes 'valid' padding, and `build_vgg_bn` pads with
#    'same', so that column goes negative here.)

# %% tags=["solution"]
vgg_layers = []
for block in range(1, 5):
    vgg_layers += [(f"conv{block}a", 3, 1), (f"conv{block}b", 3, 1)] + ([(f"pool{block}", 2, 2)] if block < 4 else [])
print(receptive_fields(vgg_layers)[["receptive field", "jump"]].T.to_string())

# %% [markdown] tags=["solution"]
# 4. $e^{z_c + a} / \sum e^{z_{c'} + a} = e^a e^{z_c} / (e^a \sum e^{z_{c'}})$: the factor $e^a$ cancels. So we may
#    subtract the largest logit, which makes every exponent $\le 0$: `np.exp` can no longer overflow (try
#    `np.exp(1000.0)`), and the result is unchanged. A temperature divides all logits by the same positive number,
#    which keeps their order: the argmax, so the accuracy, is unchanged, but the probabilities, and with them the
#    cross-entropy and the confidence, do change.

# %% tags=["solution"]
print("shifted by +100:", np.allclose(softmax(example_logits), softmax(example_logits + 100)))
with np.errstate(over="ignore", invalid="ignore"):
    naive = np.exp(example_logits * 1000) / np.exp(example_logits * 1000).sum()
print("naive softmax of large logits:", naive.round(3), "| stable:", softmax(example_logits * 1000).round(3))

# %% [markdown] tags=["solution"]
# 5. Each stage has two 3x3 convolutions without bias, each followed by BatchNorm ($4c$); then a dense layer
#    $c \cdot 7 + 7$ after global average pooling. The cell computes it and agrees with Keras.

# %% tags=["solution"]
vgg = models.build_vgg_bn()
total, c_in = 0, 1
for width in (32, 64, 128, 256):
    for _ in range(2):
        total += 3 * 3 * c_in * width + 4 * width    # convolution (no bias) + BatchNormalization
        c_in = width
total += c_in * 7 + 7                                # the softmax layer on the 256 pooled features
print(f"by formula {total:,} | Keras {vgg.count_params():,}")
