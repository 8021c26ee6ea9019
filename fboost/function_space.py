"""Function-space boosting (Friedman 2001): stage t fits ``h_t`` to ``-dL/dF`` at ``F_{t-1}``.

One loop, ``fit_function_space``, written once. What a stage fits and how its weight is found is
a *stage fitter*:

- ``TreeNewtonFitter`` (the ``engine="sklearn"`` tree booster): a
  ``DecisionTreeRegressor`` per output, leaf values reset by scikit-learn's Newton step,
  ``alpha_t = learning_rate``. With matching parameters this reproduces
  ``sklearn.ensemble.GradientBoostingRegressor`` / ``GradientBoostingClassifier``.
- ``LineSearchFitter`` (``FunctionalBoostingRegressor`` / ``Classifier``): any
  scikit-learn regressor per output, one line-searched weight per stage,
  ``alpha_t = learning_rate * argmin_a L(F_{t-1} + a h_t)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Real
from typing import Any, ClassVar, Protocol

import numpy as np
from scipy.optimize import minimize_scalar
from sklearn.base import ClassifierMixin, RegressorMixin, clone
from sklearn.ensemble._gradient_boosting import _random_sample_mask
from sklearn.tree import BaseDecisionTree, DecisionTreeRegressor
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval
from sklearn.utils.validation import has_fit_parameter

from . import _numeric
from ._training import EarlyStopping, progress_bar, seed_from, split_validation
from .additive import AdditiveModel, ConstantStart
from .base import AdditiveClassifierMixin, AdditiveEstimator, AdditiveRegressorMixin
from .losses import Loss, MultinomialLogLoss, SquaredError

__all__ = [
    "FunctionalBoostingRegressor",
    "FunctionalBoostingClassifier",
    "LearnerStage",
    "fit_function_space",
]


@dataclass(frozen=True)
class LearnerStage:
    """A function-space stage: one fitted regressor per output; ignores the carry."""

    learners: tuple[Any, ...]

    def advance(self, X: Any, carry: Any) -> tuple[np.ndarray, Any]:
        return np.column_stack([learner.predict(X) for learner in self.learners]), carry


class StageFitter(Protocol):
    """Fit one stage to the negative gradient; return the stage, its weight and h_t(X_train)."""

    def __call__(
        self,
        X: Any,
        y: np.ndarray,
        raw: np.ndarray,
        neg_gradient: np.ndarray,
        sample_weight: np.ndarray,
        in_bag: np.ndarray,
        rng: np.random.RandomState,
    ) -> tuple[LearnerStage, float, np.ndarray]: ...


@dataclass
class FunctionSpaceFit:
    """What ``fit_function_space`` returns."""

    model: AdditiveModel
    train_score: np.ndarray
    validation_score: np.ndarray


def fit_function_space(
    fit_stage: StageFitter,
    loss: Loss,
    X: Any,
    y: np.ndarray,
    sample_weight: np.ndarray,
    *,
    n_stages: int,
    subsample: float,
    random_state: Any,
    n_iter_no_change: int | None,
    validation_fraction: float,
    tol: float,
    verbose: int,
    desc: str,
) -> FunctionSpaceFit:
    """Friedman's loop: ``F_t = F_{t-1} + alpha_t h_t`` with ``h_t`` fitted to ``-dL/dF``.

    The validation split and the random stream are scikit-learn's (``train_test_split`` with
    ``random_state``, then one ``RandomState`` shared by the subsample masks and the learners), so
    that the tree engine reproduces ``GradientBoosting*``. With ``n_iter_no_change`` set, training
    stops once the validation loss has not improved by more than ``tol`` for that many stages, and
    the model is truncated to its best stage.
    """
    X_val = y_val = w_val = None
    if n_iter_no_change is not None:
        X, X_val, y, y_val, sample_weight, w_val = split_validation(
            X,
            y,
            sample_weight,
            fraction=validation_fraction,
            random_state=random_state,
            stratify=loss.is_classification,
        )
    rng = check_random_state(random_state)
    n_samples = y.shape[0]
    n_in_bag = max(1, int(subsample * n_samples))
    raw0 = loss.init_raw(y, sample_weight)
    start = ConstantStart(raw0)
    raw, _ = start(X)
    raw_val = start(X_val)[0] if X_val is not None else None

    stages: list[LearnerStage] = []
    weights: list[float] = []
    train_score: list[float] = []
    validation_score: list[float] = []
    stopper = EarlyStopping(n_iter_no_change, tol)
    in_bag = np.ones(n_samples, dtype=bool)
    with progress_bar(n_stages, verbose, desc) as bar:
        for t in range(n_stages):
            if subsample < 1.0:
                in_bag = _random_sample_mask(n_samples, n_in_bag, rng)
            neg_gradient = -loss.gradient(y, raw)
            stage, alpha, h = fit_stage(X, y, raw, neg_gradient, sample_weight, in_bag, rng)
            raw += alpha * h
            stages.append(stage)
            weights.append(alpha)
            train_score.append(loss.value(y, raw, sample_weight))
            postfix = {"train": train_score[-1]}
            if raw_val is not None:
                raw_val += alpha * stage.advance(X_val, None)[0]
                validation_score.append(loss.value(y_val, raw_val, w_val))  # type: ignore[arg-type]
                postfix["val"] = validation_score[-1]
                if stopper.update(validation_score[-1], t):
                    break
            bar.set_postfix(postfix, refresh=False)
            bar.update()
    n_kept = stopper.best_index + 1 if stopper.enabled else len(stages)
    return FunctionSpaceFit(
        model=AdditiveModel(start, stages[:n_kept], weights[:n_kept]),
        train_score=np.asarray(train_score[:n_kept]),
        validation_score=np.asarray(validation_score),
    )


def fit_estimator_stages(
    estimator: Any, fit_stage: StageFitter, X: Any, y: np.ndarray, sample_weight: np.ndarray
) -> None:
    """Run ``fit_function_space`` with an estimator's own parameters; set its fitted state.

    The estimator provides ``loss_`` and the parameters ``n_stages``, ``subsample``,
    ``random_state``, ``n_iter_no_change``, ``validation_fraction``, ``tol`` and ``verbose``;
    this sets ``model_``, ``train_score_`` and ``validation_score_``.
    """
    fit = fit_function_space(
        fit_stage,
        estimator.loss_,
        X,
        y,
        sample_weight,
        n_stages=estimator.n_stages,
        subsample=estimator.subsample,
        random_state=estimator.random_state,
        n_iter_no_change=estimator.n_iter_no_change,
        validation_fraction=estimator.validation_fraction,
        tol=estimator.tol,
        verbose=estimator.verbose,
        desc=type(estimator).__name__,
    )
    estimator.model_ = fit.model
    estimator.train_score_ = fit.train_score
    estimator.validation_score_ = fit.validation_score


# -- stage fitters ------------------------------------------------------------------------------
@dataclass
class TreeNewtonFitter:
    """Regression trees with scikit-learn's leaf-wise Newton step (Friedman's line search).

    Squared error keeps the tree's own leaf means; the log losses set each leaf to
    ``sum(w * -g) / sum(w * h)`` over its in-bag samples, times ``(K - 1) / K`` for the multinomial
    loss (the factor scikit-learn keeps from Friedman's paper). ``alpha_t`` is the learning rate.
    """

    loss: Loss
    learning_rate: float
    tree_params: dict[str, Any]

    def __call__(
        self,
        X: Any,
        y: np.ndarray,
        raw: np.ndarray,
        neg_gradient: np.ndarray,
        sample_weight: np.ndarray,
        in_bag: np.ndarray,
        rng: np.random.RandomState,
    ) -> tuple[LearnerStage, float, np.ndarray]:
        w = sample_weight * in_bag if not in_bag.all() else sample_weight
        newton = not isinstance(self.loss, SquaredError)
        hessian = self.loss.hessian_from_gradient(y, -neg_gradient) if newton else None
        factor = (
            (raw.shape[1] - 1) / raw.shape[1] if isinstance(self.loss, MultinomialLogLoss) else 1
        )
        trees, columns = [], []
        for k in range(raw.shape[1]):
            tree = DecisionTreeRegressor(random_state=rng, **self.tree_params)
            tree.fit(X, neg_gradient[:, k], sample_weight=w, check_input=False)
            leaves = tree.apply(X)
            if newton:
                _newton_leaves(tree, leaves, in_bag, w, neg_gradient[:, k], hessian[:, k], factor)  # type: ignore[index]
            trees.append(tree)
            columns.append(tree.tree_.value[leaves, 0, 0])
        return LearnerStage(tuple(trees)), self.learning_rate, np.column_stack(columns)


def _newton_leaves(
    tree: DecisionTreeRegressor,
    leaves: np.ndarray,
    in_bag: np.ndarray,
    sample_weight: np.ndarray,
    neg_gradient: np.ndarray,
    hessian: np.ndarray,
    factor: float,
) -> None:
    """Set each leaf to ``factor * mean_w(-g) / mean_w(h)`` over its in-bag samples, in place.

    The arithmetic is scikit-learn's (``np.average`` per leaf) so that the trees that follow see
    bit-identical targets; a leaf with no in-bag weight, or a vanishing hessian, gets 0.
    """
    value = tree.tree_.value
    masked = np.where(in_bag, leaves, -1)
    for leaf in np.flatnonzero(tree.tree_.children_left == -1):
        rows = np.nonzero(masked == leaf)[0]
        w = sample_weight[rows]
        if rows.size == 0 or w.sum() <= 0:
            value[leaf, 0, 0] = 0.0
            continue
        numerator = np.average(neg_gradient[rows], weights=w) * factor
        denominator = np.average(hessian[rows], weights=w)
        value[leaf, 0, 0] = (
            0.0 if abs(denominator) < 1e-150 else float(numerator) / float(denominator)
        )


def line_search(
    loss: Loss, y: np.ndarray, raw: np.ndarray, h: np.ndarray, sample_weight: np.ndarray
) -> float:
    """``argmin_a L(raw + a h)`` for ``a >= 0`` (closed form for squared error)."""
    if isinstance(loss, SquaredError):
        den = float(np.sum(sample_weight * h[:, 0] ** 2))
        if den <= 0:
            return 0.0
        return max(0.0, float(np.sum(sample_weight * (y - raw[:, 0]) * h[:, 0])) / den)
    if not np.any(h):
        return 0.0
    scale = float(np.max(np.abs(h)))
    result = minimize_scalar(
        lambda a: loss.value(y, raw + a * h, sample_weight),
        bounds=(0.0, 50.0 / scale),
        method="bounded",
        options={"xatol": 1e-8 / scale},
    )
    return float(result.x)


@dataclass
class LineSearchFitter:
    """Any regressor per output fitted to ``-g``; one line-searched weight for the stage."""

    loss: Loss
    learner: Any
    learning_rate: float
    use_weights: bool

    def __call__(
        self,
        X: Any,
        y: np.ndarray,
        raw: np.ndarray,
        neg_gradient: np.ndarray,
        sample_weight: np.ndarray,
        in_bag: np.ndarray,
        rng: np.random.RandomState,
    ) -> tuple[LearnerStage, float, np.ndarray]:
        rows = np.flatnonzero(in_bag)
        learners = []
        for k in range(raw.shape[1]):
            learner = clone(self.learner)
            if "random_state" in learner.get_params(deep=False):
                learner.set_params(random_state=seed_from(rng))
            fit_kwargs = {"sample_weight": sample_weight[rows]} if self.use_weights else {}
            learners.append(learner.fit(X[rows], neg_gradient[rows, k], **fit_kwargs))
        stage = LearnerStage(tuple(learners))
        h = stage.advance(X, None)[0]
        if h.shape != raw.shape:
            raise ValueError(
                f"learner must predict one value per sample, got shape {h.shape[:1]} + "
                f"{h.shape[1:]} from {type(self.learner).__name__}.predict"
            )
        w = sample_weight * in_bag
        alpha = line_search(self.loss, y, raw, h, w)
        return stage, self.learning_rate * alpha, h


# -- estimators ---------------------------------------------------------------------------------
class _FunctionalBoostingBase(AdditiveEstimator):
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **AdditiveEstimator._parameter_constraints,
        "learner": [HasMethods(["fit", "predict"]), None],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "subsample": [Interval(Real, 0, 1, closed="right")],
    }

    def __init__(
        self,
        learner: Any = None,
        *,
        n_stages: int = 100,
        learning_rate: float = 0.1,
        subsample: float = 1.0,
        n_iter_no_change: int | None = None,
        validation_fraction: float = 0.1,
        tol: float = 1e-4,
        random_state: Any = None,
        verbose: int = 0,
    ) -> None:
        self.learner = learner
        self.n_stages = n_stages
        self.learning_rate = learning_rate
        self.subsample = subsample
        self.n_iter_no_change = n_iter_no_change
        self.validation_fraction = validation_fraction
        self.tol = tol
        self.random_state = random_state
        self.verbose = verbose

    def _learner(self) -> Any:
        return DecisionTreeRegressor(max_depth=3) if self.learner is None else self.learner

    def _feature_range(self) -> _numeric.Range | None:
        # scikit-learn's trees cast X to float32 and ignore features varying by under 1e-7
        return _numeric.SKLEARN_TREE_FEATURES if self._tree_learner() else None

    def _target_range(self) -> _numeric.Range:
        tree = self._tree_learner()
        return _numeric.SKLEARN_TREE_TARGETS if tree else _numeric.SQUARED_ERROR_RANGE

    def _tree_learner(self) -> bool:
        return isinstance(self._learner(), BaseDecisionTree)

    def _allow_nan(self) -> bool:
        learner = self._learner()
        try:
            return bool(learner.__sklearn_tags__().input_tags.allow_nan)
        except AttributeError:
            return False

    def _fit(self, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray) -> None:
        learner = self._learner()
        weighted = not np.all(sample_weight == sample_weight[0])
        use_weights = has_fit_parameter(learner, "sample_weight")
        if weighted and not use_weights:
            raise ValueError(
                f"sample_weight is not supported: learner {type(learner).__name__}.fit takes no "
                "sample_weight argument"
            )
        fitter = LineSearchFitter(self.loss_, learner, self.learning_rate, use_weights)
        fit_estimator_stages(self, fitter, X, y, sample_weight)


_FUNCTIONAL_DOC = """
    Parameters
    ----------
    learner : object, default=None
        Any scikit-learn regressor (``fit`` and ``predict``); cloned for every stage and output.
        ``None`` uses ``DecisionTreeRegressor(max_depth=3)``. A ``random_state`` parameter of the
        learner is reseeded per stage from ``random_state``.
    n_stages : int, default=100
        Number of boosting stages T (>= 1).
    learning_rate : float, default=0.1
        Shrinkage, > 0; ``alpha_t = learning_rate * a_t`` with ``a_t`` the line-searched step.
    subsample : float, default=1.0
        Fraction in (0, 1] of the training rows each stage is fitted on.
    n_iter_no_change : int or None, default=None
        Early stopping: hold out ``validation_fraction`` of the data and stop once the validation
        loss has not improved by more than ``tol`` for this many stages; the model is truncated
        to its best stage. ``None`` disables it.
    validation_fraction : float, default=0.1
        Fraction in (0, 1) held out for early stopping.
    tol : float, default=1e-4
        Minimum improvement of the validation loss, >= 0.
    random_state : int, RandomState instance or None, default=None
        Seeds the validation split, subsampling and learners.
    verbose : int, default=0
        Show a progress bar over stages when > 0.

    Attributes
    ----------
    model_ : AdditiveModel
        ``F_0`` plus one ``LearnerStage`` per stage.
    n_stages_ : int
        Number of stages kept.
    stage_weights_ : ndarray of shape (n_stages_,)
        ``alpha_t``.
    train_score_ : ndarray of shape (n_stages_,)
        Training loss after each stage (``fboost.losses`` conventions).
    validation_score_ : ndarray
        Validation loss after each stage trained (empty without early stopping).
    loss_ : Loss
        The loss.
    n_features_in_ : int
        Number of features seen during fit.
"""


class FunctionalBoostingRegressor(RegressorMixin, AdditiveRegressorMixin, _FunctionalBoostingBase):
    __doc__ = (
        """Gradient boosting in function space with any scikit-learn regressor as weak learner.

    Stage t fits ``h_t`` to the negative gradient of the half squared error at ``F_{t-1}``
    (the residuals) and adds ``alpha_t h_t`` with a line-searched ``alpha_t``.
"""
        + _FUNCTIONAL_DOC
        + """
    Examples
    --------
    >>> from sklearn.datasets import make_friedman1
    >>> from sklearn.linear_model import Ridge
    >>> from fboost import FunctionalBoostingRegressor
    >>> X, y = make_friedman1(n_samples=200, random_state=0)
    >>> model = FunctionalBoostingRegressor(n_stages=20, random_state=0).fit(X, y)
    >>> model.stage_contributions(X[:3]).shape
    (21, 3, 1)
    """
    )


class FunctionalBoostingClassifier(
    ClassifierMixin, AdditiveClassifierMixin, _FunctionalBoostingBase
):
    __doc__ = (
        """Gradient boosting in function space with any scikit-learn regressor as weak learner.

    Binary or multinomial log loss; stage t fits one regressor per raw output to the negative
    gradient and adds ``alpha_t h_t`` with one line-searched ``alpha_t`` for the stage.
"""
        + _FUNCTIONAL_DOC
        + """
    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from fboost import FunctionalBoostingClassifier
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> clf = FunctionalBoostingClassifier(n_stages=10, random_state=0).fit(X, y)
    >>> clf.score(X, y) > 0.9
    True
    """
    )
