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
from .losses import BinaryLogLoss, Loss, MultinomialLogLoss, SquaredError

__all__ = [
    "LeafValues",
    "LightGBMStart",
    "LightGBMStage",
    "LightGBMModel",
    "LightGBMFit",
    "fit_lightgbm",
    "check_lgb_params",
]

_K_EPSILON = 1e-15  # LightGBM's kEpsilon: below it no bias is added to the first trees


def lightgbm_init_raw(loss: Loss, y: np.ndarray, sample_weight: np.ndarray | None) -> np.ndarray:
    """The boost-from-average score LightGBM adds to its first trees (labels are float32 there)."""
    y32 = y.astype(np.float32).astype(np.float64)
    w = None if sample_weight is None else sample_weight.astype(np.float32).astype(np.float64)
    sum_w = float(len(y32)) if w is None else float(np.sum(w))
    if isinstance(loss, SquaredError):
        init = np.array([np.sum(y32 if w is None else y32 * w) / sum_w])
    elif isinstance(loss, BinaryLogLoss):
        p = float(np.sum(y32 if w is None else y32 * w)) / sum_w
        p = min(max(p, _K_EPSILON), 1.0 - _K_EPSILON)
        init = np.array([np.log(p / (1.0 - p))])
    elif isinstance(loss, MultinomialLogLoss):
        counts = np.bincount(y.astype(np.intp), weights=w, minlength=loss.n_outputs)
        init = np.log(np.maximum(_K_EPSILON, counts / sum_w))
    else:  # pragma: no cover - the estimators only build the three losses above
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

    def __init__(self, booster: lightgbm.Booster, raw0: np.ndarray, n_iterations: int, lr: float):
        self.booster, self.raw0, self.n_iterations, self.lr = booster, raw0, n_iterations, lr
        self._table: np.ndarray | None = None

    def stage(self, iteration: int) -> np.ndarray:
        """``h_t`` of iteration ``iteration`` (0-based): leaf values / learning rate."""
        if self._table is None:
            k = self.raw0.shape[0]
            table = leaf_value_table(self.booster, self.n_iterations * k)
            table[:k] -= self.raw0[:, None]  # iteration 0 carries the bias: split it off as F_0
            self._table = table / self.lr
        k = self.raw0.shape[0]
        return self._table[iteration * k : (iteration + 1) * k]


@dataclass(frozen=True)
class LightGBMStart:
    """``F_0`` plus the carry: the leaf index of every sample in every kept tree, in one pass."""

    booster: lightgbm.Booster
    raw: np.ndarray
    n_iterations: int

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
        """Whether iteration 0 (whose trees carry ``F_0``) is not among the kept stages."""
        return not self.stages or self.stages[0].iteration != 0

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
            if stage.iteration == 0:
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
    estimator = cls(**params)
    metric, factor = _METRIC.get(loss.name, (None, 1.0))
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
            "eval_metric": metric,
        }
    raw0 = lightgbm_init_raw(loss, y, sample_weight) if init is None else init.start.raw
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
    lr = float(params["learning_rate"])
    values = LeafValues(booster, raw0, n_iter, lr)
    stages = [LightGBMStage(t, values) for t in range(n_iter)]
    model = LightGBMModel(LightGBMStart(booster, raw0, n_iter), stages, np.full(n_iter, lr))
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
