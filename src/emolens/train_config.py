"""Training configuration as plain values (no torch import, so the CLI can build its flags cheaply)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class TrainConfig:
    data: str = "../shared/fer2013"
    arch: str = "emonet-t"
    epochs: int = 30
    batch: int = 128                 # per process
    optimizer: str = "sgd"           # sgd (Nesterov) | adamw
    lr: float = 0.05                 # peak learning rate
    weight_decay: float = 5e-4
    schedule: str = "onecycle"       # onecycle | cosine
    warmup_epochs: float = 1.0
    label_smoothing: float = 0.1
    balance: str = "sqrt"            # none | sqrt | inverse (class-weighted loss) | sampler (balanced sampling)
    mixup: float = 0.0               # Beta alpha; 0 disables
    cutmix: float = 0.0
    erase: float = 0.25              # random-erasing probability
    shift: float = 0.1
    rotate: float = 10.0
    scale: float = 0.1
    brightness: float = 0.2
    contrast: float = 0.2
    ema: float = 0.0                 # weight-EMA decay per step (e.g. 0.999); 0 disables
    select: str = "acc"              # model selection metric on the validation split: acc | f1
    patience: int = 0                # early stop after this many epochs without improvement; 0 = never
    val_fraction: float = 0.1        # hold-out size when the data has no PublicTest part
    seed: int = 0
    threads: int = 0                 # torch intra-op threads; 0 = all cores (divided among local ranks)
    device: str = "auto"             # auto | cpu | cuda
    project: str = "runs/train"
    name: str = ""
    stop_after: int = 0              # stop after this many epochs in this invocation (resume later); 0 = run all
    max_batches: int = 0             # debug/tests: stop each epoch after this many batches
    init: str = ""                   # start from these weights (a .safetensors or run dir) with a fresh schedule
