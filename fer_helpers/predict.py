"""Emotions on photos: detect the faces, cut FER2013-style crops, run the model, draw the answer (chapter 8).

``predict_faces(model, rgb, detector)`` does one photo, :func:`annotate` draws the result on a copy, and
:func:`predict_files` does a batch of files, skipping and reporting (one line each) those it cannot read.
Models take (N, 48, 48, 1) float pixels in 0..255 (``fer_helpers.data.as_model_input``) and return the
probabilities of ``CLASS_NAMES``.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .data import CLASS_NAMES, IMAGE_SUFFIXES, as_model_input
from .errors import FerError
from .faces import Box, Detector, fer_crop, make_detector, read_image, to_gray

#: What predict_files accepts inside a folder (the dataset suffixes plus the other common photo formats).
PHOTO_SUFFIXES = IMAGE_SUFFIXES | {".gif", ".tif", ".tiff"}


@dataclass
class FacePrediction:
    """One face in a photo: where (``box`` in photo pixels), the most probable ``emotion``, its probability
    (``confidence``), all seven ``probabilities`` by class name, and the 48x48 ``face`` the model saw."""
    box: Box
    emotion: str
    confidence: float
    probabilities: dict[str, float]
    face: np.ndarray | None = field(default=None, repr=False, compare=False)


def _probabilities(model, faces: np.ndarray) -> np.ndarray:
    """(N, 7) probabilities for uint8 faces (N, 48, 48); one model call (``predict_on_batch``: no per-call
    set-up cost, which matters for a handful of faces)."""
    inputs = as_model_input(faces)
    predict = getattr(model, "predict_on_batch", None)
    if predict is not None:
        proba = predict(inputs)
    else:
        import keras
        proba = keras.ops.convert_to_numpy(model(inputs))   # a tensor of the backend, possibly on a GPU
    return np.asarray(proba, dtype=np.float64).reshape(len(faces), -1)


def predict_faces(model, rgb: np.ndarray, detector: str | Detector = "auto", boxes=None) -> list[FacePrediction]:
    """Detect the faces in an RGB photo and predict an emotion for each, left to right.

    ``boxes`` (a list of (x, y, w, h[, score])) skips detection: handy to compare detectors or crops.
    A photo without faces gives an empty list, not an error.
    """
    if boxes is None:
        boxes = make_detector(detector).detect(rgb)
    boxes = [b if isinstance(b, Box) else Box(*b) for b in boxes]
    if not boxes:
        return []
    gray = to_gray(rgb)
    faces = np.stack([fer_crop(gray, box) for box in boxes])
    proba = _probabilities(model, faces)
    results = []
    for box, p, face in zip(boxes, proba, faces):
        best = int(np.argmax(p))
        results.append(FacePrediction(box=box, emotion=CLASS_NAMES[best], confidence=float(p[best]),
                                      probabilities={name: float(v) for name, v in zip(CLASS_NAMES, p)},
                                      face=face))
    return results


def _colour(confidence: float) -> tuple[int, int, int]:
    """Green for a confident prediction, orange for a hesitant one, red below 40%."""
    if confidence >= 0.6:
        return (40, 200, 60)
    if confidence >= 0.4:
        return (255, 165, 0)
    return (230, 40, 40)


def annotate(rgb: np.ndarray, predictions: list[FacePrediction], bars: bool = True) -> np.ndarray:
    """A copy of the photo with, for each face, its box, ``emotion NN%`` above it and (``bars=True``) the seven
    probabilities as small horizontal bars beside the box (right of it where there is room, else left)."""
    import cv2
    image = np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8).copy())
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2).copy()
    height, width = image.shape[:2]
    font = cv2.FONT_HERSHEY_SIMPLEX
    for pred in predictions:
        x, y, w, h = (int(v) for v in pred.box[:4])
        colour = _colour(pred.confidence)
        # Sizes follow the face, capped by the photo's size so the bars fit beside a big face.
        cap = max(8, round(min(height, width) / 38))
        thickness = max(1, round(w / 60))
        label_scale = float(np.clip(w / 180, 0.35, max(0.35, cap / 20)))
        cv2.rectangle(image, (x, y), (x + w, y + h), colour, thickness)
        label = f"{pred.emotion} {pred.confidence:.0%}"
        (tw, th), base = cv2.getTextSize(label, font, label_scale, max(1, thickness))
        ly = y - 4 if y - th - base - 4 >= 0 else y + h + th + 4
        cv2.rectangle(image, (x, ly - th - base), (x + tw + 4, ly + base // 2), colour, -1)
        cv2.putText(image, label, (x + 2, ly - 2), font, label_scale, (0, 0, 0), max(1, thickness // 2 + 1),
                    cv2.LINE_AA)
        if not bars:
            continue
        row = int(np.clip(round(h / 9), 8, cap))
        text_scale = row / 30
        name_width = cv2.getTextSize("surprise", font, text_scale, 1)[0][0] + 4
        bar_max = 5 * row
        panel_w, panel_h = name_width + bar_max + 6, row * len(CLASS_NAMES) + 4
        if x + w + 4 + panel_w <= width:      # right of the box
            px = x + w + 4
        elif x - panel_w - 4 >= 0:            # left of it
            px = x - panel_w - 4
        else:                                 # no room either side: against the photo's right edge
            px = max(0, width - panel_w)
        py = int(np.clip(y, 0, max(0, height - panel_h)))
        region = image[py:py + panel_h, px:px + panel_w]
        region[:] = (region * 0.35 + 255 * 0.65).astype(np.uint8)  # a light, see-through panel
        for i, name in enumerate(CLASS_NAMES):
            p = pred.probabilities[name]
            top = py + 2 + i * row
            cv2.putText(image, name, (px + 2, top + row - 2), font, text_scale, (0, 0, 0), 1, cv2.LINE_AA)
            bar_colour = colour if name == pred.emotion else (90, 90, 90)
            x0 = px + name_width
            cv2.rectangle(image, (x0, top + 1), (x0 + max(1, round(p * bar_max)), top + row - 2), bar_colour, -1)
    return image


def _expand(paths) -> list[Path]:
    """Files as given; a folder becomes its photo files (by suffix, sorted, not recursive)."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    expanded: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            expanded.extend(sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in PHOTO_SUFFIXES))
        else:
            expanded.append(path)
    return expanded


def predict_files(paths, model, detector: str | Detector = "auto", verbose: bool = False):
    """Predict the emotions of the faces in many photo files: ``(results, errors)``.

    ``results`` is a list of ``(file, [FacePrediction, ...])`` for every file that could be read (an empty
    list when it holds no face); ``errors`` has one line per file that could not be read, naming the file and
    the reason. A bad file never stops the batch. A folder in ``paths`` stands for the photos inside it.
    ``verbose=True`` also prints each error line to stderr as it happens.
    """
    detector = make_detector(detector)
    results: list[tuple[str, list[FacePrediction]]] = []
    errors: list[str] = []
    for path in _expand(paths):
        try:
            rgb = read_image(path)
        except FerError as err:
            errors.append(str(err))
            if verbose:
                print(f"skipped: {err}", file=sys.stderr)
            continue
        results.append((str(path), predict_faces(model, rgb, detector)))
    return results, errors
