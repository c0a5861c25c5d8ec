"""Write, or check, the repository links in every chapter: the title cell's Colab, Kaggle and Binder badges and
the setup cell, from the repository and ref named in ``tools/course_repo.py``.

    python tools/stamp_headers.py            # rewrite notebooks/NN_*.ipynb and their .py twins where needed
    python tools/stamp_headers.py --check    # exit 1 and list the chapters whose links are not current
    python tools/stamp_headers.py --notebooks /tmp/copy/notebooks   # stamp a copy (to try a template change)

Both files of a jupytext pair are edited (the .ipynb through nbformat, its outputs kept; the .py as text), so the
pair stays in sync. Only these parts change; a file that is already current is not rewritten.

- title cell (the first cell): the badge lines ``[![Open In Colab](...)](...)``, ``[![Open In Kaggle](...)](...)``
  and ``[![Binder](...)](...)``; inserted after the ``# N. Title`` line when missing;
- setup cell (the first code cell that calls ``course.start(``): everything before ``from fer_helpers import
  course`` is written from :data:`SETUP_TEMPLATE` (the full-mode switch, the copy of
  ``fer_helpers.course.hosted_runtime``, the clone and its check); the lines from that import on are the chapter's.
"""
from __future__ import annotations

import argparse
import ast
import re
import sys
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
import course_repo

ROOT = Path(__file__).resolve().parent.parent
CHAPTER_GLOB = "[0-9][0-9]_*.ipynb"
_BADGE = re.compile(r"^\[!\[(Open In Colab|Open In Kaggle|Binder)\]")
#: The setup cell down to the import of fer_helpers. Placeholders: {clone_command}, {url}, {repo},
#: {hosted_runtime} (the function's source in fer_helpers/course.py, without its docstring).
SETUP_TEMPLATE = '''\
# Setup: the same cell opens every chapter. On Colab or Kaggle it fetches the course (a shallow clone: helpers
# and sample data) and adds only what the runtime lacks; everywhere it makes `fer_helpers` importable and prints
# what this run is: mode, data, host, hardware, versions.
import os
import subprocess
import sys

# Full mode (all of FER2013, real epochs; the table above says how long): uncomment the next line, then run.
# os.environ["FER_QUICK"] = "0"


# fer_helpers.course.hosted_runtime, copied: the package cannot be imported before it is fetched
{hosted_runtime}


if hosted_runtime() and not os.path.isdir("../fer_helpers"):
    if not os.path.isdir("{repo}/fer_helpers"):  # once per runtime
        clone = "{clone_command}"
        git = subprocess.run(clone.split(), capture_output=True, text=True, env={{**os.environ, "GIT_TERMINAL_PROMPT": "0"}})
        if git.returncode or not os.path.isdir("{repo}/fer_helpers"):  # one sentence instead of git's lines
            offline = any(word in git.stderr.lower() for word in ("resolve host", "connect", "timed out"))
            why = (("no network: turn Internet on in the notebook's settings (Kaggle asks for a verified phone)"
                    if hosted_runtime() == "kaggle" else "no network: check the runtime's connection, then rerun")
                   if offline else "it is private, missing, or not this course (README: 'Publish your own copy')")
            raise RuntimeError(f"could not fetch the course from {url}: {{why}}")
    os.chdir("{repo}/notebooks" if os.path.isdir("{repo}/notebooks") else "{repo}/students")
sys.path.insert(0, os.path.abspath(".."))  # the repository root: fer_helpers imports without installing
'''
_SETUP_END = "from fer_helpers import course"
COURSE_PY = ROOT / "fer_helpers" / "course.py"


def hosted_runtime_source(course_py: Path = COURSE_PY) -> str:
    """``hosted_runtime``'s source in fer_helpers/course.py, its docstring left out (read, not imported)."""
    text = course_py.read_text(encoding="utf-8")
    function = next(node for node in ast.parse(text).body
                    if isinstance(node, ast.FunctionDef) and node.name == "hosted_runtime")
    lines = text.split("\n")[function.lineno - 1:function.end_lineno]
    docstring = function.body[0]
    if isinstance(docstring, ast.Expr) and isinstance(docstring.value, ast.Constant):
        start, end = docstring.lineno - function.lineno, docstring.end_lineno - function.lineno
        lines = lines[:start] + lines[end + 1:]
    return "\n".join(lines)


def setup_head() -> str:
    """The setup cell's lines before ``from fer_helpers import course``, from the template and course_repo."""
    return SETUP_TEMPLATE.format(clone_command=course_repo.clone_command(),
                                 url=course_repo.repo_url(), repo=course_repo.REPO,
                                 hosted_runtime=hosted_runtime_source())


def stamp_title(source: str, repo_path: str) -> str:
    """The title cell's markdown with the two badge lines for ``repo_path`` (e.g. 'notebooks/05_training.ipynb')."""
    lines = source.split("\n")
    badges = course_repo.badge_lines(repo_path)
    where = [i for i, line in enumerate(lines) if _BADGE.match(line)]
    if where:
        kept = [line for i, line in enumerate(lines) if i not in where]
        at = where[0]
        return "\n".join(kept[:at] + badges + kept[at:])
    title = next((i for i, line in enumerate(lines) if line.startswith("# ")), 0)
    rest = lines[title + 1:]
    while rest and not rest[0].strip():
        rest = rest[1:]
    return "\n".join(lines[:title + 1] + [""] + badges + ([""] + rest if rest else []))


def stamp_setup(source: str) -> str:
    """The setup cell's code: the template down to ``from fer_helpers import course``, the chapter's lines after."""
    at = source.find(_SETUP_END)
    tail = source[at:] if at >= 0 else f"{_SETUP_END}\n\nsession = course.start()"
    return setup_head() + "\n" + tail


def _setup_index(cells) -> int | None:
    return next((i for i, c in enumerate(cells) if c.cell_type == "code" and "course.start(" in c.source), None)


def stamp_notebook(nb, repo_path: str) -> bool:
    """Stamp a notebook object in place; True if anything changed."""
    changed = False
    if nb.cells and nb.cells[0].cell_type == "markdown":
        new = stamp_title(nb.cells[0].source, repo_path)
        changed |= new != nb.cells[0].source
        nb.cells[0].source = new
    i = _setup_index(nb.cells)
    if i is not None:
        new = stamp_setup(nb.cells[i].source)
        changed |= new != nb.cells[i].source
        nb.cells[i].source = new
    return changed


def _py_cells(text: str) -> list[tuple[int, int]]:
    """(start, end) line ranges of the py:percent cells (the line '# %% ...' starts one)."""
    lines = text.split("\n")
    starts = [i for i, line in enumerate(lines) if line.startswith("# %%")]
    return list(zip(starts, starts[1:] + [len(lines)]))


def stamp_py(text: str, repo_path: str) -> str:
    """The same stamp applied to a py:percent twin: its first markdown cell and its setup cell."""
    lines = text.split("\n")
    cells = _py_cells(text)
    title = next(((s, e) for s, e in cells if lines[s].startswith("# %% [markdown]")), None)
    setup = next(((s, e) for s, e in cells if not lines[s].startswith("# %% [markdown]")
                  and any("course.start(" in line for line in lines[s:e])), None)
    if setup is not None:
        s, e = setup
        lines[s + 1:e] = stamp_setup("\n".join(lines[s + 1:e])).split("\n")
    if title is not None:
        s, e = title
        body = lines[s + 1:e]
        n = len(body)
        while n and not body[n - 1].strip():  # the blank separator lines before the next cell stay as they are
            n -= 1
        md = "\n".join(line[2:] if line.startswith("# ") else line[1:] for line in body[:n])
        stamped = [("# " + line) if line else "#" for line in stamp_title(md, repo_path).split("\n")]
        lines[s + 1:e] = stamped + body[n:]
    return "\n".join(lines)


def plan(notebook_dir: Path, repo_prefix: str | None = None) -> dict[Path, str]:
    """{file: new text} for every chapter file (.ipynb and its .py twin) whose stamp is not current."""
    prefix = repo_prefix if repo_prefix is not None else notebook_dir.name
    changes: dict[Path, str] = {}
    for path in sorted(notebook_dir.glob(CHAPTER_GLOB)):
        repo_path = f"{prefix}/{path.name}"
        nb = nbformat.read(path, as_version=4)
        if stamp_notebook(nb, repo_path):
            text = nbformat.writes(nb)
            changes[path] = text if text.endswith("\n") else text + "\n"
        twin = path.with_suffix(".py")
        if twin.exists():
            text = twin.read_text(encoding="utf-8")
            new = stamp_py(text, repo_path)
            if new != text:
                changes[twin] = new
    return changes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a stamp is not current")
    parser.add_argument("--notebooks", type=Path, default=ROOT / "notebooks", help="folder of NN_*.ipynb chapters")
    args = parser.parse_args(argv)
    changes = plan(args.notebooks)
    if args.check:
        if changes:
            print("repository links not current (run `python tools/stamp_headers.py`):", file=sys.stderr)
            for path in changes:
                print(f"  {path.parent.name}/{path.name}", file=sys.stderr)
            return 1
        print(f"stamps current: {course_repo.URL} @ {course_repo.REF}")
        return 0
    for path, text in changes.items():
        path.write_text(text, encoding="utf-8")
        print(f"stamped {path.parent.name}/{path.name}")
    if not changes:
        print("nothing to stamp")
    return 0


if __name__ == "__main__":
    sys.exit(main())
