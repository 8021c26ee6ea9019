"""Numeric safety of inputs: moments that cannot overflow, and ranges an engine can hold.

Every check raises ``ValueError`` naming the argument (``X``, ``y``, ``sample_weight``), the
magnitude found, the limit and why it exists, so that a value the engine cannot represent is
refused instead of turning silently into ``inf``, ``0`` or a constant prediction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "Range",
    "SQUARED_ERROR_RANGE",
    "SKLEARN_TREE_FEATURES",
    "SKLEARN_TREE_TARGETS",
    "LIGHTGBM_FEATURES",
    "LIGHTGBM_TARGETS",
    "WEIGHT_RANGE",
    "safe_moments",
    "check_features",
    "check_targets",
    "relative_weights",
]


@dataclass(frozen=True)
class Range:
    """What an engine can hold: ``|value| <= high``, and a spread (or magnitude) ``>= low``.

    ``why`` completes "... is the limit of" in messages, e.g. ``"float32, in which
    engine='sklearn' grows its trees"``.
    """

    low: float
    high: float
    why: str


#: squared errors of targets within these bounds neither overflow nor underflow float64.
SQUARED_ERROR_RANGE = Range(1e-150, 1e150, "float64 for the squared error of y")
#: scikit-learn's trees work on float32 features, split no feature that varies by less than
#: 1e-7 (FEATURE_THRESHOLD) and stop at node impurities below float64's epsilon (2.2e-16), so
#: a target whose spread is 1e-8 is fitted by a constant.
SKLEARN_TREE_FEATURES = Range(1e-6, 1e38, "scikit-learn's trees (float32 features)")
SKLEARN_TREE_TARGETS = Range(1e-6, 1e150, "scikit-learn's trees (an impurity floor of 2.2e-16)")
#: LightGBM treats |x| < 1e-35 as zero and holds labels and gradients in float32.
LIGHTGBM_FEATURES = Range(1e-30, np.inf, "LightGBM (which reads |x| < 1e-35 as zero)")
LIGHTGBM_TARGETS = Range(1e-30, 1e37, "LightGBM (float32 labels and gradients)")
#: weights are relative; their largest one must be a float32 number of full precision.
WEIGHT_RANGE = Range(1e-30, 1e30, "float32, in which the trainers hold sample weights")


def _max_abs(a: np.ndarray, axis: tuple[int, ...] | int | None) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return np.nanmax(np.abs(a), axis=axis, keepdims=True, initial=0.0)


def safe_moments(
    a: np.ndarray,
    axis: tuple[int, ...] | int = 0,
    weights: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(mean, std, max_abs)`` over ``axis`` (kept as size-1 axes) that never overflow.

    Values between 1e-150 and 1e150 in magnitude use the plain formulas; beyond, the moments of
    ``a / max|a|`` are scaled back, so ``X * 1e300`` gives ``mean * 1e300`` and ``std * 1e300``
    rather than ``inf``, and ``X * 1e-300`` does not underflow to a zero spread.
    """
    a = np.asarray(a, dtype=np.float64)
    m = _max_abs(a, axis)
    unit = np.where((m > 1e150) | ((m < 1e-150) & (m > 0)), m, 1.0)
    scaled = a / unit
    if weights is None:
        mean = scaled.mean(axis=axis, keepdims=True)
        std = np.sqrt(((scaled - mean) ** 2).mean(axis=axis, keepdims=True))
    else:
        mean = np.average(scaled, axis=axis, weights=weights, keepdims=True)
        std = np.sqrt(np.average((scaled - mean) ** 2, axis=axis, weights=weights, keepdims=True))
    return mean * unit, std * unit, m


def _magnitude(value: float) -> str:
    return f"{value:.3g}"


def check_features(X: np.ndarray, limits: Range, name: str = "X", *, fit: bool = True) -> None:
    """``ValueError`` naming ``name`` when a value exceeds ``limits.high`` in magnitude, or (in
    ``fit``) a feature that varies does so by less than ``limits.low`` (it would be constant)."""
    if X.size == 0 or X.dtype.kind not in "fiub":
        return
    sparse = hasattr(X, "tocsc")  # scipy.sparse: its stored values, and zeros elsewhere
    m = _max_abs(np.asarray(X.data) if sparse else X, 0).ravel()
    largest = float(m.max())
    if largest > limits.high:
        raise ValueError(
            f"{name}: values up to {_magnitude(largest)} in magnitude exceed "
            f"{_magnitude(limits.high)}, the limit of {limits.why}; rescale {name}"
        )
    if not fit:
        return
    with np.errstate(invalid="ignore"):
        if sparse:
            high, low = X.max(axis=0).toarray(), X.min(axis=0).toarray()
        else:
            high = np.nanmax(X, axis=0, initial=-np.inf)
            low = np.nanmin(X, axis=0, initial=np.inf)
        spread = (high - low).ravel()
    tiny = np.flatnonzero((spread > 0) & (spread < limits.low))
    if len(tiny):
        j = int(tiny[0])
        raise ValueError(
            f"{name}: feature {j} varies by only {_magnitude(float(spread[j]))}, below "
            f"{_magnitude(limits.low)}, the limit of {limits.why}: it would be treated as "
            f"constant; rescale {name}"
        )


def check_targets(y: np.ndarray, limits: Range, sample_weight: np.ndarray | None = None) -> None:
    """``ValueError`` naming ``y`` when a regression target exceeds ``limits.high`` in magnitude
    or the targets' spread (weighted standard deviation) is positive but below ``limits.low``."""
    largest = float(np.max(np.abs(y), initial=0.0))
    if largest > limits.high:
        raise ValueError(
            f"y: targets up to {_magnitude(largest)} in magnitude exceed "
            f"{_magnitude(limits.high)}, the limit of {limits.why}; rescale y"
        )
    std = float(safe_moments(y, 0, sample_weight)[1].ravel()[0])
    if 0 < std < limits.low:
        raise ValueError(
            f"y: the targets' standard deviation is {_magnitude(std)}, below "
            f"{_magnitude(limits.low)}, the limit of {limits.why}; the model would predict a "
            "constant; rescale y"
        )


def relative_weights(sample_weight: np.ndarray, limits: Range = WEIGHT_RANGE) -> np.ndarray:
    """``sample_weight`` divided by its maximum when that maximum lies outside ``limits``.

    Weights are relative (every loss is a weighted mean), so the division changes no model; it
    keeps ``1e300`` and ``1e-300`` from becoming ``inf`` and ``0`` in float32 (LightGBM, torch).
    Weights already within ``limits`` are returned unchanged.
    """
    largest = float(np.max(sample_weight, initial=0.0))
    if largest > limits.high or 0 < largest < limits.low:
        return sample_weight / largest
    return sample_weight
