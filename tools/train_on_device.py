"""Train chapter 9's runs on an accelerator in one go: the seed recipe, the best recipe, the ladder, an ensemble.

Made for a machine that has JAX (or PyTorch) with a GPU but not the dataset and not TensorFlow: the training
faces travel as one pack (``tools/pack_dataset.py``), Keras 3 runs on ``KERAS_BACKEND=jax``, and everything it
makes goes into ``--out``: one folder per run (``history.csv``, ``run.json``, ``recipe.json``, ``scores.json``,
``best.weights.h5``) plus ``ladder.csv``/``summary.json``. Selection is on the validation split carved from
train exactly as the notebooks carve it (``train_val_split(seed=42)``); the test split is not here at all: it is
measured afterwards, once, on the CPU (``tools/bundle_model.py``).

    KERAS_BACKEND=jax python tools/train_on_device.py --pack .device/fer_train.pack --out OUT --budget-min 8
    # a rehearsal on the CPU: tiny models, a few hundred faces, 1 epoch each
    KERAS_BACKEND=jax python tools/train_on_device.py --pack .device/fer_train.pack --out /tmp/rehearsal --rehearse

On the device (``run`` with ``carry: [".device", ".whl"]``; ``.whl`` holds the keras 3.15.1, namex and optree
wheels for Python 3.12, ``.device`` the pack; both are listed in ``.git/info/exclude``). The working tree travels
too and the limit is 64 MiB: move ``fer_helpers/weights/*.weights.h5`` out of the tree for that call (the
device does not need them) and back afterwards. One call, ~9 minutes:

    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
        .whl/*.whl && export PYTHONPATH=/tmp/site || exit
    export KERAS_BACKEND=jax PYTHONUNBUFFERED=1
    python3 tools/train_on_device.py --pack .device/fer_train.pack --out /tmp/runs --budget-min 8 \
        2>&1 | tee $OUT/train.log
    cd /tmp/runs && find . -name backup -type d -prune -exec rm -rf {} + && rm -f ladder_*/best.weights.h5 \
        && tar -cf - . | xz -1 -T0 | split -b 15M - $OUT/runs.tar.xz.

Back here: ``cat FILES_AT/runs.tar.xz.* | xz -d | tar -x -C runs/device``, then ``tools/bundle_model.py --run
runs/device/seed --name seed ...`` and ``--run runs/device/best --name best ...`` measure the cards on the CPU.

The jobs run in priority order, each with its share of the time budget, so a budget that runs out still leaves
the most important runs finished; a run cut short keeps its best epoch so far and says so in ``summary.json``.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import lzma
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def read_pack(path: Path):
    """(faces uint8 (n, 48, 48), labels, files) from a pack written by tools/pack_dataset.py, hash-checked."""
    from fer_helpers.data import decode_gray48
    with np.load(io.BytesIO(lzma.decompress(Path(path).read_bytes()))) as pack:
        jpeg, offsets = pack["jpeg"], pack["offsets"]
        labels, files, expected = pack["labels"], [str(f) for f in pack["files"]], str(pack["sha256"])
        faces = np.stack([decode_gray48(jpeg[offsets[i]:offsets[i + 1]], f"{path}: {files[i]}")
                          for i in range(len(offsets) - 1)])
    if hashlib.sha256(faces.tobytes()).hexdigest() != expected:
        print("warning: the faces decode to other pixels than where they were packed (another JPEG decoder)")
    return faces, labels, files


def jobs(rehearse: bool):
    """(name, recipe, share of the budget, seed) in priority order."""
    from fer_helpers import recipes
    seed_recipe = recipes.SEED
    # recipes.ACCELERATOR_BEST under this tool's job name (11 MB of weights: three of them and the seed come back
    # within $OUT's 64 MB)
    best = recipes.ACCELERATOR_BEST.but("best")
    ladder_epochs = 15  # short: the ladder compares ideas at equal cost; the seed and best runs train to the end
    found = [("seed", seed_recipe, 0.20, 0), ("best", best, 0.40, 0)]
    recipe = recipes.SEED.but("ladder_seed", epochs=ladder_epochs)
    found.append((recipe.name, recipe, 0.02, 0))
    for step in recipes.LADDER:  # the ladder without the keep-or-drop decisions: each step on top of the last
        changes = dict(step.changes)
        if changes.get("epochs", 0) is None:
            changes["epochs"] = recipe.epochs * 2
        recipe = recipe.but(f"ladder_{step.name}", **changes)
        found.append((recipe.name, recipe, 0.02 if step.name != "longer" else 0.04, 0))
    found += [("best_seed1", best.but("best_seed1"), 0.07, 1), ("best_seed2", best.but("best_seed2"), 0.07, 2)]
    if rehearse:  # tiny versions of the same jobs, one epoch each: checks the plumbing, not the numbers
        small = {"seed_cnn": {}, "vgg_bn": {"widths": (8, 16)}, "resnet": {"widths": (8, 16), "blocks": (1, 1)}}
        found = [(n, r.but(n, epochs=1, model_kwargs=small[r.architecture]) if r.architecture != "seed_cnn"
                  else r.but(n, epochs=1), s, sd) for n, r, s, sd in found]
    return found


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pack", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--budget-min", type=float, default=8.0, help="wall-clock minutes for all the training")
    parser.add_argument("--rehearse", action="store_true", help="tiny models and data, 1 epoch each (CPU check)")
    parser.add_argument("--only", nargs="*", help="run only these jobs")
    args = parser.parse_args(argv)

    import keras

    from fer_helpers import data, recipes
    start = time.time()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    faces, labels, _ = read_pack(Path(args.pack))
    x_train, x_val, y_train, y_val = data.train_val_split(faces, labels, val_fraction=0.1, seed=42)
    if args.rehearse:
        x_train, y_train = data.per_class_subset(x_train, y_train, 30)
        x_val, y_val = data.per_class_subset(x_val, y_val, 10)
    devices = [str(d) for d in keras.distribution.list_devices()] if keras.backend.backend() == "jax" else []
    print(f"backend {keras.backend.backend()}, devices {devices}, train {len(y_train)}, val {len(y_val)}, "
          f"read in {time.time() - start:.0f} s", flush=True)

    summary = {"backend": keras.backend.backend(), "devices": devices, "train": int(len(y_train)),
               "val": int(len(y_val)), "runs": {}}
    todo = [j for j in jobs(args.rehearse) if not args.only or j[0] in args.only]
    total_share = sum(share for _, _, share, _ in todo)
    for name, recipe, share, seed in todo:
        left = args.budget_min - (time.time() - start) / 60
        if left < 0.3:
            summary["runs"][name] = {"skipped": "no time left"}
            continue
        budget = min(left, args.budget_min * share / total_share * 1.5)  # unused time flows to later jobs
        t0 = time.time()
        print(f"== {name}: {budget:.1f} min budget", flush=True)
        model, history = recipes.train_recipe(recipe, x_train, y_train, x_val, y_val, out / name,
                                              time_budget_min=budget, verbose=2, seed=seed)
        scores = recipes.validation_scores(model, x_val, y_val)
        run = {"recipe": recipe.as_dict(), "val": scores, "epochs_done": int(len(history)),
               "epochs_planned": int(recipe.epochs), "minutes": round((time.time() - t0) / 60, 2),
               "params": int(model.count_params()), "seed": seed}
        (out / name / "scores.json").write_text(json.dumps(run, indent=1, default=list))
        summary["runs"][name] = run
        print(f"{name}: val accuracy {scores['accuracy']:.4f}, macro-F1 {scores['macro_f1']:.4f}, "
              f"{len(history)}/{recipe.epochs} epochs in {run['minutes']} min", flush=True)
        (out / "summary.json").write_text(json.dumps(summary, indent=1, default=list))
    summary["minutes"] = round((time.time() - start) / 60, 2)
    (out / "summary.json").write_text(json.dumps(summary, indent=1, default=list))
    print(f"done in {summary['minutes']} min", flush=True)


if __name__ == "__main__":
    main()
