"""The bundled models load by name and predict what they predicted when they were bundled."""
import json

import numpy as np
import pytest

from fer_helpers import data, evaluate, models
from fer_helpers.course import SAMPLE_DIR

BUNDLED = models.bundled_models()


def test_seed_is_bundled():
    assert "seed" in BUNDLED


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_model_reproduces_its_stored_probabilities(name):
    card = models.model_card(name)
    model = models.load_model(name)
    wanted = set(card["check"]["sample_test_files"])
    sample = data.load_split(SAMPLE_DIR, "test")
    index = [sample.files.index(f) for f in card["check"]["sample_test_files"]]
    assert len(index) == len(wanted) >= 7
    proba = evaluate.predict_proba(model, sample.x[index])
    np.testing.assert_allclose(proba, np.asarray(card["check"]["probabilities"]), atol=1e-4)


@pytest.mark.parametrize("name", BUNDLED)
def test_card_states_selection_split_and_test_figures(name):
    card = models.model_card(name)
    assert card["selected_on"].startswith("validation")
    for key in ("validation", "test", "test_without_train_duplicates"):
        assert 0 < card[key]["accuracy"] <= 1 and 0 < card[key]["macro_f1"] <= 1
    assert card["parameters"] == models.load_model(name).count_params()
    assert (models.WEIGHTS_DIR / f"{card.get('alias_of', name)}.md").exists()


def test_best_names_the_strongest_bundled_model():
    best = models.model_card("best")
    assert best["test"]["accuracy"] == max(models.model_card(n)["test"]["accuracy"] for n in BUNDLED)


def test_course_model_falls_back_to_bundled_seed(tmp_path, capsys):
    model = models.course_model(runs_dir=tmp_path)
    assert "bundled reference 'seed'" in capsys.readouterr().out
    assert model.count_params() == models.model_card("seed")["parameters"]


def test_run_settings_and_history_beside_the_weights_are_not_models():
    assert (models.WEIGHTS_DIR / "seed.run.json").exists()
    assert not [n for n in BUNDLED if "." in n]
    assert all((models.WEIGHTS_DIR / f"{models.model_card(n).get('alias_of', n)}.weights.h5").exists() for n in BUNDLED)
