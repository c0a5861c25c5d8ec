"""fer_helpers.augment: class weights, oversampling, proportional subsets and the augmentation layers."""
import numpy as np
import pytest

from fer_helpers import augment
from fer_helpers.data import CLASS_NAMES, NUM_CLASSES
from fer_helpers.errors import FerError


def labels_from_counts(counts):
    return np.repeat(np.arange(len(counts)), counts)


FER_Y = labels_from_counts([augment.FER2013_TRAIN_COUNTS[name] for name in CLASS_NAMES])


# ---- class_weights ---------------------------------------------------------------------------------------------

def test_fer2013_counts_constant():
    assert list(augment.FER2013_TRAIN_COUNTS) == list(CLASS_NAMES)
    assert sum(augment.FER2013_TRAIN_COUNTS.values()) == 28709


def test_power_zero_is_no_weighting():
    weights = augment.class_weights(FER_Y, power=0)
    assert weights == pytest.approx({i: 1.0 for i in range(NUM_CLASSES)})


@pytest.mark.parametrize("power", [0.0, 0.5, 1.0, 2.0])
def test_weights_average_one_over_the_examples(power):
    weights = augment.class_weights(FER_Y, power=power)
    per_example = np.asarray([weights[label] for label in FER_Y])
    assert per_example.mean() == pytest.approx(1.0)


def test_power_one_is_sklearn_balanced():
    from sklearn.utils.class_weight import compute_class_weight
    balanced = compute_class_weight("balanced", classes=np.arange(NUM_CLASSES), y=FER_Y)
    weights = augment.class_weights(FER_Y, power=1)
    assert [weights[i] for i in range(NUM_CLASSES)] == pytest.approx(list(balanced))
    # inverse frequency: disgust / happy is exactly the count ratio
    assert weights[1] / weights[3] == pytest.approx(7215 / 436)


def test_power_half_is_the_square_root_of_balanced_ratios():
    weights = augment.class_weights(FER_Y, power=0.5)
    assert weights[1] / weights[3] == pytest.approx(np.sqrt(7215 / 436))
    # ordering: rarer class, larger weight
    order = np.argsort([augment.FER2013_TRAIN_COUNTS[n] for n in CLASS_NAMES])
    assert np.all(np.diff([weights[i] for i in order]) < 0)


def test_zero_count_class_gets_zero_weight_and_others_still_average_one():
    y = labels_from_counts([10, 0, 30, 60, 0, 5, 5])
    weights = augment.class_weights(y, power=1)
    assert weights[1] == 0.0 and weights[4] == 0.0
    assert all(np.isfinite(list(weights.values())))
    assert np.mean([weights[label] for label in y]) == pytest.approx(1.0)


# ---- oversample -------------------------------------------------------------------------------------------------

def test_oversample_brings_every_class_to_the_largest():
    y = labels_from_counts([5, 1, 8, 20, 3, 7, 2])
    x = np.arange(len(y))  # each "image" is its own index: easy to trace copies
    x_over, y_over = augment.oversample(x, y, seed=0)
    assert np.bincount(y_over, minlength=NUM_CLASSES).tolist() == [20] * NUM_CLASSES
    # only repeats of existing items, each keeping its label
    assert set(x_over.tolist()) <= set(x.tolist())
    assert np.array_equal(y[x_over], y_over)
    # every original item is still there
    assert set(x_over.tolist()) == set(x.tolist())
    # the lone disgust face is repeated 20 times
    assert np.sum(x_over == np.flatnonzero(y == 1)[0]) == 20


def test_oversample_keeps_missing_classes_missing_and_is_seeded():
    y = labels_from_counts([4, 0, 2, 6, 0, 0, 0])
    x = np.arange(len(y))
    x_a, y_a = augment.oversample(x, y, seed=3)
    x_b, _ = augment.oversample(x, y, seed=3)
    assert np.bincount(y_a, minlength=NUM_CLASSES).tolist() == [6, 0, 6, 6, 0, 0, 0]
    assert np.array_equal(x_a, x_b)


def test_oversample_with_images():
    rng = np.random.default_rng(0)
    y = labels_from_counts([3, 1, 2, 4, 1, 1, 1])
    x = rng.integers(0, 256, size=(len(y), 48, 48), dtype=np.uint8)
    x_over, y_over = augment.oversample(x, y)
    assert x_over.shape == (28, 48, 48) and x_over.dtype == np.uint8
    originals = {img.tobytes(): label for img, label in zip(x, y)}
    assert all(originals[img.tobytes()] == label for img, label in zip(x_over, y_over))


# ---- subset_with_proportions ------------------------------------------------------------------------------------

def test_subset_follows_fer2013_proportions():
    y = labels_from_counts([100] * NUM_CLASSES)
    x = np.arange(len(y))
    x_sub, y_sub = augment.subset_with_proportions(x, y, augment.FER2013_TRAIN_COUNTS, largest=50)
    counts = np.bincount(y_sub, minlength=NUM_CLASSES)
    assert counts[3] == 50                              # happy is the largest class
    assert counts[1] == round(50 * 436 / 7215) == 3     # disgust keeps its share
    assert np.array_equal(y[x_sub], y_sub) and len(set(x_sub.tolist())) == len(x_sub)  # no repeats


def test_subset_caps_at_availability_and_keeps_one_of_each():
    y = labels_from_counts([18] * NUM_CLASSES)
    _, y_sub = augment.subset_with_proportions(np.arange(len(y)), y, augment.FER2013_TRAIN_COUNTS, largest=200)
    assert np.bincount(y_sub, minlength=NUM_CLASSES).tolist() == [18, 12, 18, 18, 18, 18, 18]  # 200 * 436 / 7215
    _, y_tiny = augment.subset_with_proportions(np.arange(len(y)), y, augment.FER2013_TRAIN_COUNTS, largest=2)
    assert np.bincount(y_tiny, minlength=NUM_CLASSES).min() == 1


# ---- augmentation_layers ----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def faces():
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, size=(16, 48, 48, 1)).astype("float32")
    x[:, :, :24] *= 0.3  # left half darker: a mirror image is easy to tell apart
    return x


def test_shapes_kept_and_values_in_range(faces):
    aug = augment.augmentation_layers(rotation=0.1, zoom=0.2, translation=0.2, brightness=0.3, contrast=0.3,
                                      seed=0)
    out = np.asarray(aug(faces, training=True))
    assert out.shape == faces.shape
    assert out.min() >= -1e-3 and out.max() <= 255 + 1e-3
    assert not np.allclose(out, faces)  # it did something


def test_identity_at_inference(faces):
    aug = augment.augmentation_layers(seed=0)
    assert np.array_equal(np.asarray(aug(faces, training=False)), faces)


def test_flip_mirrors_left_and_right(faces):
    flip = augment.augmentation_layers(flip=True, rotation=0, zoom=0, translation=0, brightness=0, contrast=0,
                                       seed=5)
    assert [layer.name for layer in flip.layers] == ["flip"]
    out = np.asarray(flip(faces, training=True))
    mirrored = np.array([np.array_equal(o, f[:, ::-1]) for o, f in zip(out, faces)])
    unchanged = np.array([np.array_equal(o, f) for o, f in zip(out, faces)])
    assert np.all(mirrored | unchanged)          # horizontal only: never upside down
    assert mirrored.any() and unchanged.any()    # about half and half


def test_seeded_pipelines_repeat_and_seeds_differ(faces):
    kwargs = dict(rotation=0.05, zoom=0.1, translation=0.1, brightness=0.1, contrast=0.1)
    a = np.asarray(augment.augmentation_layers(seed=7, **kwargs)(faces, training=True))
    b = np.asarray(augment.augmentation_layers(seed=7, **kwargs)(faces, training=True))
    c = np.asarray(augment.augmentation_layers(seed=8, **kwargs)(faces, training=True))
    assert np.allclose(a, b)
    assert not np.allclose(a, c)


def test_zero_switches_a_transform_off():
    aug = augment.augmentation_layers(flip=False, rotation=0.03, zoom=0, translation=0.1, brightness=0, contrast=0)
    assert [layer.name for layer in aug.layers] == ["rotate", "translate"]


def test_class_weights_and_proportions_refuse_what_they_cannot_weigh():
    with pytest.raises(FerError, match="at least one training label"):
        augment.class_weights(np.array([], dtype=np.int64))
    y = np.arange(70) % 7
    with pytest.raises(FerError, match="not all zero"):
        augment.subset_with_proportions(np.arange(70), y, [0] * 7, largest=5)
    with pytest.raises(FerError, match="7 non-negative numbers"):
        augment.subset_with_proportions(np.arange(70), y, [1, 2, 3], largest=5)


def test_erasing_blanks_a_rectangle_in_some_faces_only():
    flat = np.full((64, 48, 48, 1), 128.0, "float32")  # a flat grey face: any erased patch stands out
    erase = augment.augmentation_layers(flip=False, rotation=0, zoom=0, translation=0, brightness=0, contrast=0,
                                        erasing=0.5, seed=3)
    assert [layer.name for layer in erase.layers] == ["erase"]
    out = np.asarray(erase(flat, training=True))
    changed = (np.abs(out - flat) > 1e-3).reshape(len(flat), -1).mean(axis=1)
    assert 0 < (changed > 0).sum() < len(flat)       # some faces erased, not all
    assert changed.max() < 0.5                        # a patch, not the whole face
    assert np.array_equal(np.asarray(erase(flat, training=False)), flat)
