"""Figures for the gradient analyses: norms per block, paths by length, the skip demonstration."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from ._common import check_frame, finish, groups, new_figure, positive, set_log_if_positive

__all__ = ["plot_gradient_norms", "plot_path_lengths", "plot_skip_gradient"]

Hue = str | Sequence[str] | None


def plot_gradient_norms(
    frame: Any,
    *,
    hue: Hue = None,
    relative: bool = False,
    figsize: tuple[float, float] | None = None,
) -> Figure:
    """``||dL/dz_t||`` and the block parameters' gradient norm along the trunk, log scale.

    Parameters
    ----------
    frame : pandas.DataFrame
        From ``fboost.analysis.gradient_norms``; concatenate frames (residual and plain,
        several depths) for one curve per configuration.
    hue : str, sequence of str or None, default=None
        Columns whose values make separate curves; ``None`` uses those of ``model``,
        ``network``, ``batch_norm``, ``n_stages``, ``fitted`` that vary.
    relative : bool, default=False
        Plot ``grad_norm_ratio`` (relative to the last stage) instead of ``grad_norm``.
    figsize : (float, float) or None, default=None
        Figure size in inches.

    Returns
    -------
    figure : matplotlib.figure.Figure
        Left: feature gradient against stage; right: parameter gradient against stage (when
        ``param_grad_norm`` is present). Zero norms (a gradient vanished to 0) are not drawn.

    Examples
    --------
    >>> import pandas as pd
    >>> from fboost.plotting import plot_gradient_norms
    >>> frame = pd.DataFrame({"stage": [0, 1, 2], "grad_norm": [1e-6, 1e-3, 1.0],
    ...                       "param_grad_norm": [1e-5, 1e-2, 1.0]})
    >>> plot_gradient_norms(frame).axes[0].get_yscale()
    'log'
    """
    column = "grad_norm_ratio" if relative else "grad_norm"
    frame = check_frame(frame, ["stage", column], function="plot_gradient_norms")
    with_params = "param_grad_norm" in frame.columns
    figure, axes = new_figure(2 if with_params else 1, figsize)
    for label, rows in groups(frame, hue):
        axes[0].plot(rows["stage"], positive(rows[column]), marker="o", ms=2, label=label)
        if with_params:
            axes[1].plot(rows["stage"], positive(rows["param_grad_norm"]), marker="o", ms=2)
    set_log_if_positive(axes[0], frame[column])
    ylabel = "||dL/dz_t|| / ||dL/dz_T||" if relative else "mean ||dL/dz_t|| per sample"
    finish(axes[0], xlabel="stage t (0: stem)", ylabel=ylabel, title="Gradient at z_t", legend=True)
    if with_params:
        set_log_if_positive(axes[1], frame["param_grad_norm"])
        finish(
            axes[1],
            xlabel="stage t (0: stem)",
            ylabel="||dL/dtheta_t||",
            title="Gradient of block parameters",
            legend=False,
        )
    return figure


def plot_path_lengths(frame: Any, *, figsize: tuple[float, float] | None = None) -> Figure:
    """Distribution of path lengths and, when measured, the gradient each length carries.

    Parameters
    ----------
    frame : pandas.DataFrame
        From ``fboost.analysis.path_length_distribution`` (one panel) or
        ``fboost.analysis.gradient_by_path_length`` (three panels, as Veit et al. 2016,
        Fig. 6).
    figsize : (float, float) or None, default=None
        Figure size in inches.

    Returns
    -------
    figure : matplotlib.figure.Figure
        Fraction of paths by length; gradient norm of one path by length (log scale, bars:
        standard deviation); share of the total gradient by length with the effective range
        shaded.

    Examples
    --------
    >>> from fboost.analysis import path_length_distribution
    >>> from fboost.plotting import plot_path_lengths
    >>> plot_path_lengths(path_length_distribution(10)).axes[0].get_xlabel()
    'path length k'
    """
    frame = check_frame(frame, ["path_length", "path_fraction"], function="plot_path_lengths")
    measured = {"grad_norm", "total_fraction"} <= set(frame.columns)
    figure, axes = new_figure(3 if measured else 1, figsize)
    k = frame["path_length"].to_numpy()
    axes[0].bar(k, frame["path_fraction"], color="C0")
    finish(
        axes[0],
        xlabel="path length k",
        ylabel="fraction of paths",
        title="Paths by length (binomial)",
        legend=False,
    )
    if not measured:
        return figure
    std = frame["grad_norm_std"] if "grad_norm_std" in frame.columns else None
    axes[1].errorbar(k, positive(frame["grad_norm"]), yerr=std, marker="o", ms=3, capsize=2)
    set_log_if_positive(axes[1], frame["grad_norm"])
    finish(
        axes[1],
        xlabel="path length k",
        ylabel="gradient norm of one path",
        title="Gradient per path",
        legend=False,
    )
    axes[2].bar(k, frame["total_fraction"], color="C2")
    if "effective" in frame.columns and frame["effective"].any():
        effective = k[frame["effective"].to_numpy(dtype=bool)]
        axes[2].axvspan(
            effective.min() - 0.5,
            effective.max() + 0.5,
            color="C1",
            alpha=0.2,
            label=f"effective: {effective.min()}-{effective.max()}",
        )
    finish(
        axes[2],
        xlabel="path length k",
        ylabel="share of total gradient",
        title="Total gradient by length",
        legend=True,
    )
    return figure


def plot_skip_gradient(frame: Any, *, figsize: tuple[float, float] | None = None) -> Figure:
    """Autograd's gradients next to their closed forms, residual block and plain block.

    Parameters
    ----------
    frame : pandas.DataFrame
        From ``fboost.analysis.skip_gradient_demo``.
    figsize : (float, float) or None, default=None
        Figure size in inches.

    Returns
    -------
    figure : matplotlib.figure.Figure
        Horizontal bars per gradient: autograd (filled) and analytic (outlined).

    Examples
    --------
    >>> from fboost.analysis import skip_gradient_demo
    >>> from fboost.plotting import plot_skip_gradient
    >>> plot_skip_gradient(skip_gradient_demo()).axes[0].get_xlabel()
    'gradient value'
    """
    frame = check_frame(
        frame, ["network", "quantity", "autograd", "analytic"], function="plot_skip_gradient"
    )
    height = max(3.0, 0.45 * len(frame) + 1.0)
    figure, (ax,) = new_figure(1, figsize or (6.5, height))
    labels = [f"{n}: {q}" for n, q in zip(frame["network"], frame["quantity"], strict=True)]
    y = np.arange(len(frame))[::-1]
    ax.barh(y + 0.18, frame["autograd"], height=0.36, color="C0", label="autograd")
    ax.barh(
        y - 0.18,
        frame["analytic"],
        height=0.36,
        facecolor="none",
        edgecolor="C1",
        hatch="//",
        label="analytic",
    )
    ax.set_yticks(y, labels)
    ax.axvline(0.0, color="0.6", lw=0.8)
    finish(
        ax,
        xlabel="gradient value",
        ylabel="gradient",
        title="The addition hands g to both of its inputs",
        legend=True,
    )
    return figure
