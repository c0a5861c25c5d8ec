"""Training recipes by name, and chapter 9's ladder: one change at a time, each measured on the same validation.

A :class:`Recipe` is everything :func:`fer_helpers.train.fit` needs besides the data: architecture, optimiser,
schedule, epochs, regularisers. It is the one place where the course's hyperparameters and their defaults are
written: ``fit`` reads them from a recipe, and the command line builds its recipe by name (:func:`named`) and
``.but(...)``. ``SEED`` is chapter 5's recipe for the original CNN. ``CPU_LADDER`` (and ``LADDER``, for an
accelerator) is the list of steps chapter 9 climbs: each :class:`Step` changes one thing of the best recipe so
far (not of the previous step), and :func:`climb` keeps the change only if validation accuracy goes up. So the
table it returns says, for each idea, what it did on *this* data, measured the same way, and the last kept recipe
is the course's best single model. Test data never enters: selection is on the validation split carved from train.

    recipe = recipes.named("seed").but("seed_half_rate", learning_rate=5e-4)
    model, history = recipes.train_recipe(recipe, x_train, y_train, x_val, y_val, "runs/09_seed_half_rate")
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np

from . import evaluate, models, train
from .errors import FerError, reason


@dataclass(frozen=True)
class Recipe:
    """A complete training recipe (defaults: chapter 5's, for the original CNN)."""
    name: str = "seed"
    architecture: str = "seed_cnn"
    model_kwargs: dict = field(default_factory=dict)
    epochs: int = 60
    batch_size: int = 64
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    schedule: str = "cosine"
    warmup_epochs: float = 1.0
    weight_decay: float = 0.0
    label_smoothing: float = 0.1
    class_weight_power: float = 0.5          # 0.5: square-root class weights (chapter 3); 0: none
    augmentation: dict = field(default_factory=lambda: dict(
        flip=True, rotation=0.03, zoom=0.1, translation=0.1, brightness=0.1, contrast=0.1))
    mixup: float = 0.0
    ema: float | None = None

    def but(self, name: str, **changes) -> Recipe:
        """A copy with ``changes``; ``model_kwargs`` and ``augmentation`` are merged, not replaced (except
        ``model_kwargs`` when the architecture changes: another network has other settings)."""
        new_architecture = changes.get("architecture", self.architecture) != self.architecture
        for key in ("model_kwargs", "augmentation"):
            if key in changes and not (key == "model_kwargs" and new_architecture):
                changes[key] = {**getattr(self, key), **changes[key]}
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise FerError(f"recipe '{self.name}': no setting {', '.join(sorted(unknown))}")
        return dataclasses.replace(self, name=name, **changes)

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)

    def build_model(self):
        return models.build(self.architecture, **self.model_kwargs)


SEED = Recipe()

# The course's first CPU recipe for `best` (replaced by SMALL_RESNET below): a VGG-style net with BatchNorm at
# half the width of chapter 9's VGG rung (1.2M parameters, a quarter of the original CNN's; 235 MFLOPs per face,
# about half) with global average pooling, and chapter 5's augmentation, label smoothing and class weights.
# BatchNorm lets it learn at twice chapter 5's rate. An epoch takes ~5 minutes on two cores (the original CNN:
# ~10), so 20 epochs fit; the cosine schedule must reach its end, so the epochs are set for the budget rather
# than cut by it. The VGG-style ``best`` was trained with it (20 epochs in 98 minutes), then CPU_BEST_RESTART; the
# small_resnet recipe matched it at 39% of the FLOPs and replaced it (README, "Results").
CPU_BEST = SEED.but("cpu_best", architecture="vgg_bn", model_kwargs={"widths": (32, 64, 128, 256), "head": "gap"},
                    epochs=20, learning_rate=2e-3)

# A warm restart (Loshchilov & Hutter's SGDR): CPU_BEST's schedule ends with the learning rate at zero and
# validation flat, which says "more epochs", not "a bigger network". Rather than train 36 epochs from scratch
# (three hours: more than a session), start from CPU_BEST's best weights and run a second, shorter cosine cycle
# from half its peak rate. Train it with ``init_weights`` (CLI: ``--init-weights``) and another seed, so its
# augmentations and batch order are not the first run's again.
CPU_BEST_RESTART = CPU_BEST.but("cpu_best_restart", epochs=16, learning_rate=1e-3)

# A warm restart for the original CNN. After chapter 5's 52 epochs its best weights score 0.552 on their own
# training faces (clean: whole network, untransformed faces) and 0.553 on validation: no gap at all, so the
# network is underfitting, held back by regularisers stacked for a longer run (dropout 0.4 after every block,
# six random transforms, label smoothing, class weights). The restart keeps the architecture, its dropout and
# the class weights and removes the regulariser that makes every epoch a harder task than the test: the
# augmentation, except the mirror (a mirrored face is as real a face as the original). A shorter cosine cycle from
# half the peak rate, six epochs (an hour on two cores: one epoch takes ~10 minutes however little is augmented,
# the convolutions cost it), another seed. Measured from the bundled seed's weights: validation 0.5535 -> 0.5594
# (macro-F1 0.4849), inside the noise, so `seed` was not replaced: logged training accuracy rose only from 0.49
# to 0.52, the dropout (part of the original architecture) is what holds this network back.
SEED_RESTART = SEED.but("seed_restart", epochs=6, learning_rate=5e-4,
                        augmentation=dict(rotation=0, zoom=0, translation=0, brightness=0, contrast=0))

# The course's reference model, designed for training on two CPU cores: accuracy per FLOP and per CPU-hour.
# - The network (models.build_small_resnet): 0.49M parameters and 91 MFLOPs a face (the original CNN: 436), cheap
#   where the map is large (16 channels at 48x48) and wide where it is small (128 at 6x6), BatchNorm everywhere and
#   a residual block in each of the three deeper stages, global average pooling. ~360 faces/s in training on two
#   cores with the augmentation below, so an epoch of the 25,838 fitting faces takes ~75 s (the original CNN: ~10 min).
# - SGD with Nesterov momentum at a high peak rate (0.05, batch 128) on the cosine schedule with one epoch of
#   warm-up: BatchNorm makes the high rate safe, and the rate itself is a regulariser while it is high.
# - Weight decay on the kernels only. Keras decays the weights directly (decoupled: w -= lr * wd * w) where
#   PyTorch's SGD adds wd * w to the gradient, which momentum 0.9 then amplifies tenfold: 5e-3 here is the 5e-4
#   of the PyTorch recipe this one was learnt from (this repository's earlier version, commit bd00c8b).
# - Heavier augmentation than chapter 5 (+-10 degrees, 10% zoom and shift, brightness and contrast 0.2, the mirror)
#   plus random erasing of a rectangle in a quarter of the faces; square-root class weights (chapter 3); label
#   smoothing 0.1; an exponential moving average of the weights (0.999: about the last 1,000 steps, five epochs),
#   which is what is validated and kept.
# - Small enough to train for many epochs: 60 here, one cosine cycle (~80 min on two idle cores).
SMALL_RESNET = SEED.but(
    "small_resnet", architecture="small_resnet", model_kwargs={"widths": (16, 32, 64, 128), "blocks": (0, 1, 1, 1)},
    epochs=60, batch_size=128, optimizer="sgd", learning_rate=0.05, schedule="cosine", warmup_epochs=1.0,
    weight_decay=5e-3, label_smoothing=0.1, class_weight_power=0.5, ema=0.999,
    augmentation=dict(flip=True, rotation=10 / 360, zoom=0.1, translation=0.1, brightness=0.2, contrast=0.2,
                      erasing=0.25))

# Its second stage: a warm restart from SMALL_RESNET's best weights (``--init-weights``) with a fresh, shorter cosine
# cycle from a lower peak (20 epochs, ~25 min), and another seed so the augmentations and batch order are new. The
# first stage ends with validation flat for its last 15 epochs while training accuracy climbs (0.65 -> 0.72): the
# low-rate tail has settled in one basin; a second cycle lets the weights leave it and settle again. The earlier
# PyTorch version of this course gained 2.1, 0.6 and 0.7 points from three such restarts of this network.
SMALL_RESNET_RESTART = SMALL_RESNET.but("small_resnet_restart", epochs=20, learning_rate=0.02)

# A further restart at half that peak (0.01) and a little longer (24 epochs, ~30 min). The same restart again at
# 0.02 from stage 2 lowered validation (fer_helpers/weights/stages/small_resnet_stage3_not_kept): the weights left
# stage 2's basin and did not settle as well in 20 epochs. The PyTorch version's later restarts lowered the peak
# each time (0.03, 0.015, 0.01) and gained 0.6-0.7 points each. Measured from stage 2 (seed 5, 31.6 min):
# validation 0.6635 at best against stage 2's 0.6639 (McNemar p = 1), not kept (stages/README.md).
SMALL_RESNET_RESTART_LOW = SMALL_RESNET.but("small_resnet_restart_low", epochs=24, learning_rate=0.01)

# The same restart with mixup (Zhang et al., 2018; alpha 0.2) on top of the augmentation: each batch blends pairs of
# faces and their labels. The restarts above climb in training accuracy (0.70 -> 0.75) while validation falls back
# after a few epochs: more regularisation, not more learning rate, is what they lack.
# Measured from stage 2 (seed 6, 25.6 min): validation 0.6632 at best against 0.6639 (McNemar p = 0.94), 0.6611 at
# the end: mixup stopped the fall-back after the peak but added nothing; not kept (stages/README.md).
SMALL_RESNET_RESTART_MIXUP = SMALL_RESNET_RESTART_LOW.but("small_resnet_restart_mixup", mixup=0.2)

# The reference recipe on a network 1.5 times as wide (24-48-96-192: 1.1M parameters, ~2.2 times the FLOPs), one
# change only, so that its first stage can be paired with SMALL_RESNET's (stage 1: validation 0.6513). Restarts
# of the narrow network stopped paying after stage 2; capacity is the next thing to test (~2 h on two cores).
# Measured (seed 0, 135.5 min): validation 0.6691 against stage 1's 0.6513 (McNemar p = 0.024), level with stage 2
# (p = 0.52); averaged with stage 2 it made an ensemble beyond noise (models.build_ensemble; 0.6775, p = 0.015
# against stage 2 alone), and with two more SMALL_RESNET networks (seeds 3 and 7) the bundled `best` (0.6890;
# stages/README.md). Again with seed 2 (148.9 min): 0.6649, p = 0.61 against seed 0, the seed's noise; as a third
# member beside stage 2 and seed 0 it gained 0.5 points, within noise (p = 0.255): not added.
SMALL_RESNET_WIDE = SMALL_RESNET.but("small_resnet_wide",
                                     model_kwargs={"widths": (24, 48, 96, 192), "blocks": (0, 1, 1, 1)})

# Its second stage, as SMALL_RESNET_RESTART is the narrow network's: 20 epochs from a peak of 0.02. Measured from
# the wide stage (seed 1, 45.9 min): validation 0.6684 against its first stage's 0.6691 (McNemar p = 0.95), not
# kept (stages/README.md): the wide network fits its faces in one stage, and a restart only fits them further.
SMALL_RESNET_WIDE_RESTART = SMALL_RESNET_WIDE.but("small_resnet_wide_restart", epochs=20, learning_rate=0.02)

# Distillation by function matching (Beyer et al., 2022): a warm restart of a narrow network (``--init-weights``,
# SMALL_RESNET_RESTART's peak of 0.02) that learns the bundled ensemble's probabilities (``--teacher-model best``)
# instead of the labels, on the very faces it is shown: the same augmentation, plus mixup with the blend drawn
# uniformly (alpha 1), so that most faces are blends no teacher trained on. The first distillation learnt the
# teachers' answers on their own training faces and fell back (stages/README.md). No class weights nor label
# smoothing: the teacher's probabilities already carry both. Each step also runs the four-network teacher forward,
# twice the cost of a step on the labels (2.7 s against 1.4, side by side on one machine), so 10 epochs, not 20.
# Measured from stage 2 (seed 8, 95.4 min on a slower machine): validation 0.6628 at best (its first epoch) against
# stage 2's 0.6639 (McNemar p = 0.86), not kept; it held up better than the label restart mid-cycle (stages/README.md).
SMALL_RESNET_MATCHING = SMALL_RESNET_RESTART.but("small_resnet_matching", epochs=10, mixup=1.0,
                                                 class_weight_power=0.0, label_smoothing=0.0)

# The original project as its README documents it (chapter 6 scores it on its training faces, test and a pool in
# the original's 89:11 ratio). Documented: 48x48 inputs, the architecture (models.build_seed_cnn, exactly),
# augmentation "with rotations, brightness changes and other transforms", class balancing when classes are
# imbalanced. Not documented: the optimiser, learning rate, schedule, batch size, epochs, the transforms' sizes and
# which "other transforms", the balancing method. Where the README speaks, this recipe does what it says: full
# inverse-frequency ("balanced") class weights for the balancing; where it is silent, it keeps chapter 5's choices
# (SEED: Adam at 1e-3 after a one-epoch warm-up on a cosine schedule, batch 64, label smoothing 0.1, rotations,
# brightness and chapter 5's other transforms), since the course has to pick something and has explained those.
# Epochs: 10 (about an hour on two cores), the best epoch on validation kept, as everywhere in the course.
# Measured (benchmarks/original/README.md): trained once to its end (`train --recipe original --seed 0`, 58
# minutes), its loss stayed near ln 7 = 1.946 and the epoch kept on validation answers "happy" for every face
# (0.26 on test, 0.25 on the 89:11 pool). Chapter 5's recipe, the same but for square-root weights (and 60 epochs),
# reached 0.30 on validation by its fourth epoch (seed.history.csv): the full balancing is the suspect,
# not a proven cause.
ORIGINAL = SEED.but("original", epochs=10, class_weight_power=1.0)

# The accelerator's best recipe (tools/train_on_device.py trains it when a GPU is lent; it has not run yet), from
# what the literature and the ladder say works on FER2013 (chapter 9 measures each ingredient): a half-width
# ResNet-18 (2.8M parameters, 11 MB), SGD + Nesterov, one-cycle, mixup, label smoothing, weight averaging.
ACCELERATOR_BEST = SEED.but("accelerator_best", architecture="resnet", model_kwargs={"widths": (32, 64, 128, 256)},
                            optimizer="sgd", learning_rate=0.05, weight_decay=5e-4, schedule="onecycle", mixup=0.2,
                            ema=0.999, epochs=100, batch_size=128,
                            augmentation={"rotation": 0.04, "zoom": 0.15, "translation": 0.12})

NAMED = {"seed": SEED, "seed_restart": SEED_RESTART, "cpu_best": CPU_BEST, "cpu_best_restart": CPU_BEST_RESTART,
         "small_resnet": SMALL_RESNET, "small_resnet_restart": SMALL_RESNET_RESTART,
         "small_resnet_restart_low": SMALL_RESNET_RESTART_LOW, "small_resnet_restart_mixup": SMALL_RESNET_RESTART_MIXUP,
         "small_resnet_wide": SMALL_RESNET_WIDE, "small_resnet_wide_restart": SMALL_RESNET_WIDE_RESTART,
         "small_resnet_matching": SMALL_RESNET_MATCHING, "original": ORIGINAL,
         "accelerator_best": ACCELERATOR_BEST}


def named(name: str) -> Recipe:
    """The recipe called ``name`` in :data:`NAMED`; a one-line error listing the names if there is none."""
    if name not in NAMED:
        raise FerError(f"no recipe '{name}' (named recipes: {', '.join(NAMED)})")
    return NAMED[name]


@dataclass(frozen=True)
class Step:
    """One rung of the ladder: a name, the idea in one line, the settings it changes, and the architectures it
    can change (empty: any). A rung whose architecture was not kept is skipped, and the table says so."""
    name: str
    idea: str
    changes: dict
    applies_to: tuple = ()


LADDER = [
    Step("batchnorm", "BatchNorm after every convolution of the original CNN", dict(model_kwargs={"batch_norm": True}),
         applies_to=("seed_cnn",)),
    Step("vgg", "VGG-style depth: two 3x3 'same' convolutions per stage, 4 stages (64-512), BatchNorm",
         dict(architecture="vgg_bn", model_kwargs={"widths": (64, 128, 256, 512), "head": "flatten", "dropout": 0.4})),
    Step("gap", "global average pooling instead of Flatten + Dense 512/256",
         dict(model_kwargs={"head": "gap"}), applies_to=("vgg_bn",)),
    Step("residual", "residual blocks (the ResNet-18 layout at half width) instead of plain VGG stages",
         dict(architecture="resnet", model_kwargs={"widths": (32, 64, 128, 256)})),
    Step("no_label_smoothing", "label smoothing 0.1 -> 0 (is it pulling its weight?)", dict(label_smoothing=0.0)),
    Step("sgd", "SGD with Nesterov momentum (lr 0.01, weight decay 5e-4) instead of Adam",
         dict(optimizer="sgd", learning_rate=0.01, weight_decay=5e-4)),
    Step("onecycle", "one-cycle schedule: 30% warm-up to the peak rate, then cosine", dict(schedule="onecycle")),
    Step("mixup", "mixup (alpha 0.2): train on blends of two faces and their labels", dict(mixup=0.2)),
    Step("ema", "keep an exponential moving average of the weights (0.999)", dict(ema=0.999)),
    Step("longer", "twice the epochs", dict(epochs=None)),  # None: doubled by climb()
]


# Chapter 9's ladder on a 2-core CPU: from the original CNN to the reference recipe (SMALL_RESNET) in six rungs,
# each one change that the reference recipe makes, climbed on a quarter of the training faces for a few epochs and
# judged on the whole validation split (2,871 faces, where a paired test can see a gain of a point or two). The
# networks are sized for that budget: the original CNN at a quarter of its width (0.44M parameters, about the
# reference network's 0.49M, and 28 MFLOPs a face instead of 436), then the reference network itself.
CPU_LADDER_BASE = SEED.but("seed_quarter", model_kwargs={"widths": (32, 64, 128, 128)})

CPU_LADDER = [
    Step("batchnorm", "BatchNorm between every convolution and its ReLU", dict(model_kwargs={"batch_norm": True}),
         applies_to=("seed_cnn",)),
    Step("cpu_layout", "the reference network without its residual blocks: 'same' padding, a 16-channel stage at "
         "full resolution, widening as the map shrinks (16-128), global average pooling, dropout 0.2 only at the end",
         dict(architecture="small_resnet", model_kwargs={"widths": (16, 32, 64, 128), "blocks": (0, 0, 0, 0)})),
    Step("residual", "a residual block in stages 2-4: two more 3x3 convolutions each, the input added back",
         dict(model_kwargs={"blocks": (0, 1, 1, 1)}), applies_to=("small_resnet",)),
    Step("sgd", "SGD with Nesterov momentum at peak rate 0.05, batch 128, weight decay 5e-3 on the kernels "
         "(instead of Adam at 1e-3, batch 64)",
         dict(optimizer="sgd", learning_rate=0.05, batch_size=128, weight_decay=5e-3)),
    Step("augmentation", "stronger augmentation: +-10 degrees, brightness and contrast 0.2, random erasing in a "
         "quarter of the faces", dict(augmentation={"rotation": 10 / 360, "brightness": 0.2, "contrast": 0.2,
                                                    "erasing": 0.25})),
    # The reference's 0.999 averages about the last 1,000 steps, a twelfth of its 12,000; a ladder run is ~500 steps,
    # so 0.98 (about the last 50) averages the same share of it.
    Step("ema", "validate and keep a moving average of the weights (0.98: about the last 50 steps)",
         dict(ema=0.98)),
]


def step(name: str, ladder: list[Step] = CPU_LADDER) -> Step:
    """The rung called ``name`` of ``ladder`` (chapter 9's, by default): rungs are looked up by name, so that
    reordering a ladder changes nothing that reads one of them."""
    for rung in ladder:
        if rung.name == name:
            return rung
    raise FerError(f"no rung '{name}' on this ladder (rungs: {', '.join(rung.name for rung in ladder)})")


def train_recipe(recipe: Recipe, x_train, y_train, x_val, y_val, run_dir: str | Path, *, epochs: int | None = None,
                 soft_targets=None, patience: int | None = None, time_budget_min: float | None = None,
                 verbose: int = 2, seed: int = 0, fresh: bool = False, init_weights: str | Path | None = None,
                 teachers=(), teacher_model: str | Path | None = None):
    """Seed everything with ``seed``, build ``recipe``'s model and train it with :func:`fer_helpers.train.fit`
    into ``run_dir`` (resumable; ``fresh=True`` deletes an earlier run there first); writes ``recipe.json``
    there. ``init_weights`` (a ``.weights.h5`` of the same architecture) starts from those weights instead of
    random ones: a warm restart or a fine-tuning; its path and SHA-256 go into ``recipe.json``. The other options
    are ``fit``'s. ``teachers`` (``.weights.h5`` files of ``recipe``'s network) distil: the model learns their
    mean probabilities on ``x_train`` (with the mirror, :func:`ensemble_proba`) instead of the labels, and their
    paths and SHA-256 go into ``recipe.json``. ``teacher_model`` (a bundled name such as 'best', or a file
    :func:`fer_helpers.models.load_model` reads) distils by function matching instead: the model learns the
    teacher's probabilities on the very faces it is shown in training (:class:`fer_helpers.train.TeacherMatching`).
    Returns (model with its best-on-validation weights, history)."""
    keras.utils.set_random_seed(seed)
    model = recipe.build_model()
    record = recipe.as_dict()
    if init_weights is not None:
        init_weights = Path(init_weights)
        try:
            models.load_weights(model, init_weights)
        except Exception as error:  # a missing file, or weights of another network
            raise FerError(f"{init_weights}: cannot start '{recipe.name}' from it ({reason(error)})") from None
        record.update(init_weights=str(init_weights),
                      init_weights_sha256=hashlib.sha256(init_weights.read_bytes()).hexdigest())
    if teacher_model is not None and (teachers or soft_targets is not None):
        raise FerError(f"'{recipe.name}': give one kind of teacher (teacher_model, teachers or soft_targets)")
    if teachers:
        if soft_targets is not None:
            raise FerError(f"'{recipe.name}': give teachers or soft_targets, not both")
        teacher_models = []
        for path in map(Path, teachers):
            teacher = recipe.build_model()
            try:
                models.load_weights(teacher, path)
            except Exception as error:
                raise FerError(f"{path}: cannot be a teacher of '{recipe.name}' ({reason(error)})") from None
            teacher_models.append(teacher)
        soft_targets = ensemble_proba(teacher_models, x_train)
        record["teachers"] = [{"weights": str(path), "sha256": hashlib.sha256(Path(path).read_bytes()).hexdigest()}
                              for path in teachers]
    teacher = None
    if teacher_model is not None:
        teacher = models.load_model(teacher_model)
        teacher_weights = models.weights_file(teacher_model)
        record["teacher_model"] = {"model": str(teacher_model),
                                   "sha256": hashlib.sha256(teacher_weights.read_bytes()).hexdigest()}
    run_dir = Path(run_dir)
    if fresh and run_dir.exists():
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "recipe.json").write_text(json.dumps(record, indent=1, default=list))
    history = train.fit(model, x_train, y_train, x_val, y_val, run_dir, recipe, epochs=epochs, seed=seed,
                        soft_targets=soft_targets, teacher=teacher, patience=patience, time_budget_min=time_budget_min,
                        verbose=verbose)
    return model, history


def validation_scores(model, x_val, y_val) -> dict:
    """Accuracy and macro-F1 of ``model`` on the validation split (no test-time augmentation)."""
    proba = evaluate.predict_proba(model, x_val)
    return evaluate.summary(y_val, proba)


def climb(base: Recipe, steps: list[Step], fit_step: Callable[[Recipe], tuple[dict, object]],
          min_gain: float = 0.0) -> tuple[Recipe, list[dict]]:
    """Climb the ladder: ``fit_step(recipe) -> (validation scores, model)`` trains one recipe. Each step is
    applied to the best recipe so far and kept if its validation accuracy beats it by more than ``min_gain``.
    Returns the best recipe and one row per rung (the base first); a row names the recipe it trained (``recipe``)
    and the best recipe it was compared with (``against``), so that a paired test can be run on their models."""
    scores, _ = fit_step(base)
    best, best_scores = base, scores
    rows = [{"step": base.name, "idea": "the starting recipe", "kept": True, **_row_scores(scores, None),
             "recipe": base.name, "against": None}]
    for step in steps:
        if step.applies_to and best.architecture not in step.applies_to:
            rows.append({"step": step.name, "idea": step.idea, "kept": False, "val_accuracy": None,
                         "val_macro_f1": None, "gain": None, "recipe": None, "against": best.name,
                         "note": f"skipped: changes {'/'.join(step.applies_to)}, not {best.architecture}"})
            continue
        changes = dict(step.changes)
        if "epochs" in changes and changes["epochs"] is None:
            changes["epochs"] = best.epochs * 2
        candidate = best.but(f"{best.name}+{step.name}" if best.name != base.name else step.name, **changes)
        scores, _ = fit_step(candidate)
        kept = scores["accuracy"] > best_scores["accuracy"] + min_gain
        rows.append({"step": step.name, "idea": step.idea, "kept": kept,
                     **_row_scores(scores, best_scores), "recipe": candidate.name, "against": best.name})
        if kept:
            best, best_scores = candidate, scores
    return best, rows


def _row_scores(scores: dict, reference: dict | None) -> dict:
    row = {"val_accuracy": scores["accuracy"], "val_macro_f1": scores["macro_f1"]}
    row["gain"] = None if reference is None else scores["accuracy"] - reference["accuracy"]
    return row


def ensemble_proba(models_, x, tta: str | None = "flip") -> np.ndarray:
    """The mean of several models' probabilities (with horizontal-flip test-time augmentation by default)."""
    if not models_:
        raise FerError("ensemble_proba: no models given")
    return np.mean([evaluate.predict_proba(m, x, tta=tta) for m in models_], axis=0)
