"""The backend's gradient (fer_helpers.learn.gradient) against gradients worked out by hand, under whichever
backend runs the tests (`make test-backends` repeats them under JAX and PyTorch)."""
import numpy as np
import pytest

from fer_helpers import learn


def _softmax_regression(seed=0, n=12, d=20, k=7):
    rng = np.random.default_rng(seed)
    x, w, b = rng.normal(size=(n, d)), rng.normal(0, 0.1, (d, k)), rng.normal(0, 0.1, k)
    y = np.eye(k)[rng.integers(0, k, n)]
    return x, y, w, b


def _cross_entropy_numpy(x, y, w, b):
    z = x @ w + b
    z = z - z.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return -np.mean((y * log_p).sum(axis=1))


def test_gradient_of_softmax_cross_entropy_matches_the_closed_form():
    import keras
    from keras import ops
    x, y, w, b = _softmax_regression()

    def loss(w, b):
        return ops.mean(keras.losses.categorical_crossentropy(ops.convert_to_tensor(y, "float32"),
                                                              ops.softmax(ops.convert_to_tensor(x, "float32") @ w + b)))

    value, (grad_w, grad_b) = learn.gradient(loss, w, b)
    z = x @ w + b
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    assert value == pytest.approx(_cross_entropy_numpy(x, y, w, b), rel=1e-5)
    assert grad_w.shape == w.shape and grad_b.shape == b.shape
    np.testing.assert_allclose(grad_w, x.T @ (p - y) / len(x), atol=1e-5)
    np.testing.assert_allclose(grad_b, (p - y).mean(axis=0), atol=1e-5)


def test_gradient_of_a_convolution_kernel_matches_central_differences():
    from keras import ops
    rng = np.random.default_rng(1)
    image = rng.random((1, 10, 10, 1))
    target = rng.random((1, 8, 8, 1))
    kernel = rng.normal(size=(3, 3, 1, 1))

    def loss(k):
        maps = ops.conv(ops.convert_to_tensor(image, "float32"), k)
        return ops.mean((maps - ops.convert_to_tensor(target, "float32")) ** 2)

    def loss_numpy(k):
        out = np.array([[np.sum(image[0, i:i + 3, j:j + 3, 0] * k[:, :, 0, 0]) for j in range(8)] for i in range(8)])
        return np.mean((out - target[0, :, :, 0]) ** 2)

    _, (grad,) = learn.gradient(loss, kernel)
    every_entry = [idx for idx in np.ndindex(kernel.shape)]
    expected = learn.numerical_gradient(loss_numpy, kernel.copy(), every_entry).reshape(kernel.shape)
    np.testing.assert_allclose(grad, expected, rtol=1e-4, atol=1e-5)


def test_numerical_gradient_of_a_quadratic_and_restores_the_array():
    w = np.array([1.0, -2.0, 3.0])
    estimate = learn.numerical_gradient(lambda v: float(np.sum(v ** 2)), w, [(0,), (2,)])
    np.testing.assert_allclose(estimate, [2.0, 6.0], rtol=1e-6)
    np.testing.assert_array_equal(w, [1.0, -2.0, 3.0])


def test_an_array_the_loss_ignores_has_a_zero_gradient_on_every_backend():
    from keras import ops
    value, (grad_a, grad_b) = learn.gradient(lambda a, b: ops.sum(a ** 2), np.arange(3.0), np.ones(2))
    assert value == pytest.approx(5.0)
    np.testing.assert_allclose(grad_a, [0.0, 2.0, 4.0])
    np.testing.assert_array_equal(grad_b, np.zeros(2))
