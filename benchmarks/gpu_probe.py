"""Size a training run to the device time at hand: time the real training step of a recipe (batched augmentation,
mixup, bf16 autocast on CUDA, forward, backward, SGD, EMA; teachers' forward passes when distilling) on random
data, then print how many epochs K concurrent runs of it can finish in a time budget.

    python benchmarks/gpu_probe.py --recipe recipes/emonet-l.json --runs 3 --budget 470
    python benchmarks/gpu_probe.py --recipe recipes/emonet-t-slim.json --teacher a.safetensors,b.safetensors ...

stdout: the epoch count alone (for a shell variable); the measurement goes to stderr and, with --json, a file.
"""
from __future__ import annotations

import argparse
import json
import sys
import time

import torch
import torch.nn.functional as F

from emolens.augment import augment, mix
from emolens.models import create_model
from emolens.train import distill_loss, ema_update, load_teachers, teacher_probs
from emolens.train_config import TrainConfig

TRAIN_IMAGES = 28_709  # FER2013 Training


def step_rate(cfg: TrainConfig, teacher: str, steps: int, dev: torch.device) -> float:
    """Training images per second of one process running cfg's step on dev."""
    torch.manual_seed(0)
    model = create_model(cfg.arch).to(dev).to(memory_format=torch.channels_last).train()
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9, nesterov=True)
    from torch.optim.swa_utils import AveragedModel
    ema = AveragedModel(model, multi_avg_fn=ema_update(0.999), use_buffers=True) if cfg.ema > 0 else None
    teachers = load_teachers(teacher, dev) if teacher else []
    amp = dev.type == "cuda" and cfg.precision != "fp32"
    x = torch.randint(0, 256, (cfg.batch, 1, 48, 48), device=dev).float() / 255
    y = torch.randint(0, 7, (cfg.batch,), device=dev)
    g = torch.Generator(device=dev).manual_seed(0)
    t0 = 0.0
    for i in range(steps + 10):
        if i == 10:  # warm-up done (cuDNN autotuning, allocator)
            if dev.type == "cuda":
                torch.cuda.synchronize(dev)
            t0 = time.perf_counter()
        xb = augment(x, g, cfg.shift, cfg.rotate, cfg.scale, True, cfg.brightness, cfg.contrast, cfg.erase)
        xb, ya, yb, lam = mix(xb, y, g, cfg.mixup, cfg.cutmix)
        xb = ((xb - 0.5) / 0.25).contiguous(memory_format=torch.channels_last)
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=amp):
            out = model(xb).float()
            target = teacher_probs(teachers, xb, 1.0) if teachers else None
        loss = lam * F.cross_entropy(out, ya) + (1 - lam) * F.cross_entropy(out, yb)
        if teachers:
            loss = loss + distill_loss(out, target, 1.0)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if ema is not None:
            ema.update_parameters(model)
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    return steps * cfg.batch / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--recipe", required=True)
    ap.add_argument("--teacher", default="", help="comma-separated teacher weights (distillation step)")
    ap.add_argument("--runs", type=int, default=1, help="runs that will share the device at once")
    ap.add_argument("--budget", type=float, required=True, help="seconds the runs may take, start-up included")
    ap.add_argument("--overhead", type=float, default=0.85, help="fraction of the budget left for training steps "
                                                                "(validation, checkpoints, start-up take the rest)")
    ap.add_argument("--startup", type=float, default=25.0, help="seconds each run needs before its first step")
    ap.add_argument("--max-epochs", type=int, default=250)
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--json", default="")
    a = ap.parse_args()
    t_start = time.perf_counter()
    raw = json.loads(open(a.recipe).read())
    cfg = TrainConfig(**{k: v for k, v in raw.items() if not k.startswith("_")})
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True
    rate = step_rate(cfg, a.teacher, a.steps, dev)
    left = a.budget - (time.perf_counter() - t_start) - a.startup
    # Concurrent runs on one GPU time-share it: assume their total rate is one run's rate (conservative; they
    # fill each other's launch gaps, so it is usually a little higher).
    epochs = int(max(0.0, left) * a.overhead * rate / (a.runs * TRAIN_IMAGES))
    epochs = max(1, min(a.max_epochs, epochs))
    info = {"recipe": a.recipe, "arch": cfg.arch, "batch": cfg.batch, "teacher": a.teacher, "device": str(dev),
            "device_name": torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu",
            "images_per_s_one_run": round(rate, 1), "runs": a.runs, "budget_s": a.budget, "epochs": epochs}
    print(json.dumps(info), file=sys.stderr)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(info, f, indent=2)
    print(epochs)


if __name__ == "__main__":
    main()
