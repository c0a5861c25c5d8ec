"""Deploying a trained model (chapter 10): export it, run it without Keras, check that it agrees, and time it.

- **Export.** :func:`export_all` writes a TensorFlow SavedModel, TFLite files (plain float32, and two quantised
  variants: dynamic-range int8 weights and float16 weights) and an ONNX file, and returns their paths. SavedModel
  and TFLite go through TensorFlow, so they need the TensorFlow backend; ONNX goes through tf2onnx under TensorFlow,
  through PyTorch's exporter under PyTorch, and needs ``jax2onnx`` (not installed by the course) under JAX.
- **Predictors.** One interface for every runtime: ``predictor.name`` and ``predictor.predict(x) -> (N, 7)``
  probabilities for faces ``x`` of shape (N, 48, 48) uint8 or (N, 48, 48, 1) float pixels in 0..255.
  :class:`KerasPredictor` (``predict``, ``predict_on_batch`` or a plain call), :class:`TFLitePredictor`,
  :class:`OnnxPredictor`; :func:`make_predictors` builds them all and skips, with one line each, the runtimes
  that are not installed. Each also has ``predict_on_batch``, so ``predict.predict_faces`` accepts it as a model.
- **Checks and timings.** :func:`compare_predictions` (largest probability difference and top-1 agreement with a
  reference, on :func:`comparison_faces`), :func:`time_throughput` (faces per second at a batch size),
  :func:`time_side_by_side` (every runtime timed in turn, call by call) and :func:`time_end_to_end` (one photo:
  read, detect, crop, classify). Every timing is a median over repeats, after warm-up calls that are not counted.
- **The table.** :func:`deploy_table` puts exports, checks and timings side by side. ``tools/benchmark_deploy.py``
  (the measurement harness, apart from this lesson) runs all of it in one call and writes the table as CSV and
  Markdown, with the ``fer`` package measured in the same run as a last row (``tools/benchmark_fer_package.py``,
  in its own virtualenv): chapter 10 shows that committed table.

TensorFlow, ONNX Runtime and tf2onnx are imported inside the functions that need them, so this module imports
without them; a missing one gives a one-line :class:`~fer_helpers.errors.FerError`.
"""
from __future__ import annotations

import contextlib
import os
import platform
import shutil
import time
import warnings
from importlib import metadata
from pathlib import Path

import numpy as np

from . import machine
from .data import as_model_input
from .errors import FerError, reason
from .evaluate import summary

#: What :func:`export_all` writes, in order: format name -> file or folder name.
FORMATS = {
    "saved_model": "saved_model",
    "tflite": "model.tflite",
    "tflite_dynamic": "model_dynamic_range.tflite",
    "tflite_float16": "model_float16.tflite",
    "onnx": "model.onnx",
}
_INSTALL = {"tensorflow": "pip install tensorflow-cpu==2.21.0", "onnxruntime": "pip install onnxruntime==1.32.0",
            "tf2onnx": "pip install tf2onnx==1.17.0 onnx==1.23.2"}


# -------------------------------------------------------------------------------------------------- helpers


def _require(module: str, what: str):
    """Import ``module`` or raise a one-line FerError saying what needs it and how to install it."""
    import importlib
    try:
        return importlib.import_module(module)
    except ImportError:
        raise FerError(f"{what} needs the {module} package ({_INSTALL.get(module, 'pip install ' + module)})") \
            from None


def require_onnx():
    """``onnx``, imported, or one FerError line. Besides a missing package, it names the one conflict hosted
    runtimes produce: an onnx whose generated code needs a newer protobuf than the one TensorFlow has already
    loaded into this kernel (installing onnx upgrades protobuf on disk, not in memory)."""
    try:
        import onnx
    except ImportError:
        raise FerError(f"ONNX export needs the onnx package ({_INSTALL['tf2onnx']})") from None
    except Exception as err:  # protobuf's VersionError, raised while onnx's generated modules load
        import google.protobuf
        raise FerError(f"onnx {metadata.version('onnx')} does not work with the protobuf "
                       f"{google.protobuf.__version__} this kernel has loaded ({reason(err, 80)}): restart the "
                       f"runtime and rerun the chapter, or install an onnx built for that protobuf") from None
    return onnx


def _require_tensorflow_backend(what: str) -> None:
    backend = machine.backend_name()
    if backend != "tensorflow":
        raise FerError(f"{what} goes through TensorFlow: it needs the TensorFlow backend (KERAS_BACKEND=tensorflow), "
                       f"not '{backend}'; ONNX export works from every backend")


def shown(path) -> str:
    """A path as the chapters print it, never a machine path (:func:`fer_helpers.course.shown_path`)."""
    from .course import shown_path
    return shown_path(path)


def size_mb(path) -> float:
    """Size of a file, or of everything in a folder, in megabytes (10^6 bytes)."""
    path = Path(path)
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files) / 1e6


def _output_folder(out_dir) -> Path:
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise FerError(f"{shown(out)}: is a file, not a folder for the exported models")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise FerError(f"{shown(out)}: cannot create the folder ({err.strerror or type(err).__name__})") from None
    return out


@contextlib.contextmanager
def _quiet_native_stderr():
    """Silence what C++ libraries write to the process's stderr (file descriptor 2) inside the block: the TFLite
    runtime announces 'INFO: Created TensorFlow Lite XNNPACK delegate for CPU.' there, past Python's logging and
    TF_CPP_MIN_LOG_LEVEL. Python's own sys.stderr is untouched; where descriptors cannot be swapped, does nothing."""
    try:
        saved = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
    except OSError:
        yield
        return
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _called(model) -> None:
    """Call the model once: Keras exports only models that have run (their input shapes are then known)."""
    # __call__, not predict(): predict() does not count under JAX
    model(np.zeros((1, *model.input_shape[1:]), "float32"), training=False)


# --------------------------------------------------------------------------------------------------- export


def export_saved_model(model, path) -> Path:
    """A TensorFlow SavedModel folder: the graph of the forward pass and the weights, loadable without the Python
    code that built the model (``tf.saved_model.load``, TF Serving, the TFLite converter). TensorFlow backend only."""
    _require_tensorflow_backend("SavedModel export")
    _called(model)
    path = Path(path)
    if path.exists():
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    model.export(str(path), format="tf_saved_model", verbose=False)
    return path


def export_tflite(saved_model, path, quantize: str | None = None) -> Path:
    """Convert a SavedModel folder to one TFLite file (a flat buffer of operators and weights for a small runtime).

    ``quantize``: None (float32 weights), ``'dynamic'`` (weights stored as int8, about 4 times smaller; activations
    stay float) or ``'float16'`` (weights stored as float16, half the size). Both change the predictions a little:
    measure how much (:func:`compare_predictions`) before shipping them.
    """
    saved_model = Path(saved_model)
    if not (saved_model / "saved_model.pb").exists():
        raise FerError(f"{shown(saved_model)}: not a SavedModel folder (no saved_model.pb)")
    if quantize not in (None, "dynamic", "float16"):
        raise FerError(f"unknown quantize '{quantize}' (None, 'dynamic' or 'float16')")
    tf = _require("tensorflow", "TFLite conversion")
    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model))
    if quantize:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantize == "float16":
        converter.target_spec.supported_types = [tf.float16]
    path = Path(path)
    path.write_bytes(converter.convert())
    return path


def export_onnx(model, path) -> Path:
    """An ONNX file: the forward pass as a graph of standard operators, for ONNX Runtime and many other engines.

    TensorFlow goes through tf2onnx and PyTorch through torch.onnx (both installed here); JAX needs jax2onnx, which
    the course does not pin (it brings some thirty packages): there this raises one line saying so.
    """
    require_onnx()
    # the converter Keras' own export calls
    converter = {"tensorflow": "tf2onnx", "jax": "jax2onnx"}.get(machine.backend_name())
    if converter:
        _require(converter, "ONNX export")
    _called(model)
    path = Path(path)
    try:
        with warnings.catch_warnings():  # tf2onnx's own FutureWarnings about NumPy 2 are not the reader's concern
            warnings.simplefilter("ignore", FutureWarning)
            model.export(str(path), format="onnx", verbose=False)
    except ImportError as err:
        raise FerError(f"ONNX export needs a package that is not installed ({err})") from None
    return path


def export_all(model, out_dir, formats=tuple(FORMATS), verbose: bool = True) -> dict[str, Path]:
    """Export ``model`` to every format in ``formats`` (see :data:`FORMATS`) inside ``out_dir``: {format: path}.

    A format that cannot be made here (another backend, a converter not installed) is skipped with one line
    (``verbose``), not a traceback; the others are still written.
    """
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise FerError(f"unknown export format(s) {', '.join(unknown)} (choose from {', '.join(FORMATS)})")
    out = _output_folder(out_dir)
    paths: dict[str, Path] = {}
    saved_model = out / FORMATS["saved_model"]
    for fmt in formats:
        try:
            if fmt == "saved_model" or (fmt.startswith("tflite") and "saved_model" not in paths):
                paths.setdefault("saved_model", export_saved_model(model, saved_model))
            if fmt.startswith("tflite"):
                quantize = {"tflite": None, "tflite_dynamic": "dynamic", "tflite_float16": "float16"}[fmt]
                paths[fmt] = export_tflite(saved_model, out / FORMATS[fmt], quantize)
            elif fmt == "onnx":
                paths[fmt] = export_onnx(model, out / FORMATS[fmt])
        except FerError as err:
            if verbose:
                print(f"skipped {fmt}: {err}")
    return {fmt: paths[fmt] for fmt in FORMATS if fmt in paths}


# ----------------------------------------------------------------------------------------------- predictors


class Predictor:
    """The common interface: ``name``, ``runtime``, ``predict(x) -> (N, 7) float32 probabilities``.

    ``x``: (N, 48, 48) uint8 faces or (N, 48, 48, 1) float pixels in 0..255 (the exported models rescale inside).
    """
    name = "predictor"
    runtime = ""

    def _predict(self, x: np.ndarray) -> np.ndarray:  # pragma: no cover - implemented by subclasses
        raise NotImplementedError

    def predict(self, x) -> np.ndarray:
        x = as_model_input(x)
        if x.ndim != 4 or x.shape[1:] != (48, 48, 1):
            raise FerError(f"{self.name}: expected faces of shape (N, 48, 48) or (N, 48, 48, 1), got {x.shape}")
        return np.asarray(self._predict(np.ascontiguousarray(x)), dtype=np.float32).reshape(len(x), -1)

    def predict_on_batch(self, x) -> np.ndarray:
        """The name Keras models use: lets ``predict.predict_faces`` take any predictor as its model."""
        return self.predict(x)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


class KerasPredictor(Predictor):
    """The Keras model itself, called one of three ways (``mode``):

    - ``'predict'``: ``model.predict(x, batch_size=len(x))``, made for big arrays: it builds a data pipeline and
      runs callbacks on every call, a fixed cost that dominates for one face;
    - ``'predict_on_batch'``: the compiled prediction function on one batch, without that machinery;
    - ``'call'``: ``model(x, training=False)``, the plain call (eager under TensorFlow: operation by operation).
    """
    runtime = "Keras"
    MODES = ("predict", "predict_on_batch", "call")

    def __init__(self, model, mode: str = "predict", name: str | None = None):
        if mode not in self.MODES:
            raise FerError(f"unknown Keras mode '{mode}' (choose from {', '.join(self.MODES)})")
        self.model, self.mode = model, mode
        self.name = name or f"keras {mode}"
        self.runtime = f"Keras {machine.keras_version()}"

    def _predict(self, x):
        if self.mode == "predict":
            return self.model.predict(x, batch_size=len(x), verbose=0)
        if self.mode == "predict_on_batch":
            return self.model.predict_on_batch(x)
        import keras
        return keras.ops.convert_to_numpy(self.model(x, training=False))


class TFLitePredictor(Predictor):
    """A TFLite file run by the TFLite interpreter (``ai_edge_litert`` if installed, the LiteRT runtime a device or
    server would use without TensorFlow; else ``tf.lite.Interpreter`` from TensorFlow), on ``threads`` threads.

    The interpreter has fixed tensor shapes: it is resized (and its memory planned again) when the batch size
    changes, so time it at one batch size at a time.
    """

    def __init__(self, path, threads: int | None = None, name: str | None = None):
        path = Path(path)
        if not path.is_file():
            raise FerError(f"{shown(path)}: no such TFLite file")
        self.path, self.threads = path, threads or os.cpu_count() or 1
        self.name = name or f"tflite ({path.stem})"
        try:
            from ai_edge_litert.interpreter import Interpreter
            self.runtime = "LiteRT (ai_edge_litert)"
        except ImportError:
            tf = _require("tensorflow", "the TFLite interpreter")
            Interpreter = tf.lite.Interpreter  # noqa: N806 - a class, named as in the branch above
            self.runtime = f"TFLite (tensorflow {tf.__version__})"
        try:
            with warnings.catch_warnings(), _quiet_native_stderr():
                # tf.lite says it moves to LiteRT (ai_edge_litert, tried first above, is not pinned)
                warnings.filterwarnings("ignore", message=r"\s*Warning: tf.lite.Interpreter is deprecated")
                self.interpreter = Interpreter(model_path=str(path), num_threads=self.threads)
                self.interpreter.allocate_tensors()
                self.interpreter.invoke()  # the first call creates the XNNPACK delegate, and says so
        except (ValueError, RuntimeError) as err:
            raise FerError(f"{shown(path)}: not a TFLite model ({reason(err, limit=80)})") from None
        self._input = self.interpreter.get_input_details()[0]["index"]
        self._output = self.interpreter.get_output_details()[0]["index"]
        self._shape = tuple(self.interpreter.get_input_details()[0]["shape"])

    def _predict(self, x):
        if x.shape != self._shape:
            self.interpreter.resize_tensor_input(self._input, list(x.shape))
            self.interpreter.allocate_tensors()
            self._shape = x.shape
        self.interpreter.set_tensor(self._input, x)
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self._output).copy()


class OnnxPredictor(Predictor):
    """An ONNX file run by ONNX Runtime on the CPU, with ``threads`` intra-op threads and full graph optimisation.

    ``spin``: ONNX Runtime's worker threads normally keep spinning (busy-waiting) for a moment after each call, to
    start the next one sooner. That is right when the model is all the machine does; on a small machine the
    spinning threads take the cores from whatever runs next (on 2 cores, the face detector of a photo took 68 ms
    instead of 38). Off here by default; ``spin=True`` gives ONNX Runtime's own default.
    """

    def __init__(self, path, threads: int | None = None, name: str | None = None, spin: bool = False):
        path = Path(path)
        if not path.is_file():
            raise FerError(f"{shown(path)}: no such ONNX file")
        ort = _require("onnxruntime", "running an ONNX model")
        self.path, self.threads = path, threads or os.cpu_count() or 1
        self.name = name or f"onnx ({path.stem})"
        self.runtime = f"ONNX Runtime {ort.__version__}"
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as err:  # onnxruntime raises its own exception types for broken files
            why = reason(err, limit=1000).replace(str(path), shown(path))[:100]
            raise FerError(f"{shown(path)}: not a loadable ONNX model ({why})") from None
        self._input = self.session.get_inputs()[0].name

    def _predict(self, x):
        return self.session.run(None, {self._input: x})[0]


def make_predictors(model=None, paths: dict | None = None, threads: int | None = None,
                    keras_modes=("predict", "predict_on_batch", "call"), verbose: bool = True) -> dict[str, Predictor]:
    """Predictors for the Keras model (one per mode in ``keras_modes``) and for every exported file in ``paths``
    (as returned by :func:`export_all`; the SavedModel folder is an intermediate and gets none): {name: predictor}.

    A runtime that is not installed is skipped with one line (``verbose``), not a traceback.
    """
    predictors: dict[str, Predictor] = {}
    if model is not None:
        for mode in keras_modes:
            predictors[f"keras {mode}"] = KerasPredictor(model, mode)
    for fmt, path in (paths or {}).items():
        if fmt == "saved_model":
            continue
        kind = TFLitePredictor if str(path).endswith(".tflite") else OnnxPredictor
        try:
            predictors[fmt] = kind(path, threads=threads, name=fmt)
        except FerError as err:
            if verbose:
                print(f"skipped {fmt}: {err}")
    return predictors


# ---------------------------------------------------------------------------------------- checks and timings


def compare_predictions(predictors: dict, x, y=None, reference: str | None = None, batch_size: int = 256):
    """Do the predictors agree with the ``reference`` one (default: the first) on faces ``x``? One row each:

    - ``max abs diff``: the largest difference of any of the seven probabilities, over all faces;
    - ``top-1 agreement``: the share of faces whose most probable emotion is the reference's;
    - ``accuracy`` and ``macro-F1`` (when labels ``y`` are given), so a quantised model's cost shows in the figures
      that matter, the rare classes included.

    Faces go through in batches of ``batch_size`` (thousands of faces at once would need gigabytes of activations).
    """
    import pandas as pd
    names = list(predictors)
    if not names:
        raise FerError("no predictors to compare")
    reference = reference or names[0]
    if reference not in predictors:
        raise FerError(f"unknown reference '{reference}' (choose from {', '.join(names)})")
    x = as_model_input(x)
    if len(x) == 0:
        raise FerError("compare_predictions needs at least one face")
    proba = {name: np.concatenate([p.predict(x[i:i + batch_size]) for i in range(0, len(x), batch_size)])
             for name, p in predictors.items()}
    ref = proba[reference]
    rows = []
    for name, p in proba.items():
        row = {"runtime": name, "max abs diff": float(np.abs(p - ref).max()),
               "top-1 agreement": float((p.argmax(1) == ref.argmax(1)).mean())}
        if y is not None:
            scores = summary(y, p)
            row["accuracy"], row["macro-F1"] = scores["accuracy"], scores["macro_f1"]
        rows.append(row)
    return pd.DataFrame(rows).set_index("runtime")


def time_throughput(predictor: Predictor, x, batch_size: int = 1, repeats: int = 10, warmup: int = 2) -> dict:
    """Faces per second of ``predictor.predict`` on batches of ``batch_size`` faces taken from ``x`` (repeated
    if ``x`` has fewer): the median time of ``repeats`` calls, after ``warmup`` calls that are not counted (the
    first calls build graphs, allocate memory, fill caches)."""
    x = as_model_input(x)
    if len(x) == 0:
        raise FerError("time_throughput needs at least one face")
    batch = np.ascontiguousarray(np.resize(x, (batch_size, *x.shape[1:])))
    seconds = machine.median_seconds(lambda: predictor.predict(batch), repeats, warmup)
    return {"runtime": predictor.name, "batch": batch_size, "ms per call": 1000 * seconds,
            "faces/s": batch_size / seconds}


def batched_repeats(repeats: int) -> int:
    """How many calls to time at a big batch when ``repeats`` are timed at batch 1: a tenth, at least 3 (a call
    with 64 faces takes as long as dozens with one, and varies less)."""
    return max(3, repeats // 10)


def time_side_by_side(predictors: dict, x, batch_sizes=(1, 64), repeats: int = 30, warmup: int = 2) -> list[dict]:
    """:func:`time_throughput` for every predictor and batch size, interleaved: each timed round calls every
    predictor once, so a change in the machine's load (another program starting or stopping) slows all runtimes
    alike, not just the one being timed at that moment. ``repeats`` rounds at batch 1, :func:`batched_repeats`
    at bigger batches (after at most one warm-up call). Returns one dict per (predictor, batch size), as
    :func:`time_throughput` does."""
    x = as_model_input(x)
    if len(x) == 0:
        raise FerError("time_side_by_side needs at least one face")
    results = []
    for batch_size in batch_sizes:
        batch = np.ascontiguousarray(np.resize(x, (batch_size, *x.shape[1:])))
        calls = {name: lambda p=predictor, b=batch: p.predict(b) for name, predictor in predictors.items()}
        medians = machine.median_rounds(calls, repeats if batch_size == 1 else batched_repeats(repeats),
                                        warmup if batch_size == 1 else min(warmup, 1))
        for name, median in medians.items():
            results.append({"runtime": name, "batch": batch_size, "ms per call": 1000 * median,
                            "faces/s": batch_size / median})
    return results


def time_end_to_end(predictor: Predictor, photo, detector="auto", repeats: int = 5, warmup: int = 1) -> dict:
    """Milliseconds for one photo file, from the file to the emotions: read it (``faces.read_image``), find the
    faces, cut the FER2013 crops, classify them in one batch. The median of ``repeats`` runs after ``warmup``
    runs, per step and in total (the total is the median of the runs' totals, not the sum of the medians)."""
    from .faces import fer_crop, make_detector, read_image, to_gray
    detector = make_detector(detector)
    read_image(photo)  # a bad path stops here, with its one-line FerError

    def once():
        steps = {}
        start = time.perf_counter()
        rgb = read_image(photo)
        steps["read"] = time.perf_counter()
        boxes = detector.detect(rgb)
        steps["detect"] = time.perf_counter()
        gray = to_gray(rgb)
        crops = np.stack([fer_crop(gray, box) for box in boxes]) if boxes else None
        steps["crop"] = time.perf_counter()
        if crops is not None:
            predictor.predict(crops)
        steps["classify"] = time.perf_counter()
        times, last = {}, start
        for step, stamp in steps.items():
            times[step], last = 1000 * (stamp - last), stamp
        times["total"] = 1000 * (last - start)
        return times, len(boxes), rgb.shape

    for _ in range(max(0, warmup)):
        once()
    runs = [once() for _ in range(max(1, repeats))]
    result = {"runtime": predictor.name, "photo": Path(photo).name, "pixels": f"{runs[0][2][1]} x {runs[0][2][0]}",
              "faces": runs[0][1], "detector": detector.name}
    for step in ("read", "detect", "crop", "classify", "total"):
        result[f"{step} ms"] = float(np.median([r[0][step] for r in runs]))
    return result


def thread_settings(threads: int | None = None) -> dict:
    """What the timings ran on: cores, CPU model, the threads each runtime was given, the load at the time."""
    threads = threads or os.cpu_count() or 1
    settings = {"hardware": machine.hardware(), "os.cpu_count()": os.cpu_count(), "python": platform.python_version()}
    if machine.backend_name() == "tensorflow":
        try:
            import tensorflow as tf
            intra = tf.config.threading.get_intra_op_parallelism_threads()
            settings["TensorFlow intra-op threads"] = intra or f"0 (TensorFlow's default: all {os.cpu_count()} cores)"
        except ImportError:  # pragma: no cover - the backend imports it
            pass
    settings["TFLite num_threads"] = threads
    settings["ONNX Runtime intra_op_num_threads"] = threads
    if machine.load_averages():
        settings["load average (1, 5, 15 min)"] = machine.load_averages()
    return settings


# ---------------------------------------------------------------------------------------------------- table


def deploy_table(paths: dict, comparison, throughput: list[dict], end_to_end: list[dict]):
    """One row per runtime: file size, agreement with Keras, accuracy and macro-F1, faces/s per batch size,
    end-to-end ms.

    ``paths`` from :func:`export_all`, ``comparison`` from :func:`compare_predictions`, ``throughput`` a list of
    :func:`time_throughput` results, ``end_to_end`` a list of :func:`time_end_to_end` results (one photo). Every
    row is measured here (``measured``: "here"); ``tools/benchmark_fer_package.merge_into_table`` adds the ``fer``
    package's row, measured in the same run.
    """
    table = comparison.copy()
    table.insert(0, "MB", [round(size_mb(paths[n]), 1) if n in paths else None for n in table.index])
    table.insert(0, "measured", "here")
    for result in throughput:
        table.loc[result["runtime"], f"faces/s, batch {result['batch']}"] = result["faces/s"]
    for result in end_to_end:
        table.loc[result["runtime"], f"ms end to end ({result['pixels']} photo)"] = result["total ms"]
    return table


def comparison_faces(root, max_faces: int | None = None, min_faces: int = 100, seed: int = 42):
    """Labelled faces to compare runtimes on: ``(x, y, description)``.

    The validation split (10% of train, stratified, ``seed`` 42: the model never trained on it), at most
    ``max_faces`` of it (a stratified draw). Where it has fewer than ``min_faces`` (the committed sample: 14), the
    whole training split is used instead: enough to show agreement, but its accuracy is no estimate (the model
    trained on most of those faces).
    """
    from sklearn.model_selection import train_test_split

    from .data import load_split, train_val_split
    train = load_split(root, "train", verbose=False)
    _, x_val, _, y_val = train_val_split(train.x, train.y, 0.1, seed=seed)
    if len(y_val) >= min_faces:
        x, y, what = x_val, y_val, "validation faces (10% of train, seed 42)"
    else:
        x, y, what = train.x, train.y, "training faces of the committed sample (accuracy: not an estimate)"
    if max_faces and len(y) > max_faces:  # a stratified draw: every class keeps its share
        x, _, y, _ = train_test_split(x, y, train_size=max_faces, stratify=y, random_state=0)
    return x, y, f"{len(y)} {what}"


__all__ = ["FORMATS",
           "export_saved_model", "export_tflite", "export_onnx", "export_all",
           "Predictor", "KerasPredictor", "TFLitePredictor", "OnnxPredictor", "make_predictors",
           "compare_predictions", "time_throughput", "time_side_by_side", "batched_repeats", "time_end_to_end",
           "thread_settings", "deploy_table", "comparison_faces", "shown", "size_mb"]
