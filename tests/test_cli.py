"""The command line: the original project's three scripts over the same functions as the notebooks."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from fer_helpers.__main__ import main

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "sample"


def test_evaluate_prints_accuracy_and_macro_f1_and_writes_json(tmp_path, capsys, tiny_model):
    model = tiny_model()
    weights = tmp_path / "tiny.weights.h5"
    model.save_weights(weights)
    model.save(tmp_path / "tiny.keras")
    out_json = tmp_path / "report.json"
    assert main(["evaluate", "--data", str(SAMPLE), "--split", "test", "--model", str(tmp_path / "tiny.keras"),
                 "--json", str(out_json)]) == 0
    out = capsys.readouterr().out
    assert "accuracy" in out and "macro-F1" in out
    report = json.loads(out_json.read_text())
    assert report["faces"] == 140 and 0 <= report["accuracy"] <= 1 and set(report["per_class"]) >= {"happy", "disgust"}


def test_evaluate_bundled_seed_model_runs(capsys):
    assert main(["evaluate", "--data", str(SAMPLE), "--split", "test", "--model", "seed"]) == 0
    assert "macro-F1" in capsys.readouterr().out


@pytest.mark.parametrize("args,message", [
    (["evaluate", "--data", "no/such/folder", "--model", "seed"], "no/such/folder: no such folder"),
    (["evaluate", "--data", str(SAMPLE), "--model", "nonexistent"], "no bundled model 'nonexistent'"),
    (["evaluate", "--data", str(SAMPLE), "--model", "missing.keras"], "missing.keras: no such model file"),
])
def test_bad_input_is_one_line_on_stderr_and_exit_2(capsys, args, message):
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_module_runs_as_a_script():
    result = subprocess.run([sys.executable, "-m", "fer_helpers", "--help"], capture_output=True, text=True,
                            cwd=ROOT, timeout=120)
    assert result.returncode == 0
    for command in ("train", "evaluate", "predict"):
        assert command in result.stdout
