"""fer_helpers: the code the course's notebooks would otherwise repeat.

Each module is taught in full in one chapter and imported by the later ones:
``course`` (every chapter's first cell), ``learn`` (ch. 1b), ``data`` (ch. 2), ``augment`` (ch. 3), ``models`` (ch. 4),
``train`` (ch. 5), ``evaluate`` and ``saliency`` (ch. 7), ``faces``, ``predict``, ``demo`` and ``video`` (ch. 8),
``recipes`` (ch. 9), ``export`` (ch. 10), ``scale`` (ch. 11), ``plots`` (all of them), and ``check`` (answers to the
exercises that have a checkable one). ``machine`` (backend and GPU probes, load, median timers) and ``isolated`` (a
function called in a fresh process) serve the measurements of chapters 10 and 11 and the tools.
"""
import os as _os

# TensorFlow prints C++ log lines at import time; they would end up in every saved notebook.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from .data import CLASS_NAMES, NUM_CLASSES
from .errors import FerError

__version__ = "0.1.0"
__all__ = ["CLASS_NAMES", "NUM_CLASSES", "FerError", "__version__"]
