"""The graded assignments (tools/make_assignments.py, classroom/): current with the chapters, an answer cell under
every exercise, every check graded once, nothing of a solution in a student version, and no exercise whose answer
the chapter already prints. The grading run itself (solutions full marks, blanks zero) is `make grade-check`;
test_grading_one_assignment runs it on one chapter."""
import difflib
import itertools
import re
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest

from fer_helpers import check

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import make_assignments  # noqa: E402

NOTEBOOKS = ROOT / "notebooks"
CHAPTERS = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
SOURCES = make_assignments.expected(NOTEBOOKS)


def _nb(name: str):
    return nbformat.reads(SOURCES[f"{name}/{name}.ipynb"], as_version=4)


def _grading(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def _student_version(nb):
    """The student version as nbgrader writes it: its own ClearSolutions preprocessor, with classroom/'s config."""
    from nbgrader.preprocessors import ClearSolutions
    from traitlets.config.loader import PyFileConfigLoader
    config = PyFileConfigLoader("nbgrader_config.py", path=str(ROOT / "classroom")).load_config()
    student, _ = ClearSolutions(config=config).preprocess(nbformat.from_dict(nb), {})
    return student


def test_sources_are_current():
    assert make_assignments.problems(NOTEBOOKS, ROOT / "classroom" / "source") == [], \
        "run `python tools/make_assignments.py`"


def test_one_assignment_per_chapter():
    assert sorted(SOURCES) == sorted(f"{p.stem}/{p.stem}.ipynb" for p in CHAPTERS)


@pytest.mark.parametrize("chapter", [p.stem for p in CHAPTERS])
def test_every_exercise_has_an_answer_cell(chapter):
    nb = _nb(chapter)
    wordings, _ = make_assignments.chapter_exercises(nbformat.read(NOTEBOOKS / f"{chapter}.ipynb", as_version=4))
    exercises = [i for i, c in enumerate(nb.cells) if _grading(c).get("grade_id", "").startswith("exercise_")]
    assert len(exercises) == len(wordings) > 0
    for start, end in zip(exercises, exercises[1:] + [len(nb.cells)]):
        block = nb.cells[start + 1:end]
        assert any(_grading(c).get("solution") for c in block), nb.cells[start].source[:80]
        for cell in block:
            if _grading(c := cell).get("grade") and c.cell_type == "code":
                assert re.fullmatch(r'(?s)#[^\n]*\nassert check\.exercise\("[\w.]+", .+\)', c.source), c.source
    ids = [_grading(c)["grade_id"] for c in nb.cells]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[\w-]+", i) for i in ids)


def test_every_check_is_graded_exactly_once():
    graded = [re.search(r'check\.exercise\("([\w.]+)"', c.source).group(1)
              for name in SOURCES for c in nbformat.reads(SOURCES[name], as_version=4).cells
              if _grading(c).get("grade") and c.cell_type == "code"]
    assert sorted(graded) == sorted(check.available())


@pytest.mark.parametrize("chapter", [p.stem for p in CHAPTERS])
def test_student_version_holds_no_solution(chapter):
    nb = _nb(chapter)
    student = _student_version(nb)
    assert len(student.cells) == len(nb.cells)
    for source, released in zip(nb.cells, student.cells):
        text = released.source
        assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text
        if _grading(source).get("solution"):
            assert "raise NotImplementedError()" in text or text == "YOUR ANSWER HERE", text
            if source.cell_type == "code":
                solution = source.source.split("### BEGIN SOLUTION\n", 1)[1].split("### END SOLUTION")[0]
                for line in filter(str.strip, solution.splitlines()):
                    assert all(line not in c.source for c in student.cells), (chapter, line)
            else:
                assert all(source.source not in c.source for c in student.cells)
        else:
            assert text == source.source


# --- no answer in a chapter's body ------------------------------------------------------------------------------

PUBLIC_TEST_Y = np.repeat(np.arange(7), [467, 56, 496, 895, 607, 653, 261])
# Answers that cannot leak in a meaningful sense, each with its reason:
NOT_SEARCHED = {
    "1.4": "yes/no", "6.5": "yes/no",
    "8.1": "the name of a parameter: the exercise asks the student to find it in the code",
    "8.3": "the name of a function: the exercise asks the student to find it in the code",
    "2.2": "counted on the student's own data (a small number on the sample)",
    "7.5": "counted on the student's own data (a small number on the sample)",
    "10.2": "the ratio of 32 to 8 bits, stated in the exercise itself",
    "1.1": "side lengths below 100 (44, 48, 22): too common in any text to search for",
    "1.3": "a receptive field below 100: too common in any text to search for",
    "1.3b": "weight counts below 100 (25, 18)",
    "4.2": "block shapes made of the course's usual sizes (3, 6, 12, 24, 128, 256, 512)",
    "4.4": "input sizes below 100",
    "4.2b": "equal to conv4's parameter count, which 4.3's layer table prints: 4,608 x 512 + 512 = "
            "3 x 3 x 512 x 512 + 512 by coincidence, not the answer",
}
DATA = {"2.1": {"y": PUBLIC_TEST_Y}}
# A value this common says nothing on its own (1/7 is every balanced baseline in the course; 48 is the face size).
GENERIC = {1 / 7, 48}


def _spellings(value) -> list[str]:
    if isinstance(value, (list, tuple)):
        return [s for item in value for s in _spellings(item)]
    if isinstance(value, tuple) or any(np.isclose(value, g) for g in GENERIC):
        return []
    value = float(value)
    if value.is_integer():
        return [f"{int(value)}", f"{int(value):,}"] if value >= 100 else []
    if value < 1:
        return [f"{value:.3f}", f"{100 * value:.1f}%"]
    return [f"{value:.1f}"]


def _expected(key):
    item = check._EXERCISES[key]
    value = item.expected(**DATA.get(key, {}))
    return [tuple(v) if isinstance(v, (list, tuple)) and len(v) == 3 and key == "4.2" else v for v in value] \
        if isinstance(value, list) else value


def _body_text(path: Path) -> str:
    """Every non-solution cell of a chapter: its source and its saved outputs."""
    parts = []
    for cell in nbformat.read(path, as_version=4).cells:
        if "solution" in cell.get("metadata", {}).get("tags", []):
            continue
        parts.append(cell.source)
        for output in cell.get("outputs", []):
            parts.append(output.get("text", ""))
            parts.extend(str(v) for v in output.get("data", {}).values() if isinstance(v, str))
    return "\n".join(parts)


@pytest.mark.parametrize("key", sorted(k for k in check.available() if k not in NOT_SEARCHED))
def test_no_answer_in_the_chapter_body_or_the_student_versions(key):
    chapter = next(p for p in CHAPTERS if re.fullmatch(rf"# {key.split('.')[0]}\. .*",
                                                        nbformat.read(p, as_version=4).cells[0].source.splitlines()[0]))
    spellings = _spellings(_expected(key))
    assert spellings, f"exercise {key}: nothing specific to search for; list it in NOT_SEARCHED with the reason"
    texts = {"chapter body": _body_text(chapter), "student copy": (ROOT / "students" / chapter.name).read_text(),
             "assignment (student version)": nbformat.writes(_student_version(_nb(chapter.stem)))}
    for where, text in texts.items():
        for spelling in spellings:
            found = re.search(rf"(?<![\w.,]){re.escape(spelling)}(?![\w]|[.,]\d)", text)
            assert not found, f"exercise {key}: its answer {spelling!r} is in the {where}: " \
                              f"...{text[max(0, found.start() - 80):found.end() + 40]}..."


def test_exercises_are_not_repeated_across_chapters():
    wordings = {}
    for path in CHAPTERS:
        items, _ = make_assignments.chapter_exercises(nbformat.read(path, as_version=4))
        wordings.update({f"{path.stem}.{n}": text for n, text in items.items()})
    for (a, text_a), (b, text_b) in itertools.combinations(wordings.items(), 2):
        if a.split(".")[0] != b.split(".")[0]:
            ratio = difflib.SequenceMatcher(None, text_a.lower(), text_b.lower()).ratio()
            assert ratio < 0.6, (a, b, ratio)
    answers = {key: repr(_expected(key)) for key in check.available() if key not in NOT_SEARCHED}
    repeated = [(a, b) for a, b in itertools.combinations(answers, 2)
                if answers[a] == answers[b] and a.split(".")[0] != b.split(".")[0]]
    assert not repeated


# --- the grading run --------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_grading_one_assignment(tmp_path):
    """nbgrader releases chapter 8's assignment, gives its solutions every autograded point and its blank version 0."""
    pytest.importorskip("nbgrader")
    assert make_assignments.main(["--grade", str(tmp_path / "course"), "--only", "08_prediction"]) == 0


# --- the student copies (students/) ------------------------------------------------------------------------------

@pytest.mark.parametrize("chapter", [p.stem for p in CHAPTERS])
def test_student_copy_has_an_answer_cell_per_exercise(chapter):
    import make_student_copies
    nb = nbformat.read(NOTEBOOKS / f"{chapter}.ipynb", as_version=4)
    wordings, _ = make_assignments.chapter_exercises(nb)
    copy = make_student_copies.student_copy(nb, f"{chapter}.ipynb")
    start = next(i for i, c in enumerate(copy.cells) if c.cell_type == "markdown" and "## Exercises" in c.source)
    answers = copy.cells[start + 1:start + 1 + len(wordings)]
    assert [c.source.split(":")[0] for c in answers] == [f"# Exercise {n}" for n in wordings]
    assert all(c.cell_type == "code" and not c.outputs for c in answers)
