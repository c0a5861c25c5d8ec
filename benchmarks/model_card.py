"""Write docs/model_card.md for the bundled models from what they carry and what `emolens evaluate` measured.

Numbers come from each ONNX file's own metadata (architecture, size, training data, selected epoch, calibration
temperature) and from docs/report_<name>_publictest.json (written by `emolens evaluate ... --split val --tta ten
--calibrate`), never typed by hand, so the card cannot drift from the shipped files. Rerun after shipping a model:

    python benchmarks/model_card.py
"""
import json
from pathlib import Path

import onnxruntime as ort

from emolens.predict import DEFAULT_MODEL, bundled_model_path, bundled_models

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

INTENDED = """\
## Intended use

- Reading the **facial expression** in photos and video frames as one of seven FER2013 categories (angry,
  disgust, fear, happy, neutral, sad, surprise), with probabilities: research, media analysis, user studies,
  demos, accessibility aids, any aggregate question ("how much of this clip does the speaker smile?").
- Faces roughly frontal and at least ~48 px wide in the photo (the input is a 48x48 grayscale crop).

## Out of scope, and why

- **An expression is not a feeling.** The model was trained to reproduce labels that annotators gave to
  faces; it says what a face looks like, not what a person feels. Human agreement with FER2013's labels is
  about 65%, so the labels themselves are noisy.
- **Decisions about people**: hiring, grading, policing, border control, credit, insurance, lie or
  deception detection, diagnosis. Do not use it there; nothing here was validated for it.
- **Demographic fairness was not measured.** FER2013 was collected by web image search; its age, sex and
  skin-tone make-up is not documented and no per-group accuracy is known. Expect uneven accuracy.
- Profiles, heavy occlusion (masks, hands), very small or blurred faces, infants, drawings: not represented
  in training or not tested.

## Known weaknesses

- Per model below: per-class recall and the most frequent confusions, from the confusion matrix. Classes with
  low recall are said less often than they occur; read their probabilities with that in mind.
- **disgust** has only 436 training and 56 PublicTest images, so its figures carry a wide margin
  (one image = 1.8 points of recall).
"""


def onnx_card(path: Path) -> dict:
    s = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return json.loads(s.get_modelmeta().custom_metadata_map.get("emolens", "{}"))


def section(name: str) -> str:
    info = onnx_card(bundled_model_path(name))
    rep_path = DOCS / f"report_{name}_publictest.json"
    lines = [f"## `{name}`{' (default)' if name == DEFAULT_MODEL else ''}", ""]
    td = info.get("training_data", {})
    lines += [f"- Architecture `{info.get('arch')}`: {info.get('params', 0):,} parameters, "
              f"{info.get('mflops')} MFLOPs per face; input {info.get('input_size')}x{info.get('input_size')} "
              f"grayscale, normalised (x/255 - {info['normalisation']['mean']}) / {info['normalisation']['std']}.",
              f"- Trained on FER2013 Training ({td.get('train_images', '?'):,} images), no other data, no "
              f"pretrained weights; " + (
                  f"an ensemble of {len(info['members'])} independently trained members (their probabilities "
                  f"averaged), each checkpoint selected on {td.get('validation', '?')}: " + "; ".join(
                      f"`{m['file']}` ({m['arch']}, epoch {m['epoch']}, alone "
                      f"{(m.get('validation_metrics') or {}).get('acc', float('nan')):.4f})" for m in info["members"])
                  + ". " if info.get("members") else
                  f"checkpoint selected on {td.get('validation', '?')} (epoch {info.get('epoch')}). ")
              + "Recipe and every experiment: `docs/results.md`.",
              f"- Calibration temperature T = {info.get('temperature', 1.0):.3f}, fitted on PublicTest and stored in the "
              f"ONNX file's metadata; emolens reports softmax(logits / T)."]
    if not rep_path.exists():
        return "\n".join(lines + ["", f"(no report: run `emolens evaluate --model {name} ...`)", ""])
    rep = json.loads(rep_path.read_text())
    p, cal = rep["plain"], rep.get("calibration", {})
    tta = rep.get("tta_ten")
    lines += ["", f"Measured by `emolens evaluate --model {name} --data <fer2013> --split val --tta ten --calibrate` "
                  f"on **{rep['split']}** ({rep['images']:,} images, never trained on; `{rep_path.name}`):", "",
              "| | accuracy | macro-F1 |", "|---|---:|---:|",
              f"| single crop (what `predict` does) | {p['accuracy']:.4f} | {p['macro_f1']:.4f} |"]
    if tta:
        lines.append(f"| ten-crop TTA (10x the compute) | {tta['accuracy']:.4f} | {tta['macro_f1']:.4f} |")
    lines += ["", "| class | precision | recall | F1 | PublicTest images |", "|---|---:|---:|---:|---:|"]
    for c, m in p["per_class"].items():
        lines.append(f"| {c} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1-score']:.3f} | {int(m['support'])} |")
    cm = p["confusion_matrix"]
    names = list(p["per_class"])
    off = sorted(((cm[i][j], names[i], names[j]) for i in range(len(names)) for j in range(len(names)) if i != j),
                 reverse=True)[:5]
    weakest = min(names, key=lambda c: p["per_class"][c]["recall"])
    lines += ["", f"Weakest class: **{weakest}** (recall {p['per_class'][weakest]['recall']:.3f}). Most frequent "
                  "confusions (true -> said, images): " + ", ".join(f"{a} -> {b} {n}" for n, a, b in off) + "."]
    if cal:
        lines += ["", f"Calibration (15-bin ECE): {cal['ece_before']:.4f} at T=1; with temperature scaling "
                      f"cross-fitted on halves of PublicTest ({cal.get('crossfit_repeats', '?')} repeats) "
                      f"{cal['ece_after_crossfit']:.4f}; NLL {cal['nll_before']:.4f} -> {cal['nll_after_crossfit']:.4f}."]
    return "\n".join(lines + [""])


def render() -> str:
    names = sorted(bundled_models(), key=lambda n: n != DEFAULT_MODEL)
    return "\n".join([
        "# Model card: the bundled emolens models", "",
        "Generated by `python benchmarks/model_card.py` from the shipped ONNX files and the `emolens evaluate` "
        "reports in `docs/`. Every figure is on FER2013 **PublicTest**, the split the checkpoints were selected on "
        "(so slightly optimistic); PrivateTest is measured by the maintainers. Speed: README, section Speed.", "",
        INTENDED, *[section(n) for n in names]])


def main():
    out = DOCS / "model_card.md"
    out.write_text(render())
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
