"""The bundled models load by name and predict what they predicted when they were bundled."""

import numpy as np
import pandas as pd
import pytest

from fer_helpers import data, evaluate, models
from fer_helpers.course import SAMPLE_DIR

BUNDLED = models.bundled_models()


def test_the_chapters_models_are_bundled_and_every_weights_file_has_its_card():
    assert {"seed", "best"} <= set(BUNDLED)   # chapter 5's reference model and the strongest one, by name
    weights = sorted(p.name[: -len(".weights.h5")] for p in models.WEIGHTS_DIR.glob("*.weights.h5"))
    assert weights and all(name in BUNDLED for name in weights), "a .weights.h5 without a NAME.json card"


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
def test_bundled_model_holds_every_variable_of_its_weights_file(name, assert_holds_weights):
    card = models.model_card(name)
    assert_holds_weights(models.load_model(name), models.WEIGHTS_DIR / f"{card.get('alias_of', name)}.weights.h5")


@pytest.mark.parametrize("name", BUNDLED)
def test_card_states_selection_split_and_test_figures(name):
    card = models.model_card(name)
    assert card["selected_on"].startswith("validation")
    for key in ("validation", "test", "test_without_train_duplicates"):
        assert 0 < card[key]["accuracy"] <= 1 and 0 < card[key]["macro_f1"] <= 1
    assert card["parameters"] == models.load_model(name).count_params()
    assert (models.WEIGHTS_DIR / f"{card.get('alias_of', name)}.md").exists()


def test_best_is_the_bundled_model_strongest_on_validation():
    # chosen on validation, like every choice in the course: the test split chooses nothing. 'best' is either a
    # model of its own or a card naming another ("alias"); either way no bundled model beats it on validation.
    validation = {name: models.model_card(name)["validation"]["accuracy"] for name in BUNDLED}
    assert "best" in validation and validation["best"] == max(validation.values())


def test_course_model_falls_back_to_bundled_seed(tmp_path, capsys):
    model = models.course_model(runs_dir=tmp_path)
    assert "bundled reference 'seed'" in capsys.readouterr().out
    assert model.count_params() == models.model_card("seed")["parameters"]


def check_log_against_card(log, card, val_faces):
    """A run's (or an ensemble member's) log against what its card says about it."""
    assert len(log) == card["epochs_run"]      # the log of the run(s) that made the weights ...
    best = log.loc[log["val_accuracy"].idxmax()]
    assert int(best["epoch"]) + 1 == card["best_epoch"]   # ... whose best epoch they are (Keras counts from 0),
    assert best["val_accuracy"] == pytest.approx(card["validation"]["accuracy"], abs=1e-4)   # re-measured alike
    assert card["training_minutes"] == pytest.approx(log["seconds"].sum() / 60, abs=0.1)
    if "stages" in card:                       # a warm restart: the stages add up to the whole
        assert sum(stage["training_minutes"] for stage in card["stages"]) == pytest.approx(card["training_minutes"],
                                                                                         abs=0.1)
        assert list(log["stage"].drop_duplicates()) == list(range(1, len(card["stages"]) + 1))
        for before, after in zip(card["stages"], card["stages"][1:]):   # the paired test counts the same faces
            paired = after["vs_stage_before"]
            assert paired["only_this_stage_right"] - paired["only_stage_before_right"] == round(
                (after["best_val_accuracy"] - before["best_val_accuracy"]) * val_faces)


OWN_CARDS = [n for n in BUNDLED if "alias_of" not in models.model_card(n)]
SINGLE = [n for n in OWN_CARDS if models.model_card(n)["architecture"] != "ensemble"]
ENSEMBLES = [n for n in OWN_CARDS if n not in SINGLE]


@pytest.mark.parametrize("name", SINGLE)
def test_run_settings_and_history_beside_the_weights_are_not_models(name):
    assert (models.WEIGHTS_DIR / f"{name}.run.json").exists()
    log = pd.read_csv(models.WEIGHTS_DIR / f"{name}.history.csv").drop_duplicates("epoch", keep="last")
    card = models.model_card(name)
    check_log_against_card(log, card, card["settings"]["val"])
    # the one-line summary chapters print says how far the training went
    epochs = card["epochs_run"]
    assert (f"{epochs} epochs" if epochs >= card["planned_epochs"] else f"{epochs} of {card['planned_epochs']} "
            f"planned epochs") in card["summary"]
    assert not [n for n in BUNDLED if "." in n]
    assert all((models.WEIGHTS_DIR / f"{models.model_card(n).get('alias_of', n)}.weights.h5").exists() for n in BUNDLED)


@pytest.mark.parametrize("name", ENSEMBLES)
def test_an_ensemble_card_describes_each_member_and_the_members_are_the_committed_stages(name):
    card = models.model_card(name)
    history = pd.read_csv(models.WEIGHTS_DIR / f"{name}.history.csv")
    ensemble = models.load_model(name)
    networks = models.ensemble_members(ensemble)
    assert len(networks) == len(card["members"]) == history["member"].nunique() >= 2
    sample = data.load_split(SAMPLE_DIR, "test")
    for number, (member, network) in enumerate(zip(card["members"], networks), start=1):
        check_log_against_card(history[history["member"] == number], member, card["faces"]["validation"])
        assert member["planned_epochs"] == member["epochs_run"] and member["parameters"] == network.count_params()
        # the network inside is the last run of the member's chain, as committed in stages/
        committed = models.load_model(models.WEIGHTS_DIR / "stages" / member["runs"][-1] / "best.weights.h5")
        np.testing.assert_allclose(evaluate.predict_proba(network, sample.x),
                                   evaluate.predict_proba(committed, sample.x), atol=1e-6)
        paired = member["ensemble_vs_member"]
        assert paired["only_ensemble_right"] - paired["only_member_right"] == round(
            (card["validation"]["accuracy"] - member["validation"]["accuracy"]) * card["faces"]["validation"])
    assert card["training_minutes"] == pytest.approx(sum(m["training_minutes"] for m in card["members"]), abs=0.1)
    assert card["epochs_run"] == len(history)
    assert models.count_flops(ensemble) / 1e6 == pytest.approx(card["mflops_per_face"], abs=0.1)
    assert card["summary"].startswith("ensemble of ") and card["summary"].count(" epochs") == len(networks)


STAGE_COMPARISONS = sorted((models.WEIGHTS_DIR / "stages").glob("*/compare.txt"))


@pytest.mark.parametrize("compare_txt", STAGE_COMPARISONS, ids=lambda p: p.parent.name)
def test_each_stage_comparison_scores_the_epoch_its_log_kept(compare_txt):
    # compare.txt is `fer_helpers compare`'s output with the stage as model b: its accuracy must be the best
    # validation accuracy in the stage's own log, or the comparison measured other weights than the stage kept
    lines = compare_txt.read_text().splitlines()
    b_line = next(line for line in lines if line.startswith("b: "))
    assert compare_txt.parent.name.removesuffix("_not_kept") in b_line.split("|")[0]
    accuracy = float(b_line.split("accuracy ")[1].split()[0])
    log = pd.read_csv(compare_txt.parent / "history.csv")
    assert accuracy == pytest.approx(log["val_accuracy"].max(), abs=6e-5)
    assert "McNemar p = " in lines[-1]


def test_every_stage_folder_but_the_first_has_its_comparison():
    folders = [p for p in (models.WEIGHTS_DIR / "stages").iterdir() if p.is_dir()]
    assert {p.parent for p in STAGE_COMPARISONS} == {p for p in folders if p.name != "small_resnet_stage1"}


def readme_results():
    """{(model, figure): (accuracy, macro-F1)} from the README's Results table, for the rows of `seed` and `best`
    (a row starting 'same' continues the model above it)."""
    readme = (models.WEIGHTS_DIR.parent.parent / "README.md").read_text()
    found, model = {}, None
    for line in readme.splitlines():
        cells = [cell.strip() for cell in line.strip("|").split(" | ")]
        if not line.startswith("| ") or len(cells) < 4:
            continue
        if cells[0].startswith(("`seed`", "`best`")):
            model = cells[0][1:5]
        elif not cells[0].startswith("same"):
            model = None
        if model:
            figure = ("test_flip_tta" if "flip TTA" in cells[0] else
                      {"validation": "validation", "test (PublicTest)": "test",
                       "test (PublicTest) minus duplicates": "test_without_train_duplicates"}[cells[1]])
            found[(model, figure)] = (float(cells[2]), float(cells[3]))
    return found


def test_the_readme_results_quote_the_bundled_cards():
    # the README's figures for the bundled models are their cards' (4 decimals): a model bundled anew makes a
    # stale README fail here, not in a reader's hands
    quoted = readme_results()
    assert {("seed", "validation"), ("best", "validation"), ("best", "test"), ("best", "test_flip_tta")} <= set(quoted)
    for (name, figure), (accuracy, macro_f1) in quoted.items():
        card = models.model_card(name)[figure]
        assert (accuracy, macro_f1) == (round(card["accuracy"], 4), round(card["macro_f1"], 4)), (name, figure)
