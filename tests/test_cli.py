"""The command line as a user meets it: real subprocesses, one-line errors, exit codes, output files."""
import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from conftest import write_video
from emolens.labels import CLASSES

ENV = dict(os.environ, PYTHONWARNINGS="ignore")


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "emolens.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=ENV, timeout=600)


def one_line_error(r, *needles):
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr
    line = [l for l in r.stderr.splitlines() if l.startswith("emolens: error:")]
    assert len(line) == 1, r.stderr
    for n in needles:
        assert n in line[0], line[0]


def test_models_lists_params_and_flops():
    r = run("models", "--json")
    out = json.loads(r.stdout)
    rows = {x["arch"]: x for x in out["architectures"]}
    assert rows["seed"]["params"] == 4_232_199 and rows["emonet-t"]["mflops"] < rows["seed"]["mflops"]
    bundled = {b["name"]: b for b in out["bundled"]}
    assert sum(b["default"] for b in bundled.values()) == 1 and all(0 < b["acc"] < 1 for b in bundled.values())
    text = run("models").stdout
    assert "bundled models" in text and "(default)" in text


def test_train_evaluate_export_predict_end_to_end(easy_data, tmp_path):
    recipe = tmp_path / "recipe.json"
    recipe.write_text(json.dumps({"_comment": "smoke", "epochs": 1, "batch": 32, "lr": 0.02, "name": "smoke"}))
    r = run("train", "--config", recipe, "--data", easy_data, "--max-batches", 2, "--project", tmp_path / "runs")
    assert r.returncode == 0, r.stderr
    run_dir = tmp_path / "runs" / "smoke"
    assert r.stdout.strip().endswith(str(run_dir)) and (run_dir / "best.onnx").exists()
    used = json.loads((run_dir / "config.json").read_text())
    assert (used["lr"], used["batch"], used["max_batches"], used["data"]) == (0.02, 32, 2, str(easy_data))
    r = run("evaluate", "--model", run_dir / "best.onnx", "--data", easy_data, "--split", "val", "--project", tmp_path / "ev")
    assert r.returncode == 0, r.stderr
    assert "val (PublicTest)" in r.stdout and "macro-F1" in r.stdout and "results saved to" in r.stdout
    r = run("export", run_dir / "best.safetensors", "--out", tmp_path / "m.onnx", "--temperature", 1.5)
    assert r.returncode == 0 and "top-1 agreement 100%" in r.stdout, r.stderr
    face = np.asarray(Image.open(next((easy_data / "test" / "happy").iterdir())))
    Image.fromarray(face).save(tmp_path / "face.png")
    r = run("predict", tmp_path / "face.png", "--crop", "none", "--model", tmp_path / "m.onnx", "--json", tmp_path / "o.json")
    assert r.returncode == 0, r.stderr
    assert len(json.loads((tmp_path / "o.json").read_text())["images"][0]["faces"]) == 1


@pytest.mark.parametrize("args, needles", [
    (["train", "--data", "/no/such/dir"], ["/no/such/dir", "no such file"]),
    (["train", "--data", "{easy}", "--arch", "resnet9000"], ["unknown architecture 'resnet9000'"]),
    (["evaluate", "--model", "/no/model.onnx", "--data", "{easy}"], ["/no/model.onnx", "no such model file"]),
    (["evaluate", "--data", "{easy}", "--split", "test"], ["no 'test' split"]),
    (["evaluate", "--data", "{easy}", "--split", "train"], ["--allow-train"]),
    (["train", "--resume", "/no/run"], ["nothing to resume"]),
    (["train", "--config", "/no/recipe.json"], ["/no/recipe.json", "cannot read recipe"]),
    (["train", "--config", "{recipe:{\"epoch\": 3}}"], ["unknown recipe key(s) epoch"]),
    (["train", "--config", "{recipe:{\"lr\": \"fast\"}}"], ["'lr' must be float"]),
    (["train", "--config", "{recipe:[1, 2}"], ["not valid JSON"]),
    (["train", "--data", "{easy}", "--init", "/no/w.safetensors"], ["/no/w.safetensors", "no such model file"]),
])
def test_bad_input_gives_one_line(args, needles, easy_data, tmp_path):
    def fill(a):
        if a.startswith("{recipe:"):  # a recipe file with this text
            p = tmp_path / "recipe.json"
            p.write_text(a[len("{recipe:"):-1])
            return str(p)
        return a.replace("{easy}", str(easy_data))
    one_line_error(run(*[fill(a) for a in args]), *needles)


def test_checkpoint_of_another_architecture(easy_data, tmp_path):
    from emolens.models import atomic_save_safetensors, create_model
    m = create_model("emonet-t")
    p = tmp_path / "w.safetensors"
    atomic_save_safetensors({f"model.{k}": v for k, v in m.state_dict().items()}, p, {"emolens": {"arch": "seed"}})
    one_line_error(run("evaluate", "--model", p, "--data", easy_data), "do not fit architecture 'seed'")


def test_predict_sample_folder_glob_and_bad_files(tmp_path, astronaut):
    r = run("predict", cwd=tmp_path)  # the bundled sample photo
    assert r.returncode == 0 and "1 face(s)" in r.stdout and "happy" in r.stdout, r.stderr
    d = tmp_path / "photos" / "sub"
    d.mkdir(parents=True)
    Image.fromarray(astronaut).save(d / "a.jpg")
    Image.fromarray(np.full((64, 64, 3), 90, np.uint8)).save(tmp_path / "photos" / "blank.png")
    (tmp_path / "photos" / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    r = run("predict", tmp_path / "photos", "--json", tmp_path / "o.json", "--csv", tmp_path / "o.csv", "--save",
            "--out", tmp_path / "ann")
    assert r.returncode == 0, r.stderr
    assert "no face found" in r.stdout and "broken.jpg" in r.stderr and "Traceback" not in r.stderr
    data = json.loads((tmp_path / "o.json").read_text())
    faces = {os.path.basename(i["source"]): i["faces"] for i in data["images"]}
    assert faces["blank.png"] == [] and len(faces["a.jpg"]) == 1 and len(data["errors"]) == 1
    f = faces["a.jpg"][0]
    assert set(f) == {"box", "emotion", "confidence", "scores", "detector_score"} and len(f["box"]) == 4
    rows = list(csv.DictReader(open(tmp_path / "o.csv")))
    assert len(rows) == 1 and rows[0]["emotion"] == f["emotion"] and float(rows[0]["happy"]) >= 0
    assert (tmp_path / "ann" / "a_emolens.jpg").exists()
    assert not [p for p in (tmp_path / "ann").iterdir() if ".tmp" in p.name]
    r = run("predict", str(tmp_path / "photos" / "**" / "*.jpg"), "--quiet")  # glob
    assert r.returncode == 0


def test_predict_nothing_processable(tmp_path):
    (tmp_path / "x.jpg").write_text("no")
    r = run("predict", tmp_path / "x.jpg", tmp_path / "missing.png")
    assert r.returncode == 2 and "x.jpg: not an image" in r.stderr and "missing.png: no such file" in r.stderr
    r = run("predict", "https://example.com/face.jpg")
    assert r.returncode == 2 and "URLs are not fetched" in r.stderr


def test_video_per_frame_csv_and_annotated_output(tmp_path, astronaut):
    import cv2
    path = write_video(tmp_path / "clip.mp4", astronaut, 12, "mp4v")
    r = run("predict", path, "--every", 3, "--save", "--out", tmp_path / "out", "--csv", tmp_path / "v.csv",
            "--json", tmp_path / "v.json")
    assert r.returncode == 0, r.stderr
    (summary,) = json.loads((tmp_path / "v.json").read_text())["videos"][0]["tracks"]
    assert summary["predictions"] == 4 and summary["last_s"] == pytest.approx(0.9) and "track 1: 0.00-0.90 s" in r.stdout
    rows = list(csv.DictReader(open(tmp_path / "v.csv")))
    assert [int(x["frame"]) for x in rows] == [0, 3, 6, 9]
    assert float(rows[1]["time_s"]) == pytest.approx(0.3)
    assert {x["track"] for x in rows} == {"1"}                     # one person, followed across frames
    assert all(x["smoothed_emotion"] in CLASSES and 0 < float(x["smoothed_confidence"]) <= 1 for x in rows)
    assert "1 face track(s)" in r.stdout
    cap = cv2.VideoCapture(str(tmp_path / "out" / "clip_emolens.mp4"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 12
    avi = write_video(tmp_path / "cut.avi", astronaut, 20)  # damaged: what decodes is used, the shortfall said
    avi.write_bytes(avi.read_bytes()[:avi.stat().st_size // 2])
    r = run("predict", avi, "--every", 4)
    assert r.returncode == 0 and "decoding stopped after" in r.stderr and "of 20 frames" in r.stderr
    assert "overread" not in r.stderr and "face track(s)" in r.stdout
    (tmp_path / "bad.mp4").write_bytes(b"\x00" * 100)
    r = run("predict", tmp_path / "bad.mp4")
    assert r.returncode == 2 and "bad.mp4: unreadable video" in r.stderr


def test_evaluate_photos_with_detection(tmp_path, astronaut):
    for cls, img in (("happy", astronaut), ("sad", np.full((200, 200, 3), 120, np.uint8))):
        (tmp_path / "photos" / cls).mkdir(parents=True)
        Image.fromarray(img).save(tmp_path / "photos" / cls / "p.jpg")
    r = run("evaluate", "--data", tmp_path / "photos", "--detect", "--project", tmp_path / "ev", "--name", "x")
    assert r.returncode == 0, r.stderr
    rep = json.loads((tmp_path / "ev" / "x" / "report.json").read_text())
    assert rep["no_face_rate"] == 0.5 and rep["plain"]["accuracy"] == 0.5 and "no face found: 50.0%" in r.stdout


def test_serve_refuses_a_busy_port_and_bad_flags_in_one_line():
    import socket
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        one_line_error(run("serve", "--port", port), f"cannot listen on 127.0.0.1:{port}", "in use")
    one_line_error(run("serve", "--workers", -1), "--workers must be >= 0")
    r = run("serve", "--port", 70000)
    assert r.returncode == 2 and "TCP port number 1-65535" in r.stderr and "Traceback" not in r.stderr
    r = run("predict", "--every", 0)
    assert r.returncode == 2 and "--every: must be >= 1" in r.stderr


def test_unwritable_outputs_are_refused_before_the_work(tmp_path, astronaut):
    blocker = tmp_path / "file.txt"
    blocker.write_text("a file, not a folder")
    photo = tmp_path / "a.png"
    Image.fromarray(astronaut).save(photo)
    one_line_error(run("predict", photo, "--json", blocker / "out.json"), "out.json", "cannot create its folder")
    one_line_error(run("predict", photo, "--csv", tmp_path), "is a folder, not a file")
    one_line_error(run("predict", photo, "--save", "--out", blocker), "exists and is not a folder")
    one_line_error(run("evaluate", "--data", tmp_path, "--project", blocker / "runs"), "cannot create this folder")
    r = run("predict", photo, "--json", blocker / "out.json")
    assert "happy" not in r.stdout  # refused up front: no photo was processed for nothing
    assert not [p for p in tmp_path.rglob(".*tmp*")]  # and no temp files left behind
