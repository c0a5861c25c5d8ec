import csv
import json

import numpy as np
import torch

from emolens.models import read_safetensors
from emolens.train import TrainConfig, class_weights, lr_at, train

FAST = dict(arch="emonet-t", batch=32, lr=0.05, warmup_epochs=0.5, shift=0.05, rotate=5, scale=0.05, erase=0.1,
            threads=2)


def test_tiny_training_run_learns_an_easy_problem(easy_data, tmp_path):
    cfg = TrainConfig(data=str(easy_data), epochs=6, project=str(tmp_path / "runs"), **FAST)
    run = train(cfg, progress=False)
    for f in ("config.json", "history.csv", "curves.png", "last.safetensors", "best.safetensors", "summary.json"):
        assert (run / f).exists(), f
    hist = list(csv.DictReader(open(run / "history.csv")))
    assert len(hist) == 6 and float(hist[-1]["val_acc"]) >= 0.9
    summary = json.loads((run / "summary.json").read_text())
    assert summary["best"]["val_acc"] >= 0.9 and "PublicTest" in summary["validation"]
    _, meta = read_safetensors(run / "best.safetensors")
    info = meta["emolens"]
    assert info["arch"] == "emonet-t" and info["classes"][5] == "sad" and info["input_size"] == 48
    assert info["normalisation"]["mean"] == 0.5 and info["validation_metrics"]["acc"] >= 0.9


def test_resume_gives_the_same_weights_as_an_uninterrupted_run(easy_data, tmp_path):
    base = dict(data=str(easy_data), max_batches=3, ema=0.9, epochs=3, **FAST)
    full = train(TrainConfig(project=str(tmp_path / "a"), **base), progress=False)
    cut = train(TrainConfig(project=str(tmp_path / "b"), stop_after=1, **base), progress=False)
    assert len(list(csv.DictReader(open(cut / "history.csv")))) == 1
    resumed = train(TrainConfig(), resume=str(cut), progress=False)
    assert resumed == cut
    ta, _ = read_safetensors(full / "last.safetensors")
    tb, _ = read_safetensors(resumed / "last.safetensors")
    assert set(ta) == set(tb) and any(k.startswith("opt.") for k in ta) and any(k.startswith("ema.") for k in ta)
    for k in ta:
        assert torch.equal(ta[k], tb[k]), k
    ha = list(csv.DictReader(open(full / "history.csv")))
    hb = list(csv.DictReader(open(resumed / "history.csv")))
    assert [r["val_acc"] for r in ha] == [r["val_acc"] for r in hb]
    # the reported wall time spans both sessions of the resumed run, not only the last process
    summary = json.loads((resumed / "summary.json").read_text())
    assert summary["epochs_run"] == 3
    assert abs(summary["wall_time_s"] - sum(float(r["epoch_time_s"]) for r in hb)) < 0.2


def test_lr_schedule_and_class_weights():
    cfg = TrainConfig(lr=0.1, schedule="cosine")
    assert lr_at(0, 100, 10, cfg) == 0.01 and abs(lr_at(10, 100, 10, cfg) - 0.1) < 1e-9 and lr_at(99, 100, 10, cfg) < 1e-3
    y = np.repeat(np.arange(7), [400, 40, 400, 800, 500, 500, 300])
    w = class_weights(y, "sqrt").numpy()
    assert w[1] > w[0] > w[3]
    assert class_weights(y, "none") is None and class_weights(y, "sampler") is None


def test_init_starts_from_given_weights_with_a_fresh_schedule(easy_data, tmp_path):
    base = dict(data=str(easy_data), **FAST)
    first = train(TrainConfig(project=str(tmp_path / "a"), epochs=4, **base), progress=False)
    acc0 = json.loads((first / "summary.json").read_text())["best"]["val_acc"]
    # a near-zero learning rate keeps the loaded weights: epoch 1 must already be as good as the source run
    cfg = TrainConfig(project=str(tmp_path / "b"), epochs=1, max_batches=2, init=str(first), **dict(base, lr=1e-6))
    second = train(cfg, progress=False)
    hist = list(csv.DictReader(open(second / "history.csv")))
    assert len(hist) == 1 and float(hist[0]["val_acc"]) >= acc0 - 0.02 >= 0.5
    scratch = train(TrainConfig(project=str(tmp_path / "c"), epochs=1, max_batches=2, **dict(base, lr=1e-6)),
                    progress=False)
    assert float(list(csv.DictReader(open(scratch / "history.csv")))[0]["val_acc"]) < acc0 - 0.1
    import pytest
    from emolens.errors import EmolensError
    with pytest.raises(EmolensError):  # weights of another architecture are refused, not silently mixed
        train(TrainConfig(project=str(tmp_path / "d"), epochs=1, max_batches=1, init=str(first),
                          **dict(base, arch="seed")), progress=False)
    # a wider model of the same family is grown from them: it starts as good as the source
    grown = train(TrainConfig(project=str(tmp_path / "e"), epochs=1, max_batches=2, init=str(first),
                              **dict(base, arch="emonet-s", lr=1e-6)), progress=False)
    assert float(list(csv.DictReader(open(grown / "history.csv")))[0]["val_acc"]) >= acc0 - 0.02


def test_distill_loss_and_flip_averaged_teacher():
    from emolens.train import distill_loss, teacher_probs
    logits = torch.randn(4, 7)
    p = torch.softmax(logits / 2.0, 1)
    assert distill_loss(logits, p, 2.0).abs() < 1e-6  # no loss when the student already matches
    assert distill_loss(torch.zeros(4, 7), p, 2.0) > 0.01
    student = torch.zeros(4, 7, requires_grad=True)
    distill_loss(student, p, 1.0).backward()  # gradient descent moves the student towards the teacher
    assert (torch.sign(-student.grad) == torch.sign(p - 1 / 7)).float().mean() > 0.9

    class LeftRight(torch.nn.Module):  # logits = mean of the left half vs the right half: flip swaps them
        def forward(self, x):
            left, right = x[..., :24].mean((1, 2, 3)), x[..., 24:].mean((1, 2, 3))
            return torch.stack([left, right] + [torch.zeros_like(left)] * 5, 1) * 10
    x = torch.zeros(2, 1, 48, 48)
    x[0, ..., :24] = 1.0
    q = teacher_probs([LeftRight()], x, 1.0)
    assert torch.allclose(q.sum(1), torch.ones(2)) and torch.allclose(q[0, 0], q[0, 1])  # mirror averaged in
    q1 = teacher_probs([LeftRight()], x, 1.0, views=1)  # the view alone: the left-bright image stays "left"
    assert torch.allclose(q1.sum(1), torch.ones(2)) and q1[0, 0] > 0.99 and torch.allclose(q1[1, 0], q1[1, 1])


def test_distillation_alone_teaches_the_student(easy_data, tmp_path):
    """With distill=1 the labels carry no weight, so the student can only learn the task from the teacher."""
    base = dict(data=str(easy_data), **FAST)
    teacher = train(TrainConfig(project=str(tmp_path / "t"), epochs=6, **base), progress=False)
    assert json.loads((teacher / "summary.json").read_text())["best"]["val_acc"] >= 0.9
    student = train(TrainConfig(project=str(tmp_path / "s"), epochs=6, teacher=str(teacher), distill=1.0,
                                distill_temp=2.0, **base), progress=False)
    assert json.loads((student / "summary.json").read_text())["best"]["val_acc"] >= 0.9
    # the teacher is a training-time input only: the student's checkpoint holds just the student
    tensors, _ = read_safetensors(student / "best.safetensors")
    t_tensors, _ = read_safetensors(teacher / "best.safetensors")
    assert set(tensors) == set(t_tensors)
    # the same teacher as ONNX (run by ONNX Runtime), explaining the augmented view alone: still enough to learn from
    from emolens.export import export_onnx
    teacher_onnx = export_onnx(teacher / "best.safetensors")
    onnx_student = train(TrainConfig(project=str(tmp_path / "o"), epochs=6, teacher=str(teacher_onnx),
                                     teacher_views=1, distill=1.0, distill_temp=2.0, **base), progress=False)
    assert json.loads((onnx_student / "summary.json").read_text())["best"]["val_acc"] >= 0.9
    assert json.loads((onnx_student / "config.json").read_text())["teacher_views"] == 1


def test_onnx_teacher_gives_the_checkpoints_logits(tmp_path):
    """An ONNX teacher (a file, or a bundled model by name) returns the logits its checkpoint would, on the
    training's normalised batch, whatever normalisation the ONNX model's card asks for."""
    from emolens.export import export_onnx
    from emolens.models import atomic_save_safetensors, create_model
    from emolens.predict import Classifier
    from emolens.train import OnnxTeacher, load_teachers, normalise
    torch.manual_seed(0)
    model = create_model("emonet-t-slim").eval()
    w = tmp_path / "t.safetensors"
    card = {"arch": "emonet-t-slim", "normalisation": {"scale": 1 / 255, "mean": 0.4, "std": 0.3, "channels": "gray"}}
    atomic_save_safetensors({f"model.{k}": v for k, v in model.state_dict().items()}, w, {"emolens": card})
    onnx_path = export_onnx(w)
    x = torch.randint(0, 256, (5, 48, 48), dtype=torch.uint8)
    xb = normalise(x).unsqueeze(1)  # the training's normalisation (mean 0.5, std 0.25)
    (t,) = load_teachers(str(onnx_path), torch.device("cpu"))
    assert isinstance(t, OnnxTeacher)
    with torch.no_grad():
        want = model((x.float().unsqueeze(1) / 255 - 0.4) / 0.3)  # what the model's own card asks for
        assert torch.allclose(t(xb), want, atol=1e-4) and (t(xb) - model(xb)).abs().max() > 1e-3
    (flagship,) = load_teachers("emonet-l", torch.device("cpu"))  # the shipped flagship, by name
    want = Classifier("emonet-l", threads=1).logits(x.numpy())
    assert np.allclose(flagship(xb).numpy(), want, atol=1e-3)


def test_teacher_errors_name_the_file(tmp_path):
    import pytest
    from emolens.errors import EmolensError
    from emolens.train import load_teachers
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    for spec, msg in ((str(tmp_path / "missing.onnx"), "missing.onnx: teacher weights not found"),
                      (str(bad), "bad.onnx: not a loadable ONNX model"),
                      ("no-such-model", "no-such-model: teacher weights not found .*emonet-l"), (" , ", "empty")):
        with pytest.raises(EmolensError, match=msg):
            load_teachers(spec, torch.device("cpu"))


def test_distillation_flags_are_validated(easy_data, tmp_path):
    import pytest
    from emolens.errors import EmolensError
    base = dict(data=str(easy_data), epochs=1, max_batches=1, project=str(tmp_path / "r"), **FAST)
    for bad, msg in ((dict(distill=0.5), "needs --teacher"), (dict(distill=1.5, teacher="x"), "in \\[0, 1\\]"),
                     (dict(distill=0.5, teacher=str(tmp_path / "missing.safetensors")), "not found")):
        with pytest.raises(EmolensError, match=msg):
            train(TrainConfig(**dict(base, **bad)), progress=False)


def test_impossible_flags_are_refused_before_any_data_is_read(tmp_path):
    import pytest
    from emolens.errors import EmolensError
    for bad, msg in ((dict(epochs=0), "--epochs must be in \\[1, inf\\)"), (dict(batch=0), "--batch"),
                     (dict(lr=-1.0), "--lr must be in \\(0, inf\\)"), (dict(lr=float("nan")), "--lr"),
                     (dict(label_smoothing=1.0), "--label-smoothing"), (dict(erase=2.0), "--erase"),
                     (dict(ema=1.0), "--ema must be in \\[0, 1\\)"), (dict(val_fraction=0.0), "--val-fraction"),
                     (dict(optimizer="adam"), "--optimizer must be one of sgd, adamw"),
                     (dict(schedule="step"), "--schedule"), (dict(select="loss"), "--select"),
                     (dict(distill_temp=0.0), "--distill-temp"), (dict(teacher_views=3), "--teacher-views")):
        with pytest.raises(EmolensError, match=msg):
            TrainConfig(**bad).validate()
        with pytest.raises(EmolensError, match=msg):  # the data path does not exist: validation comes first
            train(TrainConfig(data=str(tmp_path / "none"), **bad), progress=False)
    with pytest.raises(EmolensError, match="unknown architecture 'nope'"):
        train(TrainConfig(data=str(tmp_path / "none"), arch="nope"), progress=False)
    TrainConfig().validate()  # the defaults are valid


def test_checkpoint_every_writes_the_resume_point_on_schedule_at_the_end_and_at_a_stop(easy_data, tmp_path,
                                                                                       monkeypatch):
    import emolens.train as tr
    saved = []
    real = tr.atomic_save_safetensors

    def spy(tensors, path, meta):
        saved.append((path.name, meta["emolens"]["epoch"]))
        return real(tensors, path, meta)

    monkeypatch.setattr(tr, "atomic_save_safetensors", spy)
    base = dict(data=str(easy_data), max_batches=2, epochs=5, checkpoint_every=2, **FAST)
    run = train(TrainConfig(project=str(tmp_path / "a"), **base), progress=False)
    assert [e for n, e in saved if n == "last.safetensors"] == [2, 4, 5]  # every 2nd epoch and the last
    assert len(list(csv.DictReader(open(run / "history.csv")))) == 5  # the history is still written every epoch
    saved.clear()
    cut = train(TrainConfig(project=str(tmp_path / "b"), stop_after=3, **base), progress=False)
    assert [e for n, e in saved if n == "last.safetensors"] == [2, 3]  # a planned stop always leaves a resume point
    _, meta = read_safetensors(cut / "last.safetensors")
    assert meta["train_state"]["epoch"] == 3
    import pytest
    from emolens.errors import EmolensError
    with pytest.raises(EmolensError, match="--checkpoint-every"):
        TrainConfig(checkpoint_every=0).validate()


def test_bf16_autocast_trains_and_keeps_fp32_weights(easy_data, tmp_path, capsys):
    import pytest
    from emolens.errors import EmolensError
    run = train(TrainConfig(data=str(easy_data), epochs=4, precision="bf16", project=str(tmp_path / "r"), **FAST),
                progress=False)
    assert "bf16 autocast" in capsys.readouterr().err
    hist = list(csv.DictReader(open(run / "history.csv")))
    assert all(np.isfinite(float(r["train_loss"])) for r in hist) and float(hist[-1]["val_acc"]) >= 0.8
    tensors, _ = read_safetensors(run / "best.safetensors")
    assert all(v.dtype == torch.float32 for v in tensors.values() if v.is_floating_point())
    with pytest.raises(EmolensError, match="--precision must be one of auto, fp32, bf16"):
        TrainConfig(precision="fp16").validate()


def test_gpu_probe_sizes_epochs_to_a_budget(tmp_path):
    """benchmarks/gpu_probe.py times the real step (here on the CPU, two steps) and turns a budget into epochs."""
    import subprocess
    import sys
    from pathlib import Path
    root = Path(__file__).resolve().parents[1]
    recipe = tmp_path / "r.json"
    recipe.write_text(json.dumps({"arch": "emonet-t-slim", "batch": 8, "mixup": 0.2, "erase": 0.5, "ema": 0.99}))
    out = tmp_path / "probe.json"
    args = [sys.executable, str(root / "benchmarks" / "gpu_probe.py"), "--recipe", str(recipe), "--steps", "2",
            "--startup", "0", "--json", str(out)]
    small = subprocess.run(args + ["--budget", "1"], capture_output=True, text=True, check=True)
    big = subprocess.run(args + ["--budget", "1e6", "--runs", "2"], capture_output=True, text=True, check=True)
    info = json.loads(out.read_text())
    assert info["images_per_s_one_run"] > 0 and info["runs"] == 2 and info["device"] == "cpu"
    assert int(small.stdout) == 1  # never fewer than one epoch
    assert int(big.stdout) == 250 == info["epochs"]  # capped by --max-epochs
