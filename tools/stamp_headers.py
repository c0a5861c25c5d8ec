"""Write, or check, the repository links in every chapter: the title cell's Colab and Binder badges and the
setup cell's clone line, from the one repository URL and branch in ``tools/course_repo.py``.

    python tools/stamp_headers.py            # rewrite notebooks/NN_*.ipynb and their .py twins where needed
    python tools/stamp_headers.py --check    # exit 1 and list the chapters whose links are not current

Both files of a jupytext pair are edited (the .ipynb through nbformat, its outputs kept; the .py as text), so the
pair stays in sync. Only the lines below change; a file that is already current is not rewritten.

- title cell (the first cell): the two badge lines ``[![Open In Colab](...)](...)`` and ``[![Binder](...)](...)``;
  inserted after the ``# N. Title`` line when missing;
- setup cell (the first code cell that calls ``course.start(``): ``!git clone ... URL.git``, and the folder the
  clone makes in ``os.path.isdir("REPO")``, ``%pip install ... -e REPO`` and ``os.chdir("REPO/notebooks")``.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
import course_repo  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CHAPTER_GLOB = "[0-9][0-9]_*.ipynb"
_BADGE = re.compile(r"^\[!\[(Open In Colab|Binder)\]")
_SETUP_RULES = [
    (re.compile(r"^(\s*(?:# )?)!git clone .*$"), lambda m: f"{m[1]}!{course_repo.clone_command()}"),
    (re.compile(r'os\.path\.isdir\("[^"]*"\)'), lambda m: f'os.path.isdir("{course_repo.REPO}")'),
    (re.compile(r"^(\s*(?:# )?%pip install .*-e )\S+$"), lambda m: f"{m[1]}{course_repo.REPO}"),
    (re.compile(r'os\.chdir\("[^"/]*/notebooks"\)'), lambda m: f'os.chdir("{course_repo.REPO}/notebooks")'),
]


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
    """The setup cell's code with the clone line and the clone's folder name from ``course_repo``."""
    out = []
    for line in source.split("\n"):
        for pattern, replace in _SETUP_RULES:
            line = pattern.sub(replace, line)
        out.append(line)
    return "\n".join(out)


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
