"""Test photos for benchmarks, generated from scikit-image's public-domain NASA astronaut portrait."""
import os
import platform

import numpy as np


def machine() -> str:
    """The CPU by name (platform.processor() is empty on Linux): figures are only comparable on one machine."""
    name = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
        flags = open("/proc/cpuinfo").read()
        isa = "AVX-512" if " avx512f" in flags else "AVX2" if " avx2" in flags else "no AVX2"
        name = f"{name} ({isa})"
    except OSError:
        pass
    return f"{name}, {os.cpu_count()} cores"


def astronaut():
    from skimage import data
    return data.astronaut()


def collage(width=1280, height=720, seed=0):
    """Several faces (astronaut crops at different sizes, some mirrored) on a textured background.
    Returns (rgb, ground-truth face centres and widths)."""
    import cv2
    rng = np.random.default_rng(seed)
    a = astronaut()
    face = a[30:250, 130:340]  # 210 x 220 region around the face
    bg = cv2.resize(a[280:512, 0:512], (width, height))
    img = (bg * 0.6 + 60).astype(np.uint8)
    truth = []
    specs = [(40, 60, 300), (380, 90, 200), (640, 60, 130), (820, 300, 110), (1000, 80, 180), (120, 420, 140),
             (450, 430, 90), (1100, 480, 70)]
    for x, y, h in specs:
        w = int(h * face.shape[1] / face.shape[0])
        f = cv2.resize(face if rng.random() < 0.5 else face[:, ::-1], (w, h))
        img[y:y + h, x:x + w] = f
        truth.append((x + w / 2, y + h * 0.45, w * 0.45))  # the face inside the crop: centre, rough width
    return img, truth
