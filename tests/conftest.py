"""Synthetic FER-style data: no dataset images ever live in the repository."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

os.environ.setdefault("OMP_NUM_THREADS", "1")

from emolens.labels import CLASSES  # noqa: E402


def easy_face(cls: int, rng: np.random.Generator) -> np.ndarray:
    """An 'easy' 48x48 image: horizontal grating whose frequency encodes the class (flip/shift invariant)."""
    y = np.arange(48)[:, None]
    phase = rng.uniform(0, 2 * np.pi)
    img = 128 + 90 * np.sin(2 * np.pi * (cls + 1) * y / 48 + phase) + rng.normal(0, 12, (48, 48))
    return np.clip(img, 0, 255).astype(np.uint8).repeat(1, axis=1)


def make_folder_dataset(root: Path, n_train: int = 40, n_val: int = 10, seed: int = 0, nested: bool = False,
                        names=None, ext: str = ".png") -> Path:
    rng = np.random.default_rng(seed)
    names = names or list(CLASSES)
    for split, prefix, n in (("train", "Training", n_train), ("test", "PublicTest", n_val)):
        base = root / split / split if nested else root / split
        for k, cname in enumerate(names):
            d = base / cname
            d.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                Image.fromarray(easy_face(k, rng)).save(d / f"{prefix}_{k * 1000 + i}{ext}")
    return root


def make_csv(path: Path, n: int = 5, seed: int = 0, bad_rows: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    codes = {"angry": 0, "disgust": 1, "fear": 2, "happy": 3, "sad": 4, "surprise": 5, "neutral": 6}
    lines = ["emotion,pixels,Usage"]
    for usage in ("Training", "PublicTest", "PrivateTest"):
        for k, c in enumerate(CLASSES):
            for _ in range(n):
                px = " ".join(map(str, easy_face(k, rng).ravel()))
                lines.append(f"{codes[c]},{px},{usage}")
    for _ in range(bad_rows):
        lines.append("3,1 2 3,Training")
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("EMOLENS_CACHE", str(tmp_path / "cache"))


@pytest.fixture
def easy_data(tmp_path):
    return make_folder_dataset(tmp_path / "fer")


@pytest.fixture(scope="session")
def astronaut():
    from skimage import data
    return data.astronaut()


def write_video(path: Path, rgb: np.ndarray, frames: int, fourcc: str = "MJPG", fps: int = 10, step: int = 3) -> Path:
    """A synthetic clip: `rgb` resized to 320x320 and sliding right by `step` px per frame."""
    import cv2
    small = cv2.resize(rgb, (320, 320))
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (320, 320))
    for i in range(frames):
        w.write(np.ascontiguousarray(np.roll(small, i * step, axis=1)[..., ::-1]))
    w.release()
    return path
