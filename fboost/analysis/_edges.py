"""BoostResNet's edges (Huang, Ash, Langford, Schapire, ICML 2018) for any fboost classifier."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ._common import (
    check_additive,
    check_sample_weight,
    cumulative_raw,
    encode_targets,
    estimator_name,
    stage_frame,
)

__all__ = ["edges"]

EDGE_COLUMNS = [
    "stage",
    "edge",
    "edge_raw",
    "scale",
    "exp_loss_before",
    "exp_loss_after",
    "error_after",
    "model",
]


def _two_columns(raw: np.ndarray) -> np.ndarray:
    """One binary log-odds column ``F`` as the two class scores ``(0, F)``."""
    return np.concatenate([np.zeros_like(raw), raw], axis=-1) if raw.shape[-1] == 1 else raw


def _exp_loss(score: np.ndarray, onehot: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, float]:
    """Costs ``exp(s(i,l) - s(i,y_i))`` off the label scaled by ``exp(-m)``, and ``m``."""
    margin = score - np.sum(score * onehot, axis=1, keepdims=True)
    valid = ~onehot & (w[:, None] > 0)
    offset = float(margin[valid].max()) if valid.any() else 0.0
    cost = np.exp(np.where(valid, margin - offset, -np.inf)) * w[:, None]
    return cost, offset


def edges(estimator: Any, X: Any, y: Any, *, sample_weight: Any = None) -> pd.DataFrame:
    """The edge of every stage over BoostResNet's multiclass cost, for any classifier.

    Stage t adds ``h_t(x, l)``, row t of ``stage_contributions`` (``alpha_t`` included), to the
    running score ``s_{t-1}(x, l) = F_{t-1}(x)[l]``. Following Huang et al. (2018, multiclass
    BoostResNet, after Mukherjee & Schapire's cost-matrix boosting), the cost matrix at
    ``s_{t-1}`` is

    ``C(i, l) = exp(s_{t-1}(x_i, l) - s_{t-1}(x_i, y_i))`` for ``l != y_i`` and
    ``C(i, y_i) = -sum_{l != y_i} C(i, l)``,

    and the edge of the weak module classifier ``h_t`` is

    ``edge_raw_t = -sum_i w_i sum_l C(i, l) h_t(x_i, l) / sum_i w_i sum_{l != y_i} C(i, l)
    = sum_i w_i sum_{l != y_i} C(i, l) (h_t(x_i, y_i) - h_t(x_i, l)) / Z``

    (``w_i = 1`` in the paper). It is the rate at which the multiclass exponential loss
    ``Z = sum_i w_i sum_{l != y_i} exp(s(x_i, l) - s(x_i, y_i))`` falls along ``h_t``:
    ``edge_raw_t = -d/de log Z(s_{t-1} + e h_t)`` at ``e = 0``. The paper's hypotheses are
    bounded, which puts the edge in [-1, 1]; the reported ``edge`` applies the formula to
    ``h_t / M_t`` with ``M_t = max_i max_{l, l'} |h_t(x_i, l) - h_t(x_i, l')|``, the largest
    score gap the stage creates, so that ``|edge| <= 1`` for any model. ``edge > 0``
    means the stage beats the baseline that adds nothing (BoostResNet's weak learning condition
    asks for ``edge >= gamma > 0`` at every stage; its module weight would then be
    ``alpha = 1/2 ln((1 + edge) / (1 - edge))``). The authors' code computes the edge of the
    auxiliary classifier ``o_{t+1}`` (the paper's ``gamma tilde``) and derives that of
    ``h_t`` from it; fboost stages *are* the weak module classifiers, so their edge is computed
    directly.

    Binary classifiers have one raw column ``F`` (log-odds of ``classes_[1]``), taken as the
    two class scores ``(0, F)``. With ``y_i`` in {-1, +1} the formula becomes AdaBoost's
    ``edge = sum_i D(i) y_i h_t(x_i) / max_i |h_t(x_i)|``, ``D(i) ∝ w_i exp(-y_i F_{t-1}(x_i))``.
    Both the edge and the cost are unchanged by adding a per-sample constant to all classes.

    Parameters
    ----------
    estimator : fitted fboost classifier
        Anything with ``stage_contributions``, ``classes_`` and a classification ``loss_``.
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,)
        Class labels (from ``estimator.classes_``).
    sample_weight : array-like of shape (n_samples,), default=None
        Weights ``w_i``; ``None`` weighs every sample 1.

    Returns
    -------
    frame : pandas.DataFrame
        One row per stage t = 1..T, columns:

        - ``stage`` (int): t;
        - ``edge`` (float): the normalised edge, in [-1, 1] (NaN when ``h_t`` is constant
          over classes, ``M_t = 0``);
        - ``edge_raw`` (float): the formula on ``h_t`` as it is (``edge * M_t``);
        - ``scale`` (float): ``M_t``;
        - ``exp_loss_before``, ``exp_loss_after`` (float): weighted mean over samples of
          ``sum_{l != y_i} exp(s(x_i, l) - s(x_i, y_i))`` at ``s_{t-1}`` and ``s_t``;
        - ``error_after`` (float): weighted error of ``s_t`` on ``(X, y)`` (ties as ``predict``);
        - ``model`` (str): the estimator's class name.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from fboost import TreeBoostingClassifier
    >>> from fboost.analysis import edges
    >>> X, y = make_classification(n_samples=120, n_classes=3, n_informative=4, random_state=0)
    >>> clf = TreeBoostingClassifier(engine="sklearn", n_stages=3, random_state=0).fit(X, y)
    >>> frame = edges(clf, X, y)
    >>> bool(frame["edge"].between(0, 1).all())
    True
    """
    check_additive(estimator)
    if not getattr(estimator.loss_, "is_classification", False) or not hasattr(
        estimator, "classes_"
    ):
        raise TypeError(
            f"edges needs a classifier (BoostResNet's cost is over class labels); got the "
            f"regressor {estimator_name(estimator)}"
        )
    contributions = np.asarray(estimator.stage_contributions(X), dtype=np.float64)
    n_samples = contributions.shape[1]
    codes = encode_targets(estimator, y, n_samples)
    w = check_sample_weight(sample_weight, n_samples)
    scores = _two_columns(cumulative_raw(contributions))
    steps = _two_columns(contributions)
    onehot = np.zeros(scores.shape[1:], dtype=bool)
    onehot[np.arange(n_samples), codes] = True
    total, active = float(w.sum()), w > 0

    def exp_loss(score: np.ndarray) -> float:
        cost, offset = _exp_loss(score, onehot, w)
        return float(np.exp(offset) * cost.sum() / total)

    rows = []
    for t in range(1, contributions.shape[0]):
        cost, _ = _exp_loss(scores[t - 1], onehot, w)
        h = steps[t]
        gap = np.sum(h * onehot, axis=1, keepdims=True) - h  # h(i, y_i) - h(i, l)
        z = float(cost.sum())
        edge_raw = float(np.sum(cost * gap)) / z if z > 0 else np.nan
        spread = (h.max(axis=1) - h.min(axis=1))[active]
        scale = float(spread.max()) if spread.size else 0.0
        predicted = np.argmax(scores[t], axis=1)  # (0, F): F > 0 -> class 1, ties -> class 0
        rows.append(
            {
                "stage": t,
                "edge": float(np.clip(edge_raw / scale, -1, 1)) if scale > 0 else np.nan,
                "edge_raw": edge_raw,
                "scale": scale,
                "exp_loss_before": exp_loss(scores[t - 1]),
                "exp_loss_after": exp_loss(scores[t]),
                "error_after": float(np.sum(w * (predicted != codes)) / total),
                "model": estimator_name(estimator),
            }
        )
    return stage_frame(rows, EDGE_COLUMNS)
