"""What a model looks at: Grad-CAM and occlusion maps (chapter 7).

Two ways to ask a trained network which pixels its answer depends on:

- **Grad-CAM** (Selvaraju et al. 2017, "Grad-CAM: visual explanations from deep networks via gradient-based
  localization"): take the feature maps A_k of a late convolutional layer and the gradient of the class's
  *logit* (its score before the softmax) with respect to them; weight each map by its mean gradient and keep the
  positive part, ReLU(sum_k alpha_k A_k). Cheap (one forward and one backward pass) but coarse: it has the
  resolution of that layer (8x8 for ``seed``, 6x6 for ``best``), upsampled to 48x48.
- **Occlusion** (Zeiler and Fergus 2014, "Visualizing and understanding convolutional networks"): cover one
  patch of the face with flat grey and measure how much the class's probability drops; slide the patch over the
  face. Needs no gradient and no layer, only predictions, so it works on any model, at the price of one forward
  pass per patch position (121 for 8x8 patches every 4 pixels).

Both are descriptions of one model on one face, not explanations of emotion: a bright region means "this
model's answer changes when this region changes", nothing more. The gradients come from the Keras backend that
runs the course (TensorFlow, JAX or PyTorch): :func:`gradient` is the only place that differs between them.
"""
from __future__ import annotations

import numpy as np

from .data import IMAGE_SIZE, as_model_input
from .errors import FerError


def target_layer(model, min_size: int = 6) -> str:
    """The name of the last layer whose output is a spatial map (N, H, W, C) at least ``min_size`` pixels wide.

    Grad-CAM's usual choice is the last convolutional layer; in ``seed`` that layer's map is 2x2 (four 'valid'
    convolutions and poolings), too coarse to show anything, so the default asks for at least 6x6: ``conv3``
    (8x8) in ``seed``, ``s4b1_out`` (6x6) in each network of the ensemble ``best``."""
    names = [layer.name for layer in model.layers
             if len(layer.output.shape) == 4 and (layer.output.shape[1] or 0) >= min_size]
    if not names:
        raise FerError(f"{model.name}: no layer outputs a spatial map of at least {min_size}x{min_size}")
    return names[-1]


def gradient(score, inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(score(inputs), d sum(score(inputs)) / d inputs) as NumPy arrays, with the running backend's autodiff.

    ``score`` maps a (N, ...) tensor to (N,) scores; the faces are independent, so the gradient of the sum holds
    each face's own gradient."""
    import keras
    backend = keras.backend.backend()
    inputs = np.asarray(inputs, dtype="float32")
    if backend == "tensorflow":
        import tensorflow as tf
        tensor = tf.convert_to_tensor(inputs)
        with tf.GradientTape() as tape:
            tape.watch(tensor)
            values = score(tensor)
            total = tf.reduce_sum(values)
        return values.numpy(), tape.gradient(total, tensor).numpy()
    if backend == "jax":
        import jax
        def total(t):
            values = score(t)
            return values.sum(), values
        (_, values), grad = jax.value_and_grad(total, has_aux=True)(jax.numpy.asarray(inputs))
        return np.asarray(values), np.asarray(grad)
    if backend == "torch":
        tensor = keras.ops.convert_to_tensor(inputs).detach().requires_grad_(True)
        values = score(tensor)
        values.sum().backward()
        return values.detach().cpu().numpy(), tensor.grad.detach().cpu().numpy()
    raise FerError(f"Grad-CAM needs a backend with gradients (tensorflow, jax or torch), not '{backend}'")


def logits(model, hidden):
    """The last layer's scores before its softmax: the course's models end in Dense(7, activation='softmax')."""
    import keras
    last = model.layers[-1]
    activation = getattr(getattr(last, "activation", None), "__name__", None)
    if not isinstance(last, keras.layers.Dense) or activation not in ("softmax", "linear"):
        raise FerError(f"{model.name}: Grad-CAM needs a last Dense layer with softmax or no activation, "
                       f"not {type(last).__name__} ({activation})")
    return keras.ops.matmul(hidden, last.kernel) + (last.bias if last.use_bias else 0)


def split_at(model, layer: str):
    """Two models that compose to ``model`` minus its last layer: pixels -> ``layer``'s maps, and those maps ->
    the input of the last Dense layer (whose scores :func:`logits` computes)."""
    import keras
    maps = model.get_layer(layer).output
    return keras.Model(model.input, maps), keras.Model(maps, model.layers[-1].input)


def grad_cam(model, x: np.ndarray, classes=None, layer: str | None = None, size: int | None = IMAGE_SIZE,
             normalise: bool = True) -> np.ndarray:
    """Grad-CAM maps (N, size, size) of uint8 faces (N, 48, 48) for ``classes`` (default: each predicted class).

    ``layer``: the layer whose maps are weighted (default :func:`target_layer`). ``size=None`` returns the maps
    at that layer's own resolution; otherwise they are upsampled (bilinear) to ``size`` x ``size``.
    ``normalise`` divides each map by its maximum (a map that is zero everywhere stays zero: no region of that
    layer raises the class's score).

    An ensemble (``models.build_ensemble``) has no single last layer of maps: its map is the mean of its
    members' maps (each normalised first, so no member outweighs the others), all for the class the ensemble
    predicts; a member run on the mirror image contributes its map mirrored back."""
    import keras

    from .models import ensemble_members
    members = ensemble_members(model)
    if members:
        if layer is not None:
            raise FerError(f"{model.name}: an ensemble has no single layer to name; leave layer=None")
        if classes is None:
            classes = np.asarray(model.predict(as_model_input(x), verbose=0)).argmax(axis=1)
        mirrored = any(type(layer_).__name__ == "Mirror" for layer_ in model.layers)
        views = [(x, False), (np.asarray(x)[:, :, ::-1], True)] if mirrored else [(x, False)]
        maps = [grad_cam(member, view, classes, size=size)[:, :, ::-1] if flipped else
                grad_cam(member, view, classes, size=size) for member in members for view, flipped in views]
        cams = np.mean(maps, axis=0)
        if normalise:
            peak = cams.max(axis=(1, 2), keepdims=True)
            cams = np.where(peak > 0, cams / np.where(peak > 0, peak, 1), 0)
        return cams
    features, head = split_at(model, layer or target_layer(model))
    maps = np.asarray(keras.ops.convert_to_numpy(features(as_model_input(x), training=False)), dtype="float32")
    if classes is None:
        scores = keras.ops.convert_to_numpy(logits(model, head(maps, training=False)))
        classes = np.asarray(scores).argmax(axis=1)
    one_hot = keras.ops.convert_to_tensor(np.eye(model.output.shape[-1], dtype="float32")[
        np.broadcast_to(np.asarray(classes), (len(maps),))])
    _, grads = gradient(lambda a: keras.ops.sum(logits(model, head(a, training=False)) * one_hot, axis=1), maps)
    weights = grads.mean(axis=(1, 2))                                   # alpha_k: the mean gradient of each map
    cams = np.maximum((maps * weights[:, None, None, :]).sum(axis=-1), 0)
    if size is not None:
        cams = np.asarray(keras.ops.convert_to_numpy(
            keras.ops.image.resize(cams[..., None], (size, size), interpolation="bilinear")))[..., 0]
        cams = np.maximum(cams, 0)
    if normalise:
        peak = cams.max(axis=(1, 2), keepdims=True)
        cams = np.where(peak > 0, cams / np.where(peak > 0, peak, 1), 0)
    return cams


def occlusion_map(model, x: np.ndarray, classes=None, patch: int = 8, stride: int = 4, fill: float | None = None,
                  batch_size: int = 256) -> np.ndarray:
    """Occlusion maps (N, 48, 48): how much the probability of ``classes`` (default: each predicted class) drops
    when a ``patch`` x ``patch`` square around each pixel is covered, averaged over the patches that cover it.

    ``fill``: the grey the patch is painted with (default: each face's own mean, so the patch adds no contrast of
    its own). Positive values: covering that region lowers the class's probability (the model uses it);
    negative: covering it raises the probability (that region argued against the class)."""
    faces = np.asarray(x)
    if faces.ndim != 3 or faces.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
        raise FerError(f"occlusion_map: faces must be (N, {IMAGE_SIZE}, {IMAGE_SIZE}), got {faces.shape}")
    if not 0 < patch <= IMAGE_SIZE or stride < 1:
        raise FerError(f"occlusion_map: patch must be 1..{IMAGE_SIZE} and stride at least 1 (got {patch}, {stride})")
    starts = list(range(0, IMAGE_SIZE - patch + 1, stride))
    if starts[-1] != IMAGE_SIZE - patch:
        starts.append(IMAGE_SIZE - patch)                     # the last patch touches the edge
    base = np.asarray(model.predict(as_model_input(faces), batch_size=batch_size, verbose=0))
    classes = base.argmax(axis=1) if classes is None else np.broadcast_to(np.asarray(classes), (len(faces),))
    maps = np.zeros(faces.shape, dtype="float32")
    for i, face in enumerate(faces):
        grey = float(face.mean()) if fill is None else float(fill)
        covered = np.repeat(face[None].astype("float32"), len(starts) ** 2, axis=0)
        for j, (top, left) in enumerate((t, s) for t in starts for s in starts):
            covered[j, top:top + patch, left:left + patch] = grey
        proba = np.asarray(model.predict(covered[..., None], batch_size=batch_size, verbose=0))[:, classes[i]]
        drop, count = np.zeros(face.shape, "float32"), np.zeros(face.shape, "float32")
        for j, (top, left) in enumerate((t, s) for t in starts for s in starts):
            drop[top:top + patch, left:left + patch] += base[i, classes[i]] - proba[j]
            count[top:top + patch, left:left + patch] += 1
        maps[i] = drop / count
    return maps


def plot_maps(x: np.ndarray, maps: dict, titles=None, row_titles=None, size: float = 1.35, alpha: float = 0.5,
              suptitle: str | None = None):
    """One column per face: the face, then one row per entry of ``maps`` ({row name: (N, 48, 48) maps}) drawn
    over it. Normalised maps (0..1, peak 1: Grad-CAM) use one colour scale; any other row (occlusion drops) a
    diverging scale centred on 0 and shared by the whole row, so faces in one row compare."""
    import matplotlib.pyplot as plt
    faces = np.asarray(x)
    fig, axes = plt.subplots(1 + len(maps), len(faces), figsize=(len(faces) * size, (1 + len(maps)) * size * 1.12),
                             squeeze=False)
    for col, face in enumerate(faces):
        axes[0, col].imshow(face, cmap="gray", vmin=0, vmax=255)
        if titles is not None:
            axes[0, col].set_title(titles[col], fontsize=7)
    for row, (name, values) in enumerate(maps.items(), start=1):
        values = np.asarray(values)
        signed = not (values.min() >= 0 and np.isclose(values.max(), 1))   # not a normalised Grad-CAM row
        limit = max(float(np.abs(values).max()), 1e-9)
        for col, face in enumerate(faces):
            axes[row, col].imshow(face, cmap="gray", vmin=0, vmax=255)
            axes[row, col].imshow(values[col], cmap="RdBu_r" if signed else "jet", alpha=alpha,
                                  vmin=-limit if signed else 0, vmax=limit if signed else 1)
        axes[row, 0].set_ylabel(name if row_titles is None else row_titles[row - 1], fontsize=8)
    for ax in axes.ravel():
        ax.set_xticks([]), ax.set_yticks([])
    if suptitle:
        fig.suptitle(suptitle, fontsize=10)
    fig.tight_layout()
    return fig


def share_inside(maps: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The share of each map's positive mass that falls inside ``mask`` (48, 48) or (N, 48, 48), e.g. a
    watermark's pixels. Compare it with the mask's share of the face: a map that ignores the region puts about
    that share there by chance at most; much more means the model's answer leans on the region."""
    maps = np.maximum(np.asarray(maps, dtype="float64"), 0)
    mask = np.broadcast_to(np.asarray(mask, bool), maps.shape)
    total = maps.sum(axis=(1, 2))
    return np.where(total > 0, (maps * mask).sum(axis=(1, 2)) / np.where(total > 0, total, 1), 0.0)
