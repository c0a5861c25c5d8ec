import time
import warnings

import numpy as np
import pytest
from PIL import Image

from conftest import make_csv, make_folder_dataset
from emolens.data import SPLITS, eval_split, load_dataset, stratified_holdout, train_val
from emolens.errors import EmolensError
from emolens.labels import CLASSES, class_index


def test_class_order_and_synonyms():
    assert CLASSES == ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")
    for name, want in [("Anger", "angry"), ("HAPPINESS", "happy"), ("sadness", "sad"), ("surprised", "surprise"),
                       ("Fearful", "fear"), ("disgusted", "disgust"), ("Neutral", "neutral")]:
        assert CLASSES[class_index(name)] == want
    assert class_index("contempt") is None


def test_kaggle_folder_layout_and_splits(tmp_path):
    root = make_folder_dataset(tmp_path / "d", n_train=3, n_val=2)
    ds = load_dataset(root, progress=False)
    assert ds.images.shape == (7 * 5, 48, 48) and ds.images.dtype == np.uint8
    assert ds.counts() == {"train": 21, "val": 14}
    xtr, ytr, xva, yva, name = train_val(ds)
    assert len(xva) == 14 and "PublicTest" in name
    assert sorted(np.bincount(ytr)) == [3] * 7


def test_nested_layout_synonyms_case_and_foreign_class(tmp_path):
    names = ["Anger", "disgusted", "FEAR", "happiness", "neutral", "Sadness", "surprised"]
    root = make_folder_dataset(tmp_path / "d", n_train=2, n_val=1, nested=True, names=names)
    (root / "train" / "train" / "contempt").mkdir()
    Image.fromarray(np.zeros((48, 48), np.uint8)).save(root / "train" / "train" / "contempt" / "x.png")
    with pytest.warns(UserWarning, match="contempt"):
        ds = load_dataset(root, progress=False)
    assert ds.counts() == {"train": 14, "val": 7}
    assert set(ds.labels.tolist()) == set(range(7))


def test_prefix_beats_folder_and_splitless(tmp_path):
    d = tmp_path / "flat"
    for k, c in enumerate(CLASSES):
        (d / c).mkdir(parents=True)
        Image.fromarray(np.full((60, 80, 3), 10 * k, np.uint8)).save(d / c / f"PrivateTest_{k}.jpg")  # colour, odd size
        Image.fromarray(np.full((48, 48), 10 * k, np.uint8)).save(d / c / f"photo{k}.png")
    ds = load_dataset(d, progress=False)
    assert ds.counts() == {"test": 7, "unsplit": 7}
    x, y, name = eval_split(ds, "auto")
    assert "PrivateTest" in name and len(y) == 7


def test_csv_official_codes_and_usage(tmp_path):
    p = make_csv(tmp_path / "fer2013.csv", n=2, bad_rows=2)
    with pytest.warns(UserWarning, match="malformed row"):
        ds = load_dataset(p, progress=False)
    assert ds.counts() == {"train": 14, "val": 14, "test": 14}
    # code 4 is sad and 6 neutral in the CSV; the rows were written class by class in our order
    x, y = ds.split("train")
    assert y.tolist() == sorted(list(range(7)) * 2)


def test_cache_is_used_and_invalidated(tmp_path):
    root = make_folder_dataset(tmp_path / "d", n_train=3, n_val=1)
    a = load_dataset(root, progress=False)
    t = time.time()
    b = load_dataset(root, progress=False)
    assert time.time() - t < 1.0 and np.array_equal(a.images, b.images)
    Image.fromarray(np.zeros((48, 48), np.uint8)).save(root / "train" / "happy" / "Training_99999.png")
    c = load_dataset(root, progress=False)
    assert len(c.labels) == len(a.labels) + 1


def test_unreadable_images_are_skipped_with_one_warning(tmp_path):
    root = make_folder_dataset(tmp_path / "d", n_train=2, n_val=1)
    good = (root / "train" / "sad" / "Training_5000.png").read_bytes()
    (root / "train" / "sad" / "Training_bad1.png").write_bytes(good[: len(good) // 3])
    (root / "train" / "sad" / "Training_bad2.png").write_bytes(b"not an image")
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        ds = load_dataset(root, progress=False)
    msgs = [str(x.message) for x in w if "unreadable" in str(x.message)]
    assert len(msgs) == 1 and "2 unreadable" in msgs[0] and "Training_bad2.png" in msgs[0]
    assert ds.counts()["train"] == 14


def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.mark.parametrize("make, msg", [
    (lambda p: p / "missing", "no such file"),
    (lambda p: (p / "empty").mkdir() or p / "empty", "empty"),
    (lambda p: _write(p / "junk" / "cats" / "a.txt", "x").parent.parent, "no images of the seven classes"),
    (lambda p: _write(p / "x.csv", "a,b\n1,2\n"), "not a fer2013 CSV"),
])
def test_bad_dataset_paths(tmp_path, make, msg):
    with pytest.raises(EmolensError, match=msg):
        load_dataset(make(tmp_path), progress=False)


def test_holdout_is_stratified_and_seeded():
    y = np.repeat(np.arange(7), [100, 10, 50, 200, 80, 60, 40])
    a, b = stratified_holdout(y, 0.1, 0), stratified_holdout(y, 0.1, 0)
    assert np.array_equal(a, b)
    assert np.bincount(y[a]).tolist() == [10, 1, 5, 20, 8, 6, 4]


def test_eval_split_rules(tmp_path):
    ds = load_dataset(make_folder_dataset(tmp_path / "d", 2, 1), progress=False)
    with pytest.raises(EmolensError, match="--allow-train"):
        eval_split(ds, "train")
    x, y, name = eval_split(ds, "train", allow_train=True)
    assert "TRAINING DATA" in name
    with pytest.raises(EmolensError, match="use --split val"):
        eval_split(ds, "test")
    assert SPLITS[0] == "train"


def test_gray_conversion_matches_pillow_luma():
    from emolens.images import rgb_to_gray
    rgb = np.random.default_rng(0).integers(0, 256, (37, 53, 3), dtype=np.uint8)
    ref = np.asarray(Image.fromarray(rgb).convert("L")).astype(int)
    out = rgb_to_gray(rgb[:, ::-1])[:, ::-1]  # non-contiguous views are accepted too
    assert out.dtype == np.uint8 and out.shape == (37, 53) and np.abs(out.astype(int) - ref).max() <= 1
    assert rgb_to_gray(ref.astype(np.uint8)) is not None and rgb_to_gray(rgb[..., 0]).shape == (37, 53)
