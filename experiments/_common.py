"""Small helpers any study may use: progress bars, CSV and figure files, per-seed summaries.

Everything here is generic: nothing knows about a particular study. Files are written into the
folder ``main`` was given; :func:`experiments._runner.run_study` makes the whole folder atomic,
so plain writes are safe.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "progress",
    "write_csv",
    "save_figure",
    "json_number",
    "table_row",
    "mean_sd",
    "geometric_mean_sd",
]


def progress(total: int, *, verbose: bool, desc: str) -> Any:
    """A tqdm bar over ``total`` units of work; silent (disabled) unless ``verbose``."""
    from fboost._training import progress_bar

    return progress_bar(total, verbose, desc)


def write_csv(frame: pd.DataFrame, output: Path, name: str) -> str:
    """Write ``frame`` (no index) as ``output / name``; returns ``name``.

    Tuple cells (e.g. a set of removed stages) are written as space-separated numbers.
    """
    frame = frame.copy()
    for column in frame.columns:
        if frame[column].dtype == object and frame[column].map(type).eq(tuple).any():
            frame[column] = frame[column].map(
                lambda v: " ".join(str(x) for x in v) if isinstance(v, tuple) else v
            )
    frame.to_csv(output / name, index=False)
    return name


def save_figure(figure: Any, output: Path, name: str, *, dpi: int = 110) -> str:
    """Save a matplotlib Figure as ``output / name`` and release it; returns ``name``."""
    figure.savefig(output / name, dpi=dpi)
    figure.clear()
    return name


def json_number(value: Any) -> float | int | None:
    """A plain Python number for a report; NaN and infinities become ``None`` (valid JSON)."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, bool | np.bool_):
        return int(value)
    if isinstance(value, int | np.integer):
        return int(value)
    number = float(value)
    return number if math.isfinite(number) else None


def table_row(row: dict[str, Any]) -> dict[str, Any]:
    """A SUMMARY.md row without its missing numbers (NaN): such cells are left blank, and the
    report stays strict JSON."""
    return {k: v for k, v in row.items() if not (isinstance(v, float) and math.isnan(v))}


def mean_sd(values: Iterable[Any]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value) over the finite values
    (``None``, a missing number in a report, counts as NaN)."""
    array = np.asarray([np.nan if v is None else float(v) for v in values], dtype=np.float64)
    array = array[np.isfinite(array)]
    if array.size == 0:
        return float("nan"), float("nan")
    sd = float(array.std(ddof=1)) if array.size > 1 else 0.0
    return float(array.mean()), sd


def geometric_mean_sd(values: Iterable[Any]) -> tuple[float, float]:
    """Geometric mean and geometric standard deviation (a factor >= 1) of positive values.

    For quantities spread over orders of magnitude (gradient ratios): the spread reads
    "times or divided by". Zeros (an underflow) and non-finite values are left out; with no
    positive value both are NaN.
    """
    array = np.asarray([float(v) for v in values], dtype=np.float64)
    array = array[np.isfinite(array) & (array > 0)]
    if array.size == 0:
        return float("nan"), float("nan")
    logs = np.log(array)
    sd = float(logs.std(ddof=1)) if array.size > 1 else 0.0
    return float(np.exp(logs.mean())), float(np.exp(sd))
