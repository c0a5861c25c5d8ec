"""Emotions in a video, frame by frame: detect, follow each face, smooth its probabilities (chapter 8b).

:func:`process_video` reads a video, and for every frame

1. finds the faces, but only every ``every`` frames (detection is the slow step); in between, each face's box is
   moved on at the speed it had between its last two detections (a constant-velocity guess; a new face starts
   at the median speed of the others, as in a panning shot the camera moves them all);
2. tells the faces apart over time: a detection joins the *track* whose box it overlaps most (intersection over
   union, :func:`iou`, at least ``min_iou``; :func:`match`); a detection that overlaps none starts a new track,
   and a track that no detection joins is hidden, and forgotten after ``patience`` detections without one;
3. predicts seven probabilities per face (``predict.predict_faces``, the FER2013-style crop) and smooths them per
   track with an exponential moving average (:func:`ema`, :func:`alpha_for`);
4. draws the smoothed emotions on the frame (``predict.annotate``, plus the track number) into an mp4 file, and
   returns (and writes as CSV) one row per face per frame: frame, time_s, track_id, box, the smoothed emotion,
   the smoothed and the raw probabilities.

Why smooth, and why this way: a classifier run on each frame alone flickers (a box a pixel off, compression
noise, a blink change the crop, and the top emotion can jump from frame to frame although the face did not
change). An expression lasts from about half a second to several seconds, so averaging over a fraction of a
second removes flicker and keeps the expressions. The exponential moving average ``s = a * p + (1 - a) * s``
needs one vector of state per face (no buffer of past frames), uses only the past (it works on a live camera),
weighs recent frames most, and keeps a probability distribution (a weighted mean of distributions sums to 1).
Its price is a lag: a real change of expression shows up about ``smoothing`` seconds late. ``smoothing`` is a
time constant in seconds rather than a per-frame weight, so the same value means the same on a 10 and a 30 fps
video.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .course import shown_path
from .data import CLASS_NAMES
from .errors import FerError
from .faces import Box, Detector, make_detector

# FFmpeg (inside OpenCV) prints its own lines to stderr for a broken file ("moov atom not found"); open_video says
# what went wrong in one FerError line instead. OpenCV reads this when it first opens a video (AV_LOG_QUIET = -8).
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")

#: The columns of the table process_video returns (and writes as CSV): the box is x, y, w, h in frame pixels;
#: ``detected`` says whether the box came from the detector on this frame (else it was carried on by the tracker);
#: emotion and confidence are those of the smoothed probabilities ``p_<class>``; ``raw_<class>`` are the model's.
COLUMNS = (["frame", "time_s", "track_id", "x", "y", "w", "h", "detected", "emotion", "confidence"]
           + [f"p_{name}" for name in CLASS_NAMES] + [f"raw_{name}" for name in CLASS_NAMES])


# ----------------------------------------------------------------------------------------- smoothing


def alpha_for(fps: float, smoothing: float) -> float:
    """The weight of the newest frame in the moving average, for a time constant of ``smoothing`` seconds.

    ``a = 1 - exp(-1 / (fps * smoothing))``: after ``smoothing`` seconds of a changed input the average has moved
    63% of the way (1 - 1/e), whatever the frame rate. ``smoothing=0`` gives 1: no smoothing at all.
    """
    if smoothing < 0 or fps <= 0:
        raise ValueError(f"smoothing must be >= 0 seconds and fps > 0 (got {smoothing}, {fps})")
    return 1.0 if smoothing == 0 else 1.0 - math.exp(-1.0 / (fps * smoothing))


def ema(sequence, alpha: float) -> np.ndarray:
    """The exponential moving average of a sequence of vectors (or numbers): ``s[0] = x[0]``,
    ``s[t] = alpha * x[t] + (1 - alpha) * s[t - 1]``. ``alpha=1`` returns the sequence unchanged."""
    x = np.asarray(sequence, dtype=np.float64)
    smoothed = np.empty_like(x)
    for t, value in enumerate(x):
        smoothed[t] = value if t == 0 else alpha * value + (1 - alpha) * smoothed[t - 1]
    return smoothed


# ------------------------------------------------------------------------------------------ tracking


def iou(a, b) -> float:
    """Intersection over union of two (x, y, w, h) boxes: 0 for disjoint boxes, 1 for the same box."""
    ax, ay, aw, ah = (float(v) for v in tuple(a)[:4])
    bx, by, bw, bh = (float(v) for v in tuple(b)[:4])
    ix = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    iy = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    union = aw * ah + bw * bh - ix * iy
    return ix * iy / union if union > 0 else 0.0


def match(boxes, detections, min_iou: float = 0.3) -> list[tuple[int, int]]:
    """Pairs (box index, detection index), greedily by decreasing IoU, each used once, IoU >= ``min_iou``.

    Greedy is enough for a handful of faces that move little between detections; a crowd would need the optimal
    assignment (the Hungarian algorithm, ``scipy.optimize.linear_sum_assignment``).
    """
    pairs = sorted(((iou(b, d), i, j) for i, b in enumerate(boxes) for j, d in enumerate(detections)), reverse=True)
    used_boxes, used_detections, matched = set(), set(), []
    for overlap, i, j in pairs:
        if overlap < min_iou:
            break
        if i not in used_boxes and j not in used_detections:
            matched.append((i, j))
            used_boxes.add(i)
            used_detections.add(j)
    return sorted(matched)


@dataclass
class Track:
    """One face followed over frames: its box when last detected, its speed, its smoothed probabilities."""
    id: int
    box: np.ndarray                   # (x, y, w, h) as floats, at frame `seen`
    seen: int                         # the frame of its last detection
    velocity: np.ndarray              # box change per frame, from its last two detections
    missed: int = 0                   # detections in a row that it had no part in (> 0: hidden)
    smoothed: np.ndarray | None = None
    updated: int = -1                 # the frame `smoothed` belongs to

    def box_at(self, frame: int) -> np.ndarray:
        """The box expected at ``frame``: the last detected one moved on at constant speed."""
        return self.box + self.velocity * (frame - self.seen)


# -------------------------------------------------------------------------------------------- files


def open_video(path: str | os.PathLike):
    """``(capture, fps, frame_count)`` for a video file OpenCV can decode; else a one-line :class:`FerError`
    naming the file and the reason (no such file, a folder, empty, not a video, no frame decodable)."""
    import cv2
    path = Path(path)
    name = shown_path(path)
    if not path.exists():
        raise FerError(f"{name}: no such file")
    if path.is_dir():
        raise FerError(f"{name}: is a folder, not a video file")
    if path.stat().st_size == 0:
        raise FerError(f"{name}: empty file (0 bytes)")
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        capture.release()
        raise FerError(f"{name}: not a video OpenCV can read (corrupt, truncated, or an unsupported format)")
    ok, _ = capture.read()
    if not ok:
        capture.release()
        raise FerError(f"{name}: no frame could be decoded (corrupt or truncated video)")
    capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
    fps = capture.get(cv2.CAP_PROP_FPS)
    fps = fps if fps and math.isfinite(fps) and fps > 0 else 25.0  # some containers do not store it
    return capture, float(fps), int(capture.get(cv2.CAP_PROP_FRAME_COUNT))


def read_frames(path: str | os.PathLike, indices=None) -> list[np.ndarray]:
    """The frames of a video as RGB uint8 arrays: all of them, or those at ``indices`` (in the order given)."""
    import cv2
    capture, _, _ = open_video(path)
    wanted = None if indices is None else set(int(i) for i in indices)
    frames = {}
    index = 0
    while wanted is None or len(frames) < len(wanted):
        ok, bgr = capture.read()
        if not ok:
            break
        if wanted is None or index in wanted:
            frames[index] = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        index += 1
    capture.release()
    if wanted is not None and len(frames) < len(wanted):
        raise FerError(f"{shown_path(Path(path))}: has {index} frames, no frame {max(wanted - set(frames))}")
    return list(frames.values()) if indices is None else [frames[int(i)] for i in indices]


# ------------------------------------------------------------------------------------------ pipeline


def _pixels(box) -> Box:
    """A float (x, y, w, h) as a Box of whole pixels, at least 1 x 1."""
    x, y, w, h = (int(round(float(v))) for v in box[:4])
    return Box(x, y, max(1, w), max(1, h))


def _draw(rgb: np.ndarray, predictions, track_ids) -> np.ndarray:
    """``predict.annotate`` plus each face's track number under its box (yellow on a black outline)."""
    import cv2

    from .predict import annotate
    image = annotate(rgb, predictions)
    for pred, track_id in zip(predictions, track_ids):
        x, y, w, h = (int(v) for v in pred.box[:4])
        scale = float(np.clip(w / 150, 0.4, 0.8))
        at = (x + 2, min(image.shape[0] - 4, y + h + int(24 * scale) + 2))
        for colour, thickness in (((0, 0, 0), 3), ((255, 255, 0), 1)):
            cv2.putText(image, f"#{track_id}", at, cv2.FONT_HERSHEY_SIMPLEX, scale, colour, thickness, cv2.LINE_AA)
    return image


def process_video(path: str | os.PathLike, model, detector: str | Detector = "auto",
                  out_video: str | os.PathLike | None = None, out_csv: str | os.PathLike | None = None,
                  every: int = 3, smoothing: float = 0.5, min_iou: float = 0.3, patience: int = 2,
                  max_frames: int | None = None):
    """Predict the emotions of the faces in a video, frame by frame; returns a pandas DataFrame (:data:`COLUMNS`).

    ``detector`` runs on frames 0, ``every``, 2 x ``every``, ...; ``smoothing`` is the time constant of the
    moving average in seconds (0: raw probabilities); ``min_iou`` is the overlap a detection needs to join a
    track, ``patience`` how many detections a track may miss before it is forgotten. ``out_video`` (an .mp4,
    written with the mp4v codec at the input's frame rate) gets the annotated frames, ``out_csv`` the table.
    A missing or unreadable video raises :class:`FerError` with one line naming the file and the reason.
    The module's docstring explains the steps and the smoothing.
    """
    import cv2
    import pandas as pd

    from .predict import FacePrediction, predict_faces

    if every < 1:
        raise ValueError(f"every must be at least 1 (got {every})")
    detector = make_detector(detector)
    capture, fps, _ = open_video(path)
    alpha = alpha_for(fps, smoothing)
    writer = None
    tracks: list[Track] = []
    next_id, rows, frame = 1, [], 0
    try:
        while max_frames is None or frame < max_frames:
            ok, bgr = capture.read()
            if not ok:
                break
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            if frame % every == 0:                                     # 1. detect, and join detections to tracks
                detections = detector.detect(rgb)
                expected = [t.box_at(frame) for t in tracks]
                pairs = match(expected, detections, min_iou)
                joined = {i: j for i, j in pairs}
                for i, track in enumerate(tracks):
                    if i in joined:
                        box = np.array(detections[joined[i]][:4], dtype=np.float64)
                        track.velocity = (box - track.box) / (frame - track.seen)
                        track.box, track.seen, track.missed = box, frame, 0
                    else:
                        track.missed += 1
                # A new face starts at the median speed of the faces already followed (in a panning shot the
                # camera moves them all alike; not their change of size), or standing still if there are none.
                moving = [tracks[i].velocity for i in joined if np.any(tracks[i].velocity)]
                start = np.median(moving, axis=0) * [1, 1, 0, 0] if moving else np.zeros(4)
                tracks = [t for t in tracks if t.missed <= patience]
                for j in sorted(set(range(len(detections))) - set(joined.values())):
                    tracks.append(Track(next_id, np.array(detections[j][:4], dtype=np.float64), frame, start.copy()))
                    next_id += 1
            visible = [t for t in tracks if t.missed == 0]
            boxes = [_pixels(t.box_at(frame)) for t in visible]
            raw = predict_faces(model, rgb, boxes=boxes) if boxes else []  # 2. predict every visible face
            shown = []
            for track, box, pred in zip(visible, boxes, raw):                 # 3. smooth, per track
                p = np.array([pred.probabilities[c] for c in CLASS_NAMES])
                if track.smoothed is None:
                    track.smoothed = p
                else:  # alpha one frame on; after a gap (a hidden track) the old average has faded as many frames
                    weight = 1 - (1 - alpha) ** (frame - track.updated)
                    track.smoothed = weight * p + (1 - weight) * track.smoothed
                track.updated = frame
                best = int(np.argmax(track.smoothed))
                shown.append(FacePrediction(box, CLASS_NAMES[best], float(track.smoothed[best]),
                                            dict(zip(CLASS_NAMES, track.smoothed.tolist()))))
                rows.append([frame, round(frame / fps, 4), track.id, *box[:4], track.seen == frame,
                             CLASS_NAMES[best], float(track.smoothed[best]), *track.smoothed.tolist(), *p.tolist()])
            if out_video is not None:                                          # 4. draw and write
                if writer is None:
                    writer = _writer(out_video, fps, rgb.shape[1], rgb.shape[0])
                writer.write(cv2.cvtColor(_draw(rgb, shown, [t.id for t in visible]), cv2.COLOR_RGB2BGR))
            frame += 1
    finally:
        capture.release()
        if writer is not None:
            writer.release()
    table = pd.DataFrame(rows, columns=COLUMNS)
    if out_csv is not None:
        Path(out_csv).parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(out_csv, index=False, float_format="%.4f")
    return table


def _writer(path: str | os.PathLike, fps: float, width: int, height: int):
    """An OpenCV VideoWriter for an .mp4 with the mp4v codec (MPEG-4 part 2, which every FFmpeg decodes)."""
    import cv2
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    if not writer.isOpened():
        raise FerError(f"{shown_path(path)}: OpenCV cannot write an mp4v video here (use an .mp4 name; "
                       "OpenCV needs its FFmpeg backend)")
    return writer
