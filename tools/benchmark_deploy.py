"""Export a course model to SavedModel, TFLite (float32, dynamic-range, float16) and ONNX, check every export
against Keras on real faces, time each runtime on the CPU, and write the table (chapter 10 shows the same table
for ``--model seed``).

    python tools/benchmark_deploy.py --model seed                # chapter 10's network: all validation faces
    python tools/benchmark_deploy.py --model best                # the bundled model strongest on validation
    python tools/benchmark_deploy.py --model best --quick        # a minute: 140 faces, 10 repeats
    python tools/benchmark_deploy.py --model runs/05_training/best.weights.h5 --out _build/benchmark
    python tools/benchmark_deploy.py --model seed --no-fer-package  # without the fer package's row
    python tools/benchmark_deploy.py --model best --data DIR --detect-max-side 320 --out benchmarks/deploy_best
                                                                 # chapter 10's committed table

Writes ``OUT/deploy.csv`` and ``OUT/deploy.md`` (the table, with the command, date, hardware, thread settings and
load it was measured under), ``OUT/deploy.json`` (the same provenance, the end-to-end steps and fer's full result,
for a notebook to read) and the exported models in ``OUT/models/`` (not meant to be committed). Faces come from
the validation split of FER_DATA (or ``data/fer2013``, or the committed sample; ``--data`` overrides). Timings are
medians, warm-up calls excluded. Problems with the input are reported in one line (exit status 2), not a traceback.

``--detect-max-side 320`` (chapter 10's choice, checked there on every bundled photo) makes the course's detector
search a copy of the photo at most 320 pixels on a side: faster than chapter 8's 640, still finding every face
of the bundled photos. fer's row always uses fer's own detector at fer's own settings.

The last row is the ``fer`` PyPI package, measured in the same run by ``tools/benchmark_fer_package.py`` in its
own virtualenv (``_build/fer-venv``, made on first use: about 2 minutes and 1.7 GB), on the same faces and photo:
faces/s, ms end to end, and accuracy and macro-F1 on the test split (PublicTest) beside the course model's on the
same test faces, in two columns of their own (fer trained on the validation faces; that tool's docstring says why
and what its test figure is worth). Where fer cannot be installed or run, the row says 'not measured: <why>'.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import date
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

import benchmark_fer_package as fer_package  # noqa: E402
import numpy as np  # noqa: E402

from fer_helpers import export, machine  # noqa: E402
from fer_helpers.errors import FerError  # noqa: E402

# ------------------------------------------------------------------ the measurement (fer_helpers.export's parts)

def end_to_end_repeats(repeats: int) -> int:
    """Runs of one photo end to end when ``repeats`` calls are timed at batch 1: a fifth, at least 3."""
    return max(3, repeats // 5)


def run_benchmark(model, out_dir, x, y=None, photo=None, repeats: int = 30, batch_sizes=(1, 64),
                  threads: int | None = None, detector="auto", verbose: bool = True):
    """Everything this tool measures, in one call: export the model into ``out_dir/models``, check every runtime
    against Keras on faces ``x`` (labels ``y``), time them side by side (``export.time_side_by_side``, ``repeats``
    calls at batch 1), time one ``photo`` end to end with each, and return ``(table, details)``: the
    ``export.deploy_table`` and a dict of the parts (paths, comparison, timings, settings). ``detector``: a name
    or a :class:`~fer_helpers.faces.Detector` (e.g. ``faces.make_detector("yunet", max_side=320)``)."""
    photo = Path(photo) if photo is not None else ROOT / "data" / "photos" / "astronaut.jpg"
    paths = export.export_all(model, Path(out_dir) / "models", verbose=verbose)
    predictors = export.make_predictors(model, paths, threads=threads, verbose=verbose)
    comparison = export.compare_predictions(predictors, x, y)
    throughput = export.time_side_by_side(predictors, x, batch_sizes, repeats)
    end_to_end = [export.time_end_to_end(p, photo, detector, repeats=end_to_end_repeats(repeats))
                  for p in predictors.values()]
    if verbose:
        for name in predictors:
            speeds = ", ".join(f"{t['faces/s']:.0f}" for t in throughput if t["runtime"] == name)
            total = next(e["total ms"] for e in end_to_end if e["runtime"] == name)
            print(f"{name}: faces/s at batch {', '.join(map(str, batch_sizes))}: {speeds}; {total:.0f} ms end to end")
    table = export.deploy_table(paths, comparison, throughput, end_to_end)
    details = {"paths": paths, "comparison": comparison, "throughput": throughput, "end_to_end": end_to_end,
               "settings": export.thread_settings(threads)}
    return table, details


def table_markdown(table) -> str:
    """The deploy table as a Markdown table: shares as percentages, differences in scientific notation, speeds and
    milliseconds rounded; empty cells as '-'."""
    def cell(column: str, value) -> str:
        if value is None or (isinstance(value, float) and np.isnan(value)):
            return "-"
        if not isinstance(value, (int, float, np.number)):
            return str(value)
        if column == "top-1 agreement" or column.startswith("accuracy"):  # 'accuracy, test (PublicTest)' too
            return f"{value:.2%}"
        if column.startswith("macro-F1"):
            return f"{value:.3f}"
        if column.startswith("max abs"):
            return f"{value:.1e}"
        if column == "MB":
            return f"{value:.1f}"
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.1f}"
    header = ["runtime", *table.columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, row in table.iterrows():
        lines.append("| " + " | ".join([str(name), *(cell(c, v) for c, v in row.items())]) + " |")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ the command line

def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="best",
                        help="a bundled model name ('best', 'seed'), a .keras or a .weights.h5 file (default: best)")
    parser.add_argument("--out", default=str(ROOT / "_build" / "benchmark"),
                        help="folder for deploy.csv, deploy.md and models/ (default: _build/benchmark)")
    parser.add_argument("--repeats", type=int, default=None,
                        help="timed calls at batch 1 (a tenth, at least 3, batched; default 100, quick 10)")
    parser.add_argument("--quick", action="store_true", help="few faces and few repeats: a smoke run")
    parser.add_argument("--data", default=None, help="FER2013 folder for the comparison faces (default: as the course)")
    parser.add_argument("--faces", type=int, default=None,
                        help="at most this many comparison faces (default: all validation faces, quick 140)")
    parser.add_argument("--photo", default=str(ROOT / "data" / "photos" / "astronaut.jpg"),
                        help="the photo timed end to end (default: data/photos/astronaut.jpg, 512 x 512)")
    parser.add_argument("--batch", type=int, default=64, help="the batched size timed beside batch 1 (default 64)")
    parser.add_argument("--threads", type=int, default=None,
                        help="TFLite and ONNX Runtime threads (default: all cores)")
    parser.add_argument("--detector", default="auto", help="face detector: auto, yunet or haar (default auto)")
    parser.add_argument("--detect-max-side", type=int, default=None, metavar="PIXELS",
                        help="the detector searches a copy of the photo shrunk to this longest side (default: "
                             "fer_helpers.faces.DETECT_MAX_SIDE, 640; 0: full size); the course's own pipeline only")
    parser.add_argument("--fer-package", action=argparse.BooleanOptionalAction, default=True,
                        help="measure the fer package in the same run, in its own virtualenv (default: on; "
                             "--no-fer-package leaves its row unmeasured)")
    parser.add_argument("--fer-venv", default=str(fer_package.DEFAULT_VENV),
                        help="the fer package's virtualenv (default: _build/fer-venv, made on first use)")
    parser.add_argument("--fer-no-install", action="store_true",
                        help="never create or install the fer virtualenv: use it as it is, or leave the row unmeasured")
    return parser.parse_args(argv)


def command_line(args) -> str:
    """The command that made this run, as a reader would type it: the options given, no machine paths (a data
    folder is ``DIR``; other paths relative to the repository where they are inside it)."""
    from fer_helpers import export
    defaults = parse_args([])
    model = export.shown(args.model) if Path(args.model).suffix else args.model  # a file: no machine path
    words = ["python tools/benchmark_deploy.py", f"--model {model}"]  # the model always, default or not
    for key, value in vars(args).items():
        if key in ("model", "repeats", "repeats_given", "fer_package") or value == getattr(defaults, key):
            continue
        flag = "--" + key.replace("_", "-")
        if value is True:
            words.append(flag)
        elif key == "data":
            words.append(f"{flag} DIR")
        elif value is not False and value is not None:
            words.append(f"{flag} {export.shown(value) if key in ('out', 'photo', 'fer_venv') else value}")
    if getattr(args, "repeats_given", False):
        words.append(f"--repeats {args.repeats}")
    if not args.fer_package:
        words.append("--no-fer-package")
    return " ".join(words)


def describe_model(model, name: str) -> str:
    """One line on the model: its card's summary for a bundled name, else its name; parameters and MFLOPs."""
    from fer_helpers import models
    try:
        card = models.model_card(name)
        what = f"`{name}` ({card.get('alias_of', name) + ': ' if card.get('alias_of') else ''}" \
               f"{card.get('summary', card.get('architecture'))})"
    except Exception:  # a file, not a bundled name
        what = f"`{model.name}`"
    return f"{what}, {model.count_params():,} parameters, {models.count_flops(model) / 1e6:.0f} MFLOPs a face"


def header(args, model_name: str, faces: str, details: dict, seconds: float, fer_result: dict,
           model_line: str = "") -> str:
    from fer_helpers import export
    settings, e2e = details["settings"], details["end_to_end"][0]
    shown_name = export.shown(model_name) if Path(model_name).suffix else model_name  # a file: no machine path
    lines = [f"# Deployment benchmark: model `{shown_name}`", "",
             f"Made by `{command_line(args)}` on {date.today().isoformat()} in {seconds:.0f} s.", ""]
    lines += [f"- model: {model_line}"] if model_line else []
    lines += [f"- comparison faces: {faces}",
              f"- timings: medians, warm-up calls excluded; the runtimes are timed in turn, call by call "
              f"({args.repeats} calls each at batch 1, {export.batched_repeats(args.repeats)} at batch {args.batch}); "
              f"end to end: {end_to_end_repeats(args.repeats)} runs on `{Path(args.photo).name}`, "
              f"detector {e2e['detector']} searching {details['detect_side']}"
              f" ({e2e['faces']} face(s) found; detection {_median_detect(details):.0f} ms, the median over the "
              f"course's rows)"]
    lines += [f"- {key}: {value}" for key, value in settings.items() if not key.startswith("load")]
    if "load average (1, 5, 15 min)" in settings:
        load, cores = settings["load average (1, 5, 15 min)"], settings["os.cpu_count()"]
        shared = machine.cores_shared(float(load.split(",")[0]), cores)
        lines += [f"- load average (1, 5, 15 min) at the end of the run: {load} on {cores} cores"
                  + (" (the cores were shared with other work)" if shared else "")]
    lines += fer_package.markdown_notes(fer_result) + [""]
    return "\n".join(lines) + "\n"


def _median_detect(details: dict) -> float:
    import numpy as np
    return float(np.median([e["detect ms"] for e in details["end_to_end"]]))


def fer_row(args, table, details: dict, model, root, x, photo, max_faces):
    """The table with the fer package's row, measured now on the same faces (and the course model scored on the
    same test faces as fer), or saying why not; and fer's result (``benchmark_fer_package.measure``)."""
    if not args.fer_package:
        result = {"row": fer_package.ROW, "skipped": "--no-fer-package given"}
        return fer_package.merge_into_table(table, result), result
    from fer_helpers.evaluate import predict_proba, summary
    x_test, y_test, _ = fer_package.test_faces(root, max_faces)
    print(f"the fer package, in its own virtualenv: timed on the same faces and photo, scored on {len(y_test)} "
          f"test (PublicTest) faces")
    tflite = {fmt: path for fmt, path in details["paths"].items() if str(path).endswith(".tflite")}
    result = fer_package.measure(x, x_test, y_test, photo, args.repeats, (1, args.batch), args.fer_venv,
                                 not args.fer_no_install, tflite, args.threads)
    ours = summary(y_test, predict_proba(model, x_test)) if result.get("test") else None
    return fer_package.merge_into_table(table, result, ours), result


def main(argv=None) -> int:
    args = parse_args(argv)
    args.repeats_given = args.repeats is not None
    args.repeats = args.repeats or (10 if args.quick else 100)
    max_faces = args.faces or (140 if args.quick else None)
    start = time.perf_counter()
    try:
        from fer_helpers import course, export, faces, models
        photo = Path(args.photo)
        faces.read_image(photo)                                   # a bad photo path fails now, in one line
        out = Path(args.out)
        if out.exists() and not out.is_dir():
            raise FerError(f"{args.out}: is a file, not a folder for the results")
        root = Path(args.data) if args.data else course.data_dir()[0]
        x, y, faces_used = export.comparison_faces(root, max_faces)
        model = models.load_model(args.model)
        model_line = describe_model(model, args.model)
        print(f"model {model_line}; comparing on {faces_used}")
        side = faces.DETECT_MAX_SIDE if args.detect_max_side is None else (args.detect_max_side or None)
        detector = faces.make_detector(args.detector, max_side=side)
        table, details = run_benchmark(model, out, x, y, photo=photo, repeats=args.repeats,
                                              batch_sizes=(1, args.batch), threads=args.threads, detector=detector)
        details["detect_side"] = f"the photo shrunk to {side} pixels at most" if side else "the photo at full size"
        table, fer_result = fer_row(args, table, details, model, root, x, photo, max_faces)
    except FerError as err:
        print(f"benchmark_deploy: {err}", file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "deploy.csv", float_format="%.6g")
    seconds = time.perf_counter() - start
    text = header(args, args.model, faces_used, details, seconds, fer_result, model_line)
    (out / "deploy.md").write_text(text + "\n" + table_markdown(table))
    (out / "deploy.json").write_text(json.dumps(
        {"command": command_line(args), "date": date.today().isoformat(), "seconds": round(seconds),
         "model": model_line, "faces": faces_used, "settings": details["settings"],
         "detector": {"kind": details["end_to_end"][0]["detector"], "searches": details["detect_side"]},
         "end_to_end": details["end_to_end"], "throughput": details["throughput"], "fer": fer_result},
        indent=1, default=str) + "\n")
    print()
    print(table_markdown(table))
    print(f"wrote {export.shown(out / 'deploy.csv')}, {export.shown(out / 'deploy.md')} and deploy.json "
          f"in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
