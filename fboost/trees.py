"""Gradient-boosted trees with two engines behind one stage view.

- ``engine="lightgbm"`` (default): LightGBM trains; every iteration is a stage (one tree per class
  and iteration for multiclass). Raw predictions are LightGBM's own; NaN in X is taken as missing.
- ``engine="sklearn"``: the transparent Friedman loop of ``fboost.function_space``, each stage a
  ``DecisionTreeRegressor`` fitted to the negative gradient with scikit-learn's Newton leaf step.
  With matching parameters it reproduces ``sklearn.ensemble.GradientBoosting*``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
import scipy.sparse
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _check_sample_weight, check_is_fitted

from . import _dask, _numeric
from . import _tree_shap as tree_shap
from ._categorical import CategoricalEncoding
from ._lightgbm import (
    LightGBMModel,
    check_lgb_params,
    eval_pairs,
    fit_lightgbm,
    lightgbm_objective,
)
from ._training import split_validation
from .base import AdditiveClassifierMixin, AdditiveEstimator, AdditiveRegressorMixin
from .function_space import TreeNewtonFitter, fit_estimator_stages

__all__ = ["TreeBoostingRegressor", "TreeBoostingClassifier"]

#: parameters only the LightGBM engine has, with their defaults (LightGBM's own)
_LIGHTGBM_ONLY = {
    "colsample_bytree": 1.0,
    "reg_lambda": 0.0,
    "reg_alpha": 0.0,
    "min_child_weight": 1e-3,
    "max_bin": 255,
    "n_jobs": None,
}


def _default_n_jobs() -> int | None:
    """``OMP_NUM_THREADS`` when set, else LightGBM's own default (its physical core count).

    LightGBM's scikit-learn wrapper ignores ``OMP_NUM_THREADS``; honouring it keeps LightGBM from
    oversubscribing cores that other processes were promised (its spinning threads then slow
    down a hundredfold).
    """
    value = os.environ.get("OMP_NUM_THREADS", "")
    return int(value) if value.isdigit() and int(value) > 0 else None


class _TreeBoostingBase(AdditiveEstimator):
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **AdditiveEstimator._parameter_constraints,
        "engine": [StrOptions({"lightgbm", "sklearn"})],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "num_leaves": [Interval(Integral, 2, None, closed="left")],
        "max_depth": [Interval(Integral, 1, None, closed="left"), None],
        "min_samples_leaf": [Interval(Integral, 1, None, closed="left")],
        "subsample": [Interval(Real, 0, 1, closed="right")],
        "colsample_bytree": [Interval(Real, 0, 1, closed="right")],
        "reg_lambda": [Interval(Real, 0, None, closed="left")],
        "reg_alpha": [Interval(Real, 0, None, closed="left")],
        "min_child_weight": [Interval(Real, 0, None, closed="left")],
        "max_bin": [Interval(Integral, 2, None, closed="left")],
        "n_jobs": [Integral, None],
        "importance_type": [StrOptions({"split", "gain"})],
        "categorical_features": ["array-like", None],
        "lgb_params": [dict, None],
        "warm_start": ["boolean"],
        "client": [object, None],  # a distributed.Client, checked when a Dask X comes
    }

    def __init__(
        self,
        *,
        engine: str = "lightgbm",
        n_stages: int = 100,
        learning_rate: float = 0.1,
        num_leaves: int = 31,
        max_depth: int | None = None,
        min_samples_leaf: int = 20,
        subsample: float = 1.0,
        colsample_bytree: float = 1.0,
        reg_lambda: float = 0.0,
        reg_alpha: float = 0.0,
        min_child_weight: float = 1e-3,
        max_bin: int = 255,
        n_jobs: int | None = None,
        n_iter_no_change: int | None = None,
        validation_fraction: float = 0.1,
        tol: float = 1e-4,
        importance_type: str = "split",
        categorical_features: Sequence[int | str] | None = None,
        lgb_params: dict[str, Any] | None = None,
        warm_start: bool = False,
        random_state: Any = None,
        verbose: int = 0,
        loss: Any = None,
        alpha: float = 0.9,
        client: Any = None,
    ) -> None:
        self.engine = engine
        self.n_stages = n_stages
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.reg_alpha = reg_alpha
        self.min_child_weight = min_child_weight
        self.max_bin = max_bin
        self.n_jobs = n_jobs
        self.n_iter_no_change = n_iter_no_change
        self.validation_fraction = validation_fraction
        self.tol = tol
        self.importance_type = importance_type
        self.categorical_features = categorical_features
        self.lgb_params = lgb_params
        self.warm_start = warm_start
        self.random_state = random_state
        self.verbose = verbose
        self.loss = loss
        self.alpha = alpha
        self.client = client

    def _allow_nan(self) -> bool:
        return self.engine == "lightgbm"

    def _loss_options(self) -> dict[str, Any]:
        # LightGBM's huber takes alpha as the threshold itself; scikit-learn's as a quantile
        huber = self.loss == "huber" and self.engine == "lightgbm"
        return {"huber_delta": self.alpha} if huber else {}

    def _accept_sparse(self) -> list[str] | bool:
        return ["csr", "csc"] if self.engine == "lightgbm" else False

    def _input_dtype(self) -> type:
        # scikit-learn's gradient boosting grows its trees on float32 input
        return np.float32 if self.engine == "sklearn" else np.float64

    def _feature_range(self) -> _numeric.Range:
        sklearn = self.engine == "sklearn"
        return _numeric.SKLEARN_TREE_FEATURES if sklearn else _numeric.LIGHTGBM_FEATURES

    def _target_range(self) -> _numeric.Range:
        sklearn = self.engine == "sklearn"
        return _numeric.SKLEARN_TREE_TARGETS if sklearn else _numeric.LIGHTGBM_TARGETS

    # -- input: categorical columns go to LightGBM natively -------------------------------------
    def _validate_fit_data(self, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        if self.engine == "lightgbm":
            self._categorical = CategoricalEncoding.fit(X, self.categorical_features)
            X = self._categorical.transform(X)
        elif self.categorical_features is not None and len(self.categorical_features) > 0:
            raise ValueError(
                f"categorical_features={list(self.categorical_features)!r} needs "
                "engine='lightgbm'; engine='sklearn' takes numeric features only"
            )
        X, y = super()._validate_fit_data(X, y)
        return self._prepare_X(X), y

    def _prepare_X(self, X: Any) -> Any:
        # LightGBM takes scipy's sparse matrices, not its sparse arrays
        if scipy.sparse.issparse(X) and not isinstance(X, scipy.sparse.spmatrix):
            return scipy.sparse.csr_matrix(X) if X.format == "csr" else scipy.sparse.csc_matrix(X)
        return X

    def _validate_X(self, X: Any) -> Any:
        encoding = getattr(self, "_categorical", None)
        if self.engine == "lightgbm" and encoding is not None:
            X = encoding.transform(X)
        return super()._validate_X(X)

    @property
    def categorical_features_(self) -> list[int]:
        """Positions of the features LightGBM took as categorical."""
        check_is_fitted(self)
        encoding = getattr(self, "_categorical", None)
        return [] if encoding is None else list(encoding.indices)

    # -- fit ------------------------------------------------------------------------------------
    def fit(
        self,
        X: Any,
        y: Any,
        sample_weight: Any = None,
        *,
        eval_set: Sequence[tuple[Any, Any]] | None = None,
        eval_sample_weight: Sequence[Any] | None = None,
    ) -> _TreeBoostingBase:
        """Fit the boosted trees stage by stage.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), dask array or DataFrame
            Training data; a pandas frame's ``category`` columns are categorical features
            (engine "lightgbm"). The lightgbm engine takes NaN as missing. A Dask collection
            trains on the cluster through ``lightgbm.dask`` (engine "lightgbm" only; see
            Notes); y, sample_weight and every eval_set part must then be dask arrays or
            Series partitioned like X (``TypeError`` otherwise).
        y : array-like of shape (n_samples,)
            Targets: real values for the regressor, any labels for the classifier.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights; ``None`` weighs every sample 1.
        eval_set : list of (X, y) pairs, default=None
            Validation sets, as LightGBM's ``fit`` takes them: each loss is recorded after every
            stage in ``evals_result_`` (``"valid_0"``, ``"valid_1"``, ...), and with
            ``n_iter_no_change`` they replace the held-out ``validation_fraction``: LightGBM's
            early-stopping callback watches all of them (engine "lightgbm"), scikit-learn's rule
            watches the first (engine "sklearn"). In a ``Pipeline`` (with metadata routing) the
            sets reach the estimator as given: earlier steps do not transform them.
        eval_sample_weight : list of array-like or None, default=None
            Weights of each ``eval_set`` (one entry per set, ``None`` for ones).

        Returns
        -------
        self : object
            The fitted estimator.
        """
        if _dask.any_dask(X, y, sample_weight, eval_set, eval_sample_weight):
            _dask.fit_dask(self, X, y, sample_weight, eval_set, eval_sample_weight)
            return self
        if self.client is not None:
            raise ValueError(
                f"client is given but X is not a Dask collection (got {type(X).__name__}); "
                "client= is for Dask input: pass X as a dask array or DataFrame, or client=None"
            )
        warm = self._warm_model()
        X, y, sample_weight = self._validate_fit_inputs(X, y, sample_weight)
        if warm is not None and self.loss_ != warm[1]:
            raise ValueError(
                f"warm_start=True continues a model fitted to {warm[1]!r}; this y gives "
                f"{self.loss_!r}"
            )
        eval_sets = self._validate_eval_sets(eval_set, eval_sample_weight)
        if self.engine == "sklearn":
            self._fit_sklearn(X, y, sample_weight, eval_sets)
        else:
            self._fit_lightgbm(X, y, sample_weight, eval_sets, warm)
        return self

    def _warm_model(self) -> tuple[Any, Any, np.ndarray] | None:
        """The fitted model, loss and train score a warm start continues, or None."""
        if not self.warm_start or not hasattr(self, "model_"):
            return None
        if self.n_stages < self.model_.n_stages:
            raise ValueError(
                f"n_stages={self.n_stages} must be >= n_stages_={self.model_.n_stages} when "
                "warm_start=True"
            )
        stages = self.model_.stages
        if self.engine == "lightgbm" and (
            not isinstance(self.model_, LightGBMModel)
            or [s.iteration for s in self.model_.stages] != list(range(len(stages)))
        ):
            raise ValueError(
                "warm_start=True continues the model this estimator fitted with "
                "engine='lightgbm'; this one was fitted by the other engine or is lesioned"
            )
        if self.engine == "sklearn" and isinstance(self.model_, LightGBMModel):
            raise ValueError("warm_start=True cannot switch a fitted model's engine")
        return self.model_, self.loss_, self.train_score_

    def _validate_eval_sets(
        self, eval_set: Any, eval_sample_weight: Any
    ) -> list[tuple[str, Any, np.ndarray, np.ndarray]]:
        sets = []
        for i, pair, w in eval_pairs(eval_set, eval_sample_weight):
            try:
                X_eval = self._validate_X(pair[0])
            except ValueError as exc:
                raise ValueError(f"eval_set[{i}]: {exc}") from exc
            y_eval = self._encode_eval_y(np.asarray(pair[1]), i)
            if len(y_eval) != X_eval.shape[0]:
                raise ValueError(
                    f"eval_set[{i}]: X has {X_eval.shape[0]} rows but y has {len(y_eval)}"
                )
            try:
                w_eval = _check_sample_weight(w, X_eval, dtype=np.float64, ensure_non_negative=True)
            except ValueError as exc:
                raise ValueError(f"eval_sample_weight[{i}]: {exc}") from exc
            sets.append((f"valid_{i}", X_eval, y_eval, w_eval))
        return sets

    def _encode_eval_y(self, y: np.ndarray, i: int) -> np.ndarray:
        y = y.reshape(-1)
        if not self.loss_.is_classification:
            return y.astype(np.float64)
        classes = self.classes_
        unknown = sorted(set(y.tolist()) - set(classes.tolist()))
        if unknown:
            raise ValueError(
                f"eval_set[{i}]: y has labels {unknown} not seen in fit (classes_ are "
                f"{classes.tolist()})"
            )
        return np.searchsorted(classes, y).astype(np.int64)

    # -- engine="sklearn" -----------------------------------------------------------------------
    def _fit_sklearn(
        self, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray, eval_sets: list[Any]
    ) -> None:
        changed = [
            name for name, default in _LIGHTGBM_ONLY.items() if getattr(self, name) != default
        ]
        if self.lgb_params:
            changed.append("lgb_params")
        if changed:
            raise ValueError(
                f"{', '.join(changed)} only apply to engine='lightgbm'; engine='sklearn' takes "
                f"n_stages, learning_rate, num_leaves, max_depth, min_samples_leaf and subsample"
            )
        tree_params = {
            "criterion": "squared_error",
            "splitter": "best",
            "max_depth": self.max_depth,
            "min_samples_leaf": self.min_samples_leaf,
            "max_leaf_nodes": self.num_leaves,
        }
        fitter = TreeNewtonFitter(self.loss_, self.learning_rate, tree_params)
        fit_estimator_stages(self, fitter, X, y, sample_weight, eval_sets)
        self.booster_: Any = None
        self.best_iteration_: int | None = None

    # -- engine="lightgbm" ----------------------------------------------------------------------
    def lightgbm_params(self) -> dict[str, Any]:
        """The keyword arguments this estimator passes to ``LGBMRegressor`` / ``LGBMClassifier``.

        Its named parameters mapped to LightGBM's, then ``lgb_params`` (checked against
        LightGBM's parameter list; a clash with a named parameter raises ``ValueError``). For
        ``loss="exponential"`` or a user's ``Loss``, ``fit`` adds the custom ``objective`` (and
        ``metric="None"``) built from the training targets.
        """
        named = {"n_jobs": self.n_jobs, "random_state": self.random_state}
        extra = check_lgb_params(self.lgb_params, named)
        params = {
            "n_estimators": self.n_stages,
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "max_depth": -1 if self.max_depth is None else self.max_depth,
            "min_child_samples": self.min_samples_leaf,
            "subsample": self.subsample,
            "subsample_freq": 1 if self.subsample < 1.0 else 0,
            "colsample_bytree": self.colsample_bytree,
            "reg_lambda": self.reg_lambda,
            "reg_alpha": self.reg_alpha,
            "min_child_weight": self.min_child_weight,
            "max_bin": self.max_bin,
            "n_jobs": _default_n_jobs() if self.n_jobs is None else self.n_jobs,
            "random_state": self.random_state,
            "importance_type": self.importance_type,
            "verbose": -1,
            **lightgbm_objective(self.loss, self.alpha),
        }
        if self.n_jobs is None and any(_is_alias(key, "num_threads") for key in extra):
            del params["n_jobs"]
        return {**params, **extra}

    def _fit_lightgbm(
        self,
        X: np.ndarray,
        y: np.ndarray,
        sample_weight: np.ndarray,
        eval_sets: list[Any],
        warm: tuple[Any, Any, np.ndarray] | None,
    ) -> None:
        params = self.lightgbm_params()
        if self.n_iter_no_change is not None and not eval_sets:
            X, X_val, y, y_val, sample_weight, w_val = split_validation(
                X,
                y,
                sample_weight,
                fraction=self.validation_fraction,
                random_state=self.random_state,
                stratify=self.loss_.is_classification,
                classes=getattr(self, "classes_", None),
            )
            eval_sets = [("validation", X_val, y_val, w_val)]
        init = init_score = None
        if warm is not None:
            init, _, init_score = warm
            params["n_estimators"] = self.n_stages - init.n_stages
        if params["n_estimators"] == 0:  # a warm start that adds nothing
            return
        fit = fit_lightgbm(
            params,
            self.loss_,
            X,
            y,
            sample_weight,
            eval_sets=eval_sets,
            n_iter_no_change=self.n_iter_no_change,
            tol=self.tol,
            verbose=self.verbose,
            desc=type(self).__name__,
            categorical_feature=self._categorical.indices,
            init=init,
            init_train_score=init_score,
        )
        self.model_ = fit.model
        self.booster_ = fit.booster
        self.train_score_ = fit.train_score
        self.best_iteration_ = fit.best_iteration
        self.evals_result_ = {name: {self.loss_.name: v} for name, v in fit.evals.items()}
        self.validation_score_ = fit.evals[eval_sets[0][0]] if eval_sets else np.array([])

    # -- Dask input -------------------------------------------------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        # the client is a connection, never pickled (as LightGBM's Dask estimators drop it)
        state = dict(super().__getstate__())
        if state.get("client") is not None:
            state["client"] = None
        return state

    def __sklearn_clone__(self) -> Any:
        client = getattr(self, "client", None)
        if client is None:
            return super().__sklearn_clone__()
        self.client = None  # cloned parameters are deep copies; a client is shared instead
        try:
            clone = super().__sklearn_clone__()
        finally:
            self.client = client
        clone.client = client
        return clone

    def stage_contributions(self, X: Any) -> Any:
        if _dask.is_dask(X):
            return _dask.dask_apply(self, "stage_contributions", X)
        return super().stage_contributions(X)

    stage_contributions.__doc__ = AdditiveEstimator.stage_contributions.__doc__

    def _staged_raw(self, X: Any) -> Any:
        if _dask.is_dask(X):
            raise TypeError(
                "X: the staged_* methods take NumPy or pandas X; for a Dask X, "
                "stage_contributions(X) is a dask array whose cumulative sum over axis 0 gives "
                "the staged raw scores"
            )
        return super()._staged_raw(X)

    # -- views over features --------------------------------------------------------------------
    @property
    def feature_importances_(self) -> np.ndarray:
        """Importance of each feature over the model's stages, shape ``(n_features_in_,)``.

        ``importance_type="split"``: how many splits use the feature; ``"gain"``: their total
        loss reduction. Engine "lightgbm": LightGBM's ``feature_importances_`` (at
        ``best_iteration_`` after early stopping). Engine "sklearn": split counts, or for
        ``"gain"`` scikit-learn's impurity importance (``GradientBoosting*.feature_importances_``:
        the mean over non-trivial trees of each tree's impurity decrease, normalized to sum 1).
        After ``drop_stages`` only the kept stages count.
        """
        check_is_fitted(self)
        if isinstance(self.model_, LightGBMModel):
            return self.model_.feature_importance(self.importance_type)
        trees = [tree for stage in self.model_.stages for tree in stage.learners]  # type: ignore[attr-defined]
        if self.importance_type == "split":
            counts = np.zeros(self.n_features_in_, dtype=np.int32)
            for tree in trees:
                features = tree.tree_.feature[tree.tree_.children_left != -1]
                counts += np.bincount(features, minlength=self.n_features_in_).astype(np.int32)
            return counts
        relevant = [
            t.tree_.compute_feature_importances(normalize=False)
            for t in trees
            if t.tree_.node_count > 1
        ]
        if not relevant:
            return np.zeros(self.n_features_in_, dtype=np.float64)
        mean = np.mean(relevant, axis=0, dtype=np.float64)
        return np.asarray(mean / np.sum(mean))

    def feature_contributions(self, X: Any) -> np.ndarray:
        """Per-feature contributions to the raw score (TreeSHAP, path-dependent).

        Engine "lightgbm": LightGBM's ``pred_contrib`` (summed over the kept windows after
        ``drop_stages``). Engine "sklearn": ``shap``'s ``TreeExplainer`` on every tree, times
        ``alpha_t``; ``shap`` is the optional extra ``fboost[shap]`` (``ImportError`` naming it
        when absent).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        contributions : ndarray of shape (n_samples, n_features_in_ + 1, n_outputs)
            Column j < n_features is feature j's contribution, the last column the expected
            value (with ``F_0``); the sum over axis 1 is the raw score (``decision_function``
            for classifiers, ``predict`` for regressors).
        """
        if _dask.is_dask(X):
            return _dask.dask_apply(self, "feature_contributions", X)
        check_is_fitted(self)
        X = self._validate_X(X)
        if isinstance(self.model_, LightGBMModel):
            return self.model_.feature_contributions(X)
        return np.asarray(tree_shap.stage_feature_contributions(self.model_, X).sum(axis=0))

    def stage_feature_contributions(self, X: Any) -> np.ndarray:
        """Contributions per stage and feature at once: the additive view over both.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        contributions : ndarray of shape (n_stages_ + 1, n_samples, n_features_in_ + 1, n_outputs)
            Row 0 holds ``F_0`` in the last (bias) column; row t is stage t's trees alone:
            LightGBM's ``pred_contrib`` over that one iteration (``start_iteration`` /
            ``num_iteration`` windows), or ``alpha_t`` times ``shap``'s TreeSHAP of its trees
            (engine "sklearn"). Summed over axis 2 it is ``stage_contributions(X)``; summed over
            axis 0, ``feature_contributions(X)``.
        """
        if _dask.is_dask(X):
            return _dask.dask_apply(self, "stage_feature_contributions", X)
        check_is_fitted(self)
        X = self._validate_X(X)
        if isinstance(self.model_, LightGBMModel):
            return self.model_.stage_feature_contributions(X)
        return tree_shap.stage_feature_contributions(self.model_, X)


def _is_alias(key: str, name: str) -> bool:
    from ._lightgbm import _lightgbm_aliases

    return _lightgbm_aliases().get(key) == name


_TREE_DOC = """
    Parameters
    ----------
    engine : {"lightgbm", "sklearn"}, default="lightgbm"
        ``"lightgbm"`` trains with LightGBM (NaN in X is treated as missing); ``"sklearn"`` runs
        fboost's Friedman loop over ``DecisionTreeRegressor`` (X must be finite).
    n_stages : int, default=100
        Boosting iterations T (>= 1); LightGBM's ``n_estimators``.
    learning_rate : float, default=0.1
        Shrinkage ``alpha_t``, > 0.
    num_leaves : int, default=31
        Maximum leaves per tree (>= 2); ``max_leaf_nodes`` for the sklearn engine, whose trees
        then grow best-first like LightGBM's.
    max_depth : int or None, default=None
        Maximum tree depth; ``None`` means unlimited.
    min_samples_leaf : int, default=20
        Minimum samples per leaf (LightGBM's ``min_child_samples``).
    subsample : float, default=1.0
        Fraction in (0, 1] of rows drawn for each stage (LightGBM bagging every iteration).
    colsample_bytree : float, default=1.0
        Fraction in (0, 1] of features drawn for each tree. LightGBM only, like the next five
        parameters: setting one to other than its default with ``engine="sklearn"`` raises
        ``ValueError``.
    reg_lambda : float, default=0.0
        L2 penalty on leaf values, >= 0 (LightGBM only).
    reg_alpha : float, default=0.0
        L1 penalty on leaf values, >= 0 (LightGBM only).
    min_child_weight : float, default=1e-3
        Minimum sum of hessians in a leaf, >= 0 (LightGBM only).
    max_bin : int, default=255
        Maximum number of histogram bins per feature, >= 2 (LightGBM only).
    n_jobs : int or None, default=None
        LightGBM's threads; ``None`` uses ``OMP_NUM_THREADS`` when it is set, else LightGBM's
        default (LightGBM only).
    n_iter_no_change : int or None, default=None
        Early stopping, each engine with its reference's rule, on ``eval_set`` when ``fit`` gets
        one, else on a held-out ``validation_fraction``. Engine "sklearn": scikit-learn's rule (a
        stage must beat, by more than ``tol``, one of the last ``n_iter_no_change`` validation
        losses that passed, on scikit-learn's scale: twice the half squared error and the binary
        log loss); training stops at the first stage that does not, and every stage trained is
        kept (``n_stages_`` is ``GradientBoosting*.n_estimators_``). Engine "lightgbm":
        LightGBM's ``early_stopping`` callback (``stopping_rounds=n_iter_no_change``,
        ``min_delta=tol``, on LightGBM's metric: l2, binary or multi logloss); the model keeps
        ``best_iteration_`` stages and predicts as LightGBM does at it.
    validation_fraction : float, default=0.1
        Fraction in (0, 1) held out for early stopping when no ``eval_set`` is given (stratified
        for classifiers, as scikit-learn does); a training part that lacks a class raises
        ``ValueError`` naming it.
    tol : float, default=1e-4
        Minimum validation improvement, >= 0 (LightGBM's ``min_delta``).
    importance_type : {"split", "gain"}, default="split"
        What ``feature_importances_`` counts: splits per feature, or their gain.
    categorical_features : list of int or str, default=None
        Features LightGBM takes as categorical, by position or column name; unordered pandas
        ``category`` columns are added (as LightGBM's ``"auto"``), while ordered ones go as
        their codes in category order, an ordinal feature, as LightGBM treats them. A category
        column goes to LightGBM as its codes of the training categories (unseen ones are
        missing), exactly as LightGBM treats a frame, so raw scores equal LightGBM's on the same
        frame. Engine
        "sklearn" raises for either.
    lgb_params : dict or None, default=None
        Any other LightGBM parameter (``{"min_data_in_bin": 5, "extra_trees": True}``), checked
        against LightGBM's own parameter list and aliases (an unknown name raises ``ValueError``
        with LightGBM's closest names). A parameter that one of the named parameters above sets
        raises ``ValueError`` (``seed`` and ``num_threads`` are free while ``random_state`` and
        ``n_jobs`` are None), as do ``boosting="rf"`` and ``linear_tree=True``, which have no
        additive stage view. Engine "lightgbm" only.
    warm_start : bool, default=False
        When fitted, ``fit`` adds stages up to ``n_stages`` to the current model instead of
        starting over (scikit-learn's semantics; ``n_stages`` may not shrink). Engine "sklearn"
        continues the random stream as scikit-learn does (equal to ``GradientBoosting*`` with
        ``warm_start=True``), engine "lightgbm" trains from the kept iterations with LightGBM's
        ``init_model``. With ``n_iter_no_change``, the rule's history restarts with each
        ``fit`` and watches the stages that fit adds.
    random_state : int, RandomState instance or None, default=None
        Seeds the split, bagging and the trees.
    verbose : int, default=0
        Show a progress bar over stages when > 0; otherwise nothing is printed.
    loss : str, Loss or None, default=None
        Regressors: ``"squared_error"`` (``None``), ``"absolute_error"``, ``"huber"``,
        ``"quantile"``, ``"poisson"`` (y >= 0) or ``"gamma"`` (y > 0); classifiers:
        ``"log_loss"`` (``None``) or ``"exponential"`` (two classes). Or any
        ``fboost.losses.Loss``. The sklearn engine sets leaves as ``GradientBoosting*`` does
        (medians, quantiles and Huber M-estimates for the robust losses, Newton steps
        otherwise, also for Poisson and Gamma, which scikit-learn's GBM lacks); the lightgbm
        engine uses LightGBM's ``"regression_l1"``, ``"huber"``, ``"quantile"``,
        ``"poisson"`` and ``"gamma"`` objectives, and for ``"exponential"`` and a user's
        ``Loss`` a custom objective (the loss's gradient and hessian, from ``init_score`` =
        the loss's ``F_0``).
    alpha : float, default=0.9
        ``"quantile"``: the quantile level, in (0, 1). ``"huber"``: on the sklearn engine the
        quantile of ``|y - F|`` that sets the threshold at every stage, in (0, 1), as
        ``GradientBoostingRegressor``; on the lightgbm engine the threshold itself (> 0), as
        LightGBM's ``alpha``.
    client : distributed.Client or None, default=None
        The Dask client that fits Dask input (see Notes); ``None`` takes the active one
        (``distributed.default_client()``), and a Dask X without either raises
        ``ValueError``. Only for Dask X: given with any other X, ``fit`` raises
        ``ValueError``. It is never pickled, as LightGBM's Dask estimators do: a pickled (or
        copied) estimator has ``client=None``; ``clone`` shares it.

    Attributes
    ----------
    model_ : AdditiveModel
        ``F_0`` and one stage per iteration.
    n_stages_ : int
        Number of stages of the model (see ``AdditiveEstimator``): after early stopping, every
        stage trained (engine "sklearn") or ``best_iteration_`` (engine "lightgbm").
    stage_weights_ : ndarray of shape (n_stages_,)
        ``alpha_t`` (the learning rate).
    train_score_ : ndarray of shape (n_stages_,)
        Training loss after each stage (the ``loss_``: half squared error, log loss, ...).
    validation_score_ : ndarray
        Early stopping's validation loss after each stage trained (the first ``eval_set``, or
        the held-out fraction); empty without either.
    evals_result_ : dict
        ``{set name: {loss name: ndarray}}``: the loss of each ``eval_set`` (``"valid_0"``, ...)
        or of the held-out ``"validation"`` rows after each stage trained, on the same scale as
        ``train_score_``.
    best_iteration_ : int or None
        Engine "lightgbm" with early stopping: LightGBM's best iteration (1-based), which is
        ``n_stages_``; None otherwise.
    feature_importances_ : ndarray of shape (n_features_in_,)
        Split counts or gains (``importance_type``); see the property.
    categorical_features_ : list of int
        Positions of the features LightGBM took as categorical.
    booster_ : lightgbm.Booster or None
        The LightGBM booster (lightgbm engine).
    loss_ : Loss
        The loss.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of str
        Column names, when X is a frame with string column names.

    Notes
    -----
    **Dask input.** A dask array or DataFrame X (with a ``distributed.Client`` active, or
    given as ``client``; the optional extra ``fboost[distributed]``) trains through
    ``lightgbm.dask.DaskLGBMRegressor`` with the parameters ``lightgbm_params()`` gives, on the
    partitions where they lie (``n_jobs`` aside: each worker uses its own threads, LightGBM's
    Dask rule). The booster is LightGBM's Dask model bit for bit, and gets the same stage view
    as a NumPy fit; ``F_0`` is LightGBM's distributed boost-from-average score, the mean over
    the workers of each one's own score. ``train_score_`` is LightGBM's training metric, as
    for NumPy X, of every worker's rows combined by weight; ``evals_result_`` (``eval_set``
    pairs of Dask collections) is computed after the fit over all partitions. For a Dask X,
    ``predict``, ``predict_proba``, ``decision_function``, ``stage_contributions``,
    ``feature_contributions`` and ``stage_feature_contributions`` return lazy dask arrays
    (``map_blocks`` over the partitions) equal to the results for the computed X; the
    ``staged_*`` methods take NumPy X only (``TypeError``). Category columns of a Dask
    DataFrame need known categories. Dask input raises ``ValueError`` with engine "sklearn",
    ``n_iter_no_change``, a warm start, and the losses LightGBM has no objective for
    (``"exponential"``, a user's ``Loss``).
"""


class _DaskRegressorPredictions:
    """``predict`` of a Dask X: a lazy dask array over its partitions."""

    def predict(self, X: Any) -> Any:
        if _dask.is_dask(X):
            return _dask.dask_apply(self, "predict", X)
        return super().predict(X)  # type: ignore[misc]

    predict.__doc__ = AdditiveRegressorMixin.predict.__doc__


class _DaskClassifierPredictions:
    """``predict``, ``predict_proba`` and ``decision_function`` of a Dask X: dask arrays."""

    def predict(self, X: Any) -> Any:
        if _dask.is_dask(X):
            return _dask.dask_apply(self, "predict", X)
        return super().predict(X)  # type: ignore[misc]

    def predict_proba(self, X: Any) -> Any:
        if _dask.is_dask(X):
            return _dask.dask_apply(self, "predict_proba", X)
        return super().predict_proba(X)  # type: ignore[misc]

    def decision_function(self, X: Any) -> Any:
        if _dask.is_dask(X):
            return _dask.dask_apply(self, "decision_function", X)
        return super().decision_function(X)  # type: ignore[misc]

    predict.__doc__ = AdditiveClassifierMixin.predict.__doc__
    predict_proba.__doc__ = AdditiveClassifierMixin.predict_proba.__doc__
    decision_function.__doc__ = AdditiveClassifierMixin.decision_function.__doc__


class TreeBoostingRegressor(
    _DaskRegressorPredictions, RegressorMixin, AdditiveRegressorMixin, _TreeBoostingBase
):
    __doc__ = (
        """Gradient-boosted regression trees as an additive model (half squared error by default).
"""
        + _TREE_DOC
        + """
    Examples
    --------
    >>> from sklearn.datasets import make_friedman1
    >>> from fboost import TreeBoostingRegressor
    >>> X, y = make_friedman1(n_samples=300, random_state=0)
    >>> model = TreeBoostingRegressor(n_stages=50, random_state=0).fit(X, y)
    >>> contributions = model.stage_contributions(X)
    >>> bool(abs(contributions.sum(axis=0)[:, 0] - model.predict(X)).max() < 1e-10)
    True
    """
    )


class TreeBoostingClassifier(
    _DaskClassifierPredictions, ClassifierMixin, AdditiveClassifierMixin, _TreeBoostingBase
):
    __doc__ = (
        """Gradient-boosted classification trees (binary or multinomial log loss by default).
"""
        + _TREE_DOC
        + """
    Examples
    --------
    >>> from sklearn.datasets import load_wine
    >>> from fboost import TreeBoostingClassifier
    >>> X, y = load_wine(return_X_y=True)
    >>> clf = TreeBoostingClassifier(n_stages=30, random_state=0).fit(X, y)
    >>> clf.stage_contributions(X).shape
    (31, 178, 3)
    """
    )
