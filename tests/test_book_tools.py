"""The tools around the chapters: the book's generated files, the repository links, the student copies and the
book checker. Each tool is tested on synthetic notebooks in a temporary folder; the checks of the real repository
only read it (the writing modes are run by hand: see each tool's docstring)."""
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import check_book  # noqa: E402
import course_repo  # noqa: E402
import make_book  # noqa: E402
import make_slides  # noqa: E402
import make_student_copies  # noqa: E402
import stamp_headers  # noqa: E402

CHAPTERS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))

SETUP = """\
# Setup
import os
import sys

if ("google.colab" in sys.modules or "kaggle_secrets" in sys.modules) and os.path.basename(os.getcwd()) != "notebooks":
    if not os.path.isdir("old-name"):
        !git clone --quiet --depth 1 --branch old https://github.com/someone/old-name.git
        %pip install --quiet -e old-name
    os.chdir("old-name/notebooks")
sys.path.insert(0, os.path.abspath(".."))

from fer_helpers import course

session = course.start()"""


def _chapter(badges: bool = False):
    """A small chapter in the course's frame, executed-looking (outputs), with two solution cells."""
    title = "# 9. A synthetic chapter\n\n"
    if badges:
        title += "[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://x)\n" \
                 "[![Binder](https://mybinder.org/badge_logo.svg)](https://y)\n\n"
    title += "By the end you will be able to:\n\n- do one thing;\n- do another\n  thing.\n\n" \
             "| mode | data | 2-core CPU | one GPU |\n|---|---|---|---|\n" \
             "| quick (`FER_QUICK=1`) | s | ~1 min | < 1 min |\n"
    setup = nbformat.v4.new_code_cell(SETUP, execution_count=1,
                                      outputs=[nbformat.v4.new_output("stream", text="mode: quick\n")])
    params = nbformat.v4.new_code_cell("EPOCHS = 1", metadata={"tags": ["parameters"]}, execution_count=2)
    work = nbformat.v4.new_code_cell("print(6 * 7)", execution_count=3,
                                     outputs=[nbformat.v4.new_output("stream", text="42\n")])
    exercises = nbformat.v4.new_markdown_cell("## Exercises\n\n1. Print 43.\n2. Why 42?")
    sol_md = nbformat.v4.new_markdown_cell("## Solutions\n\n1. Add one.", metadata={"tags": ["solution"]})
    sol_code = nbformat.v4.new_code_cell("print(6 * 7 + 1)", metadata={"tags": ["solution"]}, execution_count=4,
                                         outputs=[nbformat.v4.new_output("stream", text="43\n")])
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(title), setup, params, work, exercises,
                                         sol_md, sol_code])
    nb.metadata["jupytext"] = {"formats": "ipynb,py:percent"}
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    return nb


@pytest.fixture
def chapter_dir(tmp_path):
    """tmp/notebooks/09_synthetic.ipynb and its py:percent twin, written as jupytext would."""
    folder = tmp_path / "notebooks"
    folder.mkdir()
    nb = _chapter()
    nbformat.write(nb, folder / "09_synthetic.ipynb")
    jupytext.write(nb, folder / "09_synthetic.py", fmt="py:percent")
    return folder


def _pair_sources(path: Path):
    def cells(nb):
        return [(c.cell_type, c.source.strip()) for c in nb.cells]
    return cells(jupytext.read(path)), cells(jupytext.read(path.with_suffix(".py")))


# --- the one repository URL -------------------------------------------------------------------------------------

def test_badge_urls_follow_the_colab_and_binder_patterns():
    org, repo, ref = course_repo.ORG, course_repo.REPO, course_repo.REF
    path = "notebooks/05_training.ipynb"
    assert course_repo.colab_url(path) == f"https://colab.research.google.com/github/{org}/{repo}/blob/{ref}/{path}"
    assert course_repo.binder_url(path) == \
        f"https://mybinder.org/v2/gh/{org}/{repo}/{ref}?labpath=notebooks%2F05_training.ipynb"
    assert course_repo.clone_command().endswith(f"--branch {ref} https://github.com/{org}/{repo}.git")


# --- stamp_headers ----------------------------------------------------------------------------------------------

def test_stamp_inserts_badges_and_fixes_the_clone_line_in_both_files_of_the_pair(chapter_dir):
    ipynb = chapter_dir / "09_synthetic.ipynb"
    assert stamp_headers.main(["--check", "--notebooks", str(chapter_dir)]) == 1
    assert stamp_headers.main(["--notebooks", str(chapter_dir)]) == 0
    assert stamp_headers.main(["--check", "--notebooks", str(chapter_dir)]) == 0  # idempotent

    nb = nbformat.read(ipynb, as_version=4)
    title = nb.cells[0].source.split("\n")
    assert title[0] == "# 9. A synthetic chapter" and title[1] == ""
    assert title[2:5] == course_repo.badge_lines("notebooks/09_synthetic.ipynb")
    assert title[5] == "" and title[6].startswith("By the end")
    setup = nb.cells[1].source
    assert setup.startswith(stamp_headers.setup_head()) and setup.endswith("session = course.start()")
    assert f'clone = "{course_repo.clone_command()}"' in setup
    assert f'os.path.isdir("{course_repo.REPO}/fer_helpers")' in setup and "old-name" not in setup
    assert "!git" not in setup and "%pip" not in setup, "no shell magics: one or two quiet lines on Colab"
    assert nb.cells[1].outputs[0].text == "mode: quick\n", "outputs are kept"
    from_ipynb, from_py = _pair_sources(ipynb)
    assert from_ipynb == from_py, "the .ipynb and its .py twin must stay in sync"


def test_stamp_replaces_stale_badges_in_place_and_follows_course_repo(chapter_dir, monkeypatch):
    ipynb = chapter_dir / "09_synthetic.ipynb"
    nb = _chapter(badges=True)
    nbformat.write(nb, ipynb)
    jupytext.write(nb, ipynb.with_suffix(".py"), fmt="py:percent")
    monkeypatch.setattr(course_repo, "ORG", "school")
    monkeypatch.setattr(course_repo, "REF", "spring-2026")
    monkeypatch.setattr(course_repo, "CLONE_URL", "https://github.com/school/fer-course.git")
    assert stamp_headers.main(["--notebooks", str(chapter_dir)]) == 0
    title = nbformat.read(ipynb, as_version=4).cells[0].source
    assert title.count("colab-badge.svg") == 1 and title.count("badge_logo.svg") == 1
    assert title.count("open-in-kaggle.svg") == 1
    assert "github/school/fer-course/blob/spring-2026/notebooks/09_synthetic.ipynb" in title
    assert "v2/gh/school/fer-course/spring-2026?labpath=notebooks%2F09_synthetic.ipynb" in title
    assert "https://x" not in title and "https://y" not in title
    assert "--branch spring-2026 https://github.com/school/fer-course.git" in ipynb.with_suffix(".py").read_text()
    from_ipynb, from_py = _pair_sources(ipynb)
    assert from_ipynb == from_py


def test_the_chapters_links_are_current():
    assert stamp_headers.main(["--check"]) == 0, "run `python tools/stamp_headers.py`"


# --- make_student_copies ----------------------------------------------------------------------------------------

def test_student_copy_drops_solutions_and_outputs_and_keeps_the_exercises(chapter_dir, tmp_path):
    students = tmp_path / "students"
    assert make_student_copies.main(["--notebooks", str(chapter_dir), "--students", str(students)]) == 0
    nb = nbformat.read(students / "09_synthetic.ipynb", as_version=4)
    nbformat.validate(nb)
    sources = [c.source for c in nb.cells]
    assert not any("solution" in c.metadata.get("tags", []) for c in nb.cells)
    assert "print(6 * 7 + 1)" not in sources and not any(s.startswith("## Solutions\n\n1.") for s in sources)
    assert any(s.startswith("## Exercises") for s in sources) and "print(6 * 7)" in sources
    assert all(c.outputs == [] and c.execution_count is None for c in nb.cells if c.cell_type == "code")
    assert nb.cells[-1].source.startswith("## Solutions") and "notebooks/09_synthetic.ipynb" in nb.cells[-1].source
    assert "students%2F09_synthetic.ipynb" in nb.cells[0].source, "badges open the student copy"
    assert "formats" not in nb.metadata.get("jupytext", {}), "no .py twin for student copies"
    assert nb.cells[2].metadata["tags"] == ["parameters"], "other tags are kept"
    original = nbformat.read(chapter_dir / "09_synthetic.ipynb", as_version=4)
    assert len(original.cells) == 7 and original.cells[6].outputs, "the chapter itself is untouched"


def test_student_check_reports_missing_changed_and_stale_copies(chapter_dir, tmp_path, capsys):
    students = tmp_path / "students"
    args = ["--notebooks", str(chapter_dir), "--students", str(students)]
    assert make_student_copies.main(["--check", *args]) == 1
    assert "missing: students/09_synthetic.ipynb" in capsys.readouterr().err
    make_student_copies.main(args)
    assert make_student_copies.main(["--check", *args]) == 0

    nb = nbformat.read(chapter_dir / "09_synthetic.ipynb", as_version=4)  # the chapter changes...
    nb.cells[3].source = "print(6 * 9)"
    nbformat.write(nb, chapter_dir / "09_synthetic.ipynb")
    (students / "00_gone.ipynb").write_text("{}")  # ...and a chapter that no longer exists left a copy
    assert make_student_copies.main(["--check", *args]) == 1
    err = capsys.readouterr().err
    assert "not current: students/09_synthetic.ipynb" in err and "stale (no chapter): students/00_gone.ipynb" in err
    make_student_copies.main(args)
    assert make_student_copies.main(["--check", *args]) == 0
    assert not (students / "00_gone.ipynb").exists()


def test_the_student_copies_are_current():
    assert make_student_copies.main(["--check"]) == 0, "run `python tools/make_student_copies.py`"


# --- the book's generated files ---------------------------------------------------------------------------------

def test_every_chapter_is_in_the_table_of_contents_in_order():
    toc = yaml.safe_load((ROOT / "book" / "_toc.yml").read_text())
    files = [entry["file"] for part in toc["parts"] for entry in part["chapters"]]
    chapters = [f for f in files if f.startswith("notebooks/")]
    assert chapters == [f"notebooks/{p.stem}" for p in CHAPTERS]
    assert toc["root"] == "book/intro" and "book/teachers_guide" in files
    for f in files + [toc["root"]]:
        assert (ROOT / f"{f}.ipynb").exists() or (ROOT / f"{f}.md").exists(), f"{f} in the TOC does not exist"


def test_book_config_takes_the_repository_from_course_repo_and_executes_nothing():
    config = yaml.safe_load((ROOT / "book" / "_config.yml").read_text())
    assert config["repository"]["url"] == course_repo.URL and config["repository"]["branch"] == course_repo.REF
    assert config["repository"]["path_to_book"] == "", "built from the root: pages keep their repository paths"
    assert config["launch_buttons"]["colab_url"] and config["launch_buttons"]["binderhub_url"]
    assert config["execute"]["execute_notebooks"] == "off"


def test_the_generated_book_files_are_current():
    assert make_book.main(["--check"]) == 0, "run `python tools/make_book.py`"


def test_goals_and_timings_are_read_from_a_title_cell():
    title = _chapter().cells[0].source
    assert make_book.goals(title) == ["do one thing;", "do another thing."]
    assert make_book.timings(title) == {"quick": ("~1 min", "< 1 min")}
    assert make_book.timings("# 1. No table") == {}


# --- check_book (the part that needs no browser) ----------------------------------------------------------------

def test_static_check_finds_broken_links_anchors_and_missing_images(tmp_path):
    site = tmp_path / "html"
    (site / "notebooks").mkdir(parents=True)
    (site / "_images").mkdir()
    (site / "_images" / "fig.png").write_bytes(b"\x89PNG")
    (site / "index.html").write_text('<a href="notebooks/a.html#s1">ok</a> <a href="https://example.org">ext</a>')
    (site / "notebooks" / "a.html").write_text(
        '<h1 id="s1">A</h1><img src="../_images/fig.png"><img src="https://x.org/badge.svg">'
        '<a href="#s1">top</a><a href="b.html">b</a>')
    (site / "notebooks" / "b.html").write_text('<a href="a.html#s1">a</a><a href="#nowhere">here</a>'
                                               '<a href="a.html#gone">gone</a><a href="missing.html">m</a>'
                                               '<img src="../_images/lost.png">')
    problems, stats = check_book.static_problems(site)
    assert sorted(problems) == sorted([
        "notebooks/b.html: anchor #nowhere not in the page",
        "notebooks/b.html: broken anchor a.html#gone",
        "notebooks/b.html: broken link missing.html",
        "notebooks/b.html: missing image ../_images/lost.png",
    ])
    assert stats["pages"] == 3 and stats["images"] == 2 and stats["external images"] == 1


def test_title_comparison_ignores_markup_and_smart_quotes():
    page = check_book.parse('<h1>3. A fair say for <em>disgust</em> \u2019n <a class="headerlink" href="#t">#</a></h1>')
    assert check_book._normal(page.h1[0]) == check_book._normal("3. A fair say for *disgust* 'n")
    assert check_book.toc_pages(ROOT / "book" / "_toc.yml")[0] == "book/intro"


def test_slides_give_sections_to_headings_and_skip_setup_and_solutions():
    nb = _chapter()
    with_meta = make_slides.with_slide_metadata(nb)
    kinds = [c.metadata["slideshow"]["slide_type"] for c in with_meta.cells]
    # title, setup, parameters, work, exercises, solution (markdown), solution (code)
    assert kinds == ["slide", "skip", "subslide", "subslide", "slide", "skip", "skip"]
    assert "slideshow" not in nb.cells[0].metadata  # the chapter itself is not changed


def test_slides_are_written_with_the_outputs_and_without_the_solutions(chapter_dir, tmp_path):
    target = make_slides.write_slides(chapter_dir / "09_synthetic.ipynb", tmp_path / "slides",
                                      reveal_prefix="reveal.js")
    html = target.read_text()
    assert target.name == "09_synthetic.slides.html"
    assert "reveal.js/dist/reveal.js" in html and "A synthetic chapter" in html
    assert "42" in html and "print(6 * 7 + 1)" not in html and "Add one." not in html
    assert make_slides.main(["no_such_chapter.ipynb", "--out", str(tmp_path)]) == 2


def test_prose_words_split_core_optional_and_solutions(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# 1. Title\n\none two three"),
        nbformat.v4.new_code_cell("# a comment that is not prose\nx = 1"),
        nbformat.v4.new_markdown_cell("## 1.1 Extra (optional)\n\nfour five\n\n```\n# not a heading\n```"),
        nbformat.v4.new_markdown_cell("### 1.1.1 Deeper\n\nsix"),
        nbformat.v4.new_markdown_cell("## 1.2 Core again\n\nseven eight"),
        nbformat.v4.new_markdown_cell("## Solutions\n\nnine ten eleven"),
    ])
    path = tmp_path / "01_x.ipynb"
    nbformat.write(nb, path)
    # headings count as words of their part; a fenced '# ...' line does not end the optional section
    assert make_book.prose_words(path) == {"core": 3 + 3 + 4 + 2, "optional": 4 + 2 + 6 + 3 + 1,
                                           "solutions": 2 + 3}


def test_core_chapters_are_paced_for_one_class_session():
    # issue 36: about 3,000 words of core prose a chapter (optional sections and solutions apart)
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        core = make_book.prose_words(path)["core"]
        assert core <= 3_300, f"{path.name}: {core:,} words of core prose; mark sections (optional) or tighten"
