"""Score the original project's recipe (``recipes.ORIGINAL``) three ways, once, and commit what it says.

The original project reported 84% "on the whole dataset (test + training data)". Chapter 6 reproduces that
mistake with the course's models; this tool does it for the original recipe itself, trained once with

    python -m fer_helpers train --data ../shared/fer2013 --recipe original --seed 0 --run-dir RUN

and then scored here on (1) its own training faces (the 25,838 faces it fitted, untransformed), (2) validation
(2,871 faces carved from train, which chose its epoch), (3) the test split (PublicTest) and (4) a pool of its
training faces and test faces drawn at random in the original's proportions (28,709 : 3,435, 89.3% training).
It writes ``scores.json`` and copies the run's ``history.csv``, ``run.json`` and ``recipe.json`` into ``--out``
(the weights, 17 MB, stay in the run folder: the scores are what chapter 6 reads).

    python tools/score_original.py --run RUN --data ../shared/fer2013 --out benchmarks/original
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fer_helpers import data, evaluate, recipes
from fer_helpers.errors import FerError

# The pool's share of training faces: FER2013's training split against PublicTest, as in chapter 6.
N_TRAIN_FER, N_PUBLIC_TEST = 28_709, 3_435
SEEN_SHARE = N_TRAIN_FER / (N_TRAIN_FER + N_PUBLIC_TEST)


def pool_indices(n_seen: int, n_test: int, seed: int = 0) -> np.ndarray:
    """Which test faces join ``n_seen`` training faces so that the training share is SEEN_SHARE."""
    n_drawn = round(n_seen * (1 - SEEN_SHARE) / SEEN_SHARE)
    if n_drawn > n_test:
        raise FerError(f"the pool needs {n_drawn} test faces, the test split has {n_test}")
    return np.sort(np.random.default_rng(seed).choice(n_test, size=n_drawn, replace=False))


def score(y_true: np.ndarray, proba: np.ndarray) -> dict:
    s = evaluate.summary(y_true, proba)
    return {"faces": int(len(y_true)), "accuracy": round(float(s["accuracy"]), 4),
            "macro_f1": round(float(s["macro_f1"]), 4)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, type=Path, help="the run folder of `train --recipe original`")
    parser.add_argument("--data", required=True, help="FER2013 folder (train/ and test/)")
    parser.add_argument("--out", required=True, type=Path, help="folder for scores.json and the run's files")
    args = parser.parse_args(argv)
    weights = args.run / "best.weights.h5"
    if not weights.exists():
        raise FerError(f"{weights}: not found (train first: python -m fer_helpers train --recipe original ...)")
    start = time.perf_counter()
    split = data.load_split(args.data, "train")
    x_fit, x_val, y_fit, y_val = data.train_val_split(split.x, split.y, 0.1, seed=42)   # as the CLI's `train`
    test = data.load_split(args.data, "test")
    model = recipes.ORIGINAL.build_model()
    model.load_weights(weights)
    proba = {name: evaluate.predict_proba(model, x) for name, x in
             (("fit", x_fit), ("val", x_val), ("test", test.x))}
    drawn = pool_indices(len(y_fit), len(test.y))
    scores = {
        "recipe": recipes.ORIGINAL.name,
        "weights": f"RUN/{weights.name} (RUN: the run folder, outside the repository)",
        "scored on": {
            "training faces (its own, untransformed)": score(y_fit, proba["fit"]),
            "validation (carved from train)": score(y_val, proba["val"]),
            "test (PublicTest)": score(test.y, proba["test"]),
            f"pool: {len(y_fit):,} training + {len(drawn):,} test faces (89.3% training)": score(
                np.concatenate([y_fit, test.y[drawn]]), np.concatenate([proba["fit"], proba["test"][drawn]])),
        },
        "test recall per class": {emotion: round(float(recall), 4) for emotion, recall in
                                  evaluate.per_class_table(test.y, proba["test"])["recall"].items()},
        "pool seed": 0,
        "seconds": round(time.perf_counter() - start, 1),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "scores.json").write_text(json.dumps(scores, indent=1) + "\n")
    for name in ("history.csv", "run.json", "recipe.json"):
        if (args.run / name).exists():
            shutil.copy2(args.run / name, args.out / name)
    for where, s in scores["scored on"].items():
        print(f"{where:<60} accuracy {s['accuracy']:.4f}  macro-F1 {s['macro_f1']:.4f}  ({s['faces']:,} faces)")
    print(f"wrote {args.out / 'scores.json'}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except FerError as error:
        sys.exit(f"score_original: {error}")
