"""The recipes that produced the shipped models: each JSON is a valid config, and the GPU pipeline script runs
end to end (here on the CPU, on synthetic data, with one batch per epoch)."""
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from emolens.cli import _load_recipe

ROOT = Path(__file__).resolve().parents[1]
RECIPES = sorted((ROOT / "recipes").glob("*.json"))


@pytest.mark.parametrize("path", RECIPES, ids=[p.stem for p in RECIPES])
def test_every_recipe_is_a_valid_config(path):
    cfg = _load_recipe(path)  # unknown keys are refused here
    if cfg.distill and not cfg.teacher:
        cfg.teacher = "teacher.safetensors"  # distillation recipes take --teacher on the command line
    cfg.validate()
    assert cfg.arch and cfg.epochs >= 1


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_gpu_flagship_pipeline_runs_both_phases_and_packs_them(easy_data, tmp_path):
    member = tmp_path / "member.json"
    member.write_text(json.dumps({"arch": "emonet-t-slim", "batch": 16, "mixup": 0.2, "ema": 0.99,
                                  "checkpoint_every": 10}))
    env = dict(os.environ, PY=sys.executable, B1="5", B2="5", SEEDS="1 2", MEMBER=str(member), PROBE_STEPS="1",
               EXTRA="--max-batches 1 --device cpu --threads 1")
    work = tmp_path / "w"
    script = ROOT / "recipes" / "gpu-flagship.sh"
    r = subprocess.run(["bash", str(script), "run", str(easy_data), str(work)], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=600)
    status = (work / "status").read_text()
    assert r.returncode == 0 and "phase1 done" in status and "phase2 done" in status, status + r.stderr
    for name in ("emonet-l-s1", "emonet-l-s2", "emonet-t-slim-ens", "emonet-t-ens"):
        assert (work / "runs" / name / "best.safetensors").exists(), name
    out = tmp_path / "out"
    for phase in ("phase1", "phase2"):
        subprocess.run(["bash", str(script), "pack", str(work), phase, str(out)], cwd=ROOT, env=env, check=True,
                       capture_output=True, timeout=300)
    parts = sorted(out.glob("phase1.tar.part*"))
    assert parts and all(p.stat().st_size <= 15 * 2**20 for p in parts)
    whole = tmp_path / "phase1.tar"
    whole.write_bytes(b"".join(p.read_bytes() for p in parts))
    with tarfile.open(whole) as t:
        names = t.getnames()
    assert "p/emonet-l-s1/best.safetensors" in names and "p/status" in names and "p/probe1.json" in names
    # members travel as fp16 (half the transfer); the weights still load
    from emolens.models import load_model, read_safetensors
    with tarfile.open(whole) as t:
        t.extractall(tmp_path / "x", filter="data")
    tensors, _ = read_safetensors(tmp_path / "x" / "p" / "emonet-l-s1" / "best.safetensors")
    assert {str(v.dtype) for v in tensors.values() if v.is_floating_point()} == {"torch.float16"}
    load_model(tmp_path / "x" / "p" / "emonet-l-s1" / "best.safetensors")


@pytest.mark.skipif(shutil.which("bash") is None or shutil.which("split") is None, reason="needs bash and split")
def test_dataset_travels_in_parts_and_comes_back_identical(easy_data, tmp_path):
    """The device tool carries 64 MiB per call, checkout included: the data go in parts, one call each."""
    env = dict(os.environ, PY=sys.executable)
    script = str(ROOT / "recipes" / "gpu-flagship.sh")
    parts = tmp_path / "parts"

    def sh(*args):
        return subprocess.run(["bash", script, *map(str, args)], cwd=ROOT, env=env, capture_output=True, text=True,
                              check=True, timeout=120).stdout

    assert "part(s)" in sh("pack-data", easy_data, parts, "200K")  # small parts: several of them
    calls = sorted(p for p in parts.iterdir() if p.is_dir())
    assert len(calls) >= 2 and all(f.stat().st_size <= 200 * 1024 for c in calls for f in c.iterdir())
    for c in calls:  # one device call each
        sh("collect-data", c, tmp_path / "stage")
    sh("unpack-data", tmp_path / "stage", tmp_path / "out")
    got = tmp_path / "out" / easy_data.name
    want = sorted(p.relative_to(easy_data) for p in easy_data.rglob("*") if p.is_file())
    assert sorted(p.relative_to(got) for p in got.rglob("*") if p.is_file()) == want
    assert all((got / r).read_bytes() == (easy_data / r).read_bytes() for r in want)
