"""Tests of fer_helpers.plots on small synthetic arrays (no data, no model; a second or two)."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from fer_helpers import plots


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def _images(fig):
    return [ax.images[0] for ax in fig.axes if ax.images]


def test_map_grid_scales_each_panel_to_its_own_range():
    maps = [np.arange(9.0).reshape(3, 3), -np.ones((3, 3)) * 5 + np.eye(3)]
    fig = plots.map_grid(maps, columns=4)
    images = _images(fig)
    assert len(images) == 2 and len(fig.axes) == 4   # two panels drawn, two left empty
    assert images[0].get_clim() == (0.0, 8.0)
    assert images[1].get_clim() == (-5.0, -4.0)


def test_map_grid_symmetric_centres_on_zero():
    kernel = np.array([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 0.5]])
    fig = plots.map_grid([kernel, 3 * kernel], symmetric=True, titles=["a", "b"], columns=2)
    images = _images(fig)
    assert images[0].get_clim() == (-2.0, 2.0)
    assert images[1].get_clim() == (-6.0, 6.0)
    assert images[0].get_cmap().name == "RdBu_r"
    assert [ax.get_title() for ax in fig.axes] == ["a", "b"]


def test_map_grid_accepts_an_array_and_all_zero_maps():
    stack = np.zeros((5, 4, 4))
    fig = plots.map_grid(stack, columns=2, symmetric=True)   # an all-zero filter must not divide by zero
    assert len(_images(fig)) == 5 and len(fig.axes) == 6
    assert _images(fig)[0].get_clim() == (-1.0, 1.0)


def test_save_fig_writes_png(tmp_path):
    fig = plots.map_grid([np.eye(3)])
    path = plots.save_fig("00_test", fig=fig, folder=tmp_path)
    assert path == tmp_path / "00_test.png" and path.read_bytes()[:4] == b"\x89PNG"


def test_map_grid_row_labels_name_each_row():
    fig = plots.map_grid(np.random.default_rng(0).normal(size=(6, 3, 3)), columns=3, row_labels=["random", "trained"])
    first_column = [fig.axes[0], fig.axes[3]]
    assert [ax.get_ylabel() for ax in first_column] == ["random", "trained"]
    assert fig.axes[1].get_ylabel() == ""


@pytest.mark.parametrize("per_class", [1, 3])
def test_class_grid_one_row_per_emotion_even_with_one_face_each(per_class):
    y = np.repeat(np.arange(7), 2)
    y[y == 1] = 0                  # no disgust face (its row stays empty, not an error); angry gets four
    x = np.random.default_rng(0).integers(0, 256, (len(y), 48, 48), dtype=np.uint8)
    fig = plots.class_grid(x, y, per_class=per_class)
    assert len(fig.axes) == 7 * per_class
    shown = [len(ax.images) for ax in fig.axes]
    assert sum(shown[per_class:2 * per_class]) == 0
    assert sum(shown) == min(per_class, 4) + 5 * min(per_class, 2)
    plt.close(fig)
