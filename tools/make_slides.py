"""Slides for the classroom: ``_build/slides/NN_*.slides.html`` from the chapters, with their committed outputs.

    python tools/make_slides.py                       # every chapter
    python tools/make_slides.py 05_training.ipynb     # one (a name in notebooks/)
    make slides                                       # the same as the first line

Nothing is executed: the slides show the outputs saved in the chapter. The chapters carry no slide metadata
(it would clutter every cell of the jupytext ``.py`` twins); this script gives each cell of a copy its
``slideshow`` type by a rule, then hands the copy to ``jupyter nbconvert --to slides`` (reveal.js):

- a markdown cell that starts with a ``#`` or ``##`` heading opens a new slide (a section);
- a ``###`` heading, and every code cell, opens a sub-slide below it (press the down arrow): one idea per screen;
- any other markdown cell stays on the slide before it;
- solution cells (tag ``solution``) and the setup cell are skipped: the teacher shows them from the notebook.

Long cells scroll (``reveal_scroll``). reveal.js itself is loaded from its CDN when the slides are opened, so
open them in a browser with internet access, or pass ``--reveal-prefix DIR`` pointing at a local copy.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_student_copies import SOLUTION_TAG
from stamp_headers import CHAPTER_GLOB

ROOT = Path(__file__).resolve().parent.parent


def slide_type(cell, index: int) -> str:
    """The reveal.js role of one cell: 'slide', 'subslide', '-' (continue the current one) or 'skip'."""
    tags = cell.get("metadata", {}).get("tags", [])
    source = cell.source.lstrip()
    if SOLUTION_TAG in tags:
        return "skip"
    if cell.cell_type == "code":
        if source.startswith("# Setup"):
            return "skip"
        return "subslide"
    if index == 0 or source.startswith("# ") or source.startswith("## "):
        return "slide"
    if source.startswith("### "):
        return "subslide"
    return "-"


def with_slide_metadata(nb):
    """A copy of ``nb`` whose cells carry ``metadata.slideshow.slide_type`` (``nb`` itself is not changed)."""
    copy = nbformat.from_dict(nb)
    for index, cell in enumerate(copy.cells):
        cell.metadata["slideshow"] = {"slide_type": slide_type(cell, index)}
    return copy


def write_slides(path: Path, out_dir: Path, reveal_prefix: str | None = None) -> Path:
    """Export one chapter as reveal.js slides into ``out_dir``; returns the HTML file's path."""
    from nbconvert import SlidesExporter
    from traitlets.config import Config

    config = Config()
    config.SlidesExporter.reveal_scroll = True
    config.SlidesExporter.exclude_input_prompt = True
    config.SlidesExporter.exclude_output_prompt = True
    if reveal_prefix:
        config.SlidesExporter.reveal_url_prefix = reveal_prefix
    nb = with_slide_metadata(nbformat.read(path, as_version=4))
    html, _ = SlidesExporter(config=config).from_notebook_node(nb, resources={"metadata": {"path": str(path.parent)}})
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{path.stem}.slides.html"
    target.write_text(html, encoding="utf-8")
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("chapters", nargs="*", help="chapter file names in notebooks/ (default: all)")
    parser.add_argument("--out", default=str(ROOT / "_build" / "slides"), help="output folder")
    parser.add_argument("--reveal-prefix", default=None, help="URL or relative path of a reveal.js copy")
    args = parser.parse_args(argv)
    notebooks = ROOT / "notebooks"
    paths = [notebooks / name for name in args.chapters] or sorted(notebooks.glob(CHAPTER_GLOB))
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        print(f"make_slides: no such chapter in notebooks/: {', '.join(missing)}", file=sys.stderr)
        return 2
    for path in paths:
        target = write_slides(path, Path(args.out), args.reveal_prefix)
        print(f"{path.name} -> {target.relative_to(ROOT) if target.is_relative_to(ROOT) else target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
