"""Batched augmentation on tensors: one affine warp (shift, rotation, scale, flip) for the whole batch,
then brightness/contrast and random erasing by broadcasting. No per-image Python in the training loop."""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F


def _u(n, lo, hi, gen, device):
    return torch.rand(n, generator=gen, device=device) * (hi - lo) + lo


def augment(x: torch.Tensor, gen: torch.Generator, shift: float = 0.1, rotate: float = 10.0, scale: float = 0.1,
            flip: bool = True, brightness: float = 0.2, contrast: float = 0.2, erase_p: float = 0.25) -> torch.Tensor:
    """x: (N,1,H,W) float in [0,1] -> augmented copy. shift is a fraction of the image size, rotate in degrees."""
    n, dev = x.shape[0], x.device
    ang = _u(n, -rotate, rotate, gen, dev) * (math.pi / 180)
    s = _u(n, 1 - scale, 1 + scale, gen, dev)
    sx = torch.where(torch.rand(n, generator=gen, device=dev) < 0.5, -1.0, 1.0) if flip else torch.ones(n, device=dev)
    tx, ty = _u(n, -2 * shift, 2 * shift, gen, dev), _u(n, -2 * shift, 2 * shift, gen, dev)  # grid units span 2
    cos, sin = torch.cos(ang) / s, torch.sin(ang) / s
    theta = torch.stack([torch.stack([cos * sx, -sin, tx], 1), torch.stack([sin * sx, cos, ty], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)

    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    c = _u(n, 1 - contrast, 1 + contrast, gen, dev).view(n, 1, 1, 1)
    b = _u(n, -brightness, brightness, gen, dev).view(n, 1, 1, 1) * 0.5
    x = ((x - mean) * c + mean + b).clamp_(0, 1)

    if erase_p > 0:
        h, w = x.shape[2:]
        area = _u(n, 0.02, 0.2, gen, dev) * h * w
        ratio = torch.exp(_u(n, math.log(0.3), math.log(3.3), gen, dev))
        eh = (area * ratio).sqrt().clamp(1, h)
        ew = (area / ratio).sqrt().clamp(1, w)
        y0 = torch.rand(n, generator=gen, device=dev) * (h - eh)
        x0 = torch.rand(n, generator=gen, device=dev) * (w - ew)
        ys = torch.arange(h, device=dev).view(1, h, 1)
        xs = torch.arange(w, device=dev).view(1, 1, w)
        box = ((ys >= y0.view(n, 1, 1)) & (ys < (y0 + eh).view(n, 1, 1)) &
               (xs >= x0.view(n, 1, 1)) & (xs < (x0 + ew).view(n, 1, 1)))
        on = (torch.rand(n, generator=gen, device=dev) < erase_p).view(n, 1, 1)
        noise = torch.rand(x.shape, generator=gen, device=dev)
        x = torch.where((box & on).unsqueeze(1), noise, x)
    return x


def mix(x: torch.Tensor, y: torch.Tensor, gen: torch.Generator, mixup: float = 0.0, cutmix: float = 0.0):
    """Mixup or CutMix (one of them per batch, chosen at random among those enabled).

    Returns (x, y_a, y_b, lam): the loss is lam*CE(y_a) + (1-lam)*CE(y_b).
    """
    modes = [m for m, a in (("mixup", mixup), ("cutmix", cutmix)) if a > 0]
    if not modes:
        return x, y, y, 1.0
    mode = modes[int(torch.randint(len(modes), (1,), generator=gen, device=gen.device))]
    alpha = mixup if mode == "mixup" else cutmix
    lam = _beta(alpha, gen)
    perm = torch.randperm(x.shape[0], generator=gen, device=x.device)
    if mode == "mixup":
        return lam * x + (1 - lam) * x[perm], y, y[perm], lam
    h, w = x.shape[2:]
    rh, rw = int(h * math.sqrt(1 - lam)), int(w * math.sqrt(1 - lam))
    cy = int(torch.randint(h, (1,), generator=gen, device=gen.device))
    cx = int(torch.randint(w, (1,), generator=gen, device=gen.device))
    y0, y1, x0, x1 = max(cy - rh // 2, 0), min(cy + rh // 2, h), max(cx - rw // 2, 0), min(cx + rw // 2, w)
    x = x.clone()
    x[:, :, y0:y1, x0:x1] = x[perm, :, y0:y1, x0:x1]
    lam = 1 - (y1 - y0) * (x1 - x0) / (h * w)
    return x, y, y[perm], lam


def _beta(alpha: float, gen: torch.Generator) -> float:
    """Beta(alpha, alpha), seeded from the torch generator so runs (and resumes) are reproducible."""
    seed = int(torch.randint(2**31 - 1, (1,), generator=gen, device=gen.device))  # a CUDA generator too
    return float(np.random.default_rng(seed).beta(alpha, alpha))
