"""Run one function in a fresh Python process and get its result back: for the measurements that need a process
started clean.

A Python process picks its Keras backend once, at the first ``import keras``; TensorFlow fixes its list of devices
when it first runs an operation; JAX reads ``XLA_FLAGS`` once, when it starts; the ``fer`` package of chapter 10's
benchmark lives in a virtualenv of its own. So chapter 11's backend, data-parallel and mixed-precision
measurements, and ``tools/benchmark_fer_package.py``, call their (ordinary, importable) functions through
:func:`run`::

    isolated.run("fer_helpers.scale:training_speed", env=isolated.keras_env("jax"), x=x, y=y, epochs=1)

The keyword arguments travel as JSON (numbers, strings, lists, dicts; paths as strings) and NumPy arrays (one
``.npz`` file); the function returns a dict that JSON can hold, which comes back with ``wall_s`` (the process's
seconds, imports included) added. A process that fails raises nothing here: its dict says ``status`` 'failed' (or
'timed out') and ``error``, one line on why.
"""
from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from .errors import reason

REPO_ROOT = Path(__file__).resolve().parent.parent


def keras_env(backend: str, *, cpu_devices: int = 1, hide_gpus: bool = True) -> dict[str, str]:
    """Environment variables for a process that runs Keras on ``backend``: ``hide_gpus`` hides every GPU from all
    three frameworks (the figure is then the CPU's); ``cpu_devices=N`` makes JAX show the CPU as N devices."""
    env = {"KERAS_BACKEND": backend}
    if hide_gpus:
        env.update(CUDA_VISIBLE_DEVICES="", JAX_PLATFORMS="cpu")
    if backend == "jax" and cpu_devices > 1:
        flags = [f for f in os.environ.get("XLA_FLAGS", "").split() if not f.startswith("--xla_force_host_platform")]
        env["XLA_FLAGS"] = " ".join(flags + [f"--xla_force_host_platform_device_count={cpu_devices}"])
    return env


def run(target: str, *, env: dict | None = None, python=None, path=(), timeout: float = 600, **kwargs) -> dict:
    """Call ``target`` ('package.module:function') with ``kwargs`` in a fresh process; return its dict.

    ``env``: variables added to this process's environment. ``python``: another interpreter (e.g. a virtualenv's);
    it sees only its own packages, the repository and ``path`` (this interpreter also keeps ``PYTHONPATH``).
    """
    arrays = {key: value for key, value in kwargs.items() if isinstance(value, np.ndarray)}
    plain = {key: str(value) if isinstance(value, os.PathLike) else value
             for key, value in kwargs.items() if key not in arrays}
    environment = {**os.environ, **(env or {})}
    environment.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    inherited = [] if python else [p for p in [os.environ.get("PYTHONPATH")] if p]
    environment["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), *map(str, path), *inherited])
    with tempfile.TemporaryDirectory(prefix="fer_isolated_") as tmp:
        folder = Path(tmp)
        (folder / "call.json").write_text(json.dumps({"target": target, "kwargs": plain}))
        np.savez(folder / "arrays.npz", **arrays)
        started = time.perf_counter()
        try:
            done = subprocess.run([str(python or sys.executable), "-m", "fer_helpers.isolated", str(folder)],
                                  env=environment, cwd=folder, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return {"status": "timed out", "error": f"no result within {timeout:g} s"}
        except OSError as err:
            return {"status": "failed", "error": f"cannot start {Path(python).name if python else 'python'} "
                                                 f"({err.strerror or type(err).__name__})"}
        wall = round(time.perf_counter() - started, 1)
        answer = folder / "result.json"
        if answer.exists():
            return {**json.loads(answer.read_text()), "wall_s": wall}
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    return {"status": "failed", "wall_s": wall,
            "error": lines[-1] if lines else f"exit status {done.returncode}, no result"}


def _plain(value):
    """What JSON cannot write by itself: NumPy numbers and arrays, paths."""
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    return str(value)


def main(folder: str) -> int:
    """In the fresh process: read the call from ``folder``, make it, write ``result.json`` there."""
    folder = Path(folder)
    call = json.loads((folder / "call.json").read_text())
    with np.load(folder / "arrays.npz", allow_pickle=False) as arrays:
        kwargs = {**call["kwargs"], **{key: arrays[key] for key in arrays.files}}
    module, name = call["target"].split(":")
    try:
        result, status = getattr(importlib.import_module(module), name)(**kwargs), 0
    except Exception as err:  # one line the caller can show: the traceback helps no reader of a table
        result, status = {"status": "failed", "error": f"{type(err).__name__}: {reason(err, 200)}"}, 3
    (folder / "result.json").write_text(json.dumps(result, default=_plain))
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
