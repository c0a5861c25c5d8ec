"""Photos in, faces with emotions out. The inference path: ONNX Runtime + OpenCV + numpy, no torch.

    from emolens import Recognizer
    faces = Recognizer().predict("photo.jpg")   # path, bytes, numpy array (RGB by default) or PIL image
    faces[0].emotion, faces[0].scores, faces[0].box
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from .errors import EmolensError
from .faces import Box, create_detector, fer_crop
from .images import DEFAULT_MAX_PIXELS, load_rgb, rgb_to_gray
from .labels import CLASSES, INPUT_SIZE

DEFAULT_MODEL = "emonet-t-slim"  # file stem inside emolens/weights/


def bundled_models() -> list[str]:
    """Names of the models shipped inside the package (usable wherever a model path is asked for)."""
    return sorted(p.name[:-5] for p in resources.files("emolens").joinpath("weights").iterdir()
                  if p.name.endswith(".onnx"))


def bundled_model_path(name: str = DEFAULT_MODEL) -> Path:
    p = Path(str(resources.files("emolens") / "weights" / f"{name}.onnx"))
    if not p.is_file():
        raise EmolensError(f"bundled model '{name}' is not installed (bundled: {', '.join(bundled_models())})")
    return p


def resolve_model(spec=None) -> Path:
    """None -> the default bundled model; a bundled model's name (e.g. 'emonet-t') -> its file; else a path.
    An existing file of the same name wins over a bundled name."""
    if spec is None or str(spec) == "":
        return bundled_model_path()
    s = str(spec)
    if not Path(s).exists() and "/" not in s and "\\" not in s and s in bundled_models():
        return bundled_model_path(s)
    return Path(s)


def default_threads() -> int:
    return int(os.environ.get("EMOLENS_THREADS", "0")) or max(1, min(4, os.cpu_count() or 1))


class Classifier:
    """An ONNX emotion classifier: (N,48,48) uint8 grayscale faces -> (N,7) probabilities.

    Normalisation, class order and the calibration temperature come from the model's own metadata.
    """

    def __init__(self, path=None, threads: int | None = None):
        import onnxruntime as ort
        self.path = resolve_model(path)
        if not self.path.is_file():
            raise EmolensError(f"{self.path}: no such model file")
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads or default_threads()
        so.inter_op_num_threads = 1
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # no busy-waiting after a run: spinning threads slow the face detector that runs next (16.8 -> 11 ms e2e)
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self.session = ort.InferenceSession(str(self.path), so, providers=["CPUExecutionProvider"])
        except Exception as e:
            raise EmolensError(f"{self.path}: not a loadable ONNX model ({str(e).splitlines()[0][:160]})") from None
        meta = self.session.get_modelmeta().custom_metadata_map
        try:
            self.info = json.loads(meta.get("emolens", "{}"))
        except json.JSONDecodeError:
            self.info = {}
        self.classes = tuple(self.info.get("classes", CLASSES))
        norm = self.info.get("normalisation", {"mean": 0.5, "std": 0.25})
        self.mean, self.std = float(norm["mean"]), float(norm["std"])
        self.temperature = float(self.info.get("temperature", 1.0))
        self.input_name = self.session.get_inputs()[0].name
        self.name = self.info.get("name", self.path.stem)

    def logits(self, faces: np.ndarray, batch: int = 256) -> np.ndarray:
        faces = np.asarray(faces)
        if faces.ndim == 2:
            faces = faces[None]
        if faces.shape[1:] != (INPUT_SIZE, INPUT_SIZE):
            raise EmolensError(f"faces must be (N,{INPUT_SIZE},{INPUT_SIZE}), got {faces.shape}")
        out = []
        scale = 1.0 / (255.0 * self.std)
        for i in range(0, len(faces), batch):
            x = (faces[i:i + batch, None].astype(np.float32) * scale) - (self.mean / self.std)
            out.append(self.session.run(None, {self.input_name: x.astype(np.float32)})[0])
        return np.concatenate(out) if out else np.zeros((0, len(self.classes)), np.float32)

    def probs(self, faces: np.ndarray, tta: str = "none") -> np.ndarray:
        views = tta_views(np.asarray(faces).reshape(-1, INPUT_SIZE, INPUT_SIZE), tta)
        return np.mean([softmax(self.logits(v) / self.temperature) for v in views], axis=0)


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def tta_views(x: np.ndarray, mode: str = "none", shift: int = 3) -> list[np.ndarray]:
    """Test-time views of (N,48,48) faces: none (1), flip (2), ten (5 shifted crops x flip: 10)."""
    if mode == "none":
        return [x]
    flips = [x, x[:, :, ::-1]]
    if mode == "flip":
        return flips
    if mode != "ten":
        raise EmolensError(f"unknown TTA mode '{mode}' (none, flip, ten)")
    n, s = shift, INPUT_SIZE
    views = []
    for v in flips:
        p = np.pad(v, ((0, 0), (n, n), (n, n)), mode="edge")
        for dy, dx in ((n, n), (0, 0), (0, 2 * n), (2 * n, 0), (2 * n, 2 * n)):
            views.append(p[:, dy:dy + s, dx:dx + s])
    return views


@dataclass
class Face:
    box: tuple[int, int, int, int]          # x, y, w, h in the photo's pixels (after EXIF rotation)
    emotion: str
    confidence: float                       # probability of `emotion`
    scores: dict[str, float]                # all seven probabilities
    detector_score: float = 1.0

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Result:
    source: str
    width: int
    height: int
    faces: list[Face] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"source": self.source, "width": self.width, "height": self.height,
                "faces": [f.to_dict() for f in self.faces]}


class Recognizer:
    """Face detection + emotion classification with the bundled model (or any exported .onnx)."""

    def __init__(self, model=None, detector: str = "auto", threads: int | None = None, tta: str = "none",
                 max_pixels: int | None = DEFAULT_MAX_PIXELS, detect_size: int = 640, min_face: int = 48):
        """`min_face`: the smallest face (box width, px) looked for; it sets the detection scale (smaller = slower;
        smaller faces may still be found). `detect_size`: cap on the long side of the copy the detector sees."""
        self.classifier = Classifier(model, threads)
        kw = {} if detector == "none" else {"max_side": detect_size, "min_face": min_face}
        self.detector = create_detector(detector, **kw)
        self.tta, self.max_pixels, self.min_face = tta, max_pixels, min_face

    @property
    def classes(self):
        return self.classifier.classes

    def to_rgb(self, image, color: str = "rgb") -> tuple[np.ndarray, str]:
        """Accept a path, bytes, PIL image or numpy array (HxW gray, HxWx3 in `color` order, HxWx4)."""
        if isinstance(image, (str, os.PathLike)):
            return load_rgb(image, self.max_pixels), str(image)
        if isinstance(image, (bytes, bytearray)):
            return load_rgb(bytes(image), self.max_pixels), "<bytes>"
        if hasattr(image, "convert") and hasattr(image, "size"):  # PIL image
            from .images import _to_rgb_array
            return _to_rgb_array(image), "<PIL image>"
        try:
            a = np.asarray(image)
        except Exception:
            a = np.asarray(None)
        if a.dtype.kind not in "biuf":
            raise EmolensError(f"{type(image).__name__} is not an image (give a path, bytes, a PIL image or a numpy "
                               f"array)")
        if a.dtype != np.uint8:
            if a.dtype.kind == "f":
                a = np.nan_to_num(a, nan=0.0, posinf=255.0, neginf=0.0)
                if a.size and a.max() <= 1.0:
                    a = a * 255.0
            a = np.clip(a, 0, 255).astype(np.uint8)
        if a.ndim == 2:
            a = np.repeat(a[..., None], 3, axis=2)
        elif a.ndim == 3 and a.shape[2] == 4:
            a = a[..., :3]
        elif a.ndim == 3 and a.shape[2] == 1:
            a = np.repeat(a, 3, axis=2)
        if a.ndim != 3 or a.shape[2] != 3:
            raise EmolensError(f"array of shape {a.shape} is not an image")
        if color.lower() == "bgr":
            a = a[..., ::-1]
        elif color.lower() != "rgb":
            raise EmolensError(f"color must be 'rgb' or 'bgr', not '{color}'")
        return np.ascontiguousarray(a), "<array>"

    def detect_and_crop(self, rgb: np.ndarray) -> tuple[list[Box], np.ndarray]:
        boxes = self.detector.detect(rgb)
        boxes.sort(key=lambda b: (b.x, b.y))
        gray = rgb_to_gray(rgb)
        whole = self.detector.name == "none"
        crops = np.stack([fer_crop(gray, b, INPUT_SIZE, whole) for b in boxes]) if boxes else np.zeros((0, 48, 48), np.uint8)
        return boxes, crops

    def predict(self, image, color: str = "rgb") -> list[Face]:
        return self.predict_full(image, color).faces

    def predict_full(self, image, color: str = "rgb") -> Result:
        rgb, source = self.to_rgb(image, color)
        boxes, crops = self.detect_and_crop(rgb)
        probs = self.classifier.probs(crops, self.tta) if len(crops) else np.zeros((0, len(self.classes)))
        return Result(source, rgb.shape[1], rgb.shape[0], self._faces(boxes, probs))

    def _faces(self, boxes, probs) -> list[Face]:
        faces = []
        for b, p in zip(boxes, probs):
            k = int(np.argmax(p))
            faces.append(Face((b.x, b.y, b.w, b.h), self.classes[k], round(float(p[k]), 6),
                              {c: round(float(v), 6) for c, v in zip(self.classes, p)}, round(b.score, 4)))
        return faces

    def video(self, path, every: int = 1, smooth: float = 0.5):
        """Iterate a video file's frames, classifying every `every`-th one; faces are tracked across frames and
        their emotion smoothed with a half-life of `smooth` seconds (0 = per frame). See `emolens.track.Video`."""
        from .track import Video
        return Video(self, path, every, smooth)

    def predict_many(self, images, color: str = "rgb") -> list[Result]:
        """Several images: detect each, then classify every face of every image in one batch."""
        prepared = []
        for im in images:
            rgb, source = self.to_rgb(im, color)
            boxes, crops = self.detect_and_crop(rgb)
            prepared.append((source, rgb.shape, boxes, crops))
        allc = [c for *_, c in prepared if len(c)]
        probs = self.classifier.probs(np.concatenate(allc), self.tta) if allc else np.zeros((0, 7))
        out, i = [], 0
        for source, shape, boxes, crops in prepared:
            out.append(Result(source, shape[1], shape[0], self._faces(boxes, probs[i:i + len(boxes)])))
            i += len(boxes)
        return out
