"""The ``engine="lightgbm"`` backend: LightGBM trains, fboost exposes each iteration as a stage.

LightGBM is not re-implemented: it is fitted through its own scikit-learn wrapper with the mapped
parameters, so raw predictions are LightGBM's. For the stage view:

- ``F_0`` is LightGBM's boost-from-average score (the bias it folds into the first iteration's
  trees); stage 1 is the first iteration's trees minus that bias;
- contributions come from one ``predict(pred_leaf=True)`` pass (the carry) and a table of leaf
  values read from the model text, not from one ``predict`` call per stage;
- the full raw score uses LightGBM's own ``predict`` over windows of kept iterations, so an intact
  model predicts exactly as LightGBM does, and a lesioned one sums the windows that remain.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import lightgbm
import numpy as np

from ._training import progress_bar
from .additive import AdditiveModel
from .losses import (
    AbsoluteError,
    BinaryLogLoss,
    GammaLoss,
    HuberLoss,
    Loss,
    MultinomialLogLoss,
    PoissonLoss,
    QuantileLoss,
    SquaredError,
)

__all__ = ["LightGBMStart", "LightGBMStage", "LightGBMModel", "fit_lightgbm", "lightgbm_objective"]

_K_EPSILON = 1e-15  # LightGBM's kEpsilon: below it no bias is added to the first trees


#: fboost's loss names to LightGBM's objectives (squared error and log loss are the defaults)
_OBJECTIVES = {
    "absolute_error": "regression_l1",
    "huber": "huber",
    "quantile": "quantile",
    "poisson": "poisson",
    "gamma": "gamma",
}


#: the losses LightGBM has as objectives; any other ``Loss`` is passed as a custom objective
_NATIVE = (
    SquaredError,
    BinaryLogLoss,
    MultinomialLogLoss,
    AbsoluteError,
    HuberLoss,
    QuantileLoss,
    PoissonLoss,
    GammaLoss,
)


def lightgbm_objective(loss: Any, alpha: float) -> dict[str, Any]:
    """LightGBM's ``objective`` (and ``alpha``) for an estimator's ``loss=`` option.

    Empty for squared error and log loss (LightGBM's defaults) and for losses LightGBM lacks
    (``"exponential"``, a user's ``Loss``): ``fit_lightgbm`` passes those as a custom objective.
    """
    if isinstance(loss, str) and loss in _OBJECTIVES:
        params: dict[str, Any] = {"objective": _OBJECTIVES[loss]}
        if loss in ("huber", "quantile"):
            params["alpha"] = alpha
        return params
    return {}


def _custom_objective(loss: Loss, y: np.ndarray) -> Any:
    """A LightGBM objective from a fboost loss: its gradient and hessian, times the weights."""

    def objective(_: np.ndarray, raw: np.ndarray, weight: np.ndarray | None) -> tuple:
        raw = np.asarray(raw, dtype=np.float64).reshape(len(y), loss.n_outputs)
        gradient, hessian = loss.gradient(y, raw), loss.hessian(y, raw)
        if weight is not None:
            gradient, hessian = gradient * weight[:, None], hessian * weight[:, None]
        if loss.n_outputs == 1:
            return gradient[:, 0], hessian[:, 0]
        return gradient, hessian

    return objective


def _custom_metric(loss: Loss) -> Any:
    """A LightGBM eval metric that is the loss (on LightGBM's float32 labels)."""

    def metric(labels: np.ndarray, raw: np.ndarray, weight: np.ndarray | None) -> tuple:
        labels = np.asarray(labels, dtype=np.float64)
        raw = np.asarray(raw, dtype=np.float64).reshape(len(labels), loss.n_outputs)
        return loss.name, loss.value(labels, raw, weight), False

    return metric


def _lightgbm_percentile(y32: np.ndarray, w32: np.ndarray | None, alpha: Any) -> float:
    """LightGBM's ``PercentileFun`` / ``WeightedPercentileFun`` on float32 labels, bit for bit.

    ``alpha`` is a Python float (double) for L1's median and a float32 for ``quantile``, as in
    LightGBM's C++; the arithmetic follows its types.
    """
    n = len(y32)
    if n <= 1:
        return float(y32[0])
    if w32 is None:
        # (1.0f - alpha) in alpha's type, times (cnt_data - 1) in double
        float_pos = float(np.float32(1.0) - alpha if isinstance(alpha, np.float32) else 1.0 - alpha)
        float_pos *= n - 1
        pos = int(float_pos) + 1
        if pos < 1:
            return float(np.max(y32))
        if pos >= n:
            return float(np.min(y32))
        bias = float_pos - (pos - 1)
        desc = np.sort(y32)[::-1]
        v1, v2 = desc[pos - 1], desc[pos]
        return float(np.float32(float(v1) - float(np.float32(v1 - v2)) * bias))
    order = np.argsort(y32, kind="stable")
    cdf = np.cumsum(w32[order].astype(np.float64))
    threshold = float(cdf[-1]) * float(alpha)
    pos = min(int(np.searchsorted(cdf, threshold, side="right")), n - 1)
    if pos == 0 or pos == n - 1:
        return float(y32[order[pos]])
    v1, v2 = y32[order[pos - 1]], y32[order[pos]]
    step = float(cdf[pos] - cdf[pos - 1])
    if step >= 1.0:
        t = (threshold - float(cdf[pos - 1])) / step
        return float(np.float32(t * float(np.float32(v2 - v1)) + float(v1)))
    return float(v1)


def lightgbm_init_raw(loss: Loss, y: np.ndarray, sample_weight: np.ndarray | None) -> np.ndarray:
    """The boost-from-average score LightGBM adds to its first trees (labels are float32 there)."""
    y32 = y.astype(np.float32).astype(np.float64)
    w = None if sample_weight is None else sample_weight.astype(np.float32).astype(np.float64)
    sum_w = float(len(y32)) if w is None else float(np.cumsum(w)[-1])
    if isinstance(loss, (SquaredError, HuberLoss)) or loss.name in ("poisson", "gamma"):
        # float label * float weight (exact in double), summed in row order (one thread)
        terms = y32 if w is None else y32 * w
        init = np.array([np.cumsum(terms, dtype=np.float64)[-1] / sum_w])
        if loss.name in ("poisson", "gamma"):  # LightGBM's SafeLog of the mean
            init = np.log(init) if init[0] > 0 else np.array([-np.inf])
    elif loss.name in ("absolute_error", "quantile"):
        w_used = None if w is None or np.all(w == 1) else w.astype(np.float32)
        alpha = np.float32(loss.quantile) if isinstance(loss, QuantileLoss) else 0.5
        init = np.array([_lightgbm_percentile(y.astype(np.float32), w_used, alpha)])
    elif isinstance(loss, BinaryLogLoss):
        p = float(np.sum(y32 if w is None else y32 * w)) / sum_w
        p = min(max(p, _K_EPSILON), 1.0 - _K_EPSILON)
        init = np.array([np.log(p / (1.0 - p))])
    elif isinstance(loss, MultinomialLogLoss):
        counts = np.bincount(y.astype(np.intp), weights=w, minlength=loss.n_outputs)
        init = np.log(np.maximum(_K_EPSILON, counts / sum_w))
    else:  # pragma: no cover - lightgbm_objective lets no other loss through
        raise TypeError(f"no LightGBM objective for {loss!r}")
    return np.where(np.abs(init) > _K_EPSILON, init, 0.0)


def leaf_value_table(booster: lightgbm.Booster, n_trees: int) -> np.ndarray:
    """Leaf values of the first ``n_trees`` trees, ``(n_trees, max_leaves)``, zero-padded.

    Read from the model text, which LightGBM writes with round-trip precision (17 digits): the
    values are LightGBM's doubles exactly, at a fraction of the cost of ``dump_model``'s JSON.
    """
    rows: list[np.ndarray] = []
    for line in booster.model_to_string(num_iteration=-1).splitlines():
        if line.startswith("leaf_value="):
            rows.append(np.array(line[len("leaf_value=") :].split(), dtype=np.float64))
            if len(rows) == n_trees:
                break
    table = np.zeros((n_trees, max((len(r) for r in rows), default=1)))
    for i, values in enumerate(rows):
        table[i, : len(values)] = values
    return table


@dataclass(frozen=True)
class LightGBMStart:
    """``F_0`` plus the carry: the leaf index of every sample in every kept tree, in one pass."""

    booster: lightgbm.Booster
    raw: np.ndarray
    n_iterations: int
    #: False for a custom objective: F_0 is LightGBM's init_score, not folded into the trees
    bias_in_trees: bool = True

    def __call__(self, X: Any) -> tuple[np.ndarray, Any]:
        n, k = X.shape[0], self.raw.shape[0]
        leaves = self.booster.predict(X, pred_leaf=True, num_iteration=self.n_iterations)
        leaves = np.asarray(leaves, dtype=np.intp).reshape(n, self.n_iterations * k)
        return np.broadcast_to(self.raw, (n, k)).copy(), leaves


@dataclass(frozen=True)
class LightGBMStage:
    """One LightGBM iteration: ``h_t`` = leaf values / learning rate for its K trees."""

    iteration: int
    values: np.ndarray  # (K, max_leaves)

    def advance(self, X: Any, carry: np.ndarray) -> tuple[np.ndarray, Any]:
        k = self.values.shape[0]
        cols = carry[:, self.iteration * k : (self.iteration + 1) * k]
        return np.take_along_axis(self.values.T, cols, axis=0), carry


class LightGBMModel(AdditiveModel):
    """An additive model whose full raw score is LightGBM's own prediction over kept windows."""

    start: LightGBMStart
    stages: list[LightGBMStage]  # type: ignore[assignment]

    def raw(self, X: Any) -> np.ndarray:
        start = self.start
        n, k = X.shape[0], start.raw.shape[0]
        kept = [stage.iteration for stage in self.stages]
        out = np.zeros((n, k))
        if not start.bias_in_trees or not kept or kept[0] != 0:
            out += start.raw  # otherwise the bias lives in iteration 0's trees
        run_start = 0
        for i in range(1, len(kept) + 1):
            if i == len(kept) or kept[i] != kept[i - 1] + 1:
                a, b = kept[run_start], kept[i - 1] + 1
                window = start.booster.predict(
                    X, start_iteration=a, num_iteration=b - a, raw_score=True
                )
                out += np.asarray(window).reshape(n, k)
                run_start = i
        return out


class _ProgressCallback:
    """LightGBM callback that advances a tqdm bar (silent unless verbose)."""

    order = 30

    def __init__(self, bar: Any) -> None:
        self.bar = bar

    def __call__(self, env: Any) -> None:
        self.bar.update()


_METRIC = {
    "squared_error": ("l2", 0.5),
    "binary_log_loss": ("binary_logloss", 1.0),
    # LightGBM's metrics equal fboost's losses for these (Poisson and Gamma without constants)
    "absolute_error": ("l1", 1.0),
    "huber": ("huber", 1.0),
    "quantile": ("quantile", 1.0),
    "poisson": ("poisson", 1.0),
    "gamma": ("gamma", 1.0),
}


def fit_lightgbm(
    params: dict[str, Any],
    loss: Loss,
    X: np.ndarray,
    y: np.ndarray,
    sample_weight: np.ndarray,
    *,
    X_val: np.ndarray | None,
    y_val: np.ndarray | None,
    w_val: np.ndarray | None,
    n_iter_no_change: int | None,
    tol: float,
    verbose: int,
    desc: str,
) -> tuple[Any, LightGBMModel, np.ndarray, np.ndarray]:
    """Fit LightGBM's scikit-learn wrapper; return it, the stage model and the loss histories."""
    classification = loss.is_classification
    cls = lightgbm.LGBMClassifier if classification else lightgbm.LGBMRegressor
    native = isinstance(loss, _NATIVE)
    fit_kwargs: dict[str, Any] = {}
    if not native:  # LightGBM's Newton trees on the loss's gradient and hessian, from its F_0
        raw0 = loss.init_raw(y, sample_weight)
        params = {**params, "objective": _custom_objective(loss, y), "metric": "None"}
        scores = [
            np.tile(raw0, (len(rows), 1)).squeeze(axis=1 if len(raw0) == 1 else ())
            for rows in ([y] if y_val is None else [y, y_val])
        ]
        fit_kwargs = {"init_score": scores[0], "eval_init_score": scores}
    estimator = cls(**params)
    # the training set first (LightGBM reuses its cached scores for it), then the held-out set
    eval_X, eval_y = [X], [y]
    eval_weights: list[Any] = [sample_weight]
    if X_val is not None:
        eval_X.append(X_val)
        eval_y.append(y_val)  # type: ignore[arg-type]
        eval_weights.append(w_val)
    metric, factor = _METRIC.get(loss.name, ("multi_logloss", 1.0)) if native else (loss.name, 1)
    eval_metric: Any = metric if native else _custom_metric(loss)
    with progress_bar(params["n_estimators"], verbose, desc) as bar:
        callbacks: list[Any] = [_ProgressCallback(bar)]
        if n_iter_no_change is not None:
            callbacks.append(
                lightgbm.early_stopping(n_iter_no_change, verbose=False, min_delta=tol)
            )
        estimator.fit(
            X,
            y,
            sample_weight=sample_weight,
            eval_X=tuple(eval_X),
            eval_y=tuple(eval_y),
            eval_sample_weight=eval_weights,
            eval_metric=eval_metric,
            callbacks=callbacks,
            **fit_kwargs,
        )
    booster = estimator.booster_
    best = estimator.best_iteration_ if n_iter_no_change is not None else 0
    n_iter = best if best and best > 0 else booster.current_iteration()
    k = loss.n_outputs
    table = leaf_value_table(booster, n_iter * k)
    if native:
        raw0 = lightgbm_init_raw(loss, y, sample_weight)
        table[:k] -= raw0[:, None]  # iteration 0 carries the bias: split it off as F_0
    lr = float(params["learning_rate"])
    stages = [LightGBMStage(t, table[t * k : (t + 1) * k] / lr) for t in range(n_iter)]
    start = LightGBMStart(booster, raw0, n_iter, bias_in_trees=native)
    model = LightGBMModel(start, stages, np.full(n_iter, lr))
    results = estimator.evals_result_
    names = list(results)
    train_score = factor * np.asarray(results[names[0]][metric][:n_iter])
    val_score = factor * np.asarray(results[names[1]][metric]) if len(names) > 1 else np.array([])
    return estimator, model, train_score, val_score
