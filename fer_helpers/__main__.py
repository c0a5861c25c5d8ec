"""The original project's three scripts (train.py, test_model.py, predict.py) as one command line over the same
functions the notebooks use:

    python -m fer_helpers train    --data DIR [--epochs 60] [--run-dir runs/cli_train]
    python -m fer_helpers train    --data DIR --recipe cpu_best --run-dir runs/cpu_best
    python -m fer_helpers train    --data DIR --recipe seed --learning-rate 5e-4 --run-dir runs/seed_half_rate
    python -m fer_helpers train    --data DIR --recipe cpu_best_restart --init-weights runs/cpu_best/best.weights.h5
                                   --seed 43 --run-dir runs/cpu_best_restart
    python -m fer_helpers evaluate --data DIR --split test --model seed [--tta flip] [--json FILE]
    python -m fer_helpers evaluate --data DIR --split validation --model RUN1/best.weights.h5 --model RUN2/...
    python -m fer_helpers compare  --data DIR [--split validation] MODEL_A MODEL_B
    python -m fer_helpers predict  IMAGE... [--model seed] [--detector auto] [--json FILE] [--annotate DIR]

Problems with the input (a missing folder, a file that is not an image) are reported in one line, no traceback.
Each command imports the modules it needs when it runs, not at the top: so ``--help`` answers, and a person waiting
sees a first line, before TensorFlow's import (seconds) starts.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from .errors import FerError

#: The train command's flags that change a setting of the recipe, by the Recipe field they set (unset: the recipe's).
RECIPE_FLAGS = ("architecture", "batch_size", "optimizer", "learning_rate", "label_smoothing", "class_weight_power")


def cli_recipe(args):
    """The recipe the train command trains: ``--recipe`` by name (default ``seed``, chapter 5's), changed by the
    flags that were given through ``Recipe.but``; its name says which (``seed+learning_rate``)."""
    from . import recipes
    recipe = recipes.named(args.recipe)
    changes = {field: getattr(args, field) for field in RECIPE_FLAGS if getattr(args, field) is not None}
    if not args.augment:
        changes["augmentation"] = {transform: 0 for transform in recipe.augmentation}
    if not changes:
        return recipe
    return recipe.but("+".join([recipe.name, *changes]), **changes)


def _cmd_train(args) -> int:
    from . import course, data, evaluate, recipes
    _check_data(args.data)
    recipe = cli_recipe(args)   # an unknown name or setting: one line, before the data load
    course.seed_everything(args.seed)
    split = data.load_split(args.data, "train")
    x_train, x_val, y_train, y_val = data.train_val_split(split.x, split.y, args.val_fraction, seed=42)
    print(f"train {len(y_train)} | validation {len(y_val)} | recipe {recipe.name}: "
          f"{recipe.build_model().count_params():,} parameters")
    model, _ = recipes.train_recipe(recipe, x_train, y_train, x_val, y_val, args.run_dir, epochs=args.epochs,
                                    patience=args.patience, time_budget_min=args.time_budget_min, seed=args.seed,
                                    init_weights=args.init_weights, teachers=args.teacher,
                                    teacher_model=args.teacher_model)
    s = evaluate.summary(y_val, evaluate.predict_proba(model, x_val))
    print(f"validation accuracy {s['accuracy']:.4f}")
    print(f"validation macro-F1 {s['macro_f1']:.4f}")
    print(f"best weights: {Path(args.run_dir) / 'best.weights.h5'}")
    return 0


CARVED_SPLITS = {"validation": "the validation faces carved from train (a tenth, stratified, seed 42: chapter 5's)",
                 "fit": "the training faces the models were fitted on (train without that validation)"}
SPLIT_CHOICES = ["train", *CARVED_SPLITS, "test", "private"]


def _check_data(data_dir: str) -> None:
    """One line naming --data (not FER_DATA, which the chapters read) when the folder is not there."""
    if not Path(data_dir).exists():
        raise FerError(f"{data_dir}: no such folder (--data takes the folder holding FER2013, or its fer2013.csv; "
                       f"data/README.md says how to get it)")


def _check_model(name: str) -> None:
    """A model name or file checked before TensorFlow and the data load (seconds), not after."""
    from . import models
    path = Path(str(name))
    if not path.suffix and not path.exists():
        models.model_card(str(name))  # one line listing the bundled names if it is not one of them
    elif not path.exists():
        raise FerError(f"{path}: no such model file")


def _data_label(data_dir: str) -> str:
    """' of the committed sample (...)' when --data is the repository's 280-face sample, else ''."""
    from .course import SAMPLE_DIR
    if Path(data_dir).resolve() == SAMPLE_DIR.resolve():
        return (" of the committed sample (data/sample: 20 faces a class; the README's figures are on FER2013's "
                "full test split)")
    return ""


def _load_faces(data_dir: str, split_name: str):
    """(x, y) of a split as stored, or of one of the two parts chapter 5 carves out of train."""
    from . import data
    _check_data(data_dir)
    split = data.load_split(data_dir, "train" if split_name in CARVED_SPLITS else split_name)
    if len(split) == 0:
        raise FerError(f"{data_dir}: split '{split_name}' holds no readable images")
    if split_name not in CARVED_SPLITS:
        return split.x, split.y
    x_fit, x_val, y_fit, y_val = data.train_val_split(split.x, split.y)  # its defaults are chapter 5's split
    return (x_val, y_val) if split_name == "validation" else (x_fit, y_fit)


def _cmd_evaluate(args) -> int:
    from . import data, evaluate, models, recipes
    names = args.model or ["seed"]
    for name in names:
        _check_model(name)
    x, y = _load_faces(args.data, args.split)
    # one model, or several: their ensemble, the mean of their probabilities (chapter 9)
    proba = recipes.ensemble_proba([models.load_model(name) for name in names], x, tta=args.tta)
    s = evaluate.summary(y, proba)
    label = f"{args.split}{_data_label(args.data)}" + (" (flip TTA)" if args.tta else "")
    shown = names[0] if len(names) == 1 else f"ensemble of {len(names)} ({', '.join(names)})"
    print(f"model {shown} | split {label} | {len(y)} faces")
    print(f"accuracy {s['accuracy']:.4f}")
    print(f"macro-F1 {s['macro_f1']:.4f}")
    print(evaluate.per_class_table(y, proba).to_string())
    result = {"model": names[0] if len(names) == 1 else names, "split": args.split, "tta": args.tta,
              "faces": len(y), **s, "per_class": evaluate.per_class_table(y, proba).to_dict(orient="index")}
    if args.split in ("test", "private"):  # the others are (parts of) train itself
        try:
            train_split = data.load_split(args.data, "train")
        except FerError:
            train_split = None
        if train_split is not None and len(train_split):
            leaked = data.duplicates_of(x, train_split.x)
            if leaked.any():
                clean = evaluate.summary(y[~leaked], proba[~leaked])
                n = int(leaked.sum())
                print(f"without the {n} {args.split} image{'s' if n != 1 else ''} byte-identical to training images: "
                      f"accuracy {clean['accuracy']:.4f} | macro-F1 {clean['macro_f1']:.4f}")
                result["without_train_duplicates"] = {"faces": int((~leaked).sum()), **clean}
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    return 0


def _cmd_compare(args) -> int:
    """Two models on the same faces: each one's figures, then McNemar's paired test (chapter 9, section 9.2)."""
    from . import evaluate, models
    for name in (args.model_a, args.model_b):
        _check_model(name)
    x, y = _load_faces(args.data, args.split)
    probas = [evaluate.predict_proba(models.load_model(name), x, tta=args.tta) for name in (args.model_a, args.model_b)]
    print(f"split {args.split}{_data_label(args.data)}" + (" (flip TTA)" if args.tta else "") + f" | {len(y)} faces")
    result = {"split": args.split, "tta": args.tta, "faces": len(y)}
    for key, name, proba in (("a", args.model_a, probas[0]), ("b", args.model_b, probas[1])):
        s = evaluate.summary(y, proba)
        print(f"{key}: {name} | accuracy {s['accuracy']:.4f} | macro-F1 {s['macro_f1']:.4f}")
        result[key] = {"model": str(name), **s}
    paired = evaluate.paired_comparison(y, *probas)
    print(f"faces only a gets right {paired['only_a']}, only b {paired['only_b']}: "
          f"McNemar p = {paired['p_value']:.3g}")
    result.update(paired)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    return 0


def _cmd_predict(args) -> int:
    from . import models, predict
    _check_model(args.model)
    model = models.load_model(args.model)
    results, errors = predict.predict_files(args.images, model, detector=args.detector)
    records, written = [], set()
    for path, faces in results:
        if not faces:
            print(f"{path}: no face found")
        for face in faces:
            x, y, w, h = (int(v) for v in face.box[:4])
            print(f"{path}: face at x={x} y={y} w={w} h={h}: {face.emotion} ({face.confidence:.2f})")
            records.append({"file": str(path), "box": [x, y, w, h], "emotion": face.emotion,
                            "confidence": round(float(face.confidence), 4),
                            "probabilities": {k: round(float(v), 4) for k, v in face.probabilities.items()}})
        if args.annotate:
            import cv2

            from .faces import read_image
            out = Path(args.annotate)
            out.mkdir(parents=True, exist_ok=True)
            name, n = f"{Path(path).stem}_emotions.jpg", 1
            while name in written:  # a/x.jpg and b/x.png: x_emotions.jpg, x_emotions_2.jpg
                n += 1
                name = f"{Path(path).stem}_emotions_{n}.jpg"
            written.add(name)
            annotated = cv2.cvtColor(predict.annotate(read_image(path), faces), cv2.COLOR_RGB2BGR)
            if not cv2.imwrite(str(out / name), annotated):
                errors.append(f"{out / name}: could not be written")
    for line in errors:
        print(line, file=sys.stderr)
    if args.json:
        Path(args.json).write_text(json.dumps({"faces": records, "errors": errors}, indent=1))
    return 0 if results else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m fer_helpers", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a model (chapter 5's recipe) with a validation split carved from train")
    t.add_argument("--data", required=True, help="FER2013 folder (DIR/train/<class>/*) or fer2013.csv")
    t.add_argument("--recipe", default="seed",
                   help="a recipe by name (fer_helpers.recipes.NAMED: seed, cpu_best, small_resnet, ...; an unknown "
                        "name lists them); default seed, chapter 5's. The flags below change one of its settings")
    t.add_argument("--init-weights", default=None,
                   help="start from this .weights.h5 of the recipe's network (a warm restart), not random weights")
    t.add_argument("--teacher", action="append", default=[], metavar="WEIGHTS",
                   help="distil: learn the mean probabilities of these .weights.h5 of the recipe's network "
                        "(repeat the flag for an ensemble) instead of the labels")
    t.add_argument("--teacher-model", default=None, metavar="MODEL",
                   help="distil by function matching: learn this model's probabilities (a bundled name such as best, "
                        "or a file) on the very faces shown in training, augmented and blended, not the labels")
    t.add_argument("--epochs", type=int, default=None, help="train this many epochs (default: the recipe's)")
    recipe_flag = "(default: the recipe's)"
    t.add_argument("--architecture", default=None, help=f"seed_cnn (the original), vgg_bn, ... {recipe_flag}")
    t.add_argument("--batch-size", type=int, default=None, help=recipe_flag)
    t.add_argument("--optimizer", default=None, choices=["adam", "adamw", "sgd"], help=recipe_flag)
    t.add_argument("--learning-rate", type=float, default=None, help=f"the peak rate {recipe_flag}")
    t.add_argument("--label-smoothing", type=float, default=None, help=recipe_flag)
    t.add_argument("--class-weight-power", type=float, default=None,
                   help=f"0 = no class weights, 0.5 = square root, 1 = 'balanced' {recipe_flag}")
    t.add_argument("--no-augment", dest="augment", action="store_false", help="switch the recipe's augmentation off")
    t.add_argument("--val-fraction", type=float, default=0.1)
    t.add_argument("--patience", type=int, default=None, help="early stopping on validation accuracy")
    t.add_argument("--time-budget-min", type=float, default=None, help="stop after this many minutes; rerun resumes")
    t.add_argument("--run-dir", default="runs/cli_train")
    t.add_argument("--seed", type=int, default=42)
    t.set_defaults(func=_cmd_train)

    e = sub.add_parser("evaluate", help="accuracy, macro-F1 and per-class figures of a model on one split")
    e.add_argument("--data", required=True)
    split_help = ("test, private, train, or a part of train as chapter 5 carves it: " +
                  "; ".join(f"{name}: {what}" for name, what in CARVED_SPLITS.items()))
    e.add_argument("--split", default="test", choices=SPLIT_CHOICES,
                   help=split_help)
    e.add_argument("--model", action="append", default=None,
                   help="bundled name (seed, best) or a .keras / .weights.h5 file (default: seed); repeated: the "
                        "models' ensemble, the mean of their probabilities")
    e.add_argument("--tta", default=None, choices=["flip"])
    e.add_argument("--json", default=None, help="also write the figures to this JSON file")
    e.set_defaults(func=_cmd_evaluate)

    c = sub.add_parser("compare", help="two models on the same faces, with McNemar's paired test")
    c.add_argument("--data", required=True)
    c.add_argument("--split", default="validation", choices=SPLIT_CHOICES,
                   help=split_help)
    c.add_argument("model_a", help="bundled name or a .keras / .weights.h5 file")
    c.add_argument("model_b")
    c.add_argument("--tta", default=None, choices=["flip"])
    c.add_argument("--json", default=None, help="also write the figures to this JSON file")
    c.set_defaults(func=_cmd_compare)

    p = sub.add_parser("predict", help="detect faces in photos and name their emotions")
    p.add_argument("images", nargs="+")
    p.add_argument("--model", default="seed")
    p.add_argument("--detector", default="auto", choices=["auto", "yunet", "haar"])
    p.add_argument("--json", default=None)
    p.add_argument("--annotate", default=None, help="write annotated copies into this folder")
    p.set_defaults(func=_cmd_predict)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if sys.stderr.isatty():  # a person waiting: say something before TensorFlow's import (seconds) starts
        print(f"fer_helpers {args.command}: loading Keras and TensorFlow...", file=sys.stderr, flush=True)
    try:
        return args.func(args)
    except FerError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
