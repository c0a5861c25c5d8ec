"""Every chapter keeps the course's frame, its jupytext pair in sync, and clean committed outputs."""
import re
from pathlib import Path

import jupytext
import nbformat
import pytest

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
CHAPTERS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
MACHINE_PATH = re.compile(r"/(work|root|tmp|home/[A-Za-z0-9_.-]+)/[A-Za-z0-9_.-]+")


def _sources(notebook):
    return [(cell.cell_type, cell.source.strip()) for cell in notebook.cells]


def test_there_are_chapters():
    assert len(CHAPTERS) >= 5


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_ipynb_and_py_pair_are_in_sync(path):
    twin = path.with_suffix(".py")
    assert twin.exists(), f"{path.name} has no py:percent twin"
    assert _sources(jupytext.read(path)) == _sources(jupytext.read(twin)), \
        f"{path.name} and {twin.name} differ: run `jupytext --sync notebooks/{path.name}`"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_chapter_frame(path):
    nb = nbformat.read(path, as_version=4)
    title = nb.cells[0]
    assert title.cell_type == "markdown" and re.match(r"# \d+\. ", title.source), "first cell: '# N. Title'"
    assert "colab.research.google.com" in title.source and "mybinder.org" in title.source, "launch badges"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "course.start(" in code[0].source, "the first code cell is the setup cell"
    assert any("parameters" in c.metadata.get("tags", []) for c in code[:3]), "a cell tagged 'parameters'"
    prose = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert re.search(r"^## Exercises", prose, re.M), "an Exercises section"
    assert re.search(r"^## Solutions", prose, re.M), "a Solutions section"
    assert any("solution" in c.metadata.get("tags", []) for c in nb.cells), "solution cells carry the tag"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_committed_outputs_are_clean(path):
    nb = nbformat.read(path, as_version=4)
    first_output = "".join(o.get("text", "") for o in nb.cells[1].get("outputs", []))
    assert first_output.startswith("mode: "), "committed notebooks are executed: the banner is the first output"
    for i, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            assert output.output_type != "error", f"cell {i} has an error output"
            text = output.get("text", "") + str(output.get("data", {}).get("text/plain", ""))
            assert not MACHINE_PATH.search(text), f"cell {i} shows a machine path: {MACHINE_PATH.search(text)[0]}"
            assert "\r" not in text and text.count("\n") < 400, f"cell {i}: progress-bar spam in the output"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_committed_figures_are_shown(path):
    """A cell that draws (`plt.show()`) shows its image: a run under a non-interactive backend (MPLBACKEND=Agg)
    saves the PNGs to figures/ but leaves the book and slides without them."""
    nb = nbformat.read(path, as_version=4)
    for i, cell in enumerate(nb.cells):
        # a cell that only defines a function calling plt.show() draws nothing until it is called
        draws = cell.cell_type == "code" and re.search(r"^plt\.show\(\)", cell.source, re.M)
        if draws:
            kinds = {kind for output in cell.get("outputs", []) for kind in output.get("data", {})}
            assert kinds & {"image/png", "image/jpeg", "image/svg+xml"}, f"cell {i} calls plt.show() but shows no image"
