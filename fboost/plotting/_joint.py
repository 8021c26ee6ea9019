"""Figures of the joint-training experiments: block reordering and learned stage weights."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure

from ._common import check_frame, finish, groups, new_figure
from ._stages import Hue

__all__ = ["plot_reorder_study", "plot_stage_weights"]


def plot_reorder_study(
    frame: Any, *, hue: Hue = None, figsize: tuple[float, float] | None = None
) -> Figure:
    """Score against the number of swapped pairs k, and against Kendall's tau.

    Parameters
    ----------
    frame : pandas.DataFrame
        From ``fboost.analysis.reorder_study`` (concatenate several for one curve per
        ``model``).
    hue : str, sequence of str or None, default=None
        Columns whose values make separate curves (see ``plot_functional_alignment``).
    figsize : (float, float) or None, default=None
        Figure size in inches.

    Returns
    -------
    figure : matplotlib.figure.Figure
        Left: mean score (bars: standard deviation over draws) against k; right: every draw's
        score against Kendall's tau between its order and the original (Veit et al. 2016,
        Fig. 5c).

    Examples
    --------
    >>> import pandas as pd
    >>> from fboost.plotting import plot_reorder_study
    >>> frame = pd.DataFrame({"k": [0, 1, 1], "kendall_tau": [1.0, 0.8, 0.6],
    ...                       "score": [0.9, 0.85, 0.8]})
    >>> plot_reorder_study(frame).axes[1].get_xlabel()
    "Kendall's tau with the original order"
    """
    frame = check_frame(frame, ["k", "kendall_tau", "score"], function="plot_reorder_study")
    figure, (ax_k, ax_tau) = new_figure(2, figsize)
    for label, rows in groups(frame, hue):
        by_k = rows.groupby("k")["score"].agg(["mean", "std"])
        line = ax_k.errorbar(
            by_k.index.to_numpy(dtype=np.float64),
            by_k["mean"],
            yerr=by_k["std"].fillna(0.0),
            marker="o",
            ms=3,
            capsize=2,
            label=label,
        )
        color = line[0].get_color()
        ax_tau.scatter(
            rows["kendall_tau"], rows["score"], s=10, alpha=0.6, color=color, label=label
        )
    finish(ax_k, xlabel="pairs of blocks swapped k", ylabel="score", title="Reordered", legend=True)
    finish(
        ax_tau,
        xlabel="Kendall's tau with the original order",
        ylabel="score",
        title="Score against the amount of reordering",
        legend=False,
    )
    return figure


def plot_stage_weights(frame: Any, *, figsize: tuple[float, float] | None = None) -> Figure:
    """Learned stage weights ``alpha_t`` against the block, and test score against depth.

    Parameters
    ----------
    frame : pandas.DataFrame
        Two kinds of rows. Rows with ``stage`` (1-based) and ``alpha``: one per block of a
        ResNet with ``stage_weights="learned"``, grouped by its ``depth`` (T). Rows with
        ``variant`` and ``score`` (``stage`` missing): one per trained network, with its
        ``depth``; several rows per ``variant`` and ``depth`` (seeds) are averaged.
    figsize : (float, float) or None, default=None
        Figure size in inches.

    Returns
    -------
    figure : matplotlib.figure.Figure
        Left: ``|alpha_t|`` against the relative position ``t / T`` of the block, one curve per
        depth; right: mean test score against depth, one curve per variant (residual with fixed
        or learned weights, plain).

    Examples
    --------
    >>> import pandas as pd
    >>> from fboost.plotting import plot_stage_weights
    >>> frame = pd.DataFrame({"depth": [2, 2, 2, 2], "stage": [1, 2, None, None],
    ...                       "alpha": [0.3, 0.1, None, None],
    ...                       "variant": [None, None, "plain", "residual"],
    ...                       "score": [None, None, 0.8, 0.9]})
    >>> plot_stage_weights(frame).axes[0].get_xlabel()
    'block position t / T'
    """
    frame = check_frame(frame, ["depth"], function="plot_stage_weights")
    figure, (ax_alpha, ax_depth) = new_figure(2, figsize)
    alphas = frame[frame["stage"].notna()] if "stage" in frame else frame.iloc[:0]
    for depth, rows in alphas.groupby("depth"):
        mean = rows.groupby("stage")["alpha"].apply(lambda a: np.abs(a).mean())
        position = mean.index.to_numpy(dtype=np.float64) / float(depth)
        ax_alpha.plot(position, mean.to_numpy(), marker="o", ms=3, label=f"T = {depth}")
    scores = frame[frame["variant"].notna()] if "variant" in frame else frame.iloc[:0]
    for variant, rows in scores.groupby("variant", sort=False):
        by_depth = rows.groupby("depth")["score"].agg(["mean", "std"])
        ax_depth.errorbar(
            by_depth.index.to_numpy(dtype=np.float64),
            by_depth["mean"],
            yerr=by_depth["std"].fillna(0.0),
            marker="o",
            ms=3,
            capsize=2,
            label=str(variant),
        )
    finish(
        ax_alpha,
        xlabel="block position t / T",
        ylabel="|alpha_t| after training (mean over seeds)",
        title="Learned stage weights (ReZero init 0)",
        legend=True,
    )
    finish(ax_depth, xlabel="depth T", ylabel="test score", title="Depth sweep", legend=True)
    return figure
