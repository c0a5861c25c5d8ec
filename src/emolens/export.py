"""Export a trained checkpoint to ONNX (the inference format), with the model card in its metadata."""
from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import numpy as np

from .errors import EmolensError
from .labels import INPUT_SIZE


def export_onnx(weights, out=None, temperature: float | None = None, name: str | None = None,
                opset: int = 18, half: bool = False, extra: dict | None = None) -> Path:
    """Write <weights>.onnx (or `out`), with a dynamic batch axis; returns its path. Several checkpoints become
    one ensemble model (probabilities averaged, `models.Ensemble`). `half` stores the weights as float16 with
    a cast to float32 in the graph: half the file, the same fp32 arithmetic (ONNX Runtime folds the casts at
    load), and weights that only ever held fp16 precision (GPU-trained members are packed as fp16) lose
    nothing. `extra` is merged into the model card (e.g. validation metrics measured at export)."""
    import onnx
    import torch

    from .models import load_models
    from .train_helpers import writable_file

    paths = [weights] if isinstance(weights, (str, Path)) else list(weights)
    model, info = load_models(paths)
    out = writable_file(out if out else Path(paths[0]).with_suffix(".onnx"))
    info = dict(info, **(extra or {}))
    if temperature is not None:
        info["temperature"] = float(temperature)
    info.setdefault("temperature", 1.0)
    info["name"] = name or info.get("name") or Path(out).stem
    x = torch.zeros(2, 1, INPUT_SIZE, INPUT_SIZE)
    tmp = out.with_name(out.name + f".tmp{os.getpid()}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(model, (x,), str(tmp), input_names=["faces"], output_names=["logits"],
                              dynamic_axes={"faces": {0: "batch"}, "logits": {0: "batch"}}, opset_version=opset,
                              dynamo=False)
        m = onnx.load(str(tmp))
        if half:
            _store_half(m)
        del m.metadata_props[:]
        entry = m.metadata_props.add()
        entry.key, entry.value = "emolens", json.dumps(info)
        onnx.checker.check_model(m)
        onnx.save(m, str(tmp))
    except BaseException:
        tmp.unlink(missing_ok=True)  # no half-written file left beside the output
        raise
    os.replace(tmp, out)
    return out


def _store_half(m) -> None:
    """Float32 initializers of 16+ values -> float16 initializers feeding a Cast back to float32 (in place)."""
    from onnx import TensorProto, helper, numpy_helper

    g, casts = m.graph, []
    for i, init in enumerate(list(g.initializer)):
        if init.data_type != TensorProto.FLOAT or int(np.prod(init.dims)) < 16:
            continue
        name = init.name  # `init` is the message about to be overwritten
        half = numpy_helper.from_array(numpy_helper.to_array(init).astype(np.float16), name + "__fp16")
        g.initializer[i].CopyFrom(half)
        casts.append(helper.make_node("Cast", [half.name], [name], to=TensorProto.FLOAT, name=name + "__to_fp32"))
    for node in reversed(casts):
        g.node.insert(0, node)


def parity(weights, onnx_path, n: int = 256, seed: int = 0) -> dict:
    """Max |p_torch - p_onnx| and top-1 agreement on random and structured inputs."""
    import torch

    from .models import load_models
    from .predict import Classifier, softmax
    from .train import predict_logits

    model, _ = load_models(weights)  # one checkpoint or several (an ensemble)
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (n, INPUT_SIZE, INPUT_SIZE), dtype=np.uint8)
    x[: n // 2] = np.clip(np.linspace(0, 255, INPUT_SIZE)[None, None, :] + rng.normal(0, 30, (n // 2, INPUT_SIZE, INPUT_SIZE)), 0, 255)
    pt = softmax(predict_logits(model, torch.from_numpy(x)).numpy())
    clf = Classifier(onnx_path, threads=1)
    clf.temperature = 1.0
    po = clf.probs(x)
    return {"max_abs_diff": float(np.abs(pt - po).max()), "top1_agree": float((pt.argmax(1) == po.argmax(1)).mean()),
            "n": n}


def quantize_dynamic_onnx(onnx_path, out=None) -> Path:
    """int8 weights (dynamic quantisation); state its accuracy change before shipping it."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    out = Path(out) if out else Path(onnx_path).with_name(Path(onnx_path).stem + "-int8.onnx")
    if not Path(onnx_path).is_file():
        raise EmolensError(f"{onnx_path}: no such model file")
    quantize_dynamic(str(onnx_path), str(out), weight_type=QuantType.QInt8)
    return out
