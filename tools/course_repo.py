"""The one place that names the course's public repository and branch.

Every link that points at the repository is derived from here: the Colab and Binder badges in the chapters'
title cells and the clone line in their setup cells (``tools/stamp_headers.py``), the same badges in the student
copies (``tools/make_student_copies.py``) and the book's launch and repository buttons (``tools/make_book.py``
writes ``book/_config.yml``). To move the course, change ``ORG``, ``REPO`` or ``REF`` here, then run

    python tools/stamp_headers.py && python tools/make_student_copies.py && python tools/make_book.py
"""
from __future__ import annotations

ORG = "fer-course"
REPO = "fer-course"
REF = "main"  # the branch (or tag) that badges, launch buttons and the clone line point at

URL = f"https://github.com/{ORG}/{REPO}"
CLONE_URL = f"{URL}.git"


def colab_url(path: str) -> str:
    """Colab link for a notebook at ``path`` relative to the repository root (e.g. 'notebooks/05_training.ipynb')."""
    return f"https://colab.research.google.com/github/{ORG}/{REPO}/blob/{REF}/{path}"


def binder_url(path: str) -> str:
    """Binder link that opens ``path`` (relative to the repository root) in JupyterLab."""
    return f"https://mybinder.org/v2/gh/{ORG}/{REPO}/{REF}?labpath={path.replace('/', '%2F')}"


def badge_lines(path: str) -> list[str]:
    """The two badge lines of a title cell, for the notebook at ``path`` relative to the repository root."""
    return [
        f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({colab_url(path)})",
        f"[![Binder](https://mybinder.org/badge_logo.svg)]({binder_url(path)})",
    ]


def clone_command() -> str:
    """The shell command of the setup cell's clone line (after its ``!``)."""
    return f"git clone --quiet --depth 1 --branch {REF} {CLONE_URL}"
