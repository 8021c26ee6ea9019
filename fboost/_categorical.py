"""Categorical columns: found in pandas frames, handed to LightGBM natively, never cast silently.

LightGBM's own pandas path turns a ``category`` column into its codes (missing and unseen
categories become NaN) and marks the column categorical unless it is ordered; at prediction the
frame's categories are first aligned with the training ones. ``CategoricalEncoding`` does the
same, so that the lightgbm engine's raw scores equal LightGBM's on the same frame, and the
estimators that cannot take categories (``reject_categorical``) name the column instead of
treating its codes or values as numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from numbers import Integral
from typing import Any

import numpy as np

__all__ = ["CategoricalEncoding", "category_columns", "reject_categorical"]


def category_columns(X: Any) -> list[Any]:
    """Names of the pandas ``category`` columns of ``X`` (empty for anything but a frame)."""
    dtypes = getattr(X, "dtypes", None)
    if dtypes is None or not hasattr(X, "columns"):
        return []
    import pandas as pd

    return [col for col, dtype in dtypes.items() if isinstance(dtype, pd.CategoricalDtype)]


def reject_categorical(X: Any, who: str) -> None:
    """Raise ``TypeError`` naming the ``category`` columns of ``X``, which ``who`` cannot take."""
    columns = category_columns(X)
    if columns:
        raise TypeError(
            f"X: column{'s' if len(columns) > 1 else ''} {columns} "
            f"{'have' if len(columns) > 1 else 'has'} pandas category dtype, which {who} does not "
            "take (its codes are not numbers); encode it first (e.g. OneHotEncoder) or use "
            "TreeBoosting*(engine='lightgbm'), which takes categorical features natively"
        )


@dataclass
class CategoricalEncoding:
    """Categorical columns found at fit: their positions and, for ``category`` ones, categories."""

    indices: list[int] = field(default_factory=list)
    categories: dict[int, list[Any]] = field(default_factory=dict)

    @classmethod
    def fit(cls, X: Any, categorical_features: Sequence[Any] | None) -> CategoricalEncoding:
        """Resolve ``categorical_features`` (positions or names), plus the ``category`` columns."""
        columns = list(X.columns) if hasattr(X, "columns") else None
        n_features = X.shape[1] if hasattr(X, "shape") and len(X.shape) == 2 else None
        indices: set[int] = set()
        for item in categorical_features or ():
            if isinstance(item, Integral | np.integer) and not isinstance(item, bool):
                if n_features is not None and not 0 <= int(item) < n_features:
                    raise ValueError(
                        f"categorical_features: index {item} is out of range for "
                        f"{n_features} features"
                    )
                indices.add(int(item))
            elif columns is not None and item in columns:
                indices.add(columns.index(item))
            else:
                where = "X has no such column" if columns is not None else "X has no column names"
                raise ValueError(
                    f"categorical_features: {item!r} is neither a feature index nor a column "
                    f"name ({where})"
                )
        categories: dict[int, list[Any]] = {}
        if columns is not None:
            for name in category_columns(X):
                i = columns.index(name)
                categories[i] = list(X[name].cat.categories)
                if not X[name].cat.ordered:  # LightGBM's 'auto' takes ordered ones as numbers
                    indices.add(i)
        return cls(sorted(indices), categories)

    def transform(self, X: Any) -> Any:
        """``X`` with every ``category`` column replaced by its float codes (NaN if missing)."""
        if not self.categories or not hasattr(X, "columns"):
            if category_columns(X):
                raise ValueError(
                    f"X: columns {category_columns(X)} have category dtype, unlike in fit"
                )
            return X
        import pandas as pd

        X = X.copy(deep=False)
        names = list(X.columns)
        for i, categories in self.categories.items():
            column = X[names[i]]
            if not isinstance(column.dtype, pd.CategoricalDtype):
                raise ValueError(
                    f"X: column {names[i]!r} had category dtype in fit, got {column.dtype}"
                )
            codes = column.cat.set_categories(categories).cat.codes.to_numpy()
            X[names[i]] = np.where(codes < 0, np.nan, codes.astype(np.float64))
        extra = [c for c in category_columns(X)]
        if extra:
            raise ValueError(f"X: columns {extra} have category dtype, unlike in fit")
        return X
