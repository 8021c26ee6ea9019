"""Functional alignment: does stage t step along the negative functional gradient?"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..losses import MultinomialLogLoss
from ._common import (
    check_additive,
    check_sample_weight,
    encode_targets,
    estimator_name,
    stage_frame,
)
from ._feature_alignment import float_noise

__all__ = ["functional_alignment"]

ALIGNMENT_COLUMNS = [
    "stage",
    "alpha",
    "cosine",
    "loss_before",
    "loss_after",
    "loss_decrease",
    "first_order_decrease",
    "contribution_norm",
    "gradient_norm",
    "model",
]


def functional_alignment(
    estimator: Any,
    X: Any,
    y: Any,
    *,
    sample_weight: Any = None,
    center: bool = True,
) -> pd.DataFrame:
    """Cosine between each stage's contribution and the negative functional gradient.

    For stage t, with ``F_{t-1}(X)`` the raw score before it (the partial sum of rows
    ``0..t-1`` of ``stage_contributions``) and ``c_t = alpha_t h_t(X)`` (row t), the negative
    functional gradient is ``r_t = -dL/dF`` at ``F_{t-1}(X)``, from ``estimator.loss_``. The
    alignment is their cosine over all samples and outputs,
    ``cos_t = <c_t, r_t>_w / (||c_t||_w ||r_t||_w)`` with ``<a, b>_w = sum_i w_i sum_k a_ik b_ik``.

    A gradient-boosting stage is *fitted* to ``r_t``, so its alignment is high by construction
    (1 when the learner can fit the residuals exactly); for a ResNet trained end to end,
    whose stages are its blocks, it measures how much each block behaves like a boosting step.

    Parameters
    ----------
    estimator : fitted fboost estimator
        Anything with ``stage_contributions`` and a fitted ``loss_``: trees, function-space
        boosting, ResNets (regressors and classifiers).
    X : array-like of shape (n_samples, n_features)
        Data to measure on (training data to see what the stages were fitted to).
    y : array-like of shape (n_samples,)
        Targets; class labels for classifiers (from ``classes_``).
    sample_weight : array-like of shape (n_samples,), default=None
        Weights of the inner product and of the loss; ``None`` weighs every sample 1.
    center : bool, default=True
        For the multinomial loss, remove from each contribution its mean over the classes
        before taking the cosine. The loss does not change along that direction (softmax is
        shift invariant) and the gradient has no component along it, so centering measures
        alignment where the loss lives. No effect for one raw output.

    Returns
    -------
    frame : pandas.DataFrame
        One row per stage t = 1..T, columns:

        - ``stage`` (int): t;
        - ``alpha`` (float): ``stage_weights_[t-1]`` (NaN when the estimator has none);
        - ``cosine`` (float): ``cos_t`` in [-1, 1]; NaN when ``r_t`` is zero or ``c_t`` is float
          noise: its weighted RMS is at most ``NOISE_ULPS * eps`` (8 units in the last place of
          the model's float type: float32 for torch networks, else float64) times the RMS of
          the raw score it is added to (``max(RMS F_{t-1}, RMS F_t)``), where the cosine of
          rounding errors would be reported as a measurement;
        - ``loss_before``, ``loss_after`` (float): weighted mean loss at ``F_{t-1}``, ``F_t``;
        - ``loss_decrease`` (float): ``loss_before - loss_after``, what the stage buys;
        - ``first_order_decrease`` (float): ``<c_t, r_t>_w / sum(w)``, the decrease predicted
          by the gradient alone;
        - ``contribution_norm``, ``gradient_norm`` (float): weighted root mean square over
          samples of ``||c_t(x_i)||`` and ``||r_t(x_i)||``;
        - ``model`` (str): the estimator's class name (to tell models apart after a concat).

    Examples
    --------
    >>> from sklearn.datasets import make_regression
    >>> from fboost import TreeBoostingRegressor
    >>> from fboost.analysis import functional_alignment
    >>> X, y = make_regression(n_samples=100, n_features=4, random_state=0)
    >>> gbm = TreeBoostingRegressor(engine="sklearn", n_stages=5, random_state=0).fit(X, y)
    >>> frame = functional_alignment(gbm, X, y)
    >>> frame.shape[0], bool((frame["cosine"] > 0.5).all())
    (5, True)
    """
    check_additive(estimator)
    if not isinstance(center, bool):
        raise TypeError(f"center must be a bool, got {center!r}")
    contributions = np.asarray(estimator.stage_contributions(X), dtype=np.float64)
    n_samples = contributions.shape[1]
    codes = encode_targets(estimator, y, n_samples)
    w = check_sample_weight(sample_weight, n_samples)
    loss = estimator.loss_
    alphas = np.asarray(getattr(estimator, "stage_weights_", []), dtype=np.float64)
    centered = center and isinstance(loss, MultinomialLogLoss)
    total = float(w.sum())

    raw = contributions[0].copy()
    loss_before = loss.value(codes, raw, w)
    rows = []
    for t in range(1, contributions.shape[0]):
        step = contributions[t]
        residual = -loss.gradient(codes, raw)
        direction = step - step.mean(axis=1, keepdims=True) if centered else step
        inner = float(np.sum(w[:, None] * direction * residual))
        step_norm = float(np.sqrt(np.sum(w[:, None] * direction**2)))
        residual_norm = float(np.sqrt(np.sum(w[:, None] * residual**2)))
        scale = np.sqrt(max(np.sum(w[:, None] * raw**2), np.sum(w[:, None] * (raw + step) ** 2)))
        noise = step_norm <= float_noise(estimator, scale)  # (both sides times sqrt(sum w))
        cosine = inner / (step_norm * residual_norm) if not noise and residual_norm > 0 else np.nan
        raw += step
        loss_after = loss.value(codes, raw, w)
        rows.append(
            {
                "stage": t,
                "alpha": float(alphas[t - 1]) if t - 1 < len(alphas) else np.nan,
                "cosine": float(np.clip(cosine, -1.0, 1.0)),
                "loss_before": loss_before,
                "loss_after": loss_after,
                "loss_decrease": loss_before - loss_after,
                "first_order_decrease": inner / total,
                "contribution_norm": step_norm / np.sqrt(total),
                "gradient_norm": residual_norm / np.sqrt(total),
                "model": estimator_name(estimator),
            }
        )
        loss_before = loss_after
    return stage_frame(rows, ALIGNMENT_COLUMNS)
