"""Chapter 5 writes the Keras training loop by hand (compile, callbacks, fit), then shows ``train.fit`` as the same
thing packaged. These tests hold the packaged version to that claim: on a small seeded run both give the same
weights, and a change that alters training (another learning rate, no label smoothing) does not."""
import math

import numpy as np
import pytest

from fer_helpers import augment, train
from fer_helpers.data import NUM_CLASSES, as_model_input

EPOCHS, BATCH, LR, SMOOTHING, PATIENCE = 3, 16, 1e-2, 0.1, 5


def _split(x, y):
    return x[:90], y[:90], x[90:], y[90:]


def _session(tiny_model):
    """A fresh start, as a chapter's kernel is: everything seeded, then the model and its augmentation."""
    model = tiny_model(seed=7)
    augmentation = augment.augmentation_layers(flip=True, rotation=0.03, zoom=0, translation=0.1, brightness=0,
                                               contrast=0)
    return model, augmentation


def fit_by_hand(model, augmentation, x_tr, y_tr, x_va, y_va, run_dir, class_weight, learning_rate=LR,
                label_smoothing=SMOOTHING):
    """Chapter 5's cells, section 5.5: the schedule, compile, the callbacks and fit, written with Keras alone."""
    import keras
    steps_per_epoch = math.ceil(len(y_tr) / BATCH)
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=learning_rate / 10, warmup_target=learning_rate, warmup_steps=steps_per_epoch,
        decay_steps=(EPOCHS - 1) * steps_per_epoch, alpha=0.0)
    trainer = keras.Sequential([keras.Input(model.input_shape[1:]), augmentation, model])
    trainer.compile(optimizer=keras.optimizers.Adam(schedule),
                    loss=keras.losses.CategoricalCrossentropy(label_smoothing=label_smoothing),
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
                epochs=EPOCHS, batch_size=BATCH, class_weight=class_weight, callbacks=callbacks, verbose=0)
    trainer.load_weights(best)   # the best epoch, chosen on validation
    return model


def _by_hand(tmp_path, data, tiny_model, **changes):
    x_tr, y_tr, x_va, y_va = data
    model, augmentation = _session(tiny_model)
    return fit_by_hand(model, augmentation, x_tr, y_tr, x_va, y_va, tmp_path, augment.class_weights(y_tr, power=0.5),
                       **changes).get_weights()


def _packaged(tmp_path, data, tiny_model):
    x_tr, y_tr, x_va, y_va = data
    model, augmentation = _session(tiny_model)
    train.fit(model, x_tr, y_tr, x_va, y_va, tmp_path, epochs=EPOCHS, batch_size=BATCH, augmentation=augmentation,
              class_weight=augment.class_weights(y_tr, power=0.5), optimizer="adam", learning_rate=LR,
              warmup_epochs=1, label_smoothing=SMOOTHING, patience=PATIENCE, verbose=0)
    return model.get_weights()


def _largest_difference(a, b):
    return max(float(np.abs(u - v).max()) for u, v in zip(a, b))


@pytest.mark.slow
def test_the_hand_written_loop_and_train_fit_give_the_same_weights(tmp_path, separable_faces, tiny_model):
    data = _split(*separable_faces)
    by_hand = _by_hand(tmp_path / "hand", data, tiny_model)
    packaged = _packaged(tmp_path / "packaged", data, tiny_model)
    initial = tiny_model(seed=7).get_weights()
    assert _largest_difference(by_hand, initial) > 1e-3, "the run did not train"
    assert _largest_difference(by_hand, packaged) < 1e-5
    # both wrote a log with one row per epoch, and the best weights
    for run in ("hand", "packaged"):
        assert len(train.read_history(tmp_path / run)) == EPOCHS
        assert (tmp_path / run / "best.weights.h5").exists()


@pytest.mark.slow
@pytest.mark.parametrize("change", [{"learning_rate": LR / 2}, {"label_smoothing": 0.0}])
def test_the_comparison_sees_a_change_in_the_recipe(tmp_path, separable_faces, tiny_model, change):
    """The equality above is not vacuous: the same comparison tells a different recipe apart."""
    data = _split(*separable_faces)
    changed = _by_hand(tmp_path / "hand", data, tiny_model, **change)
    packaged = _packaged(tmp_path / "packaged", data, tiny_model)
    assert _largest_difference(changed, packaged) > 1e-4
