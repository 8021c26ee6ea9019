"""Input checks every analysis shares: the estimator's surface, ``X``, ``y`` and sample weights.

The analyses reach an estimator only through the surface that every fboost estimator shares
(``stage_contributions``, ``drop_stages``, ``loss_``, ``classes_``, ``stage_features``), so these
checks are duck-typed: anything that offers the surface is analysed alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

__all__ = [
    "check_additive",
    "check_int",
    "encode_targets",
    "check_sample_weight",
    "cumulative_raw",
    "estimator_name",
    "n_rows",
]


def estimator_name(estimator: Any) -> str:
    return type(estimator).__name__


def check_additive(
    estimator: Any,
    *,
    methods: Sequence[str] = ("stage_contributions",),
    fitted: bool = True,
    name: str = "estimator",
) -> None:
    """Check that ``estimator`` has the stage surface (``TypeError``) and is fitted.

    Raises ``TypeError`` naming the argument when a method of the additive surface is missing,
    and scikit-learn's ``NotFittedError`` when ``fitted`` and the estimator is not fitted.
    """
    missing = [m for m in methods if not callable(getattr(estimator, m, None))]
    if missing or isinstance(estimator, type):
        raise TypeError(
            f"{name} must be a fitted fboost estimator with stages ({', '.join(methods)}), e.g. "
            f"TreeBoostingRegressor or ResNetClassifier; got {estimator!r}, which has no "
            f"{', '.join(missing) or 'instance methods'}"
        )
    if fitted:
        if isinstance(estimator, BaseEstimator):
            check_is_fitted(estimator)
        elif not hasattr(estimator, "loss_"):
            raise NotFittedError(f"This {estimator_name(estimator)} instance is not fitted yet")
        if not hasattr(estimator, "loss_"):
            raise TypeError(
                f"{name} must expose its fitted loss as loss_ (fboost.losses.Loss); "
                f"{estimator_name(estimator)} has none"
            )


def check_int(value: Any, name: str, *, minimum: int = 1) -> int:
    """An integer ``>= minimum``; ``TypeError``/``ValueError`` naming ``name`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, Integral | np.integer):
        raise TypeError(f"{name} must be an int >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def encode_targets(estimator: Any, y: Any, n_samples: int) -> np.ndarray:
    """``y`` in the loss's encoding: floats for regression, class codes via ``classes_``.

    Classifier labels are mapped with ``np.searchsorted`` on ``estimator.classes_`` (sorted, as
    scikit-learn's ``LabelEncoder`` leaves them) after checking that every label is known.
    """
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(f"y must be 1-dimensional (n_samples,), got shape {y.shape}")
    if len(y) != n_samples:
        raise ValueError(f"y has {len(y)} samples but X has {n_samples}")
    classes = getattr(estimator, "classes_", None)
    if classes is None or not estimator.loss_.is_classification:
        try:
            values = y.astype(np.float64)
        except (TypeError, ValueError):
            raise ValueError(
                f"y must be numeric for the regressor {estimator_name(estimator)}, "
                f"got dtype {y.dtype}"
            ) from None
        if not np.all(np.isfinite(values)):
            raise ValueError("y must be finite")
        return values
    classes = np.asarray(classes)
    unknown = ~np.isin(y, classes)
    if unknown.any():
        raise ValueError(
            f"y contains labels the classifier was not fitted on: "
            f"{np.unique(y[unknown]).tolist()[:10]}; classes_ = {classes.tolist()}"
        )
    return np.searchsorted(classes, y).astype(np.int64)


def check_sample_weight(sample_weight: Any, n_samples: int) -> np.ndarray:
    """Non-negative finite weights of shape ``(n_samples,)`` with a positive sum; None -> ones."""
    if sample_weight is None:
        return np.ones(n_samples)
    w = np.asarray(sample_weight, dtype=np.float64)
    if w.shape != (n_samples,):
        raise ValueError(f"sample_weight must have shape ({n_samples},), got {w.shape}")
    if not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
        raise ValueError("sample_weight must be finite, non-negative and have a positive sum")
    return w


def n_rows(X: Any) -> int:
    shape = getattr(X, "shape", None)
    if shape is None:
        X = np.asarray(X)
        shape = X.shape
    if len(shape) == 0:
        raise ValueError(f"X must be an array of samples, got a scalar {X!r}")
    return int(shape[0])


def cumulative_raw(contributions: np.ndarray) -> np.ndarray:
    """``F_0 .. F_T`` from stage contributions: shape ``(T + 1, n_samples, n_outputs)``."""
    return np.cumsum(np.asarray(contributions, dtype=np.float64), axis=0)


def stage_frame(rows: list[dict[str, Any]], columns: Sequence[str]) -> Any:
    """One row per stage: ``stage`` as int64, ``model`` as text, every other column float64.

    The dtypes do not depend on the rows, so that a model with no stage (an empty frame) still
    concatenates and averages with the frames of other models.
    """
    import pandas as pd

    dtypes = {c: np.int64 if c == "stage" else np.float64 for c in columns if c != "model"}
    frame = pd.DataFrame(rows, columns=list(columns)).astype(dtypes)
    if "model" in frame:
        frame["model"] = frame["model"].astype(str)
    return frame
