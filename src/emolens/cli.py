"""`emolens <verb>`: train, evaluate (alias val), predict, export, serve, models.

Bad input ends with one line `emolens: error: <thing>: <reason>` and exit code 2, never a traceback.
Heavy modules are imported inside each verb so `emolens predict` starts fast and needs no torch.
"""
from __future__ import annotations

import argparse
import json
import sys
import warnings
from dataclasses import fields
from pathlib import Path


def _add_train(sub):
    p = sub.add_parser("train", help="train an architecture on a FER-style dataset",
                       description="Train; writes config, history.csv, curves.png, last/best.safetensors "
                                   "(and best.onnx) into a new run directory, printed at the end.")
    p.add_argument("--data", required=False, default=None, help="dataset folder or fer2013.csv")
    p.add_argument("--resume", default=None, metavar="RUN", help="continue an interrupted run (its directory or last.safetensors)")
    p.add_argument("--config", default=None, metavar="JSON",
                   help="a recipe: JSON of the flags below (e.g. recipes/emonet-t-stage1.json); flags given override it")
    p.add_argument("--no-onnx", action="store_true", help="do not export best.onnx at the end")
    p.add_argument("--nproc", type=int, default=0,
                   help="launch N local processes with torchrun (DistributedDataParallel; gloo on CPU, NCCL on GPU)")
    from .train_config import TrainConfig  # light module: plain dataclass, no torch
    for f in fields(TrainConfig):
        if f.name == "data":
            continue
        flag = "--" + f.name.replace("_", "-")
        p.add_argument(flag, type=type(f.default), default=None, help=f"{f.metadata['help']} (default: {f.default!r})")
    return p


def _cmd_train(a):
    from .train_config import TrainConfig
    cfg = TrainConfig()
    if a.config:
        cfg = _load_recipe(a.config)
    for f in fields(TrainConfig):
        v = getattr(a, f.name, None)
        if v is not None:
            setattr(cfg, f.name, v)
    if a.data is None and not a.resume and not a.config:
        raise _Usage("train needs --data (or --resume RUN)")
    import os
    if a.nproc and a.nproc > 1 and "WORLD_SIZE" not in os.environ:
        return _launch_torchrun(a.nproc)
    from .train import train
    run = train(cfg, resume=a.resume)
    import os
    if int(os.environ.get("RANK", "0")) != 0:
        return 0
    if not a.no_onnx and (run / "best.safetensors").exists():
        from .export import export_onnx
        export_onnx(run / "best.safetensors", run / "best.onnx")
    print(run)


def _load_recipe(path):
    """TrainConfig from a JSON recipe; unknown keys are an error (a typo must not silently train something else)."""
    from .errors import EmolensError
    from .train_config import TrainConfig
    p = Path(path)
    try:
        raw = json.loads(p.read_text())
    except OSError as e:
        raise EmolensError(f"{p}: cannot read recipe ({e.strerror or e})") from None
    except json.JSONDecodeError as e:
        raise EmolensError(f"{p}: not valid JSON ({e.msg}, line {e.lineno})") from None
    if not isinstance(raw, dict):
        raise EmolensError(f"{p}: a recipe is a JSON object of training flags")
    known = {f.name: f for f in fields(TrainConfig)}
    unknown = sorted(set(raw) - set(known) - {"_comment"})
    if unknown:
        raise EmolensError(f"{p}: unknown recipe key(s) {', '.join(unknown)}")
    cfg = TrainConfig()
    for k, v in raw.items():
        if k in known:
            want = type(known[k].default)
            if want is float and isinstance(v, int):
                v = float(v)
            if not isinstance(v, want) or (want is int and isinstance(v, bool)):
                raise EmolensError(f"{p}: '{k}' must be {want.__name__}, got {v!r}")
            setattr(cfg, k, v)
    return cfg


def _launch_torchrun(nproc: int) -> int:
    """Re-run this same command under torchrun with N local processes; one failing rank ends the job."""
    import subprocess
    argv = sys.argv[1:]
    clean, skip = [], False
    for x in argv:  # drop --nproc N / --nproc=N
        if skip:
            skip = False
            continue
        if x == "--nproc":
            skip = True
            continue
        if x.startswith("--nproc="):
            continue
        clean.append(x)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
           "--max-restarts=0", "-m", "emolens.cli", *clean]
    rc = subprocess.call(cmd)
    if rc != 0:
        print(f"emolens: error: distributed training failed (a rank exited with an error; torchrun stopped the "
              f"others; exit code {rc})", file=sys.stderr)
        return 2
    return 0


def _cmd_evaluate(a):
    from .evaluate import evaluate
    from .predict import resolve_model
    model = resolve_model(a.model)
    if a.data is None:
        raise _Usage("evaluate needs --data")
    report, out = evaluate(model, a.data, a.split, a.tta, a.allow_train, a.detect, a.detector, a.calibrate,
                           a.project, a.name, min_face=a.min_face)
    from .evaluate import render_text
    print(render_text(report))
    print(f"results saved to {out}")


def _cmd_export(a):
    from .export import export_onnx, parity, quantize_dynamic_onnx
    if a.format != "onnx":
        raise _Usage("only --format onnx is supported")
    from .errors import EmolensError
    for w in a.weights:
        if not w.endswith(".safetensors"):
            raise EmolensError(f"{w}: export reads training checkpoints (.safetensors), not {Path(w).suffix or 'this'}")
    t, extra = a.temperature, {}
    if a.calibrate_on:
        import os

        import numpy as np
        import torch

        from .data import eval_split, load_dataset
        from .evaluate import fit_temperature, metrics
        from .models import load_models
        from .train import predict_logits
        ds = load_dataset(a.calibrate_on)
        x, y, split_name = eval_split(ds, "val")
        torch.set_num_threads(os.cpu_count() or 1)
        model, _ = load_models(a.weights)
        with torch.no_grad():
            logits = predict_logits(model, torch.from_numpy(np.ascontiguousarray(x))).numpy()
        t = fit_temperature(logits, y)
        m = metrics(y, logits.argmax(1))
        extra["validation_metrics"] = {"acc": m["accuracy"], "macro_f1": m["macro_f1"], "split": split_name}
        print(f"temperature {t:.4f} fitted on {split_name}; accuracy {m['accuracy']:.4f}, macro-F1 {m['macro_f1']:.4f}")
    out = export_onnx(a.weights, a.out, temperature=t, name=a.name, half=a.half, extra=extra)
    par = parity(a.weights, out)
    kind = f"ensemble of {len(a.weights)}" if len(a.weights) > 1 else "model"
    print(f"exported {kind} to {out} ({out.stat().st_size / 1e6:.1f} MB); parity vs PyTorch: "
          f"max |dp| = {par['max_abs_diff']:.2e}, top-1 agreement {par['top1_agree']:.0%}")
    if a.int8:
        q = quantize_dynamic_onnx(out)
        print(f"int8 variant: {q} (measure its accuracy with `emolens evaluate --model {q}` before using it)")


def _cmd_models(a):
    from .models import describe
    rows = describe()
    from .predict import DEFAULT_MODEL, Classifier, bundled_models
    bundled = []
    for name in bundled_models():
        info = Classifier(name, threads=1).info
        m = info.get("validation_metrics", {})
        bundled.append({"name": name, "arch": info.get("arch"), "default": name == DEFAULT_MODEL,
                        "acc": m.get("acc"), "macro_f1": m.get("macro_f1"), "split": m.get("split")})
    if a.json:
        print(json.dumps({"architectures": rows, "bundled": bundled}, indent=2))
        return
    print(f"{'arch':<14} {'params':>10} {'MFLOPs/img':>11}  description")
    for r in rows:
        print(f"{r['arch']:<14} {r['params']:>10,} {r['mflops']:>11.1f}  {r['description']}")
    print("\nbundled models (pass the name as --model):")
    for b in bundled:
        acc = f"acc {b['acc']:.4f}, macro-F1 {b['macro_f1']:.4f} on {b['split']}" if b["acc"] is not None else ""
        print(f"  {b['name']:<14} {b['arch']:<14} {acc}{'  (default)' if b['default'] else ''}")


def _cmd_predict(a):
    from .predict_cli import run_predict
    return run_predict(a)


def _cmd_serve(a):
    from .serve import run_server
    run_server(a.host, a.port, a.model, a.detector, a.workers, a.min_face)


def _positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: '{text}'") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got '{text}'")
    return v


def _port(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise argparse.ArgumentTypeError(f"must be a TCP port number 1-65535, got '{text}'")
    return int(text)


def _seconds(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: '{text}'") from None
    if not (v >= 0 and v < float("inf")):
        raise argparse.ArgumentTypeError(f"must be a finite number of seconds >= 0, got '{text}'")
    return v


class _Usage(Exception):
    pass


def build_parser() -> argparse.ArgumentParser:
    from . import __version__
    ap = argparse.ArgumentParser(prog="emolens", description="Facial emotion recognition (7 FER2013 classes).")
    ap.add_argument("--version", action="version", version=f"emolens {__version__}")
    sub = ap.add_subparsers(dest="verb", required=True)
    _add_train(sub).set_defaults(fn=_cmd_train)

    for verb in ("evaluate", "val"):
        p = sub.add_parser(verb, help="metrics, confusion matrix and report on a named split")
        p.add_argument("--model", default=None, help=".safetensors checkpoint, .onnx, or the name of a bundled model "
                       "(`emolens models` lists them; default: the default bundled model)")
        p.add_argument("--data", default=None, help="dataset folder or fer2013.csv (or a <class>/<photo> folder with --detect)")
        p.add_argument("--split", default="auto", choices=["auto", "train", "val", "test", "unsplit"],
                       help="auto = test (PrivateTest) if present, else val (PublicTest), else the split-less folder")
        p.add_argument("--tta", default="none", choices=["none", "flip", "ten"], help="test-time augmentation, reported apart")
        p.add_argument("--allow-train", action="store_true", help="permit --split train (labelled as training data)")
        p.add_argument("--detect", action="store_true", help="data are full photos: detect faces first")
        p.add_argument("--detector", default="auto", help="with --detect: auto | yunet | haar | none")
        p.add_argument("--min-face", type=int, default=48, help="with --detect: smallest face width (px) looked for")
        p.add_argument("--calibrate", action="store_true", help="also report ECE before/after temperature scaling")
        p.add_argument("--project", default="runs/evaluate")
        p.add_argument("--name", default="")
        p.set_defaults(fn=_cmd_evaluate)

    p = sub.add_parser("predict", help="faces and emotions in photos, folders, globs or videos")
    p.add_argument("sources", nargs="*", help="image/video files, folders (recursive) or globs; default: the bundled sample photo")
    p.add_argument("--model", default=None, help=".onnx file or the name of a bundled model (`emolens models`; "
                                                 "default: the default bundled model)")
    p.add_argument("--detector", default="auto", help="auto | yunet | haar")
    p.add_argument("--crop", default="face", choices=["face", "none"], help="none = each image is one pre-cropped face")
    p.add_argument("--tta", default="none", choices=["none", "flip", "ten"])
    p.add_argument("--json", default=None, metavar="FILE", help="write all results as JSON")
    p.add_argument("--csv", default=None, metavar="FILE", help="write one row per face as CSV")
    p.add_argument("--save", action="store_true", help="save annotated copies (images) / video")
    p.add_argument("--out", default=None, help="folder for annotated output (default: a new runs/predict/<n>)")
    p.add_argument("--every", type=_positive_int, default=1, help="video: classify every N-th frame")
    p.add_argument("--smooth", type=_seconds, default=0.5, metavar="SECONDS",
                   help="video: faces are tracked across frames (ids in the CSV and on the video) and each track's "
                        "emotion is a moving average of its probabilities with this half-life; 0 = per frame. "
                        "The CSV keeps each frame's own probabilities beside the smoothed label")
    p.add_argument("--max-pixels", type=int, default=50_000_000, help="refuse images larger than this (bomb guard)")
    p.add_argument("--detect-size", type=int, default=640, help="detect on a copy whose long side is at most this")
    p.add_argument("--min-face", type=int, default=48,
                   help="smallest face width (px) looked for; sets the detection scale: 24 finds smaller faces, slower; "
                        "64 is faster; 0 = detect at full resolution (up to --detect-size)")
    p.add_argument("--batch", type=int, default=32, help="photos decoded+detected before one classifier call")
    p.add_argument("--quiet", action="store_true", help="no table on stdout")
    p.set_defaults(fn=_cmd_predict)

    p = sub.add_parser("export", help="export a checkpoint to ONNX (with parity check)")
    p.add_argument("weights", nargs="+", help="a .safetensors checkpoint; several make one ensemble model "
                                               "(probabilities averaged)")
    p.add_argument("--format", default="onnx")
    p.add_argument("--out", default=None)
    p.add_argument("--name", default=None, help="model name recorded in the metadata")
    p.add_argument("--temperature", type=float, default=None, help="calibration temperature to embed")
    p.add_argument("--calibrate-on", default=None, metavar="DATA", help="fit the temperature on DATA's validation split")
    p.add_argument("--half", action="store_true", help="store weights as float16 (half the file; arithmetic "
                        "stays float32)")
    p.add_argument("--int8", action="store_true", help="also write a dynamically quantised int8 model (measured on this 2-core AVX2 CPU: "
                        "about the same accuracy, ~4x slower than fp32; benchmarks/int8.py)")
    p.set_defaults(fn=_cmd_export)

    p = sub.add_parser("serve", help="HTTP API and web page")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=_port, default=8000)
    p.add_argument("--model", default=None, help=".onnx file or the name of a bundled model (default: the default one)")
    p.add_argument("--detector", default="auto")
    p.add_argument("--workers", type=int, default=0, help="inference threads (0 = number of cores)")
    p.add_argument("--min-face", type=int, default=48, help="smallest face width (px) looked for")
    p.set_defaults(fn=_cmd_serve)

    p = sub.add_parser("models", help="list architectures (parameters, MFLOPs) and the bundled models")
    p.add_argument("--json", action="store_true")
    p.set_defaults(fn=_cmd_models)
    return ap


def main(argv=None) -> int:
    from .errors import EmolensError
    ap = build_parser()
    a = ap.parse_args(argv)
    warnings.simplefilter("default")
    warnings.formatwarning = lambda msg, cat, *_: f"warning: {msg}\n"
    try:
        rc = a.fn(a)
        return int(rc or 0)
    except EmolensError as e:
        print(f"emolens: error: {e}", file=sys.stderr)
        return 2
    except _Usage as e:
        ap.error(str(e))
    except ModuleNotFoundError as e:
        print(f"emolens: error: '{e.name}' is not installed; this command needs `pip install emolens[train]`"
              if e.name in ("torch", "matplotlib", "sklearn", "safetensors", "onnx") else
              f"emolens: error: missing module {e.name}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("emolens: interrupted", file=sys.stderr)
        return 130
    except OSError as e:  # a disk filling up, a folder made read-only mid-run: one line, not a trace
        where = f"{e.filename}: " if e.filename else ""
        print(f"emolens: error: {where}{e.strerror or e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
