"""The machine a measurement runs on, and how to time on it: one home for the small probes and timers that the
chapters (4, 10, 11), the model cards and the benchmark tools share.

- **Backends.** :data:`BACKENDS`, :func:`backend_installed` (found, not imported), :func:`backend_name` (this
  process's), :func:`backend_version` (its package's version), :func:`keras_version`.
- **Devices.** :func:`gpu_count` (``nvidia-smi``, no framework imported), :func:`gpu_names` (what the Keras backend
  sees), :func:`run_device` and :func:`hardware` (one phrase each).
- **Load.** :func:`load_average`, :func:`load_averages`, :data:`SHARED_LOAD` and :func:`cores_shared`: when
  another job shared the cores.
- **Timing.** :func:`timed_calls`, :func:`median_seconds`, :func:`median_rounds` (several calls timed in turn) and
  :func:`per_second`. Every timing of the course is a median after untimed warm-up calls: the first calls build
  graphs, allocate memory and fill caches, and one call slowed down by another program should not count.

Keras is imported inside the functions that need it: ``course`` imports this module before a notebook has chosen
its backend.
"""
from __future__ import annotations

import importlib
import importlib.util
import os
import platform
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np

#: The three Keras 3 backends, and the package each one needs.
BACKENDS = ("tensorflow", "jax", "torch")
BACKEND_PACKAGES = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}
#: A 1-minute load average above this many times the core count means other work shared the cores. Not 1: a
#: measurement's own threads count too (up to one per core while it times), so only a load well above it is others'.
SHARED_LOAD = 1.25


# --- backends ---------------------------------------------------------------------------------------------------

def backend_installed(backend: str) -> bool:
    """Whether the package behind a Keras backend can be imported here (found, not imported: that is slow)."""
    try:
        return importlib.util.find_spec(BACKEND_PACKAGES.get(backend, backend)) is not None
    except (ImportError, ValueError):
        return False


def backend_name() -> str:
    """The Keras backend of this process (imports Keras, which fixes it)."""
    import keras
    return keras.backend.backend()


def backend_version(backend: str | None = None) -> str:
    """The backend's package and its version, e.g. 'tensorflow 2.21.0' (default: this process's backend)."""
    backend = backend or backend_name()
    return f"{backend} {importlib.import_module(BACKEND_PACKAGES.get(backend, backend)).__version__}"


def keras_version() -> str:
    """Keras' own version and its backend, e.g. '3.15.1 (tensorflow)'."""
    import keras
    return f"{keras.__version__} ({keras.backend.backend()})"


# --- devices ----------------------------------------------------------------------------------------------------

def gpu_count() -> int:
    """NVIDIA GPUs on this machine, asked of ``nvidia-smi`` (0 without it): no deep-learning framework is imported."""
    if shutil.which("nvidia-smi") is None:
        return 0
    try:
        listing = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return 0
    return sum(line.startswith("GPU ") for line in listing.splitlines())


def gpu_names(backend: str | None = None) -> list[str]:
    """The GPUs the Keras backend of this process sees (empty on a CPU, or where the driver is broken)."""
    backend = backend or backend_name()
    try:
        if backend == "tensorflow":
            import tensorflow as tf
            return [d.name for d in tf.config.list_physical_devices("GPU")]
        if backend == "jax":
            import jax
            return [d.device_kind for d in jax.devices() if d.platform == "gpu"]
        if backend == "torch":
            import torch
            return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    except Exception:  # a broken GPU driver must not stop a CPU run
        pass
    return []


def run_device(backend: str | None = None) -> str:
    """Where the backend puts its arrays: 'cpu', or 'gpu (name)'."""
    gpus = gpu_names(backend)
    return f"gpu ({gpus[0]})" if gpus else "cpu"


def hardware() -> str:
    """One phrase for the compute at hand: GPUs the Keras backend sees, else the CPU and its core count."""
    gpus = gpu_names()
    if gpus:
        return f"{len(gpus)} GPU ({gpus[0]})"
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"CPU only ({os.cpu_count()} cores, {cpu})"


# --- load -------------------------------------------------------------------------------------------------------

def load_average() -> float | None:
    """The machine's load average over the last minute (runnable processes; above the core count = shared cores),
    or None where the system does not tell (Windows)."""
    return round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None


def load_averages() -> str | None:
    """The load averages over 1, 5 and 15 minutes as one text ('1.2, 0.9, 0.7'), or None where not told."""
    return ", ".join(f"{v:.1f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else None


def cores_shared(load: float | None = None, cores: int | None = None) -> bool:
    """Whether a 1-minute ``load`` (default: now) on ``cores`` cores (default: this machine's) is above
    :data:`SHARED_LOAD` per core: other work shared the CPU, and timings are slower than on an idle machine."""
    load = load_average() if load is None else load
    cores = cores or os.cpu_count() or 1
    return load is not None and load > SHARED_LOAD * cores


# --- timing -----------------------------------------------------------------------------------------------------

def timed_calls(function, repeats: int = 10, warmup: int = 0):
    """Call ``function()`` ``warmup`` times untimed, then ``repeats`` times (at least once) timed: its last
    result and the list of seconds."""
    for _ in range(max(0, warmup)):
        function()
    seconds, result = [], None
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        result = function()
        seconds.append(time.perf_counter() - start)
    return result, seconds


def median_seconds(function, repeats: int = 10, warmup: int = 0) -> float:
    """The median time of ``function()`` over ``repeats`` calls after ``warmup`` untimed ones, in seconds."""
    return float(np.median(timed_calls(function, repeats, warmup)[1]))


def median_rounds(calls: dict, rounds: int = 10, warmup: int = 0) -> dict[str, float]:
    """The median seconds of each of several ``calls`` ({name: function}), timed in turn: every round calls each
    once, so a change in the machine's load (another program starting or stopping) slows all of them alike, not
    just the one being timed at that moment. ``warmup`` untimed calls of each first."""
    for call in calls.values():
        for _ in range(max(0, warmup)):
            call()
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(max(1, rounds)):
        for name, call in calls.items():
            start = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - start)
    return {name: float(np.median(seconds)) for name, seconds in times.items()}


def per_second(count: int, seconds: list[float]) -> float:
    """``count`` items over the median of ``seconds`` (one time per pass or epoch), rounded to 0.1: one pass
    slowed down by another job on a shared machine does not count."""
    return round(count / float(np.median(seconds)), 1)
