"""fboost.plotting: each figure draws from its analysis frame, labels its axes, needs no display."""

from __future__ import annotations

import doctest
import importlib
import io
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from fboost import ResNetClassifier, ResNetRegressor, TreeBoostingClassifier
from fboost.analysis import (
    edges,
    functional_alignment,
    gradient_by_path_length,
    gradient_norms,
    lesion_study,
    path_length_distribution,
    skip_gradient_demo,
)
from fboost.plotting import (
    plot_edges,
    plot_functional_alignment,
    plot_gradient_norms,
    plot_lesion_study,
    plot_path_lengths,
    plot_skip_gradient,
)

TINY_NET = {"d_block": 4, "max_epochs": 2, "n_iter_no_change": None, "random_state": 0}


@pytest.fixture(scope="module")
def frames(binary_data):
    X, y = binary_data[0][:60], binary_data[1][:60]
    trees = TreeBoostingClassifier(engine="sklearn", n_stages=3, random_state=0).fit(X, y)
    net = ResNetClassifier(n_stages=2, **TINY_NET).fit(X, y)
    plain = ResNetRegressor(n_stages=3, skip=False, batch_norm=False, d_block=4)
    y_num = (y == "yes").astype(float)
    return {
        "alignment": pd.concat(
            [functional_alignment(trees, X, y), functional_alignment(net, X, y)]
        ),
        "edges": pd.concat([edges(trees, X, y), edges(net, X, y)]),
        "lesion": pd.concat(
            [lesion_study(trees, X, y, n_repeats=2), lesion_study(net, X, y, n_repeats=2)]
        ),
        "gradients": pd.concat(
            [gradient_norms(net, X, y), gradient_norms(plain, X, y_num)], ignore_index=True
        ),
        "paths": gradient_by_path_length(net, X, y, n_samples=2),
        "distribution": path_length_distribution(4),
        "demo": skip_gradient_demo(),
    }


PLOTS = {
    "alignment": plot_functional_alignment,
    "edges": plot_edges,
    "lesion": plot_lesion_study,
    "gradients": plot_gradient_norms,
    "paths": plot_path_lengths,
    "distribution": plot_path_lengths,
    "demo": plot_skip_gradient,
}


def assert_drawn(figure):
    assert isinstance(figure, Figure)
    assert figure.axes
    for ax in figure.axes:
        assert ax.get_xlabel() and ax.get_ylabel(), ax.get_title()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    assert buffer.getvalue().startswith(b"\x89PNG")


@pytest.mark.parametrize("name", list(PLOTS))
def test_every_figure_draws_and_labels_its_axes(frames, name):
    opened = plt.get_fignums()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        figure = PLOTS[name](frames[name])
    assert_drawn(figure)
    assert plt.get_fignums() == opened  # no pyplot figure, no display needed


@pytest.mark.parametrize("name", ["alignment", "edges", "lesion", "gradients"])
def test_one_curve_per_model(frames, name):
    figure = PLOTS[name](frames[name])
    legend = figure.axes[0].get_legend()
    assert legend is not None and len(legend.get_texts()) == 2
    single = frames[name][frames[name]["model"] == frames[name]["model"].iloc[0]]
    if name == "gradients":
        single = frames[name].iloc[:3]
    assert PLOTS[name](single).axes[0].get_legend() is None
    chosen = PLOTS[name](frames[name], hue="model")
    assert len(chosen.axes[0].get_legend().get_texts()) == 2


def test_tiny_hand_made_frames():
    assert_drawn(plot_functional_alignment(pd.DataFrame(
        {"stage": [1], "cosine": [1.0], "loss_decrease": [0.5]}
    )))  # fmt: skip
    assert_drawn(plot_edges(pd.DataFrame({"stage": [1, 2], "edge": [0.2, -0.1]})))
    lesions = pd.DataFrame({"kind": ["none", "single"], "k": [0, 1], "score": [1.0, 0.5]})
    assert_drawn(plot_lesion_study(lesions))
    vanished = pd.DataFrame({"stage": [0, 1, 2], "grad_norm": [0.0, 0.0, 1.0]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert_drawn(plot_gradient_norms(vanished))
        assert_drawn(plot_gradient_norms(vanished.assign(grad_norm=0.0)))
    ratios = vanished.assign(grad_norm_ratio=[1e-3, 1e-1, 1.0])
    assert plot_gradient_norms(ratios, relative=True).axes[0].get_ylabel().startswith("||")


def test_bad_frames():
    with pytest.raises(TypeError, match="frame must be a pandas DataFrame"):
        plot_edges({"stage": [1], "edge": [0.1]})
    with pytest.raises(ValueError, match="missing the columns \\['edge'\\]"):
        plot_edges(pd.DataFrame({"stage": [1]}))
    with pytest.raises(ValueError, match="no rows"):
        plot_path_lengths(path_length_distribution(3).iloc[:0])
    with pytest.raises(ValueError, match="hue"):
        plot_edges(pd.DataFrame({"stage": [1], "edge": [0.1]}), hue="nope")


def test_effective_range_is_shaded(frames):
    figure = plot_path_lengths(frames["paths"])
    assert len(figure.axes) == 3
    labels = [t.get_text() for t in figure.axes[2].get_legend().get_texts()]
    lo, hi = frames["paths"].attrs["effective_range"]
    assert labels == [f"effective: {lo}-{hi}"]
    assert len(plot_path_lengths(frames["distribution"]).axes) == 1


@pytest.mark.parametrize("module", ["_stages", "_network"])
def test_docstring_examples(module):
    mod = importlib.import_module(f"fboost.plotting.{module}")
    result = doctest.testmod(mod)
    assert result.attempted > 0 and result.failed == 0


def test_values_are_plotted(frames):
    frame = frames["alignment"]
    figure = plot_functional_alignment(frame)
    plotted = np.concatenate([line.get_ydata() for line in figure.axes[0].get_lines()[:2]])
    np.testing.assert_allclose(np.sort(plotted), np.sort(frame["cosine"].to_numpy()))
