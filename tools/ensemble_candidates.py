"""Candidate ensembles against a reference model on the validation faces: the table a decision about `best` reads.

    python tools/ensemble_candidates.py --data ../shared/fer2013 --reference best \
        --candidate "three networks=S/small_resnet_stage2+S/small_resnet_wide+S/small_resnet_wide_b" \
        --candidate "three networks, mirrored=S/small_resnet_stage2+S/small_resnet_wide+S/small_resnet_wide_b:flip" \
        --out fer_helpers/weights/stages/candidates.md

A candidate is NAME=NETWORK+NETWORK+...: the mean of its networks' probabilities, as ``models.build_ensemble``
computes it. A network is a stage folder (its ``best.weights.h5`` and ``recipe.json``), a ``.weights.h5`` file or
a bundled name; ``S/`` stands for ``fer_helpers/weights/stages/``. A trailing ``:flip`` also averages in each
network's answer on the mirror image (twice the arithmetic). Every network runs once (twice with the mirror) on
the validation faces (a tenth of train, stratified, seed 42: chapter 5's); the test split is not read.

One row per candidate: its networks, MFLOPs a face, validation accuracy and macro-F1, the faces only the reference
and only the candidate get right, and McNemar's p. The more candidates are looked at on the same faces, the more
the best of them is flattered by luck: the table says how many it holds (Bonferroni: multiply a p by that count).
"""
from __future__ import annotations

import argparse
import os
import sys
from datetime import date
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fer_helpers import evaluate, models  # noqa: E402
from fer_helpers.__main__ import _load_faces  # noqa: E402
from fer_helpers.errors import FerError  # noqa: E402

STAGES = "fer_helpers/weights/stages/"


def parse_candidate(text: str) -> tuple[str, list[str], bool]:
    """'NAME=A+B[:flip]' -> (NAME, [A, B], mirrored), with S/ expanded; a malformed one is a one-line error."""
    name, sep, spec = text.partition("=")
    if not sep or not name.strip() or not spec.strip():
        raise FerError(f"--candidate '{text}': expected NAME=NETWORK+NETWORK+... (optionally ending in :flip)")
    mirrored = spec.endswith(":flip")
    networks = [n.strip() for n in spec.removesuffix(":flip").split("+")]
    if not all(networks):
        raise FerError(f"--candidate '{text}': an empty network name between the '+' signs")
    return name.strip(), [STAGES + n[2:] if n.startswith("S/") else n for n in networks], mirrored


def load_network(network: str):
    """A stage folder is its best.weights.h5 (recipe.json beside it says the architecture)."""
    path = Path(network)
    if path.is_dir():
        path = path / "best.weights.h5"
        if not path.exists():
            raise FerError(f"{network}: a folder without best.weights.h5 (a stage whose weights were not kept?)")
    return models.load_model(path if path.suffix else network)


def candidates_table(x, y, reference: str, candidates: list[tuple[str, list[str], bool]]):
    """One row per candidate after the reference's own (see the module's docstring); each network runs once."""
    import pandas as pd
    cache: dict[tuple[str, bool], dict] = {}

    def run(network: str, mirrored: bool) -> dict:
        if (network, mirrored) not in cache:
            model, views = load_network(network), 2 if mirrored else 1
            cache[(network, mirrored)] = {
                "proba": evaluate.predict_proba(model, x, tta="flip" if mirrored else None),
                "passes": max(1, len(models.ensemble_members(model))) * views,
                "mflops": models.count_flops(model) / 1e6 * views}
        return cache[(network, mirrored)]

    def row(name: str, runs: list[dict], paired: dict | None) -> dict:
        proba = sum(r["proba"] for r in runs) / len(runs)
        scores = evaluate.summary(y, proba)
        return {"candidate": name, "network passes a face": sum(r["passes"] for r in runs),
                "MFLOPs a face": round(sum(r["mflops"] for r in runs)),
                "accuracy": f"{scores['accuracy']:.4f}", "macro-F1": f"{scores['macro_f1']:.4f}",
                f"only {reference} right": paired["only_a"] if paired else "-",
                "only the candidate right": paired["only_b"] if paired else "-",
                "McNemar p": f"{paired['p_value']:.3g}" if paired else "-"}

    rows = [row(f"{reference} (the reference)", [run(reference, False)], None)]
    for name, networks, mirrored in candidates:
        runs = [run(n, mirrored) for n in networks]
        paired = evaluate.paired_comparison(y, cache[(reference, False)]["proba"],
                                            sum(r["proba"] for r in runs) / len(runs))
        rows.append(row(name, runs, paired))
    return pd.DataFrame(rows).set_index("candidate")


def markdown(table) -> str:
    """The table as Markdown, cells as they are."""
    lines = ["| " + " | ".join([table.index.name, *table.columns]) + " |", "|" + "---|" * (len(table.columns) + 1)]
    lines += ["| " + " | ".join(str(v) for v in [name, *row]) + " |" for name, row in table.iterrows()]
    return "\n".join(lines) + "\n"


def describe(reference: str) -> str:
    """A bundled model's card summary (the tests match a table to the card it was made against), else its path."""
    path = Path(reference)
    if path.suffix or path.exists():
        return f"`{reference}`"
    return f"`{reference}`, {models.model_card(reference)['summary']}"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True, help="the folder holding FER2013 (its train split)")
    parser.add_argument("--reference", default="best", help="bundled name or weights file (default: best)")
    parser.add_argument("--candidate", action="append", required=True, metavar="NAME=NETWORK+NETWORK[:flip]")
    parser.add_argument("--out", help="also write the table, with the command that made it, to this Markdown file")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    candidates = [parse_candidate(c) for c in args.candidate]
    x, y = _load_faces(args.data, "validation")
    table = candidates_table(x, y, args.reference, candidates)
    text = (f"# Candidates against `{args.reference}` on {len(y)} validation faces\n\n"
            f"Made on {date.today()} by `python tools/ensemble_candidates.py --data DIR "
            + " ".join(f'--candidate "{c}"' for c in args.candidate) + f" --reference {args.reference}`"
            f" (`S/` = `{STAGES}`).\n\nThe reference: {describe(args.reference)}.\n\n"
            f"{len(candidates)} candidates looked at on the same faces "
            f"(Bonferroni: p times {len(candidates)}).\n\n" + markdown(table))
    print(text)
    if args.out:
        Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except FerError as err:
        sys.exit(f"ensemble_candidates: {err}")
