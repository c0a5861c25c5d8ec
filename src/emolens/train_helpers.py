"""Small file helpers shared by train, evaluate and predict (no torch)."""
from __future__ import annotations

import os
from pathlib import Path

from .errors import EmolensError


def atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)


def new_run_dir(project: str, name: str) -> Path:
    root = Path(project)
    root.mkdir(parents=True, exist_ok=True)
    base = name or "exp"
    for i in range(1, 10_000):
        d = root / (base if i == 1 else f"{base}{i}")
        try:
            d.mkdir()
            return d
        except FileExistsError:
            continue
    raise EmolensError(f"{root}: no free run directory name")
