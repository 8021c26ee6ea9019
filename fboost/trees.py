"""Gradient-boosted trees with two engines behind one stage view.

- ``engine="lightgbm"`` (default): LightGBM trains; every iteration is a stage (one tree per class
  and iteration for multiclass). Raw predictions are LightGBM's own; NaN in X is taken as missing.
- ``engine="sklearn"``: the transparent Friedman loop of ``fboost.function_space``, each stage a
  ``DecisionTreeRegressor`` fitted to the negative gradient with scikit-learn's Newton leaf step.
  With matching parameters it reproduces ``sklearn.ensemble.GradientBoosting*``.
"""

from __future__ import annotations

import os
from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.utils._param_validation import Interval, StrOptions

from . import _numeric
from ._lightgbm import fit_lightgbm
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
        random_state: Any = None,
        verbose: int = 0,
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
        self.random_state = random_state
        self.verbose = verbose

    def _allow_nan(self) -> bool:
        return self.engine == "lightgbm"

    def _input_dtype(self) -> type:
        # scikit-learn's gradient boosting grows its trees on float32 input
        return np.float32 if self.engine == "sklearn" else np.float64

    def _feature_range(self) -> _numeric.Range:
        sklearn = self.engine == "sklearn"
        return _numeric.SKLEARN_TREE_FEATURES if sklearn else _numeric.LIGHTGBM_FEATURES

    def _target_range(self) -> _numeric.Range:
        sklearn = self.engine == "sklearn"
        return _numeric.SKLEARN_TREE_TARGETS if sklearn else _numeric.LIGHTGBM_TARGETS

    def _fit(self, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray) -> None:
        if self.engine == "sklearn":
            self._fit_sklearn(X, y, sample_weight)
        else:
            self._fit_lightgbm(X, y, sample_weight)

    # -- engine="sklearn" -----------------------------------------------------------------------
    def _fit_sklearn(self, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray) -> None:
        changed = [
            name for name, default in _LIGHTGBM_ONLY.items() if getattr(self, name) != default
        ]
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
        fit_estimator_stages(self, fitter, X, y, sample_weight)
        self.booster_: Any = None

    # -- engine="lightgbm" ----------------------------------------------------------------------
    def lightgbm_params(self) -> dict[str, Any]:
        """The keyword arguments this estimator passes to ``LGBMRegressor`` / ``LGBMClassifier``."""
        return {
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
            "verbose": -1,
        }

    def _fit_lightgbm(self, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray) -> None:
        X_val = y_val = w_val = None
        if self.n_iter_no_change is not None:
            X, X_val, y, y_val, sample_weight, w_val = split_validation(
                X,
                y,
                sample_weight,
                fraction=self.validation_fraction,
                random_state=self.random_state,
                stratify=self.loss_.is_classification,
            )
        _, self.model_, self.train_score_, self.validation_score_ = fit_lightgbm(
            self.lightgbm_params(),
            self.loss_,
            X,
            y,
            sample_weight,
            X_val=X_val,
            y_val=y_val,
            w_val=w_val,
            n_iter_no_change=self.n_iter_no_change,
            tol=self.tol,
            verbose=self.verbose,
            desc=type(self).__name__,
        )
        self.booster_ = self.model_.start.booster


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
    colsample_bytree, reg_lambda, reg_alpha, min_child_weight, max_bin, n_jobs
        LightGBM-only parameters with LightGBM's defaults (1.0, 0.0, 0.0, 1e-3, 255, None);
        setting one with ``engine="sklearn"`` raises ``ValueError``. ``n_jobs=None`` uses
        ``OMP_NUM_THREADS`` when it is set, else LightGBM's default.
    n_iter_no_change : int or None, default=None
        Early stopping: hold out ``validation_fraction`` and stop once the validation loss has
        not improved by more than ``tol`` for this many stages; keep the best stage.
    validation_fraction : float, default=0.1
        Fraction in (0, 1) held out for early stopping (stratified for classifiers).
    tol : float, default=1e-4
        Minimum validation improvement, >= 0 (LightGBM's ``min_delta``).
    random_state : int, RandomState instance or None, default=None
        Seeds the split, bagging and the trees.
    verbose : int, default=0
        Show a progress bar over stages when > 0; otherwise nothing is printed.

    Attributes
    ----------
    model_ : AdditiveModel
        ``F_0`` and one stage per iteration.
    n_stages_ : int
        Number of stages kept (fewer than ``n_stages`` after early stopping).
    stage_weights_ : ndarray of shape (n_stages_,)
        ``alpha_t`` (the learning rate).
    train_score_ : ndarray of shape (n_stages_,)
        Training loss after each stage: half squared error, or log loss.
    validation_score_ : ndarray
        Validation loss after each stage trained (empty without early stopping).
    booster_ : lightgbm.Booster or None
        The LightGBM booster (lightgbm engine).
    loss_ : Loss
        The loss.
    n_features_in_ : int
        Number of features seen during fit.
"""


class TreeBoostingRegressor(RegressorMixin, AdditiveRegressorMixin, _TreeBoostingBase):
    __doc__ = (
        """Gradient-boosted regression trees (half squared error) as an additive model.
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


class TreeBoostingClassifier(ClassifierMixin, AdditiveClassifierMixin, _TreeBoostingBase):
    __doc__ = (
        """Gradient-boosted classification trees (binary or multinomial log loss).
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
