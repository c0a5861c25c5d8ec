"""Gradients for the chapter on how a network learns (``notebooks/01_learning.ipynb``), backend-agnostic.

``gradient(loss_fn, *arrays)`` asks the backend Keras runs on (TensorFlow, JAX or PyTorch) for the gradient of a
scalar loss written with ``keras.ops``; ``numerical_gradient`` estimates the same by central differences, the
check every hand-written gradient should pass.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .errors import FerError


def gradient(loss_fn: Callable, *arrays) -> tuple[float, list[np.ndarray]]:
    """``(loss, [d loss / d array, ...])`` for ``loss_fn(*arrays)``, a scalar written with ``keras.ops``.

    Each backend has its own way to differentiate: TensorFlow records the operations on a ``GradientTape``, JAX
    transforms the function (``jax.value_and_grad``), PyTorch follows tensors marked ``requires_grad``. The
    arrays are taken as float32 and the gradients come back as NumPy arrays of the arrays' shapes (zeros for
    an array the loss does not use).
    """
    import keras
    backend = keras.backend.backend()
    values = [np.asarray(a, dtype="float32") for a in arrays]
    if backend == "tensorflow":
        import tensorflow as tf
        variables = [tf.Variable(v) for v in values]
        with tf.GradientTape() as tape:
            loss = loss_fn(*variables)
        grads = tape.gradient(loss, variables)
    elif backend == "jax":
        import jax
        loss, grads = jax.value_and_grad(loss_fn, argnums=tuple(range(len(values))))(*values)
    elif backend == "torch":
        tensors = [keras.ops.convert_to_tensor(v).requires_grad_() for v in values]
        loss = loss_fn(*tensors)
        loss.backward()
        loss, grads = loss.detach(), [t.grad for t in tensors]
    else:
        raise FerError(f"gradient: the '{backend}' backend is not supported (tensorflow, jax, torch)")
    # an array the loss does not use has a zero gradient (TensorFlow and PyTorch say None, JAX gives zeros)
    grads = [np.zeros_like(v) if g is None else np.asarray(keras.ops.convert_to_numpy(g))
             for v, g in zip(values, grads)]
    return float(keras.ops.convert_to_numpy(loss)), grads


def numerical_gradient(loss_fn: Callable[[np.ndarray], float], array: np.ndarray, indices, eps: float = 1e-6):
    """Central differences ``(L(w + eps) - L(w - eps)) / 2 eps`` of ``loss_fn`` at the given entries of ``array``.

    ``indices`` is a list of index tuples into ``array`` (changed in place, then restored); use float64 arrays,
    or the differences drown in rounding.
    """
    estimates = []
    for index in indices:
        kept = array[index]
        array[index] = kept + eps
        up = loss_fn(array)
        array[index] = kept - eps
        down = loss_fn(array)
        array[index] = kept
        estimates.append((up - down) / (2 * eps))
    return np.array(estimates)
