"""Training configuration as plain values (no torch import, so the CLI can build its flags cheaply).

Each field's help text lives here, beside its default, and becomes the `emolens train --<flag>` help.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field


def _opt(default, help: str):
    return field(default=default, metadata={"help": help})


@dataclass
class TrainConfig:
    data: str = _opt("../shared/fer2013", "dataset folder or fer2013.csv")
    arch: str = _opt("emonet-t", "architecture name (see `emolens models`)")
    epochs: int = _opt(30, "number of epochs")
    batch: int = _opt(128, "batch size per process (global batch = batch x processes)")
    optimizer: str = _opt("sgd", "sgd (with Nesterov momentum 0.9) | adamw")
    lr: float = _opt(0.05, "peak learning rate")
    weight_decay: float = _opt(5e-4, "weight decay (decoupled for adamw)")
    schedule: str = _opt("onecycle", "learning-rate schedule after warm-up: onecycle | cosine")
    warmup_epochs: float = _opt(1.0, "linear warm-up length in epochs")
    label_smoothing: float = _opt(0.1, "label smoothing of the cross-entropy target")
    balance: str = _opt("sqrt", "class balancing: none | sqrt | inverse (weighted loss) | sampler (balanced batches)")
    mixup: float = _opt(0.0, "mixup Beta alpha; 0 = off")
    cutmix: float = _opt(0.0, "cutmix Beta alpha; 0 = off")
    erase: float = _opt(0.25, "random-erasing probability per image")
    shift: float = _opt(0.1, "random translation, fraction of the image side")
    rotate: float = _opt(10.0, "random rotation, degrees either way")
    scale: float = _opt(0.1, "random zoom, fraction either way")
    brightness: float = _opt(0.2, "random brightness change, fraction either way")
    contrast: float = _opt(0.2, "random contrast change, fraction either way")
    ema: float = _opt(0.0, "weight-EMA decay per step (e.g. 0.999); 0 = off")
    select: str = _opt("acc", "model-selection metric on the validation split: acc | f1")
    patience: int = _opt(0, "early stop after this many epochs without improvement; 0 = never")
    val_fraction: float = _opt(0.1, "hold-out fraction when the data has no PublicTest part")
    seed: int = _opt(0, "seed for weights, shuffling and augmentation")
    threads: int = _opt(0, "torch intra-op threads; 0 = all cores (divided among local processes)")
    device: str = _opt("auto", "auto | cpu | cuda")
    precision: str = _opt("auto", "auto (bf16 autocast on CUDA, fp32 on CPU) | fp32 | bf16 (autocast for forward and loss; "
                                  "weights, optimizer and validation stay fp32)")
    project: str = _opt("runs/train", "parent folder of run directories")
    name: str = _opt("", "run directory name; empty = the architecture")
    stop_after: int = _opt(0, "stop after this many epochs in this invocation (continue later with --resume); 0 = all")
    checkpoint_every: int = _opt(1, "write last.safetensors (the resume point) and curves.png every N epochs and at the "
                                    "end; best.safetensors is written whenever validation improves. >1 saves time "
                                    "where an epoch takes seconds (a GPU)")
    max_batches: int = _opt(0, "debug/tests: cap on batches per epoch; 0 = no cap")
    init: str = _opt("", "start from these weights (.safetensors or run dir) with a fresh optimizer and schedule; "
                         "weights of a wider model of the same family (emonet-t for emonet-t-slim) are pruned in, those "
                         "of a narrower one (emonet-t for emonet-s) grown in")
    teacher: str = _opt("", "knowledge distillation: teacher weights (.safetensors or run dir), comma-separated for "
                            "an ensemble; each sees the student's augmented batch (and its mirror), probabilities "
                            "averaged")
    distill: float = _opt(0.0, "weight of the distillation term (KL to the teacher) in the loss; the rest is the "
                               "label cross-entropy; 0 = off")
    distill_temp: float = _opt(1.0, "softmax temperature of the distillation term")
    teacher_views: int = _opt(2, "views the teacher explains per image: 2 = the student's augmented view and its mirror "
                                 "(averaged), 1 = the view alone (half the teacher's cost: a CPU run; flips are in the "
                                 "augmentation anyway)")

    def validate(self) -> None:
        """Refuse impossible values before any data is loaded: one line naming the flag, the range and the value."""
        from .errors import EmolensError
        ranges = {  # flag: (low, high, low inclusive, high inclusive)
            "epochs": (1, math.inf, True, True), "batch": (1, math.inf, True, True), "lr": (0, math.inf, False, False),
            "weight_decay": (0, math.inf, True, False), "warmup_epochs": (0, math.inf, True, False),
            "label_smoothing": (0, 1, True, False), "mixup": (0, math.inf, True, False),
            "cutmix": (0, math.inf, True, False), "erase": (0, 1, True, True), "shift": (0, 0.5, True, True),
            "rotate": (0, 180, True, True), "scale": (0, 1, True, False), "brightness": (0, 1, True, True),
            "contrast": (0, 1, True, True), "ema": (0, 1, True, False), "patience": (0, math.inf, True, True),
            "val_fraction": (0, 1, False, False), "threads": (0, math.inf, True, True),
            "stop_after": (0, math.inf, True, True),
            "checkpoint_every": (1, math.inf, True, True), "max_batches": (0, math.inf, True, True),
            "distill": (0, 1, True, True), "distill_temp": (0, math.inf, False, False),
            "teacher_views": (1, 2, True, True)}
        for name, (lo, hi, lo_in, hi_in) in ranges.items():
            v = getattr(self, name)
            ok = isinstance(v, (int, float)) and not isinstance(v, bool) and not math.isnan(v) and \
                (v >= lo if lo_in else v > lo) and (v <= hi if hi_in else v < hi)
            if not ok:
                span = f"{'[' if lo_in else '('}{lo}, {hi}{']' if hi_in else ')'}".replace("inf]", "inf)")
                raise EmolensError(f"--{name.replace('_', '-')} must be in {span}, got {v!r}")
        choices = {"optimizer": ("sgd", "adamw"), "schedule": ("onecycle", "cosine"),
                   "balance": ("none", "sqrt", "inverse", "sampler"), "select": ("acc", "f1"),
                   "device": ("auto", "cpu", "cuda"), "precision": ("auto", "fp32", "bf16")}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise EmolensError(f"--{name} must be one of {', '.join(allowed)}, got {getattr(self, name)!r}")
        if self.distill > 0 and not self.teacher:
            raise EmolensError("--distill needs --teacher")
