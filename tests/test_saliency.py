"""Saliency maps on cases whose answer is known in closed form, under whichever Keras backend runs the tests."""
import numpy as np
import pytest

from fer_helpers import FerError, saliency


def _cam_model(seed=0):
    """pixels -> Rescaling -> a linear 4x4/stride-4 convolution 'features' (12x12x3) -> global average -> Dense."""
    import keras
    from keras import layers
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((48, 48, 1))
    h = layers.Rescaling(1 / 255)(inputs)
    h = layers.Conv2D(3, 4, strides=4, name="features")(h)
    h = layers.GlobalAveragePooling2D()(h)
    outputs = layers.Dense(7, activation="softmax", name="emotion")(h)
    return keras.Model(inputs, outputs)


def test_gradient_of_a_known_function():
    import keras
    x = np.arange(12, dtype="float32").reshape(3, 4)
    values, grad = saliency.gradient(lambda t: keras.ops.sum(t * t, axis=1), x)
    np.testing.assert_allclose(values, (x * x).sum(axis=1), rtol=1e-6)
    np.testing.assert_allclose(grad, 2 * x, rtol=1e-6)


def test_grad_cam_equals_cam_on_a_global_average_model():
    """With global average pooling then a Dense layer, d logit_c / d A_k(h, w) = W[k, c] / (H W) everywhere, so
    Grad-CAM is the class activation map of Zhou et al. (2016): ReLU(sum_k W[k, c] A_k) / (H W). It must use the
    logit, not the softmax probability, whose gradient would scale every face's map differently."""
    import keras
    model = _cam_model()
    faces = np.random.default_rng(0).integers(0, 256, (4, 48, 48)).astype(np.uint8)
    classes = np.array([0, 3, 5, 6])
    maps = keras.Model(model.input, model.get_layer("features").output).predict(faces[..., None], verbose=0)
    kernel = keras.ops.convert_to_numpy(model.get_layer("emotion").kernel)
    expected = np.maximum(np.einsum("nhwk,kn->nhw", maps, kernel[:, classes]), 0) / (12 * 12)
    got = saliency.grad_cam(model, faces, classes=classes, layer="features", size=None, normalise=False)
    assert got.shape == (4, 12, 12)
    assert expected.max() > 0
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-7)


def test_grad_cam_upsampled_and_normalised_peaks_where_the_evidence_is():
    """A face dark but for a bright top-left square: only that square's features are non-zero, so the map is."""
    import keras
    model = _cam_model()
    kernel = keras.ops.convert_to_numpy(model.get_layer("features").kernel)
    face = np.zeros((1, 48, 48), np.uint8)
    face[0, :16, :16] = 255
    # the class whose weights make the bright square's features count positively
    square = kernel.sum(axis=(0, 1, 2))                                  # each channel's response to white
    weights = keras.ops.convert_to_numpy(model.get_layer("emotion").kernel)
    best = int(np.argmax(square @ weights))
    cam = saliency.grad_cam(model, face, classes=best, layer="features")[0]
    assert cam.shape == (48, 48) and np.isclose(cam.max(), 1.0)
    assert cam[:12, :12].min() > 0.9 and cam[24:, 24:].max() == 0


def test_occlusion_is_zero_where_the_model_cannot_see():
    """A model that sees only the top-left 16x16 pixels: covering anything a patch cannot reach from there
    changes nothing (8x8 patches: pixels at row or column 23 and beyond)."""
    import keras
    from keras import layers
    keras.utils.set_random_seed(1)
    inputs = keras.Input((48, 48, 1))
    h = layers.Rescaling(1 / 255)(inputs)
    h = layers.Cropping2D(((0, 32), (0, 32)))(h)
    h = layers.Flatten()(h)
    model = keras.Model(inputs, layers.Dense(7, activation="softmax")(h))
    faces = np.random.default_rng(1).integers(0, 256, (2, 48, 48)).astype(np.uint8)
    maps = saliency.occlusion_map(model, faces, patch=8, stride=4)
    assert maps.shape == (2, 48, 48)
    assert np.abs(maps[:, 23:, :]).max() < 1e-6 and np.abs(maps[:, :, 23:]).max() < 1e-6
    assert np.abs(maps[:, :16, :16]).max() > 1e-4


def test_occlusion_rejects_bad_input(tiny_model):
    with pytest.raises(FerError, match="faces must be"):
        saliency.occlusion_map(tiny_model(), np.zeros((2, 32, 32), np.uint8))
    with pytest.raises(FerError, match="patch"):
        saliency.occlusion_map(tiny_model(), np.zeros((1, 48, 48), np.uint8), patch=0)


def test_target_layer_on_the_course_architectures():
    from fer_helpers import models
    assert saliency.target_layer(models.build("seed_cnn")) == "conv3"            # 8x8; conv4 is 2x2
    assert saliency.target_layer(models.build("small_resnet")) == "s4b1_out"     # 6x6
    with pytest.raises(FerError, match="no layer"):
        saliency.target_layer(models.build("small_resnet"), min_size=49)


def test_grad_cam_on_a_course_network():
    from fer_helpers import models
    faces = np.random.default_rng(2).integers(0, 256, (3, 48, 48)).astype(np.uint8)
    cams = saliency.grad_cam(models.build("small_resnet"), faces)
    assert cams.shape == (3, 48, 48) and np.isfinite(cams).all() and cams.min() >= 0 and cams.max() <= 1


def test_share_inside():
    maps = np.zeros((2, 48, 48))
    maps[0, :24] = 1          # all of the first map's mass in the top half
    maps[1] = -1              # no positive mass at all
    top = np.zeros((48, 48), bool)
    top[:12] = True
    np.testing.assert_allclose(saliency.share_inside(maps, top), [0.5, 0.0])


def test_plot_maps_draws_a_face_row_and_one_row_per_map():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    faces = np.zeros((3, 48, 48), np.uint8)
    cams = np.zeros((3, 48, 48))
    cams[:, 0, 0] = 1
    fig = saliency.plot_maps(faces, {"Grad-CAM": cams, "occlusion": -cams}, titles=["a", "b", "c"])
    assert len(fig.axes) == 9 and fig.axes[0].get_title() == "a"
    assert fig.axes[3].get_ylabel() == "Grad-CAM" and fig.axes[6].get_ylabel() == "occlusion"
    assert fig.axes[6].images[1].get_cmap().name == "RdBu_r" and fig.axes[3].images[1].get_cmap().name == "jet"
    plt.close(fig)


@pytest.mark.parametrize("mirror", [False, True])
def test_grad_cam_of_an_ensemble_is_the_mean_of_its_members_maps(mirror):
    from fer_helpers import models
    members = [{"architecture": "small_resnet", "kwargs": {"widths": [4, 8, 8, 8]}}] * 2
    ensemble = models.build_ensemble(members, mirror=mirror)
    faces = np.random.default_rng(3).integers(0, 256, (2, 48, 48)).astype(np.uint8)
    classes = np.asarray(ensemble.predict(faces[..., None].astype("float32"), verbose=0)).argmax(axis=1)
    views = [(faces, False), (faces[:, :, ::-1], True)] if mirror else [(faces, False)]
    maps = [saliency.grad_cam(m, v, classes)[:, :, ::-1] if flipped else saliency.grad_cam(m, v, classes)
            for m in models.ensemble_members(ensemble) for v, flipped in views]
    expected = np.mean(maps, axis=0)
    expected /= np.where(expected.max(axis=(1, 2), keepdims=True) > 0, expected.max(axis=(1, 2), keepdims=True), 1)
    np.testing.assert_allclose(saliency.grad_cam(ensemble, faces), expected, atol=1e-5)
    with pytest.raises(FerError, match="no single layer"):
        saliency.grad_cam(ensemble, faces, layer="s4b1_out")
