"""FER-style datasets -> one in-memory uint8 array, with the official splits recognised.

Reads the Kaggle image-folder layout (`<root>/<split>/<class>/<img>`, also nested `train/train/<class>`,
any case, synonyms), a split-less `<root>/<class>/<img>` folder, and the original `fer2013.csv`
(`emotion,pixels,Usage`). Split of each sample, first rule that applies:
  file-name prefix Training_/PublicTest_/PrivateTest_  >  folder name (train/val/test)  >  'unsplit'.
Canonical splits: train (Training), val (PublicTest), test (PrivateTest), unsplit.
Decoded images are cached as an .npz keyed by the file list (paths, sizes, mtimes).
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
import sys
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import EmolensError
from .images import is_image_name, load_rgb, rgb_to_gray, square_resize
from .labels import CLASSES, FER_CSV_CODES, INPUT_SIZE, class_index

SPLITS = ("train", "val", "test", "unsplit")
OFFICIAL = {"train": "Training", "val": "PublicTest", "test": "PrivateTest", "unsplit": "no official split"}
CACHE_VERSION = 2

_PREFIX = {"training": "train", "publictest": "val", "privatetest": "test"}
_FOLDER = {"train": "train", "training": "train", "val": "val", "valid": "val", "validation": "val",
           "publictest": "val", "test": "test", "testing": "test", "privatetest": "test"}


@dataclass
class Dataset:
    """All samples of one source: images (N,48,48) uint8, labels (N,) int64, split codes (N,) int8."""
    images: np.ndarray
    labels: np.ndarray
    splits: np.ndarray
    source: str
    names: list[str] = field(default_factory=list)

    def split(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        m = self.splits == SPLITS.index(name)
        return self.images[m], self.labels[m]

    def counts(self) -> dict[str, int]:
        return {s: int((self.splits == i).sum()) for i, s in enumerate(SPLITS) if (self.splits == i).any()}


# ----------------------------------------------------------------------------------------------- scanning

def _split_of_file(fname: str) -> str | None:
    head = fname.split("_", 1)[0].lower()
    return _PREFIX.get(head) if "_" in fname else None


def scan_folder(root: Path) -> list[tuple[str, int, str]]:
    """Return (relative path, class index, split) for every image under root; warn about foreign classes."""
    items: list[tuple[str, int, str]] = []
    skipped_classes: set[str] = set()

    def walk_class_dir(d: Path, cls: int, folder_split: str | None):
        for dirpath, _dirs, files in os.walk(d):
            for f in sorted(files):
                if is_image_name(f):
                    rel = os.path.relpath(os.path.join(dirpath, f), root)
                    items.append((rel, cls, _split_of_file(f) or folder_split or "unsplit"))

    def visit(d: Path, folder_split: str | None, depth: int):
        subdirs = sorted(p for p in d.iterdir() if p.is_dir() and not p.name.startswith("."))
        for sd in subdirs:
            cls = class_index(sd.name)
            if cls is not None:
                walk_class_dir(sd, cls, folder_split)
            elif sd.name.lower() in _FOLDER and depth < 3:
                # a split folder, possibly nested as train/train/<class>
                visit(sd, _FOLDER[sd.name.lower()], depth + 1)
            elif depth < 3 and any(is_image_name(p.name) for p in sd.iterdir() if p.is_file()):
                skipped_classes.add(sd.name)
            elif depth < 2:
                visit(sd, folder_split, depth + 1)

    visit(root, None, 0)
    if skipped_classes:
        warnings.warn(f"{root}: skipped folders that are not one of the seven classes: "
                      f"{', '.join(sorted(skipped_classes))}", stacklevel=2)
    return items


def _fingerprint(root: Path, items) -> str:
    h = hashlib.sha256(f"v{CACHE_VERSION}|{root.resolve()}".encode())
    for rel, cls, split in items:
        st = os.stat(root / rel)
        h.update(f"{rel}|{cls}|{split}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:20]


def cache_dir() -> Path:
    env = os.environ.get("EMOLENS_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "emolens"


def _decode_one(path: Path) -> np.ndarray | str:
    try:
        return square_resize(rgb_to_gray(load_rgb(path)), INPUT_SIZE)
    except EmolensError as e:
        return str(e)


def _load_folder(root: Path, use_cache: bool, progress: bool) -> Dataset:
    items = scan_folder(root)
    if not items:
        raise EmolensError(f"{root}: no images of the seven classes found "
                           f"(expected <root>/<split>/<class>/<image> or <root>/<class>/<image>)")
    key = _fingerprint(root, items)
    cpath = cache_dir() / f"{key}.npz"
    if use_cache and cpath.exists():
        try:
            with np.load(cpath, allow_pickle=False) as z:
                names = json.loads(str(z["names"]))
                return Dataset(z["images"], z["labels"], z["splits"], str(root), names)
        except Exception:  # a damaged cache is rebuilt, never fatal
            pass
    from tqdm import tqdm
    paths = [root / rel for rel, _, _ in items]
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as ex:
        decoded = list(tqdm(ex.map(_decode_one, paths, chunksize=256), total=len(paths), desc=f"decoding {root}",
                            unit="img", disable=not progress, file=sys.stderr))
    bad = [d for d in decoded if isinstance(d, str)]
    keep = [i for i, d in enumerate(decoded) if not isinstance(d, str)]
    if bad:
        shown = "; ".join(bad[:5]) + (f"; ... and {len(bad) - 5} more" if len(bad) > 5 else "")
        warnings.warn(f"skipped {len(bad)} unreadable image(s): {shown}", stacklevel=2)
    if not keep:
        raise EmolensError(f"{root}: none of the {len(items)} images could be read")
    images = np.stack([decoded[i] for i in keep]).astype(np.uint8)
    labels = np.array([items[i][1] for i in keep], dtype=np.int64)
    splits = np.array([SPLITS.index(items[i][2]) for i in keep], dtype=np.int8)
    names = [items[i][0] for i in keep]
    ds = Dataset(images, labels, splits, str(root), names)
    if use_cache:
        _save_cache(cpath, ds)
    return ds


def _save_cache(cpath: Path, ds: Dataset) -> None:
    try:
        cpath.parent.mkdir(parents=True, exist_ok=True)
        tmp = cpath.with_suffix(f".tmp{os.getpid()}.npz")
        np.savez(tmp, images=ds.images, labels=ds.labels, splits=ds.splits, names=json.dumps(ds.names))
        os.replace(tmp, cpath)
    except OSError as e:
        warnings.warn(f"could not write the dataset cache {cpath}: {e}", stacklevel=2)


def _load_csv(path: Path) -> Dataset:
    images, labels, splits, bad = [], [], [], []
    usage_map = {"training": "train", "publictest": "val", "privatetest": "test"}
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = [h.strip().lower() for h in next(reader, [])]
        if "pixels" not in header or "emotion" not in header:
            raise EmolensError(f"{path}: not a fer2013 CSV (need columns emotion,pixels[,Usage]; got {header})")
        ie, ip = header.index("emotion"), header.index("pixels")
        iu = header.index("usage") if "usage" in header else None
        for lineno, row in enumerate(reader, start=2):
            try:
                code = int(row[ie])
                px = np.array(row[ip].split(), dtype=np.int64)
                if code not in FER_CSV_CODES or px.size != INPUT_SIZE * INPUT_SIZE or px.min() < 0 or px.max() > 255:
                    raise ValueError
                split = usage_map.get(row[iu].strip().lower(), "unsplit") if iu is not None else "unsplit"
            except (ValueError, IndexError):
                bad.append(lineno)
                continue
            images.append(px.astype(np.uint8).reshape(INPUT_SIZE, INPUT_SIZE))
            labels.append(CLASSES.index(FER_CSV_CODES[code]))
            splits.append(SPLITS.index(split))
    if bad:
        shown = ", ".join(map(str, bad[:10])) + (" ..." if len(bad) > 10 else "")
        warnings.warn(f"{path}: skipped {len(bad)} malformed row(s) (lines {shown})", stacklevel=2)
    if not images:
        raise EmolensError(f"{path}: no valid rows")
    return Dataset(np.stack(images), np.array(labels, np.int64), np.array(splits, np.int8), str(path))


def load_dataset(path, use_cache: bool = True, progress: bool = True) -> Dataset:
    """Load a dataset folder or fer2013.csv; raise EmolensError with a one-line reason if it is unusable."""
    p = Path(path)
    if not p.exists():
        raise EmolensError(f"{p}: no such file or folder")
    if p.is_file():
        if p.suffix.lower() != ".csv":
            raise EmolensError(f"{p}: a dataset is a folder of class folders or a fer2013 .csv file")
        return _load_csv(p)
    if not any(p.iterdir()):
        raise EmolensError(f"{p}: folder is empty")
    csvs = sorted(p.glob("*.csv"))
    if csvs and not any(d.is_dir() for d in p.iterdir()):
        return _load_csv(csvs[0])
    return _load_folder(p, use_cache, progress)


def stratified_holdout(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Boolean mask picking `fraction` of each class (seeded): the validation set when the data has none."""
    rng = np.random.default_rng(seed)
    mask = np.zeros(len(labels), dtype=bool)
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        k = max(1, int(round(len(idx) * fraction))) if len(idx) > 1 else 0
        mask[rng.choice(idx, size=k, replace=False)] = True
    return mask


def train_val(ds: Dataset, val_fraction: float = 0.1, seed: int = 0):
    """(x_train, y_train, x_val, y_val, val_name): PublicTest if the data has it, else a seeded hold-out.

    The test split (PrivateTest) is never returned here, so it can never drive model selection.
    """
    tr = (ds.splits == SPLITS.index("train")) | (ds.splits == SPLITS.index("unsplit"))
    va = ds.splits == SPLITS.index("val")
    if va.any():
        return ds.images[tr], ds.labels[tr], ds.images[va], ds.labels[va], "val (PublicTest)"
    idx = np.flatnonzero(tr)
    if len(idx) < 2:
        raise EmolensError(f"{ds.source}: too few training images ({len(idx)})")
    hold = stratified_holdout(ds.labels[idx], val_fraction, seed)
    t, v = idx[~hold], idx[hold]
    return (ds.images[t], ds.labels[t], ds.images[v], ds.labels[v],
            f"val (seeded {val_fraction:.0%} stratified hold-out of train, seed {seed})")


def eval_split(ds: Dataset, split: str, allow_train: bool = False, val_fraction: float = 0.1, seed: int = 0):
    """Pick the images to evaluate on and a label saying what they are.

    'auto' = test if present, else val, else the whole split-less folder. 'val' on data without a PublicTest
    part reproduces the seeded hold-out that training used.
    """
    present = ds.counts()
    if split == "auto":
        split = next((s for s in ("test", "val", "unsplit") if s in present), "val")
    if split == "train" and not allow_train:
        raise EmolensError("evaluating on the training split needs --allow-train (and is labelled as such)")
    if split == "val" and "val" not in present:
        xt, yt, xv, yv, name = train_val(ds, val_fraction, seed)
        return xv, yv, name
    if split not in present:
        hint = " (PublicTest is the 'val' split: use --split val)" if split == "test" and "val" in present else ""
        raise EmolensError(f"{ds.source}: has no '{split}' split; it has: {', '.join(present)}{hint}")
    x, y = ds.split(split)
    name = f"{split} ({OFFICIAL[split]})"
    if split == "train":
        name += " - TRAINING DATA, not a measure of generalisation"
    return x, y, name
