"""Make chapter 8's demo video from the public-domain composite in data/photos/.

    python tools/make_demo_video.py

Writes ``data/photos/demo_video.mp4``: a slow camera pan (with a slight zoom out) across
``group_composite.jpg``, 4 seconds at 12 frames per second, 480 x 270 pixels, MPEG-4 part 2 (``mp4v``) through
OpenCV's ``VideoWriter``, so that any OpenCV build with FFmpeg reads it back. Nothing is downloaded and nothing
comes from FER2013: the faces are the two public-domain portraits of ``data/photos/`` (NASA's Eileen Collins, the
US Navy's Grace Hopper), so the video is public domain like them.

What happens in it: the big astronaut face leaves on the left, Grace Hopper's comes in on the right (half cut
off at first) and crosses the frame, and the two small faces of the composite come in on the right. Nobody's
expression changes (the faces are photographs): every change in the model's probabilities along the video comes
from the input (the moving crop, faces entering, resampling, compression), which is what chapter 8b's smoothing
is about. Run ``tools/make_demo_photos.py`` first if ``group_composite.jpg`` is missing. The output is checked
by reading it back (frame count and size); the same OpenCV makes the same file, byte for byte.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

PHOTOS = Path(__file__).resolve().parent.parent / "data" / "photos"
SOURCE = PHOTOS / "group_composite.jpg"
OUTPUT = PHOTOS / "demo_video.mp4"
SIZE = (480, 270)        # width, height of the video (16:9)
FPS = 12
SECONDS = 4
#: The camera window on the 1280 x 720 composite: (centre x, centre y, width) at the start and at the end.
START = (400.0, 330.0, 720.0)
END = (880.0, 310.0, 800.0)


def ease(t: float) -> float:
    """Smoothstep: the camera starts and stops gently instead of jerking into motion."""
    return t * t * (3 - 2 * t)


def frames(composite: np.ndarray):
    """The video's frames (BGR uint8), one camera window per frame, resampled to SIZE with INTER_AREA."""
    count = FPS * SECONDS
    aspect = SIZE[1] / SIZE[0]
    for i in range(count):
        t = ease(i / (count - 1))
        cx, cy, width = (a + (b - a) * t for a, b in zip(START, END))
        height = width * aspect
        left, top = int(round(cx - width / 2)), int(round(cy - height / 2))
        window = composite[top:top + int(round(height)), left:left + int(round(width))]
        yield cv2.resize(window, SIZE, interpolation=cv2.INTER_AREA)


def main() -> None:
    composite = cv2.imread(str(SOURCE))
    if composite is None:
        raise SystemExit(f"{SOURCE.name} is missing: run tools/make_demo_photos.py first")
    writer = cv2.VideoWriter(str(OUTPUT), cv2.VideoWriter_fourcc(*"mp4v"), FPS, SIZE)
    if not writer.isOpened():
        raise SystemExit("this OpenCV cannot write mp4v video (it needs a build with FFmpeg)")
    written = 0
    for frame in frames(composite):
        writer.write(frame)
        written += 1
    writer.release()

    capture = cv2.VideoCapture(str(OUTPUT))
    read = 0
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        assert frame.shape[1::-1] == SIZE, frame.shape
        read += 1
    fps = capture.get(cv2.CAP_PROP_FPS)
    capture.release()
    assert read == written, f"wrote {written} frames, read back {read}"
    print(f"{OUTPUT.name}: {read} frames, {SIZE[0]} x {SIZE[1]}, {fps:g} fps, "
          f"{OUTPUT.stat().st_size / 1024:.1f} KiB (read back with OpenCV {cv2.__version__})")


if __name__ == "__main__":
    main()
