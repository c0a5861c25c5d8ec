"""fer_helpers.data: every layout the loader accepts, bad input, splits, duplicates and the cache.

All datasets here are tiny synthetic ones written into pytest's tmp_path; nothing touches FER2013.
"""
from __future__ import annotations

import csv
import os

import cv2
import numpy as np
import pytest

from fer_helpers import data
from fer_helpers.errors import FerError

NAMES = data.CLASS_NAMES


def face(seed: int, size: int = 48) -> np.ndarray:
    """A random but structured image (smooth blobs, so hashes and JPEG behave as on photos)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (6, 6)).astype(np.float32)
    return cv2.resize(small, (size, size), interpolation=cv2.INTER_CUBIC).clip(0, 255).astype(np.uint8)


def write_image(path, image, ext=".png"):
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, buffer = cv2.imencode(ext, image)
    assert ok
    path.write_bytes(buffer.tobytes())


def make_folders(root, split_dirs=("train", "test"), class_dirs=NAMES, per_class=2, ext=".png", size=48):
    """root/<split>/<class>/<i><ext>; returns {split: {class_dir: [images]}}."""
    written = {}
    seed = 0
    for split in split_dirs:
        written[split] = {}
        for class_dir in class_dirs:
            images = []
            for i in range(per_class):
                seed += 1
                image = face(seed, size)
                write_image(root / split / class_dir / f"{i:03d}{ext}", image, ext)
                images.append(image)
            written[split][class_dir] = images
    return written


def write_csv(path, rows):
    """rows: (emotion code, image or pixel string, Usage)."""
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["emotion", "pixels", "Usage"])
        for code, pixels, usage in rows:
            if isinstance(pixels, np.ndarray):
                pixels = " ".join(str(v) for v in pixels.ravel())
            writer.writerow([code, pixels, usage])


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    """Every test caches into its own folder, never into the repository's .cache/."""
    monkeypatch.setenv("FER_CACHE", str(tmp_path / "cache"))


# --------------------------------------------------------------------------------------------- folder layouts

def test_kaggle_folders_png_exact_pixels_and_labels(tmp_path):
    written = make_folders(tmp_path / "fer", per_class=2)
    split = data.load_split(tmp_path / "fer", "train", verbose=False)
    assert split.x.shape == (14, 48, 48) and split.x.dtype == np.uint8
    assert data.class_counts(split.y) == {name: 2 for name in NAMES}
    # PNG is lossless: the pixels come back exactly, and each under its own class
    for image, label, file in zip(split.x, split.y, split.files):
        class_dir, name = file.split("/")
        assert NAMES[label] == class_dir
        assert np.array_equal(image, written["train"][class_dir][int(name[:3])])
    assert split.skipped == []
    test = data.load_split(tmp_path / "fer", "test", verbose=False)
    assert len(test) == 14 and not np.array_equal(test.x, split.x)


def test_jpeg_and_resize_and_colour(tmp_path):
    root = tmp_path / "fer"
    big = face(1, size=96)
    write_image(root / "train" / "happy" / "big.jpg", big, ".jpg")
    colour = np.dstack([face(2), face(3), face(4)])
    write_image(root / "train" / "sad" / "colour.png", colour, ".png")
    split = data.load_split(root, "train", verbose=False)
    assert split.x.shape == (2, 48, 48)
    assert [NAMES[i] for i in split.y] == ["happy", "sad"]
    expected = cv2.resize(big, (48, 48), interpolation=cv2.INTER_AREA)
    assert np.abs(split.x[0].astype(int) - expected).mean() < 6  # JPEG is lossy, but it is the same picture
    assert split.x[1].ndim == 2  # colour became gray


def test_nested_train_train_layout(tmp_path):
    root = tmp_path / "fer"
    make_folders(root / "train", split_dirs=("train",), class_dirs=("angry", "happy"), per_class=1)
    make_folders(root / "test", split_dirs=("test",), class_dirs=("angry", "happy"), per_class=3)
    assert len(data.load_split(root, "train", verbose=False)) == 2
    assert len(data.load_split(root, "test", verbose=False)) == 6


def test_capitalised_and_synonym_class_names_and_split_aliases(tmp_path):
    root = tmp_path / "fer"
    dirs = ("Angry", "disgusted", "Fearful", "happiness", "Neutral", "sadness", "Surprised")
    make_folders(root, split_dirs=("Training", "PublicTest"), class_dirs=dirs, per_class=1)
    (root / "Training" / "contempt").mkdir()  # not one of our emotions: ignored
    write_image(root / "Training" / "contempt" / "x.png", face(99))
    split = data.load_split(root, "train", verbose=False)
    assert sorted(NAMES[i] for i in split.y) == sorted(NAMES)
    assert all(not f.startswith("contempt") for f in split.files)
    assert len(data.load_split(root, "test", verbose=False)) == 7


def test_canonical_class():
    assert data.canonical_class(" Happiness ") == "happy"
    assert data.canonical_class("SURPRISED") == "surprise"
    assert data.canonical_class("anger") == "angry"
    assert data.canonical_class("contempt") is None
    assert NAMES == ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")


# ------------------------------------------------------------------------------------------------ the CSV

def test_csv_label_codes_and_usage(tmp_path):
    images = [face(i) for i in range(10)]
    rows = [(code, images[code], "Training") for code in range(7)]
    rows += [(4, images[7], "PublicTest"), (6, images[8], "PrivateTest"), (3, images[9], "PrivateTest")]
    write_csv(tmp_path / "fer2013.csv", rows)
    train = data.load_split(tmp_path / "fer2013.csv", "train", verbose=False)
    # codes 0 angry, 1 disgust, 2 fear, 3 happy, 4 sad, 5 surprise, 6 neutral
    assert [NAMES[i] for i in train.y] == ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
    assert np.array_equal(train.x, np.stack(images[:7]))
    assert train.files[0] == "fer2013.csv:2"  # line numbers as in an editor (line 1 is the header)
    test = data.load_split(tmp_path / "fer2013.csv", "test", verbose=False)
    assert [NAMES[i] for i in test.y] == ["sad"] and np.array_equal(test.x[0], images[7])
    private = data.load_split(tmp_path / "fer2013.csv", "private", verbose=False)
    assert [NAMES[i] for i in private.y] == ["neutral", "happy"]


def test_csv_found_in_folder_and_subfolder(tmp_path):
    (tmp_path / "a").mkdir()
    write_csv(tmp_path / "a" / "fer2013.csv", [(3, face(1), "Training")])
    assert len(data.load_split(tmp_path / "a", "train", verbose=False)) == 1
    (tmp_path / "b" / "fer2013").mkdir(parents=True)
    write_csv(tmp_path / "b" / "fer2013" / "fer2013.csv", [(3, face(1), "Training"), (0, face(2), "Training")])
    assert len(data.load_split(tmp_path / "b", "train", verbose=False)) == 2


def test_csv_bad_rows_skipped_and_reported(tmp_path, capsys):
    out_of_range = " ".join(["300"] + ["0"] * 2303)                     # a pixel value no uint8 holds
    rows = [(3, face(1), "Training"), (9, face(2), "Training"), (0, "1 2 3", "Training"), (0, face(3), "Training"),
            (2, out_of_range, "Training")]
    write_csv(tmp_path / "fer2013.csv", rows)
    split = data.load_split(tmp_path / "fer2013.csv", "train")
    assert [NAMES[i] for i in split.y] == ["happy", "angry"]
    assert len(split.skipped) == 3
    assert "line 3" in split.skipped[0] and "line 4" in split.skipped[1] and "line 6" in split.skipped[2]
    err = capsys.readouterr().err
    assert "skipped 3" in err and "line 3" in err


# ------------------------------------------------------------------------------------------ bad files, errors

def test_bad_files_skipped_and_reported(tmp_path, capsys):
    root = tmp_path / "fer"
    make_folders(root, split_dirs=("train",), class_dirs=("happy",), per_class=2)
    (root / "train" / "happy" / "empty.jpg").write_bytes(b"")
    (root / "train" / "happy" / "notes.png").write_text("this is not an image")
    (root / "train" / "happy" / "readme.txt").write_text("ignored: not an image suffix")
    (root / "train" / "happy" / "album.jpg").mkdir()   # a folder named like an image: not a file, ignored
    split = data.load_split(root, "train")
    assert len(split) == 2
    assert len(split.skipped) == 2
    reasons = " | ".join(split.skipped)
    assert "empty.jpg: empty file" in reasons and "notes.png: not a decodable image" in reasons
    assert "readme" not in reasons and "album" not in reasons
    err = capsys.readouterr().err
    assert "skipped 2 unreadable file(s) in train" in err and "empty.jpg" in err


def test_quiet_when_verbose_false(tmp_path, capsys):
    root = tmp_path / "fer"
    make_folders(root, split_dirs=("train",), class_dirs=("happy",), per_class=1)
    (root / "train" / "happy" / "empty.jpg").write_bytes(b"")
    data.load_split(root, "train", verbose=False)
    assert capsys.readouterr().err == ""


def test_read_gray48_errors_name_the_file(tmp_path):
    (tmp_path / "e.jpg").write_bytes(b"")
    with pytest.raises(FerError, match=r"e\.jpg: empty file"):
        data.read_gray48(tmp_path / "e.jpg")


@pytest.mark.parametrize("make", ["missing", "no_split", "no_classes"])
def test_missing_data_is_one_line_ferror_naming_it(tmp_path, make):
    root = tmp_path / "where_is_it"
    if make != "missing":
        root.mkdir()
    if make == "no_classes":
        (root / "train" / "misc").mkdir(parents=True)
    with pytest.raises(FerError) as info:
        data.load_split(root, "train", verbose=False)
    message = str(info.value)
    assert "\n" not in message
    assert "where_is_it" in message


def test_unknown_split(tmp_path):
    make_folders(tmp_path, split_dirs=("train",), class_dirs=("happy",), per_class=1)
    with pytest.raises(FerError, match="unknown split"):
        data.load_split(tmp_path, "holdout", verbose=False)


# ------------------------------------------------------------------------------------------------- the cache

def test_cache_round_trip(tmp_path, monkeypatch):
    images = [face(i) for i in range(1001)]  # the cache is written for splits over 1000 images
    rows = [(i % 7, img, "Training") for i, img in enumerate(images)]
    csv_path = tmp_path / "fer2013.csv"
    write_csv(csv_path, rows)
    first = data.load_split(csv_path, "train", verbose=False)
    cached = list((tmp_path / "cache").glob("fer_train_*.npz"))
    assert len(cached) == 1

    def no_reading(*args, **kwargs):
        raise AssertionError("read the CSV again instead of the cache")

    monkeypatch.setattr(data, "_read_csv", no_reading)
    second = data.load_split(csv_path, "train", verbose=False)
    assert np.array_equal(first.x, second.x) and np.array_equal(first.y, second.y)
    assert second.files == first.files and all(type(f) is str for f in second.files)
    with pytest.raises(AssertionError, match="instead of the cache"):
        data.load_split(csv_path, "train", cache=False, verbose=False)


def test_small_splits_are_not_cached(tmp_path):
    make_folders(tmp_path / "fer", split_dirs=("train",), per_class=1)
    data.load_split(tmp_path / "fer", "train", verbose=False)
    assert not (tmp_path / "cache").exists()


def test_cache_key_changes_when_a_class_folder_changes(tmp_path):
    make_folders(tmp_path / "fer", split_dirs=("train",), class_dirs=("happy", "sad"), per_class=1)
    source = tmp_path / "fer" / "train"
    before = data._cache_path(source, "train")
    write_image(source / "sad" / "new.png", face(50))
    later = (source / "sad").stat().st_mtime_ns + 10**9  # file systems with coarse clocks: make the change visible
    os.utime(source / "sad", ns=(later, later))
    assert data._cache_path(source, "train") != before
    assert data._cache_path(source, "test") != data._cache_path(source, "train")


def test_cache_key_changes_when_a_file_is_rewritten_in_place(tmp_path):
    make_folders(tmp_path / "fer", split_dirs=("train",), class_dirs=("happy",), per_class=2)
    source = tmp_path / "fer" / "train"
    folder_mtime = (source / "happy").stat().st_mtime_ns
    before = data._cache_path(source, "train")
    write_image(source / "happy" / "000.png", face(99, size=60))   # same name, other pixels and size
    os.utime(source / "happy", ns=(folder_mtime, folder_mtime))     # the folder itself looks unchanged
    assert data._cache_path(source, "train") != before


def test_cached_read_still_reports_the_skipped_rows(tmp_path, capsys):
    rows = [(i % 7, face(i), "Training") for i in range(1001)] + [(0, "1 2 3", "Training")]
    write_csv(tmp_path / "fer2013.csv", rows)
    first = data.load_split(tmp_path / "fer2013.csv", "train")
    assert len(first) == 1001 and len(first.skipped) == 1
    capsys.readouterr()
    second = data.load_split(tmp_path / "fer2013.csv", "train")   # from the cache
    assert second.skipped == first.skipped
    assert "skipped 1" in capsys.readouterr().err


# ------------------------------------------------------------------------------------- splits and subsets

def labels_with(counts):
    return np.concatenate([np.full(n, label) for label, n in enumerate(counts)])


@pytest.mark.parametrize("counts,message", [([5, 1, 5, 5, 5, 5, 5], "class disgust has 1 example"),
                                            ([2, 0, 2, 0, 0, 0, 0], "from 4 examples")])
def test_train_val_split_too_small_to_stratify_is_one_line(counts, message):
    y = labels_with(counts)
    with pytest.raises(FerError, match=message) as err:
        data.train_val_split(np.arange(len(y)), y, 0.1)
    assert "\n" not in str(err.value)


def test_train_val_split_is_stratified_and_seeded():
    y = labels_with([400, 20, 400, 700, 500, 480, 300])
    x = np.arange(len(y))
    x_tr, x_val, y_tr, y_val = data.train_val_split(x, y, 0.1, seed=42)
    assert len(y_val) == round(0.1 * len(y)) and len(y_tr) + len(y_val) == len(y)
    assert set(x_tr).isdisjoint(x_val) and set(x_tr) | set(x_val) == set(x)
    # each class keeps its share: disgust (20) gives 2 to validation
    val_counts = np.bincount(y_val, minlength=7)
    assert np.all(np.abs(val_counts - 0.1 * np.bincount(y)) <= 1)
    assert val_counts[1] == 2
    assert np.array_equal(y[x_val], y_val)  # images and labels stay paired
    again = data.train_val_split(x, y, 0.1, seed=42)
    assert np.array_equal(again[1], x_val)
    other = data.train_val_split(x, y, 0.1, seed=7)
    assert not np.array_equal(np.sort(other[1]), np.sort(x_val))


def test_per_class_subset():
    y = labels_with([50, 3, 50, 50, 50, 50, 0])
    x = np.arange(len(y)) * 10
    xs, ys = data.per_class_subset(x, y, 5, seed=0)
    assert np.bincount(ys, minlength=7).tolist() == [5, 3, 5, 5, 5, 5, 0]
    assert np.array_equal(y[xs // 10], ys)
    assert np.all(np.diff(xs) > 0)  # original order, no repeats
    assert np.array_equal(data.per_class_subset(x, y, 5, seed=0)[0], xs)
    assert not np.array_equal(data.per_class_subset(x, y, 5, seed=1)[0], xs)


def test_class_counts_order_and_zeros():
    counts = data.class_counts(np.array([3, 3, 0, 6]))
    assert list(counts) == list(NAMES)
    assert counts == {"angry": 1, "disgust": 0, "fear": 0, "happy": 2, "neutral": 0, "sad": 0, "surprise": 1}


# ---------------------------------------------------------------------------------------- duplicates

def test_pixel_hashes_and_duplicates_of():
    a = np.stack([face(i) for i in range(5)])
    b = np.stack([a[3], face(10), a[0]])
    changed = a[1].copy()
    changed[0, 0] ^= 1  # one pixel, one bit
    hashes = data.pixel_hashes(a)
    assert len(set(hashes)) == 5
    assert data.pixel_hashes(a[3:4]) == [hashes[3]]
    assert data.pixel_hashes(changed[None])[0] != hashes[1]
    assert data.duplicates_of(b, a).tolist() == [True, False, True]
    assert data.duplicates_of(np.stack([changed]), a).tolist() == [False]


def test_average_hash_properties():
    img = face(1)
    h = data.average_hash(img[None])
    assert h.shape == (1, 256) and h.dtype == bool
    assert data.average_hash(img[None], size=8).shape == (1, 64)
    assert data.average_hash(img[None, ..., None]).shape == (1, 256)  # (N, 48, 48, 1) accepted
    brighter = np.clip(img.astype(int) + 30, 0, 255).astype(np.uint8)
    darker_contrast = (img * 0.7).astype(np.uint8)
    shifted = np.roll(img, 1, axis=1)
    for variant, at_most in [(brighter, 8), (darker_contrast, 8), (shifted, 40)]:
        assert (data.average_hash(variant[None]) != h).sum() <= at_most
    others = data.average_hash(np.stack([face(i) for i in range(100, 120)]))
    assert (others != h).sum(axis=1).mean() > 80  # unrelated images: roughly half of 256 bits differ
    assert not data.average_hash(np.full((1, 48, 48), 77, np.uint8)).any()  # constant: nothing beats the mean
    assert data.average_hash(np.zeros((0, 48, 48), np.uint8)).shape == (0, 256)


def test_nearest_by_hash_between_and_within_sets():
    reference = np.stack([face(i) for i in range(40)])
    query = np.stack([np.clip(reference[7].astype(int) + 20, 0, 255).astype(np.uint8), face(500), reference[30]])
    index, distance = data.nearest_by_hash(query, reference, chunk=2)  # chunk < len: blocks join correctly
    brute = (data.average_hash(query)[:, None, :] != data.average_hash(reference)[None, :, :]).sum(-1)
    assert np.array_equal(distance, brute.min(axis=1))
    assert index[0] == 7 and index[2] == 30 and distance[2] == 0
    assert distance[1] > 12
    assert data.near_duplicates_of(query, reference).tolist() == [True, False, True]
    # within one set: own entry excluded, so only the planted copy is found
    within = np.concatenate([reference[:10], reference[4:5]])
    index, distance = data.nearest_by_hash(within)
    assert index[10] == 4 and index[4] == 10 and distance[10] == 0
    assert (distance[:10] > 0).sum() == 9
    one_index, one_distance = data.nearest_by_hash(reference[:1])
    assert one_index.tolist() == [-1] and one_distance.tolist() == [257]
    empty_index, _ = data.nearest_by_hash(reference[:0], reference)
    assert empty_index.shape == (0,)


def test_as_model_input():
    x = np.zeros((3, 48, 48), np.uint8) + 200
    out = data.as_model_input(x)
    assert out.shape == (3, 48, 48, 1) and out.dtype == np.float32 and out.max() == 200
