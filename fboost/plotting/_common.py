"""What every figure shares: frame checks, a pyplot-free Figure, grouping into curves."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

__all__ = ["check_frame", "new_figure", "groups", "positive", "set_log_if_positive", "finish"]

#: columns that identify a model or a network configuration, when they vary within a frame
GROUP_CANDIDATES = ("model", "network", "batch_norm", "n_stages", "fitted")


def check_frame(frame: Any, required: Sequence[str], *, function: str) -> pd.DataFrame:
    """A non-empty DataFrame with the ``required`` columns, else TypeError/ValueError."""
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(
            f"{function}: frame must be a pandas DataFrame from fboost.analysis, got "
            f"{type(frame).__name__}"
        )
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{function}: frame is missing the columns {missing} (has {list(frame.columns)})"
        )
    if frame.empty:
        raise ValueError(f"{function}: frame has no rows to draw")
    return frame


def new_figure(ncols: int, figsize: tuple[float, float] | None = None) -> tuple[Figure, list[Axes]]:
    """A Figure with ``ncols`` side-by-side axes, independent of pyplot (safe under Agg)."""
    figure = Figure(figsize=figsize or (4.2 * ncols, 3.4), layout="constrained")
    axes = figure.subplots(1, ncols, squeeze=False)[0]
    return figure, list(axes)


def _hue_columns(frame: pd.DataFrame, hue: str | Sequence[str] | None) -> list[str]:
    if hue is None:
        return [c for c in GROUP_CANDIDATES if c in frame.columns and frame[c].nunique() > 1]
    columns = [hue] if isinstance(hue, str) else list(hue)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"hue names columns that frame lacks: {missing}")
    return columns


def groups(
    frame: pd.DataFrame, hue: str | Sequence[str] | None
) -> Iterator[tuple[str | None, pd.DataFrame]]:
    """``(label, rows)`` per curve: one curve per value of the ``hue`` columns.

    ``hue=None`` groups by the identifying columns (``model``, ``network``, ``batch_norm``,
    ``n_stages``, ``fitted``) that take more than one value; with none, one unlabelled curve.
    """
    columns = _hue_columns(frame, hue)
    if not columns:
        yield None, frame
        return
    for key, rows in frame.groupby(columns, sort=False, dropna=False):
        values = key if isinstance(key, tuple) else (key,)
        if len(columns) == 1:
            label = str(values[0])
        else:
            label = ", ".join(f"{c}={v}" for c, v in zip(columns, values, strict=True))
        yield label, rows


def positive(values: Any) -> np.ndarray:
    """Values as floats with non-positive entries masked (NaN) for a log axis."""
    array = np.asarray(values, dtype=np.float64)
    return np.where(array > 0, array, np.nan)


def set_log_if_positive(ax: Axes, values: Any) -> None:
    """Log scale on y when some value is positive (a vanished gradient is simply not drawn)."""
    if np.any(np.asarray(values, dtype=np.float64) > 0):
        ax.set_yscale("log")


def finish(ax: Axes, *, xlabel: str, ylabel: str, title: str, legend: bool) -> None:
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if legend and ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize="small")
