"""tools/pack_dataset.py and tools/train_on_device.py: the data travels byte for byte, the jobs are well formed;
tools/bundle_model.py: a run comes back as a bundled model whose card holds figures measured on it."""
import importlib.util
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fer_helpers import data, evaluate, models, recipes
from fer_helpers.course import SAMPLE_DIR

TOOLS = Path(__file__).resolve().parent.parent / "tools"


def load_tool(name):
    spec = importlib.util.spec_from_file_location(name, TOOLS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


#: a two-epoch recipe on a network of a few hundred weights: the bundling tests train it in seconds
TINY = recipes.SEED.but("tiny", architecture="vgg_bn", model_kwargs={"widths": (4, 8)}, epochs=2, batch_size=32)


def sample_split():
    """The committed sample's training faces, split as chapter 5 splits train: x_fit, x_val, y_fit, y_val."""
    split = data.load_split(SAMPLE_DIR, "train")
    return data.train_val_split(split.x, split.y, 0.1, seed=42)


def test_a_pack_decodes_to_exactly_the_faces_load_split_reads(tmp_path):
    pack = tmp_path / "sample_train.pack"
    load_tool("pack_dataset").main(["--data", str(SAMPLE_DIR), "--split", "train", "--out", str(pack)])
    faces, labels, files = load_tool("train_on_device").read_pack(pack)
    expected = data.load_split(SAMPLE_DIR, "train", cache=False)
    assert np.array_equal(faces, expected.x) and np.array_equal(labels, expected.y) and files == expected.files


@pytest.mark.slow
def test_the_jobs_put_seed_and_best_first_and_every_recipe_builds():
    device = load_tool("train_on_device")
    jobs = device.jobs(rehearse=False)
    assert [name for name, *_ in jobs[:2]] == ["seed", "best"]
    assert jobs[0][1] == recipes.SEED  # the seed model is chapter 5's recipe, unchanged
    assert jobs[1][1] == recipes.NAMED["accelerator_best"].but("best")  # the registry's, under the job's name
    names = [name for name, *_ in jobs]
    assert len(names) == len(set(names)) and {f"ladder_{s.name}" for s in recipes.LADDER} <= set(names)
    assert abs(sum(share for _, _, share, _ in jobs) - 1) < 0.05
    for name, recipe, _, _ in device.jobs(rehearse=True):
        assert recipe.epochs == 1 and recipe.build_model().count_params() > 0, name


@pytest.mark.slow
def test_bundling_a_run_gives_a_model_that_loads_by_its_card_and_figures_measured_on_it(tmp_path):
    tiny, (x_train, x_val, y_train, y_val) = TINY, sample_split()
    run, out = tmp_path / "run", tmp_path / "weights"
    recipes.train_recipe(tiny, x_train, y_train, x_val, y_val, run, verbose=0)
    assert load_tool("bundle_model").main([
        "--run", str(run), "--name", "tiny", "--data", str(SAMPLE_DIR), "--recipe", "a two-epoch test run",
        "--hardware", "the test machine", "--weights-dir", str(out)]) == 0
    card = json.loads((out / "tiny.json").read_text())
    assert card["architecture"] == "vgg_bn" and card["kwargs"]["widths"] == [4, 8]   # from the run's recipe.json
    assert card["faces"] == {"train_split": 140, "validation": 14, "test": 140} and card["epochs_run"] == 2
    log = pd.read_csv(run / "history.csv")
    assert card["best_epoch"] == int(log["val_accuracy"].idxmax()) + 1
    assert card["validation"]["accuracy"] == pytest.approx(log["val_accuracy"].max(), abs=1e-4)  # re-measured
    model = models.load_model(out / "tiny.weights.h5")       # the card beside the weights says how to build it
    assert model.count_params() == card["parameters"] > 0
    sample = data.load_split(SAMPLE_DIR, "test")
    index = [sample.files.index(f) for f in card["check"]["sample_test_files"]]
    np.testing.assert_allclose(evaluate.predict_proba(model, sample.x[index]), card["check"]["probabilities"],
                               atol=1e-5)
    test = evaluate.summary(sample.y, evaluate.predict_proba(model, sample.x))
    assert card["test"]["accuracy"] == pytest.approx(test["accuracy"])
    text = (out / "tiny.md").read_text()
    assert f"| test (PublicTest) | 140 | {test['accuracy']:.4f} |" in text and "a two-epoch test run" in text
    assert sorted(p.name for p in out.iterdir()) == ["tiny.history.csv", "tiny.json", "tiny.md", "tiny.run.json",
                                                     "tiny.weights.h5"]


@pytest.mark.slow
def test_a_warm_restart_is_bundled_with_the_run_it_continued_and_the_card_counts_both(tmp_path):
    tiny, (x_train, x_val, y_train, y_val) = TINY, sample_split()
    first, restart, other, out = (tmp_path / name for name in ("first", "restart", "other", "weights"))
    recipes.train_recipe(tiny, x_train, y_train, x_val, y_val, first, verbose=0)
    recipes.train_recipe(tiny, x_train, y_train, x_val, y_val, other, verbose=0, seed=5)
    recipes.train_recipe(tiny.but("tiny_restart", epochs=1), x_train, y_train, x_val, y_val, restart, verbose=0,
                         seed=1, init_weights=first / "best.weights.h5")
    bundle = load_tool("bundle_model").main
    common = ["--name", "tiny", "--data", str(SAMPLE_DIR), "--recipe", "two stages", "--hardware", "the test machine",
              "--weights-dir", str(out)]
    with pytest.raises(SystemExit, match="pass --continues"):      # the first stage may not be left out ...
        bundle(["--run", str(restart), *common])
    with pytest.raises(SystemExit, match="was not started from"):  # ... nor replaced by another run
        bundle(["--run", str(restart), "--continues", str(other), *common])
    assert bundle(["--run", str(restart), "--continues", str(first), *common]) == 0
    card = json.loads((out / "tiny.json").read_text())
    logs = [pd.read_csv(run / "history.csv") for run in (first, restart)]
    assert card["epochs_run"] == card["planned_epochs"] == 3
    assert card["summary"].startswith("vgg_bn, 3 epochs, test (PublicTest) accuracy")
    assert [stage["recipe"] for stage in card["stages"]] == ["tiny", "tiny_restart"]
    assert card["stages"][1]["epochs"] == "3-3"
    assert card["training_minutes"] == pytest.approx(sum(log["seconds"].sum() for log in logs) / 60, abs=0.1)
    stacked = pd.read_csv(out / "tiny.history.csv")
    assert list(stacked["epoch"]) == [0, 1, 2] and list(stacked["stage"]) == [1, 1, 2]
    assert list(stacked["val_accuracy"]) == pytest.approx([*logs[0]["val_accuracy"], *logs[1]["val_accuracy"]])
    assert card["best_epoch"] == int(stacked["val_accuracy"].idxmax()) + 1
    peak = [json.loads((run / "run.json").read_text())["learning_rate"] for run in (first, restart)]
    assert [stage["peak_learning_rate"] for stage in card["stages"]] == peak
    assert f"1. `tiny` (peak learning rate {peak[0]}): epochs 1-2" in (out / "tiny.md").read_text()
    # the card names the starting weights by their run folder, not by this machine's path
    assert card["training_recipe"]["init_weights"] == "first/best.weights.h5"
    assert str(tmp_path) not in (out / "tiny.json").read_text()
    # the restart against the stage before, face by face on validation: the difference of the two counts is the
    # difference of the two stages' best validation accuracies (as the logs have them), in faces
    paired = card["stages"][1]["vs_stage_before"]
    best_val = [stage["best_val_accuracy"] for stage in card["stages"]]
    assert paired["only_this_stage_right"] - paired["only_stage_before_right"] == round(
        (best_val[1] - best_val[0]) * len(y_val))
    assert 0 < paired["mcnemar_p"] <= 1 and "McNemar p =" in (out / "tiny.md").read_text()
    # a second restart: every earlier stage is named, oldest first, and each link of the chain is checked
    third = tmp_path / "third"
    recipes.train_recipe(tiny.but("tiny_restart", epochs=1), x_train, y_train, x_val, y_val, third, verbose=0,
                         seed=2, init_weights=restart / "best.weights.h5")
    with pytest.raises(SystemExit, match="pass --continues"):      # the first stage left out of the chain
        bundle(["--run", str(third), "--continues", str(restart), *common])
    with pytest.raises(SystemExit, match="oldest first"):          # the stages in the wrong order
        bundle(["--run", str(third), "--continues", str(restart), "--continues", str(first), *common])
    with pytest.raises(SystemExit, match="was not started from"):  # a stage that is not the one before
        bundle(["--run", str(third), "--continues", str(first), "--continues", str(other), *common])
    assert bundle(["--run", str(third), "--continues", str(first), "--continues", str(restart), *common]) == 0
    card = json.loads((out / "tiny.json").read_text())
    assert card["epochs_run"] == card["planned_epochs"] == 4
    assert [stage["epochs"] for stage in card["stages"]] == ["1-2", "3-3", "4-4"]
    assert list(pd.read_csv(out / "tiny.history.csv")["stage"]) == [1, 1, 2, 3]


@pytest.mark.slow
def test_an_ensemble_is_bundled_from_its_members_chains_and_its_card_describes_each(tmp_path):
    tiny, (x_train, x_val, y_train, y_val) = TINY, sample_split()
    first, restart, other, out = (tmp_path / name for name in ("first", "restart", "other", "weights"))
    recipes.train_recipe(tiny, x_train, y_train, x_val, y_val, first, verbose=0)
    recipes.train_recipe(tiny.but("tiny_restart", epochs=1), x_train, y_train, x_val, y_val, restart, verbose=0,
                         seed=1, init_weights=first / "best.weights.h5")
    recipes.train_recipe(tiny.but("tiny_wide", model_kwargs={"widths": (8, 8)}), x_train, y_train, x_val, y_val,
                         other, verbose=0, seed=5)
    bundle = load_tool("bundle_model").main
    common = ["--name", "pair", "--data", str(SAMPLE_DIR), "--recipe", "two networks", "--hardware", "the test machine",
              "--weights-dir", str(out)]
    with pytest.raises(SystemExit):                                  # one member is not an ensemble
        bundle(["--member", f"{first},{restart}", *common])
    with pytest.raises(SystemExit, match="pass --continues"):       # a member's chain must start at its first run
        bundle(["--member", str(restart), "--member", str(other), *common])
    assert bundle(["--member", f"{first},{restart}", "--member", str(other), *common]) == 0
    card = json.loads((out / "pair.json").read_text())
    assert card["architecture"] == "ensemble"
    assert [m["kwargs"]["widths"] for m in card["kwargs"]["members"]] == [[4, 8], [8, 8]]
    assert [m["runs"] for m in card["members"]] == [["first", "restart"], ["other"]]
    assert [m["epochs_run"] for m in card["members"]] == [3, 2] and card["epochs_run"] == 5
    logs = {run: pd.read_csv(run / "history.csv") for run in (first, restart, other)}
    assert card["training_minutes"] == pytest.approx(sum(log["seconds"].sum() for log in logs.values()) / 60, abs=0.1)
    assert [stage["recipe"] for stage in card["members"][0]["stages"]] == ["tiny", "tiny_restart"]
    assert "stages" not in card["members"][1]
    stacked = pd.read_csv(out / "pair.history.csv")
    assert list(stacked["member"]) == [1, 1, 1, 2, 2] and list(stacked["stage"]) == [1, 1, 2, 1, 1]
    # each member re-measured on validation, and the ensemble against it face by face: the difference of the two
    # counts is the difference of their accuracies, in faces
    model = models.load_model(out / "pair.weights.h5")
    proba = evaluate.predict_proba(model, x_val)
    assert card["validation"]["accuracy"] == pytest.approx(evaluate.summary(y_val, proba)["accuracy"])
    for member, network in zip(card["members"], models.ensemble_members(model)):
        alone = evaluate.summary(y_val, evaluate.predict_proba(network, x_val))["accuracy"]
        assert member["validation"]["accuracy"] == pytest.approx(alone)
        paired = member["ensemble_vs_member"]
        assert paired["only_ensemble_right"] - paired["only_member_right"] == round(
            (card["validation"]["accuracy"] - alone) * len(y_val))
    assert model.count_params() == card["parameters"] == sum(m["parameters"] for m in card["members"])
    sample = data.load_split(SAMPLE_DIR, "test")
    index = [sample.files.index(f) for f in card["check"]["sample_test_files"]]
    np.testing.assert_allclose(evaluate.predict_proba(model, sample.x[index]), card["check"]["probabilities"],
                               atol=1e-5)
    text = (out / "pair.md").read_text()
    assert "the mean of 2 networks' probabilities" in text and "runs first then restart: 3 epochs" in text
    assert card["summary"].startswith("ensemble of vgg_bn 4-8 (3 epochs, 2 stages) and vgg_bn 8-8 (2 epochs), test")
    assert "\n     - recipe of its last run: " in text
    assert str(tmp_path) not in (out / "pair.json").read_text()
    assert sorted(p.name for p in out.iterdir()) == ["pair.history.csv", "pair.json", "pair.md", "pair.weights.h5"]


@pytest.mark.slow
def test_a_stage_cut_short_and_restarted_counts_the_epochs_it_ran_and_says_what_it_had_planned(tmp_path):
    """A warm restart replaces the rest of the stage before it: the model's planned epochs are the earlier stages'
    epochs run plus the last stage's plan, and the card says how much of its plan the cut stage ran."""
    tiny, (x_train, x_val, y_train, y_val) = TINY, sample_split()
    first, restart, out = (tmp_path / name for name in ("first", "restart", "weights"))
    recipes.train_recipe(tiny, x_train, y_train, x_val, y_val, first, verbose=0)
    settings = json.loads((first / "run.json").read_text())
    (first / "run.json").write_text(json.dumps({**settings, "epochs": 5}))  # as if stopped after 2 of 5 planned
    recipes.train_recipe(tiny.but("tiny_restart", epochs=1), x_train, y_train, x_val, y_val, restart, verbose=0,
                         seed=1, init_weights=first / "best.weights.h5")
    bundle = load_tool("bundle_model").main
    assert bundle(["--run", str(restart), "--continues", str(first), "--name", "tiny", "--data", str(SAMPLE_DIR),
                   "--recipe", "two stages", "--hardware", "the test machine", "--weights-dir", str(out)]) == 0
    card = json.loads((out / "tiny.json").read_text())
    assert card["epochs_run"] == card["planned_epochs"] == 3
    assert card["summary"].startswith("vgg_bn, 3 epochs,")
    assert [(stage["epochs_run"], stage["planned_epochs"]) for stage in card["stages"]] == [(2, 5), (1, 1)]
    text = (out / "tiny.md").read_text()
    assert "epochs 1-2 (2 of its 5 planned)" in text and "epochs 3-3 (" not in text


@pytest.mark.slow
def test_a_distilled_run_names_its_teachers_and_counts_their_training(tmp_path):
    tiny, (x_train, x_val, y_train, y_val) = TINY, sample_split()
    first, other, student, out = (tmp_path / name for name in ("first", "other", "student", "weights"))
    recipes.train_recipe(tiny, x_train, y_train, x_val, y_val, first, verbose=0)
    recipes.train_recipe(tiny, x_train, y_train, x_val, y_val, other, verbose=0, seed=5)
    recipes.train_recipe(tiny.but("tiny_restart", epochs=1), x_train, y_train, x_val, y_val, student, verbose=0,
                         seed=1, init_weights=first / "best.weights.h5",
                         teachers=[first / "best.weights.h5", other / "best.weights.h5"])
    bundle = load_tool("bundle_model").main
    common = ["--run", str(student), "--continues", str(first), "--name", "tiny", "--data", str(SAMPLE_DIR),
              "--recipe", "distilled", "--hardware", "the test machine", "--weights-dir", str(out)]
    with pytest.raises(SystemExit, match="made by none of the runs given"):  # a teacher's run left out
        bundle(common)
    with pytest.raises(SystemExit, match="was not distilled"):               # teacher runs for a plain run
        bundle(["--run", str(other), "--teacher-runs", str(first), *common[4:]])
    assert bundle([*common, "--teacher-runs", str(other), "--teacher-runs", str(first)]) == 0
    card = json.loads((out / "tiny.json").read_text())
    taught = card["teachers"]
    assert taught["weights"] == ["first/best.weights.h5", "other/best.weights.h5"]
    assert taught["other_runs"] == ["other"]             # first is already one of the model's own stages
    minutes = [pd.read_csv(run / "history.csv")["seconds"].sum() / 60 for run in (first, other, student)]
    assert taught["other_runs_minutes"] == pytest.approx(minutes[1], abs=0.1)
    assert taught["cpu_minutes_with_teachers"] == pytest.approx(sum(minutes), abs=0.1)
    assert [t["weights"] for t in card["training_recipe"]["teachers"]] == taught["weights"]
    assert str(tmp_path) not in (out / "tiny.json").read_text()
    assert "Distilled from" in (out / "tiny.md").read_text()
