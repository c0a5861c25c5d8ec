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
    model.save(tmp_path / "tiny.keras")
    out_json = tmp_path / "report.json"
    assert main(["evaluate", "--data", str(SAMPLE), "--split", "test", "--model", str(tmp_path / "tiny.keras"),
                 "--json", str(out_json)]) == 0
    out = capsys.readouterr().out
    assert "accuracy" in out and "macro-F1" in out
    report = json.loads(out_json.read_text())
    assert report["faces"] == 140 and 0 <= report["accuracy"] <= 1 and set(report["per_class"]) >= {"happy", "disgust"}



def test_evaluate_with_several_models_scores_their_ensemble(tmp_path, capsys, tiny_model):
    import keras

    from fer_helpers import data, evaluate
    paths = []
    for seed in (0, 1):
        tiny_model(seed=seed).save(tmp_path / f"m{seed}.keras")
        paths.append(str(tmp_path / f"m{seed}.keras"))
    report = tmp_path / "report.json"
    assert main(["evaluate", "--data", str(SAMPLE), "--split", "test", "--model", paths[0], "--model", paths[1],
                 "--json", str(report)]) == 0
    assert "ensemble of 2" in capsys.readouterr().out
    test = data.load_split(SAMPLE, "test")
    mean = sum(evaluate.predict_proba(keras.saving.load_model(p), test.x) for p in paths) / 2
    written = json.loads(report.read_text())
    assert written["model"] == paths
    assert written["accuracy"] == pytest.approx(evaluate.summary(test.y, mean)["accuracy"])


def test_a_run_folders_weights_load_by_its_recipe(tmp_path):
    """train writes recipe.json beside best.weights.h5: that is enough to rebuild the network (no card needed)."""
    import numpy as np

    from fer_helpers import FerError, models, recipes
    tiny = recipes.SEED.but("tiny", architecture="vgg_bn", model_kwargs={"widths": (4, 8)})
    model = tiny.build_model()
    run = tmp_path / "run"
    run.mkdir()
    model.save_weights(run / "best.weights.h5")
    (run / "recipe.json").write_text(json.dumps(tiny.as_dict(), default=list))
    loaded = models.load_model(run / "best.weights.h5")
    faces = np.random.default_rng(0).integers(0, 256, (3, 48, 48, 1)).astype("float32")
    np.testing.assert_allclose(loaded.predict(faces, verbose=0), model.predict(faces, verbose=0), atol=1e-6)
    (run / "recipe.json").write_text("{not json")
    with pytest.raises(FerError, match="recipe.json: not a readable model card"):
        models.load_model(run / "best.weights.h5")

@pytest.mark.slow
def test_evaluate_bundled_seed_model_prints_better_than_chance(capsys, tmp_path):
    report = tmp_path / "seed.json"
    assert main(["evaluate", "--data", str(SAMPLE), "--split", "test", "--model", "seed", "--json", str(report)]) == 0
    out = capsys.readouterr().out
    figures = json.loads(report.read_text())
    assert f"accuracy {figures['accuracy']:.4f}" in out and "macro-F1" in out
    assert figures["accuracy"] > 2 / 7          # 140 sample faces: chance is 1/7, the trained model does better


@pytest.mark.slow
def test_evaluate_on_the_parts_of_train_that_chapter_5_carves(tmp_path):
    figures = {}
    for split in ("validation", "fit", "train"):
        report = tmp_path / f"{split}.json"
        args = ["evaluate", "--data", str(SAMPLE), "--split", split, "--model", "seed", "--json", str(report)]
        assert main(args) == 0
        figures[split] = json.loads(report.read_text())
    assert figures["validation"]["faces"] + figures["fit"]["faces"] == figures["train"]["faces"]
    assert figures["validation"]["faces"] == round(0.1 * figures["train"]["faces"])
    assert "without_train_duplicates" not in figures["fit"]     # train against itself: every face a "duplicate"


@pytest.mark.slow
def test_compare_prints_both_models_and_mcnemar_on_the_same_faces(tmp_path, capsys, tiny_model):
    tiny_model().save(tmp_path / "tiny.keras")
    out_json = tmp_path / "compare.json"
    assert main(["compare", "--data", str(SAMPLE), "--split", "test", "seed", str(tmp_path / "tiny.keras"),
                 "--json", str(out_json)]) == 0
    out = capsys.readouterr().out
    result = json.loads(out_json.read_text())
    assert result["faces"] == 140 and result["a"]["model"] == "seed"
    assert f"a: seed | accuracy {result['a']['accuracy']:.4f}" in out and "McNemar p = " in out
    right_a, right_b = result["a"]["accuracy"] * 140, result["b"]["accuracy"] * 140
    assert round(right_a - right_b) == result["only_a"] - result["only_b"]   # the disagreements explain the gap
    assert main(["compare", "--data", str(SAMPLE), "seed", "seed"]) == 0     # a model against itself: no evidence
    assert "only a gets right 0, only b 0: McNemar p = 1" in capsys.readouterr().out


def test_predict_names_faces_writes_json_and_annotations_and_reports_bad_files(tmp_path, capsys):
    photos = ROOT / "data" / "photos"
    twin = tmp_path / "other"                   # same stem in another folder: both annotations are kept
    twin.mkdir()
    (twin / "astronaut.jpg").write_bytes((photos / "astronaut.jpg").read_bytes())
    (tmp_path / "notes.jpg").write_text("not a photo")
    out_json, annotated = tmp_path / "faces.json", tmp_path / "annotated"
    code = main(["predict", str(photos / "astronaut.jpg"), str(twin / "astronaut.jpg"),
                 str(photos / "no_face_shuttle.jpg"), str(tmp_path / "notes.jpg"),
                 "--detector", "haar", "--json", str(out_json), "--annotate", str(annotated)])
    assert code == 0                            # a bad file is reported, the batch goes on
    captured = capsys.readouterr()
    assert "no_face_shuttle.jpg: no face found" in captured.out
    assert "notes.jpg" in captured.err and "notes.jpg" not in captured.out
    report = json.loads(out_json.read_text())
    assert len(report["faces"]) == 2 and len(report["errors"]) == 1
    assert all(face["emotion"] in face["probabilities"] for face in report["faces"])
    assert sorted(p.name for p in annotated.iterdir()) == ["astronaut_emotions.jpg", "astronaut_emotions_2.jpg",
                                                            "no_face_shuttle_emotions.jpg"]


@pytest.mark.slow
def test_train_with_flags_writes_a_run_that_evaluate_reads(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--data", str(SAMPLE), "--epochs", "1", "--batch-size", "32", "--run-dir", str(run)]) == 0
    out = capsys.readouterr().out
    assert "train 126 | validation 14 | recipe seed+batch_size: 4,232,199 parameters" in out
    assert "validation macro-F1" in out
    written = json.loads((run / "recipe.json").read_text())   # chapter 5's recipe with the flag's change
    assert written["name"] == "seed+batch_size" and written["batch_size"] == 32 and written["epochs"] == 60
    assert len((run / "history.csv").read_text().splitlines()) == 2       # header + one epoch
    assert main(["evaluate", "--data", str(SAMPLE), "--split", "test", "--model", str(run / "best.weights.h5")]) == 0
    assert "| 140 faces" in capsys.readouterr().out


@pytest.mark.slow
def test_train_with_a_named_recipe_uses_its_architecture_and_settings(tmp_path, capsys):
    from fer_helpers import recipes
    run = tmp_path / "run"
    assert main(["train", "--data", str(SAMPLE), "--recipe", "cpu_best", "--epochs", "1", "--run-dir", str(run)]) == 0
    assert f"recipe cpu_best: {recipes.CPU_BEST.build_model().count_params():,} parameters" in capsys.readouterr().out
    written = json.loads((run / "recipe.json").read_text())
    assert written["architecture"] == "vgg_bn" and written["model_kwargs"]["widths"] == [32, 64, 128, 256]
    settings = json.loads((run / "run.json").read_text())
    assert settings["epochs"] == 1 and settings["learning_rate"] == recipes.CPU_BEST.learning_rate


@pytest.mark.parametrize("args,message", [
    (["evaluate", "--data", "no/such/folder", "--model", "seed"], "no/such/folder: no such folder"),
    (["evaluate", "--data", str(SAMPLE), "--model", "nonexistent"], "no bundled model 'nonexistent'"),
    (["evaluate", "--data", str(SAMPLE), "--model", "missing.keras"], "missing.keras: no such model file"),
    (["train", "--data", str(SAMPLE), "--recipe", "nosuch"], "no recipe 'nosuch' (named recipes: seed,"),
    (["train", "--data", str(SAMPLE), "--recipe", "cpu_best", "--init-weights", "no/such.weights.h5"],
     "no/such.weights.h5: cannot start 'cpu_best'"),
])
def test_bad_input_is_one_line_on_stderr_and_exit_2(capsys, args, message):
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


@pytest.mark.slow
def test_module_runs_as_a_script():
    result = subprocess.run([sys.executable, "-m", "fer_helpers", "--help"], capture_output=True, text=True,
                            cwd=ROOT, timeout=120)
    assert result.returncode == 0
    for command in ("train", "evaluate", "compare", "predict"):
        assert command in result.stdout


@pytest.mark.parametrize("command", ["train", "evaluate", "compare", "predict"])
def test_each_command_prints_its_own_help(command, capsys):
    with pytest.raises(SystemExit) as done:       # argparse exits after printing help
        main([command, "--help"])
    assert done.value.code == 0 and "usage:" in capsys.readouterr().out


@pytest.mark.parametrize("flags,name,changes", [
    ([], "seed", {}),
    (["--learning-rate", "5e-4", "--label-smoothing", "0"], "seed+learning_rate+label_smoothing",
     {"learning_rate": 5e-4, "label_smoothing": 0.0}),
    (["--recipe", "small_resnet", "--batch-size", "64"], "small_resnet+batch_size", {"batch_size": 64}),
    (["--architecture", "vgg_bn", "--class-weight-power", "1"], "seed+architecture+class_weight_power",
     {"architecture": "vgg_bn", "class_weight_power": 1.0}),
])
def test_train_builds_its_recipe_by_name_and_but_and_trains_it_like_any_recipe(flags, name, changes, monkeypatch,
                                                                             tmp_path, tiny_model):
    """The flags change a named recipe (chapter 5's by default) through Recipe.but, and that recipe is trained by
    recipes.train_recipe with the command's seed: one code path, one seeding, for every recipe."""
    from fer_helpers import recipes
    calls = []

    def train_recipe(recipe, *data, **options):   # record the call instead of training
        calls.append((recipe, options))
        return tiny_model(), None

    monkeypatch.setattr(recipes, "train_recipe", train_recipe)
    base = recipes.NAMED["small_resnet" if "small_resnet" in flags else "seed"]
    assert main(["train", "--data", str(SAMPLE), "--seed", "3", "--run-dir", str(tmp_path), *flags]) == 0
    [(recipe, options)] = calls
    assert recipe == (base.but(name, **changes) if changes else base) and recipe.name == name
    assert options["seed"] == 3 and options["epochs"] is None and options["init_weights"] is None
    assert options["teachers"] == []


def test_teacher_flags_reach_train_recipe_in_order():
    from fer_helpers.__main__ import build_parser
    args = build_parser().parse_args(["train", "--data", "D", "--teacher", "a.weights.h5", "--teacher", "b.weights.h5"])
    assert args.teacher == ["a.weights.h5", "b.weights.h5"]


def test_no_augment_switches_every_transform_of_the_recipe_off():
    from fer_helpers import train
    from fer_helpers.__main__ import build_parser, cli_recipe
    recipe = cli_recipe(build_parser().parse_args(["train", "--data", "D", "--recipe", "small_resnet", "--no-augment"]))
    assert recipe.name == "small_resnet+augmentation" and not any(recipe.augmentation.values())
    assert train.augmentation_for(recipe) is None


def test_teacher_model_flag_reaches_train_recipe(monkeypatch, tmp_path, tiny_model):
    """--teacher-model names the model a student learns from by function matching (train.TeacherMatching)."""
    from fer_helpers import recipes
    calls = []
    monkeypatch.setattr(recipes, "train_recipe", lambda recipe, *data, **options: (calls.append(options),
                                                                                     (tiny_model(), None))[1])
    assert main(["train", "--data", str(SAMPLE), "--recipe", "small_resnet_matching", "--teacher-model", "best",
                 "--run-dir", str(tmp_path)]) == 0
    assert calls[0]["teacher_model"] == "best" and calls[0]["teachers"] == []
