"""Face tracks in videos: stable ids whatever order the detector returns faces in, smoothing by time."""
import numpy as np
import pytest

from emolens.errors import EmolensError
from emolens.labels import CLASSES
from emolens.predict import Face
from emolens.track import FaceTracker, iou


def face(box, emotion, p=0.9):
    scores = {c: (1 - p) / (len(CLASSES) - 1) for c in CLASSES}
    scores[emotion] = p
    return Face(box=box, emotion=emotion, confidence=p, scores=scores)


def test_iou():
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1
    assert iou((0, 0, 10, 10), (5, 0, 10, 10)) == pytest.approx(50 / 150)
    assert iou((0, 0, 10, 10), (20, 20, 5, 5)) == 0
    assert iou((0, 0, 0, 0), (0, 0, 0, 0)) == 0


def test_ids_follow_moving_faces_not_detector_order():
    tr = FaceTracker(half_life=0)
    a, b = (10, 10, 50, 50), (200, 10, 50, 50)
    first = tr.update([face(a, "happy"), face(b, "sad")], 0.0)
    assert [f.track for f in first] == [1, 2]
    for k in range(1, 6):  # both drift right; the detector lists them in the other order
        a2, b2 = (10 + 5 * k, 10, 50, 50), (200 + 5 * k, 12, 50, 50)
        out = tr.update([face(b2, "sad"), face(a2, "happy")], k / 10)
        assert [(f.track, f.box) for f in out] == [(2, b2), (1, a2)]
        assert [f.emotion for f in out] == ["sad", "happy"]  # half_life 0: the frame's own label


def test_new_face_new_id_and_gone_faces_forgotten_after_max_gap():
    tr = FaceTracker(max_gap=1.0)
    assert [f.track for f in tr.update([face((0, 0, 40, 40), "happy")], 0.0)] == [1]
    assert tr.update([], 0.5) == []                      # a missed detection
    assert [f.track for f in tr.update([face((2, 0, 40, 40), "happy")], 0.9)] == [1]   # same person again
    assert [f.track for f in tr.update([face((100, 100, 40, 40), "sad")], 1.0)] == [2]  # someone else
    # person 1 unseen for more than max_gap: the same place now starts a new track
    assert [f.track for f in tr.update([face((2, 0, 40, 40), "happy")], 2.5)] == [3]


def test_smoothing_rides_out_a_one_frame_flicker_and_follows_a_lasting_change():
    tr = FaceTracker(half_life=0.5)
    box = (0, 0, 40, 40)
    t = 0.0
    for _ in range(10):
        tr.update([face(box, "happy")], t)
        t += 0.04
    flicker = tr.update([face(box, "sad")], t)[0]          # one 25-fps frame says sad
    assert flicker.raw.emotion == "sad" and flicker.emotion == "happy"
    for _ in range(25):                                      # a second of sad
        t += 0.04
        out = tr.update([face(box, "sad")], t)[0]
    assert out.emotion == "sad" and sum(out.scores.values()) == pytest.approx(1)


def test_half_life_is_in_seconds_not_frames():
    """Same footage seen at 25 fps or every 5th frame: after 0.4 s the smoothed probabilities agree."""
    def run(step):
        tr = FaceTracker(half_life=0.3)
        tr.update([face((0, 0, 40, 40), "happy")], 0.0)
        t = 0.0
        while t < 0.4 - 1e-9:
            t += step
            out = tr.update([face((0, 0, 40, 40), "fear")], t)[0]
        return out.scores["fear"]
    expect = 0.9 - (0.9 - 0.1 / 6) * 0.5 ** (0.4 / 0.3)
    assert run(0.04) == pytest.approx(expect) and run(0.2) == pytest.approx(expect)


def test_bad_arguments_are_refused():
    with pytest.raises(EmolensError, match="half_life"):
        FaceTracker(half_life=-1)
    with pytest.raises(EmolensError, match="min_iou"):
        FaceTracker(min_iou=0)
    tr = FaceTracker()
    tr.update([], 1.0)
    with pytest.raises(EmolensError, match="backwards"):
        tr.update([], 0.5)
    assert np.isfinite(tr.last_t)


def test_video_track_summary_counts_smoothed_emotions_per_track():
    from emolens.predict_cli import track_summary

    def row(track, t, smoothed, raw):
        return {"track": track, "time_s": t, "smoothed_emotion": smoothed, **face((0, 0, 9, 9), raw).scores}
    rows = [row(1, 0.0, "happy", "happy"), row(2, 0.0, "sad", "sad"), row(1, 0.5, "happy", "neutral"),
            row(1, 1.0, "neutral", "neutral"), row(1, 1.5, "neutral", "neutral")]
    s1, s2 = track_summary(rows)
    assert (s1["track"], s1["first_s"], s1["last_s"], s1["predictions"]) == (1, 0.0, 1.5, 4)
    assert s1["emotion_share"]["happy"] == 0.5 and s1["emotion_share"]["neutral"] == 0.5
    assert s1["mean_scores"]["neutral"] == pytest.approx((0.9 * 3 + 0.1 / 6) / 4, abs=1e-6)
    assert (s2["emotion"], s2["predictions"]) == ("sad", 1)
    assert track_summary([]) == []


def test_recognizer_video_api(tmp_path, astronaut):
    from conftest import write_video
    from emolens import Recognizer
    path = write_video(tmp_path / "clip.avi", astronaut, 7, step=4)
    rec = Recognizer()
    video = rec.video(path, every=3)
    assert video.fps == pytest.approx(10) and video.frame_count == 7
    frames = list(video)
    assert [f.classified for f in frames] == [True, False, False, True, False, False, True]
    assert [f.time_s for f in frames] == pytest.approx([i / 10 for i in range(7)])
    assert all(len(f.faces) == 1 and f.faces[0].track == 1 and f.faces[0].emotion == "happy" for f in frames)
    assert frames[1].faces is frames[0].faces  # skipped frames carry the last classified faces
    assert video.decoded == 7 and not video.truncated and frames[0].rgb.shape == (320, 320, 3)
    with pytest.raises(EmolensError, match="no such file"):
        rec.video(tmp_path / "missing.mp4")
    with pytest.raises(EmolensError, match="every must be"):
        rec.video(path, every=0)
    (tmp_path / "junk.mp4").write_bytes(b"\x00" * 64)
    with pytest.raises(EmolensError, match="unreadable video"):
        list(rec.video(tmp_path / "junk.mp4"))
