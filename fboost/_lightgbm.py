"""The ``engine="lightgbm"`` backend: LightGBM trains, fboost exposes each iteration as a stage.

LightGBM is not re-implemented: it is fitted through its own scikit-learn wrapper with the mapped
parameters (and ``lgb_params``, checked against LightGBM's parameter list), so raw predictions are
LightGBM's. For the stage view:

- ``F_0`` is LightGBM's boost-from-average score (the bias it folds into the first iteration's
  trees); stage 1 is the first iteration's trees minus that bias;
- contributions come from one ``predict(pred_leaf=True)`` pass (the carry) and a table of leaf
  values read from the model text at the first call that needs it (``LeafValues``), not at fit;
- the full raw score, per-feature contributions (``pred_contrib``) and feature importances use
  LightGBM's own calls over windows of kept iterations, so an intact model answers exactly as
  LightGBM does, and a lesioned one sums the windows that remain.
- the training loss per iteration is read from LightGBM's cached training scores
  (``Booster.__inner_predict``, private in LightGBM 4), not from a training-set metric.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Sequence
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

__all__ = [
    "LeafValues",
    "LightGBMStart",
    "LightGBMStage",
    "LightGBMModel",
    "LightGBMFit",
    "fit_lightgbm",
    "stage_model",
    "check_lgb_params",
    "lightgbm_objective",
]

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


class LeafValues:
    """The stage view's leaf table, read from the model text at its first use, then kept.

    Fitting never pays for it (the issue-11 overhead on many classes was this table and the
    training-set metric); ``stage_contributions`` and ``staged_*`` build it once.
    """

    def __init__(
        self,
        booster: lightgbm.Booster,
        raw0: np.ndarray,
        n_iterations: int,
        lr: float,
        bias_in_trees: bool = True,
    ):
        self.booster, self.raw0, self.n_iterations, self.lr = booster, raw0, n_iterations, lr
        self.bias_in_trees = bias_in_trees
        self._table: np.ndarray | None = None

    def stage(self, iteration: int) -> np.ndarray:
        """``h_t`` of iteration ``iteration`` (0-based): leaf values / learning rate."""
        if self._table is None:
            k = self.raw0.shape[0]
            table = leaf_value_table(self.booster, self.n_iterations * k)
            if self.bias_in_trees:  # iteration 0 carries the bias: split it off as F_0
                table[:k] -= self.raw0[:, None]
            self._table = table / self.lr
        k = self.raw0.shape[0]
        return self._table[iteration * k : (iteration + 1) * k]


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
    leaf_values: LeafValues

    @property
    def values(self) -> np.ndarray:
        """``(K, max_leaves)``: this iteration's leaf values divided by the learning rate."""
        return self.leaf_values.stage(self.iteration)

    def advance(self, X: Any, carry: np.ndarray) -> tuple[np.ndarray, Any]:
        values = self.values
        k = values.shape[0]
        cols = carry[:, self.iteration * k : (self.iteration + 1) * k]
        return np.take_along_axis(values.T, cols, axis=0), carry


class LightGBMModel(AdditiveModel):
    """An additive model whose full raw score is LightGBM's own prediction over kept windows."""

    start: LightGBMStart
    stages: list[LightGBMStage]  # type: ignore[assignment]

    def windows(self) -> list[tuple[int, int]]:
        """The kept iterations as runs ``[a, b)`` of consecutive LightGBM iterations."""
        kept = [stage.iteration for stage in self.stages]
        runs, run_start = [], 0
        for i in range(1, len(kept) + 1):
            if i == len(kept) or kept[i] != kept[i - 1] + 1:
                runs.append((kept[run_start], kept[i - 1] + 1))
                run_start = i
        return runs

    @property
    def bias_dropped(self) -> bool:
        """Whether ``F_0`` is not inside the kept trees: iteration 0 (whose trees carry it) is not
        among the kept stages, or a custom objective started from it as ``init_score``."""
        return not self.start.bias_in_trees or not self.stages or self.stages[0].iteration != 0

    def raw(self, X: Any) -> np.ndarray:
        start = self.start
        n, k = X.shape[0], start.raw.shape[0]
        out = np.zeros((n, k))
        if self.bias_dropped:
            out += start.raw  # the bias lives in iteration 0's trees
        for a, b in self.windows():
            window = start.booster.predict(
                X, start_iteration=a, num_iteration=b - a, raw_score=True
            )
            out += np.asarray(window).reshape(n, k)
        return out

    def _window_contrib(self, X: Any, a: int, b: int) -> np.ndarray:
        """LightGBM's ``pred_contrib`` of iterations ``[a, b)``: ``(n, n_features + 1, K)``."""
        n, k = X.shape[0], self.start.raw.shape[0]
        contrib = self.start.booster.predict(
            X, start_iteration=a, num_iteration=b - a, pred_contrib=True
        )
        if isinstance(contrib, list):  # sparse X, K classes: one sparse matrix per class
            contrib = np.hstack([c.toarray() for c in contrib])
        elif hasattr(contrib, "toarray"):  # sparse X gives sparse contributions
            contrib = contrib.toarray()
        return np.asarray(contrib).reshape(n, k, -1).transpose(0, 2, 1)

    def feature_contributions(self, X: Any) -> np.ndarray:
        """Per-feature contributions plus a last bias column, summed over the kept windows."""
        n, k = X.shape[0], self.start.raw.shape[0]
        out = np.zeros((n, X.shape[1] + 1, k))
        if self.bias_dropped:
            out[:, -1] += self.start.raw
        for a, b in self.windows():
            out += self._window_contrib(X, a, b)
        return out

    def stage_feature_contributions(self, X: Any) -> np.ndarray:
        """``(n_stages + 1, n, n_features + 1, K)``: row 0 ``F_0`` (bias column), then each stage.

        Each stage's row is LightGBM's ``pred_contrib`` over that one iteration, with ``F_0`` moved
        out of iteration 0's bias column into row 0; rows sum over features to the stage's
        contribution and over stages to ``feature_contributions``.
        """
        n, k = X.shape[0], self.start.raw.shape[0]
        out = np.zeros((self.n_stages + 1, n, X.shape[1] + 1, k))
        out[0, :, -1] = self.start.raw
        for row, stage in enumerate(self.stages, start=1):
            out[row] = self._window_contrib(X, stage.iteration, stage.iteration + 1)
            if stage.iteration == 0 and self.start.bias_in_trees:
                out[row, :, -1] -= self.start.raw
        return out

    def feature_importance(self, importance_type: str) -> np.ndarray:
        """LightGBM's ``feature_importance`` over the kept iterations (windows by difference)."""
        booster = self.start.booster

        def upto(b: int) -> np.ndarray:
            return np.asarray(
                booster.feature_importance(importance_type, iteration=b), dtype=np.float64
            )

        total = np.zeros(booster.num_feature())
        for a, b in self.windows():
            total += upto(b) - (upto(a) if a > 0 else 0.0)
        return total if importance_type == "gain" else total.astype(np.int32)


def stage_model(
    booster: lightgbm.Booster, raw0: np.ndarray, n_iter: int, lr: float, bias_in_trees: bool = True
) -> LightGBMModel:
    """The lazy stage view of a fitted booster: ``F_0 = raw0``, one stage per iteration.

    ``bias_in_trees``: LightGBM folded ``raw0`` into the first iteration's trees (boost from
    average); False when it trained from ``init_score`` (a custom objective).
    """
    values = LeafValues(booster, raw0, n_iter, lr, bias_in_trees=bias_in_trees)
    stages = [LightGBMStage(t, values) for t in range(n_iter)]
    start = LightGBMStart(booster, raw0, n_iter, bias_in_trees=bias_in_trees)
    return LightGBMModel(start, stages, np.full(n_iter, lr))


class _ProgressCallback:
    """LightGBM callback that advances a tqdm bar (silent unless verbose)."""

    order = 30

    def __init__(self, bar: Any) -> None:
        self.bar = bar

    def __call__(self, env: Any) -> None:
        self.bar.update()


class _MultinomialTrainLoss:
    """Training log loss after each iteration from LightGBM's cached training probabilities.

    For many classes this is cheaper than evaluating ``multi_logloss`` on the training set in
    LightGBM's loop (which made the fit 1.4x LightGBM's bare fit on 26 classes): the probabilities
    of the true classes are read from the scores LightGBM keeps (``Booster.__inner_predict``,
    private in LightGBM 4; a row per sample, already softmaxed) and averaged in NumPy.
    """

    order = 20

    def __init__(self, y: np.ndarray, sample_weight: np.ndarray) -> None:
        self.rows = (np.arange(len(y)), np.asarray(y, dtype=np.intp))
        self.w = sample_weight / np.sum(sample_weight)
        self.values: list[float] = []

    def __call__(self, env: Any) -> None:
        scores = env.model._Booster__inner_predict(data_idx=0)
        p_true = scores.reshape(len(self.w), -1)[self.rows]
        self.values.append(float(np.dot(self.w, -np.log(np.maximum(p_true, 1e-300)))))


#: LightGBM's metric for each fboost loss, and its factor to fboost's loss value
_METRIC = {
    "squared_error": ("l2", 0.5),
    "binary_log_loss": ("binary_logloss", 1.0),
    "multinomial_log_loss": ("multi_logloss", 1.0),
    # LightGBM's metrics equal fboost's losses for these (Poisson and Gamma without constants)
    "absolute_error": ("l1", 1.0),
    "huber": ("huber", 1.0),
    "quantile": ("quantile", 1.0),
    "poisson": ("poisson", 1.0),
    "gamma": ("gamma", 1.0),
}


@dataclass
class LightGBMFit:
    """What ``fit_lightgbm`` returns."""

    booster: lightgbm.Booster
    model: LightGBMModel
    train_score: np.ndarray
    evals: dict[str, np.ndarray]
    best_iteration: int | None


def fit_lightgbm(
    params: dict[str, Any],
    loss: Loss,
    X: Any,
    y: np.ndarray,
    sample_weight: np.ndarray,
    *,
    eval_sets: Sequence[tuple[str, Any, np.ndarray, np.ndarray]],
    n_iter_no_change: int | None,
    tol: float,
    verbose: int,
    desc: str,
    categorical_feature: list[int],
    init: LightGBMModel | None = None,
    init_train_score: np.ndarray | None = None,
) -> LightGBMFit:
    """Fit LightGBM's scikit-learn wrapper and build the (lazy) stage view.

    ``eval_sets`` are ``(name, X, y, w)``; with ``n_iter_no_change`` LightGBM's own
    ``early_stopping`` callback watches them (``min_delta=tol``) and the model keeps
    ``best_iteration_`` stages, as LightGBM predicts. ``init`` continues a fitted model
    (``init_model``, for warm starts); ``params["n_estimators"]`` is then the number of new
    iterations.
    """
    cls = lightgbm.LGBMClassifier if loss.is_classification else lightgbm.LGBMRegressor
    native = isinstance(loss, _NATIVE)
    if not native:  # LightGBM's Newton trees on the loss's gradient and hessian, from its F_0
        if init is not None:
            raise ValueError(
                f"warm_start=True is not supported with loss={loss.name!r} on engine='lightgbm' "
                "(a custom objective starts from init_score, which LightGBM's init_model "
                "does not continue); refit with warm_start=False"
            )
        params = {**params, "objective": _custom_objective(loss, y), "metric": "None"}
    estimator = cls(**params)
    metric, factor = _METRIC.get(loss.name, (None, 1.0)) if native else (loss.name, 1.0)
    # the training loss: LightGBM's metric on its own cached scores (named "training", so that its
    # early stopping skips it), or for K classes the cheaper callback
    multinomial = isinstance(loss, MultinomialLogLoss)
    train_loss = _MultinomialTrainLoss(y, sample_weight) if multinomial else None
    all_sets = list(eval_sets) if multinomial else [("training", X, y, sample_weight), *eval_sets]
    fit_kwargs: dict[str, Any] = {}
    if all_sets:
        fit_kwargs = {
            "eval_X": tuple(e[1] for e in all_sets),
            "eval_y": tuple(e[2] for e in all_sets),
            "eval_sample_weight": [e[3] for e in all_sets],
            "eval_names": [e[0] for e in all_sets],
            "eval_metric": metric if native else _custom_metric(loss),
        }
    if not native:
        raw0 = loss.init_raw(y, sample_weight)

        def init_score(n: int) -> np.ndarray:
            return np.tile(raw0, (n, 1)).squeeze(axis=1 if len(raw0) == 1 else ())

        fit_kwargs["init_score"] = init_score(len(y))
        if all_sets:
            fit_kwargs["eval_init_score"] = [init_score(len(e[2])) for e in all_sets]
    elif init is None:
        raw0 = lightgbm_init_raw(loss, y, sample_weight)
    else:
        raw0 = init.start.raw
    init_model = None
    if init is not None:
        n_kept = init.n_stages
        init_model = lightgbm.Booster(model_str=init.start.booster.model_to_string(n_kept))
    with progress_bar(params["n_estimators"], verbose, desc) as bar:
        callbacks: list[Any] = [_ProgressCallback(bar)]
        if train_loss is not None:
            callbacks.append(train_loss)
        if n_iter_no_change is not None:
            callbacks.append(
                lightgbm.early_stopping(n_iter_no_change, verbose=False, min_delta=tol)
            )
        estimator.fit(
            X,
            y,
            sample_weight=sample_weight,
            categorical_feature=categorical_feature or "auto",
            callbacks=callbacks,
            init_model=init_model,
            **fit_kwargs,
        )
    booster = estimator.booster_
    best = estimator.best_iteration_ if n_iter_no_change is not None else None
    n_iter = best if best else booster.current_iteration()
    model = stage_model(booster, raw0, n_iter, float(params["learning_rate"]), native)
    results = estimator.evals_result_ if all_sets else {}

    def history(name: str) -> np.ndarray:
        # a loss without a LightGBM metric here reports the objective's default metric
        return factor * np.asarray(
            results[name][metric] if metric else [*results[name].values()][0]
        )

    train_score = np.asarray(train_loss.values) if train_loss else history("training")
    if init_train_score is not None:
        train_score = np.concatenate([init_train_score[: init.n_stages], train_score])  # type: ignore[union-attr]
    evals = {name: history(name) for name, *_ in eval_sets}
    return LightGBMFit(booster, model, train_score[:n_iter], evals, best or None)


#: LightGBM parameters (canonical names) that fboost sets from its own named parameters
_NAMED = {
    "num_iterations": "n_stages",
    "learning_rate": "learning_rate",
    "num_leaves": "num_leaves",
    "max_depth": "max_depth",
    "min_data_in_leaf": "min_samples_leaf",
    "bagging_fraction": "subsample",
    "bagging_freq": "subsample",
    "feature_fraction": "colsample_bytree",
    "lambda_l2": "reg_lambda",
    "lambda_l1": "reg_alpha",
    "min_sum_hessian_in_leaf": "min_child_weight",
    "max_bin": "max_bin",
    "num_threads": "n_jobs",
    "seed": "random_state",
    "verbosity": "verbose",
    "objective": "the loss",
    "num_class": "the classes of y",
    "metric": "the loss (evals_result_ reports it)",
    "early_stopping_round": "n_iter_no_change",
    "early_stopping_min_delta": "tol",
    "first_metric_only": "n_iter_no_change",
    "categorical_feature": "categorical_features",
}
#: named parameters that fboost leaves to LightGBM when they are None
_UNSET_WHEN_NONE = {"num_threads": "n_jobs", "seed": "random_state"}
#: parameter values the stage view cannot represent
_UNSUPPORTED = {"boosting": ("rf",), "linear_tree": (True,)}


@functools.cache
def _lightgbm_aliases() -> dict[str, str]:
    """Every LightGBM parameter name and alias -> its canonical name (LightGBM's own list)."""
    from lightgbm.basic import _ConfigAliases

    table = _ConfigAliases._get_all_param_aliases()
    return {alias: name for name, aliases in table.items() for alias in [name, *aliases]}


def check_lgb_params(lgb_params: dict[str, Any] | None, named: dict[str, Any]) -> dict[str, Any]:
    """Validate ``lgb_params`` against LightGBM's parameter list; return it as a new dict.

    ``named`` maps fboost's parameter names to their values. A key LightGBM does not know raises
    ``ValueError`` with LightGBM's closest names; a key (or alias) that an fboost parameter sets
    raises ``ValueError`` naming that parameter (``n_jobs`` and ``random_state`` only when set),
    as do ``boosting="rf"`` and ``linear_tree=True``, which the stage view cannot represent.
    """
    if lgb_params is None:
        return {}
    if not isinstance(lgb_params, dict):
        raise TypeError(f"lgb_params must be a dict or None, got {type(lgb_params).__name__}")
    aliases = _lightgbm_aliases()
    out: dict[str, Any] = {}
    for key, value in lgb_params.items():
        name = aliases.get(key)
        if name is None:
            close = difflib.get_close_matches(str(key), list(aliases), n=3, cutoff=0.6)
            hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
            raise ValueError(f"lgb_params: {key!r} is not a LightGBM parameter{hint}")
        owner = _NAMED.get(name)
        if name in _UNSET_WHEN_NONE and named.get(_UNSET_WHEN_NONE[name]) is None:
            owner = None
        if owner is not None:
            raise ValueError(
                f"lgb_params: {key!r} (LightGBM's {name!r}) is set by {owner}; set it there, "
                "not in lgb_params"
            )
        if value in _UNSUPPORTED.get(name, ()):
            raise ValueError(
                f"lgb_params: {key}={value!r} is not supported: the stage view needs each "
                "iteration's trees to add constant leaf values to the raw score"
            )
        out[key] = value
    return out


def eval_pairs(eval_set: Any, eval_sample_weight: Any) -> list[tuple[int, Any, Any]]:
    """``fit(eval_set=..., eval_sample_weight=...)`` as ``(index, (X, y), weight)`` triples: one
    ``(X, y)`` pair or a list of them, weights one per pair (or None); shape errors name the
    argument. Both engines and the Dask path validate each pair's contents themselves."""
    if eval_set is None:
        if eval_sample_weight is not None:
            raise ValueError("eval_sample_weight is given but eval_set is None")
        return []
    if isinstance(eval_set, tuple) and len(eval_set) == 2 and not isinstance(eval_set[0], tuple):
        eval_set = [eval_set]
    eval_set = list(eval_set)
    weights = [None] * len(eval_set) if eval_sample_weight is None else list(eval_sample_weight)
    if len(weights) != len(eval_set):
        raise ValueError(
            f"eval_sample_weight has {len(weights)} entries for {len(eval_set)} eval_set pairs"
        )
    triples = []
    for i, (pair, w) in enumerate(zip(eval_set, weights, strict=True)):
        if not isinstance(pair, tuple | list) or len(pair) != 2:
            raise ValueError(f"eval_set[{i}] must be an (X, y) pair, got {type(pair).__name__}")
        triples.append((i, pair, w))
    return triples
