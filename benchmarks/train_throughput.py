"""Training throughput (images/s) per architecture on this CPU: the real training step (batched augmentation,
forward, backward, SGD) on random data. Writes benchmarks/results/train_throughput.json.

    python benchmarks/train_throughput.py seed emonet-t
"""
import json
import os
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from emolens.augment import augment
from emolens.models import count_params, create_model, mflops


def bench(name, batch=128, steps=6):
    torch.manual_seed(0)
    m = create_model(name).to(memory_format=torch.channels_last).train()
    opt = torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9, nesterov=True)
    x = torch.randint(0, 255, (batch, 1, 48, 48)).float() / 255
    y = torch.randint(0, 7, (batch,))
    g = torch.Generator().manual_seed(0)
    times = []
    for i in range(steps + 2):
        t = time.perf_counter()
        xb = ((augment(x, g) - 0.5) / 0.25).contiguous(memory_format=torch.channels_last)
        loss = F.cross_entropy(m(xb), y, label_smoothing=0.1)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if i >= 2:
            times.append(time.perf_counter() - t)
    return {"arch": name, "params": count_params(m), "mflops": round(mflops(m), 1),
            "train_images_per_s": round(batch / (sum(times) / len(times)), 1), "threads": torch.get_num_threads()}


if __name__ == "__main__":
    torch.set_num_threads(os.cpu_count())
    rows = [bench(n) for n in (sys.argv[1:] or ["seed", "emonet-t"])]
    for r in rows:
        print(r)
    (Path(__file__).parent / "results" / "train_throughput.json").write_text(json.dumps(rows, indent=2))
