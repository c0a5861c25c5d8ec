import numpy as np

from emolens.export import export_onnx, parity
from emolens.models import NORM_MEAN, atomic_save_safetensors, create_model
from emolens.predict import Classifier


CLASSES = ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"]


def _random_checkpoint(path, arch="emonet-t", seed=0, half=False, **info):
    import torch
    torch.manual_seed(seed)
    m = create_model(arch).eval()
    for mod in m.modules():  # non-trivial BN statistics
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.running_mean.uniform_(-0.5, 0.5)
            mod.running_var.uniform_(0.5, 2)
    t = {f"model.{k}": v.half() if half and v.is_floating_point() else v for k, v in m.state_dict().items()}
    atomic_save_safetensors(t, path, {"emolens": {"arch": arch, "classes": CLASSES, "params": 10, "mflops": 1.5,
                                                  "normalisation": {"mean": NORM_MEAN, "std": 0.25}, **info}})
    return path


def test_onnx_parity_and_metadata(tmp_path):
    w = _random_checkpoint(tmp_path / "w.safetensors")
    onnx_path = export_onnx(w, tmp_path / "m.onnx", temperature=2.0)
    p = parity(w, onnx_path)
    assert p["max_abs_diff"] < 1e-4 and p["top1_agree"] == 1.0
    c = Classifier(onnx_path)
    assert c.temperature == 2.0 and c.info["arch"] == "emonet-t"
    x = np.random.default_rng(0).integers(0, 255, (5, 48, 48), dtype=np.uint8)
    assert c.probs(x).shape == (5, 7) and np.allclose(c.probs(x).sum(1), 1, atol=1e-5)


def test_several_checkpoints_export_as_one_ensemble_with_fp16_storage(tmp_path, capsys):
    import pytest
    import torch

    from emolens.cli import main
    from emolens.errors import EmolensError
    from emolens.models import Ensemble, load_models
    a = _random_checkpoint(tmp_path / "a.safetensors", seed=1, half=True,
                           validation_metrics={"acc": 0.5, "macro_f1": 0.4, "split": "val"})
    b = _random_checkpoint(tmp_path / "b.safetensors", "emonet-t-slim", seed=2, half=True)
    ens, info = load_models([a, b])
    assert isinstance(ens, Ensemble) and info["arch"] == "emonet-t + emonet-t-slim" and info["params"] == 20
    assert "validation_metrics" not in info and info["members"][0]["validation_metrics"]["acc"] == 0.5
    x = torch.randn(4, 1, 48, 48)
    with torch.no_grad():  # the output is the log of the members' averaged probabilities
        want = (torch.softmax(ens.members[0](x), 1) + torch.softmax(ens.members[1](x), 1)) / 2
        assert torch.allclose(torch.softmax(ens(x), 1), want, atol=1e-6)
    full = export_onnx([a, b], tmp_path / "ens.onnx", name="pair")
    half = export_onnx([a, b], tmp_path / "ens-h.onnx", half=True)
    assert half.stat().st_size < 0.6 * full.stat().st_size
    for path in (full, half):  # fp16-held weights: storing them as fp16 loses nothing
        p = parity([a, b], path)
        assert p["max_abs_diff"] < 1e-4 and p["top1_agree"] == 1.0, path
    c = Classifier(half)
    assert c.info["arch"] == "emonet-t + emonet-t-slim" and len(c.info["members"]) == 2
    assert not list(tmp_path.glob("*.tmp*"))
    # the CLI: several weights, --half, and an error (not a traceback) for members that do not fit together
    assert main(["export", str(a), str(a), "--half", "--out", str(tmp_path / "cli.onnx")]) in (0, None)
    assert "ensemble of 2" in capsys.readouterr().out
    assert main(["export", str(half)]) == 2  # an exported model is not a checkpoint: one line, not a trace
    assert "export reads training checkpoints (.safetensors), not .onnx" in capsys.readouterr().err
    odd = _random_checkpoint(tmp_path / "odd.safetensors", normalisation={"mean": 0.4, "std": 0.25})
    with pytest.raises(EmolensError, match="normalisation differ"):
        load_models([a, odd])


def test_model_card_matches_the_shipped_models():
    """docs/model_card.md is generated from the bundled ONNX files and reports: shipping a new model without
    regenerating it (`python benchmarks/model_card.py`) fails here."""
    import importlib.util
    from pathlib import Path
    root = Path(__file__).resolve().parents[1]
    spec = importlib.util.spec_from_file_location("model_card", root / "benchmarks" / "model_card.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    text = mod.render()
    assert "## `emonet-t-slim` (default)" in text and "Out of scope" in text
    assert text == (root / "docs" / "model_card.md").read_text()
