"""Export a course model to SavedModel, TFLite (float32, dynamic-range, float16) and ONNX, check every export
against Keras on real faces, time each runtime on the CPU, and write the table (chapter 10 shows the same table
for ``--model seed``).

    python tools/benchmark_deploy.py --model seed                # chapter 10's network: all validation faces
    python tools/benchmark_deploy.py --model best                # the bundled model strongest on validation
    python tools/benchmark_deploy.py --model best --quick        # a minute: 140 faces, 10 repeats
    python tools/benchmark_deploy.py --model runs/05_training/best.weights.h5 --out _build/benchmark

Writes ``OUT/deploy.csv`` and ``OUT/deploy.md`` (the table, with the hardware, thread settings and load it was
measured under) and the exported models in ``OUT/models/``. Faces come from the validation split of FER_DATA (or
``data/fer2013``, or the committed sample; ``--data`` overrides). Timings are medians, warm-up calls excluded.
Problems with the input are reported in one line (exit status 2), not a traceback.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import date
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fer_helpers.errors import FerError  # noqa: E402


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
    return parser.parse_args(argv)


def header(args, model_name: str, faces: str, details: dict, seconds: float) -> str:
    from fer_helpers import export
    settings, detector = details["settings"], details["end_to_end"][0]["detector"]
    lines = [f"# Deployment benchmark: model `{model_name}`", "",
             f"Made by `python tools/benchmark_deploy.py --model {args.model}"
             f"{' --quick' if args.quick else ''}` on {date.today().isoformat()} in {seconds:.0f} s.", "",
             f"- comparison faces: {faces}",
             f"- timings: medians, warm-up calls excluded; the runtimes are timed in turn, call by call "
             f"({args.repeats} calls each at batch 1, {export.batched_repeats(args.repeats)} at batch {args.batch}); "
             f"end to end: {export.end_to_end_repeats(args.repeats)} runs on `{Path(args.photo).name}`, "
             f"detector {detector}"]
    lines += [f"- {key}: {value}" for key, value in settings.items() if not key.startswith("load")]
    lines += [f"- load average (1, 5, 15 min) at the end of the run: {settings['load average (1, 5, 15 min)']} on "
              f"{settings['os.cpu_count()']} cores" + (" (the cores were shared with other work)" if float(
                  settings["load average (1, 5, 15 min)"].split(",")[0]) > 0.5 * settings["os.cpu_count()"] else "")
              ] if "load average (1, 5, 15 min)" in settings else []
    lines += ["- the last row: the `fer` package's figures as it states them, **not measured here**", ""]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    args = parse_args(argv)
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
        print(f"model {args.model}: {model.count_params():,} parameters; comparing on {faces_used}")
        table, details = export.run_benchmark(model, out, x, y, photo=photo, repeats=args.repeats,
                                              batch_sizes=(1, args.batch), threads=args.threads,
                                              detector=args.detector)
    except FerError as err:
        print(f"benchmark_deploy: {err}", file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "deploy.csv", float_format="%.6g")
    text = header(args, args.model, faces_used, details, time.perf_counter() - start)
    (out / "deploy.md").write_text(text + "\n" + export.table_markdown(table))
    print()
    print(export.table_markdown(table))
    print(f"wrote {export.shown(out / 'deploy.csv')} and {export.shown(out / 'deploy.md')} "
          f"in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
