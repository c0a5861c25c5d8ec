import json

import numpy as np
import pytest

from fer_helpers import augment, recipes, train
from fer_helpers.errors import FerError

#: Chapter 5's recipe with its regularisers off (no augmentation, class weights or label smoothing), for these
#: small runs on faces told apart by their brightness
PLAIN = recipes.SEED.but("plain", epochs=4, batch_size=16, label_smoothing=0.0, class_weight_power=0,
                         augmentation=dict.fromkeys(recipes.SEED.augmentation, 0))


def _split(x, y):
    return x[:90], y[:90], x[90:], y[90:]


@pytest.mark.slow
def test_fit_learns_and_keeps_best_weights(tmp_path, separable_faces, tiny_model):
    x_tr, y_tr, x_va, y_va = _split(*separable_faces)
    model = tiny_model()
    history = train.fit(model, x_tr, y_tr, x_va, y_va, tmp_path / "run",
                        PLAIN.but("constant", epochs=10, learning_rate=0.05, schedule="constant"), verbose=0)
    assert list(history["epoch"]) == list(range(1, 11))
    best = history["val_accuracy"].max()
    assert best >= 0.9
    # the model now holds the best epoch's weights: its validation accuracy is the best logged one
    pred = model.predict(x_va[..., None].astype("float32"), verbose=0).argmax(1)
    assert np.mean(pred == y_va) == pytest.approx(best, abs=1e-6)
    assert (tmp_path / "run" / "best.weights.h5").exists()
    assert (tmp_path / "run" / "finished").exists()


def _raw_log_epochs(run):
    """The epochs as history.csv holds them, before read_history's de-duplication (Keras counts from 0)."""
    import pandas as pd
    return list(pd.read_csv(run / "history.csv")["epoch"])


@pytest.mark.slow
def test_interrupted_run_resumes_where_it_stopped(tmp_path, separable_faces, tiny_model, capsys):
    x_tr, y_tr, x_va, y_va = _split(*separable_faces)
    run = tmp_path / "run"
    # a time budget of ~0 minutes stops after the first epoch, like a closed laptop would
    first = train.fit(tiny_model(), x_tr, y_tr, x_va, y_va, run, PLAIN, time_budget_min=1e-9, verbose=0)
    assert len(first) == 1
    assert not (run / "finished").exists()
    capsys.readouterr()
    resumed = train.fit(tiny_model(), x_tr, y_tr, x_va, y_va, run, PLAIN, verbose=0)
    assert "resuming after epoch 1 of 4" in capsys.readouterr().out
    assert list(resumed["epoch"]) == [1, 2, 3, 4]
    assert _raw_log_epochs(run) == [0, 1, 2, 3]   # epoch 1 was not trained (and logged) a second time
    # a finished run is not trained again: nothing is appended to its log
    again = train.fit(tiny_model(), x_tr, y_tr, x_va, y_va, run, PLAIN, verbose=0)
    assert "finished earlier (4 epochs)" in capsys.readouterr().out
    assert len(again) == 4 and _raw_log_epochs(run) == [0, 1, 2, 3]


def _seed_counters(layer):
    import keras
    return [int(keras.ops.convert_to_numpy(v)[1]) for v in layer.variables if v.name.endswith("seed_generator_state")]


@pytest.mark.slow
def test_a_resumed_run_draws_new_augmentations_not_the_first_sessions_again(tmp_path, separable_faces, tiny_model,
                                                                            monkeypatch):
    x_tr, y_tr, x_va, y_va = _split(*separable_faces)
    run = tmp_path / "run"
    recipe = PLAIN.but("flip_shift", epochs=3, augmentation={"flip": True, "translation": 0.1})
    built = []   # the augmentation layers fit builds from the recipe, kept to read their seed counters

    def keep(recipe, seed=0, build=train.augmentation_for):
        built.append(build(recipe, seed))
        assert set(_seed_counters(built[-1])) == {0}   # Keras restores weights, not these counters
        return built[-1]

    monkeypatch.setattr(train, "augmentation_for", keep)
    # each fit is a fresh kernel: tiny_model seeds everything at start-up, as course.start() does
    train.fit(tiny_model(), x_tr, y_tr, x_va, y_va, run, recipe, time_budget_min=1e-9, verbose=0)
    first = _seed_counters(built[0])
    assert first and all(0 < c < train.RESUME_STREAM_STEP for c in first)   # draws 1, 2, ... were used
    train.fit(tiny_model(), x_tr, y_tr, x_va, y_va, run, recipe, time_budget_min=1e-9, verbose=0)
    # the resumed epoch drew from counter RESUME_STREAM_STEP on: none of the first session's draws again
    assert len(built) == 2 and all(c > train.RESUME_STREAM_STEP for c in _seed_counters(built[1]))


@pytest.mark.slow
def test_run_folder_with_other_settings_is_refused(tmp_path, separable_faces, tiny_model):
    x_tr, y_tr, x_va, y_va = _split(*separable_faces)
    run = tmp_path / "run"
    train.fit(tiny_model(), x_tr, y_tr, x_va, y_va, run, PLAIN, epochs=1, verbose=0)
    with pytest.raises(FerError, match="other settings.*batch_size"):
        train.fit(tiny_model(), x_tr, y_tr, x_va, y_va, run, PLAIN.but("wider", batch_size=32), epochs=1, verbose=0)
    fresh = train.fit(tiny_model(), x_tr, y_tr, x_va, y_va, run, PLAIN.but("wider", batch_size=32), epochs=1,
                      fresh=True, verbose=0)
    assert len(fresh) == 1
    assert json.loads((run / "run.json").read_text())["batch_size"] == 32


@pytest.mark.slow
def test_augmentation_stays_out_of_the_saved_model(tmp_path, separable_faces, tiny_model):
    x_tr, y_tr, x_va, y_va = _split(*separable_faces)
    model = tiny_model()
    n_layers = len(model.layers)
    train.fit(model, x_tr, y_tr, x_va, y_va, tmp_path / "run", recipes.SEED.but("tiny", batch_size=16), epochs=1,
              verbose=0)
    settings = json.loads((tmp_path / "run" / "run.json").read_text())
    assert settings["augmentation"] == ["flip", "rotate", "zoom", "translate", "brightness", "contrast"]
    assert settings["class_weight"] is not None and settings["label_smoothing"] == 0.1   # chapter 5's recipe
    assert len(model.layers) == n_layers
    reloaded = tiny_model()
    reloaded.load_weights(tmp_path / "run" / "best.weights.h5")
    x = x_va[:8, ..., None].astype("float32")
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)


def test_cosine_schedule_warms_up_then_decays_to_zero():
    lr = train.learning_rate_schedule(1e-3, epochs=10, steps_per_epoch=10, warmup_epochs=1, schedule="cosine")
    assert float(lr(0)) == pytest.approx(1e-4)
    assert float(lr(10)) == pytest.approx(1e-3)
    assert float(lr(55)) < 1e-3
    assert float(lr(100)) == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("bad", [dict(optimizer="rmsprop"), dict(schedule="linear")])
def test_unknown_optimizer_or_schedule_is_one_line_error(bad):
    with pytest.raises(FerError, match="unknown (optimizer 'rmsprop'|schedule 'linear')"):
        train.make_optimizer(recipes.SEED.but("bad", **bad), epochs=1, steps_per_epoch=1)


def test_optimizer_follows_the_schedule():
    import keras
    opt = train.make_optimizer(recipes.SEED.but("sgd", optimizer="sgd", learning_rate=0.1, warmup_epochs=0),
                               epochs=2, steps_per_epoch=5)
    assert isinstance(opt, keras.optimizers.SGD) and opt.nesterov
    assert float(opt.learning_rate) == pytest.approx(0.1)


def test_sgd_decays_kernels_but_not_batchnorm_or_biases():
    import keras
    layer_in = keras.Input((4,))
    out = keras.layers.BatchNormalization()(keras.layers.Dense(3)(layer_in))
    model = keras.Model(layer_in, out)
    opt = train.make_optimizer(recipes.SEED.but("sgd", optimizer="sgd", learning_rate=0.1, schedule="constant",
                                                weight_decay=0.5), epochs=1, steps_per_epoch=1)
    opt.build(model.trainable_variables)
    decayed = {v.name for v in model.trainable_variables if opt._use_weight_decay(v)}
    assert decayed == {"kernel"}


def test_fit_takes_its_settings_from_the_recipe_and_records_them(separable_faces, tiny_model):
    """run.json holds the recipe's settings as fit applied them: augmentation, class weights and all."""
    x_tr, y_tr, x_va, y_va = _split(*separable_faces)
    recipe = recipes.SMALL_RESNET
    augmentation, weights = train.augmentation_for(recipe, seed=3), train.class_weights_for(recipe, y_tr)
    record = train.run_record(tiny_model(), recipe, y_tr, y_va, 60, weights, augmentation)
    assert record["augmentation"] == ["flip", "rotate", "zoom", "translate", "brightness", "contrast", "erase"]
    assert record["class_weight"] == {str(k): round(w, 4) for k, w in augment.class_weights(y_tr, power=0.5).items()}
    assert {k: record[k] for k in ("batch_size", "optimizer", "learning_rate", "weight_decay", "ema")} == {
        "batch_size": 128, "optimizer": "sgd", "learning_rate": 0.05, "weight_decay": 5e-3, "ema": 0.999}
    assert "mixup" not in record and "distilled" not in record   # recorded only when used: older runs resume
    assert train.augmentation_for(PLAIN) is None and train.class_weights_for(PLAIN, y_tr) is None


def _always_happy_teacher():
    """A 'teacher' that answers happy (class 3) whatever the face: what a student of it learns is plainly its."""
    import keras
    from keras import layers
    bias = np.zeros(7, "float32")
    bias[3] = 6.0
    return keras.Sequential([keras.Input((48, 48, 1)), layers.Flatten(),
                             layers.Dense(7, activation="softmax", kernel_initializer="zeros",
                                          bias_initializer=keras.initializers.Constant(bias))], name="always_happy")


def test_teacher_matching_shows_the_teacher_the_students_own_augmented_view(tiny_model):
    """Function matching: in training the teacher answers on the very face the student sees (augmented), so a
    teacher identical to the student gives identical probabilities; on the plain face, different ones."""
    import keras
    x = np.random.default_rng(0).uniform(0, 255, (8, 48, 48, 1)).astype("float32")
    student, teacher = tiny_model(seed=0), tiny_model("twin", seed=0)
    augmentation = augment.augmentation_layers(flip=True, rotation=0.1, zoom=0.2, translation=0.2, seed=1)
    matching = train.TeacherMatching(student, teacher, augmentation)
    as_numpy = keras.ops.convert_to_numpy   # any backend's tensor, gradients or not
    out = as_numpy(matching(x, training=True))
    assert out.shape == (8, 14)
    np.testing.assert_allclose(out[:, :7], out[:, 7:], atol=1e-6)
    assert not np.allclose(out[:, 7:], as_numpy(teacher(x)), atol=1e-4)   # the view was not the plain face
    np.testing.assert_allclose(as_numpy(matching(x)), as_numpy(student(x)), atol=1e-6)  # inference: the student
    assert not teacher.trainable


def test_matching_loss_uses_the_teachers_half_in_training_and_the_labels_otherwise():
    import keras
    student = np.array([[0.7, 0.1, 0.05, 0.05, 0.04, 0.03, 0.03]], "float32")
    teacher = np.array([[0.1, 0.6, 0.1, 0.05, 0.05, 0.05, 0.05]], "float32")
    labels = keras.utils.to_categorical([0], 7)
    both = np.concatenate([student, teacher], axis=1)
    assert float(train.matching_loss(labels, both)[0]) == pytest.approx(-np.sum(teacher * np.log(student)), rel=1e-5)
    assert float(train.matching_loss(labels, student)[0]) == pytest.approx(-np.log(0.7), rel=1e-5)
    assert float(train.student_accuracy(labels, both)[0]) == 1.0


def test_a_teacher_takes_no_class_weights_label_smoothing_or_soft_targets(tmp_path, separable_faces, tiny_model):
    x_tr, y_tr, x_va, y_va = _split(*separable_faces)
    teacher = _always_happy_teacher()
    for recipe in (PLAIN.but("smoothed", label_smoothing=0.1), PLAIN.but("weighted", class_weight_power=0.5)):
        with pytest.raises(FerError, match="no class weights nor label smoothing"):
            train.fit(tiny_model(), x_tr, y_tr, x_va, y_va, tmp_path / recipe.name, recipe, teacher=teacher)
    with pytest.raises(FerError, match="teacher or soft targets, not both"):
        train.fit(tiny_model(), x_tr, y_tr, x_va, y_va, tmp_path / "both", PLAIN, teacher=teacher,
                  soft_targets=np.full((len(y_tr), 7), 1 / 7))


@pytest.mark.slow
@pytest.mark.parametrize("mixup", [0.0, 1.0])
def test_a_student_learns_its_teachers_answers_not_the_labels(tmp_path, separable_faces, tiny_model, mixup):
    """Faces told apart by brightness (labels angry and happy, half each) and a teacher that always says happy:
    the student ends up saying happy to every face, so its validation accuracy against the labels is one half."""
    x_tr, y_tr, x_va, y_va = _split(*separable_faces)
    recipe = PLAIN.but("taught", epochs=6, optimizer="adam", learning_rate=0.05, schedule="constant", mixup=mixup)
    student = tiny_model()
    history = train.fit(student, x_tr, y_tr, x_va, y_va, tmp_path / "run", recipe, teacher=_always_happy_teacher(),
                        verbose=0)
    said = student.predict(x_va[..., None].astype("float32"), verbose=0).argmax(1)
    assert np.mean(said == 3) == 1.0
    assert history["val_accuracy"].iloc[-1] == pytest.approx(np.mean(y_va == 3), abs=1e-6)
    assert json.loads((tmp_path / "run" / "run.json").read_text())["teacher"] == "always_happy"
