"""Measure the ``fer`` PyPI package (25.10.3) on this machine, on the faces and the photo the course's deployment
benchmark uses, instead of quoting its speed: its classifier's faces/s (batch 1 and batched), its own
``detect_emotions`` end to end on ``data/photos/astronaut.jpg``, and its accuracy and macro-F1 on labelled faces.

    python tools/benchmark_fer_package.py                      # makes _build/fer-venv on first use (about 2 min)
    python tools/benchmark_fer_package.py --quick              # 140 faces, 10 repeats
    python tools/benchmark_fer_package.py --no-install         # use the virtualenv as it is; skip if it is missing
    python tools/benchmark_deploy.py --model seed              # calls this, and puts the row in deploy.md/.csv

Writes ``OUT`` (default ``_build/benchmark/fer_package.json``) and prints a summary. Where the package cannot be
installed or run here (no network, a broken virtualenv, ...) it prints one line, ``benchmark_fer_package: skipped:
<why>``, writes ``{"skipped": "<why>"}`` and exits 0, so that a caller shows a row saying *not measured: <why>*.
Bad input (a missing data folder or photo) is one line and exit status 2, as in ``benchmark_deploy.py``.

**Its own virtualenv.** ``pip install fer==25.10.3`` pulls a CUDA build of PyTorch (for its optional MTCNN
detector), OpenCV 5 (no Haar files: ``detect_emotions`` fails) and setuptools >= 81 (no ``pkg_resources``, which
``fer.fer`` imports). Its default path, a Haar detector and an int8-weight TFLite mini-Xception (64x64 input scaled
to [-1, 1]), needs only what ``fer/fer.py`` and ``fer/utils.py`` import at module level: TensorFlow, OpenCV 4,
NumPy, ``pkg_resources`` (setuptools < 81), requests and Pillow. So :data:`PINS` installs those, pinned to the
course's versions where the course has them, and ``fer`` with ``--no-deps``, into ``_build/fer-venv`` (git-ignored;
about 1.7 GB, TensorFlow being most of it), never into the course's environment. A second run reuses it.

**How it is timed.** A worker (this file's :func:`worker`, called through ``fer_helpers.isolated.run``) runs inside
that virtualenv: it builds ``FER()`` with
its defaults and times fer's own code. The classifier: ``FER._classify_emotions`` on faces already cut and scaled
(as the course's predictors get 48x48 faces), so resizing is not counted, for either. fer's interpreter is
``tf.lite.Interpreter`` with its default threads (fer passes none), and ``_classify_emotions`` feeds a batch one face
at a time: its "batch 64" column is that loop, what fer does with 64 faces. The same model in an interpreter
resized to the batch (not fer's code path) is timed beside it and reported in the JSON and in deploy.md. End to
end: the median of ``detect_emotions(path)`` runs (read, Haar, crop, classify) after one warm-up run. Every timing is
a median over rounds after warm-up calls, with the rule the course uses (``repeats`` rounds at batch 1, a tenth, at
least 3, batched). Given the course's TFLite files (``--tflite``), the worker times them in the same rounds, call
by call between fer's calls, so one ratio is free of the load changing between processes: the course's own rows are
timed in the course's process, then this worker runs, minutes apart at most, in the same run of
``benchmark_deploy.py``.

**Which faces it is scored on, and why.** fer's model is oarriaga/face_classification's mini-Xception, trained on
the first 80% of fer2013.csv without shuffling, which is exactly FER2013's Training split, and its checkpoint was
chosen on the last 20%, PublicTest + PrivateTest. So:

- on the course's *validation* faces (10% of Training) it is scored on faces it trained on: its accuracy there is
  no estimate, and this tool does not report it (the table leaves fer's validation columns empty);
- on the *test* split (PublicTest, the course's ``test/`` folder) it never trained, but its checkpoint was selected
  with those faces among others, so its figure is a little optimistic (a selection bias, not measured here).

It is scored on PublicTest, with that caveat printed beside the figure wherever it is shown; the course's model is
scored on the same test faces in the same run by ``benchmark_deploy.py``, so the two accuracies compare like for
like (the course's model was chosen on validation, so its test figure carries no such bias). The 48x48 faces are
upscaled to fer's 64x64 input with ``cv2.resize`` (what ``detect_emotions`` does with a crop) and scaled with fer's
own ``FER._FER__preprocess_input(x, v2=True)``: the input its model was trained on. fer's output order, angry,
disgust, fear, happy, sad, surprise, neutral, is mapped by name onto the course's (:func:`to_course_order`).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script, or imported inside fer's virtualenv by fer_helpers.isolated
    sys.path.insert(0, str(ROOT))

from fer_helpers import isolated, machine  # noqa: E402 - stdlib and NumPy only: they import in fer's virtualenv

FER_VERSION = "25.10.3"
#: What fer's default path imports, pinned (the course's versions where the course has them); fer itself goes in
#: with --no-deps. setuptools < 81 still ships pkg_resources; OpenCV < 5 still has CascadeClassifier and Haar files.
PINS = ("tensorflow-cpu==2.21.0", "keras==3.15.1", "h5py==3.14.0", "numpy==2.4.6",
        "opencv-python-headless==4.14.0.94", "setuptools==80.10.2", "requests==2.34.2", "pillow==13.0.0")
DEFAULT_VENV = ROOT / "_build" / "fer-venv"
MARKER = "fer-benchmark.json"  # in the virtualenv: the pins it was made with, the install time and size
#: fer's output order (``fer.fer.FER._get_labels()`` in 25.10.3); the worker reports the installed version's own.
FER_LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
ROW = f"fer {FER_VERSION} (Haar + int8 TFLite mini-Xception)"
TEST_SPLIT = "test (PublicTest)"
TEST_COLUMNS = (f"accuracy, {TEST_SPLIT}", f"macro-F1, {TEST_SPLIT}")
CAVEAT = ("fer's checkpoint was chosen on PublicTest + PrivateTest, so its test figure is a little optimistic; "
          "it trained on all of FER2013's Training split, where the validation faces come from, so it has no "
          "validation figures")


class SkipError(Exception):
    """fer cannot be measured here; the message says why, in one line."""


# ------------------------------------------------------------------------------- in the course's environment


def shown(path) -> str:
    """A path relative to the repository where it is inside it (no machine paths in what is printed)."""
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def to_course_order(proba, labels=FER_LABELS) -> np.ndarray:
    """fer's probabilities (N, 7), columns in fer's ``labels`` order, with the columns put in the course's order
    (``fer_helpers.data.CLASS_NAMES``: angry, disgust, fear, happy, neutral, sad, surprise), matched by name."""
    from fer_helpers.data import CLASS_NAMES
    labels = [str(name).lower() for name in labels]
    missing = [name for name in CLASS_NAMES if name not in labels]
    if missing or len(labels) != len(CLASS_NAMES):
        raise ValueError(f"fer's labels {labels} do not match the course's classes {list(CLASS_NAMES)}")
    proba = np.asarray(proba, dtype=np.float32)
    return proba[:, [labels.index(name) for name in CLASS_NAMES]]


def test_faces(root, max_faces: int | None = None):
    """The labelled faces fer is scored on, ``(x, y, description)``: the test split (PublicTest), at most
    ``max_faces`` of it (a stratified draw, as ``export.comparison_faces`` draws validation faces)."""
    from sklearn.model_selection import train_test_split

    from fer_helpers.data import load_split
    test = load_split(root, "test", verbose=False)
    x, y = test.x, test.y
    if max_faces and len(y) > max_faces:
        x, _, y, _ = train_test_split(x, y, train_size=max_faces, stratify=y, random_state=0)
    return x, y, f"{len(y)} {TEST_SPLIT} faces"


def venv_python(venv) -> Path:
    venv = Path(venv)
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _last_line(text: str, prefer: str = "") -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    chosen = [line for line in lines if prefer and line.startswith(prefer)] or lines or ["(no message)"]
    return chosen[-1].replace(str(ROOT) + os.sep, "")[:200]


def _folder_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink()) / 1e6


def ensure_venv(venv=DEFAULT_VENV, install: bool = True, log=print) -> dict:
    """The virtualenv's python and how it was made: ``{'python', 'install seconds', 'venv MB', 'reused'}``.

    Reuses ``venv`` when its marker says it was made with :data:`PINS`; else (``install``) creates it and installs
    the pins and ``fer`` (``--no-deps``). Raises :class:`SkipError` with one line when it cannot.
    """
    venv = Path(venv)
    python, marker = venv_python(venv), venv / MARKER
    wanted = {"fer": FER_VERSION, "pins": list(PINS)}
    if python.exists() and marker.exists():
        try:
            made = json.loads(marker.read_text())
        except (OSError, ValueError):
            made = {}
        if {k: made.get(k) for k in wanted} == wanted:
            return {"python": python, "install seconds": made.get("install seconds"),
                    "venv MB": made.get("venv MB"), "reused": True}
    if not install:
        why = "has no fer" if python.exists() else "does not exist"
        raise SkipError(f"the virtualenv {shown(venv)} {why} (run tools/benchmark_fer_package.py without --no-install "
                   f"to make it)")
    log(f"installing fer {FER_VERSION} and its pins into {shown(venv)} (once: about 2 minutes and 1.7 GB, most "
        f"of it TensorFlow; pip's output goes to {shown(venv / 'install.log')})")
    start = time.perf_counter()
    try:
        if not python.exists():
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True, text=True,
                           timeout=300)
    except (OSError, subprocess.SubprocessError) as err:
        detail = _last_line(err.stderr) if getattr(err, "stderr", None) else type(err).__name__
        raise SkipError(f"cannot create a virtualenv in {shown(venv)} ({detail})") from None
    pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "--timeout", "30", "--retries", "1"]
    with open(venv / "install.log", "w") as out:
        for command in (pip + list(PINS), pip + ["--no-deps", f"fer=={FER_VERSION}"]):
            out.write("$ " + " ".join(command[2:]) + "\n")
            out.flush()
            try:
                done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, timeout=1800)
            except (OSError, subprocess.SubprocessError) as err:
                raise SkipError(f"pip could not install fer {FER_VERSION} and its pins "
                                f"({type(err).__name__})") from None
            if done.returncode:
                why = _last_line((venv / "install.log").read_text(errors="replace"), prefer="ERROR")
                raise SkipError(f"pip could not install fer {FER_VERSION} and its pins (no network?): {why}")
    seconds = time.perf_counter() - start
    made = {**wanted, "install seconds": round(seconds, 1), "venv MB": round(_folder_mb(venv))}
    marker.write_text(json.dumps(made, indent=1) + "\n")
    return {"python": python, "install seconds": made["install seconds"], "venv MB": made["venv MB"],
            "reused": False}


def run_worker(python, request: dict, arrays: dict, timeout: float = 1800) -> dict:
    """Run this file's :func:`worker` under ``python`` (fer's virtualenv, which sees only its own packages and the
    repository) with ``request`` and ``arrays`` as its arguments; return its dict. A worker that fails raises
    :class:`SkipError` with one line on why."""
    result = isolated.run("benchmark_fer_package:worker", python=python, path=[ROOT / "tools"], timeout=timeout,
                          env={"PYTHONNOUSERSITE": "1"}, **request, **arrays)
    if result.get("status") == "timed out":
        raise SkipError(f"the fer worker did not finish in {timeout:.0f} s")
    if result.get("status") == "failed":
        raise SkipError(f"fer does not run in its virtualenv: {result['error']}")
    result.pop("wall_s")
    return result


def measure(x_time, x_test=None, y_test=None, photo=ROOT / "data" / "photos" / "astronaut.jpg", repeats: int = 30,
            batch_sizes=(1, 64), venv=DEFAULT_VENV, install: bool = True, references: dict | None = None,
            threads: int | None = None, log=print) -> dict:
    """fer's figures as a dict (see the module's docstring), or ``{'row': ROW, 'skipped': why}``; never raises for
    an environment that cannot run fer (it prints one line saying so, through ``log``).

    ``x_time``: faces (N, 48, 48) uint8 the classifier is timed on (the course's comparison faces); ``x_test``,
    ``y_test``: labelled faces it is scored on (the test split); ``references``: {name: TFLite file} of the course,
    timed in the same rounds; ``threads``: theirs (fer's own interpreter keeps its default).
    """
    start = time.perf_counter()
    try:
        made = ensure_venv(venv, install, log)
        request = {"photo": str(Path(photo).resolve()), "repeats": int(repeats), "batch_sizes": list(batch_sizes),
                   "references": {name: str(Path(p).resolve()) for name, p in (references or {}).items()},
                   "threads": int(threads or os.cpu_count() or 1)}
        arrays = {"x_time": np.asarray(x_time, dtype=np.uint8)}
        if x_test is not None:
            arrays["x_test"] = np.asarray(x_test, dtype=np.uint8)
        result = run_worker(made["python"], request, arrays)
    except SkipError as why:
        log(f"benchmark_fer_package: skipped: {why}")
        return {"row": ROW, "skipped": str(why)}
    result.update(row=ROW, skipped=None, venv=shown(venv), reused=made["reused"],
                  **{"install seconds": made["install seconds"], "venv MB": made["venv MB"]})
    proba = result.pop("proba_test", None)
    try:
        proba = to_course_order(proba, result["labels"]) if proba is not None and y_test is not None else None
    except ValueError as why:  # a fer with other classes: its speed stands, its accuracy cannot be scored
        log(f"benchmark_fer_package: not scored: {why}")
        proba = None
    if proba is not None:
        from fer_helpers.evaluate import summary
        scores = summary(np.asarray(y_test), proba)
        result["test"] = {"split": TEST_SPLIT, "faces": int(len(y_test)), "accuracy": scores["accuracy"],
                          "macro_f1": scores["macro_f1"], "caveat": CAVEAT}
    result["seconds"] = round(time.perf_counter() - start, 1)
    return result


def speed(result: dict, runtime: str = "fer", batch: int = 1) -> float | None:
    """faces/s of ``runtime`` at ``batch`` in a :func:`measure` result (None when not there)."""
    for t in result.get("throughput", []):
        if t["runtime"] == runtime and t["batch"] == batch:
            return t["faces/s"]
    return None


def merge_into_table(table, result: dict, reference_scores: dict | None = None, reference: str | None = None):
    """The deploy table (``export.deploy_table``) with fer's row added from a :func:`measure` result: its model
    file's size, faces/s at the batch sizes timed (fer's own code path), ms end to end, and test accuracy and
    macro-F1 in two columns of their own (:data:`TEST_COLUMNS`), where ``reference_scores`` (``evaluate.summary``
    of the course's model on the same test faces) fills the ``reference`` row (default: the first). fer's
    validation columns (agreement with Keras, accuracy, macro-F1) stay empty: another model, trained on those faces.
    A skipped result gives a row saying 'not measured: <why>'."""
    table = table.copy()
    test = result.get("test") if not result.get("skipped") else None
    if test or reference_scores:
        at = list(table.columns).index("macro-F1") + 1 if "macro-F1" in table.columns else len(table.columns)
        for offset, column in enumerate(TEST_COLUMNS):
            if column not in table.columns:
                table.insert(at + offset, column, np.nan)
    if reference_scores:
        name = reference or table.index[0]
        table.loc[name, list(TEST_COLUMNS)] = [reference_scores["accuracy"], reference_scores["macro_f1"]]
    row = {column: None for column in table.columns}
    if result.get("skipped"):
        row["measured"] = f"not measured: {result['skipped']}"
    else:
        row["measured"] = "here, in its own virtualenv"
        row["MB"] = round(result["classifier"]["MB"], 1)
        for t in result["throughput"]:
            if t["runtime"] == "fer":
                row[f"faces/s, batch {t['batch']}"] = t["faces/s"]
        e2e = result["end_to_end"]
        row[f"ms end to end ({e2e['pixels']} photo)"] = e2e["total ms"]
        if test:
            row[TEST_COLUMNS[0]], row[TEST_COLUMNS[1]] = test["accuracy"], test["macro_f1"]
    for column, value in row.items():
        table.loc[ROW, column] = value
    return table


def markdown_notes(result: dict) -> list[str]:
    """Lines for deploy.md that say how fer's row was measured, and what its figures mean."""
    if result.get("skipped"):
        return [f"- `fer` {FER_VERSION}: not measured: {result['skipped']}"]
    v, e2e, clf = result["versions"], result["end_to_end"], result["classifier"]
    lines = [f"- `fer` {FER_VERSION}: measured in this run, in its own virtualenv (`{result['venv']}`: TensorFlow "
             f"{v['tensorflow']}, OpenCV {v['cv2']}, NumPy {v['numpy']}), right after the course's rows; its "
             f"classifier (`{clf['file']}`, {clf['MB']:.2f} MB) in fer's own `tf.lite.Interpreter` "
             f"({clf['threads']}); its batch columns are fer's `_classify_emotions`, which feeds a batch one face "
             f"at a time"]
    resized = [t for t in result["throughput"] if t["runtime"] == "fer, interpreter resized"]
    if resized:
        lines.append("- the same fer model in an interpreter resized to the batch (not fer's code path): "
                     + ", ".join(f"{t['faces/s']:,.0f} faces/s at batch {t['batch']}" for t in resized))
    refs = sorted({t["runtime"] for t in result["throughput"]} - {"fer", "fer, interpreter resized"})
    if refs:
        pairs = [f"{name} {speed(result, name):,.0f}" for name in refs if speed(result, name)]
        lines.append(f"- timed call by call in the same rounds inside fer's worker (the same load for both), faces/s "
                     f"at batch 1: fer {speed(result):,.0f}, " + ", ".join(pairs))
    lines.append(f"- fer end to end: `detect_emotions` on `{e2e['photo']}` ({e2e['faces']} face(s) found by its "
                 f"Haar detector; detection alone {e2e['detect ms']:.0f} ms), median of {e2e['runs']} runs")
    if result.get("test"):
        t = result["test"]
        lines.append(f"- columns `{TEST_COLUMNS[0]}` and `{TEST_COLUMNS[1]}`: fer and the course's model (first "
                     f"row; its exports agree with it, see top-1 agreement) on the same {t['faces']} test faces. "
                     f"Caveat: {CAVEAT}")
    return lines


# ---------------------------------------------------------------------------------- inside fer's virtualenv


def worker(photo: str, repeats: int, batch_sizes: list, references: dict, threads: int, x_time: np.ndarray,
           x_test: np.ndarray | None = None) -> dict:
    """Runs under fer's virtualenv: load fer, time it on faces ``x_time`` (with the course's TFLite files
    ``references`` in the same rounds), time ``photo`` end to end, classify ``x_test``: a dict."""
    import warnings
    # fer's imports: pkg_resources says it is deprecated, tf.lite.Interpreter that it moves to LiteRT
    warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
    warnings.filterwarnings("ignore", message=r"\s*Warning: tf.lite.Interpreter is deprecated")
    start = time.perf_counter()
    import cv2
    import fer  # first: a virtualenv without it fails here, in a second
    import tensorflow as tf
    try:
        from fer import FER
    except ImportError:  # 25.10.3's fer/__init__.py does not export it
        from fer.fer import FER
    import_seconds = time.perf_counter() - start
    detector = FER()  # its defaults: Haar cascade, use_tflite=True (the int8-weight mini-Xception)
    labels = [detector._get_labels()[i] for i in range(len(detector._get_labels()))]
    size = detector._FER__emotion_target_size
    classify = detector._classify_emotions

    def prepare(faces):  # what detect_emotions does with a crop: cv2.resize to 64x64, then fer's own scaling
        resized = np.stack([cv2.resize(face, size) for face in faces])
        return FER._FER__preprocess_input(resized, v2=True)

    model_file = Path(fer.__file__).parent / "data" / "emotion_model_quantized.tflite"
    references = {name: tf.lite.Interpreter(model_path=path, num_threads=threads)
                  for name, path in references.items()}
    throughput = []
    for batch in batch_sizes:
        faces = np.resize(x_time, (batch, *x_time.shape[1:]))
        ours = prepare(faces)
        calls = {"fer": lambda ours=ours: classify(ours)}
        if batch > 1:  # fer's own model, all faces in one call: possible, but not what fer does
            resized = tf.lite.Interpreter(model_path=str(model_file))
            resized.resize_tensor_input(resized.get_input_details()[0]["index"], [batch, *size, 1])
            resized.allocate_tensors()
            calls["fer, interpreter resized"] = lambda it=resized, x=ours[..., None]: _invoke(it, x)
        for name, interpreter in references.items():
            shape = [batch, 48, 48, 1]
            interpreter.resize_tensor_input(interpreter.get_input_details()[0]["index"], shape)
            interpreter.allocate_tensors()
            calls[name] = lambda it=interpreter, x=faces[..., None].astype(np.float32): _invoke(it, x)  # noqa: B008 - bound once, here
        rounds = repeats if batch == 1 else max(3, repeats // 10)
        for name, seconds in machine.median_rounds(calls, rounds, 2 if batch == 1 else 1).items():
            throughput.append({"runtime": name, "batch": batch, "ms per call": 1000 * seconds,
                               "faces/s": batch / seconds})

    image = cv2.imread(photo)
    runs = max(3, repeats // 5)  # the course's end_to_end_repeats
    found = detector.detect_emotions(photo)  # the warm-up run
    e2e = machine.median_rounds({"total": lambda: detector.detect_emotions(photo),
                          "detect": lambda: detector.find_faces(image)}, runs, 0)
    result = {
        "versions": {"fer": fer.__version__, "tensorflow": tf.__version__, "cv2": cv2.__version__,
                     "numpy": np.__version__, "python": sys.version.split()[0]},
        "labels": labels, "import seconds": round(import_seconds, 1),
        "classifier": {"file": "fer/data/emotion_model_quantized.tflite", "MB": model_file.stat().st_size / 1e6,
                       "input": [1, *size, 1], "threads": "TFLite's default threads: fer passes none"},
        "throughput": throughput,
        "end_to_end": {"photo": Path(photo).name, "pixels": f"{image.shape[1]} x {image.shape[0]}",
                       "faces": len(found), "runs": runs, "total ms": 1000 * e2e["total"],
                       "detect ms": 1000 * e2e["detect"],
                       "top emotion": max(found[0]["emotions"], key=found[0]["emotions"].get) if found else None},
        "load average": machine.load_averages(),
    }
    if x_test is not None:
        result["proba_test"] = np.concatenate([classify(prepare(x_test[i:i + 256]))
                                               for i in range(0, len(x_test), 256)]).tolist()
    return result


def _invoke(interpreter, x):
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


# -------------------------------------------------------------------------------------------------- the tool


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--venv", default=str(DEFAULT_VENV), help="fer's virtualenv (default: _build/fer-venv)")
    parser.add_argument("--no-install", action="store_true",
                        help="never create or install: use the virtualenv as it is, or skip in one line")
    parser.add_argument("--out", default=str(ROOT / "_build" / "benchmark" / "fer_package.json"),
                        help="the JSON written (default: _build/benchmark/fer_package.json)")
    parser.add_argument("--data", default=None, help="FER2013 folder (default: as the course)")
    parser.add_argument("--faces", type=int, default=None,
                        help="at most this many test faces scored (default: all of PublicTest, quick 140)")
    parser.add_argument("--photo", default=str(ROOT / "data" / "photos" / "astronaut.jpg"),
                        help="the photo timed end to end (default: data/photos/astronaut.jpg, 512 x 512)")
    parser.add_argument("--repeats", type=int, default=None, help="timed calls at batch 1 (default 100, quick 10)")
    parser.add_argument("--batch", type=int, default=64, help="the batched size timed beside batch 1 (default 64)")
    parser.add_argument("--tflite", action="append", default=[], metavar="FILE",
                        help="a course TFLite file timed in the same rounds as fer (may be repeated)")
    parser.add_argument("--quick", action="store_true", help="few faces and few repeats: a smoke run")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    from fer_helpers import course, export
    from fer_helpers.errors import FerError
    repeats = args.repeats or (10 if args.quick else 100)
    max_faces = args.faces or (140 if args.quick else None)
    try:
        from fer_helpers.faces import read_image
        read_image(args.photo)
        for path in args.tflite:
            if not Path(path).is_file():
                raise FerError(f"{path}: no such TFLite file")
        root = Path(args.data) if args.data else course.data_dir()[0]
        x_time, _, timed_on = export.comparison_faces(root, max_faces)
        x_test, y_test, scored_on = test_faces(root, max_faces)
    except FerError as err:
        print(f"benchmark_fer_package: {err}", file=sys.stderr)
        return 2
    result = measure(x_time, x_test, y_test, args.photo, repeats, (1, args.batch), args.venv, not args.no_install,
                     {Path(p).name: p for p in args.tflite})
    result.update(timed_on=timed_on, scored_on=scored_on)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    if not result["skipped"]:
        t, e2e = result.get("test", {}), result["end_to_end"]
        speeds = ", ".join(f"{t_['faces/s']:,.0f} at batch {t_['batch']}" for t_ in result["throughput"]
                           if t_["runtime"] == "fer")
        print(f"fer {result['versions']['fer']}: faces/s {speeds}; {e2e['total ms']:.0f} ms end to end on "
              f"{e2e['photo']} ({e2e['faces']} face(s), {e2e['top emotion']}); {TEST_SPLIT} on {t.get('faces')} "
              f"faces: accuracy {t.get('accuracy', float('nan')):.2%}, macro-F1 {t.get('macro_f1', float('nan')):.3f}")
        print(f"  caveat: {CAVEAT}")
        print(f"  virtualenv {result['venv']} ({'reused' if result['reused'] else 'made now'}: "
              f"{result['venv MB']} MB, installed in {result['install seconds']} s); "
              f"load average {result['load average']}")
    print(f"wrote {shown(out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
