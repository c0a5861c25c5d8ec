"""`emolens predict`: expand sources, run the Recognizer in batches, print a table, write JSON/CSV and
annotated images/videos. Every output file is written atomically; bad files are skipped and reported."""
from __future__ import annotations

import csv
import glob
import io
import json
import os
import sys
from importlib import resources
from pathlib import Path

import numpy as np

from .errors import EmolensError
from .images import is_image_name
from .labels import CLASSES
from .train_helpers import atomic_write_bytes, writable_dir, writable_file

VIDEO_EXTENSIONS = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg"}
COLORS = {"angry": (220, 40, 40), "disgust": (120, 160, 30), "fear": (150, 60, 200), "happy": (250, 190, 20),
          "neutral": (150, 150, 150), "sad": (40, 110, 220), "surprise": (250, 120, 30)}


def sample_photo() -> Path:
    return Path(str(resources.files("emolens") / "assets" / "astronaut.jpg"))


CSV_FIELDS = ["source", "frame", "time_s", "face", "track", "x", "y", "w", "h", "emotion", *CLASSES,
              "smoothed_emotion", "smoothed_confidence"]


def csv_row(source, frame, time_s, index, face, tracked=None) -> dict:
    """One CSV row per face: where it came from, its box, its label and all seven probabilities; in videos also
    its track id and the track's smoothed emotion (the seven probabilities stay the frame's own)."""
    row = {"source": str(source), "frame": frame, "time_s": time_s, "face": index, "track": "", "x": face.box[0],
           "y": face.box[1], "w": face.box[2], "h": face.box[3], "emotion": face.emotion,
           **{c: face.scores[c] for c in CLASSES}, "smoothed_emotion": "", "smoothed_confidence": ""}
    if tracked is not None:
        row.update(track=tracked.track, smoothed_emotion=tracked.emotion,
                   smoothed_confidence=round(tracked.confidence, 6))
    return row


def expand_sources(sources: list[str]) -> tuple[list[Path], list[str]]:
    """Files, folders (recursive) and globs -> (paths, errors for sources that match nothing)."""
    paths, errors = [], []
    for s in sources:
        p = Path(s)
        if p.is_dir():
            found = sorted(q for q in p.rglob("*") if q.is_file() and (is_image_name(q.name) or q.suffix.lower() in VIDEO_EXTENSIONS))
            if not found:
                errors.append(f"{s}: folder has no images or videos")
            paths += found
        elif p.exists():
            paths.append(p)
        elif any(ch in s for ch in "*?["):
            found = sorted(Path(q) for q in glob.glob(s, recursive=True) if Path(q).is_file())
            if not found:
                errors.append(f"{s}: pattern matches no file")
            paths += found
        elif s.lower().startswith(("http://", "https://", "ftp://")):
            errors.append(f"{s}: URLs are not fetched (emolens never goes online); download the file and pass its path")
        else:
            errors.append(f"{s}: no such file or folder")
    return paths, errors


def annotate(rgb: np.ndarray, faces, names: list[str] | None = None) -> np.ndarray:
    """Boxes, labels and a seven-bar probability chart per face, drawn with OpenCV (returns RGB).
    `names` label the faces (default 1, 2, ...; videos pass track ids)."""
    import cv2
    img = rgb.copy()
    h, w = img.shape[:2]
    s = max(0.4, min(w, h) / 900)
    th = max(1, round(2 * s))
    for i, f in enumerate(faces):
        x, y, bw, bh = f.box
        col = COLORS.get(f.emotion, (0, 255, 0))
        cv2.rectangle(img, (x, y), (x + bw, y + bh), col, th, cv2.LINE_AA)
        label = f"{names[i] if names else i + 1}: {f.emotion} {f.confidence:.0%}"
        (tw, tht), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, 0.6 * s, th)
        ty = y - 4 if y - tht - 8 > 0 else y + bh + tht + 4
        cv2.rectangle(img, (x, ty - tht - 4), (x + tw + 4, ty + base - 2), col, -1)
        cv2.putText(img, label, (x + 2, ty - 2), cv2.FONT_HERSHEY_SIMPLEX, 0.6 * s, (0, 0, 0), th, cv2.LINE_AA)
        # probability bars beside the box (right if room, else left)
        bar_w, row = int(110 * s), int(14 * s) + 2
        bx = x + bw + 6 if x + bw + 6 + bar_w + int(60 * s) < w else max(0, x - bar_w - int(66 * s))
        by = max(0, min(y, h - row * len(CLASSES)))
        for k, c in enumerate(CLASSES):
            p = f.scores[c]
            yy = by + k * row
            cv2.rectangle(img, (bx, yy), (bx + int(60 * s) + bar_w, yy + row - 2), (255, 255, 255), -1)
            cv2.rectangle(img, (bx + int(60 * s), yy + 1), (bx + int(60 * s) + int(bar_w * p), yy + row - 3), COLORS[c], -1)
            cv2.putText(img, c[:8], (bx + 2, yy + row - 4), cv2.FONT_HERSHEY_SIMPLEX, 0.35 * s, (0, 0, 0), 1, cv2.LINE_AA)
    return img


def save_image(path: Path, rgb: np.ndarray):
    import cv2
    ok, buf = cv2.imencode(path.suffix if path.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp") else ".jpg",
                           np.ascontiguousarray(rgb[..., ::-1]))
    if not ok:
        raise EmolensError(f"{path}: could not encode the annotated image")
    atomic_write_bytes(path, buf.tobytes())


def _out_dir(arg) -> Path:
    if arg:
        return writable_dir(arg)
    from .train_helpers import new_run_dir
    return new_run_dir("runs/predict", "exp")


def track_summary(rows: list[dict]) -> list[dict]:
    """Per face track of a video: when it was seen, how often each (smoothed) emotion was shown, and the mean of
    the frames' own probabilities - what a person analysing a clip (an interview, a reaction) wants first."""
    out = []
    for tid in sorted({r["track"] for r in rows}):
        rs = [r for r in rows if r["track"] == tid]
        share = {c: sum(r["smoothed_emotion"] == c for r in rs) / len(rs) for c in CLASSES}
        out.append({"track": tid, "first_s": rs[0]["time_s"], "last_s": rs[-1]["time_s"], "predictions": len(rs),
                    "emotion": max(share, key=share.get), "emotion_share": {c: round(v, 4) for c, v in share.items()},
                    "mean_scores": {c: round(float(np.mean([r[c] for r in rs])), 6) for c in CLASSES}})
    return out


def predict_video(rec, path: Path, every: int, save: bool, out_dir: Path | None, smooth: float = 0.5):
    """Per-frame rows (time, face, track, box, seven probabilities, smoothed emotion); annotated video when
    asked, labelled with track ids and smoothed emotions (`smooth`: half-life in seconds, 0 = per frame)."""
    import cv2
    from tqdm import tqdm
    video = rec.video(path, every, smooth)
    writer, tmp, rows = None, None, []
    dest = out_dir / (path.stem + "_emolens.mp4") if save else None
    bar = tqdm(total=video.frame_count or None, desc=path.name, unit="frame", file=sys.stderr,
               disable=not sys.stderr.isatty())
    try:
        for fr in video:
            if fr.classified:
                rows += [csv_row(path, fr.index, round(fr.time_s, 3), j + 1, tf.raw, tf) for j, tf in enumerate(fr.faces)]
            if save:
                if writer is None:
                    tmp = dest.with_name(f".{dest.name}.tmp{os.getpid()}.mp4")
                    writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), video.fps,
                                             (fr.rgb.shape[1], fr.rgb.shape[0]))
                labelled = annotate(fr.rgb, fr.faces, [f"#{tf.track}" for tf in fr.faces])
                writer.write(np.ascontiguousarray(labelled[..., ::-1]))
            bar.update(1)
        if writer is not None:
            writer.release()
            os.replace(tmp, dest)
    finally:
        bar.close()
        if tmp is not None and tmp.exists():
            tmp.unlink()
    if video.truncated:
        print(f"warning: {path}: decoding stopped after {video.decoded} of {video.frame_count} frames (truncated or "
              f"damaged file?); results cover those {video.decoded}", file=sys.stderr)
    return rows, video.decoded


def run_predict(a) -> int:
    from tqdm import tqdm

    from .predict import Recognizer
    for f in (a.json, a.csv):  # checked before the work, not after it
        if f:
            writable_file(f)
    sources = a.sources or [str(sample_photo())]
    paths, errors = expand_sources(sources)
    detector = "none" if a.crop == "none" else a.detector
    rec = Recognizer(a.model, detector=detector, tta=a.tta, max_pixels=a.max_pixels, detect_size=a.detect_size,
                     min_face=a.min_face)
    out_dir = _out_dir(a.out) if (a.save or a.out) else None
    results, csv_rows, done = [], [], 0
    images = [p for p in paths if p.suffix.lower() not in VIDEO_EXTENSIONS]
    videos = [p for p in paths if p.suffix.lower() in VIDEO_EXTENSIONS]
    show_table = not a.quiet and len(images) <= 50
    bar = tqdm(total=len(images), desc="photos", unit="img", file=sys.stderr, disable=len(images) < 20)
    from concurrent.futures import ThreadPoolExecutor
    from .images import load_rgb

    def load(p):
        try:
            return p, load_rgb(p, a.max_pixels), None
        except EmolensError as e:
            return p, None, str(e)

    with ThreadPoolExecutor(max_workers=2) as pool:  # decode the next photos while this batch is classified
        for i in range(0, len(images), a.batch):
            chunk = list(pool.map(load, images[i:i + a.batch]))
            ok = [(p, rgb) for p, rgb, err in chunk if err is None]
            errors += [err for _, _, err in chunk if err is not None]
            res = rec.predict_many([rgb for _, rgb in ok]) if ok else []
            for (p, rgb), r in zip(ok, res):
                r.source = str(p)
                results.append(r)
                done += 1
                for j, f in enumerate(r.faces):
                    csv_rows.append(csv_row(p, "", "", j + 1, f))
                if show_table:
                    print_result(r)
                if a.save:
                    save_image(out_dir / f"{p.stem}_emolens{p.suffix if p.suffix.lower() in ('.jpg', '.jpeg', '.png', '.webp') else '.jpg'}",
                               annotate(rgb, r.faces))
            bar.update(len(chunk))
    bar.close()
    video_summaries = []
    for v in videos:
        try:
            rows, n = predict_video(rec, v, a.every, a.save, out_dir, a.smooth)
            csv_rows += rows
            done += 1
            tracks = track_summary(rows)
            video_summaries.append({"source": str(v), "frames": n, "tracks": tracks, "rows": rows})
            if not a.quiet:
                print(f"{v}: {n} frames, {len(rows)} face predictions (every {a.every} frame(s)), "
                      f"{len(tracks)} face track(s)")
                for t in tracks:
                    top = sorted(t["emotion_share"].items(), key=lambda kv: -kv[1])[:3]
                    print(f"  track {t['track']}: {t['first_s']:.2f}-{t['last_s']:.2f} s, {t['predictions']} "
                          f"prediction(s): " + ", ".join(f"{k} {v:.0%}" for k, v in top if v > 0))
        except EmolensError as e:
            errors.append(str(e))
    if a.json:
        payload = {"model": rec.classifier.name, "images": [r.to_dict() for r in results], "videos": video_summaries,
                   "errors": errors}
        atomic_write_bytes(Path(a.json), json.dumps(payload, indent=2).encode())
    if a.csv or (videos and out_dir is not None):
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=CSV_FIELDS)
        w.writeheader()
        w.writerows(csv_rows)
        atomic_write_bytes(Path(a.csv) if a.csv else out_dir / "predictions.csv", buf.getvalue().encode())
    if not show_table and not a.quiet:
        nf = sum(len(r.faces) for r in results)
        print(f"{len(results)} photo(s), {nf} face(s); {sum(1 for r in results if not r.faces)} without a face")
    for e in errors:
        print(f"emolens: skipped {e}", file=sys.stderr)
    if out_dir is not None:
        print(f"results saved to {out_dir}")
    if done == 0:
        print(f"emolens: error: nothing could be processed ({len(errors)} problem(s) above)", file=sys.stderr)
        return 2
    return 0


def print_result(r) -> None:
    if not r.faces:
        print(f"{r.source}: no face found")
        return
    print(f"{r.source} ({r.width}x{r.height}): {len(r.faces)} face(s)")
    print(f"  {'face':>4}  {'box (x,y,w,h)':<22} {'emotion':<9} {'conf':>6}  {'det':>5}  top-3")
    for i, f in enumerate(r.faces):
        top = sorted(f.scores.items(), key=lambda kv: -kv[1])[:3]
        print(f"  {i + 1:>4}  {str(tuple(f.box)):<22} {f.emotion:<9} {f.confidence:>6.1%}  {f.detector_score:>5.2f}  "
              + ", ".join(f"{k} {v:.0%}" for k, v in top))
