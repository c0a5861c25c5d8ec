"""Architectures by name (a small registry, timm-style). All take (N,1,48,48) normalised input, return logits."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch
from torch import nn

from .errors import EmolensError
from .labels import INPUT_SIZE, NUM_CLASSES

REGISTRY: dict[str, Callable[..., nn.Module]] = {}
DESCRIPTIONS: dict[str, str] = {}


def register(name: str, description: str):
    def deco(fn):
        REGISTRY[name] = fn
        DESCRIPTIONS[name] = description
        return fn
    return deco


def create_model(name: str, num_classes: int = NUM_CLASSES) -> nn.Module:
    if name not in REGISTRY:
        raise EmolensError(f"unknown architecture '{name}' (known: {', '.join(sorted(REGISTRY))})")
    return REGISTRY[name](num_classes=num_classes)


class SeedNet(nn.Module):
    """The original Keras project's network, layer for layer (valid 3x3 convs, pool+dropout 0.4 after each)."""

    def __init__(self, num_classes: int = NUM_CLASSES):
        super().__init__()
        layers, c_in = [], 1
        for c in (128, 256, 512, 512):
            layers += [nn.Conv2d(c_in, c, 3), nn.ReLU(inplace=True), nn.MaxPool2d(2), nn.Dropout(0.4)]
            c_in = c
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(512, 512), nn.ReLU(inplace=True), nn.Dropout(0.4),
            nn.Linear(512, 256), nn.ReLU(inplace=True), nn.Dropout(0.3), nn.Linear(256, num_classes))

    def forward(self, x):
        return self.classifier(self.features(x))


def conv_bn(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


class ResBlock(nn.Module):
    """Pre-pooled basic residual block: two 3x3 conv-BN, identity shortcut (channels unchanged).

    `mid` < c narrows the inner width (a bottleneck): the block costs mid/c of a full one, which is how the
    slim variants buy speed, and how a trained full-width block is pruned into one (`prune_into`)."""

    def __init__(self, c: int, mid: int | None = None):
        super().__init__()
        mid = mid or c
        self.body = nn.Sequential(nn.Conv2d(c, mid, 3, 1, 1, bias=False), nn.BatchNorm2d(mid), nn.ReLU(inplace=True),
                                  nn.Conv2d(mid, c, 3, 1, 1, bias=False), nn.BatchNorm2d(c))
        self.act = nn.ReLU(inplace=True)

    def forward(self, x):
        return self.act(x + self.body(x))


class EmoNet(nn.Module):
    """Our CPU-friendly network: BN VGG stages (48->24->12->6->3), residual blocks in the deeper stages,
    global average pooling and one dropout before the classifier.

    `widths` per stage; `blocks` = residual blocks appended to each stage after its downsampling conv.
    """

    def __init__(self, widths=(32, 64, 128, 256), blocks=(0, 1, 1, 1), dropout: float = 0.3,
                 num_classes: int = NUM_CLASSES, mid_ratio: float = 1.0):
        super().__init__()
        layers, c_in = [conv_bn(1, widths[0])], widths[0]
        for i, (w, b) in enumerate(zip(widths, blocks)):
            if i > 0:
                layers += [nn.MaxPool2d(2), conv_bn(c_in, w)]
            elif b == 0:
                layers += [conv_bn(w, w)]
            layers += [ResBlock(w, max(1, round(w * mid_ratio))) for _ in range(b)]
            c_in = w
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout), nn.Linear(c_in, num_classes))

    def forward(self, x):
        return self.head(self.features(x))


@register("seed", "the original Keras project's CNN, exactly (Conv 128-256-512-512, Dense 512-256)")
def seed(num_classes=NUM_CLASSES):
    return SeedNet(num_classes)


@register("emonet-t", "ours, tiny: BN/residual 16-32-64-128, the default, built for >1,000 faces/s on 2 CPU cores")
def emonet_t(num_classes=NUM_CLASSES):
    return EmoNet((16, 32, 64, 128), (0, 1, 1, 1), 0.2, num_classes)


@register("emonet-t-slim", "emonet-t with half-width residual blocks: 35% fewer FLOPs, the >1,000 faces/s model")
def emonet_t_slim(num_classes=NUM_CLASSES):
    return EmoNet((16, 32, 64, 128), (0, 1, 1, 1), 0.2, num_classes, mid_ratio=0.5)


@register("emonet-s", "ours, small: BN/residual 24-48-96-192")
def emonet_s(num_classes=NUM_CLASSES):
    return EmoNet((24, 48, 96, 192), (0, 1, 1, 1), 0.3, num_classes)


@register("emonet-m", "ours, medium: BN/residual 32-64-128-256")
def emonet_m(num_classes=NUM_CLASSES):
    return EmoNet((32, 64, 128, 256), (0, 1, 1, 1), 0.3, num_classes)


@register("emonet-l", "ours, large: BN/residual 64-128-256-512, two blocks in the deep stages")
def emonet_l(num_classes=NUM_CLASSES):
    return EmoNet((64, 128, 256, 512), (0, 1, 2, 1), 0.4, num_classes)


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def mflops(model: nn.Module) -> float:
    """Forward MFLOPs per image (multiply+add = 2 FLOPs), counted by torch's own FlopCounterMode."""
    from torch.utils.flop_counter import FlopCounterMode

    was_training = model.training
    model.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        model(torch.zeros(1, 1, INPUT_SIZE, INPUT_SIZE, device=next(model.parameters()).device))
    model.train(was_training)
    return fc.get_total_flops() / 1e6


def describe() -> list[dict]:
    rows = []
    for name in REGISTRY:
        m = create_model(name)
        rows.append({"arch": name, "params": count_params(m), "mflops": round(mflops(m), 1),
                     "description": DESCRIPTIONS[name]})
    return rows


# ------------------------------------------------------------------------------- weights without pickle

NORM_MEAN, NORM_STD = 0.5, 0.25  # input normalisation: (pixel/255 - mean) / std


def atomic_save_safetensors(tensors: dict, path, metadata: dict) -> None:
    """Write to a temp file then rename, so a crash never leaves a half-written checkpoint."""
    import json
    import os

    from safetensors.torch import save_file

    tensors = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    tmp = f"{path}.tmp{os.getpid()}"
    save_file(tensors, tmp, metadata={k: json.dumps(v) for k, v in metadata.items()})
    os.replace(tmp, path)


def read_safetensors(path) -> tuple[dict, dict]:
    """(tensors, metadata) from a .safetensors file; EmolensError if it is missing or not one of ours."""
    import json
    from pathlib import Path

    from safetensors import safe_open

    p = Path(path)
    if not p.is_file():
        raise EmolensError(f"{p}: no such model file")
    try:
        with safe_open(str(p), framework="pt") as f:
            meta = {k: json.loads(v) for k, v in (f.metadata() or {}).items()}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as e:  # safetensors raises several types for damaged files
        raise EmolensError(f"{p}: not a readable safetensors file ({str(e).splitlines()[0][:120]})") from None
    return tensors, meta


def load_model(path) -> tuple[nn.Module, dict]:
    """Rebuild the architecture named in the file's metadata and load its weights (eval mode)."""
    tensors, meta = read_safetensors(path)
    info = meta.get("emolens")
    if not info or "arch" not in info:
        raise EmolensError(f"{path}: no emolens metadata (architecture unknown)")
    model = create_model(info["arch"], len(info.get("classes", [])) or NUM_CLASSES)
    state = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        first = str(e).split("\n")[0]
        raise EmolensError(f"{path}: weights do not fit architecture '{info['arch']}' ({first})") from None
    return model.eval(), info


class Ensemble(nn.Module):
    """Several trained models as one: their probabilities averaged, returned as log-probabilities. A softmax of
    the output is the average, so everything downstream of "logits" (temperature, TTA, metrics, ONNX export)
    works on an ensemble unchanged."""

    def __init__(self, members: list[nn.Module]):
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = torch.stack([torch.softmax(m(x).float(), dim=1) for m in self.members]).mean(0)
        return torch.log(p.clamp_min(1e-12))


def load_models(paths) -> tuple[nn.Module, dict]:
    """One checkpoint -> load_model; several -> an Ensemble of them, with a model card that lists the members
    (their own validation figures do not describe the ensemble, so none is claimed for it here)."""
    paths = [paths] if isinstance(paths, (str, bytes)) or not hasattr(paths, "__iter__") else list(paths)
    if not paths:
        raise EmolensError("no checkpoint given")
    if len(paths) == 1:
        return load_model(paths[0])
    loaded = [load_model(p) for p in paths]
    infos = [i for _, i in loaded]
    for p, i in zip(paths[1:], infos[1:]):
        for key in ("classes", "normalisation", "input_size"):
            if i.get(key) != infos[0].get(key):
                raise EmolensError(f"{p}: its {key} differ from {paths[0]}'s: cannot ensemble them")
    archs = [i["arch"] for i in infos]
    arch = f"{len(archs)} x {archs[0]}" if len(set(archs)) == 1 else " + ".join(archs)
    info = {k: v for k, v in infos[0].items() if k not in ("validation_metrics", "epoch", "temperature", "name")}
    info.update(arch=arch, params=sum(int(i.get("params", 0)) for i in infos),
                mflops=round(sum(float(i.get("mflops", 0)) for i in infos), 1),
                members=[{"arch": i["arch"], "file": Path(str(p)).name, "epoch": i.get("epoch"),
                          "validation_metrics": i.get("validation_metrics")} for p, i in zip(paths, infos)])
    return Ensemble([m for m, _ in loaded]).eval(), info


def load_weights_into(model: nn.Module, path, arch: str, adapt: bool = False) -> dict:
    """Load a checkpoint into an existing model, refusing one saved from a different architecture —
    unless `adapt`: then a wider model of the same family is pruned into it (`prune_into`), or a narrower
    one grown into it (`grow_into`)."""
    tensors, meta = read_safetensors(path)
    info = meta.get("emolens", {})
    state = {k[6:]: v for k, v in tensors.items() if k.startswith("model.")}
    if info.get("arch") != arch:
        if not adapt:
            raise EmolensError(f"{path}: checkpoint is for architecture '{info.get('arch')}', not '{arch}'")
        grow = _is_narrower(state, model)
        try:
            (grow_into if grow else prune_into)(state, model)
        except ValueError as e:
            verb = "grow" if grow else "prune"
            raise EmolensError(f"{path}: cannot {verb} '{info.get('arch')}' into '{arch}' ({e})") from None
        info["adapted"] = "grown" if grow else "pruned"
        return info
    model.load_state_dict(state)
    return info


def prune_into(src: dict, model: nn.Module) -> dict:
    """Initialise `model` from the state dict of a wider trained model of the same layout: tensors of equal
    shape are copied, and each residual block's inner channels are cut to the model's `mid`, keeping the
    channels that matter most (|BN scale| x L1 norm of the weights that read them, cf. Li et al. 2017).

    Starting a slim network from the pruned wide one and distilling (`--teacher`) recovers the accuracy in
    a few epochs instead of a from-scratch schedule. Returns {block name: kept channel indices}."""
    state, kept = {}, {}
    blocks = {n: m for n, m in model.named_modules() if isinstance(m, ResBlock)}
    for n, m in blocks.items():
        mid = m.body[0].out_channels
        w0, w3 = src.get(f"{n}.body.0.weight"), src.get(f"{n}.body.3.weight")
        if w0 is None or w3 is None:
            raise ValueError(f"source has no residual block '{n}'")
        if w0.shape[1] != m.body[0].in_channels or w0.shape[0] < mid:
            raise ValueError(f"block '{n}': source is {tuple(w0.shape[:2])}, target needs {mid} of its {w0.shape[0]}")
        score = src[f"{n}.body.1.weight"].abs() * w3.abs().sum(dim=(0, 2, 3))
        idx = torch.sort(torch.topk(score, mid).indices).values
        kept[n] = idx.tolist()
        state[f"{n}.body.0.weight"] = w0[idx]
        for k in ("weight", "bias", "running_mean", "running_var"):
            state[f"{n}.body.1.{k}"] = src[f"{n}.body.1.{k}"][idx]
        state[f"{n}.body.3.weight"] = w3[:, idx]
    for k, v in model.state_dict().items():
        if k in state:
            continue
        if k not in src or src[k].shape != v.shape:
            got = "missing" if k not in src else tuple(src[k].shape)
            raise ValueError(f"'{k}' is {got} in the source, {tuple(v.shape)} in the target")
        state[k] = src[k]
    model.load_state_dict(state, strict=True)
    return kept


def _is_narrower(src: dict, model: nn.Module) -> bool:
    """True when every tensor the two share by name is no larger in the source and one is smaller."""
    pairs = [(src[k].shape, v.shape) for k, v in model.state_dict().items() if k in src]
    return bool(pairs) and all(len(a) == len(b) and all(x <= y for x, y in zip(a, b)) for a, b in pairs) \
        and any(a != b for a, b in pairs)


def grow_into(src: dict, model: nn.Module) -> None:
    """Initialise `model` from a narrower trained model of the same layout (emonet-t into emonet-s) so that
    it computes exactly the same function: the source fills the leading slice of every tensor, the new
    channels keep their random initialisation, and every weight *from* a new channel *into* an old one is
    zero (cf. Net2Net, Chen et al. 2016). The new channels are random, so they are not copies of old ones
    and learn; the zero weights get gradients and open up as training goes.

    Lets a wider network start from a converged narrow one instead of a from-scratch schedule."""
    state = {}
    for k, v in model.state_dict().items():
        if k not in src:
            raise ValueError(f"'{k}' is missing in the source")
        s = src[k]
        if s.ndim != v.ndim or any(a > b for a, b in zip(s.shape, v.shape)):
            raise ValueError(f"'{k}' is {tuple(s.shape)} in the source, {tuple(v.shape)} in the target")
        t = v.clone()
        if s.ndim >= 2:  # conv / linear weight [out, in, ...]: old outputs read nothing from new inputs
            t[: s.shape[0], s.shape[1]:] = 0
        t[tuple(slice(0, n) for n in s.shape)] = s
        state[k] = t
    model.load_state_dict(state, strict=True)
