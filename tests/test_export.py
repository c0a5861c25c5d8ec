import numpy as np

from emolens.export import export_onnx, parity
from emolens.models import NORM_MEAN, atomic_save_safetensors, create_model
from emolens.predict import Classifier


def test_onnx_parity_and_metadata(tmp_path):
    import torch
    torch.manual_seed(0)
    m = create_model("emonet-t").eval()
    for mod in m.modules():  # non-trivial BN statistics
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.running_mean.uniform_(-0.5, 0.5)
            mod.running_var.uniform_(0.5, 2)
    w = tmp_path / "w.safetensors"
    atomic_save_safetensors({f"model.{k}": v for k, v in m.state_dict().items()}, w,
                            {"emolens": {"arch": "emonet-t", "classes": ["angry", "disgust", "fear", "happy", "neutral",
                                                                         "sad", "surprise"],
                                         "normalisation": {"mean": NORM_MEAN, "std": 0.25}}})
    onnx_path = export_onnx(w, tmp_path / "m.onnx", temperature=2.0)
    p = parity(w, onnx_path)
    assert p["max_abs_diff"] < 1e-4 and p["top1_agree"] == 1.0
    c = Classifier(onnx_path)
    assert c.temperature == 2.0 and c.info["arch"] == "emonet-t"
    x = np.random.default_rng(0).integers(0, 255, (5, 48, 48), dtype=np.uint8)
    assert c.probs(x).shape == (5, 7) and np.allclose(c.probs(x).sum(1), 1, atol=1e-5)


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
