"""Figures over stages: functional alignment, edges, lesion studies (any fboost estimator)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from ._common import check_frame, finish, groups, new_figure

__all__ = ["plot_functional_alignment", "plot_edges", "plot_lesion_study"]

Hue = str | Sequence[str] | None


def plot_functional_alignment(
    frame: Any, *, hue: Hue = None, figsize: tuple[float, float] | None = None
) -> Figure:
    """Cosine with the negative functional gradient, and the loss bought, per stage.

    Parameters
    ----------
    frame : pandas.DataFrame
        From ``fboost.analysis.functional_alignment`` (several concatenated frames give
        one curve per ``model``).
    hue : str, sequence of str or None, default=None
        Columns whose values make separate curves; ``None`` uses the identifying columns
        (``model``, ...) that vary.
    figsize : (float, float) or None, default=None
        Figure size in inches.

    Returns
    -------
    figure : matplotlib.figure.Figure
        Left: ``cosine`` against ``stage``; right: ``loss_decrease`` (solid) and
        ``first_order_decrease`` (dotted) against ``stage``.

    Examples
    --------
    >>> import pandas as pd
    >>> from fboost.plotting import plot_functional_alignment
    >>> frame = pd.DataFrame({"stage": [1, 2], "cosine": [0.9, 0.7],
    ...                       "loss_decrease": [0.3, 0.1], "first_order_decrease": [0.4, 0.1]})
    >>> plot_functional_alignment(frame).axes[0].get_ylabel()
    'cosine(alpha_t h_t, -dL/dF)'
    """
    name = "plot_functional_alignment"
    frame = check_frame(frame, ["stage", "cosine", "loss_decrease"], function=name)
    figure, (ax_cos, ax_loss) = new_figure(2, figsize)
    for label, rows in groups(frame, hue):
        line = ax_cos.plot(rows["stage"], rows["cosine"], marker="o", ms=3, label=label)[0]
        ax_loss.plot(rows["stage"], rows["loss_decrease"], marker="o", ms=3, label=label)
        if "first_order_decrease" in rows:
            ax_loss.plot(
                rows["stage"], rows["first_order_decrease"], ls=":", color=line.get_color()
            )
    ax_cos.axhline(0.0, color="0.6", lw=0.8)
    ax_cos.set_ylim(-1.05, 1.05)
    ax_loss.axhline(0.0, color="0.6", lw=0.8)
    finish(
        ax_cos,
        xlabel="stage t",
        ylabel="cosine(alpha_t h_t, -dL/dF)",
        title="Alignment with the functional gradient",
        legend=True,
    )
    finish(
        ax_loss,
        xlabel="stage t",
        ylabel="loss decrease (dotted: first order)",
        title="What each stage buys",
        legend=False,
    )
    return figure


def plot_edges(
    frame: Any, *, hue: Hue = None, figsize: tuple[float, float] | None = None
) -> Figure:
    """BoostResNet edge per stage, and the training error it drives down.

    Parameters
    ----------
    frame : pandas.DataFrame
        From ``fboost.analysis.edges``.
    hue : str, sequence of str or None, default=None
        Columns whose values make separate curves (see ``plot_functional_alignment``).
    figsize : (float, float) or None, default=None
        Figure size in inches.

    Returns
    -------
    figure : matplotlib.figure.Figure
        Left: ``edge`` against ``stage`` (above 0: the weak learning condition holds);
        right: ``error_after`` against ``stage`` when the column is present.

    Examples
    --------
    >>> import pandas as pd
    >>> from fboost.plotting import plot_edges
    >>> frame = pd.DataFrame({"stage": [1, 2], "edge": [0.4, 0.2], "error_after": [0.3, 0.2]})
    >>> plot_edges(frame).axes[0].get_xlabel()
    'stage t'
    """
    frame = check_frame(frame, ["stage", "edge"], function="plot_edges")
    with_error = "error_after" in frame.columns
    figure, axes = new_figure(2 if with_error else 1, figsize)
    for label, rows in groups(frame, hue):
        axes[0].plot(rows["stage"], rows["edge"], marker="o", ms=3, label=label)
        if with_error:
            axes[1].plot(rows["stage"], rows["error_after"], marker="o", ms=3, label=label)
    axes[0].axhline(0.0, color="0.6", lw=0.8)
    finish(
        axes[0], xlabel="stage t", ylabel="edge gamma_t", title="Edge of each stage", legend=True
    )
    if with_error:
        finish(
            axes[1],
            xlabel="stage t",
            ylabel="error after stage t",
            title="Error of the running score",
            legend=False,
        )
    return figure


def plot_lesion_study(
    frame: Any, *, hue: Hue = None, figsize: tuple[float, float] | None = None
) -> Figure:
    """Score after removing one stage, and mean score after removing k random stages.

    Parameters
    ----------
    frame : pandas.DataFrame
        From ``fboost.analysis.lesion_study`` (concatenate several for one curve per
        ``model``).
    hue : str, sequence of str or None, default=None
        Columns whose values make separate curves (see ``plot_functional_alignment``).
    figsize : (float, float) or None, default=None
        Figure size in inches.

    Returns
    -------
    figure : matplotlib.figure.Figure
        Left: score with stage t removed against t, the intact score dashed; right: mean
        score (bars: standard deviation) against the number k of random stages removed, the
        intact model at k = 0 (Veit et al. 2016, Fig. 3 and 5).

    Examples
    --------
    >>> import pandas as pd
    >>> from fboost.plotting import plot_lesion_study
    >>> frame = pd.DataFrame({"kind": ["none", "single", "single", "random", "random"],
    ...                       "k": [0, 1, 1, 2, 2], "stage": [None, 1, 2, None, None],
    ...                       "score": [0.9, 0.8, 0.85, 0.5, 0.6]})
    >>> plot_lesion_study(frame).axes[1].get_xlabel()
    'stages removed k'
    """
    frame = check_frame(frame, ["kind", "k", "score"], function="plot_lesion_study")
    figure, (ax_single, ax_random) = new_figure(2, figsize)
    for label, rows in groups(frame, hue):
        intact = rows.loc[rows["kind"] == "none", "score"]
        single = rows[rows["kind"] == "single"]
        stages = single["stage"] if "stage" in single else single.index
        line = ax_single.plot(
            np.asarray(stages, dtype=np.float64), single["score"], marker="o", ms=3, label=label
        )
        color = line[0].get_color()
        if len(intact):
            ax_single.axhline(float(intact.iloc[0]), color=color, ls="--", lw=1)
        random = rows[rows["kind"] == "random"].groupby("k")["score"].agg(["mean", "std"])
        ks = [0, *random.index.tolist()] if len(intact) else random.index.tolist()
        means = [float(intact.iloc[0]), *random["mean"]] if len(intact) else list(random["mean"])
        stds = [0.0, *random["std"].fillna(0.0)] if len(intact) else list(random["std"].fillna(0))
        ax_random.errorbar(
            ks, means, yerr=stds, marker="o", ms=3, capsize=2, color=color, label=label
        )
    finish(
        ax_single,
        xlabel="removed stage t",
        ylabel="score (dashed: intact model)",
        title="One stage removed",
        legend=True,
    )
    finish(
        ax_random,
        xlabel="stages removed k",
        ylabel="mean score",
        title="k random stages removed",
        legend=False,
    )
    return figure
