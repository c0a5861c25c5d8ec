"""The evaluation figures of chapter 7: reliability diagram and mistake gallery (drawn off-screen)."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from fer_helpers import evaluate, plots
from fer_helpers.data import NUM_CLASSES


def test_plot_reliability_draws_one_bar_per_filled_bin_at_its_accuracy(tmp_path):
    y = np.array([0, 0, 4, 1, 1])
    proba = np.full((5, NUM_CLASSES), 0.01)
    for i, (c, p) in enumerate(zip([0, 2, 4, 1, 1], [0.85, 0.85, 0.62, 0.94, 0.97])):
        proba[i, c] = p
    table = evaluate.reliability_table(y, proba, bins=10)
    fig = plots.plot_reliability(table, title="toy", ece=0.123)
    ax = fig.axes[0]
    heights = sorted(round(p.get_height(), 6) for p in ax.patches)
    assert heights == sorted(table["accuracy"].round(6).tolist())
    lefts = sorted(round(p.get_x(), 6) for p in ax.patches)
    assert lefts == [0.6, 0.8, 0.9]
    assert "ECE 0.123" in ax.get_title()
    assert plots.save_fig("toy", fig, folder=tmp_path).exists()
    plt.close(fig)


def test_plot_mistakes_titles_name_true_and_predicted_class():
    x = np.zeros((4, 48, 48), np.uint8)
    y = np.array([0, 5, 2, 3])
    proba = np.full((4, NUM_CLASSES), 0.05)
    proba[[0, 1, 2, 3], [2, 2, 2, 3]] = [0.7, 0.9, 0.6, 0.8]
    idx = evaluate.most_confident_mistakes(y, proba)
    fig = plots.plot_mistakes(x, y, proba, idx, columns=3)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["true sad\nsaid fear 0.90", "true angry\nsaid fear 0.70"]
    plt.close(fig)
