"""Write, check and grade the chapters' exercises as nbgrader assignments (``classroom/``).

    python tools/make_assignments.py              # (re)write classroom/source/ from the chapters
    python tools/make_assignments.py --check      # exit 1 and say why if classroom/source/ is not current
    python tools/make_assignments.py --grade DIR  # in a scratch course folder DIR: nbgrader makes the student
                                                  # versions, then autogrades the solutions and the blank copies
    python tools/make_assignments.py --grade DIR --only 04_architecture   # one chapter

An assignment is its chapter's exercises, one notebook ``classroom/source/NN_topic/NN_topic.ipynb`` in nbgrader's
format: a setup cell, then per exercise its wording (read from the chapter's "## Exercises" cell), an answer cell,
and its tests. Where ``fer_helpers.check`` knows the answer, the answer cell is code (the solution between
``### BEGIN SOLUTION`` and ``### END SOLUTION``) and each check is an autograded test cell worth
``POINTS_PER_CHECK`` points that calls ``check.exercise``: the expected answer is computed by ``fer_helpers``,
never written in the notebook, and a wrong answer prints the check's hint. The rest is a written answer cell
graded by hand, whose model answer is the chapter's solution. ``classroom/assignments.yml`` says which is which.

nbgrader does the rest: ``nbgrader generate_assignment`` writes the student version (solutions replaced by
``raise NotImplementedError()`` and "YOUR ANSWER HERE"), ``nbgrader autograde`` runs the tests, ``formgrader``
grades the written answers, ``generate_feedback`` returns the result. ``--grade`` runs the first two in a
scratch copy of the course folder and fails unless every solution version gets every autograded point and every
blank student version gets zero: a broken exercise, a check that no longer accepts its solution, or a student
version that still holds an answer fails the build. The teachers' guide describes the classroom workflow.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import time
import warnings
from pathlib import Path

import nbformat
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import course_repo
import stamp_headers

ROOT = Path(__file__).resolve().parent.parent
CLASSROOM = ROOT / "classroom"
SPEC = CLASSROOM / "assignments.yml"
SOLUTION_TAG = "solution"
POINTS_PER_CHECK = 2
WRITTEN_POINTS = 2
ITEM = re.compile(r"^(\d+)\. ", re.MULTILINE)

SETUP = f"""\
# Setup: run this cell first. On Colab it fetches the course's helpers, as every chapter's first cell does.
import os
import sys

if "google.colab" in sys.modules and not os.path.isdir("{course_repo.REPO}"):
    !git clone --quiet --depth 1 --branch {course_repo.REF} {course_repo.URL}.git
    %pip install --quiet -e {course_repo.REPO}
    sys.path.insert(0, os.path.abspath("{course_repo.REPO}"))

import numpy as np
from fer_helpers import check
"""


# --- reading a chapter ------------------------------------------------------------------------------------------

def _items(text: str) -> dict[int, str]:
    """{number: text} of the top-level numbered items of a Markdown list, without the number and the list's
    indentation."""
    starts = list(ITEM.finditer(text))
    items = {}
    for i, m in enumerate(starts):
        body = text[m.end():(starts[i + 1].start() if i + 1 < len(starts) else len(text))].strip()
        indent = " " * len(m.group(0))
        items[int(m.group(1))] = "\n".join(line[len(indent):] if line.startswith(indent) else line.lstrip()
                                           for line in body.splitlines())
    return items


def _without_check_lines(item: str) -> str:
    """An exercise's wording without its "Check your answer" sub-item (the test cell below the answer runs it)."""
    kept, check_indent = [], None
    for line in item.splitlines():
        indent = len(line) - len(line.lstrip())
        if line.lstrip().startswith("- Check your answer"):
            check_indent = indent
        elif check_indent is not None and line.strip() and indent > check_indent:
            continue
        else:
            check_indent = None
            kept.append(line)
    return "\n".join(kept).strip()


def chapter_exercises(nb) -> tuple[dict[int, str], dict[int, str]]:
    """(wordings, model answers): the chapter's exercises and the text of its solutions, by exercise number."""
    exercises = next((c.source for c in nb.cells if c.cell_type == "markdown" and "## Exercises" in c.source
                      and SOLUTION_TAG not in c.get("metadata", {}).get("tags", [])), None)
    if exercises is None:
        raise ValueError("no '## Exercises' cell outside the solutions")
    wordings = {n: _without_check_lines(text) for n, text in _items(exercises.split("## Exercises", 1)[1]).items()}
    answers: dict[int, str] = {}
    for cell in nb.cells:
        if cell.cell_type == "markdown" and SOLUTION_TAG in cell.get("metadata", {}).get("tags", []):
            for n, text in _items(cell.source.split("## Solutions", 1)[-1]).items():
                answers[n] = (answers[n] + "\n\n" + text) if n in answers else text
    return wordings, answers


# --- writing an assignment --------------------------------------------------------------------------------------

def _cell(kind: str, source: str, grade_id: str, *, solution=False, grade=False, locked=False, points=0):
    make = nbformat.v4.new_code_cell if kind == "code" else nbformat.v4.new_markdown_cell
    cell = make(source.rstrip("\n"))
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3, "solution": solution,
            "task": False}
    if grade:
        meta["points"] = points
    cell.metadata["nbgrader"] = meta
    cell.id = grade_id.replace("_", "-")
    return cell


def _slug(check_id: str) -> str:
    return check_id.replace(".", "_")


def assignment(chapter: Path, spec: dict) -> nbformat.NotebookNode:
    """The nbgrader source notebook of one chapter's exercises (solutions and tests included)."""
    nb = nbformat.read(chapter, as_version=4)
    wordings, answers = chapter_exercises(nb)
    title = nb.cells[0].source.splitlines()[0].lstrip("# ").strip()
    graded = spec.get("exercises", {}) or {}
    unknown = set(graded) - set(wordings)
    if unknown:
        raise ValueError(f"{SPEC.name}: {chapter.stem} has no exercise {sorted(unknown)}")
    total = sum(POINTS_PER_CHECK * len(e.get("checks", {})) + e.get("written", 0 if e.get("checks") else WRITTEN_POINTS)
                for e in (graded.get(n, {}) for n in wordings))
    cells = [
        _cell("markdown", f"# Assignment: {title}\n\n"
              f"The exercises of chapter {title.split('.')[0]} (`notebooks/{chapter.name}`), "
              f"{len(wordings)} of them, {total} points. Work in the cells marked for answers: a code answer "
              "replaces `raise NotImplementedError()`, a written answer replaces \"YOUR ANSWER HERE\" (double-click "
              "the cell). The cells under a code answer are the autograder's tests: run them to see "
              "\"correct\" or a hint. An exercise that works on the chapter's own variables (a model, a table) is done "
              "in the chapter (your copy from `students/`): write what you found, with the key lines of code, in its "
              "written answer. Do not change or delete the other cells; then *Kernel > Restart & Run All* before you "
              "hand the notebook in.", "intro", locked=True),
        _cell("code", SETUP + ("\n" + spec["setup"] if spec.get("setup") else ""), "setup", locked=True),
    ]
    for n, wording in wordings.items():
        entry = graded.get(n, {})
        cells.append(_cell("markdown", f"## Exercise {n}\n\n{wording}", f"exercise_{n}", locked=True))
        checks = entry.get("checks", {})
        if checks:
            names = ", ".join(entry["names"])
            cells.append(_cell("code", f"# Your answer: set {names}\n### BEGIN SOLUTION\n{entry['answer'].rstrip()}\n"
                               "### END SOLUTION", f"answer_{n}", solution=True))
            for check_id, arguments in checks.items():
                test = (f"# Test ({POINTS_PER_CHECK} points): prints \"{check_id}: correct\" or a hint.\n"
                        f"assert check.exercise(\"{check_id}\", {arguments})")
                cells.append(_cell("code", test, f"test_{_slug(check_id)}", grade=True, locked=True,
                                   points=POINTS_PER_CHECK))
        written = entry.get("written", 0 if checks else WRITTEN_POINTS)
        if written:
            model = answers.get(n, "(The chapter gives no model answer: a discussion. Grade it with book/rubric.md's "
                                   "criteria for argument and evidence.)")
            ask = "the rest of the exercise: the why, or what you saw" if checks else "your answer"
            heading = f"**Written answer ({written} point{'s' * (written > 1)}): {ask}.**"
            cells.append(_cell("markdown", heading, f"ask_{n}", locked=True))
            cells.append(_cell("markdown", model, f"written_{n}", solution=True, grade=True,
                               points=written))
    out = nbformat.v4.new_notebook(cells=cells)
    out.metadata = {"kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
                    "language_info": {"name": "python"}}
    return out


def load_spec() -> dict:
    return yaml.safe_load(SPEC.read_text(encoding="utf-8")) or {}


def expected(notebook_dir: Path) -> dict[str, str]:
    """{path under classroom/source/: its text} for every chapter."""
    spec = load_spec()
    chapters = sorted(notebook_dir.glob(stamp_headers.CHAPTER_GLOB))
    stray = set(spec) - {p.stem for p in chapters}
    if stray:
        raise ValueError(f"{SPEC.name}: no chapter named {sorted(stray)}")
    files = {}
    for path in chapters:
        text = nbformat.writes(assignment(path, spec.get(path.stem, {})))
        files[f"{path.stem}/{path.stem}.ipynb"] = text if text.endswith("\n") else text + "\n"
    return files


def problems(notebook_dir: Path, source_dir: Path) -> list[str]:
    want = expected(notebook_dir)
    found = {str(p.relative_to(source_dir)) for p in source_dir.glob("*/*.ipynb")} if source_dir.is_dir() else set()
    out = [f"missing: {name}" for name in want if name not in found]
    out += [f"not current: {name}" for name in want
            if name in found and (source_dir / name).read_text(encoding="utf-8") != want[name]]
    return out + [f"stale (no chapter): {name}" for name in sorted(found - set(want))]


def write(notebook_dir: Path, source_dir: Path) -> list[str]:
    written = []
    want = expected(notebook_dir)
    for name, text in want.items():
        target = source_dir / name
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
            written.append(name)
    for stale in source_dir.glob("*/*.ipynb"):
        if str(stale.relative_to(source_dir)) not in want:
            stale.unlink()
            written.append(f"(removed) {stale.relative_to(source_dir)}")
    return written


# --- grading with nbgrader --------------------------------------------------------------------------------------

def grade(course: Path, names: list[str]) -> list[dict]:
    """Release each assignment of the scratch course folder ``course`` (a copy of classroom/) with nbgrader, then
    autograde two submissions of it: the solution version ('solutions', the source notebook) and the blank student
    version ('blank', the released notebook as a student receives it). One row of scores per assignment."""
    from nbgrader.api import Gradebook
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config.loader import PyFileConfigLoader

    # nbgrader runs `alembic` (its database migrations) by name: put this Python's scripts first on the PATH.
    os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")          # the kernels' TensorFlow start-up lines
    warnings.filterwarnings("ignore", module="nbgrader")         # SQLAlchemy notes from nbgrader's gradebook
    config = PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()
    config.CourseDirectory.root = str(course)
    api = NbGraderAPI(CourseDirectory(config=config), config=config)

    def run(step: str, result: dict) -> None:
        if not result.get("success"):
            raise RuntimeError(f"nbgrader {step} failed:\n{result.get('error', '')}\n{result.get('log', '')[-3000:]}")

    rows = []
    for name in names:
        start = time.perf_counter()
        run(f"generate_assignment {name}", api.generate_assignment(name, force=True, create=True))
        notebook = f"{name}.ipynb"
        for student, version in (("solutions", course / "source" / name / notebook),
                                 ("blank", course / "release" / name / notebook)):
            target = course / "submitted" / student / name / notebook
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(version, target)
            run(f"autograde {name} --student {student}", api.autograde(name, student, force=True, create=True))
        with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
            task = gb.find_assignment(name)
            solved, blank = gb.find_submission(name, "solutions"), gb.find_submission(name, "blank")
            rows.append({"assignment": name, "autograded points": task.max_code_score,
                         "written points": task.max_written_score, "solutions": solved.code_score,
                         "blank": blank.score, "seconds": round(time.perf_counter() - start, 1)})
    return rows


def grading_failures(rows: list[dict]) -> list[str]:
    out = []
    for row in rows:
        if row["solutions"] != row["autograded points"]:
            out.append(f"{row['assignment']}: the solutions score {row['solutions']} of {row['autograded points']} "
                       "autograded points (a broken exercise or check)")
        if row["blank"] != 0:
            out.append(f"{row['assignment']}: the blank student version scores {row['blank']}, not 0 "
                       "(an answer left in the student version?)")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if classroom/source/ is stale")
    parser.add_argument("--grade", type=Path, metavar="DIR", help="scratch course folder to release and grade in")
    parser.add_argument("--only", nargs="*", help="chapters to grade (default: all), e.g. 04_architecture")
    parser.add_argument("--notebooks", type=Path, default=ROOT / "notebooks")
    parser.add_argument("--source", type=Path, default=CLASSROOM / "source")
    args = parser.parse_args(argv)
    if args.check:
        issues = problems(args.notebooks, args.source)
        for line in issues:
            print(f"  {line}", file=sys.stderr)
        if issues:
            print("assignments not current (run `python tools/make_assignments.py`)", file=sys.stderr)
            return 1
        print(f"assignments current ({len(expected(args.notebooks))} chapters)")
        return 0
    if args.grade is None:
        written = write(args.notebooks, args.source)
        names = ", ".join(written) or "none (all current)"
        print(f"{len(written)} assignment(s) written in classroom/source/: {names}")
        return 0
    course = args.grade.resolve()
    if course.exists():
        shutil.rmtree(course)
    course.mkdir(parents=True)
    shutil.copyfile(CLASSROOM / "nbgrader_config.py", course / "nbgrader_config.py")
    for name, text in expected(args.notebooks).items():   # grade what the chapters say now
        (course / "source" / name).parent.mkdir(parents=True, exist_ok=True)
        (course / "source" / name).write_text(text, encoding="utf-8")
    names = args.only or sorted(p.name for p in (course / "source").iterdir())
    start = time.perf_counter()
    rows = grade(course, names)
    print(f"{'assignment':24} {'autograded':>10} {'written':>8} {'solutions':>10} {'blank':>6} {'seconds':>8}")
    for r in rows:
        print(f"{r['assignment']:24} {r['autograded points']:>10g} {r['written points']:>8g} {r['solutions']:>10g} "
              f"{r['blank']:>6g} {r['seconds']:>8}")
    print(f"total: solutions {sum(r['solutions'] for r in rows):g} of {sum(r['autograded points'] for r in rows):g} "
          f"autograded points, blank versions {sum(r['blank'] for r in rows):g}; "
          f"{time.perf_counter() - start:.0f} s (the written answers, "
          f"{sum(r['written points'] for r in rows):g} points, are graded by hand)")
    failures = grading_failures(rows)
    for line in failures:
        print(f"FAIL {line}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
