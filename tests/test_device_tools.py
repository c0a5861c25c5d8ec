"""tools/pack_dataset.py and tools/train_on_device.py: the data travels byte for byte, the jobs are well formed."""
import importlib.util
from pathlib import Path

import numpy as np

from fer_helpers import data, recipes
from fer_helpers.course import SAMPLE_DIR

TOOLS = Path(__file__).resolve().parent.parent / "tools"


def load_tool(name):
    spec = importlib.util.spec_from_file_location(name, TOOLS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_pack_decodes_to_exactly_the_faces_load_split_reads(tmp_path):
    pack = tmp_path / "sample_train.pack"
    load_tool("pack_dataset").main(["--data", str(SAMPLE_DIR), "--split", "train", "--out", str(pack)])
    faces, labels, files = load_tool("train_on_device").read_pack(pack)
    expected = data.load_split(SAMPLE_DIR, "train", cache=False)
    assert np.array_equal(faces, expected.x) and np.array_equal(labels, expected.y) and files == expected.files


def test_the_jobs_put_seed_and_best_first_and_every_recipe_builds():
    device = load_tool("train_on_device")
    jobs = device.jobs(rehearse=False)
    assert [name for name, *_ in jobs[:2]] == ["seed", "best"]
    assert jobs[0][1] == recipes.SEED  # the seed model is chapter 5's recipe, unchanged
    names = [name for name, *_ in jobs]
    assert len(names) == len(set(names)) and {f"ladder_{s.name}" for s in recipes.LADDER} <= set(names)
    assert abs(sum(share for _, _, share, _ in jobs) - 1) < 0.05
    for name, recipe, _, _ in device.jobs(rehearse=True):
        assert recipe.epochs == 1 and recipe.build_model().count_params() > 0, name
