"""Faces followed across video frames: a stable id per person and a temporally smoothed emotion.

Why: a per-frame classifier flickers (a blink, motion blur, a half-turned head), and the detector's order of
faces changes from frame to frame, so "face 1" in one frame need not be "face 1" in the next. People read an
emotion over a fraction of a second. Tracks are matched greedily by box overlap (IoU: faces move little
between the frames we look at), and each track keeps an exponential moving average of its seven
probabilities whose half-life is in *seconds*, so the smoothing means the same at any frame rate or `--every`.
The raw per-frame prediction is always kept beside the smoothed one.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import EmolensError


def iou(a, b) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


@dataclass
class TrackedFace:
    """One face in one frame: its track id, the smoothed emotion, and the frame's own prediction (`raw`)."""
    track: int
    emotion: str
    confidence: float
    scores: dict[str, float]
    raw: object                      # the frame's Face (box, emotion, confidence, scores, detector_score)

    @property
    def box(self):
        return self.raw.box

    @property
    def detector_score(self):
        return self.raw.detector_score


@dataclass
class _Track:
    id: int
    box: tuple
    probs: np.ndarray
    last_t: float


class FaceTracker:
    """Feed it each processed frame's faces with the frame's time; get them back with ids and smoothed scores.

    half_life: seconds after which a past frame's probabilities weigh half (0 = no smoothing, ids only).
    min_iou: least box overlap with a track's last box to continue it (else the face starts a new track).
    max_gap: seconds a track may go unseen (a missed detection, a turned head) before it is forgotten.
    """

    def __init__(self, half_life: float = 0.5, min_iou: float = 0.3, max_gap: float = 1.0):
        for name, v in (("half_life", half_life), ("max_gap", max_gap)):
            if not np.isfinite(v) or v < 0:
                raise EmolensError(f"FaceTracker: {name} must be a number of seconds >= 0, got {v}")
        if not 0 < min_iou <= 1:
            raise EmolensError(f"FaceTracker: min_iou must be in (0, 1], got {min_iou}")
        self.half_life, self.min_iou, self.max_gap = half_life, min_iou, max_gap
        self.tracks: list[_Track] = []
        self.next_id = 1
        self.last_t: float | None = None

    def update(self, faces, t: float) -> list[TrackedFace]:
        """faces: this frame's Face objects (any order); t: the frame's time in seconds, not decreasing."""
        if self.last_t is not None and t < self.last_t:
            raise EmolensError(f"FaceTracker: frame time went backwards ({t} after {self.last_t})")
        self.last_t = t
        self.tracks = [tr for tr in self.tracks if t - tr.last_t <= self.max_gap]
        # greedy matching, best overlap first: one face per track, one track per face
        pairs = sorted(((iou(tr.box, f.box), i, j) for i, tr in enumerate(self.tracks) for j, f in enumerate(faces)),
                       reverse=True)
        track_of: dict[int, _Track] = {}
        used = set()
        for ov, i, j in pairs:
            if ov < self.min_iou:
                break
            if i in used or j in track_of:
                continue
            used.add(i)
            track_of[j] = self.tracks[i]
        out = []
        for j, f in enumerate(faces):
            names = list(f.scores)
            p = np.array([f.scores[c] for c in names], dtype=np.float64)
            tr = track_of.get(j)
            if tr is None:
                tr = _Track(self.next_id, tuple(f.box), p, t)
                self.next_id += 1
                self.tracks.append(tr)
            else:
                w = 0.5 ** ((t - tr.last_t) / self.half_life) if self.half_life > 0 else 0.0
                tr.probs = w * tr.probs + (1 - w) * p
                tr.box, tr.last_t = tuple(f.box), t
            k = int(np.argmax(tr.probs))
            out.append(TrackedFace(tr.id, names[k], float(tr.probs[k]),
                                   {c: float(v) for c, v in zip(names, tr.probs)}, f))
        return out


@dataclass
class VideoFrame:
    """One decoded frame. `faces` come from this frame when `classified`, else from the last classified one
    (what an annotated video shows between the frames that `every` skips)."""
    index: int
    time_s: float
    rgb: np.ndarray
    faces: list[TrackedFace]
    classified: bool


class Video:
    """A video file's frames with tracked, smoothed faces: `for fr in Recognizer().video("clip.mp4", every=5)`.

    `fps` and `frame_count` come from the container (the count can be approximate or 0); after iterating,
    `decoded` says how many frames were read and `truncated` whether decoding stopped well short of the count.
    """

    def __init__(self, recognizer, path, every: int = 1, smooth: float = 0.5):
        os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # libav's stderr chatter; damage shows in `truncated`
        import cv2
        self.path = Path(path)
        if not isinstance(every, int) or every < 1:
            raise EmolensError(f"every must be a whole number >= 1, got {every!r}")
        if not self.path.is_file():
            raise EmolensError(f"{self.path}: no such file")
        self._cap = cv2.VideoCapture(str(self.path))
        if not self._cap.isOpened():
            raise EmolensError(f"{self.path}: unreadable video (OpenCV could not open it)")
        self.fps = self._cap.get(cv2.CAP_PROP_FPS) or 25.0
        self.frame_count = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        self.recognizer, self.every, self.decoded = recognizer, every, 0
        self.tracker = FaceTracker(half_life=smooth)

    def __iter__(self):
        faces: list[TrackedFace] = []
        try:
            while True:
                ok, bgr = self._cap.read()
                if not ok:
                    break
                rgb = np.ascontiguousarray(bgr[..., ::-1])
                i, t = self.decoded, self.decoded / self.fps
                fresh = i % self.every == 0
                if fresh:
                    faces = self.tracker.update(self.recognizer.predict(rgb), t)
                self.decoded += 1
                yield VideoFrame(i, t, rgb, faces, fresh)
        finally:
            self._cap.release()
        if self.decoded == 0:
            raise EmolensError(f"{self.path}: unreadable video (no frames decoded)")

    @property
    def truncated(self) -> bool:
        return bool(self.frame_count) and self.decoded < 0.95 * self.frame_count  # counts are approximate
