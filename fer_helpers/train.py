"""One ``fit()`` for quick and full mode, with the callbacks a real training run needs.

A run lives in a folder (``runs/<name>/``):

- ``best.weights.h5``  the weights with the best validation accuracy so far (the model we keep);
- ``history.csv``      one row per epoch (loss, accuracy, val_loss, val_accuracy, learning rate, seconds);
- ``backup/``          Keras ``BackupAndRestore`` state: rerun the same cell after a crash, a closed laptop or a
                       Colab disconnect and training continues from the last finished epoch;
- ``run.json``         the settings, so a rerun with other settings is refused instead of silently mixed.

What to train with comes from a :class:`fer_helpers.recipes.Recipe`, the one place where the course's
hyperparameters and their defaults are written; ``fit`` takes the model, the data, a run folder and a recipe.
The validation split decides everything (which epoch to keep, when to stop); the test split is not passed in.
"""
from __future__ import annotations

import json
import math
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING

import keras
import numpy as np
import pandas as pd

from . import augment
from .data import NUM_CLASSES, as_model_input
from .errors import FerError

if TYPE_CHECKING:  # for the type hints only: recipes imports this module
    from .recipes import Recipe


def learning_rate_schedule(learning_rate: float, epochs: int, steps_per_epoch: int, warmup_epochs: float,
                           schedule: str):
    """The learning rate as a function of the training step (a Keras schedule), or a float for 'constant'.

    'cosine': linear warm-up from lr/10 over ``warmup_epochs``, then cosine decay to 0 at the last step: big
    steps while the loss surface is rough, small ones to settle.
    'onecycle': a long warm-up from lr/25 over the first 30% of training (``warmup_epochs`` is ignored), then the
    same cosine decay: the "one-cycle" policy, which lets a high peak rate act as a regulariser.
    """
    total = max(1, int(epochs * steps_per_epoch))
    warmup = min(int(warmup_epochs * steps_per_epoch), total - 1)
    if schedule == "cosine":
        return keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=learning_rate / 10 if warmup else learning_rate, decay_steps=total - warmup,
            alpha=0.0, warmup_target=learning_rate if warmup else None, warmup_steps=warmup)
    if schedule == "onecycle":
        warmup = min(int(0.3 * total), total - 1)
        return keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=learning_rate / 25, decay_steps=total - warmup, alpha=0.0,
            warmup_target=learning_rate, warmup_steps=warmup)
    if schedule == "constant":
        return learning_rate
    raise FerError(f"unknown schedule '{schedule}' (cosine, onecycle, constant)")


def make_optimizer(recipe: Recipe, epochs: int, steps_per_epoch: int):
    """The optimizer of ``recipe`` for a run of ``epochs`` epochs, following :func:`learning_rate_schedule`.
    ``recipe.optimizer``: 'adam', 'adamw' or 'sgd' (Nesterov momentum 0.9). ``recipe.ema`` (e.g. 0.999) also
    keeps an exponential moving average of the weights (Polyak averaging), which :func:`fit` evaluates and keeps."""
    lr = learning_rate_schedule(recipe.learning_rate, epochs, steps_per_epoch, recipe.warmup_epochs, recipe.schedule)
    averaging = {"use_ema": True, "ema_momentum": recipe.ema} if recipe.ema else {}
    name, weight_decay = recipe.optimizer, recipe.weight_decay
    if name == "adam":
        return keras.optimizers.Adam(lr, **averaging)
    if name == "adamw":
        return keras.optimizers.AdamW(lr, weight_decay=weight_decay or 1e-4, **averaging)
    if name == "sgd":
        optimizer = keras.optimizers.SGD(lr, momentum=0.9, nesterov=True, weight_decay=weight_decay or None,
                                         **averaging)
        # decay the convolution and dense kernels only: shrinking BatchNorm's scale and shift or a bias toward zero
        # limits no capacity, it only fights the normalisation
        optimizer.exclude_from_weight_decay(var_names=["gamma", "beta", "bias"])
        return optimizer
    raise FerError(f"unknown optimizer '{name}' (adam, adamw, sgd)")


class TimeBudget(keras.callbacks.Callback):
    """Stop training cleanly after ``minutes`` (checked at the end of each epoch); rerunning resumes."""

    def __init__(self, minutes: float):
        super().__init__()
        self.minutes = minutes

    def on_train_begin(self, logs=None):
        self.started = time.monotonic()
        self.stopped_early = False

    def on_epoch_end(self, epoch, logs=None):
        if (time.monotonic() - self.started) / 60 > self.minutes:
            self.model.stop_training = True
            self.stopped_early = True
            print(f"time budget of {self.minutes:g} min reached after epoch {epoch + 1}: stopping; "
                  f"rerun to continue from here")


class BestWeights(keras.callbacks.Callback):
    """Save ``network`` (the bare network, not the augmenting wrapper being trained) to ``path`` whenever
    ``monitor`` beats ``best``; ``best`` and ``best_epoch`` say where it stands."""

    def __init__(self, network, path: str | Path, monitor: str = "val_accuracy", best: float = -math.inf):
        super().__init__()
        self.network, self.path, self.monitor = network, Path(path), monitor
        self.best, self.best_epoch = best, None

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is not None and value > self.best:
            self.best, self.best_epoch = float(value), epoch + 1
            self.network.save_weights(self.path)


class EpochClock(keras.callbacks.Callback):
    """Time every epoch: into the epoch's logs (``seconds``, with the ``learning_rate`` it ended on, so
    history.csv has both) and into its own ``seconds`` list (chapter 11's benchmarks read that)."""

    def on_train_begin(self, logs=None):
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self.t0 = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self.t0)
        if logs is not None:
            logs["seconds"] = round(self.seconds[-1], 1)
            lr = self.model.optimizer.learning_rate
            logs["learning_rate"] = float(keras.ops.convert_to_numpy(lr))   # a tensor on any device


class MixupBatches(keras.utils.PyDataset):
    """Batches of mixup (Zhang et al., 2018): each face is blended with another face of the same batch,
    ``lam * a + (1 - lam) * b``, and so are their label vectors and class weights; ``lam`` is drawn from
    Beta(alpha, alpha) per batch (alpha 0.2: most blends stay close to one of the two faces). The order is
    reshuffled every epoch."""

    def __init__(self, x, targets, batch_size: int, alpha: float = 0.2, class_weight: dict | None = None,
                 seed: int = 0):
        super().__init__()
        self.x = as_model_input(x)
        self.targets = np.asarray(targets, dtype="float32")
        self.batch_size, self.alpha = batch_size, alpha
        weights = np.ones(NUM_CLASSES, "float32")
        for k, w in (class_weight or {}).items():
            weights[int(k)] = w
        self.sample_weight = self.targets @ weights  # a soft label gets the blend of its classes' weights
        self.rng = np.random.default_rng(seed)
        self.order = self.rng.permutation(len(self.x))

    def __len__(self):
        return math.ceil(len(self.x) / self.batch_size)

    def __getitem__(self, i):
        idx = self.order[i * self.batch_size:(i + 1) * self.batch_size]
        partner = self.rng.permutation(len(idx))
        lam = np.float32(self.rng.beta(self.alpha, self.alpha))
        x, t, w = self.x[idx], self.targets[idx], self.sample_weight[idx]
        return (lam * x + (1 - lam) * x[partner], lam * t + (1 - lam) * t[partner],
                lam * w + (1 - lam) * w[partner])

    def on_epoch_end(self):
        self.order = self.rng.permutation(len(self.x))


class TeacherMatching(keras.Model):
    """Distillation by function matching (Beyer et al., 2022, "A good teacher is patient and consistent"): in
    training, the student and a frozen teacher see the very same augmented (and, with mixup, blended) faces, and
    the student learns the teacher's probabilities on them; on validation it is the student alone.

    Why not the teacher's answers on the plain training faces, computed once: the teachers trained on those
    faces and partly learnt them by heart, so there their answers are little more than the labels
    (``fer_helpers/weights/stages/README.md``, the distillation not kept). A blend of two faces, shifted and
    erased at random, is a face no teacher has seen: its answer there is what it has learnt, not what it
    remembers. In training the model's output is the student's seven probabilities followed by the teacher's
    (:func:`matching_loss` and :func:`student_accuracy` split them); outside training, the student's alone."""

    def __init__(self, student, teacher, augmentation=None, **kwargs):
        super().__init__(**kwargs)
        self.student, self.teacher, self.augmentation = student, teacher, augmentation
        self.teacher.trainable = False

    def build(self, input_shape):   # BackupAndRestore needs a built model; the student and teacher are built
        if self.augmentation is not None:
            self.augmentation.build(input_shape)
        self.built = True

    def call(self, x, training=False):
        if not training:
            return self.student(x, training=False)
        if self.augmentation is not None:
            x = self.augmentation(x, training=True)
        taught = keras.ops.stop_gradient(self.teacher(x, training=False))
        return keras.ops.concatenate([self.student(x, training=True), taught], axis=-1)


def matching_loss(y_true, y_pred):
    """Cross-entropy of the student's probabilities against the teacher's when ``y_pred`` carries both
    (:class:`TeacherMatching` in training), against the labels otherwise (validation)."""
    if y_pred.shape[-1] == 2 * NUM_CLASSES:
        y_true, y_pred = y_pred[:, NUM_CLASSES:], y_pred[:, :NUM_CLASSES]
    return keras.losses.categorical_crossentropy(y_true, y_pred)


def student_accuracy(y_true, y_pred):
    """Accuracy of the student's probabilities (the first seven columns) against the labels."""
    return keras.metrics.categorical_accuracy(y_true, y_pred[:, :NUM_CLASSES])


#: How far a resumed run moves each random stream per epoch already trained (far beyond what one run draws).
RESUME_STREAM_STEP = 1_000_003


def fresh_random_streams(model, epochs_done: int, seed: int = 0) -> int:
    """Give a resumed run random draws it has not used yet; returns how many seed generators were moved.

    ``BackupAndRestore`` restores the weights and the optimizer, but Keras does not save the state of the
    random layers' seed generators (augmentation, dropout) with them, and the chapters seed every random
    generator at start-up. Without this, each resumed session would replay the first session's augmentations,
    dropout masks and batch order epoch by epoch: the network would see the very same distorted faces again
    and learn them by heart (a resumed epoch showed training accuracy 7 points up, validation 4 points down).
    Each seed generator keeps its seed and jumps its counter to ``epochs_done * RESUME_STREAM_STEP``; the
    global seed (batch order) moves the same way.
    """
    keras.utils.set_random_seed(seed + RESUME_STREAM_STEP * epochs_done)
    moved = 0
    for variable in model.variables:   # seed generator states are listed among a layer's variables
        if variable.name.endswith("seed_generator_state"):
            state = keras.ops.convert_to_numpy(variable)
            variable.assign(np.array([state[0], RESUME_STREAM_STEP * epochs_done], dtype=state.dtype))
            moved += 1
    return moved


def read_history(run_dir: str | Path):
    """The run's per-epoch log as a DataFrame (one row per epoch, the last record wins after a resume)."""
    path = Path(run_dir) / "history.csv"
    if not path.exists():
        return pd.DataFrame()
    history = pd.read_csv(path)
    if history.empty:
        return history
    history["epoch"] = history["epoch"].astype(int) + 1  # Keras counts from 0, people from 1
    return history.drop_duplicates("epoch", keep="last").reset_index(drop=True)


def augmentation_for(recipe: Recipe, seed: int = 0):
    """``recipe``'s augmentation layers, seeded with ``seed`` (:func:`fer_helpers.augment.augmentation_layers`),
    or None when the recipe switches every transform off."""
    if not any(recipe.augmentation.values()):
        return None
    return augment.augmentation_layers(**recipe.augmentation, seed=seed)


def class_weights_for(recipe: Recipe, y_train):
    """``recipe``'s class weights for the labels ``y_train`` (:func:`fer_helpers.augment.class_weights`), or None
    when ``recipe.class_weight_power`` is 0."""
    return augment.class_weights(y_train, power=recipe.class_weight_power) if recipe.class_weight_power else None


def run_record(model, recipe: Recipe, y_train, y_val, epochs: int, class_weight=None, augmentation=None,
               distilled: bool = False, teacher: str | None = None) -> dict:
    """What ``run.json`` holds for a run: the model, the data sizes and the recipe's settings as they were applied.
    Its keys and their order are fixed (runs made earlier resume only if a rerun records the same); settings added
    later (mixup, ema, distillation, a teacher) are recorded only when used, for the same reason."""
    record = {"model": model.name, "params": int(model.count_params()), "train": int(len(y_train)),
              "val": int(len(y_val)), "epochs": epochs}
    for key in ("batch_size", "optimizer", "learning_rate", "schedule", "warmup_epochs", "weight_decay",
                "label_smoothing"):
        record[key] = getattr(recipe, key)
    record["class_weight"] = None if class_weight is None else {str(k): round(v, 4) for k, v in class_weight.items()}
    record["augmentation"] = None if augmentation is None else [layer.name for layer in augmentation.layers]
    record.update({k: v for k, v in {"mixup": recipe.mixup, "ema": recipe.ema, "distilled": distilled,
                                     "teacher": teacher}.items() if v})
    return record


def fit(model, x_train, y_train, x_val, y_val, run_dir: str | Path, recipe: Recipe, *, epochs: int | None = None,
        seed: int = 0, soft_targets=None, teacher=None, patience: int | None = None,
        time_budget_min: float | None = None, fresh: bool = False, verbose: int = 2):
    """Train ``model`` on (x_train, y_train) with ``recipe``'s settings, select on (x_val, y_val), and return the
    history DataFrame. On return ``model`` holds the best-on-validation weights.

    From the recipe: batch size, optimizer, learning rate and schedule, weight decay, label smoothing, the class
    weights (computed on ``y_train``), the augmentation (layers in front of the model during training only,
    seeded with ``seed``), mixup (blends of random pairs of faces and of their labels, :class:`MixupBatches`) and
    ``ema`` (validate and keep the moving average of the weights instead of the raw weights). Its architecture is
    ``model``'s business (:func:`fer_helpers.recipes.train_recipe` builds the model from the recipe too).
    Options of this run, not of the recipe: ``epochs`` (default: the recipe's), ``seed``, ``soft_targets`` (n x 7
    probabilities, e.g. an ensemble's, instead of the one-hot labels: distillation), ``teacher`` (a Keras model:
    learn its probabilities on the very faces the student is shown, :class:`TeacherMatching`), ``patience`` (stop
    after that many epochs without a better validation accuracy), ``time_budget_min`` (stop after that many
    minutes; a rerun resumes) and ``verbose``. A run folder that already finished is not retrained: its best
    weights are loaded (``fresh=True`` starts over).
    """
    run_dir = Path(run_dir)
    epochs = epochs or recipe.epochs
    augmentation = augmentation_for(recipe, seed)
    class_weight = class_weights_for(recipe, y_train)
    if teacher is not None and soft_targets is not None:
        raise FerError(f"{run_dir}: give a teacher or soft targets, not both")
    if teacher is not None and (class_weight is not None or recipe.label_smoothing):
        raise FerError(f"recipe '{recipe.name}': a teacher's probabilities take no class weights nor label "
                       f"smoothing (set class_weight_power and label_smoothing to 0)")
    settings = run_record(model, recipe, y_train, y_val, epochs, class_weight, augmentation,
                          distilled=soft_targets is not None, teacher=None if teacher is None else teacher.name)
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
    loss = keras.losses.CategoricalCrossentropy(label_smoothing=recipe.label_smoothing)
    metric = "accuracy"
    if teacher is not None:
        trainer = TeacherMatching(model, teacher, augmentation, name=f"{model.name}_matching_{teacher.name}")
        trainer.build((None, *model.input_shape[1:]))
        loss, metric = matching_loss, keras.metrics.MeanMetricWrapper(student_accuracy, name="accuracy")
    elif augmentation is not None:
        trainer = keras.Sequential([keras.Input(model.input_shape[1:]), augmentation, model],
                                   name=f"{model.name}_training")
    if done:
        fresh_random_streams(trainer, done, seed)
    trainer.compile(
        optimizer=make_optimizer(recipe, epochs, steps_per_epoch=math.ceil(len(y_train) / recipe.batch_size)),
        loss=loss, metrics=[metric])

    best_so_far = float(history["val_accuracy"].max()) if done else -math.inf
    best = BestWeights(model, best_path, "val_accuracy", best_so_far)
    callbacks = [
        keras.callbacks.BackupAndRestore(str(run_dir / "backup"), delete_checkpoint=False),
        EpochClock(),
        # with EMA: validate with the averaged weights, and hand them to the callbacks after this one
        *([keras.callbacks.SwapEMAWeights(swap_on_epoch=True)] if recipe.ema else []),
        best,
        keras.callbacks.CSVLogger(str(run_dir / "history.csv"), append=True),
    ]
    if patience:
        callbacks.append(keras.callbacks.EarlyStopping("val_accuracy", patience=patience, mode="max"))
    budget = TimeBudget(time_budget_min) if time_budget_min else None
    if budget is not None:
        callbacks.append(budget)

    targets = (keras.utils.to_categorical(y_train, NUM_CLASSES) if soft_targets is None
               else np.asarray(soft_targets, dtype="float32"))
    y_val_1hot = keras.utils.to_categorical(y_val, NUM_CLASSES)
    validation = (as_model_input(x_val), y_val_1hot)
    if recipe.mixup:
        batches = MixupBatches(x_train, targets, recipe.batch_size, alpha=recipe.mixup, class_weight=class_weight,
                               seed=seed + RESUME_STREAM_STEP * done)
        trainer.fit(batches, validation_data=validation, epochs=epochs, callbacks=callbacks, verbose=verbose)
    else:
        trainer.fit(as_model_input(x_train), targets, validation_data=validation, epochs=epochs,
                    batch_size=recipe.batch_size, class_weight=class_weight, callbacks=callbacks, verbose=verbose)
    if not (budget is not None and budget.stopped_early):
        (run_dir / "finished").write_text("")
    history = read_history(run_dir)
    if best_path.exists():
        model.load_weights(best_path)
        best_row = history.loc[history["val_accuracy"].idxmax()]
        print(f"best validation accuracy {best_row['val_accuracy']:.4f} at epoch {int(best_row['epoch'])} "
              f"of {len(history)}: those weights are now in the model")
    return history
