"""Bundle a trained run as a named model of fer_helpers, with its model card.

    python tools/bundle_model.py --run runs/05_training --name seed --data ../shared/fer2013 \
        --recipe "notebooks/05_training.ipynb, full mode" --hardware "2-core CPU (AMD EPYC)"

Copies the run's best weights to fer_helpers/weights/NAME.weights.h5 and writes NAME.json (what load_model
needs, plus the measured figures) and NAME.md (the human-readable card). Every figure is measured here:
validation (the split that selected the weights), test once (named, with and without the test images that are
byte-identical to training images), per-class precision/recall/F1, parameters, FLOPs, CPU faces/s, and the
probabilities of a few sample faces that tests/test_bundled_models.py checks after loading.

A run that started from another run's best weights (``train --init-weights``: a warm restart) is bundled with
``--continues EARLIER_RUN`` (repeated, oldest first, for more than one restart): the tool checks that each run
started from the very file that is the best weights of the run before it (by SHA-256), and the card and
NAME.history.csv then cover every stage, epochs and minutes added up.

A distilled run (``train --teacher W``) is bundled with ``--teacher-runs RUN`` for every run behind its teachers
(a teacher's own earlier stages included; a run already in the chain above need not be repeated): the tool checks
that each teacher is the best weights of one of those runs (by SHA-256), names the teachers on the card and adds
their training minutes to the CPU time behind the model.

An ensemble (``models.build_ensemble``: one model that averages several networks' probabilities) is bundled with
``--member RUN`` once per network instead of ``--run``, each given as its chain of runs, oldest first, joined by
commas (``--member STAGE1,STAGE2`` for a network trained in a warm restart); each chain is checked as
``--continues`` checks one. The card then describes every member (its stages, minutes, validation figures), adds
their minutes up, and compares the ensemble with each member, paired, on the validation faces;
NAME.history.csv holds every member's log, told apart by a ``member`` column.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import keras  # noqa: E402

from fer_helpers import augment, data, evaluate, export, models  # noqa: E402
from fer_helpers.course import SAMPLE_DIR  # noqa: E402
from fer_helpers.machine import hardware, load_average  # noqa: E402
from fer_helpers.train import read_history  # noqa: E402


def faces_per_second(model, faces, batch: int) -> float:
    """Keras ``predict`` on batches of ``batch`` faces, as chapter 10 times it (median of 10 calls)."""
    return export.time_throughput(export.KerasPredictor(model, "predict"), faces, batch)["faces/s"]


def class_weighting(recorded: dict | None, y_train) -> str:
    """How the run weighted its classes, in words, from the weights run.json recorded."""
    if not recorded:
        return ": none"
    for power, words in ((0.5, "square root of inverse frequency"), (1.0, "inverse frequency, 'balanced'")):
        expected = augment.class_weights(y_train, power=power)
        if all(abs(recorded[str(k)] - round(v, 4)) < 1e-3 for k, v in expected.items()):
            return f" ({words})"
    return " (as recorded in the run's run.json)"


def earlier_stages(run: Path, recipe: dict | None, continues: list[str] | None) -> list[Path]:
    """The runs before ``run``, oldest first: each run must have started from the best weights of the run given
    before it (same SHA-256), and a run started from other weights must be bundled with the run that made them."""
    chain = [Path(earlier) for earlier in continues or []]
    for earlier in chain:
        if not (earlier / "best.weights.h5").exists():
            sys.exit(f"{earlier}: no best.weights.h5 (not a training run)")
    for before, after in zip([None, *chain], [*chain, run]):
        after_recipe = recipe if after == run else _recipe(after)
        started_from = (after_recipe or {}).get("init_weights_sha256")
        if before is None:
            if started_from:
                sys.exit(f"{after}: started from {after_recipe['init_weights']}: pass --continues with the run that "
                         f"made them (one --continues per earlier stage, oldest first)")
            continue
        weights = before / "best.weights.h5"
        if hashlib.sha256(weights.read_bytes()).hexdigest() != started_from:
            sys.exit(f"{after}: was not started from {weights} (its recipe.json records "
                     f"{(after_recipe or {}).get('init_weights', 'no starting weights')})")
    return chain


def _recipe(run: Path) -> dict | None:
    path = run / "recipe.json"
    return json.loads(path.read_text()) if path.exists() else None


def _short(path: str) -> str:
    return f"{Path(path).parent.name}/{Path(path).name}"


def _portable(recipe: dict | None) -> dict | None:
    """The recipe as the card shows it: starting weights and teachers named by their run folder, not by this
    machine's path."""
    if not recipe:
        return recipe
    portable = dict(recipe)
    if recipe.get("init_weights"):
        portable["init_weights"] = _short(recipe["init_weights"])
    if recipe.get("teachers"):
        portable["teachers"] = [{**t, "weights": _short(t["weights"])} for t in recipe["teachers"]]
    return portable


def teacher_runs(recipe: dict | None, chain: list[Path], given: list[str] | None) -> tuple[list[Path], list[Path]]:
    """The runs behind a distilled run's teachers that are not in its own chain (``--teacher-runs``), and the run
    that made each teacher: each teacher must be the best weights of one of them or of the chain (same SHA-256)."""
    runs = [Path(run) for run in given or []]
    teachers = (recipe or {}).get("teachers", [])
    if runs and not teachers:
        sys.exit("--teacher-runs: the run was not distilled (its recipe.json names no teachers)")
    made = {}
    for run in [*chain, *runs]:
        if not (run / "best.weights.h5").exists():
            sys.exit(f"{run}: no best.weights.h5 (not a training run)")
        made[hashlib.sha256((run / "best.weights.h5").read_bytes()).hexdigest()] = run
    for teacher in teachers:
        if teacher["sha256"] not in made:
            sys.exit(f"{teacher['weights']}: a teacher of the run, made by none of the runs given: pass its run with "
                     f"--teacher-runs (and the runs it continued)")
    return ([run for run in runs if run.resolve() not in {c.resolve() for c in chain}],
            [made[teacher["sha256"]] for teacher in teachers])


def stacked_history(runs: list[Path]):
    """The runs' per-epoch logs one after the other, as :func:`read_history` gives them (epochs from 1, numbered
    on across the runs; ``stage`` counts the runs from 1 and ``recipe`` names each run's)."""
    import pandas as pd
    logs, done = [], 0
    for stage, run in enumerate(runs, start=1):
        log = read_history(run)
        log["stage"] = stage
        log["recipe"] = (_recipe(run) or {"name": run.name})["name"]
        log["epoch"] = log["epoch"] + done
        done += len(log)
        logs.append(log)
    return pd.concat(logs, ignore_index=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", default=None, help="the training run (its folder) to bundle")
    parser.add_argument("--member", action="append", default=None,
                        help="instead of --run: one network of an ensemble, as its runs oldest first joined by "
                             "commas; repeat it for each network")
    parser.add_argument("--name", required=True)
    parser.add_argument("--data", required=True, help="the full FER2013 folder")
    parser.add_argument("--recipe", required=True)
    parser.add_argument("--hardware", required=True, help="what it was trained on")
    parser.add_argument("--note", default=None, help="a line the card must carry (e.g. how the run was interrupted)")
    parser.add_argument("--continues", action="append", default=None,
                        help="the run whose best weights --run started from (train --init-weights); repeat it, "
                             "oldest first, for a run restarted more than once")
    parser.add_argument("--teacher-runs", action="append", default=None,
                        help="a run behind the teachers of a distilled run (train --teacher), repeated: their "
                             "training minutes count in the CPU time behind the model")
    parser.add_argument("--architecture", default=None,
                        help="default: the run's recipe.json (chapter 9, tools/train_on_device.py), else seed_cnn")
    parser.add_argument("--weights-dir", default=str(models.WEIGHTS_DIR),
                        help="where NAME.weights.h5 and its cards go (default: the package's bundled models)")
    args = parser.parse_args(argv)
    if (args.run is None) == (args.member is None):
        parser.error("give either --run or --member (repeated, for an ensemble)")
    if args.member:
        if len(args.member) < 2 or args.continues or args.teacher_runs or args.architecture:
            parser.error("an ensemble needs --member at least twice, and no --continues, --teacher-runs or "
                         "--architecture (each --member names its own chain of runs)")
        return bundle_ensemble(args)

    run = Path(args.run)
    settings = json.loads((run / "run.json").read_text())
    recipe = _recipe(run)
    runs = [*earlier_stages(run, recipe, args.continues), run]
    behind_teachers, teacher_made_by = teacher_runs(recipe, runs, args.teacher_runs)
    history = stacked_history(runs)
    args.architecture = args.architecture or (recipe["architecture"] if recipe else "seed_cnn")
    kwargs = recipe["model_kwargs"] if recipe and recipe["architecture"] == args.architecture else {}
    model = models.build(args.architecture, **kwargs)
    model.load_weights(run / "best.weights.h5")

    faces = Faces(args.data)
    x_val, y_val, y_train = faces.x_val, faces.y_val, faces.y_train
    val_proba = evaluate.predict_proba(model, x_val)
    best = history.loc[history["val_accuracy"].idxmax()]
    # a warm restart replaces what its stage before had left: those count the epochs they ran, the last its plan
    planned = int((history["stage"] < len(runs)).sum()) + settings["epochs"]
    epochs = f"{len(history)} epochs" if len(history) >= planned else f"{len(history)} of {planned} planned epochs"

    card = {
        "architecture": args.architecture, "kwargs": kwargs,
        **({"training_recipe": _portable(recipe)} if recipe else {}),
        "summary": "{}, {}, test (PublicTest) accuracy {accuracy:.3f}, macro-F1 {macro_f1:.3f}".format(
            args.architecture, epochs, **evaluate.summary(faces.test.y, evaluate.predict_proba(model, faces.test.x))),
        "recipe": args.recipe, "settings": settings, **({"note": args.note} if args.note else {}),
        "epochs_run": int(len(history)), "best_epoch": int(best["epoch"]),
        "training_minutes": round(float(history["seconds"].sum()) / 60, 1), "trained_on": args.hardware,
        "planned_epochs": planned,
        **({"stages": stages(runs, history, model, x_val, y_val, val_proba)} if len(runs) > 1 else {}),
        **({"teachers": teachers(recipe, teacher_made_by, behind_teachers, history, model, x_val, y_val)} if recipe and
           recipe.get("teachers") else {}),
        "class_weighting": class_weighting(settings.get("class_weight"), y_train),
        **measured(model, faces),
    }
    weights_dir = Path(args.weights_dir)
    weights_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(run / "best.weights.h5", weights_dir / f"{args.name}.weights.h5")
    shutil.copy(run / "run.json", weights_dir / f"{args.name}.run.json")         # the settings train.fit recorded
    return write_card(weights_dir, args.name, card, history)


class Faces:
    """The faces every card is measured on: validation (10% of train, stratified, seed 42), test, the sample."""

    def __init__(self, data_dir):
        self.train = data.load_split(data_dir, "train")
        _, self.x_val, self.y_train, self.y_val = data.train_val_split(self.train.x, self.train.y, 0.1, seed=42)
        self.test = data.load_split(data_dir, "test")


def measured(model, faces: Faces) -> dict:
    """The figures every card carries, all measured here on ``model``: validation, test (plain, with the mirror,
    without the faces that are byte-identical to training faces, per class), size, speed, and sample
    probabilities that tests/test_bundled_models.py checks after loading."""
    test = faces.test
    test_proba = evaluate.predict_proba(model, test.x)
    leaked = data.duplicates_of(test.x, faces.train.x)
    sample = data.load_split(SAMPLE_DIR, "test")
    pick = [int(i) for i in range(0, len(sample), 10)]
    return {
        "selected_on": "validation: 10% of train, stratified, seed 42 (data.train_val_split)",
        "validation": evaluate.summary(faces.y_val, evaluate.predict_proba(model, faces.x_val)),
        "test_split": f"test = FER2013 PublicTest ({len(test.y):,} faces in this copy)",
        "faces": {"train_split": len(faces.train.y), "validation": len(faces.y_val), "test": len(test.y)},
        "test": evaluate.summary(test.y, test_proba),
        "test_flip_tta": evaluate.summary(test.y, evaluate.predict_proba(model, test.x, tta="flip")),
        "test_without_train_duplicates": {"faces": int((~leaked).sum()),
                                          **evaluate.summary(test.y[~leaked], test_proba[~leaked])},
        "test_per_class": evaluate.per_class_table(test.y, test_proba).to_dict(orient="index"),
        "parameters": int(model.count_params()), "mflops_per_face": round(models.count_flops(model) / 1e6, 1),
        "cpu_faces_per_second": {"batch_1": round(faces_per_second(model, faces.x_val, 1), 1),
                                 "batch_256": round(faces_per_second(model, faces.x_val, 256), 1),
                                 "measured_on": hardware(), "backend": keras.backend.backend(),
                                 "load_average_1min": load_average()},
        "check": {"sample_test_files": [sample.files[i] for i in pick],
                  "probabilities": [[round(float(p), 6) for p in row]
                                    for row in evaluate.predict_proba(model, sample.x[pick])]},
        "made_with": {"keras": keras.__version__, "python": platform.python_version()},
    }


def write_card(weights_dir: Path, name: str, card: dict, history) -> int:
    """NAME.json, NAME.md and NAME.history.csv (the curves, epoch by epoch, in history.csv's own layout: Keras counts
    epochs from 0); the weights are already in place."""
    history.assign(epoch=history["epoch"] - 1).to_csv(weights_dir / f"{name}.history.csv", index=False)
    (weights_dir / f"{name}.json").write_text(json.dumps(card, indent=1) + "\n")
    (weights_dir / f"{name}.md").write_text(render_card(name, card))
    print(json.dumps({k: card[k] for k in ("validation", "test", "test_flip_tta", "test_without_train_duplicates",
                                           "epochs_run", "training_minutes")}, indent=1))
    return 0


def member_summary(member: dict) -> str:
    """A member in a few words: 'small_resnet 16-32-64-128 (80 epochs, 2 stages)'."""
    widths = member["kwargs"].get("widths")
    stages = len(member.get("stages", [])) or 1
    return (f"{member['architecture']}{' ' + '-'.join(map(str, widths)) if widths else ''} "
            f"({member['epochs_run']} epochs{f', {stages} stages' if stages > 1 else ''})")


def bundle_ensemble(args) -> int:
    """Bundle an ensemble (``--member`` chains): one model averaging the members' probabilities."""
    import pandas as pd
    chains = []
    for given in args.member:
        runs = [Path(part) for part in given.split(",")]
        if not (runs[-1] / "best.weights.h5").exists() or _recipe(runs[-1]) is None:
            sys.exit(f"{runs[-1]}: no best.weights.h5 and recipe.json (not a run of `train`)")
        chains.append([*earlier_stages(runs[-1], _recipe(runs[-1]), [str(r) for r in runs[:-1]]), runs[-1]])
    recipes = [_recipe(runs[-1]) for runs in chains]
    specs = [{"architecture": r["architecture"], "kwargs": r.get("model_kwargs") or {}} for r in recipes]
    model = models.build_ensemble(specs)
    networks = models.ensemble_members(model)
    for network, runs in zip(networks, chains):
        models.load_weights(network, runs[-1] / "best.weights.h5")

    faces = Faces(args.data)
    ensemble_val = evaluate.predict_proba(model, faces.x_val)
    members, logs = [], []
    for number, (network, runs, recipe, spec) in enumerate(zip(networks, chains, recipes, specs), start=1):
        history = stacked_history(runs)
        settings = json.loads((runs[-1] / "run.json").read_text())
        val_proba = evaluate.predict_proba(network, faces.x_val)
        best = history.loc[history["val_accuracy"].idxmax()]
        paired = evaluate.paired_comparison(faces.y_val, val_proba, ensemble_val)
        members.append({
            **spec, "runs": [run.name for run in runs], "training_recipe": _portable(recipe),
            "settings": settings, "class_weighting": class_weighting(settings.get("class_weight"), faces.y_train),
            "epochs_run": int(len(history)), "best_epoch": int(best["epoch"]),
            "planned_epochs": int((history["stage"] < len(runs)).sum()) + settings["epochs"],
            "training_minutes": round(float(history["seconds"].sum()) / 60, 1),
            **({"stages": stages(runs, history, network, faces.x_val, faces.y_val, val_proba)} if len(runs) > 1 else {}),
            "parameters": int(network.count_params()), "mflops_per_face": round(models.count_flops(network) / 1e6, 1),
            "validation": evaluate.summary(faces.y_val, val_proba),
            "ensemble_vs_member": {"only_member_right": paired["only_a"], "only_ensemble_right": paired["only_b"],
                                   "mcnemar_p": round(paired["p_value"], 4)}})
        logs.append(history.assign(member=number))
    test_proba = evaluate.predict_proba(model, faces.test.x)
    card = {
        "architecture": "ensemble", "kwargs": {"members": specs},
        "summary": "ensemble of {}, test (PublicTest) accuracy {accuracy:.3f}, macro-F1 {macro_f1:.3f}".format(
            " and ".join(member_summary(m) for m in members), **evaluate.summary(faces.test.y, test_proba)),
        "recipe": args.recipe, **({"note": args.note} if args.note else {}),
        "members": members,
        "epochs_run": sum(m["epochs_run"] for m in members),
        "training_minutes": round(sum(m["training_minutes"] for m in members), 1), "trained_on": args.hardware,
        **measured(model, faces),
    }
    weights_dir = Path(args.weights_dir)
    weights_dir.mkdir(parents=True, exist_ok=True)
    model.save_weights(weights_dir / f"{args.name}.weights.h5")
    (weights_dir / f"{args.name}.run.json").unlink(missing_ok=True)  # a single run's settings: members carry theirs
    return write_card(weights_dir, args.name, card, pd.concat(logs, ignore_index=True))


def stages(runs: list[Path], history, model, x_val, y_val, val_proba) -> list[dict]:
    """One summary per stage; from the second on, McNemar's paired test of its best weights against the stage
    before's on the validation faces (did the restart help, or is its gain luck?)."""
    summaries = [stage_summary(log) for _, log in history.groupby("stage")]
    for summary, run in zip(summaries, runs):
        recorded = json.loads((run / "run.json").read_text())
        summary["peak_learning_rate"] = recorded["learning_rate"]
        summary["planned_epochs"] = recorded["epochs"]
    earlier = keras.models.clone_model(model)
    probas = []
    for run in runs[:-1]:
        earlier.load_weights(run / "best.weights.h5")
        probas.append(evaluate.predict_proba(earlier, x_val))
    probas.append(val_proba)
    for summary, before, after in zip(summaries[1:], probas, probas[1:]):
        paired = evaluate.paired_comparison(y_val, before, after)
        summary["vs_stage_before"] = {"only_stage_before_right": paired["only_a"],
                                      "only_this_stage_right": paired["only_b"],
                                      "mcnemar_p": round(paired["p_value"], 4)}
    return summaries


def teachers(recipe: dict, made_by: list[Path], behind: list[Path], history, model, x_val, y_val) -> dict:
    """The teachers of a distilled run: each one's validation figures with the mirror (what it taught), their
    ensemble's, and the training minutes of the runs behind them that are not already in the model's own stages."""
    teacher = keras.models.clone_model(model)
    probas = []
    for run in made_by:  # the runs whose best weights the teachers are (checked by SHA-256)
        teacher.load_weights(run / "best.weights.h5")
        probas.append(evaluate.predict_proba(teacher, x_val, tta="flip"))
    minutes = sum(float(read_history(run)["seconds"].sum()) for run in behind) / 60
    return {"weights": [_short(t["weights"]) for t in recipe["teachers"]],
            "validation_flip_tta": [evaluate.summary(y_val, p) for p in probas],
            "ensemble_validation_flip_tta": evaluate.summary(y_val, sum(probas) / len(probas)),
            "other_runs": [run.name for run in behind], "other_runs_minutes": round(minutes, 1),
            "cpu_minutes_with_teachers": round(float(history["seconds"].sum()) / 60 + minutes, 1)}


def stage_summary(log) -> dict:
    best = log.loc[log["val_accuracy"].idxmax()]
    return {"recipe": str(log["recipe"].iloc[0]), "epochs": f"{int(log['epoch'].min())}-{int(log['epoch'].max())}",
            "epochs_run": len(log),
            "best_epoch": int(best["epoch"]), "best_val_accuracy": round(float(best["val_accuracy"]), 4),
            "training_minutes": round(float(log["seconds"].sum()) / 60, 1)}


def render_card(name: str, card: dict) -> str:
    per_class = "\n".join(f"| {c} | {v['precision']:.3f} | {v['recall']:.3f} | {v['f1']:.3f} | {int(v['support'])} |"
                          for c, v in card["test_per_class"].items())
    if card["architecture"] == "ensemble":
        head = render_ensemble(card)
    else:
        head = render_single(card)
    speed = card["cpu_faces_per_second"]
    return f"""# Model card: `{name}`

{head}

| split | faces | accuracy | macro-F1 |
|---|---|---|---|
| validation (selected the weights) | {card['faces']['validation']:,} | {card['validation']['accuracy']:.4f} | {card['validation']['macro_f1']:.4f} |
| test (PublicTest) | {card['faces']['test']:,} | {card['test']['accuracy']:.4f} | {card['test']['macro_f1']:.4f} |
| test, flip TTA (beside, not instead) | {card['faces']['test']:,} | {card['test_flip_tta']['accuracy']:.4f} | {card['test_flip_tta']['macro_f1']:.4f} |
| test without the faces byte-identical to training faces | {card['test_without_train_duplicates']['faces']:,} | {card['test_without_train_duplicates']['accuracy']:.4f} | {card['test_without_train_duplicates']['macro_f1']:.4f} |

Per class on test (PublicTest):

| emotion | precision | recall | F1 | faces |
|---|---|---|---|---|
{per_class}

CPU speed (Keras `predict`, {speed['backend']} backend, {speed['measured_on']}, load average {speed['load_average_1min']}
while measuring): {speed['batch_1']:.0f} faces/s at batch 1, {speed['batch_256']:.0f} faces/s at batch 256.

Reproduce the test line: `python -m fer_helpers evaluate --data DIR --split test --model {name}`.
"""


def render_recipe(s: dict, weighting: str) -> str:
    """A run's settings (its run.json) in one sentence."""
    extras = "".join(f", {label} {s[key]}" for key, label in
                     (("mixup", "mixup alpha"), ("ema", "weight averaging (EMA)"), ("weight_decay", "weight decay"))
                     if s.get(key))
    return (f"{s['optimizer']}, learning rate {s['learning_rate']} ({s['schedule']}, warm-up {s['warmup_epochs']} "
            f"epoch),\n  batch {s['batch_size']}, label smoothing {s['label_smoothing']}, class weights{weighting},\n"
            f"  augmentation {', '.join(s['augmentation'] or ['none'])}{extras}")


def render_ensemble(card: dict) -> str:
    members = []
    for number, m in enumerate(card["members"], start=1):
        vs = m["ensemble_vs_member"]
        members.append(
            f"\n  {number}. `{m['architecture']}` {m['kwargs']} ({m['parameters']:,} parameters, {m['mflops_per_face']} "
            f"MFLOPs per face), runs {' then '.join(m['runs'])}: {m['epochs_run']} epochs, {m['training_minutes']} min, "
            f"validation accuracy {m['validation']['accuracy']:.4f} (best epoch {m['best_epoch']}); the ensemble gets "
            f"{vs['only_ensemble_right']} validation faces right that this member misses, and misses "
            f"{vs['only_member_right']} it gets right (McNemar p = {vs['mcnemar_p']})"
            + "\n     - recipe of its last run: " + render_recipe(m["settings"], m["class_weighting"]).replace("\n  ", " ")
            + "".join(f"\n     - stage {i}, `{st['recipe']}`: epochs {st['epochs']}, {st['training_minutes']} min, "
                      f"best validation accuracy {st['best_val_accuracy']:.4f} at epoch {st['best_epoch']}"
                      for i, st in enumerate(m.get("stages", []), start=1)))
    note = f"\n- **Note**: {card['note']}" if card.get("note") else ""
    first = card["members"][0]["settings"]
    return f"""- **Architecture**: `ensemble`, the mean of {len(card['members'])} networks' probabilities ({card['parameters']:,} parameters, {card['mflops_per_face']} MFLOPs per face)
- **Data**: FER2013 training split ({card['faces']['train_split']:,} faces) minus a 10% validation split ({first['train']:,} faces trained on)
- **Recipe**: {card['recipe']}
- **Members**, each selected on validation (its best epoch):{''.join(members)}
- **Selected on**: {card['selected_on']}
- **Trained on**: {card['trained_on']}, {card['training_minutes']} minutes of training in all ({card['epochs_run']} epochs){note}"""


def render_single(card: dict) -> str:
    s = card["settings"]
    extras = "".join(f", {label} {s[key]}" for key, label in
                     (("mixup", "mixup alpha"), ("ema", "weight averaging (EMA)"), ("weight_decay", "weight decay"))
                     if s.get(key))
    note = f"\n- **Note**: {card['note']}" if card.get("note") else ""
    taught = card.get("teachers")
    if taught:
        note += ("\n- **Distilled from** the mean probabilities (face and mirror) of "
                 + " and ".join(f"`{w}` (validation {v['accuracy']:.4f} with the mirror)"
                                for w, v in zip(taught["weights"], taught["validation_flip_tta"]))
                 + f" (together {taught['ensemble_validation_flip_tta']['accuracy']:.4f}) on the training faces"
                 + (f"; the runs behind them not counted above ({', '.join(taught['other_runs'])}) took "
                    f"{taught['other_runs_minutes']} min" if taught["other_runs"] else "")
                 + f"; all the CPU time behind this model, teachers included: {taught['cpu_minutes_with_teachers']} "
                 f"min ({taught['cpu_minutes_with_teachers'] / 60:.1f} hours)")
    stages = "".join(f"\n  {i}. `{st['recipe']}` (peak learning rate {st['peak_learning_rate']}): "
                     f"epochs {st['epochs']}"
                     + (f" ({st['epochs_run']} of its {st['planned_epochs']} planned)"
                        if st["epochs_run"] < st["planned_epochs"] else "")
                     + f", {st['training_minutes']} min, "
                     f"best validation accuracy {st['best_val_accuracy']:.4f} at epoch {st['best_epoch']}"
                     + (" (started from the best weights of the stage before; on validation, {only_this_stage_right} faces "
                        "only it gets right, {only_stage_before_right} only the stage before, McNemar p = {mcnemar_p})"
                        .format(**st["vs_stage_before"]) if i > 1 else "")
                     for i, st in enumerate(card.get("stages", []), start=1))
    stages = f"\n- **Stages** (epochs counted on across them; the recipe line is the last stage's):{stages}" if stages else ""
    return f"""- **Architecture**: `{card['architecture']}` ({card['parameters']:,} parameters, {card['mflops_per_face']} MFLOPs per face)
- **Data**: FER2013 training split ({card['faces']['train_split']:,} faces) minus a 10% validation split ({s['train']:,} faces trained on)
- **Recipe**: {card['recipe']}: {s['optimizer']}, learning rate {s['learning_rate']} ({s['schedule']}, warm-up {s['warmup_epochs']} epoch),
  batch {s['batch_size']}, label smoothing {s['label_smoothing']}, class weights{card['class_weighting']},
  augmentation {', '.join(s['augmentation'] or ['none'])}{extras}; {card['epochs_run']} of {card['planned_epochs']} planned epochs run
- **Selected on**: {card['selected_on']}; best epoch {card['best_epoch']}
- **Trained on**: {card['trained_on']}, {card['training_minutes']} minutes of training{stages}{note}"""


if __name__ == "__main__":
    sys.exit(main())
