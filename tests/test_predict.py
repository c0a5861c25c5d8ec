"""fer_helpers.predict: faces in a photo -> emotions, drawn on the photo; batches that survive bad files."""
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fer_helpers import CLASS_NAMES, faces, predict

PHOTOS = Path(__file__).resolve().parent.parent / "data" / "photos"


class FixedModel:
    """A stand-in for a Keras model: always 70% happy, and it records what it was given."""

    def __init__(self):
        self.inputs = []

    def predict_on_batch(self, x):
        self.inputs.append(x)
        proba = np.full((len(x), len(CLASS_NAMES)), 0.05)
        proba[:, CLASS_NAMES.index("happy")] = 0.7
        return proba


@pytest.fixture(scope="module")
def astronaut():
    return faces.read_image(PHOTOS / "astronaut.jpg")


def test_predict_faces_on_a_photo(astronaut):
    model = FixedModel()
    [pred] = predict.predict_faces(model, astronaut, "haar")
    assert pred.emotion == "happy" and pred.confidence == pytest.approx(0.7)
    assert list(pred.probabilities) == list(CLASS_NAMES)
    assert pred.face.shape == (48, 48) and pred.face.dtype == np.uint8
    # the model got what models expect: (N, 48, 48, 1) float pixels in 0..255, not 0..1
    x = model.inputs[0]
    assert x.shape == (1, 48, 48, 1) and x.dtype == np.float32 and x.max() > 1.5


def test_given_boxes_and_no_faces(astronaut):
    model = FixedModel()
    preds = predict.predict_faces(model, astronaut, boxes=[(10, 10, 60, 60), (200, 200, 80, 80, 0.5)])
    assert [p.box[:4] for p in preds] == [(10, 10, 60, 60), (200, 200, 80, 80)]
    assert len(model.inputs) == 1 and len(model.inputs[0]) == 2  # one model call for all faces
    assert predict.predict_faces(model, astronaut, boxes=[]) == []


def test_with_a_keras_model(astronaut, tiny_model):
    [pred] = predict.predict_faces(tiny_model(), astronaut, "haar")
    assert sum(pred.probabilities.values()) == pytest.approx(1.0, abs=1e-4)
    assert pred.emotion in CLASS_NAMES and pred.confidence == max(pred.probabilities.values())


def test_annotate_draws_on_a_copy(astronaut):
    preds = predict.predict_faces(FixedModel(), astronaut, "haar")
    before = astronaut.copy()
    drawn = predict.annotate(astronaut, preds)
    assert drawn.shape == astronaut.shape and drawn.dtype == np.uint8
    assert (astronaut == before).all()  # the photo itself is untouched
    x, y, w, h = preds[0].box[:4]
    assert (drawn[y:y + h, x] != astronaut[y:y + h, x]).any()            # the box
    assert (drawn[y:y + h, x + w + 5:x + w + 60] != astronaut[y:y + h, x + w + 5:x + w + 60]).any()  # the bars
    assert (predict.annotate(astronaut, []) == astronaut).all()


def test_annotate_at_the_edges_and_in_gray():
    gray = np.full((60, 80), 128, np.uint8)
    pred = predict.FacePrediction(faces.Box(50, 0, 30, 30), "sad", 0.3,
                                  {name: 1 / 7 for name in CLASS_NAMES})
    drawn = predict.annotate(gray, [pred])  # the bars go left of a face at the right edge; a label below
    assert drawn.shape == (60, 80, 3)
    assert (drawn[:, :50] != 128).any()


def test_predict_files_skips_and_reports_bad_files(tmp_path):
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "notes.png").write_text("not a photo")
    good = PHOTOS / "astronaut.jpg"
    no_face = PHOTOS / "no_face_shuttle.jpg"
    paths = [good, tmp_path / "missing.jpg", tmp_path / "empty.jpg", no_face, tmp_path / "notes.png"]
    results, errors = predict.predict_files(paths, FixedModel(), detector="haar")
    assert [Path(name).name for name, _ in results] == ["astronaut.jpg", "no_face_shuttle.jpg"]
    assert len(results[0][1]) == 1 and results[1][1] == []
    assert len(errors) == 3
    for error, name in zip(errors, ["missing.jpg", "empty.jpg", "notes.png"]):
        assert name in error and "\n" not in error


def test_predict_files_expands_folders(tmp_path):
    Image.open(PHOTOS / "astronaut.jpg").save(tmp_path / "a.png")
    (tmp_path / "readme.txt").write_text("ignored: not a photo suffix")
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff")
    results, errors = predict.predict_files(tmp_path, FixedModel(), detector="haar")
    assert [Path(name).name for name, _ in results] == ["a.png"]
    assert len(errors) == 1 and "broken.jpg" in errors[0]
