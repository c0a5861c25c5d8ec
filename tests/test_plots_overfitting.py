"""Tests of fer_helpers.plots.plot_histories (chapter 6) on small synthetic histories (no data, no model)."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from fer_helpers import plots


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def _history(epochs, train_acc, val_acc, with_val=True):
    frame = pd.DataFrame({"epoch": np.arange(1, epochs + 1), "accuracy": train_acc,
                          "loss": 2.0 - np.asarray(train_acc, dtype=float)})
    if with_val:
        frame["val_accuracy"] = val_acc
        frame["val_loss"] = 2.0 - np.asarray(val_acc, dtype=float)
    return frame


def test_one_column_per_run_one_row_per_metric_titles_in_order():
    histories = {"none": _history(3, [0.2, 0.5, 0.9], [0.2, 0.3, 0.3]),
                 "dropout": _history(3, [0.2, 0.3, 0.4], [0.25, 0.35, 0.4]),
                 "both": _history(3, [0.1, 0.2, 0.3], [0.2, 0.3, 0.35])}
    fig = plots.plot_histories(histories)
    axes = np.asarray(fig.axes).reshape(2, 3)
    assert [ax.get_title() for ax in axes[0]] == ["none", "dropout", "both"]
    assert [ax.get_title() for ax in axes[1]] == ["", "", ""]
    assert axes[0, 0].get_ylabel() == "accuracy" and axes[1, 0].get_ylabel() == "loss"
    for ax in axes.ravel():
        assert len(ax.lines) == 2                 # train and validation
        assert len(ax.collections) == 1           # the shaded gap


def test_panels_plot_the_given_values_and_share_axes():
    histories = {"a": _history(2, [0.1, 0.9], [0.1, 0.2]), "b": _history(4, [0.3, 0.4, 0.5, 0.6], [0.3] * 4)}
    fig = plots.plot_histories(histories, metrics=("accuracy",))
    left, right = fig.axes
    np.testing.assert_allclose(left.lines[0].get_ydata(), [0.1, 0.9])
    np.testing.assert_allclose(right.lines[1].get_ydata(), [0.3] * 4)
    assert left.get_ylim() == right.get_ylim()     # shared y along the row
    assert left.get_xlim() == right.get_xlim()     # shared x: the 2-epoch run is drawn on the 4-epoch axis
    assert right.get_xlim()[1] >= 4


def test_a_run_without_validation_shows_only_its_training_curve():
    fig = plots.plot_histories({"train only": _history(3, [0.2, 0.4, 0.6], None, with_val=False)})
    ax_acc, ax_loss = fig.axes
    assert len(ax_acc.lines) == 1 and len(ax_acc.collections) == 0


def test_empty_input_and_missing_metric_are_refused_with_the_run_named():
    with pytest.raises(ValueError):
        plots.plot_histories({})
    with pytest.raises(ValueError, match="'b'.*loss"):
        plots.plot_histories({"a": _history(2, [0.1, 0.2], [0.1, 0.2]),
                              "b": _history(2, [0.1, 0.2], [0.1, 0.2]).drop(columns="loss")})
