"""Block reordering (Veit et al. 2016, Sec. 4.3): score a ResNet with its blocks shuffled."""

from __future__ import annotations

from collections.abc import Iterable
from numbers import Integral
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import kendalltau
from sklearn.metrics import check_scoring
from sklearn.utils import check_random_state

from ._common import check_additive, check_int, estimator_name, n_rows
from ._lesion import raw_scores

__all__ = ["reorder_study"]

REORDER_COLUMNS = [
    "k",
    "repeat",
    "order",
    "kendall_tau",
    "score",
    "score_change",
    "raw_change",
    "recalibrated",
    "model",
]


def _check_ks(k: Any, n_stages: int) -> list[int]:
    if k is None:
        return sorted({0, *(2**i for i in range(n_stages.bit_length()) if 2**i <= n_stages)})
    values = [k] if isinstance(k, Integral | np.integer) else k
    if not isinstance(values, Iterable):
        raise TypeError(f"k must be an int or a sequence of ints >= 0, got {k!r}")
    out = [check_int(v, "k", minimum=0) for v in values]
    if not out:
        raise ValueError("k must contain at least one number of swaps")
    return sorted(set(out))


def _swapped(n_stages: int, k: int, rng: np.random.RandomState) -> tuple[int, ...]:
    """Stages 1..T after ``k`` swaps of random pairs of distinct positions (in turn)."""
    order = list(range(1, n_stages + 1))
    for _ in range(k):
        i, j = rng.choice(n_stages, 2, replace=False)
        order[i], order[j] = order[j], order[i]
    return tuple(order)


def reorder_study(
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
    """Score the network with k random pairs of its blocks swapped, for several draws.

    Veit et al. (2016) reorder a trained ResNet by swapping k randomly chosen pairs of blocks
    and find that its error grows smoothly with the amount of reordering (measured by Kendall's
    tau between the new order and the original), which a plain chain of layers would not
    survive. Each draw starts from the original order and applies k swaps in turn, each of
    two distinct random positions (a later swap may undo an earlier one; ``kendall_tau``
    measures the net effect). A block keeps its weights and stage weight and runs on whatever
    its new predecessor hands it (``estimator.reorder_stages``).

    Parameters
    ----------
    estimator : fitted fboost network
        Anything with ``reorder_stages`` (``ResNetRegressor``, ``ResNetClassifier``).
    X : array-like of shape (n_samples, n_features)
        Data to score on.
    y : array-like of shape (n_samples,)
        Targets.
    scoring : str, callable or None, default=None
        A scikit-learn scorer name or callable ``scorer(estimator, X, y)``; ``None`` uses
        ``estimator.score`` (R^2 or accuracy).
    k : int, sequence of int or None, default=None
        Numbers of swaps, each >= 0 (0 scores the original order once); ``None`` means
        0, 1, 2, 4, ... up to ``n_stages_``.
    n_repeats : int, default=10
        Draws per k >= 1 (>= 1).
    random_state : int, RandomState instance or None, default=None
        Seeds the swaps.
    sample_weight : array-like of shape (n_samples,), default=None
        Passed to the scorer.
    recalibrate : bool, default=False
        Re-estimate the BatchNorm statistics of every scored network on ``X``
        (``recalibrate_batch_norm``), the original order included.

    Returns
    -------
    frame : pandas.DataFrame
        One row per scored order, columns:

        - ``k`` (int): number of swaps; ``repeat`` (int): the draw;
        - ``order`` (tuple of int): the stage numbers in the order they run;
        - ``kendall_tau`` (float): Kendall's tau between ``order`` and ``1..T`` (1: unchanged);
        - ``score``, ``score_change`` (against the original order), ``raw_change`` (RMS change
          of the raw score), ``recalibrated`` (bool), ``model`` (the class name).

    Examples
    --------
    >>> from sklearn.datasets import make_regression
    >>> from fboost import ResNetRegressor
    >>> from fboost.analysis import reorder_study
    >>> X, y = make_regression(n_samples=100, n_features=4, random_state=0)
    >>> net = ResNetRegressor(n_stages=4, d_block=8, max_epochs=2, random_state=0).fit(X, y)
    >>> frame = reorder_study(net, X, y, k=[0, 2], n_repeats=3, random_state=0)
    >>> frame.groupby("k").size().to_dict()
    {0: 1, 2: 3}
    """
    check_additive(estimator, methods=("stage_contributions",))
    if not callable(getattr(estimator, "reorder_stages", None)):
        raise TypeError(
            f"reorder_study needs a network whose blocks can be reordered (reorder_stages); "
            f"{estimator_name(estimator)} has none"
        )
    if not isinstance(recalibrate, bool | np.bool_):
        raise TypeError(f"recalibrate must be a bool, got {recalibrate!r}")
    n_stages = int(estimator.n_stages_)
    ks = _check_ks(k, n_stages)
    n_repeats = check_int(n_repeats, "n_repeats")
    if len(np.asarray(y)) != n_rows(X):
        raise ValueError(f"y has {len(np.asarray(y))} samples but X has {n_rows(X)}")
    rng = check_random_state(random_state)
    scorer = check_scoring(estimator, scoring=scoring)
    kwargs = {} if sample_weight is None else {"sample_weight": sample_weight}
    identity = tuple(range(1, n_stages + 1))

    def scored(order: tuple[int, ...]) -> tuple[float, np.ndarray]:
        model = estimator.reorder_stages(list(order))
        if recalibrate:
            model = model.recalibrate_batch_norm(X)
        return float(scorer(model, X, y, **kwargs)), raw_scores(model, X)

    base_score, base_raw = scored(identity)
    rows: list[dict[str, Any]] = []
    for size in ks:
        for repeat in range(1 if size == 0 else n_repeats):
            order = identity if size == 0 else _swapped(n_stages, size, rng)
            score, raw = (base_score, base_raw) if order == identity else scored(order)
            tau = 1.0 if n_stages < 2 else float(kendalltau(identity, order).statistic)
            rows.append(
                {
                    "k": size,
                    "repeat": repeat,
                    "order": order,
                    "kendall_tau": tau,
                    "score": score,
                    "score_change": score - base_score,
                    "raw_change": float(np.sqrt(np.mean((raw - base_raw) ** 2))),
                    "recalibrated": bool(recalibrate),
                    "model": estimator_name(estimator),
                }
            )
    frame = pd.DataFrame(rows, columns=REORDER_COLUMNS)
    return frame.astype({"k": np.int64, "repeat": np.int64})
