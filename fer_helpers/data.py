"""Find FER2013 in the layouts people download it in, and read it into uint8 arrays.

Layouts understood (chapter 2 shows them):

- the Kaggle image folders ``DIR/train/<class>/*.jpg`` and ``DIR/test/<class>/*.jpg``, also nested
  (``DIR/train/train/<class>``), with capitalised or synonym class names (``Angry``, ``anger``, ``happiness``,
  ``surprised``...), JPEG or PNG;
- the original ``fer2013.csv`` (columns ``emotion,pixels,Usage``), given as the file or the folder holding it.

Splits: ``train`` (Training), ``test`` (PublicTest in the Kaggle folders; PublicTest + PrivateTest in some
mirrors) and, for the CSV only, ``private`` (PrivateTest). The test split never chooses anything in this
course: models are selected on a validation split carved from train by :func:`train_val_split`.
"""
from __future__ import annotations

import csv
import hashlib
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import FerError, reason

# The imports of OpenCV and scikit-learn sit in the functions that use them: every chapter's setup cell imports this
# module (through fer_helpers/__init__ and course) before course.start() has added what a Colab or Kaggle runtime
# lacks, so here only numpy, which every runtime has. course.REPO_ROOT too: course imports this module.

#: The seven classes, in the (alphabetical) order of the Kaggle folders: index i of a model's output is CLASS_NAMES[i].
CLASS_NAMES = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")
NUM_CLASSES = len(CLASS_NAMES)
IMAGE_SIZE = 48

#: Folder names seen in published copies, mapped to our class names.
CLASS_SYNONYMS = {
    "angry": "angry", "anger": "angry", "mad": "angry",
    "disgust": "disgust", "disgusted": "disgust", "disgusting": "disgust",
    "fear": "fear", "fearful": "fear", "scared": "fear", "afraid": "fear",
    "happy": "happy", "happiness": "happy", "joy": "happy",
    "neutral": "neutral", "calm": "neutral",
    "sad": "sad", "sadness": "sad",
    "surprise": "surprise", "surprised": "surprise",
}
#: The label codes of the original fer2013.csv (note: 4 is sad and 6 is neutral).
CSV_CODES = {0: "angry", 1: "disgust", 2: "fear", 3: "happy", 4: "sad", 5: "surprise", 6: "neutral"}
SPLIT_ALIASES = {
    "train": ("train", "training"),
    "test": ("test", "publictest", "public_test", "validation", "val"),
    "private": ("privatetest", "private_test", "private"),
}
CSV_USAGE = {"train": "Training", "test": "PublicTest", "private": "PrivateTest"}
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".pgm", ".webp"}


@dataclass
class FerSplit:
    """One split as arrays: ``x`` (N, 48, 48) uint8, ``y`` (N,) class indices, ``files`` where each came from."""
    x: np.ndarray
    y: np.ndarray
    files: list[str]
    skipped: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.y)


def canonical_class(name: str) -> str | None:
    """'Happiness' -> 'happy'; None for a folder that is not an emotion."""
    return CLASS_SYNONYMS.get(name.strip().lower())


def split_folder(root: Path, split: str) -> Path | None:
    """The folder holding ``split``'s class folders, allowing one extra level of nesting (train/train/)."""
    if split not in SPLIT_ALIASES:
        raise FerError(f"unknown split '{split}' (use {', '.join(SPLIT_ALIASES)})")
    children = {p.name.lower(): p for p in root.iterdir() if p.is_dir()} if root.is_dir() else {}
    for alias in SPLIT_ALIASES[split]:
        if alias in children:
            folder = children[alias]
            inner = {p.name.lower(): p for p in folder.iterdir() if p.is_dir()}
            if alias in inner and not any(canonical_class(n) for n in inner):
                folder = inner[alias]
            return folder
    return None


def _find_csv(root: Path) -> Path | None:
    if root.is_file() and root.suffix.lower() == ".csv":
        return root
    if root.is_dir():
        for candidate in sorted(root.glob("*.csv")) + sorted(root.glob("*/*.csv")):
            if candidate.name.lower().startswith("fer2013"):
                return candidate
    return None


def _holds_fer2013(folder: Path) -> bool:
    """True if :func:`load_split` can read a train split from ``folder``: class folders under a train folder
    (nested or not), or a fer2013*.csv."""
    train = split_folder(folder, "train")
    if train is not None and any(canonical_class(p.name) for p in train.iterdir() if p.is_dir()):
        return True
    found = _find_csv(folder)
    return found is not None and found.parent == folder  # a copy one level down is found at its own level


def find_dataset(base: str | os.PathLike, depth: int = 3) -> Path | None:
    """The first folder at or under ``base`` (breadth first, in name order, at most ``depth`` levels down) that
    holds FER2013 in a layout :func:`load_split` reads, else None. For the datasets a Kaggle notebook has attached
    (``/kaggle/input/<dataset>/...``), whatever the dataset's name and however deep its copy sits."""
    level = [Path(base)] if Path(base).is_dir() else []
    for _ in range(depth + 1):
        for folder in level:
            try:
                if _holds_fer2013(folder):
                    return folder
            except OSError:  # an unreadable mount: look elsewhere
                continue
        level = sorted(child for folder in level for child in _subfolders(folder))
    return None


def _subfolders(folder: Path) -> list[Path]:
    try:
        return [p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")]
    except OSError:
        return []


def decode_gray48(encoded: np.ndarray, name: str) -> np.ndarray:
    """An encoded image (the bytes of a JPEG/PNG file, as uint8) as a 48x48 uint8 array; a FerError naming
    ``name`` if it cannot be decoded."""
    import cv2  # not at the top: see the note there
    image = cv2.imdecode(encoded, cv2.IMREAD_GRAYSCALE) if encoded.size else None
    if image is None:
        raise FerError(f"{name}: {'empty file' if encoded.size == 0 else 'not a decodable image'}")
    if image.shape != (IMAGE_SIZE, IMAGE_SIZE):
        image = cv2.resize(image, (IMAGE_SIZE, IMAGE_SIZE), interpolation=cv2.INTER_AREA)
    return image


def read_gray48(path: str | os.PathLike) -> np.ndarray:
    """One dataset image as a 48x48 uint8 array; a FerError naming the file if it cannot be read or decoded."""
    try:
        encoded = np.fromfile(str(path), dtype=np.uint8)  # np.fromfile + imdecode copes with non-ASCII paths
    except OSError as err:  # no permission, a folder named like an image, a vanished file
        raise FerError(f"{path}: cannot be read ({err.strerror or type(err).__name__})") from None
    return decode_gray48(encoded, str(path))


def _as_split(images: list, labels: list, files: list, skipped: list) -> FerSplit:
    """Lists gathered while reading -> a FerSplit (an empty split keeps the (0, 48, 48) shape)."""
    x = np.stack(images) if images else np.zeros((0, IMAGE_SIZE, IMAGE_SIZE), np.uint8)
    return FerSplit(x, np.asarray(labels, dtype=np.int64), files, skipped)


def _read_folder(folder: Path) -> FerSplit:
    images, labels, files, skipped = [], [], [], []
    class_dirs = sorted(p for p in folder.iterdir() if p.is_dir() and canonical_class(p.name))
    if not class_dirs:
        raise FerError(f"{folder}: no class folders (expected e.g. angry/, happy/ ...)")
    for class_dir in class_dirs:
        label = CLASS_NAMES.index(canonical_class(class_dir.name))
        for path in sorted(class_dir.iterdir()):
            if path.suffix.lower() not in IMAGE_SUFFIXES or not path.is_file():
                continue
            try:
                images.append(read_gray48(path))
            except FerError as err:
                skipped.append(str(err))
                continue
            labels.append(label)
            files.append(f"{class_dir.name}/{path.name}")
    return _as_split(images, labels, files, skipped)


def _read_csv(csv_path: Path, split: str) -> FerSplit:
    usage = CSV_USAGE[split]
    images, labels, files, skipped = [], [], [], []
    with open(csv_path, newline="") as handle:
        for row_number, row in enumerate(csv.DictReader(handle), start=2):
            if row.get("Usage", "").strip() != usage:
                continue
            try:
                pixels = np.asarray(row["pixels"].split(), dtype=np.uint8)
                label = CLASS_NAMES.index(CSV_CODES[int(row["emotion"])])
                images.append(pixels.reshape(IMAGE_SIZE, IMAGE_SIZE))
            except (KeyError, ValueError, OverflowError) as err:  # OverflowError: a pixel value outside 0..255
                skipped.append(f"{csv_path.name} line {row_number}: {type(err).__name__}: {err}")
                continue
            labels.append(label)
            files.append(f"{csv_path.name}:{row_number}")
    return _as_split(images, labels, files, skipped)


def _cache_path(source: Path, split: str) -> Path:
    from .course import REPO_ROOT  # not at the top: course imports this module
    cache_root = Path(os.environ.get("FER_CACHE", REPO_ROOT / ".cache"))
    stat = source.stat()
    stamps = [stat.st_size, stat.st_mtime_ns]
    if source.is_dir():
        # a folder's mtime changes when its entries change, not when a file in it is rewritten: count, size and
        # newest mtime of the files of each class folder (a stat per file: well under a second for FER2013)
        for class_dir in sorted(p for p in source.iterdir() if p.is_dir()):
            files = [entry.stat() for entry in os.scandir(class_dir) if entry.is_file()]
            stamps.append((class_dir.name, len(files), sum(f.st_size for f in files),
                           max((f.st_mtime_ns for f in files), default=0)))
    key = hashlib.sha1(f"{source.resolve()}|{split}|{stamps}|v2".encode()).hexdigest()[:16]
    return cache_root / f"fer_{split}_{key}.npz"


def load_split(root: str | os.PathLike, split: str = "train", cache: bool = True, verbose: bool = True) -> FerSplit:
    """Read one split of FER2013 from ``root`` (image folders or fer2013.csv) into a :class:`FerSplit`.

    Unreadable files are skipped and reported in one line each (first five), never fatal. Large splits are
    cached as .npz in ``.cache/`` (or ``FER_CACHE``) so the second read takes a second, not a minute.
    """
    root = Path(root)
    if not root.exists():
        raise FerError(f"{root}: no such folder (set FER_DATA, or see data/README.md for getting FER2013)")
    folder = split_folder(root, split) if root.is_dir() else None
    source = folder if folder is not None else _find_csv(root)
    if source is None:
        raise FerError(f"{root}: no '{split}' folder and no fer2013.csv (see data/README.md for the layouts)")
    cached = _cache_path(source, split) if cache else None
    if cached is not None and cached.exists():
        with np.load(cached, allow_pickle=False) as npz:
            result = FerSplit(npz["x"], npz["y"], [str(f) for f in npz["files"]], [str(s) for s in npz["skipped"]])
    else:
        result = _read_folder(source) if source.is_dir() else _read_csv(source, split)
        if cached is not None and len(result) > 1000:
            cached.parent.mkdir(parents=True, exist_ok=True)
            np.savez(cached, x=result.x, y=result.y, files=np.asarray(result.files),
                     skipped=np.asarray(result.skipped, dtype=str))
    if verbose and result.skipped:  # every read reports them, the cached ones too
        print(f"skipped {len(result.skipped)} unreadable file(s) in {split}:", file=sys.stderr)
        for line in result.skipped[:5]:
            print(f"  {line}", file=sys.stderr)
    return result


def class_counts(y: np.ndarray) -> dict[str, int]:
    """{'angry': 3995, ...} in CLASS_NAMES order."""
    counts = np.bincount(np.asarray(y), minlength=NUM_CLASSES)
    return {name: int(n) for name, n in zip(CLASS_NAMES, counts)}


def train_val_split(x: np.ndarray, y: np.ndarray, val_fraction: float = 0.1, seed: int = 42):
    """Carve a stratified, seeded validation split out of train: (x_train, x_val, y_train, y_val).

    Stratified so the 1.5% of disgust is 1.5% of both parts; seeded so every chapter gets the same split.
    """
    from sklearn.model_selection import train_test_split  # not at the top: see the note there
    counts = np.bincount(np.asarray(y, dtype=np.int64), minlength=NUM_CLASSES)
    lonely = [CLASS_NAMES[i] for i, n in enumerate(counts) if n == 1]
    if len(y) < 2 or lonely:
        raise FerError(f"cannot carve a stratified validation split from {len(y)} examples"
                       + (f": class {', '.join(lonely)} has 1 example (a class needs 2, or none)" if lonely else ""))
    try:
        return train_test_split(x, y, test_size=val_fraction, stratify=y, random_state=seed)
    except ValueError as err:  # e.g. fewer validation places than classes
        raise FerError(f"cannot carve a stratified validation split of {val_fraction:g} from {len(y)} examples "
                       f"({reason(err)})") from None


def per_class_subset(x: np.ndarray, y: np.ndarray, per_class: int, seed: int = 0):
    """At most ``per_class`` examples of each class, drawn at random (quick mode's small, balanced-ish subset)."""
    rng = np.random.default_rng(seed)
    keep = []
    for label in range(NUM_CLASSES):
        idx = np.flatnonzero(y == label)
        keep.extend(rng.choice(idx, size=min(per_class, len(idx)), replace=False))
    keep = np.sort(np.asarray(keep, dtype=np.int64))
    return x[keep], y[keep]


def pixel_hashes(x: np.ndarray) -> list[str]:
    """One hash per image of its decoded pixels: equal hashes = byte-identical images."""
    return [hashlib.blake2b(np.ascontiguousarray(img).tobytes(), digest_size=12).hexdigest() for img in x]


def duplicates_of(x_query: np.ndarray, x_reference: np.ndarray) -> np.ndarray:
    """Boolean mask over ``x_query``: True where the same pixels occur anywhere in ``x_reference``.

    FER2013 has this leak: a few hundred test images are byte-identical to training images, so a model that
    memorised them scores them for free. Report the test figure with and without them.
    """
    reference = set(pixel_hashes(x_reference))
    return np.asarray([h in reference for h in pixel_hashes(x_query)], dtype=bool)


def average_hash(x: np.ndarray, size: int = 16) -> np.ndarray:
    """A perceptual "average hash" per image: (N, size*size) bools, True where the shrunk image beats its mean.

    Shrinking to ``size`` x ``size`` (area average) keeps the layout of light and dark and forgets detail, JPEG noise
    and one-pixel shifts; comparing with the image's own mean forgets brightness. So two copies of one photo get
    hashes that differ in a few bits, unrelated faces in about half. The classic hash uses 8x8 (64 bits); on
    48x48 faces that is too coarse (different faces collide), 16x16 (256 bits) is the default here.
    """
    import cv2  # not at the top: see the note there
    x = np.asarray(x)
    if x.ndim == 4:
        x = x[..., 0]
    if len(x) == 0:
        return np.zeros((0, size * size), dtype=bool)
    small = np.stack([cv2.resize(np.ascontiguousarray(img, dtype=np.float32), (size, size),
                                 interpolation=cv2.INTER_AREA) for img in x]).reshape(len(x), -1)
    return small > small.mean(axis=1, keepdims=True)


def nearest_by_hash(x_query: np.ndarray, x_reference: np.ndarray | None = None, size: int = 16,
                    chunk: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """For each query image, the reference image with the closest average hash: (index, Hamming distance).

    With ``x_reference=None`` the query set is compared with itself, each image's own entry excluded (then
    ``index`` is -1 and ``distance`` size*size+1 for a set of one). The distance counts differing bits, computed
    for all pairs at once as a matrix product of the bit vectors, ``chunk`` queries at a time.
    """
    query = average_hash(x_query, size).astype(np.float32)
    reference = query if x_reference is None else average_hash(x_reference, size).astype(np.float32)
    bits = size * size
    index = np.full(len(query), -1, dtype=np.int64)
    distance = np.full(len(query), bits + 1, dtype=np.int64)
    if len(query) == 0 or len(reference) == 0:
        return index, distance
    ones_reference = reference.sum(axis=1)
    for start in range(0, len(query), chunk):
        block = query[start:start + chunk]
        # differing bits = ones(a) + ones(b) - 2 * common ones; exact in float32 for 0/1 vectors this short
        dist = block.sum(axis=1, keepdims=True) + ones_reference[None, :] - 2.0 * (block @ reference.T)
        if x_reference is None:
            rows = np.arange(len(block))
            dist[rows, start + rows] = np.inf
        best = dist.argmin(axis=1)
        best_distance = dist[np.arange(len(block)), best]
        found = np.isfinite(best_distance)
        index[start:start + chunk] = np.where(found, best, -1)
        distance[start:start + chunk] = np.where(found, np.rint(np.where(found, best_distance, 0)), bits + 1)
    return index, distance


def near_duplicates_of(x_query: np.ndarray, x_reference: np.ndarray, max_distance: int = 12,
                       size: int = 16) -> np.ndarray:
    """Boolean mask over ``x_query``: True where some reference image has an average hash at most
    ``max_distance`` bits away (the same photo re-cropped, recompressed or re-lit; exact copies included).

    12 of 256 bits is a cautious default for FER2013 (chapter 2 shows the pairs near it); raise it to catch more
    copies at the price of pairing look-alike faces that are different photos.
    """
    _, distance = nearest_by_hash(x_query, x_reference, size=size)
    return distance <= max_distance


def as_model_input(x: np.ndarray) -> np.ndarray:
    """(N, 48, 48) uint8 -> (N, 48, 48, 1) float32 in 0..255: the models rescale inside themselves."""
    x = np.asarray(x)
    if x.ndim == 3:
        x = x[..., None]
    return x.astype("float32")
