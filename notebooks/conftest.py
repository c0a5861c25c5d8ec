"""nbval settings for the chapters.

- stderr is never compared (TensorFlow and Keras write warnings there);
- at the end, one line per chapter with the time its cells took (quick mode under CI), so the timings in the
  chapters' title cells and the teachers' guide can be checked against every CI log.
"""
from collections import defaultdict
from pathlib import Path

_seconds_per_notebook: dict[str, float] = defaultdict(float)
_cells_per_notebook: dict[str, int] = defaultdict(int)


def pytest_collectstart(collector):
    if collector.fspath and collector.fspath.ext == ".ipynb":
        collector.skip_compare += ("stderr",)


def pytest_runtest_logreport(report):
    notebook = report.nodeid.split("::")[0]
    if notebook.endswith(".ipynb"):
        _seconds_per_notebook[Path(notebook).name] += report.duration   # setup, call and teardown
        if report.when == "call":
            _cells_per_notebook[Path(notebook).name] += 1


def pytest_terminal_summary(terminalreporter):
    if not _seconds_per_notebook:
        return
    terminalreporter.section("time per chapter (this run)")
    for name in sorted(_seconds_per_notebook):
        terminalreporter.write_line(f"{name:<32} {_cells_per_notebook[name]:>3} cells {_seconds_per_notebook[name]:>7.1f} s")
    total = sum(_seconds_per_notebook.values())
    terminalreporter.write_line(f"{'all chapters':<32} {sum(_cells_per_notebook.values()):>3} cells {total:>7.1f} s")
