"""Small file helpers shared by train, evaluate and predict (no torch)."""
from __future__ import annotations

import os
from pathlib import Path

from .errors import EmolensError


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Temp file + rename: a crash or a full disk never leaves a half-written output behind."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def writable_file(path) -> Path:
    """Check an output file's place *before* the work that fills it, so a typo in --json does not cost a whole
    batch: refuses folders and places that cannot be created or written, in one line."""
    path = Path(path)
    if path.is_dir():
        raise EmolensError(f"{path}: is a folder, not a file to write")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise EmolensError(f"{path}: cannot create its folder ({e.strerror or e})") from None
    _probe(path.parent, path)
    return path


def writable_dir(path) -> Path:
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise EmolensError(f"{path}: exists and is not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise EmolensError(f"{path}: cannot create this folder ({e.strerror or e})") from None
    _probe(path, path)
    return path


def _probe(folder: Path, named: Path) -> None:
    """Create and remove a file in `folder`: the only test that holds for root, read-only mounts and /proc."""
    import tempfile
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".emolens-probe"):
            pass
    except OSError as e:
        raise EmolensError(f"{named}: cannot write there ({e.strerror or e})") from None


def new_run_dir(project: str, name: str) -> Path:
    root = writable_dir(project)
    base = name or "exp"
    for i in range(1, 10_000):
        d = root / (base if i == 1 else f"{base}{i}")
        try:
            d.mkdir()
            return d
        except FileExistsError:
            continue
    raise EmolensError(f"{root}: no free run directory name")
