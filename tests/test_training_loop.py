"""Chapter 5 writes the Keras training loop by hand (compile, callbacks, fit), then shows ``train.fit`` as the same
thing packaged. These tests hold the packaged version to that claim: on a small seeded run both give the same
weights, and a change that alters training (another learning rate, no label smoothing, other augmentation draws)
does not."""
import math

import numpy as np
import pytest

from fer_helpers import augment, recipes, train
from fer_helpers.data import NUM_CLASSES, as_model_input

SEED, PATIENCE = 7, 5
#: chapter 5's recipe for a small run: what the hand-written loop reads its settings from, and what train.fit gets
RECIPE = recipes.SEED.but("loop", epochs=3, batch_size=16, learning_rate=1e-2,
                          augmentation=dict(rotation=0.03, zoom=0, brightness=0, contrast=0))


def _split(x, y):
    return x[:90], y[:90], x[90:], y[90:]


def fit_by_hand(model, x_tr, y_tr, x_va, y_va, run_dir, recipe=RECIPE, seed=SEED):
    """Chapter 5's cells, sections 5.3 and 5.5: the augmentation and class weights, the schedule, compile, the
    callbacks and fit, written with Keras alone."""
    import keras
    augmentation = augment.augmentation_layers(**recipe.augmentation, seed=seed)
    class_weight = augment.class_weights(y_tr, power=recipe.class_weight_power)
    steps_per_epoch = math.ceil(len(y_tr) / recipe.batch_size)
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=recipe.learning_rate / 10, warmup_target=recipe.learning_rate,
        warmup_steps=steps_per_epoch, decay_steps=(recipe.epochs - 1) * steps_per_epoch, alpha=0.0)
    trainer = keras.Sequential([keras.Input(model.input_shape[1:]), augmentation, model])
    trainer.compile(optimizer=keras.optimizers.Adam(schedule),
                    loss=keras.losses.CategoricalCrossentropy(label_smoothing=recipe.label_smoothing),
                    metrics=["accuracy"])
    run_dir.mkdir(parents=True, exist_ok=True)   # CSVLogger does not create its folder
    best = run_dir / "best.weights.h5"
    callbacks = [
        keras.callbacks.BackupAndRestore(str(run_dir / "backup"), delete_checkpoint=False),
        keras.callbacks.ModelCheckpoint(str(best), monitor="val_accuracy", mode="max", save_best_only=True,
                                        save_weights_only=True),
        keras.callbacks.CSVLogger(str(run_dir / "history.csv"), append=True),
        keras.callbacks.EarlyStopping(monitor="val_accuracy", mode="max", patience=PATIENCE),
    ]
    trainer.fit(as_model_input(x_tr), keras.utils.to_categorical(y_tr, NUM_CLASSES),
                validation_data=(as_model_input(x_va), keras.utils.to_categorical(y_va, NUM_CLASSES)),
                epochs=recipe.epochs, batch_size=recipe.batch_size, class_weight=class_weight, callbacks=callbacks,
                verbose=0)
    trainer.load_weights(best)   # the best epoch, chosen on validation
    return model


def _by_hand(tmp_path, data, tiny_model, **changes):
    """A fresh start, as a chapter's kernel is (everything seeded, then the model), and the loop by hand."""
    recipe = RECIPE.but("changed", **changes) if changes else RECIPE
    return fit_by_hand(tiny_model(seed=SEED), *data, tmp_path, recipe=recipe).get_weights()


def _by_hand_other_draws(tmp_path, data, tiny_model):
    return fit_by_hand(tiny_model(seed=SEED), *data, tmp_path, seed=SEED + 1).get_weights()


def _packaged(tmp_path, data, tiny_model):
    model = tiny_model(seed=SEED)
    train.fit(model, *data, tmp_path, RECIPE, patience=PATIENCE, seed=SEED, verbose=0)
    return model.get_weights()


def _largest_difference(a, b):
    return max(float(np.abs(u - v).max()) for u, v in zip(a, b))


def test_the_recipe_of_these_runs_is_chapter_5s_but_for_size_rate_and_transforms():
    assert RECIPE.optimizer == "adam" and RECIPE.schedule == "cosine" and RECIPE.warmup_epochs == 1.0
    assert RECIPE.label_smoothing > 0 and RECIPE.class_weight_power == 0.5 and not RECIPE.mixup and not RECIPE.ema
    assert {k for k, v in RECIPE.augmentation.items() if v} == {"flip", "rotation", "translation"}


@pytest.mark.slow
def test_the_hand_written_loop_and_train_fit_give_the_same_weights(tmp_path, separable_faces, tiny_model):
    data = _split(*separable_faces)
    by_hand = _by_hand(tmp_path / "hand", data, tiny_model)
    packaged = _packaged(tmp_path / "packaged", data, tiny_model)
    initial = tiny_model(seed=SEED).get_weights()
    assert _largest_difference(by_hand, initial) > 1e-3, "the run did not train"
    assert _largest_difference(by_hand, packaged) < 1e-5
    # both wrote a log with one row per epoch, and the best weights
    for run in ("hand", "packaged"):
        assert len(train.read_history(tmp_path / run)) == RECIPE.epochs
        assert (tmp_path / run / "best.weights.h5").exists()


@pytest.mark.slow
@pytest.mark.parametrize("change", [{"learning_rate": RECIPE.learning_rate / 2}, {"label_smoothing": 0.0},
                                    "other augmentation draws"])
def test_the_comparison_sees_a_change_in_the_recipe(tmp_path, separable_faces, tiny_model, change):
    """The equality above is not vacuous: the same comparison tells a different recipe (or seed) apart."""
    data = _split(*separable_faces)
    if isinstance(change, dict):
        changed = _by_hand(tmp_path / "hand", data, tiny_model, **change)
    else:
        changed = _by_hand_other_draws(tmp_path / "hand", data, tiny_model)
    packaged = _packaged(tmp_path / "packaged", data, tiny_model)
    assert _largest_difference(changed, packaged) > 1e-4
