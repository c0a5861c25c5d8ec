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
# # 1b. How a network learns: gradient descent, backpropagation and the learning rate, by hand
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/fer-course/fer-course/blob/main/notebooks/01_learning.ipynb)
# [![Open In Kaggle](https://kaggle.com/static/images/open-in-kaggle.svg)](https://kaggle.com/kernels/welcome?src=https://github.com/fer-course/fer-course/blob/main/notebooks/01_learning.ipynb)
# [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/fer-course/fer-course/main?labpath=notebooks%2F01_learning.ipynb)
#
# Chapter 1 took a trained network apart; its weights were given. This chapter shows where weights come from,
# before chapter 3 trains its first CNN. We learn the weights of small models on FER2013 faces with a dozen lines
# of numpy, check the gradients numerically and against the framework, and meet, one at a time, the words that
# every training log of the course uses. By the end of this chapter you will be able to:
#
# - write a loss, derive its gradient with the chain rule, check it numerically, and minimise it by gradient
#   descent;
# - get the same gradient from the framework (TensorFlow, JAX or PyTorch, whichever Keras runs on) and use it to
#   learn a convolution kernel from data;
# - run backpropagation by hand through a two-layer network;
# - tell a learning rate that is too small, about right or too large from its loss curve, and define a batch, a
#   step and an epoch;
# - say what momentum and Adam add to plain stochastic gradient descent, and why dropout and BatchNorm behave
#   differently in training and at prediction time.
#
# | mode | data | 2-core CPU | one GPU |
# |---|---|---|---|
# | quick (`FER_QUICK=1`, the default) | 20 faces per class (the committed sample) | 16 s (measured under nbval on 2026-12-07, 2 cores otherwise idle) | not needed |
# | full (`FER_QUICK=0`) | 150 faces per class of FER2013's training split | 36 s (measured on 2026-12-07, 2 cores nearly idle) | not needed |
#
# **Modes.** Everything here trains in seconds on a CPU. Quick mode learns from the 140 faces of the committed
# sample, full mode from 1,050 faces of FER2013; the lessons are the same, only the numbers move. The outputs
# saved in this notebook come from the run named in the first output line below.

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
PER_CLASS = 20 if session.quick else 150     # training faces per class for this chapter's small models
STEPS = 100                                  # full-batch gradient-descent steps (sections 1b.3-1b.4)
LEARNING_RATES = {"too small": 0.001, "about right": 0.01, "too large": 0.1}
BATCH_SIZE = 20                              # faces per step for stochastic gradient descent
EPOCHS = 30                                  # passes over the faces (sections 1b.5 and 1b.8)
HIDDEN = 32                                  # units in the hidden layer of the two-layer network

# %% [markdown]
# ## 1b.1 Learning is making a loss small
#
# Start with the simplest model that turns a face into seven probabilities, a **softmax regression**: the 2,304
# pixels $x$ (divided by 255) go straight into the last layer of chapter 1, section 1.7, with weights $W$
# (2,304 x 7) and biases $b$ (7):
#
# $$z = xW + b, \qquad p = \text{softmax}(z), \qquad L = -\frac{1}{n}\sum_{i=1}^{n} \log p_{i, y_i}$$
#
# The loss $L$ is chapter 1's cross-entropy, averaged over the $n$ training faces. Everything in it is fixed
# except $W$ and $b$: 16,135 numbers. **Learning** means finding values of them that make $L$ small. With all
# weights at zero every class gets $p = 1/7$ and $L = \log 7 \approx 1.946$; that is where we start.

# %%
import numpy as np

from fer_helpers import data

train_split = data.load_split(session.data, "train")
faces, labels = data.per_class_subset(train_split.x, train_split.y, PER_CLASS)
X = faces.reshape(len(faces), -1).astype("float64") / 255     # one row of 2,304 pixels per face
Y = np.eye(data.NUM_CLASSES)[labels]                          # one-hot: row i has a 1 in column y_i
print(f"{len(X)} faces x {X.shape[1]} pixels; per class: {data.class_counts(labels)}")


def log_softmax(z):
    z = z - z.max(axis=1, keepdims=True)                      # chapter 1's trick against overflow
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def loss(W, b):
    return -np.mean(np.sum(Y * log_softmax(X @ W + b), axis=1))


W0, b0 = np.zeros((X.shape[1], data.NUM_CLASSES)), np.zeros(data.NUM_CLASSES)
print(f"loss at zero weights: {loss(W0, b0):.4f} (log 7 = {np.log(7):.4f})")

# %% [markdown]
# ## 1b.2 The gradient, by the chain rule
#
# The **gradient** $\partial L / \partial W$ says, for every weight, how fast the loss changes when that weight
# grows a little. The loss is a chain of simple functions ($W \to z \to p \to L$), so its derivative is the
# product of their derivatives: the **chain rule**. For softmax followed by cross-entropy the product simplifies
# to a result worth remembering: the derivative with respect to the logits is *prediction minus target*,
#
# $$\frac{\partial L}{\partial z_i} = \frac{1}{n}(p_i - y_i), \qquad
#   \frac{\partial L}{\partial W} = X^\top \frac{P - Y}{n}, \qquad
#   \frac{\partial L}{\partial b} = \sum_i \frac{p_i - y_i}{n}$$
#
# where $y_i$ is the one-hot target and $P$, $Y$ stack the rows of all faces. The second formula is the chain rule
# once more: $z = xW$, so a weight $W_{jc}$ moves the logit $z_c$ of face $i$ by $x_{ij}$. A face that is
# predicted well ($p_i \approx y_i$) contributes almost nothing; a confident mistake contributes most.

# %%
def loss_and_gradient(W, b, X, Y):
    """Mean cross-entropy of softmax(XW + b) and its gradient with respect to W and b."""
    log_p = log_softmax(X @ W + b)
    error = (np.exp(log_p) - Y) / len(X)                       # dL/dz: (prediction - target) / n
    return -np.mean(np.sum(Y * log_p, axis=1)), X.T @ error, error.sum(axis=0)


# %% [markdown]
# **Check it numerically.** A derivative is a limit of differences, so we can estimate any entry of the gradient
# without calculus: nudge one weight by $\pm\varepsilon$ and see how the loss moves,
# $(L(w + \varepsilon) - L(w - \varepsilon)) / 2\varepsilon$. That is far too slow to train with (two loss
# evaluations per weight, 32,270 per step), but it is the standard test of a hand-written gradient. We test it
# at a random point, where the answer is not trivially zero, on eight weights chosen at random.

# %%
from fer_helpers import learn

rng = np.random.default_rng(0)
W_test, b_test = rng.normal(0, 0.01, W0.shape), rng.normal(0, 0.1, b0.shape)
_, grad_W, grad_b = loss_and_gradient(W_test, b_test, X, Y)
picked = [(int(i), int(c)) for i, c in zip(rng.integers(0, W0.shape[0], 8), rng.integers(0, W0.shape[1], 8))]
numerical = learn.numerical_gradient(lambda W: loss(W, b_test), W_test, picked)
by_formula = np.array([grad_W[idx] for idx in picked])
for idx, f, n in zip(picked, by_formula, numerical):
    print(f"dL/dW{list(idx)}: formula {f:+.8f}   numerical {n:+.8f}")
print(f"largest relative difference: {np.max(np.abs(by_formula - numerical) / np.abs(by_formula)):.1e}")

# %% [markdown]
# Agreement to many digits (a wrong formula is off in the first one). `learn.numerical_gradient` is these few
# lines of central differences; exercise 1 applies it to the biases.
#
# ## 1b.3 Gradient descent
#
# The gradient points uphill, towards a larger loss. **Gradient descent** takes a small step the other way,
# again and again:
#
# $$W \leftarrow W - \eta \, \frac{\partial L}{\partial W}, \qquad b \leftarrow b - \eta \, \frac{\partial L}{\partial b}$$
#
# The step size $\eta$ is the **learning rate**. That is the whole algorithm:

# %%
def gradient_descent(learning_rate, steps=STEPS):
    """Full-batch gradient descent from zero weights; returns the loss before each step and the final weights."""
    W, b = W0.copy(), b0.copy()
    losses = []
    for _ in range(steps):
        value, grad_W, grad_b = loss_and_gradient(W, b, X, Y)
        losses.append(value)
        W -= learning_rate * grad_W
        b -= learning_rate * grad_b
    return np.array(losses), W, b


losses, W, b = gradient_descent(LEARNING_RATES["about right"])
print("loss at steps 0, 25, 50, 75, 99:", losses[[0, 25, 50, 75, 99]].round(3))
print(f"training accuracy after {STEPS} steps: {np.mean((X @ W + b).argmax(axis=1) == labels):.1%}")

# %% [markdown]
# The loss falls from $\log 7$, and the share of training faces labelled right rises well above chance (1 in 7).
# That says nothing yet about new faces: 16,135 weights can memorise a small set of faces, and telling learning
# from memorising is chapter 6's subject. Here we only care how the loss is minimised.
#
# ## 1b.4 The learning rate: too small, about right, too large
#
# The gradient is only the slope *where we stand*. A small step trusts it a little and makes slow progress; a
# large step trusts it far beyond where it holds, lands higher up on the other side of the valley, and the
# next step overshoots further. The same 100 steps at three learning rates:

# %%
import matplotlib.pyplot as plt

from fer_helpers import plots

fig, ax = plt.subplots(figsize=(7, 3.4))
for name, rate in LEARNING_RATES.items():
    curve = gradient_descent(rate)[0]
    ax.plot(curve, label=f"{name} (η = {rate:g}): ends at {curve[-1]:.2f}")
ax.axhline(np.log(7), color="grey", linestyle=":", label="start: log 7")
ax.set_yscale("log")
ax.set_xlabel("step")
ax.set_ylabel("training loss (log scale)")
ax.set_title("full-batch gradient descent on face pixels")
ax.legend(fontsize=8)
fig.tight_layout()
plots.save_fig("01b_learning_rates")
plt.show()

# %% [markdown]
# Read the three curves:
#
# - **Too small**: the loss falls steadily but slowly; given enough steps it would get there.
# - **About right**: the fastest steady descent of the three.
# - **Too large**: the first steps throw the loss far *above* where it started, and it jumps about instead of
#   settling. On a harder problem it can run away to infinity (`nan` in a training log).
#
# Why is 0.1 already too large? The pixels are all positive (0 to 1), so every pixel of a face pushes the
# weights of a class the same way: the steepest direction of the loss is "all weights of a class together",
# where the slope changes fast; a step that suits the gentle directions overshoots along that one. This is one
# reason networks normalise their inputs and, inside, their activations (BatchNorm, section 1b.10), and why
# chapter 5's schedule starts with small steps (a *warm-up*) before it raises the rate.
#
# ## 1b.5 Batch, step and epoch
#
# Each step above used all faces to compute one gradient. On FER2013's 25,838 training faces that is a lot of
# arithmetic for one small step. **Stochastic gradient descent** (SGD) computes the gradient on a small random
# **batch** of faces instead, a noisy but cheap estimate of the full one. Three words follow, and every training
# log in the course uses them:
#
# - a **batch** is the group of faces one gradient is computed on (`batch_size` in Keras);
# - a **step** is one update of the weights, from one batch;
# - an **epoch** is one pass over all training faces: $\lceil n / \text{batch size} \rceil$ steps, each face
#   used once, in a fresh random order each epoch.

# %%
import math


def sgd(learning_rate, epochs=EPOCHS, batch_size=BATCH_SIZE, seed=0):
    """Minibatch SGD on the softmax regression; returns the loss on all faces after each epoch."""
    W, b, order_rng = W0.copy(), b0.copy(), np.random.default_rng(seed)
    losses = [loss(W, b)]
    for _ in range(epochs):
        order = order_rng.permutation(len(X))                   # a new order every epoch
        for start in range(0, len(X), batch_size):              # one step per batch
            batch = order[start:start + batch_size]
            _, grad_W, grad_b = loss_and_gradient(W, b, X[batch], Y[batch])
            W -= learning_rate * grad_W
            b -= learning_rate * grad_b
        losses.append(loss(W, b))
    return np.array(losses)


rate = LEARNING_RATES["about right"]
steps_per_epoch = math.ceil(len(X) / BATCH_SIZE)
minibatch, full_batch = sgd(rate), gradient_descent(rate, steps=EPOCHS + 1)[0]
print(f"{len(X)} faces, batch {BATCH_SIZE}: {steps_per_epoch} steps per epoch")
print(f"loss after {EPOCHS} epochs at η = {rate:g}: full batch ({EPOCHS} steps) {full_batch[-1]:.3f}, "
      f"batches of {BATCH_SIZE} ({EPOCHS * steps_per_epoch} steps) {minibatch[-1]:.3f}")
print(f"chapter 5's full run: {math.ceil(25_838 / 64)} steps per epoch (25,838 faces, batch 64)")

# %% [markdown]
# For the same number of passes over the data, and so about the same arithmetic, the small batches end lower:
# they take many more steps, and each step's noise costs little. That is why every network in this course trains
# with batches of 32 to 128 faces. The batch size also sets how much memory a step needs and how
# well the hardware is used (a GPU wants large batches, chapter 11); the learning rate that suits one batch size
# is not the one that suits another.
#
# ## 1b.6 The same gradient from the framework
#
# Deriving gradients by hand does not scale to a CNN with a dozen layers. Frameworks do it for you: they record
# the operations of the forward computation and apply the chain rule backwards through them (**automatic
# differentiation**). Each backend of Keras does it its own way: TensorFlow records on a `GradientTape`, JAX
# transforms the function (`jax.grad`), PyTorch follows tensors marked `requires_grad`. Written once, for
# whichever backend runs (the package keeps it as `fer_helpers.learn.gradient`, which also returns zeros for an
# array the loss does not use):

# %%
import keras
from keras import ops


def gradient(loss_fn, *arrays):
    """``(loss, [d loss / d array, ...])`` for ``loss_fn(*arrays)``, a scalar written with ``keras.ops``."""
    backend = keras.backend.backend()
    values = [np.asarray(a, dtype="float32") for a in arrays]
    if backend == "tensorflow":
        import tensorflow as tf
        variables = [tf.Variable(v) for v in values]
        with tf.GradientTape() as tape:                          # record the forward computation ...
            value = loss_fn(*variables)
        grads = tape.gradient(value, variables)                  # ... and run the chain rule backwards
    elif backend == "jax":
        import jax
        value, grads = jax.value_and_grad(loss_fn, argnums=tuple(range(len(values))))(*values)
    else:                                                        # torch
        tensors = [ops.convert_to_tensor(v).requires_grad_() for v in values]
        value = loss_fn(*tensors)
        value.backward()
        value, grads = value.detach(), [t.grad for t in tensors]
    return float(ops.convert_to_numpy(value)), [ops.convert_to_numpy(g) for g in grads]


def keras_loss(W, b):
    """The loss of section 1b.1, written with keras.ops and Keras's own cross-entropy."""
    probabilities = ops.softmax(ops.convert_to_tensor(X, "float32") @ W + b)
    return ops.mean(keras.losses.categorical_crossentropy(ops.convert_to_tensor(Y, "float32"), probabilities))


value, (auto_W, auto_b) = gradient(keras_loss, W_test, b_test)
by_hand, hand_W, hand_b = loss_and_gradient(W_test, b_test, X, Y)
print(f"backend {keras.backend.backend()}: loss {value:.6f} (by hand {by_hand:.6f})")
print(f"largest difference to the hand-written gradient: W {np.abs(auto_W - hand_W).max():.1e}, "
      f"b {np.abs(auto_b - hand_b).max():.1e} (largest entry {np.abs(hand_W).max():.1e}; float32 against float64)")

# %% [markdown]
# The same numbers, up to float32 rounding. This is what `model.fit` does at every step: a forward pass, the
# loss, the framework's gradient, an update. From here on, the gradient of anything we can write with
# `keras.ops` is one call away.
#
# ## 1b.7 Backpropagation: the chain rule through two layers
#
# What does the framework do inside? Take a network with one hidden layer of 32 ReLU units between the pixels
# and the softmax:
#
# $$z_1 = XW_1 + b_1, \quad h = \text{ReLU}(z_1), \quad z_2 = hW_2 + b_2, \quad L = \text{cross-entropy}(\text{softmax}(z_2), Y)$$
#
# The **backward pass** applies the chain rule from the loss back to the first layer, reusing the values the
# forward pass computed. Each line is one link of the chain:
#
# 1. $\partial L/\partial z_2 = (P - Y)/n$, as in section 1b.2;
# 2. $\partial L/\partial W_2 = h^\top\, \partial L/\partial z_2$ and $\partial L/\partial b_2 = \sum_i \partial L/\partial z_2$:
#    the last layer is a softmax regression on $h$;
# 3. $\partial L/\partial h = \partial L/\partial z_2\, W_2^\top$: the error flows back through the same weights;
# 4. $\partial L/\partial z_1 = \partial L/\partial h \odot [z_1 > 0]$: ReLU passes the gradient where it was
#    active and blocks it where it output zero;
# 5. $\partial L/\partial W_1 = X^\top\, \partial L/\partial z_1$ and $\partial L/\partial b_1 = \sum_i \partial L/\partial z_1$.

# %%
def init_two_layer(seed=0):
    """He-initialised weights for pixels -> HIDDEN ReLU units -> 7 logits."""
    r = np.random.default_rng(seed)
    return {"W1": r.normal(0, np.sqrt(2 / X.shape[1]), (X.shape[1], HIDDEN)), "b1": np.zeros(HIDDEN),
            "W2": r.normal(0, np.sqrt(1 / HIDDEN), (HIDDEN, data.NUM_CLASSES)), "b2": np.zeros(data.NUM_CLASSES)}


def forward_backward(params, X, Y):
    """The loss of the two-layer network and its gradient for every parameter, by backpropagation."""
    z1 = X @ params["W1"] + params["b1"]                       # forward pass, keeping what backward needs
    h = np.maximum(z1, 0)
    log_p = log_softmax(h @ params["W2"] + params["b2"])
    d_z2 = (np.exp(log_p) - Y) / len(X)                        # 1. softmax + cross-entropy
    grads = {"W2": h.T @ d_z2, "b2": d_z2.sum(axis=0)}         # 2. the last layer
    d_h = d_z2 @ params["W2"].T                                # 3. back through W2
    d_z1 = d_h * (z1 > 0)                                      # 4. back through ReLU
    grads.update(W1=X.T @ d_z1, b1=d_z1.sum(axis=0))           # 5. the first layer
    return -np.mean(np.sum(Y * log_p, axis=1)), grads


def keras_two_layer_loss(W1, b1, W2, b2):
    h = ops.relu(ops.convert_to_tensor(X, "float32") @ W1 + b1)
    return ops.mean(keras.losses.categorical_crossentropy(ops.convert_to_tensor(Y, "float32"),
                                                          ops.softmax(h @ W2 + b2)))


params = init_two_layer()
_, backprop = forward_backward(params, X, Y)
_, auto = gradient(keras_two_layer_loss, *params.values())
for name, theirs in zip(params, auto):
    print(f"dL/d{name} {str(backprop[name].shape):12s} largest difference to the framework: "
          f"{np.abs(backprop[name] - theirs).max():.1e} (largest entry {np.abs(backprop[name]).max():.1e})")

# %% [markdown]
# Backpropagation by hand and the framework agree on all four gradients. Two things to take away. The backward
# pass costs about as much arithmetic as the forward pass again (each matrix product forward has two backward),
# so a training step costs about three forward passes. And step 4 is where gradients can die: a ReLU unit that
# outputs zero for every face passes no gradient back, so its weights stop learning (chapter 1, section 1.5,
# counted such silent maps on one face).
#
# ## 1b.8 Momentum and Adam
#
# Plain SGD moves each weight by $\eta$ times its current gradient. Two refinements are in every modern
# training run:
#
# - **Momentum** keeps a running sum of past gradients, $v \leftarrow \beta v + g$, and steps along it,
#   $w \leftarrow w - \eta v$ (with $\beta = 0.9$). Where successive gradients agree, steps add up to about
#   $1/(1 - \beta) = 10$ times a plain step; where they flip sign, as across a narrow valley, they cancel. The
#   batch noise is averaged out too.
# - **Adam** (Kingma and Ba, 2015) keeps such a running average of the gradient, $m$, and one of its square, $s$,
#   for every weight, and steps by $\eta\, \hat m / (\sqrt{\hat s} + \epsilon)$ (the hats correct the averages'
#   start from zero). Dividing by the typical size of a weight's own gradient gives every weight a step of
#   about $\eta$, however steep or flat its direction: one learning rate suits them all, and the default
#   $\eta = 10^{-3}$ is a good first try on most problems (not on these raw pixels, as the sweep below
#   shows). The course's models train with Adam (chapter 5) and, in chapter 9, SGD with momentum.
#
# The three update rules, by hand, on the two-layer network, each at a few learning rates:

# %%
def train_two_layer(optimizer, learning_rate, epochs=EPOCHS, batch_size=BATCH_SIZE, beta1=0.9, beta2=0.999,
                    eps=1e-7, seed=0):
    """Minibatch training of the two-layer network with 'sgd', 'momentum' or 'adam'; loss on all faces per epoch."""
    params, order_rng, t = init_two_layer(seed), np.random.default_rng(seed), 0
    v = {k: np.zeros_like(p) for k, p in params.items()}       # momentum's sum, or Adam's mean of gradients
    s = {k: np.zeros_like(p) for k, p in params.items()}       # Adam's mean of squared gradients
    losses = [forward_backward(params, X, Y)[0]]
    for _ in range(epochs):
        order = order_rng.permutation(len(X))
        for start in range(0, len(X), batch_size):
            batch = order[start:start + batch_size]
            _, grads = forward_backward(params, X[batch], Y[batch])
            t += 1
            for k, g in grads.items():
                if optimizer == "sgd":
                    params[k] -= learning_rate * g
                elif optimizer == "momentum":
                    v[k] = beta1 * v[k] + g
                    params[k] -= learning_rate * v[k]
                else:                                            # adam
                    v[k] = beta1 * v[k] + (1 - beta1) * g
                    s[k] = beta2 * s[k] + (1 - beta2) * g ** 2
                    m_hat, s_hat = v[k] / (1 - beta1 ** t), s[k] / (1 - beta2 ** t)
                    params[k] -= learning_rate * m_hat / (np.sqrt(s_hat) + eps)
        losses.append(forward_backward(params, X, Y)[0])
    return np.array(losses)


SWEEP = {"sgd": (0.003, 0.01, 0.03), "momentum": (0.001, 0.003, 0.01), "adam": (1e-4, 3e-4, 1e-3, 3e-3)}
curves = {(name, rate): train_two_layer(name, rate) for name, rates in SWEEP.items() for rate in rates}

# %%
import pandas as pd

final = pd.Series({key: curve[-1] for key, curve in curves.items()})
print(f"training loss after {EPOCHS} epochs (batch {BATCH_SIZE}, the same initial weights and batch order):")
for name, rates in SWEEP.items():
    print(f"{name:9s}" + "".join(f"   η = {rate:<7g}{final[(name, rate)]:6.3f}" for rate in rates))
fig, ax = plt.subplots(figsize=(7, 3.4))
for name in SWEEP:
    best_rate = final[name].idxmin()
    ax.plot(curves[(name, best_rate)], label=f"{name}, η = {best_rate:g}: ends at {final[name].min():.3f}")
ax.set_xlabel("epoch")
ax.set_ylabel("training loss")
ax.set_title("each optimiser at the best of its learning rates")
ax.legend(fontsize=8)
fig.tight_layout()
plots.save_fig("01b_optimisers")
plt.show()

# %% [markdown]
# Compare each row's best with the others. In the run saved here (full mode; quick mode's can differ) they end close
# together: plain SGD's best (1.652, at $\eta = 0.01$) a little below momentum's (1.667, at $\eta = 0.001$) and
# Adam's (1.694, at $\eta = 10^{-4}$). On a small problem with a well-chosen rate, plain SGD holds its own. The
# larger rates of momentum and Adam end at 1.946, which is $\log 7$: the loss of a network that gives every face
# the same probabilities. Their first steps were too large, and the network never recovered. So the spread
# *within* a row is the lesson: the learning rate matters at least as much as the choice of optimiser, and a
# fair comparison gives each optimiser its own small sweep.
#
# Keras's optimisers are these rules. Adam by hand against `keras.optimizers.Adam`, three steps on the same
# gradients:

# %%
rng = np.random.default_rng(1)
w = rng.normal(size=5)
steps_grads = [rng.normal(size=5) for _ in range(3)]
variable, adam = keras.Variable(w.astype("float32")), keras.optimizers.Adam(learning_rate=1e-3)
m, s = np.zeros(5), np.zeros(5)
for t, g in enumerate(steps_grads, start=1):
    adam.apply_gradients([(ops.convert_to_tensor(g.astype("float32")), variable)])
    m, s = 0.9 * m + 0.1 * g, 0.999 * s + 0.001 * g ** 2
    w = w - 1e-3 * (m / (1 - 0.9 ** t)) / (np.sqrt(s / (1 - 0.999 ** t)) + 1e-7)
print("by hand:", w.round(6))
print("Keras:  ", ops.convert_to_numpy(variable).round(6))

# %% [markdown]
# ## 1b.9 Learning a convolution kernel: chapter 1's edge filter, back from data
#
# Now a CNN's own kind of weight. Chapter 1 filtered faces with the Sobel x kernel. Pretend we have only the
# faces and the edge maps it produced, and learn a 3x3 kernel that maps one to the other: start from random
# weights, measure the mean squared difference between our kernel's maps and the target maps, and follow the
# framework's gradient, with momentum. The convolution is `keras.ops.conv`, the operation inside `Conv2D`.

# %%
SOBEL_X = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype="float32")
images = ops.convert_to_tensor(faces[:8, :, :, None].astype("float32") / 255)        # 8 faces, (8, 48, 48, 1)
targets = ops.conv(images, SOBEL_X[:, :, None, None])                                # their edge maps, (8, 46, 46, 1)


def kernel_loss(kernel):
    return ops.mean((ops.conv(images, kernel) - targets) ** 2)


kernel = np.random.default_rng(2).normal(0, 0.5, (3, 3, 1, 1)).astype("float32")   # random start
velocity, kernel_losses = np.zeros_like(kernel), []
for step in range(150):
    value, (grad,) = gradient(kernel_loss, kernel)
    kernel_losses.append(value)
    velocity = 0.9 * velocity + grad                                                  # momentum, section 1b.8
    kernel = kernel - 0.3 * velocity
print(f"loss: {kernel_losses[0]:.4f} at the start, {kernel_losses[-1]:.6f} after {len(kernel_losses)} steps")
print("learned kernel:\n", kernel[:, :, 0, 0].round(2))
print(f"largest difference to Sobel x: {np.abs(kernel[:, :, 0, 0] - SOBEL_X).max():.2f}")

# %%
fig, axes = plt.subplots(1, 3, figsize=(9.5, 2.9), gridspec_kw={"width_ratios": [1.6, 1, 1]})
axes[0].plot(kernel_losses)
axes[0].set_yscale("log")
axes[0].set_xlabel("step")
axes[0].set_title("mean squared error (log scale)", fontsize=9)
for ax, (title, weights) in zip(axes[1:], [("learned", kernel[:, :, 0, 0]), ("Sobel x (chapter 1)", SOBEL_X)]):
    ax.imshow(weights, cmap="RdBu_r", vmin=-2, vmax=2)
    for (a, c), value in np.ndenumerate(weights):
        ax.text(c, a, f"{value:.2f}", ha="center", va="center", fontsize=8)
    ax.set_title(title, fontsize=9)
    ax.set_xticks([]), ax.set_yticks([])
fig.tight_layout()
plots.save_fig("01b_learned_kernel")
plt.show()

# %% [markdown]
# The kernel comes back: nine numbers recovered from 8 faces and their edge maps, by the same loop that trains
# every network in this course. A real CNN's first layer learns 128 such kernels at once, with no target maps to
# copy: its "target" is only the loss at the far end of the network, reached by backpropagation through all the
# layers in between. That is why its kernels (chapter 1, section 1.5) are whatever lowered that loss, not
# textbook filters.
#
# ## 1b.10 Training mode and inference mode: dropout and BatchNorm
#
# Two kinds of layer behave differently while a network learns and when it predicts, and both are in the
# course's networks. Keras passes `training=True` to every layer inside `fit` and `training=False` inside
# `predict` and `evaluate`.
#
# - **Dropout** (in chapter 4's network) sets a random share of its inputs to zero in training, so that no unit
#   can rely on another one being there, and scales the rest up so that the average is unchanged. At prediction
#   it passes everything through.
# - **BatchNormalization** (chapter 3's small CNN, chapter 9's networks) normalises each channel to mean 0 and
#   variance 1 with the statistics *of the current batch* in training, and keeps a running average of those
#   statistics (`moving_mean`, `moving_variance`). At prediction it uses the running averages instead: a face's
#   output then no longer depends on which other faces share its batch.

# %%
batch_a = faces[:16, :, :, None].astype("float32") / 255
batch_b = np.concatenate([batch_a[:1], faces[-15:, :, :, None].astype("float32") / 255])  # face 0, other company
norm = keras.layers.BatchNormalization(momentum=0.99)
train_a = ops.convert_to_numpy(norm(batch_a, training=True))
train_b = ops.convert_to_numpy(norm(batch_b, training=True))
print(f"training mode: batch mean {train_a.mean():+.3f}, std {train_a.std():.3f} (the batch's own statistics); "
      f"face 0 changes with its batch: {not np.allclose(train_a[0], train_b[0])}")
moving_mean = float(ops.convert_to_numpy(norm.moving_mean)[0])
print(f"moving mean after two training batches: {moving_mean:.4f} (from 0, 1% of the way to each batch mean "
      f"{batch_a.mean():.3f}, {batch_b.mean():.3f})")
infer_a, infer_b = (ops.convert_to_numpy(norm(batch, training=False)) for batch in (batch_a, batch_b))
print(f"inference mode: face 0 is the same in both batches: {np.allclose(infer_a[0], infer_b[0])}")
drop = keras.layers.Dropout(0.4, seed=0)
dropped = ops.convert_to_numpy(drop(batch_a, training=True))
print(f"dropout 0.4, training: {np.mean(dropped[batch_a > 0] == 0):.0%} of the pixels zeroed, the rest x {1 / 0.6:.3f}; "
      f"inference: unchanged: {np.array_equal(ops.convert_to_numpy(drop(batch_a, training=False)), batch_a)}")

# %% [markdown]
# The moving averages move only 1% per step (`momentum=0.99`), so they take a few hundred steps to settle; until
# then a network with BatchNorm predicts poorly in inference mode even when its training batches look fine. A
# batch of one face is a degenerate case: in training mode its normalised values depend on that face alone.
# These two modes are also why a logged *training* accuracy (measured with dropout on, on augmented faces) is not
# comparable with a *validation* accuracy (chapter 5 reads both).
#
# ## Summary
#
# - Learning is minimising a loss over the weights. Gradient descent steps against the gradient,
#   $w \leftarrow w - \eta\, \partial L / \partial w$; for softmax with cross-entropy the gradient with respect to
#   the logits is prediction minus target.
# - Check a hand-written gradient by central differences; get gradients of anything written with `keras.ops`
#   from the backend (`GradientTape`, `jax.grad`, `backward()`: `fer_helpers.learn.gradient`).
# - Backpropagation is the chain rule applied from the loss back to the first layer, reusing the forward pass's
#   values; a ReLU that outputs zero passes no gradient.
# - The learning rate decides everything: too small crawls, too large overshoots and can diverge.
# - A batch gives one gradient and one step; an epoch is one pass over the data, $\lceil n/B \rceil$ steps.
#   Small batches make more progress per epoch.
# - Momentum accumulates consistent gradients; Adam rescales each weight's step by its gradient's typical size.
# - A kernel can be learned from data; a CNN learns all of its kernels this way, from the loss alone.
# - Dropout and BatchNorm behave differently in training (`fit`) and at prediction (`predict`, `evaluate`).
#
# ## Exercises
#
# 1. Check the gradient of the *biases* numerically, as section 1b.2 did for $W$ (`learn.numerical_gradient`
#    takes a function of one array and a list of index tuples).
# 2. Chapter 5 trains on 25,838 faces with batches of 64 for 60 epochs. How many steps per epoch, and how many
#    in all? If one step takes 1.4 s on a 2-core CPU, how long is an epoch?
# 3. Find, by trying, the smallest learning rate (to one significant digit) at which full-batch gradient descent
#    of section 1b.4 ends *above* its starting loss after 100 steps. What does the curve look like just below it?
# 4. Learn the edge filter back with Keras alone: a `keras.Sequential` holding one
#    `keras.layers.Conv2D(1, 3, use_bias=False)`, `compile(optimizer=keras.optimizers.SGD(0.3, momentum=0.9),
#    loss="mse")` and `fit(images, targets, epochs=150, batch_size=8)`. Compare the learned kernel with 1b.9's.
#    What does one epoch mean here?
# 5. Momentum with $\beta = 0.9$ and $\eta = 0.003$ is compared with plain SGD at $\eta = 0.03$ in the sweep of
#    section 1b.8. Why is that the fair pair on a long, steady slope? Where do the two differ?
# 6. What does a `BatchNormalization` layer in training mode output for a batch of a single face with one
#    channel, if its scale and offset are at their initial values (1 and 0)? Why is that a problem?

# %% [markdown] tags=["solution"]
# ## Solutions
#
# 1. The same check with the weights fixed; the biases have only 7 entries, so we can check all of them.

# %% tags=["solution"]
indices = [(c,) for c in range(data.NUM_CLASSES)]
numerical_b = learn.numerical_gradient(lambda b: loss(W_test, b), b_test.copy(), indices)
print("largest difference, biases:", np.abs(numerical_b - grad_b).max())

# %% [markdown] tags=["solution"]
# 2. $\lceil 25{,}838 / 64 \rceil = 404$ steps per epoch, $404 \times 60 = 24{,}240$ steps in all; at 1.4 s a step
#    an epoch takes about 9.4 minutes (chapter 5 measured 9 to 10 on an idle 2-core CPU).

# %% tags=["solution"]
print(math.ceil(25_838 / 64), math.ceil(25_838 / 64) * 60, f"{math.ceil(25_838 / 64) * 1.4 / 60:.1f} min")

# %% [markdown] tags=["solution"]
# 3. The cell tries a few rates and prints where each run ends. Just below the threshold the loss jumps up in the
#    first steps and then comes down in a zigzag: the steps are too long for the steep direction, but not so long
#    that each overshoot is larger than the last.

# %% tags=["solution"]
for rate in (0.02, 0.03, 0.04, 0.05, 0.07, 0.1):
    curve = gradient_descent(rate)[0]
    print(f"η = {rate:g}: highest loss {curve.max():8.3f}, after 100 steps {curve[-1]:.3f} "
          f"({'above' if curve[-1] > curve[0] else 'below'} the start)")

# %% [markdown] tags=["solution"]
# 4. One epoch is one pass over the 8 faces, which with `batch_size=8` is a single step, so 150 epochs are the
#    150 steps of section 1b.9; the same optimiser with the same rate gives the same kind of kernel (not the
#    same numbers: Keras starts from its own random kernel and averages the loss in float32).

# %% tags=["solution"]
conv_net = keras.Sequential([keras.Input((48, 48, 1)), keras.layers.Conv2D(1, 3, use_bias=False)])
conv_net.compile(optimizer=keras.optimizers.SGD(0.3, momentum=0.9), loss="mse")
conv_net.fit(images, targets, epochs=150, batch_size=8, verbose=0)
print(conv_net.layers[0].get_weights()[0][:, :, 0, 0].round(2))

# %% [markdown] tags=["solution"]
# 5. With a constant gradient $g$, momentum's sum grows to $g / (1 - \beta) = 10g$, so each step becomes
#    $0.003 \times 10 g = 0.03 g$: the same speed as plain SGD at 0.03 once it is up to speed. They differ where
#    the gradient changes: across a narrow valley momentum's alternating gradients cancel (smaller steps, no
#    zigzag), along a long slope it needs about 10 steps to build up, and it averages the batch noise.
# 6. The batch mean of the single face's channel is the mean of its own pixels, so training mode normalises each
#    face by its own statistics: the output is the face with its brightness and contrast removed, and it says
#    nothing about how this face differs from others. With one value per channel (a 1x1 map, e.g. after global
#    pooling) the output is exactly 0 for every face: the layer erases the information. BatchNorm needs batches
#    of several faces, which is one reason the course never trains with very small batches.
