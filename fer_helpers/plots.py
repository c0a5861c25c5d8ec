"""The figures the chapters share: image grids, training curves, confusion matrices; ``save_fig`` into figures/."""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from . import course
from .data import CLASS_NAMES


def save_fig(name: str, fig=None, folder: str | Path | None = None, dpi: int = 120) -> Path:
    """Save the current (or given) figure as ``figures/<name>.png`` and return the path.

    Chapters name their figures ``NN_what`` (e.g. ``05_curves``) so figures/ reads like a table of contents.
    """
    folder = Path(folder) if folder is not None else course.FIGURES_DIR
    folder.mkdir(parents=True, exist_ok=True)
    fig = fig or plt.gcf()
    path = folder / f"{name}.png"
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    return path


def image_grid(images, titles=None, columns: int = 8, size: float = 1.3, cmap: str = "gray", suptitle=None):
    """Show images (N, H, W) in a grid with optional titles; returns the figure."""
    images = list(images)
    rows = max(1, int(np.ceil(len(images) / columns)))
    fig, axes = plt.subplots(rows, columns, figsize=(columns * size, rows * size * (1.25 if titles else 1)))
    for i, ax in enumerate(np.atleast_1d(axes).ravel()):
        ax.axis("off")
        if i < len(images):
            ax.imshow(np.squeeze(images[i]), cmap=cmap, vmin=0, vmax=255)
            if titles is not None:
                ax.set_title(titles[i], fontsize=8)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def class_grid(x: np.ndarray, y: np.ndarray, per_class: int = 8, seed: int = 0):
    """``per_class`` random faces of each emotion, one row per class."""
    rng = np.random.default_rng(seed)
    fig, axes = plt.subplots(len(CLASS_NAMES), per_class, figsize=(per_class * 1.1, len(CLASS_NAMES) * 1.15),
                             squeeze=False)   # a 2-D grid of axes even for per_class=1
    for row, name in enumerate(CLASS_NAMES):
        idx = np.flatnonzero(y == row)
        chosen = rng.choice(idx, size=min(per_class, len(idx)), replace=False) if len(idx) else []
        for col in range(per_class):
            ax = axes[row, col]
            ax.set_xticks([]), ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if col < len(chosen):
                ax.imshow(x[chosen[col]], cmap="gray", vmin=0, vmax=255)
            if col == 0:
                ax.set_ylabel(name, rotation=0, ha="right", va="center", fontsize=10)
    fig.tight_layout()
    return fig


def plot_history(history, title: str = "", metrics=("loss", "accuracy")):
    """Training and validation curves side by side from a history DataFrame (``fer_helpers.train.read_history``)."""
    fig, axes = plt.subplots(1, len(metrics), figsize=(5.5 * len(metrics), 3.6))
    for ax, metric in zip(np.atleast_1d(axes), metrics):
        epochs = history["epoch"] if "epoch" in history else np.arange(1, len(history) + 1)
        ax.plot(epochs, history[metric], "o-", ms=3, label=f"train {metric}")
        if f"val_{metric}" in history:
            ax.plot(epochs, history[f"val_{metric}"], "s-", ms=3, label=f"validation {metric}")
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_confusion(cm: np.ndarray, normalise: bool = False, title: str = "", ax=None):
    """A seaborn heatmap of a confusion matrix (rows: true emotion, columns: predicted)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6.2, 5.2))
    sns.heatmap(cm, annot=True, fmt=".2f" if normalise else "d", cmap="Blues", xticklabels=CLASS_NAMES,
                yticklabels=CLASS_NAMES, cbar=False, ax=ax, vmin=0, vmax=1 if normalise else None)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title or ("confusion matrix (row-normalised: diagonal = recall)" if normalise
                           else "confusion matrix (counts)"))
    ax.figure.tight_layout()
    return ax.figure


def plot_class_counts(counts_by_split: dict[str, dict[str, int]], title: str = "images per class"):
    """A grouped bar chart of class counts, one group per split."""
    frame = pd.DataFrame(counts_by_split)
    ax = frame.plot.bar(figsize=(8, 3.6), rot=0)
    ax.set_ylabel("images")
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    ax.figure.tight_layout()
    return ax.figure


def map_grid(maps, titles=None, columns: int = 8, size: float = 1.3, symmetric: bool = False, cmap=None,
             suptitle=None, row_labels=None):
    """Show 2-D arrays (filters, feature maps; a list or an (N, H, W) array) in a grid, each on its own scale.

    Unlike :func:`image_grid` (pixels, 0..255) every panel is scaled to its own range: feature maps and weights
    have no common unit. ``symmetric=True`` centres the scale on zero (-m..m, red-blue by default), so that
    positive and negative weights are told apart and a zero weight is white. ``row_labels`` (one string per row)
    are written left of each row, e.g. to show random and trained filters in one figure.
    """
    maps = [np.asarray(m, dtype=float) for m in maps]
    cmap = cmap or ("RdBu_r" if symmetric else "gray")
    rows = max(1, int(np.ceil(len(maps) / columns)))
    fig, axes = plt.subplots(rows, columns, figsize=(columns * size, rows * size * (1.25 if titles else 1)),
                             squeeze=False)
    for i, ax in enumerate(axes.ravel()):
        ax.axis("off")
        if i >= len(maps):
            continue
        if symmetric:
            m = float(np.abs(maps[i]).max()) or 1.0
            vmin, vmax = -m, m
        else:
            vmin, vmax = float(maps[i].min()), float(maps[i].max())
        ax.imshow(np.squeeze(maps[i]), cmap=cmap, vmin=vmin, vmax=vmax)
        if titles is not None:
            ax.set_title(titles[i], fontsize=8)
    for row, label in enumerate(row_labels or []):
        ax = axes[row, 0]
        ax.axis("on")
        ax.set_xticks([]), ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_visible(False)
        ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def plot_reliability(table, title: str = "", ece: float | None = None, ax=None):
    """A reliability diagram from ``evaluate.reliability_table``: per confidence bin, a bar up to the accuracy of
    the predictions made with that confidence; the diagonal is perfect calibration (bars below it: over-confident).
    The bars' shade says how many predictions each bin holds."""
    if ax is None:
        _, ax = plt.subplots(figsize=(4.6, 4.2))
    share = table["count"] / max(table["count"].sum(), 1)
    colours = plt.cm.Blues(0.25 + 0.75 * share / max(share.max(), 1e-12)) if len(table) else []
    ax.bar(table["lower"], table["accuracy"], width=table["upper"] - table["lower"], align="edge",
           color=colours, edgecolor="k", linewidth=0.6, label="accuracy in bin")
    ax.plot(table["confidence"], table["accuracy"], "o", color="C3", ms=4, label="(mean confidence, accuracy)")
    ax.plot([0, 1], [0, 1], "--", color="gray", label="perfect calibration")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("confidence (top probability)")
    ax.set_ylabel("accuracy")
    text = title + (f"\nECE {ece:.3f}" if ece is not None else "")
    ax.set_title(text.strip())
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, fontsize=7, frameon=False)
    ax.figure.tight_layout()
    return ax.figure


def plot_mistakes(x: np.ndarray, y_true: np.ndarray, proba: np.ndarray, indices, columns: int = 6,
                  size: float = 1.6, suptitle=None):
    """Faces at ``indices`` (e.g. ``evaluate.most_confident_mistakes``) titled 'true X / said Y 0.93'."""
    proba = np.asarray(proba)
    indices = np.asarray(indices, dtype=int)
    titles = [f"true {CLASS_NAMES[int(y_true[i])]}\nsaid {CLASS_NAMES[int(proba[i].argmax())]} {proba[i].max():.2f}"
              for i in indices]
    fig = image_grid(x[indices], titles=titles, columns=columns, size=size, suptitle=suptitle)
    width, height = fig.get_size_inches()
    fig.set_size_inches(width, height * 1.12)  # room for the two-line titles
    fig.tight_layout()
    return fig


def plot_histories(histories: dict, metrics=("accuracy", "loss"), title: str = "", size: float = 3.0):
    """Several runs side by side: one column per run (``{name: history DataFrame}``), one row per metric, train
    against validation in every panel with the gap between them shaded. Axes are shared (x everywhere, y along a
    row), so the panels compare at a glance."""
    if not histories:
        raise ValueError("plot_histories needs at least one history")
    for name, history in histories.items():
        missing = [m for m in metrics if m not in history]
        if missing:
            raise ValueError(f"history '{name}' has no column {', '.join(missing)}")
    fig, axes = plt.subplots(len(metrics), len(histories), figsize=(size * len(histories), size * 0.85 * len(metrics)),
                             sharex=True, sharey="row", squeeze=False)
    for col, (name, history) in enumerate(histories.items()):
        epochs = history["epoch"] if "epoch" in history else np.arange(1, len(history) + 1)
        for row, metric in enumerate(metrics):
            ax = axes[row, col]
            ax.plot(epochs, history[metric], "o-", ms=3, color="C0", label="train")
            if f"val_{metric}" in history:
                ax.plot(epochs, history[f"val_{metric}"], "s-", ms=3, color="C1", label="validation")
                ax.fill_between(epochs, history[metric], history[f"val_{metric}"], color="0.5", alpha=0.15)
            ax.grid(alpha=0.3)
            if row == 0:
                ax.set_title(name, fontsize=10)
            if col == 0:
                ax.set_ylabel(metric)
            if row == len(metrics) - 1:
                ax.set_xlabel("epoch")
                ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    axes[0, 0].legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
