"""recipes.ORIGINAL: the original project's recipe as its README documents it, and the tool that scores it."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from fer_helpers import models, recipes

ROOT = Path(__file__).resolve().parents[1]


def _score_original():
    spec = importlib.util.spec_from_file_location("score_original", ROOT / "tools" / "score_original.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_original_follows_the_readme_where_it_speaks_and_chapter_5_where_it_is_silent():
    recipe = recipes.NAMED["original"]
    assert recipe is recipes.ORIGINAL
    assert recipe.architecture == "seed_cnn" and recipe.model_kwargs == {}   # the README's network, exactly
    assert recipe.build_model().count_params() == models.build_seed_cnn().count_params()
    assert recipe.class_weight_power == 1.0              # "class balancing": full inverse-frequency weights
    assert recipe.augmentation["rotation"] and recipe.augmentation["brightness"]   # the transforms it names
    # everything else is chapter 5's recipe, except the budget
    differs = {k for k, v in recipe.as_dict().items() if v != recipes.SEED.as_dict()[k]}
    assert differs == {"name", "class_weight_power", "epochs"}


def test_original_recipe_trains_and_resumes(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(28, 48, 48, 1), dtype=np.uint8)
    y = np.arange(28) % 7
    model, history = recipes.train_recipe(recipes.ORIGINAL, x, y, x[:7], y[:7], tmp_path / "run", epochs=1,
                                          verbose=0)
    assert len(history) == 1 and (tmp_path / "run" / "best.weights.h5").exists()
    assert (tmp_path / "run" / "recipe.json").read_text().count('"original"') == 1


def test_the_pool_keeps_the_original_share_of_training_faces():
    tool = _score_original()
    drawn = tool.pool_indices(25_838, 3_435)
    assert len(np.unique(drawn)) == len(drawn) and drawn.max() < 3_435
    assert 25_838 / (25_838 + len(drawn)) == pytest.approx(28_709 / (28_709 + 3_435), abs=1e-4)
    with pytest.raises(Exception, match="test faces"):
        tool.pool_indices(100_000, 3_435)
