"""2-process gloo training on a tiny synthetic set: runs, agrees with itself, fails loudly."""
import json
import os
import subprocess
import sys

import pytest

from emolens.evaluate import evaluate

ARGS = ["--epochs", "2", "--max-batches", "3", "--batch", "16", "--arch", "emonet-t", "--no-onnx", "--ema", "0.9"]


def _run(args, env_extra=None, timeout=400):
    env = dict(os.environ, PYTHONWARNINGS="ignore", EMOLENS_DIST_TIMEOUT="60", OMP_NUM_THREADS="1", **(env_extra or {}))
    return subprocess.run([sys.executable, "-m", "emolens.cli", "train", *map(str, args)], capture_output=True,
                          text=True, env=env, timeout=timeout)


def test_two_process_gloo_run(easy_data, tmp_path):
    r = _run(["--data", easy_data, "--nproc", 2, "--project", tmp_path, "--name", "ddp", *ARGS])
    assert r.returncode == 0, r.stderr[-3000:]
    run = tmp_path / "ddp"
    summary = json.loads((run / "summary.json").read_text())
    assert summary["processes"] == 2 and summary["ranks_identical"] is True and summary["global_batch"] == 32
    assert not (tmp_path / "ddp2").exists()  # only rank 0 created a run directory
    # validation metrics reduced across ranks == single-process evaluation of the saved model
    rep, _ = evaluate(run / "best.safetensors", easy_data, split="val", project=str(tmp_path / "ev"), progress=False)
    assert rep["plain"]["accuracy"] == pytest.approx(summary["best"]["val_acc"], abs=1e-9)
    # resume in distributed mode
    r = _run(["--resume", run, "--epochs", 3, "--nproc", 2])
    assert r.returncode == 0, r.stderr[-3000:]
    assert json.loads((run / "summary.json").read_text())["epochs_run"] == 3


def test_a_crashing_rank_fails_the_job(easy_data, tmp_path):
    r = _run(["--data", easy_data, "--nproc", 2, "--project", tmp_path, *ARGS], {"EMOLENS_FAULT_RANK": "1:1"},
             timeout=300)
    assert r.returncode == 2
    assert "injected fault" in r.stderr and "emolens: error: distributed training failed" in r.stderr
