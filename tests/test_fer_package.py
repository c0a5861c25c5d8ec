"""tools/benchmark_fer_package.py: fer's label order mapped onto the course's, the one-line skip where fer cannot be
installed or run, fer's row merged into the deploy table, and the committed run chapter 10 shows
(benchmarks/deploy_best). Nothing here installs or downloads anything: the virtualenvs are missing or fake (a shell
script standing in for their python)."""
import argparse
import json
import os
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fer_helpers import export
from fer_helpers.data import CLASS_NAMES

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import benchmark_deploy  # noqa: E402
import benchmark_fer_package as fp  # noqa: E402

FACES = np.random.default_rng(0).integers(0, 256, (4, 48, 48), dtype=np.uint8)


def test_fer_labels_are_mapped_by_name_onto_the_course_order():
    proba = np.eye(7, dtype=np.float32)  # row i: fer is sure of its class i
    mapped = fp.to_course_order(proba)
    assert [CLASS_NAMES[i] for i in mapped.argmax(1)] == list(fp.FER_LABELS)
    # the three that move: fer's sad (4), surprise (5), neutral (6) are the course's 5, 6, 4
    assert mapped[4].argmax() == CLASS_NAMES.index("sad") == 5
    assert mapped[5].argmax() == CLASS_NAMES.index("surprise") == 6
    assert mapped[6].argmax() == CLASS_NAMES.index("neutral") == 4
    # another order (a later fer) is followed by name, not by position
    shuffled = list(reversed(fp.FER_LABELS))
    assert (fp.to_course_order(np.eye(7), shuffled).argmax(1) == [CLASS_NAMES.index(n) for n in shuffled]).all()
    with pytest.raises(ValueError, match="do not match"):
        fp.to_course_order(np.eye(7), [*fp.FER_LABELS[:6], "contempt"])


def _fake_python(venv: Path, script: str, marker: bool = True) -> Path:
    """A 'virtualenv' whose python is a shell script (and, with ``marker``, one that looks made with the pins)."""
    python = fp.venv_python(venv)
    python.parent.mkdir(parents=True)
    python.write_text("#!/bin/sh\n" + script + "\n")
    python.chmod(0o755)
    if marker:
        (venv / fp.MARKER).write_text(json.dumps({"fer": fp.FER_VERSION, "pins": list(fp.PINS)}))
    return python


def _measure(venv, install=False):
    lines = []
    result = fp.measure(FACES, FACES, np.zeros(4, int), venv=venv, install=install, repeats=1, log=lines.append)
    return result, lines


def test_a_missing_virtualenv_is_skipped_in_one_line_without_installing(tmp_path):
    result, lines = _measure(tmp_path / "no-venv")
    assert result == {"row": fp.ROW, "skipped": result["skipped"]}
    assert len(lines) == 1 and lines[0].startswith("benchmark_fer_package: skipped: the virtualenv ")
    assert "does not exist" in lines[0] and "\n" not in lines[0]
    assert not (tmp_path / "no-venv").exists()


@pytest.mark.skipif(os.name == "nt", reason="the fake python is a shell script")
def test_a_virtualenv_where_fer_does_not_import_is_skipped_in_one_line(tmp_path):
    # what fer_helpers.isolated's process writes when the worker raises: its result file, with one line on why
    _fake_python(tmp_path / "venv", "echo 'some noise' >&2; printf '%s' '{\"status\": \"failed\", \"error\": "
                                    "\"ModuleNotFoundError: No module named fer\"}' > \"$3/result.json\"; exit 3")
    result, lines = _measure(tmp_path / "venv")
    assert result["skipped"] == "fer does not run in its virtualenv: ModuleNotFoundError: No module named fer"
    assert lines == [f"benchmark_fer_package: skipped: {result['skipped']}"]


@pytest.mark.skipif(os.name == "nt", reason="the fake python is a shell script")
def test_a_failed_install_is_skipped_in_one_line(tmp_path):
    # no marker: the tool installs with the venv's pip, which here fails as pip does without a network
    _fake_python(tmp_path / "venv", "echo 'WARNING: Retrying'; echo 'ERROR: Could not find a version that satisfies "
                                    "the requirement tensorflow-cpu==2.21.0'; echo 'ERROR: No matching distribution'; "
                                    "exit 1", marker=False)
    result, lines = _measure(tmp_path / "venv", install=True)
    assert result["skipped"].startswith(f"pip could not install fer {fp.FER_VERSION} and its pins (no network?): ")
    assert result["skipped"].endswith("ERROR: No matching distribution")
    assert len(lines) == 2 and lines[0].startswith("installing fer") and lines[1].startswith(
        "benchmark_fer_package: skipped: pip could not install")
    assert "tensorflow-cpu==2.21.0" in (tmp_path / "venv" / "install.log").read_text()


def _course_table():
    """A deploy table as export.deploy_table makes it (two runtimes, no quoted fer row)."""
    return pd.DataFrame({"measured": ["here", "here"], "MB": [None, 0.3], "max abs diff": [0.0, 1e-6],
                         "top-1 agreement": [1.0, 1.0], "accuracy": [0.5, 0.5], "macro-F1": [0.4, 0.4],
                         "faces/s, batch 1": [20.0, 900.0], "faces/s, batch 64": [800.0, 3000.0],
                         "ms end to end (512 x 512 photo)": [90.0, 40.0]},
                        index=pd.Index(["keras predict", "tflite"], name="runtime"))


MEASURED = {"row": fp.ROW, "skipped": None, "venv": "_build/fer-venv", "labels": list(fp.FER_LABELS),
            "versions": {"fer": "25.10.3", "tensorflow": "2.21.0", "cv2": "4.14.0", "numpy": "2.4.6"},
            "classifier": {"file": "fer/data/emotion_model_quantized.tflite", "MB": 0.093,
                           "threads": "TFLite's default threads: fer passes none"},
            "throughput": [{"runtime": "fer", "batch": 1, "faces/s": 2500.0},
                           {"runtime": "tflite", "batch": 1, "faces/s": 1000.0},
                           {"runtime": "fer", "batch": 64, "faces/s": 2000.0},
                           {"runtime": "fer, interpreter resized", "batch": 64, "faces/s": 6000.0},
                           {"runtime": "tflite", "batch": 64, "faces/s": 3000.0}],
            "end_to_end": {"photo": "astronaut.jpg", "pixels": "512 x 512", "faces": 1, "runs": 3, "total ms": 60.0,
                           "detect ms": 50.0},
            "test": {"split": fp.TEST_SPLIT, "faces": 140, "accuracy": 0.66, "macro_f1": 0.6, "caveat": fp.CAVEAT}}


def test_the_measured_fer_row_is_merged_beside_the_course_rows():
    table = fp.merge_into_table(_course_table(), MEASURED, {"accuracy": 0.6, "macro_f1": 0.55})
    assert list(table.index) == ["keras predict", "tflite", fp.ROW]
    columns = list(table.columns)
    assert columns[columns.index("macro-F1") + 1:columns.index("macro-F1") + 3] == list(fp.TEST_COLUMNS)
    ours, theirs = table.loc["keras predict"], table.loc[fp.ROW]
    assert ours[fp.TEST_COLUMNS[0]] == 0.6 and np.isnan(table.loc["tflite", fp.TEST_COLUMNS[0]])
    assert theirs["measured"] == "here, in its own virtualenv" and theirs["MB"] == 0.1
    assert theirs["faces/s, batch 1"] == 2500 and theirs["faces/s, batch 64"] == 2000  # fer's own loop, not resized
    assert theirs["ms end to end (512 x 512 photo)"] == 60
    assert theirs[fp.TEST_COLUMNS[0]] == 0.66 and theirs[fp.TEST_COLUMNS[1]] == 0.6
    # trained on the validation faces, another model: no validation accuracy, no agreement with Keras
    assert all(pd.isna(theirs[c]) for c in ("accuracy", "macro-F1", "top-1 agreement", "max abs diff"))
    text = benchmark_deploy.table_markdown(table)
    assert "| 66.00% | 0.600 |" in text and "| 60.00% | 0.550 |" in text
    assert {line.count("|") for line in text.splitlines()} == {len(table.columns) + 2}
    notes = "\n".join(fp.markdown_notes(MEASURED))
    assert "6,000 faces/s at batch 64" in notes and "fer 2,500, tflite 1,000" in notes
    assert "PublicTest + PrivateTest" in notes and "no validation figures" in notes


def test_a_skipped_fer_row_says_why_and_adds_no_test_columns():
    result = {"row": fp.ROW, "skipped": "pip could not install fer 25.10.3 and its pins (no network?): ERROR: x"}
    table = fp.merge_into_table(_course_table(), result)
    assert list(table.columns) == list(_course_table().columns)
    row = table.loc[fp.ROW]
    assert row["measured"] == f"not measured: {result['skipped']}"
    assert row.drop("measured").isna().all()
    assert fp.markdown_notes(result) == [f"- `fer` {fp.FER_VERSION}: not measured: {result['skipped']}"]
    last = benchmark_deploy.table_markdown(table).splitlines()[-1]
    assert last.startswith(f"| {fp.ROW} | not measured: pip could not")


def test_benchmark_deploy_without_the_fer_package_says_so_in_its_row():
    args = argparse.Namespace(fer_package=False)
    table, result = benchmark_deploy.fer_row(args, _course_table(), {}, None, None, None, None, None)
    assert result["skipped"] == "--no-fer-package given"
    assert table.loc[fp.ROW, "measured"] == "not measured: --no-fer-package given"
    assert benchmark_deploy.parse_args([]).fer_package and not benchmark_deploy.parse_args(
        ["--no-fer-package"]).fer_package


COMMITTED = ROOT / "benchmarks" / "deploy_best"
MACHINE_PATH = re.compile(r"/(work|root|tmp|home/[A-Za-z0-9_.-]+)/[A-Za-z0-9_.-]+")


def test_the_committed_benchmark_of_chapter_10_shows_best_and_fer_from_one_run():
    """Chapter 10 reads benchmarks/deploy_best (it never runs fer itself): one full run of benchmark_deploy.py on the
    bundled best model, with fer measured in it, not quoted; made again whenever 'best' is bundled anew."""
    from fer_helpers import models
    run = json.loads((COMMITTED / "deploy.json").read_text())
    table = pd.read_csv(COMMITTED / "deploy.csv", index_col=0)
    assert run["command"].startswith("python tools/benchmark_deploy.py --model best ")
    assert "--quick" not in run["command"]
    assert run["command"] in (COMMITTED / "deploy.md").read_text()
    assert run["model"].startswith(f"`best` ({models.model_card('best')['summary']}),"), \
        "the committed benchmark is of another 'best': run the command in its deploy.md again"
    assert run["fer"]["skipped"] is None and table.loc[fp.ROW, "measured"] == "here, in its own virtualenv"
    ours = table.drop(index=fp.ROW)
    assert (ours["measured"] == "here").all() and set(export.FORMATS) - {"saved_model"} <= set(ours.index)
    both = table.loc[[ours.index[0], fp.ROW]]  # side by side: speed, end to end, and test accuracy for each
    columns = ["faces/s, batch 1", "ms end to end (512 x 512 photo)", *fp.TEST_COLUMNS]
    assert both[columns].notna().all().all() and (both[columns] > 0).all().all()
    assert run["fer"]["test"]["faces"] >= 3000 and "PublicTest + PrivateTest" in run["fer"]["test"]["caveat"]
    for path in COMMITTED.glob("deploy.*"):
        assert not MACHINE_PATH.search(path.read_text()), f"{path.name} shows a machine path"
    assert not (COMMITTED / "models").exists() or "/benchmarks/*/models/" in (ROOT / ".gitignore").read_text()


def test_the_readme_quotes_the_committed_benchmark():
    """README's deployment bullets give the committed run's batch-1 speeds, agreement and end-to-end range."""
    readme = (COMMITTED.parent.parent / "README.md").read_text()
    table = pd.read_csv(COMMITTED / "deploy.csv", index_col=0)
    speed = table["faces/s, batch 1"].astype(float)
    assert f"dynamic-range TFLite {speed['tflite_dynamic']:,.0f} faces/s" in readme
    assert f"fer's classifier {speed[fp.ROW]:,.0f}" in readme
    agreement = 100 * float(table.loc["tflite_dynamic", "top-1 agreement"])
    assert f"{agreement:.2f}% for dynamic range" in readme
    e2e = table.drop(index=[fp.ROW, *[r for r in table.index if r.startswith("keras")]])[
        "ms end to end (512 x 512 photo)"].astype(float)
    assert f"{e2e.min():.1f}-{e2e.max():.1f} ms with the exported formats" in readme
