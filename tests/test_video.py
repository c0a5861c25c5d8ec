"""fer_helpers.video: a video in, an annotated video and one CSV row per face per frame out, smoothed as promised."""
import math
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from fer_helpers import CLASS_NAMES, faces, video
from fer_helpers.errors import FerError

PHOTOS = Path(__file__).resolve().parent.parent / "data" / "photos"
FRAMES, SIZE, FPS = 20, (160, 120), 10.0


def square_positions(frame):
    """Two bright 30 x 30 'faces' on a dark frame: one moving right by 2 pixels a frame, one moving left."""
    return [(10 + 2 * frame, 20), (120 - 2 * frame, 70)]


@pytest.fixture(scope="module")
def synthetic_video(tmp_path_factory):
    path = tmp_path_factory.mktemp("video") / "squares.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, SIZE)
    assert writer.isOpened()
    for frame in range(FRAMES):
        image = np.full((SIZE[1], SIZE[0], 3), 30, np.uint8)
        for x, y in square_positions(frame):
            image[y:y + 30, x:x + 30] = 220
        writer.write(image)
    writer.release()
    return path


class SquareDetector(faces.Detector):
    """Finds the bright squares (each connected blob of bright pixels); counts how often it is asked."""
    name = "squares"

    def __init__(self):
        super().__init__(max_side=None)
        self.calls = 0

    def _detect(self, rgb):
        self.calls += 1
        count, _, stats, _ = cv2.connectedComponentsWithStats((rgb[:, :, 0] > 128).astype(np.uint8))
        return [faces.Box(int(x), int(y), int(w), int(h)) for x, y, w, h, area in stats[1:count] if area > 100]


class FlickerModel:
    """A stand-in model whose answer alternates between two distributions from one call (frame) to the next."""

    def __init__(self):
        self.calls = 0

    def predict_on_batch(self, x):
        self.calls += 1
        proba = np.full((len(x), len(CLASS_NAMES)), 0.05)
        proba[:, CLASS_NAMES.index("happy" if self.calls % 2 else "neutral")] = 0.7
        return proba


def test_the_video_pipeline_writes_a_video_and_a_csv(synthetic_video, tmp_path):
    detector = SquareDetector()
    out_video, out_csv = tmp_path / "out" / "annotated.mp4", tmp_path / "out" / "emotions.csv"
    table = video.process_video(synthetic_video, FlickerModel(), detector, out_video, out_csv, every=4)
    assert detector.calls == 5                                    # frames 0, 4, 8, 12, 16
    assert list(table.columns) == video.COLUMNS
    assert len(table) == 2 * FRAMES and sorted(table.track_id.unique()) == [1, 2]
    assert table.groupby("track_id").frame.apply(list).map(lambda f: f == list(range(FRAMES))).all()
    assert table.detected.sum() == 2 * 5
    assert np.allclose(table.time_s, table.frame / FPS)
    # the boxes follow the squares, also between detections (constant speed): within a pixel or two
    for frame in (0, 6, 19):
        rows = table[table.frame == frame].sort_values("track_id")
        for (_, row), (x, y) in zip(rows.iterrows(), square_positions(frame)):
            assert abs(row.x - x) <= 2 and abs(row.y - y) <= 2 and abs(row.w - 30) <= 2
    on_disk = pd.read_csv(out_csv)
    assert list(on_disk.columns) == video.COLUMNS and len(on_disk) == len(table)
    assert np.allclose(on_disk[[f"p_{c}" for c in CLASS_NAMES]].sum(axis=1), 1, atol=1e-3)
    frames = video.read_frames(out_video)
    assert len(frames) == FRAMES and frames[0].shape == (SIZE[1], SIZE[0], 3)
    assert not np.array_equal(frames[5], video.read_frames(synthetic_video, [5])[0])  # something was drawn


def test_smoothing_is_the_exponential_moving_average_of_the_raw_probabilities(synthetic_video):
    table = video.process_video(synthetic_video, FlickerModel(), SquareDetector(), every=4, smoothing=0.5)
    alpha = video.alpha_for(FPS, 0.5)
    for _, track in table.groupby("track_id"):
        raw = track[[f"raw_{c}" for c in CLASS_NAMES]].to_numpy()
        smoothed = track[[f"p_{c}" for c in CLASS_NAMES]].to_numpy()
        assert np.allclose(smoothed, video.ema(raw, alpha))
        assert smoothed[5:].std(axis=0).max() < 0.5 * raw[5:].std(axis=0).max()  # the flicker is damped
    unsmoothed = video.process_video(synthetic_video, FlickerModel(), SquareDetector(), every=4, smoothing=0)
    assert np.allclose(unsmoothed[[f"p_{c}" for c in CLASS_NAMES]].to_numpy(),
                       unsmoothed[[f"raw_{c}" for c in CLASS_NAMES]].to_numpy())


def test_ema_on_a_hand_made_sequence():
    step = [[1, 0], [1, 0], [1, 0], [0, 1], [0, 1], [0, 1]]
    expected = [[1, 0], [1, 0], [1, 0], [0.5, 0.5], [0.25, 0.75], [0.125, 0.875]]
    assert np.allclose(video.ema(step, 0.5), expected)
    assert np.allclose(video.ema(step, 1.0), step)                  # alpha 1: no smoothing
    assert np.allclose(video.ema([3.0, 3.0, 3.0], 0.2), 3.0)       # a constant stays put
    assert np.allclose(video.ema(step, 0.3).sum(axis=1), 1)         # distributions stay distributions


def test_the_smoothing_time_constant_is_in_seconds():
    assert video.alpha_for(12, 0) == 1.0
    assert video.alpha_for(12, 0.5) == pytest.approx(1 - math.exp(-1 / 6))
    for fps in (10, 30):  # after `smoothing` seconds of a new input the average has moved 1 - 1/e of the way
        frames = int(fps * 0.5)
        reached = video.ema([0.0] + [1.0] * frames, video.alpha_for(fps, 0.5))[-1]
        assert reached == pytest.approx(1 - math.exp(-1))
    with pytest.raises(ValueError):
        video.alpha_for(12, -1)


def test_iou_and_matching():
    assert video.iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert video.iou((0, 0, 10, 10), (20, 20, 5, 5)) == 0.0
    assert video.iou((0, 0, 10, 10), (5, 0, 10, 10)) == pytest.approx(50 / 150)
    tracks = [(0, 0, 10, 10), (100, 100, 20, 20)]
    detections = [(102, 101, 20, 20), (300, 300, 10, 10), (1, 0, 10, 10)]
    assert video.match(tracks, detections) == [(0, 2), (1, 0)]
    assert video.match(tracks, detections, min_iou=0.95) == []


@pytest.mark.parametrize("case", ["missing", "empty", "folder", "text", "truncated"])
def test_bad_videos_are_one_line_naming_the_file(case, synthetic_video, tmp_path):
    path = tmp_path / f"{case}.mp4"
    if case == "empty":
        path.write_bytes(b"")
    elif case == "folder":
        path.mkdir()
    elif case == "text":
        path.write_text("holiday plans, not a video\n" * 20)
    elif case == "truncated":
        path.write_bytes(synthetic_video.read_bytes()[:600])
    with pytest.raises(FerError) as err:
        video.process_video(path, FlickerModel(), SquareDetector())
    message = str(err.value)
    assert f"{case}.mp4: " in message and "\n" not in message


def test_the_demo_video_reads_back_and_holds_faces():
    path = PHOTOS / "demo_video.mp4"
    capture, fps, count = video.open_video(path)
    capture.release()
    assert (fps, count) == (12, 48)
    [first] = video.read_frames(path, [0])
    assert first.shape == (270, 480, 3)
    table = video.process_video(path, FlickerModel(), "haar", every=3, max_frames=4)
    assert set(table.frame) == {0, 1, 2, 3} and table.track_id.nunique() >= 1
