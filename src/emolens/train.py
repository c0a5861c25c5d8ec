"""Train a registered architecture on a FER-style dataset; everything lands in one run directory.

Read top to bottom: config -> data in memory -> per-epoch (shuffle, batched augmentation, step) -> validation
-> atomic checkpoints (last every epoch or --checkpoint-every N, best on the validation split) -> history CSV and curves.

Reproducibility and --resume: every epoch draws its randomness from generators seeded by (seed, epoch, rank),
and the learning rate is a pure function of the step, so resuming from `last` gives the same weights as an
uninterrupted run.

Distributed (torchrun): each rank trains on a disjoint 1/world shard of each epoch's permutation; `batch` is
per rank (global batch = batch x world), `lr` is used as given (scale it yourself for a bigger global batch).
"""
from __future__ import annotations

import csv
import io
import json
import math
import os
import sys
import time
from dataclasses import asdict, fields
from datetime import timedelta
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import __version__
from .augment import augment, mix
from .data import load_dataset, train_val
from .errors import EmolensError
from .labels import CLASSES, INPUT_SIZE, NUM_CLASSES
from .train_config import TrainConfig
from .train_helpers import atomic_write_text, new_run_dir
from .models import (NORM_MEAN, NORM_STD, atomic_save_safetensors, count_params, create_model, load_model,
                     load_weights_into, mflops, read_safetensors)


# --------------------------------------------------------------------------------------- distributed

def dist_setup(device: str) -> tuple[int, int, int]:
    """(rank, world, local_rank); initialises torch.distributed when launched by torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1, 0
    import torch.distributed as dist
    if not dist.is_initialized():
        backend = "nccl" if device == "cuda" else "gloo"
        timeout = timedelta(seconds=float(os.environ.get("EMOLENS_DIST_TIMEOUT", "300")))
        dist.init_process_group(backend, timeout=timeout)
    return dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0"))


def sync_from_rank0(model: nn.Module, ema) -> None:
    """DDP keeps parameters equal but BN running statistics (and an EMA copy) drift per rank: take rank 0's."""
    import torch.distributed as dist
    with torch.no_grad():
        for t in list(model.buffers()) + (list(ema.parameters()) + list(ema.buffers()) if ema is not None else []):
            dist.broadcast(t, src=0)


def ranks_identical(model: nn.Module, world: int) -> bool:
    """Checksum of every parameter and buffer, compared across ranks."""
    if world <= 1:
        return True
    import torch.distributed as dist
    with torch.no_grad():
        v = torch.stack([t.double().sum() for t in model.state_dict().values()])
        lo, hi = v.clone(), v.clone()
        dist.all_reduce(lo, op=dist.ReduceOp.MIN)
        dist.all_reduce(hi, op=dist.ReduceOp.MAX)
    return bool(torch.equal(lo, hi))


def all_sum(t: torch.Tensor, world: int) -> torch.Tensor:
    if world > 1:
        import torch.distributed as dist
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


# ------------------------------------------------------------------------------------------- helpers

def normalise(x_uint8: torch.Tensor) -> torch.Tensor:
    return (x_uint8.float().div_(255.0) - NORM_MEAN) / NORM_STD


def lr_at(step: int, total: int, warmup: int, cfg: TrainConfig) -> float:
    """Learning rate as a pure function of the step (so resume needs no scheduler state)."""
    if step < warmup:
        return cfg.lr * (step + 1) / warmup
    p = (step - warmup) / max(1, total - warmup)
    if cfg.schedule == "cosine":
        return cfg.lr * 0.5 * (1 + math.cos(math.pi * p))
    if cfg.schedule == "onecycle":  # linear-ish anneal to 1/1000 of peak, cosine shaped
        return cfg.lr * (0.001 + 0.999 * 0.5 * (1 + math.cos(math.pi * p)))
    raise EmolensError(f"unknown schedule '{cfg.schedule}' (onecycle, cosine)")


def ema_update(decay: float):
    """EMA with warm-up (decay ramps as (1+n)/(10+n) up to `decay`), so early epochs are not dominated by the
    random initial weights."""
    def fn(ema_params, cur_params, num_averaged):
        n = float(num_averaged)
        d = min(decay, (1.0 + n) / (10.0 + n))
        fe = [(e, c) for e, c in zip(ema_params, cur_params) if e.is_floating_point()]
        if fe:
            torch._foreach_lerp_([e for e, _ in fe], [c for _, c in fe], 1.0 - d)
        for e, c in zip(ema_params, cur_params):
            if not e.is_floating_point():
                e.copy_(c)  # integer buffers (BatchNorm's num_batches_tracked)
    return fn


def class_weights(labels: np.ndarray, mode: str) -> torch.Tensor | None:
    counts = np.bincount(labels, minlength=NUM_CLASSES).astype(np.float64)
    counts = np.maximum(counts, 1)
    if mode in ("none", "sampler"):
        return None
    power = {"sqrt": 0.5, "inverse": 1.0}.get(mode)
    if power is None:
        raise EmolensError(f"unknown --balance '{mode}' (none, sqrt, inverse, sampler)")
    w = (counts.sum() / counts) ** power
    return torch.tensor(w / (w * counts).sum() * counts.sum(), dtype=torch.float32)


def epoch_order(n: int, labels: torch.Tensor, cfg: TrainConfig, epoch: int) -> torch.Tensor:
    """Same permutation on every rank (seeded by seed and epoch); 'sampler' draws class-balanced indices."""
    g = torch.Generator().manual_seed(cfg.seed * 100_003 + epoch)
    if cfg.balance == "sampler":
        counts = torch.bincount(labels.cpu(), minlength=NUM_CLASSES).clamp(min=1).double()
        w = (1.0 / counts)[labels.cpu()]
        return torch.multinomial(w, n, replacement=True, generator=g)
    return torch.randperm(n, generator=g)


class OnnxTeacher(nn.Module):
    """A teacher in ONNX form (a bundled model's name, e.g. the shipped flagship `emonet-l`, or a .onnx file), run by
    ONNX Runtime on the CPU: distilling from the shipped models needs no training checkpoint, and on a CPU ONNX
    Runtime is the faster forward pass. Takes the training's normalised batch, returns logits on its device."""

    def __init__(self, spec: str, threads: int | None = None):
        super().__init__()
        from .predict import Classifier
        self.clf = Classifier(spec, threads=threads or torch.get_num_threads())
        if tuple(self.clf.classes) != tuple(CLASSES):
            raise EmolensError(f"{spec}: the teacher's classes differ from {', '.join(CLASSES)}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # back to pixel values (kept as floats: augmentation made them fractional); the Classifier applies the
        # teacher's own normalisation, as it does at inference
        pixels = (x.detach().float() * NORM_STD + NORM_MEAN) * 255.0
        return torch.from_numpy(self.clf.logits(pixels[:, 0].cpu().numpy())).to(x.device)


def load_teachers(spec: str, dev: torch.device) -> list[nn.Module]:
    """Frozen eval-mode teachers for distillation; any registered architecture, even one unlike the student's.
    Each part is a .safetensors checkpoint, a run directory, or an ONNX model (a .onnx file or a bundled name)."""
    from .predict import bundled_models
    bundled, teachers = bundled_models(), []
    for part in filter(None, (s.strip() for s in spec.split(","))):
        p = Path(part)
        if not p.exists() and part in bundled or p.suffix.lower() == ".onnx" and p.is_file():
            teachers.append(OnnxTeacher(part))
            continue
        p = p / "best.safetensors" if p.is_dir() else p
        if not p.is_file():
            raise EmolensError(f"{part}: teacher weights not found (a .safetensors file, a run directory, a .onnx "
                               f"file or a bundled model: {', '.join(bundled)})")
        t, _ = load_model(p)
        for q in t.parameters():
            q.requires_grad_(False)
        teachers.append(t.to(dev).to(memory_format=torch.channels_last))
    if not teachers:
        raise EmolensError("--teacher is empty")
    return teachers


@torch.no_grad()
def teacher_probs(teachers: list[nn.Module], x: torch.Tensor, temp: float, views: int = 2) -> torch.Tensor:
    """Average softmax(logits / temp) over the teachers and over the batch and its mirror image (the mirror is free
    knowledge: flips are part of training augmentation, and averaging them makes the target smoother).
    views=1 skips the mirror: half the teacher's cost, where the teacher dominates a step (a CPU)."""
    if views == 1:
        return sum(F.softmax(t(x).float() / temp, 1) for t in teachers) / len(teachers)
    both = torch.cat([x, x.flip(3)])
    acc = 0
    for t in teachers:
        acc = acc + F.softmax(t(both).float() / temp, 1)
    acc = acc / len(teachers)
    n = len(x)
    return (acc[:n] + acc[n:]) / 2


def distill_loss(student_logits: torch.Tensor, target_probs: torch.Tensor, temp: float) -> torch.Tensor:
    """KL(teacher || student) at temperature temp, scaled by temp^2 so its gradients keep their size (Hinton 2015)."""
    logp = F.log_softmax(student_logits.float() / temp, 1)
    return F.kl_div(logp, target_probs, reduction="batchmean") * temp * temp


@torch.inference_mode()
def predict_logits(model: nn.Module, x_uint8: torch.Tensor, batch: int = 512) -> torch.Tensor:
    model.eval()
    out = [model(normalise(x_uint8[i:i + batch]).unsqueeze(1).contiguous(memory_format=torch.channels_last))
           for i in range(0, len(x_uint8), batch)]
    return torch.cat(out) if out else torch.zeros(0, NUM_CLASSES)


def evaluate_shard(model, x, y, rank, world, smoothing=0.0):
    """Loss sum and confusion counts on this rank's shard of the validation set, summed over ranks."""
    xs, ys = x[rank::world], y[rank::world]
    logits = predict_logits(model, xs)
    loss_sum = F.cross_entropy(logits.float(), ys, reduction="sum") if len(ys) else torch.zeros(())
    cm = torch.zeros(NUM_CLASSES * NUM_CLASSES, dtype=torch.float64, device=x.device)
    cm.index_add_(0, ys * NUM_CLASSES + logits.argmax(1), torch.ones(len(ys), dtype=torch.float64, device=x.device))
    packed = all_sum(torch.cat([loss_sum.double().view(1).to(x.device), cm]), world)
    cm = packed[1:].view(NUM_CLASSES, NUM_CLASSES).cpu().numpy()
    n = cm.sum()
    return float(packed[0]) / max(n, 1), cm


def metrics_from_cm(cm: np.ndarray) -> dict:
    tp = np.diag(cm)
    prec = np.divide(tp, cm.sum(0), out=np.zeros_like(tp), where=cm.sum(0) > 0)
    rec = np.divide(tp, cm.sum(1), out=np.zeros_like(tp), where=cm.sum(1) > 0)
    f1 = np.divide(2 * prec * rec, prec + rec, out=np.zeros_like(tp), where=(prec + rec) > 0)
    present = cm.sum(1) > 0
    return {"acc": float(tp.sum() / max(cm.sum(), 1)), "f1": float(f1[present].mean()) if present.any() else 0.0}


def plot_curves(history: list[dict], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ep = [h["epoch"] for h in history]
    fig, ax = plt.subplots(1, 2, figsize=(11, 4))
    ax[0].plot(ep, [h["train_acc"] for h in history], label="train (augmented)")
    ax[0].plot(ep, [h["val_acc"] for h in history], label="validation")
    ax[0].plot(ep, [h["val_f1"] for h in history], "--", label="validation macro-F1")
    ax[0].set(xlabel="epoch", ylabel="accuracy", title="Accuracy")
    ax[1].plot(ep, [h["train_loss"] for h in history], label="train (augmented, smoothed labels)")
    ax[1].plot(ep, [h["val_loss"] for h in history], label="validation")
    ax[1].set(xlabel="epoch", ylabel="cross-entropy", title="Loss")
    for a in ax:
        a.grid(alpha=0.3)
        a.legend()
    fig.tight_layout()
    tmp = path.with_name(path.stem + f".tmp{os.getpid()}.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)


def _opt_tensors(opt: torch.optim.Optimizer) -> tuple[dict, dict]:
    sd = opt.state_dict()
    tensors, scalars = {}, {}
    for idx, st in sd["state"].items():
        for k, v in st.items():
            if torch.is_tensor(v):
                tensors[f"opt.{idx}.{k}"] = v.reshape(-1) if v.dim() == 0 else v
                scalars[f"{idx}.{k}.shape"] = list(v.shape)
            else:
                scalars[f"{idx}.{k}"] = v
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def _opt_restore(opt: torch.optim.Optimizer, tensors: dict, info: dict) -> None:
    state: dict = {}
    for key, v in tensors.items():
        if key.startswith("opt."):
            _, idx, k = key.split(".", 2)
            shape = info["scalars"].get(f"{idx}.{k}.shape")
            state.setdefault(int(idx), {})[k] = v.reshape(shape) if shape is not None else v
    for key, v in info["scalars"].items():
        if not key.endswith(".shape"):
            idx, k = key.split(".", 1)
            state.setdefault(int(idx), {})[k] = v
    opt.load_state_dict({"state": state, "param_groups": info["param_groups"]})


# ---------------------------------------------------------------------------------------------- train

def train(cfg: TrainConfig, resume: str | None = None, progress: bool = True) -> Path:
    """Run training; returns the run directory."""
    state_tensors, state = None, None
    if resume:
        run_dir, state_tensors, state = _load_resume(resume)
        saved = TrainConfig(**{k: v for k, v in state["config"].items() if k in {f.name for f in fields(TrainConfig)}})
        saved.epochs = cfg.epochs if cfg.epochs != TrainConfig.epochs else saved.epochs
        saved.stop_after = cfg.stop_after
        cfg = saved
    cfg.validate()
    create_model(cfg.arch)  # an unknown architecture fails here, before the data is decoded
    if cfg.teacher and cfg.distill == 0:
        print("warning: --teacher is ignored while --distill is 0", file=sys.stderr)
    device = "cuda" if cfg.device == "auto" and torch.cuda.is_available() else ("cpu" if cfg.device == "auto" else cfg.device)
    rank, world, local_rank = dist_setup(device)
    if device == "cuda":
        torch.cuda.set_device(local_rank)
        dev = torch.device("cuda", local_rank)
        torch.backends.cudnn.benchmark = True  # fixed input size: let cuDNN pick the fastest kernels once
    else:
        dev = torch.device("cpu")
        local = int(os.environ.get("LOCAL_WORLD_SIZE", world))
        torch.set_num_threads(cfg.threads or max(1, (os.cpu_count() or 1) // local))
    show = progress and rank == 0
    amp = cfg.precision == "bf16" or (cfg.precision == "auto" and device == "cuda")

    ds = load_dataset(cfg.data, progress=show)
    xtr, ytr, xva, yva, val_name = train_val(ds, cfg.val_fraction, cfg.seed)
    if len(np.unique(ytr)) < 2:
        raise EmolensError(f"{cfg.data}: training data has fewer than two classes")
    xtr_t, ytr_t = torch.from_numpy(xtr).to(dev), torch.from_numpy(ytr).to(dev)
    xva_t, yva_t = torch.from_numpy(xva).to(dev), torch.from_numpy(yva).to(dev)

    torch.manual_seed(cfg.seed)  # initial weights
    model = create_model(cfg.arch)
    if cfg.init and not resume:  # fine-tune / warm restart: weights only, optimizer and schedule start afresh
        init = Path(cfg.init)
        info = load_weights_into(model, init / "best.safetensors" if init.is_dir() else init, cfg.arch, adapt=True)
        if rank == 0 and info.get("arch") != cfg.arch:
            how = ("by pruning {} ({}): residual blocks keep their most important inner channels"
                   if info.get("adapted") == "pruned" else
                   "by growing {} ({}): same function, new channels random and read by nothing yet")
            print(f"initialised {cfg.arch} " + how.format(info.get("arch"), init))
    model = model.to(dev).to(memory_format=torch.channels_last)
    if rank == 0 and not resume:
        run_dir = new_run_dir(cfg.project, cfg.name or cfg.arch)
    if world > 1:  # everyone learns rank 0's run directory
        import torch.distributed as dist
        box = [str(run_dir) if rank == 0 else None]
        dist.broadcast_object_list(box, src=0)
        run_dir = Path(box[0])
    params_decay = [p for n, p in model.named_parameters() if p.ndim > 1]
    params_other = [p for n, p in model.named_parameters() if p.ndim <= 1]
    groups = [{"params": params_decay, "weight_decay": cfg.weight_decay}, {"params": params_other, "weight_decay": 0.0}]
    if cfg.optimizer == "sgd":
        opt = torch.optim.SGD(groups, lr=cfg.lr, momentum=0.9, nesterov=True)
    elif cfg.optimizer == "adamw":
        opt = torch.optim.AdamW(groups, lr=cfg.lr)
    else:
        raise EmolensError(f"unknown optimizer '{cfg.optimizer}' (sgd, adamw)")
    ema = None
    if cfg.ema > 0:
        from torch.optim.swa_utils import AveragedModel
        ema = AveragedModel(model, multi_avg_fn=ema_update(cfg.ema), use_buffers=True)

    start_epoch, history, best = 1, [], {"score": -1.0, "epoch": 0}
    if state is not None:
        model.load_state_dict({k[6:]: v for k, v in state_tensors.items() if k.startswith("model.")})
        if ema is not None:
            ema.load_state_dict({k[4:]: v for k, v in state_tensors.items() if k.startswith("ema.")})
        _opt_restore(opt, state_tensors, state["optimizer"])
        start_epoch, history, best = state["epoch"] + 1, state["history"], state["best"]

    ddp = model
    if world > 1:
        ddp = nn.parallel.DistributedDataParallel(model, device_ids=[local_rank] if device == "cuda" else None)
    cw = class_weights(ytr, cfg.balance)
    cw = cw.to(dev) if cw is not None else None
    teachers = load_teachers(cfg.teacher, dev) if cfg.distill > 0 else []

    n_per_rank = len(xtr) // world
    steps_per_epoch = max(1, math.ceil(n_per_rank / cfg.batch))
    if cfg.max_batches:
        steps_per_epoch = min(steps_per_epoch, cfg.max_batches)
    total_steps, warmup = steps_per_epoch * cfg.epochs, int(steps_per_epoch * cfg.warmup_epochs)
    meta_base = {"arch": cfg.arch, "classes": list(CLASSES), "input_size": INPUT_SIZE,
                 "normalisation": {"scale": 1 / 255, "mean": NORM_MEAN, "std": NORM_STD, "channels": "gray"},
                 "training_data": {"source": str(cfg.data), "train_images": int(len(xtr)), "validation": val_name,
                                   "validation_images": int(len(xva))},
                 "params": count_params(model), "mflops": round(mflops(model), 1), "emolens_version": __version__}
    if rank == 0:
        atomic_write_text(run_dir / "config.json", json.dumps(asdict(cfg), indent=2))
        print(f"emolens train: {cfg.arch} ({meta_base['params']:,} params, {meta_base['mflops']} MFLOPs/img), "
              f"{len(xtr):,} train / {len(xva):,} {val_name}, {world} process(es) on {device}"
              f"{' (bf16 autocast)' if amp else ''}, run dir {run_dir}", file=sys.stderr)

    t_start = time.time()
    for epoch in range(start_epoch, cfg.epochs + 1):
        model.train()
        torch.manual_seed(cfg.seed * 100_003 + epoch * 131 + rank)  # dropout
        g = torch.Generator(device=dev).manual_seed(cfg.seed * 7_919 + epoch * 1_009 + rank)
        order = epoch_order(len(xtr), ytr_t, cfg, epoch)[rank::world][:n_per_rank].to(dev)
        loss_sum = torch.zeros((), dtype=torch.float64, device=dev)
        correct = torch.zeros((), dtype=torch.float64, device=dev)
        seen, t0 = 0, time.time()
        from tqdm import tqdm
        bar = tqdm(range(steps_per_epoch), desc=f"epoch {epoch}/{cfg.epochs}", disable=not show, file=sys.stderr,
                   leave=False, dynamic_ncols=True)
        for i in bar:
            step = (epoch - 1) * steps_per_epoch + i
            for grp in opt.param_groups:
                grp["lr"] = lr_at(step, total_steps, warmup, cfg)
            idx = order[i * cfg.batch:(i + 1) * cfg.batch]
            xb = xtr_t[idx].unsqueeze(1).float().div_(255.0)
            yb = ytr_t[idx]
            xb = augment(xb, g, cfg.shift, cfg.rotate, cfg.scale, True, cfg.brightness, cfg.contrast, cfg.erase)
            xb, ya, yb2, lam = mix(xb, yb, g, cfg.mixup, cfg.cutmix)
            xb = ((xb - NORM_MEAN) / NORM_STD).contiguous(memory_format=torch.channels_last)
            with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=amp):
                out = ddp(xb).float()
                target = teacher_probs(teachers, xb, cfg.distill_temp, cfg.teacher_views) if teachers else None
            loss = lam * F.cross_entropy(out, ya, weight=cw, label_smoothing=cfg.label_smoothing)
            if lam < 1.0:
                loss = loss + (1 - lam) * F.cross_entropy(out, yb2, weight=cw, label_smoothing=cfg.label_smoothing)
            if teachers:  # the teacher sees exactly the student's view (mixed images included): consistent teaching
                loss = (1 - cfg.distill) * loss + cfg.distill * distill_loss(out, target, cfg.distill_temp)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if ema is not None:
                ema.update_parameters(model)
            loss_sum += loss.detach().double() * len(idx)
            correct += (out.detach().argmax(1) == ya).double().sum()
            seen += len(idx)
            if show and (dev.type == "cpu" or i % 25 == 0):  # .item() waits for the GPU: not every step there
                bar.set_postfix(loss=f"{loss.item():.3f}", img_s=f"{seen * world / (time.time() - t0):.0f}")
        bar.close()
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)  # the GPU runs behind the Python loop: time the work, not the queueing
        train_time = time.time() - t0
        if world > 1:
            sync_from_rank0(model, ema)
        fault = os.environ.get("EMOLENS_FAULT_RANK")  # fault injection for the crash test: "rank:epoch"
        if fault and fault.split(":") == [str(rank), str(epoch)]:
            print(f"rank {rank}: injected fault at epoch {epoch}", file=sys.stderr, flush=True)
            os._exit(3)
        tot = all_sum(torch.stack([loss_sum, correct, torch.tensor(float(seen), dtype=torch.float64, device=dev)]), world)
        eval_model = ema.module if ema is not None else model
        val_loss, cm = evaluate_shard(eval_model, xva_t, yva_t, rank, world)
        m = metrics_from_cm(cm)
        row = {"epoch": epoch, "lr": opt.param_groups[0]["lr"], "train_loss": float(tot[0] / tot[2]),
               "train_acc": float(tot[1] / tot[2]), "val_loss": val_loss, "val_acc": m["acc"], "val_f1": m["f1"],
               "images_per_s": float(tot[2]) / train_time, "epoch_time_s": time.time() - t0}
        history.append(row)
        score = m["acc"] if cfg.select == "acc" else m["f1"]
        improved = score > best["score"]
        if improved:
            best = {"score": score, "epoch": epoch, "val_acc": m["acc"], "val_f1": m["f1"]}
        stop_now = bool(cfg.stop_after and epoch - start_epoch + 1 >= cfg.stop_after and epoch < cfg.epochs)
        early = bool(cfg.patience and epoch - best["epoch"] >= cfg.patience)
        save_last = epoch % cfg.checkpoint_every == 0 or epoch == cfg.epochs or stop_now or early
        if rank == 0:
            weights = {f"model.{k}": v for k, v in eval_model.state_dict().items()}
            meta = dict(meta_base, epoch=epoch, validation_metrics={"acc": m["acc"], "macro_f1": m["f1"],
                                                                    "split": val_name})
            if improved:
                atomic_save_safetensors(weights, run_dir / "best.safetensors", {"emolens": meta})
            if save_last:
                ck = {f"model.{k}": v for k, v in model.state_dict().items()}
                if ema is not None:
                    ck.update({f"ema.{k}": v for k, v in ema.state_dict().items()})
                otensors, oinfo = _opt_tensors(opt)
                ck.update(otensors)
                atomic_save_safetensors(ck, run_dir / "last.safetensors",
                                        {"emolens": meta, "train_state": {"epoch": epoch, "history": history,
                                                                          "best": best, "optimizer": oinfo,
                                                                          "config": asdict(cfg)}})
                plot_curves(history, run_dir / "curves.png")
            _write_history(run_dir, history)
            print(f"epoch {epoch}/{cfg.epochs}  loss {row['train_loss']:.3f}  train acc {row['train_acc']:.3f}  "
                  f"val acc {m['acc']:.4f}  val macro-F1 {m['f1']:.4f}  {row['images_per_s']:.0f} img/s  "
                  f"{row['epoch_time_s']:.0f}s{'  *best' if improved else ''}", file=sys.stderr, flush=True)
        if stop_now:
            if rank == 0:
                print(f"stopping after {cfg.stop_after} epoch(s) as asked; continue with --resume {run_dir}",
                      file=sys.stderr)
            break
        if early:
            if rank == 0:
                print(f"early stop: no improvement on {val_name} for {cfg.patience} epochs", file=sys.stderr)
            break
    identical = ranks_identical(model, world)
    if not identical:
        raise EmolensError("distributed ranks ended with different weights (DDP synchronisation failed)")
    if rank == 0:
        # Wall time covers every session of a resumed run (sum of its epochs), not just this process.
        summary = {"best": best, "epochs_run": len(history),
                   "wall_time_s": round(sum(r["epoch_time_s"] for r in history), 1),
                   "this_session_s": round(time.time() - t_start, 1),
                   "validation": val_name, "processes": world, "ranks_identical": identical,
                   "global_batch": cfg.batch * world}
        atomic_write_text(run_dir / "summary.json", json.dumps(summary, indent=2))
        print(f"best {cfg.select} on {val_name}: {best['score']:.4f} (epoch {best['epoch']})\n"
              f"results saved to {run_dir}", file=sys.stderr)
    if world > 1:
        import torch.distributed as dist
        dist.barrier()
        dist.destroy_process_group()
    return run_dir


def _write_history(run_dir: Path, history: list[dict]) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(history[0]))
    w.writeheader()
    w.writerows(history)
    atomic_write_text(run_dir / "history.csv", buf.getvalue())


def _load_resume(resume: str):
    p = Path(resume)
    ck = p / "last.safetensors" if p.is_dir() else p
    if not ck.is_file():
        raise EmolensError(f"{resume}: nothing to resume (no last.safetensors)")
    tensors, meta = read_safetensors(ck)
    if "train_state" not in meta:
        raise EmolensError(f"{ck}: not a training checkpoint (no optimizer state); use a run's last.safetensors")
    return ck.parent, tensors, meta["train_state"]
