"""One ``fit()`` for quick and full mode, with the callbacks a real training run needs.

A run lives in a folder (``runs/<name>/``):

- ``best.weights.h5``  the weights with the best validation accuracy so far (the model we keep);
- ``history.csv``      one row per epoch (loss, accuracy, val_loss, val_accuracy, learning rate, seconds);
- ``backup/``          Keras ``BackupAndRestore`` state: rerun the same cell after a crash, a closed laptop or a
                       Colab disconnect and training continues from the last finished epoch;
- ``run.json``         the settings, so a rerun with other settings is refused instead of silently mixed.

The validation split decides everything (which epoch to keep, when to stop); the test split is not passed in.
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np

from .data import NUM_CLASSES, as_model_input
from .errors import FerError


def learning_rate_schedule(learning_rate: float = 1e-3, epochs: int = 30, steps_per_epoch: int = 100,
                           warmup_epochs: float = 1.0, schedule: str = "cosine"):
    """The learning rate as a function of the training step (a Keras schedule), or a float for 'constant'.

    'cosine': linear warm-up from lr/10 over ``warmup_epochs``, then cosine decay to 0 at the last step: big
    steps while the loss surface is rough, small ones to settle.
    """
    import keras
    total = max(1, int(epochs * steps_per_epoch))
    warmup = min(int(warmup_epochs * steps_per_epoch), total - 1)
    if schedule == "cosine":
        return keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=learning_rate / 10 if warmup else learning_rate, decay_steps=total - warmup,
            alpha=0.0, warmup_target=learning_rate if warmup else None, warmup_steps=warmup)
    if schedule == "constant":
        return learning_rate
    raise FerError(f"unknown schedule '{schedule}' (cosine, constant)")


def make_optimizer(name: str = "adam", learning_rate: float = 1e-3, epochs: int = 30, steps_per_epoch: int = 100,
                   warmup_epochs: float = 1.0, schedule: str = "cosine", weight_decay: float = 0.0):
    """An optimizer following :func:`learning_rate_schedule`. ``name``: 'adam', 'adamw' or 'sgd' (Nesterov
    momentum 0.9)."""
    import keras
    lr = learning_rate_schedule(learning_rate, epochs, steps_per_epoch, warmup_epochs, schedule)
    if name == "adam":
        return keras.optimizers.Adam(lr)
    if name == "adamw":
        return keras.optimizers.AdamW(lr, weight_decay=weight_decay or 1e-4)
    if name == "sgd":
        return keras.optimizers.SGD(lr, momentum=0.9, nesterov=True, weight_decay=weight_decay or None)
    raise FerError(f"unknown optimizer '{name}' (adam, adamw, sgd)")


class TimeBudget:
    """Stop training cleanly after ``minutes`` (checked at the end of each epoch); rerunning resumes."""

    def __new__(cls, minutes: float):
        import keras

        class _TimeBudget(keras.callbacks.Callback):
            def on_train_begin(self, logs=None):
                self.started = time.monotonic()
                self.stopped_early = False

            def on_epoch_end(self, epoch, logs=None):
                if (time.monotonic() - self.started) / 60 > minutes:
                    self.model.stop_training = True
                    self.stopped_early = True
                    print(f"time budget of {minutes:g} min reached after epoch {epoch + 1}: stopping; "
                          f"rerun to continue from here")

        return _TimeBudget()


def _best_weights_callback(model, path: Path, monitor: str, initial_best: float):
    """Save ``model`` (the bare network, not the augmenting wrapper) whenever ``monitor`` improves."""
    import keras

    class BestWeights(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.best = initial_best
            self.best_epoch = None

        def on_epoch_end(self, epoch, logs=None):
            value = (logs or {}).get(monitor)
            if value is not None and value > self.best:
                self.best, self.best_epoch = float(value), epoch + 1
                model.save_weights(path)

    return BestWeights()


class _EpochClock:
    def __new__(cls):
        import keras

        class EpochClock(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                self.t0 = time.monotonic()

            def on_epoch_end(self, epoch, logs=None):
                if logs is not None:
                    logs["seconds"] = round(time.monotonic() - self.t0, 1)
                    lr = self.model.optimizer.learning_rate
                    logs["learning_rate"] = float(np.asarray(lr))

        return EpochClock()


def read_history(run_dir: str | Path):
    """The run's per-epoch log as a DataFrame (one row per epoch, the last record wins after a resume)."""
    import pandas as pd
    path = Path(run_dir) / "history.csv"
    if not path.exists():
        return pd.DataFrame()
    history = pd.read_csv(path)
    if history.empty:
        return history
    history["epoch"] = history["epoch"].astype(int) + 1  # Keras counts from 0, people from 1
    return history.drop_duplicates("epoch", keep="last").reset_index(drop=True)


def fit(model, x_train, y_train, x_val, y_val, run_dir: str | Path, *, epochs: int = 30, batch_size: int = 64,
        augmentation=None, class_weight: dict | None = None, optimizer: str = "adam", learning_rate: float = 1e-3,
        schedule: str = "cosine", warmup_epochs: float = 1.0, weight_decay: float = 0.0,
        label_smoothing: float = 0.0, patience: int | None = None, time_budget_min: float | None = None,
        fresh: bool = False, verbose: int = 2):
    """Train ``model`` on (x_train, y_train), select on (x_val, y_val), and return the history DataFrame.

    On return ``model`` holds the best-on-validation weights. ``augmentation`` (a Keras layer, e.g. from
    :func:`fer_helpers.augment.augmentation_layers`) is applied in front of the model during training only.
    A run folder that already finished is not retrained: its best weights are loaded (``fresh=True`` restarts).
    """
    import shutil
    import keras

    run_dir = Path(run_dir)
    settings = {"model": model.name, "params": int(model.count_params()), "train": int(len(y_train)),
                "val": int(len(y_val)), "epochs": epochs, "batch_size": batch_size, "optimizer": optimizer,
                "learning_rate": learning_rate, "schedule": schedule, "warmup_epochs": warmup_epochs,
                "weight_decay": weight_decay, "label_smoothing": label_smoothing,
                "class_weight": None if class_weight is None else {str(k): round(v, 4) for k, v in class_weight.items()},
                "augmentation": None if augmentation is None else [l.name for l in getattr(augmentation, "layers", [augmentation])]}
    settings_path = run_dir / "run.json"
    if fresh and run_dir.exists():
        shutil.rmtree(run_dir)
    if settings_path.exists():
        previous = json.loads(settings_path.read_text())
        if previous != settings:
            changed = sorted(k for k in settings if previous.get(k) != settings[k])
            raise FerError(f"{run_dir}: holds a run with other settings ({', '.join(changed)}); "
                           f"pass fresh=True or another run folder")
    run_dir.mkdir(parents=True, exist_ok=True)
    settings_path.write_text(json.dumps(settings, indent=1))
    best_path = run_dir / "best.weights.h5"

    history = read_history(run_dir)
    done = len(history)
    if done >= epochs or (done and (run_dir / "finished").exists()):
        print(f"{run_dir.name}: finished earlier ({done} epochs); loading its best weights")
        model.load_weights(best_path)
        return history
    if done:
        print(f"{run_dir.name}: resuming after epoch {done} of {epochs}")

    trainer = model
    if augmentation is not None:
        trainer = keras.Sequential([keras.Input(model.input_shape[1:]), augmentation, model], name=f"{model.name}_training")
    steps = math.ceil(len(y_train) / batch_size)
    trainer.compile(
        optimizer=make_optimizer(optimizer, learning_rate, epochs, steps, warmup_epochs, schedule, weight_decay),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=label_smoothing),
        metrics=["accuracy"])

    best_so_far = float(history["val_accuracy"].max()) if done else -math.inf
    best = _best_weights_callback(model, best_path, "val_accuracy", best_so_far)
    callbacks = [
        keras.callbacks.BackupAndRestore(str(run_dir / "backup"), delete_checkpoint=False),
        _EpochClock(),
        best,
        keras.callbacks.CSVLogger(str(run_dir / "history.csv"), append=True),
    ]
    if patience:
        callbacks.append(keras.callbacks.EarlyStopping("val_accuracy", patience=patience, mode="max"))
    budget = TimeBudget(time_budget_min) if time_budget_min else None
    if budget is not None:
        callbacks.append(budget)

    y_train_1hot = keras.utils.to_categorical(y_train, NUM_CLASSES)
    y_val_1hot = keras.utils.to_categorical(y_val, NUM_CLASSES)
    trainer.fit(as_model_input(x_train), y_train_1hot, validation_data=(as_model_input(x_val), y_val_1hot),
                epochs=epochs, batch_size=batch_size, class_weight=class_weight, callbacks=callbacks,
                verbose=verbose)
    if not (budget is not None and budget.stopped_early):
        (run_dir / "finished").write_text("")
    history = read_history(run_dir)
    if best_path.exists():
        model.load_weights(best_path)
        best_row = history.loc[history["val_accuracy"].idxmax()]
        print(f"best validation accuracy {best_row['val_accuracy']:.4f} at epoch {int(best_row['epoch'])} "
              f"of {len(history)}: those weights are now in the model")
    return history
