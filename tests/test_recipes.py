"""Chapter 9's recipes and ladder, and the training options they use (mixup, EMA, one-cycle, distillation)."""
import hashlib
import json

import keras
import numpy as np
import pytest

from fer_helpers import FerError, augment, models, recipes, train

TINY = recipes.SEED.but("tiny", architecture="vgg_bn", model_kwargs={"widths": (4, 8)}, epochs=2, batch_size=32)


def tiny_data(n=96, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 48, 48), dtype=np.uint8), np.arange(n) % 7


def test_but_merges_model_settings_and_refuses_unknown_ones():
    bn = recipes.SEED.but("bn", model_kwargs={"batch_norm": True}, augmentation={"rotation": 0.0})
    assert bn.model_kwargs == {"batch_norm": True}
    assert bn.augmentation["rotation"] == 0.0 and bn.augmentation["zoom"] == recipes.SEED.augmentation["zoom"]
    assert recipes.SEED.augmentation["rotation"] == 0.03  # the original is untouched
    vgg = bn.but("vgg", architecture="vgg_bn", model_kwargs={"widths": (4, 8)})
    assert vgg.model_kwargs == {"widths": (4, 8)}  # another architecture: the old network's settings go
    with pytest.raises(FerError, match="no setting lr"):
        recipes.SEED.but("x", lr=0.1)


def test_seed_recipe_builds_the_original_cnn_and_batchnorm_adds_only_normalisation():
    assert recipes.SEED.build_model().count_params() == 4_232_199
    with_bn = recipes.SEED.but("bn", **recipes.step("batchnorm", recipes.LADDER).changes).build_model()
    assert with_bn.count_params() == 4_232_199 - (128 + 256 + 512 + 512) + 4 * (128 + 256 + 512 + 512)


def test_new_architectures_map_a_face_to_seven_probabilities():
    x = np.zeros((2, 48, 48, 1), "float32")
    for model in (models.build_vgg_bn(widths=(4, 8), head="flatten"),
                  models.build_resnet(widths=(4, 8), blocks=(1, 1))):
        proba = keras.ops.convert_to_numpy(model(x, training=False))
        assert proba.shape == (2, 7) and np.allclose(proba.sum(axis=1), 1, atol=1e-5)
    with pytest.raises(FerError, match="unknown head"):
        models.build_vgg_bn(head="dense")


@pytest.mark.slow
def test_climb_keeps_only_changes_that_raise_validation_accuracy():
    # a fake trainer: accuracy rises with BatchNorm and mixup, falls with SGD
    def fit_step(recipe):
        acc = 0.5 + 0.05 * recipe.model_kwargs.get("batch_norm", False) + 0.03 * bool(recipe.mixup) \
            - 0.04 * (recipe.optimizer == "sgd") + 0.001 * (recipe.epochs > 60)
        return {"accuracy": acc, "macro_f1": acc - 0.1}, None

    steps = [s for s in recipes.LADDER if s.name in ("batchnorm", "sgd", "mixup", "longer")]
    chain = recipes.SEED
    for step in recipes.LADDER[:-1]:  # every step applies to whatever came before it, if all are kept
        chain = chain.but(step.name, **step.changes)
        chain.build_model()
    best, rows = recipes.climb(recipes.SEED, steps, fit_step)
    assert [r["kept"] for r in rows] == [True, True, False, True, True]
    assert best.model_kwargs == {"batch_norm": True} and best.mixup == 0.2 and best.optimizer == "adam"
    assert best.epochs == 120  # 'longer' doubled the kept recipe's epochs
    assert rows[2]["gain"] == pytest.approx(-0.04) and rows[0]["gain"] is None


def test_climb_skips_a_rung_made_for_an_architecture_that_was_not_kept():
    def fit_step(recipe):  # the VGG rung loses, so the GAP rung (a VGG head) has nothing to change
        acc = 0.5 - 0.1 * (recipe.architecture == "vgg_bn")
        return {"accuracy": acc, "macro_f1": acc}, None

    steps = [s for s in recipes.LADDER if s.name in ("vgg", "gap", "mixup")]
    best, rows = recipes.climb(recipes.SEED, steps, fit_step)
    assert best.architecture == "seed_cnn" and rows[2]["note"].startswith("skipped") and rows[2]["kept"] is False
    assert rows[3]["step"] == "mixup" and rows[3]["val_accuracy"] == 0.5


def test_mixup_batches_blend_faces_labels_and_class_weights():
    x, y = tiny_data(64)
    targets = np.eye(7, dtype="float32")[y]
    batches = train.MixupBatches(x, targets, batch_size=16, alpha=0.4, class_weight={k: k + 1.0 for k in range(7)})
    assert len(batches) == 4
    xb, tb, wb = batches[0]
    assert xb.shape == (16, 48, 48, 1) and tb.shape == (16, 7)
    assert np.allclose(tb.sum(axis=1), 1) and (tb > 0).sum(axis=1).max() <= 2  # each row blends at most 2 labels
    assert np.allclose(wb, tb @ np.arange(1.0, 8.0))  # the weight of a blend is the blend of the weights
    assert xb.min() >= 0 and xb.max() <= 255


def test_onecycle_warms_up_for_30_percent_then_decays():
    schedule = train.learning_rate_schedule(0.01, epochs=10, steps_per_epoch=10, warmup_epochs=1.0,
                                            schedule="onecycle")  # (one-cycle sets its own warm-up)
    lr = [float(schedule(step)) for step in (0, 30, 99)]
    assert lr[0] == pytest.approx(0.01 / 25) and lr[1] == pytest.approx(0.01, rel=1e-3) and lr[2] < 1e-4


@pytest.mark.slow
def test_ema_run_keeps_the_averaged_weights_it_validated(tmp_path):
    x, y = tiny_data()
    recipe = TINY.but("ema", ema=0.9, epochs=3)
    model, history = recipes.train_recipe(recipe, x, y, x[:48], y[:48], tmp_path / "ema", verbose=0)
    assert json.loads((tmp_path / "ema" / "run.json").read_text())["ema"] == 0.9
    assert recipes.validation_scores(model, x[:48], y[:48])["accuracy"] == pytest.approx(
        history["val_accuracy"].max(), abs=1e-6)


@pytest.mark.slow
def test_train_recipe_with_mixup_and_soft_targets_records_its_recipe(tmp_path):
    x, y = tiny_data()
    model, history = recipes.train_recipe(TINY.but("mix", mixup=0.2), x, y, x[:32], y[:32], tmp_path / "mix",
                                          soft_targets=np.full((len(y), 7), 1 / 7), verbose=0)
    assert len(history) == 2
    saved = json.loads((tmp_path / "mix" / "recipe.json").read_text())
    assert saved["mixup"] == 0.2 and saved["architecture"] == "vgg_bn"
    settings = json.loads((tmp_path / "mix" / "run.json").read_text())
    assert settings["mixup"] == 0.2 and settings["distilled"] is True
    proba = recipes.ensemble_proba([model, model], x[:5])
    assert proba.shape == (5, 7) and np.allclose(proba.sum(axis=1), 1, atol=1e-5)


@pytest.mark.slow
def test_runs_made_before_the_new_options_still_resume(tmp_path):
    """run.json records mixup/ema/distillation only when used: a chapter 5 run started earlier still matches."""
    x, y = tiny_data()
    _, first = recipes.train_recipe(TINY, x, y, x[:32], y[:32], tmp_path / "plain", verbose=0)
    assert set(json.loads((tmp_path / "plain" / "run.json").read_text())).isdisjoint({"mixup", "ema", "distilled"})
    logged = (tmp_path / "plain" / "history.csv").read_text()
    _, again = recipes.train_recipe(TINY, x, y, x[:32], y[:32], tmp_path / "plain", verbose=0)
    assert len(again) == len(first)
    assert (tmp_path / "plain" / "history.csv").read_text() == logged   # loaded, not trained again


@pytest.mark.slow
def test_fresh_starts_over_where_another_run_with_other_data_was_kept(tmp_path):
    # quick mode with the sample, then quick mode with FER_DATA: same folder, other data
    x, y = tiny_data(96)
    recipes.train_recipe(TINY.but("tiny", epochs=1), x, y, x[:32], y[:32], tmp_path / "run", verbose=0)
    with pytest.raises(FerError, match="other settings .*train"):
        recipes.train_recipe(TINY.but("tiny", epochs=1), x[:64], y[:64], x[:32], y[:32], tmp_path / "run", verbose=0)
    _, history = recipes.train_recipe(TINY.but("tiny", epochs=1), x[:64], y[:64], x[:32], y[:32], tmp_path / "run",
                                      verbose=0, fresh=True)
    assert len(history) == 1
    assert json.loads((tmp_path / "run" / "run.json").read_text())["train"] == 64
    assert (tmp_path / "run" / "recipe.json").exists()  # written after the old run was deleted, not with it


def test_the_cpu_recipe_is_a_smaller_faster_net_than_the_original_and_the_cli_offers_every_named_recipe():
    from fer_helpers.__main__ import build_parser, cli_recipe
    small, original = recipes.CPU_BEST.build_model(), recipes.SEED.build_model()
    assert small.count_params() < original.count_params() / 3
    assert models.count_flops(small) < models.count_flops(original) / 1.5
    assert recipes.NAMED["seed"] is recipes.SEED and recipes.NAMED["cpu_best"] is recipes.CPU_BEST
    # the warm restart trains the same network, from half the peak rate, for a shorter cycle
    restart = recipes.NAMED["cpu_best_restart"]
    assert restart.but("cpu_best", epochs=recipes.CPU_BEST.epochs, learning_rate=recipes.CPU_BEST.learning_rate) \
        == recipes.CPU_BEST
    assert restart.learning_rate == recipes.CPU_BEST.learning_rate / 2 and restart.epochs < recipes.CPU_BEST.epochs
    # the original CNN's restart: the same network at half the peak rate, every transform but the mirror removed
    seed_restart = recipes.NAMED["seed_restart"]
    assert seed_restart.architecture == "seed_cnn" and seed_restart.learning_rate == recipes.SEED.learning_rate / 2
    assert {k for k, v in seed_restart.augmentation.items() if v} == {"flip"}
    assert seed_restart.but("seed", epochs=recipes.SEED.epochs, learning_rate=recipes.SEED.learning_rate,
                            augmentation=recipes.SEED.augmentation) == recipes.SEED
    for name in recipes.NAMED:   # by name, unchanged: the very object, so the same recipe trains the same weights
        assert cli_recipe(build_parser().parse_args(["train", "--data", "DIR", "--recipe", name])) is \
            recipes.NAMED[name]
    with pytest.raises(FerError, match="no recipe 'no_such_recipe' .*seed, seed_restart, cpu_best"):
        cli_recipe(build_parser().parse_args(["train", "--data", "DIR", "--recipe", "no_such_recipe"]))


@pytest.mark.slow
def test_init_weights_starts_a_run_from_those_weights_and_records_which(tmp_path):
    x, y = tiny_data(96)
    first, _ = recipes.train_recipe(TINY.but("tiny", epochs=1), x, y, x[:32], y[:32], tmp_path / "first", verbose=0)
    start = tmp_path / "first" / "best.weights.h5"
    # at a learning rate of 0 no trainable weight moves, so the run must end where it started
    still = TINY.but("still", epochs=1, learning_rate=0.0, schedule="constant")
    restarted, _ = recipes.train_recipe(still, x, y, x[:32], y[:32], tmp_path / "restart", verbose=0, seed=1,
                                        init_weights=start)
    for kept, loaded in zip(first.trainable_weights, restarted.trainable_weights):
        assert np.array_equal(keras.ops.convert_to_numpy(kept), keras.ops.convert_to_numpy(loaded))
    record = json.loads((tmp_path / "restart" / "recipe.json").read_text())
    assert record["init_weights"] == str(start)
    assert record["init_weights_sha256"] == hashlib.sha256(start.read_bytes()).hexdigest()
    # without init_weights the same run starts from random weights (so the check above can fail)
    scratch, _ = recipes.train_recipe(still, x, y, x[:32], y[:32], tmp_path / "scratch", verbose=0, seed=1)
    assert not np.array_equal(keras.ops.convert_to_numpy(first.trainable_weights[0]),
                              keras.ops.convert_to_numpy(scratch.trainable_weights[0]))
    assert "init_weights" not in json.loads((tmp_path / "scratch" / "recipe.json").read_text())
    with pytest.raises(FerError, match="best.weights.h5: cannot start 'other'"):
        recipes.train_recipe(TINY.but("other", model_kwargs={"widths": (8, 16)}), x, y, x[:32], y[:32],
                             tmp_path / "other", verbose=0, init_weights=start)


@pytest.mark.slow
def test_a_warm_start_holds_every_variable_of_the_weights_it_starts_from(tmp_path, monkeypatch,
                                                                         assert_holds_weights):
    x, y = tiny_data(96)
    first, _ = recipes.train_recipe(TINY.but("tiny", epochs=1), x, y, x[:32], y[:32], tmp_path / "first", verbose=0)
    start = tmp_path / "first" / "best.weights.h5"
    monkeypatch.setattr(train, "fit", lambda *args, **kwargs: None)   # stop right after the weights are loaded
    warm, _ = recipes.train_recipe(TINY.but("warm"), x, y, x[:32], y[:32], tmp_path / "warm", verbose=0, seed=1,
                                   init_weights=start)
    assert_holds_weights(warm, start)
    assert [v.path for v in warm.weights] == [v.path for v in first.weights]
    for kept, loaded in zip(first.weights, warm.weights):   # trainable or not (BatchNorm's moving statistics)
        assert np.array_equal(keras.ops.convert_to_numpy(kept), keras.ops.convert_to_numpy(loaded)), kept.path
    moving = [keras.ops.convert_to_numpy(v) for v in first.weights if v.path.endswith("moving_mean")]
    assert moving and all(np.any(m != 0) for m in moving)   # they moved away from their start: the check can fail


def test_a_warm_start_from_weights_that_do_not_fit_is_refused_without_keras_warnings(tmp_path, recwarn):
    TINY.build_model().save_weights(tmp_path / "narrow.weights.h5")
    x, y = tiny_data(32)
    with pytest.raises(FerError, match="narrow.weights.h5: cannot start 'wide'"):
        recipes.train_recipe(TINY.but("wide", model_kwargs={"widths": (8, 16)}), x, y, x, y, tmp_path / "wide",
                             verbose=0, init_weights=tmp_path / "narrow.weights.h5")
    assert not [w for w in recwarn if "nested container" in str(w.message)]


def test_the_reference_recipe_trains_the_small_resnet_and_its_restart_changes_only_the_cycle():
    reference, restart = recipes.NAMED["small_resnet"], recipes.NAMED["small_resnet_restart"]
    assert reference is recipes.SMALL_RESNET and reference.architecture == "small_resnet"
    net = reference.build_model()
    assert models.count_flops(net) < models.count_flops(recipes.CPU_BEST.build_model()) / 2
    assert reference.optimizer == "sgd" and reference.ema and reference.augmentation["erasing"] > 0
    assert restart.but("small_resnet", epochs=reference.epochs, learning_rate=reference.learning_rate) == reference
    assert restart.learning_rate < reference.learning_rate and restart.epochs < reference.epochs
    lower = recipes.NAMED["small_resnet_restart_low"]   # a later restart: only its cycle differs again
    assert lower.but("small_resnet", epochs=reference.epochs, learning_rate=reference.learning_rate) == reference
    assert lower.learning_rate < restart.learning_rate
    wide, wide_restart = recipes.NAMED["small_resnet_wide"], recipes.NAMED["small_resnet_wide_restart"]
    assert wide.but("small_resnet", model_kwargs=reference.model_kwargs) == reference   # one change: the widths
    assert wide_restart.but("small_resnet_restart", model_kwargs=reference.model_kwargs) == restart
    # distillation by function matching: the restart's network, start and peak, with a teacher's probabilities
    # (no class weights, no smoothing: train.fit refuses them with a teacher), uniform mixup, half the epochs
    matching = recipes.NAMED["small_resnet_matching"]
    assert matching.but("small_resnet_restart", epochs=restart.epochs, mixup=restart.mixup,
                        class_weight_power=restart.class_weight_power,
                        label_smoothing=restart.label_smoothing) == restart
    assert matching.mixup == 1.0 and matching.class_weight_power == 0 and matching.label_smoothing == 0


def test_the_cpu_ladder_climbs_from_the_narrow_original_cnn_to_the_reference_recipe():
    # if every rung is kept, the last recipe is the reference recipe but for its budget and averaging horizon
    trained = []

    def fit_step(recipe):  # each recipe beats the one before it
        trained.append(recipe)
        return {"accuracy": 0.3 + 0.01 * len(trained), "macro_f1": 0.2}, None

    base = recipes.CPU_LADDER_BASE
    assert base.architecture == "seed_cnn" and base.model_kwargs == {"widths": (32, 64, 128, 128)}
    best, rows = recipes.climb(base, recipes.CPU_LADDER, fit_step)
    assert all(row["kept"] for row in rows) and len(rows) == 1 + len(recipes.CPU_LADDER)
    assert best.but("small_resnet", epochs=recipes.SMALL_RESNET.epochs, ema=recipes.SMALL_RESNET.ema) \
        == recipes.SMALL_RESNET
    assert rows[0]["against"] is None and rows[1]["against"] == base.name and rows[1]["recipe"] == "batchnorm"
    assert rows[2]["against"] == "batchnorm" and rows[2]["recipe"] == "batchnorm+cpu_layout"
    chain = base   # every recipe on the way builds
    for step in recipes.CPU_LADDER:
        chain = chain.but(step.name, **step.changes)
        chain.build_model()


def test_climb_rows_name_what_a_dropped_rung_was_compared_with():
    def fit_step(recipe):  # SGD loses: the next rung is compared with the recipe before SGD, not with SGD
        acc = 0.5 - 0.1 * (recipe.optimizer == "sgd") + 0.01 * (recipe.ema is not None)
        return {"accuracy": acc, "macro_f1": acc}, None

    steps = [s for s in recipes.CPU_LADDER if s.name in ("sgd", "ema")]
    best, rows = recipes.climb(recipes.CPU_LADDER_BASE, steps, fit_step)
    assert [r["kept"] for r in rows] == [True, False, True]
    assert rows[2]["against"] == recipes.CPU_LADDER_BASE.name and rows[2]["recipe"] == "ema"
    assert best.optimizer == "adam" and best.ema == 0.98


def test_steps_and_recipes_are_looked_up_by_name_with_a_one_line_error_listing_the_names():
    assert recipes.step("residual") is next(s for s in recipes.CPU_LADDER if s.name == "residual")  # chapter 9's
    assert recipes.step("vgg", recipes.LADDER).changes["architecture"] == "vgg_bn"
    with pytest.raises(FerError, match="no rung 'vgg' .*batchnorm, cpu_layout, residual"):
        recipes.step("vgg")
    assert recipes.named("small_resnet") is recipes.SMALL_RESNET


RUN_SETTINGS = sorted(models.WEIGHTS_DIR.glob("**/*run.json"))


@pytest.fixture(scope="module")
def named_records():
    """What train.fit records in run.json for each named recipe, but for the data sizes and the class weights."""
    y = np.zeros(1, int)
    return {name: train.run_record(recipe.build_model(), recipe, y, y, recipe.epochs,
                                   augmentation=train.augmentation_for(recipe))
            for name, recipe in recipes.NAMED.items()}


@pytest.mark.parametrize("path", RUN_SETTINGS, ids=[str(p.relative_to(models.WEIGHTS_DIR)) for p in RUN_SETTINGS])
def test_every_bundled_run_was_trained_with_a_named_recipe(path, named_records):
    """Each run.json beside the bundled weights (the models and their stages) is what train.fit records for one
    recipe of recipes.NAMED, so `python -m fer_helpers train --recipe NAME` retrains it."""
    saved = json.loads(path.read_text())
    weights = saved["class_weight"]
    # the class weights' power, from disgust's weight against happy's: (n_happy / n_disgust) ** power
    counts = augment.FER2013_TRAIN_COUNTS
    power = 0 if weights is None else np.log(weights["1"] / weights["3"]) / np.log(counts["happy"] / counts["disgust"])

    def same(name):
        # a distilled run (train --teacher) is the recipe trained on its teachers' probabilities: flagged so; a
        # run with --teacher-model names its teacher (the model's name)
        record = {**named_records[name], **{k: saved[k] for k in ("train", "val", "class_weight")},
                  **({"distilled": True} if saved.get("distilled") else {}),
                  **({"teacher": saved["teacher"]} if "teacher" in saved else {})}
        return record == saved and abs(power - recipes.NAMED[name].class_weight_power) < 0.01

    assert len(RUN_SETTINGS) >= 5   # seed, best and best's three stages
    matches = [name for name in recipes.NAMED if same(name)]
    assert len(matches) == 1, f"{path.name}: trained with no named recipe, or several ({matches})"


@pytest.mark.slow
def test_teachers_distil_their_mirrored_mean_and_are_recorded(tmp_path, monkeypatch):
    x, y = tiny_data(96)
    recipes.train_recipe(TINY.but("tiny", epochs=1), x, y, x[:32], y[:32], tmp_path / "a", verbose=0, seed=1)
    recipes.train_recipe(TINY.but("tiny", epochs=1), x, y, x[:32], y[:32], tmp_path / "b", verbose=0, seed=2)
    teachers = [tmp_path / "a" / "best.weights.h5", tmp_path / "b" / "best.weights.h5"]
    seen = {}
    monkeypatch.setattr(train, "fit", lambda *args, soft_targets=None, **kwargs: seen.update(targets=soft_targets))
    recipes.train_recipe(TINY.but("student"), x, y, x[:32], y[:32], tmp_path / "student", verbose=0,
                         teachers=teachers)
    teacher_models = []
    for path in teachers:
        teacher_models.append(TINY.build_model())
        models.load_weights(teacher_models[-1], path)
    np.testing.assert_allclose(seen["targets"], recipes.ensemble_proba(teacher_models, x), atol=1e-6)
    assert not np.allclose(seen["targets"], recipes.ensemble_proba(teacher_models[:1], x), atol=1e-3)
    record = json.loads((tmp_path / "student" / "recipe.json").read_text())
    assert [t["sha256"] for t in record["teachers"]] == [hashlib.sha256(p.read_bytes()).hexdigest() for p in teachers]
    with pytest.raises(FerError, match="cannot be a teacher of 'other'"):
        recipes.train_recipe(TINY.but("other", model_kwargs={"widths": (8, 16)}), x, y, x[:32], y[:32],
                             tmp_path / "other", verbose=0, teachers=teachers[:1])


def test_one_kind_of_teacher_is_refused_before_any_teacher_is_loaded(tmp_path):
    x, y = tiny_data(32)
    with pytest.raises(FerError, match="one kind of teacher"):   # the missing file is never opened
        recipes.train_recipe(TINY, x, y, x, y, tmp_path / "run", teachers=[tmp_path / "missing.weights.h5"],
                             teacher_model="best", verbose=0)
    assert not (tmp_path / "run").exists()
