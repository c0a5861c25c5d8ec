"""Bundle a trained run as a named model of fer_helpers, with its model card.

    python tools/bundle_model.py --run runs/05_training --name seed --data ../shared/fer2013 \
        --recipe "notebooks/05_training.ipynb, full mode" --hardware "2-core CPU (AMD EPYC)"

Copies the run's best weights to fer_helpers/weights/NAME.weights.h5 and writes NAME.json (what load_model
needs, plus the measured figures) and NAME.md (the human-readable card). Every figure is measured here:
validation (the split that selected the weights), test once (named, with and without the test images that are
byte-identical to training images), per-class precision/recall/F1, parameters, FLOPs, CPU faces/s, and the
probabilities of a few sample faces that tests/test_bundled_models.py checks after loading.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fer_helpers import data, evaluate, models  # noqa: E402
from fer_helpers.course import SAMPLE_DIR, hardware  # noqa: E402
from fer_helpers.train import read_history  # noqa: E402


def faces_per_second(model, batch: int, seconds: float = 4.0) -> float:
    x = data.as_model_input(__import__("numpy").zeros((batch, 48, 48), "uint8"))
    model.predict(x, batch_size=batch, verbose=0)
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        model.predict(x, batch_size=batch, verbose=0)
        n += batch
    return n / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--data", required=True, help="the full FER2013 folder")
    parser.add_argument("--recipe", required=True)
    parser.add_argument("--hardware", required=True, help="what it was trained on")
    parser.add_argument("--architecture", default=None,
                        help="default: the run's recipe.json (chapter 9, tools/train_on_device.py), else seed_cnn")
    args = parser.parse_args()

    run = Path(args.run)
    history = read_history(run)
    settings = json.loads((run / "run.json").read_text())
    recipe = json.loads((run / "recipe.json").read_text()) if (run / "recipe.json").exists() else None
    args.architecture = args.architecture or (recipe["architecture"] if recipe else "seed_cnn")
    kwargs = recipe["model_kwargs"] if recipe and recipe["architecture"] == args.architecture else {}
    model = models.build(args.architecture, **kwargs)
    model.load_weights(run / "best.weights.h5")

    train_split = data.load_split(args.data, "train")
    _, x_val, _, y_val = data.train_val_split(train_split.x, train_split.y, 0.1, seed=42)
    test = data.load_split(args.data, "test")
    val_proba = evaluate.predict_proba(model, x_val)
    test_proba = evaluate.predict_proba(model, test.x)
    test_flip = evaluate.predict_proba(model, test.x, tta="flip")
    leaked = data.duplicates_of(test.x, train_split.x)
    sample = data.load_split(SAMPLE_DIR, "test")
    pick = [int(i) for i in range(0, len(sample), 10)]
    best = history.loc[history["val_accuracy"].idxmax()]

    card = {
        "architecture": args.architecture, "kwargs": kwargs, **({"training_recipe": recipe} if recipe else {}),
        "summary": f"{args.architecture}, test (PublicTest) accuracy "
                   f"{evaluate.summary(test.y, test_proba)['accuracy']:.3f}",
        "recipe": args.recipe, "settings": settings,
        "epochs_run": int(len(history)), "best_epoch": int(best["epoch"]),
        "training_minutes": round(float(history["seconds"].sum()) / 60, 1), "trained_on": args.hardware,
        "selected_on": "validation: 10% of train, stratified, seed 42 (data.train_val_split)",
        "validation": evaluate.summary(y_val, val_proba),
        "test_split": "test = FER2013 PublicTest (3,435 faces in this copy)",
        "test": evaluate.summary(test.y, test_proba),
        "test_flip_tta": evaluate.summary(test.y, test_flip),
        "test_without_train_duplicates": {"faces": int((~leaked).sum()),
                                          **evaluate.summary(test.y[~leaked], test_proba[~leaked])},
        "test_per_class": evaluate.per_class_table(test.y, test_proba).to_dict(orient="index"),
        "parameters": int(model.count_params()), "mflops_per_face": round(models.count_flops(model) / 1e6, 1),
        "cpu_faces_per_second": {"batch_1": round(faces_per_second(model, 1), 1),
                                 "batch_256": round(faces_per_second(model, 256), 1),
                                 "measured_on": hardware(),
                                 "load_average_1min": round(os.getloadavg()[0], 1)},
        "check": {"sample_test_files": [sample.files[i] for i in pick],
                  "probabilities": [[round(float(p), 6) for p in row]
                                    for row in evaluate.predict_proba(model, sample.x[pick])]},
        "made_with": {"keras": __import__("keras").__version__, "python": platform.python_version()},
    }
    weights_dir = models.WEIGHTS_DIR
    weights_dir.mkdir(exist_ok=True)
    shutil.copy(run / "best.weights.h5", weights_dir / f"{args.name}.weights.h5")
    (weights_dir / f"{args.name}.json").write_text(json.dumps(card, indent=1) + "\n")
    (weights_dir / f"{args.name}.md").write_text(render_card(args.name, card))
    print(json.dumps({k: card[k] for k in ("validation", "test", "test_flip_tta", "test_without_train_duplicates",
                                           "epochs_run", "best_epoch", "training_minutes")}, indent=1))
    return 0


def render_card(name: str, card: dict) -> str:
    per_class = "\n".join(f"| {c} | {v['precision']:.3f} | {v['recall']:.3f} | {v['f1']:.3f} | {int(v['support'])} |"
                          for c, v in card["test_per_class"].items())
    s = card["settings"]
    speed = card["cpu_faces_per_second"]
    extras = "".join(f", {label} {s[key]}" for key, label in
                     (("mixup", "mixup alpha"), ("ema", "weight averaging (EMA)"), ("weight_decay", "weight decay"))
                     if s.get(key))
    return f"""# Model card: `{name}`

- **Architecture**: `{card['architecture']}` ({card['parameters']:,} parameters, {card['mflops_per_face']} MFLOPs per face)
- **Data**: FER2013 training split (28,709 faces) minus a 10% validation split ({s['train']:,} faces trained on)
- **Recipe**: {card['recipe']}: {s['optimizer']}, learning rate {s['learning_rate']} ({s['schedule']}, warm-up {s['warmup_epochs']} epoch),
  batch {s['batch_size']}, label smoothing {s['label_smoothing']}, class weights{' (square root of inverse frequency)' if s.get('class_weight') else ': none'},
  augmentation {', '.join(s['augmentation'] or ['none'])}{extras}; {card['epochs_run']} of {s['epochs']} planned epochs run
- **Selected on**: {card['selected_on']}; best epoch {card['best_epoch']}
- **Trained on**: {card['trained_on']}, {card['training_minutes']} minutes of training

| split | faces | accuracy | macro-F1 |
|---|---|---|---|
| validation (selected the weights) | {s['val']:,} | {card['validation']['accuracy']:.4f} | {card['validation']['macro_f1']:.4f} |
| test (PublicTest) | 3,435 | {card['test']['accuracy']:.4f} | {card['test']['macro_f1']:.4f} |
| test, flip TTA (beside, not instead) | 3,435 | {card['test_flip_tta']['accuracy']:.4f} | {card['test_flip_tta']['macro_f1']:.4f} |
| test without the faces byte-identical to training faces | {card['test_without_train_duplicates']['faces']:,} | {card['test_without_train_duplicates']['accuracy']:.4f} | {card['test_without_train_duplicates']['macro_f1']:.4f} |

Per class on test (PublicTest):

| emotion | precision | recall | F1 | faces |
|---|---|---|---|---|
{per_class}

CPU speed (Keras `predict`, TensorFlow backend, {speed['measured_on']}, load average {speed['load_average_1min']}
while measuring): {speed['batch_1']:.0f} faces/s at batch 1, {speed['batch_256']:.0f} faces/s at batch 256.

Reproduce the test line: `python -m fer_helpers evaluate --data DIR --split test --model {name}`.
"""


if __name__ == "__main__":
    sys.exit(main())
