"""Lesion studies (Veit et al. 2016): score the model with stages removed."""

from __future__ import annotations

from collections.abc import Iterable
from itertools import combinations
from math import comb
from numbers import Integral
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import check_scoring
from sklearn.utils import check_random_state

from ._common import check_additive, check_int, estimator_name, n_rows

__all__ = ["lesion_study", "raw_scores"]

LESION_COLUMNS = [
    "kind",
    "k",
    "repeat",
    "stage",
    "stages",
    "score",
    "score_change",
    "raw_change",
    "recalibrated",
    "model",
]


def raw_scores(estimator: Any, X: Any) -> np.ndarray:
    """The raw (link-space) score through the public surface, shape ``(n_samples, n_outputs)``.

    ``decision_function`` for classifiers, ``predict`` for regressors (identity link).
    """
    if estimator.loss_.is_classification:
        raw = np.asarray(estimator.decision_function(X), dtype=np.float64)
    else:
        raw = np.asarray(estimator.predict(X), dtype=np.float64)
    return raw.reshape(raw.shape[0], -1)


def _check_k(k: Any, n_stages: int) -> list[int]:
    if k is None:
        return [2**i for i in range(n_stages.bit_length()) if 2**i <= n_stages]
    values = [k] if isinstance(k, Integral | np.integer) else k
    if not isinstance(values, Iterable):
        raise TypeError(f"k must be an int or a sequence of ints in 1..{n_stages}, got {k!r}")
    out = [check_int(v, "k") for v in values]
    too_many = [v for v in out if v > n_stages]
    if too_many:
        raise ValueError(
            f"k cannot exceed the number of stages n_stages_={n_stages}: got k={too_many}"
        )
    if not out:
        raise ValueError("k must contain at least one number of stages to remove")
    return sorted(set(out))


def lesion_study(
    estimator: Any,
    X: Any,
    y: Any,
    *,
    scoring: Any = None,
    k: int | Iterable[int] | None = None,
    n_repeats: int = 10,
    random_state: Any = None,
    sample_weight: Any = None,
    recalibrate: bool = False,
) -> pd.DataFrame:
    """Score the model with each single stage removed, and with k random stages removed.

    Removal is ``estimator.drop_stages``: for function-space models it subtracts
    ``alpha_t h_t``; for residual networks block t is bypassed (``z_t = z_{t-1}``) and later
    blocks see the changed input (Veit et al. 2016, who found that a ResNet degrades smoothly
    while a plain network collapses when one layer is removed).

    Parameters
    ----------
    estimator : fitted fboost estimator
        Anything with ``stage_contributions`` and ``drop_stages``.
    X : array-like of shape (n_samples, n_features)
        Data to score on.
    y : array-like of shape (n_samples,)
        Targets.
    scoring : str, callable or None, default=None
        A scikit-learn scorer name (``"neg_log_loss"``, ``"r2"``, ...) or callable
        ``scorer(estimator, X, y)``; ``None`` uses ``estimator.score`` (R^2 or accuracy).
    k : int, sequence of int or None, default=None
        Numbers of stages to remove at random, each in ``1..n_stages_``; ``None`` means
        1, 2, 4, ... up to ``n_stages_``.
    n_repeats : int, default=10
        Random subsets per k (>= 1). When ``C(n_stages_, k) <= n_repeats`` every subset is
        scored once instead, so the mean is exact.
    random_state : int, RandomState instance or None, default=None
        Seeds the random subsets.
    sample_weight : array-like of shape (n_samples,), default=None
        Passed to the scorer.
    recalibrate : bool, default=False
        Re-estimate the BatchNorm statistics of every scored model, the intact one included, on
        ``X`` (``estimator.recalibrate_batch_norm(X)``; ``X`` only, not ``y``) before scoring
        it, so that a lesioned network normalises with the statistics of the features its
        remaining blocks now see. ``TypeError`` for estimators without that method (only
        BatchNorm networks have statistics to re-estimate).

    Returns
    -------
    frame : pandas.DataFrame
        One row per scored model (long format), columns:

        - ``kind`` (str): ``"none"`` (the intact model), ``"single"`` (one stage removed),
          ``"random"`` (k random stages removed);
        - ``k`` (int): number of stages removed;
        - ``repeat`` (int): index of the subset within its ``kind`` and ``k``;
        - ``stage`` (Int64): the removed stage for ``"single"`` rows, ``<NA>`` otherwise;
        - ``stages`` (tuple of int): the removed stages (1-based, sorted);
        - ``score`` (float): the score of the lesioned model;
        - ``score_change`` (float): ``score`` minus the intact model's score;
        - ``raw_change`` (float): root mean square over samples and outputs of the change in
          the raw score (``decision_function`` or ``predict``). For a function-space model with
          one stage removed it is the RMS of that stage's contribution;
        - ``recalibrated`` (bool): the value of ``recalibrate``;
        - ``model`` (str): the estimator's class name.

        ``frame[frame.kind == "random"].groupby("k").score.mean()`` is the mean score with k
        random stages removed.

    Examples
    --------
    >>> from sklearn.datasets import make_regression
    >>> from fboost import TreeBoostingRegressor
    >>> from fboost.analysis import lesion_study
    >>> X, y = make_regression(n_samples=100, n_features=4, random_state=0)
    >>> gbm = TreeBoostingRegressor(engine="sklearn", n_stages=4, random_state=0).fit(X, y)
    >>> frame = lesion_study(gbm, X, y, k=[1, 2], n_repeats=3, random_state=0)
    >>> frame["kind"].value_counts().to_dict()
    {'random': 6, 'single': 4, 'none': 1}
    """
    check_additive(estimator, methods=("stage_contributions", "drop_stages"))
    n_stages = int(estimator.n_stages_)
    if n_stages < 1:
        raise ValueError(f"estimator has no stage to remove (n_stages_={n_stages})")
    ks = _check_k(k, n_stages)
    n_repeats = check_int(n_repeats, "n_repeats")
    rng = check_random_state(random_state)
    scorer = check_scoring(estimator, scoring=scoring)
    kwargs = {} if sample_weight is None else {"sample_weight": sample_weight}
    if len(np.asarray(y)) != n_rows(X):
        raise ValueError(f"y has {len(np.asarray(y))} samples but X has {n_rows(X)}")

    if not isinstance(recalibrate, bool | np.bool_):
        raise TypeError(f"recalibrate must be a bool, got {recalibrate!r}")
    if recalibrate and not callable(getattr(estimator, "recalibrate_batch_norm", None)):
        raise TypeError(
            f"recalibrate=True needs an estimator with recalibrate_batch_norm (a BatchNorm "
            f"network); {estimator_name(estimator)} has none"
        )

    def prepared(model: Any) -> Any:
        return model.recalibrate_batch_norm(X) if recalibrate else model

    intact = prepared(estimator)
    base_raw = raw_scores(intact, X)
    base_score = float(scorer(intact, X, y, **kwargs))
    cache: dict[tuple[int, ...], tuple[float, float]] = {(): (base_score, 0.0)}

    def lesion(stages: tuple[int, ...]) -> tuple[float, float]:
        if stages not in cache:
            lesioned = prepared(estimator.drop_stages(list(stages)))
            change = raw_scores(lesioned, X) - base_raw
            score = float(scorer(lesioned, X, y, **kwargs))
            cache[stages] = (score, float(np.sqrt(np.mean(change**2))))
        return cache[stages]

    rows: list[dict[str, Any]] = []

    def add(kind: str, repeat: int, stages: tuple[int, ...]) -> None:
        score, raw_change = lesion(stages)
        rows.append(
            {
                "kind": kind,
                "k": len(stages),
                "repeat": repeat,
                "stage": stages[0] if kind == "single" else pd.NA,
                "stages": stages,
                "score": score,
                "score_change": score - base_score,
                "raw_change": raw_change,
                "recalibrated": bool(recalibrate),
                "model": estimator_name(estimator),
            }
        )

    add("none", 0, ())
    for t in range(1, n_stages + 1):
        add("single", 0, (t,))
    for size in ks:
        if comb(n_stages, size) <= n_repeats:
            subsets = [tuple(s) for s in combinations(range(1, n_stages + 1), size)]
        else:
            subsets = [
                tuple(sorted(int(s) + 1 for s in rng.choice(n_stages, size, replace=False)))
                for _ in range(n_repeats)
            ]
        for repeat, stages in enumerate(subsets):
            add("random", repeat, stages)
    frame = pd.DataFrame(rows, columns=LESION_COLUMNS)
    return frame.astype({"k": np.int64, "repeat": np.int64, "stage": "Int64"})
