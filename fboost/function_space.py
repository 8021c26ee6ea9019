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

from collections.abc import Sequence
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
from ._training import NoImprovementStopping, progress_bar, seed_from, split_validation
from .additive import AdditiveModel, ConstantStart
from .base import AdditiveClassifierMixin, AdditiveEstimator, AdditiveRegressorMixin
from .losses import BinaryLogLoss, Loss, SquaredError

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
    evals: dict[str, np.ndarray]
    rng: np.random.RandomState


#: an evaluation set: its name, X, encoded y and sample weights
EvalSet = tuple[str, Any, np.ndarray, np.ndarray]


def sklearn_loss_factor(loss: Loss) -> float:
    """The factor scikit-learn's gradient boosting puts on its loss before comparing with ``tol``.

    Two for half squared error and the binomial loss (its ``train_score_`` is the deviance), one
    otherwise: early stopping uses the same scale, so ``tol`` means what it means there.
    """
    return 2.0 if isinstance(loss, SquaredError | BinaryLogLoss) else 1.0


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
    eval_sets: Sequence[EvalSet] = (),
    classes: np.ndarray | None = None,
    warm: tuple[AdditiveModel, np.ndarray, np.random.RandomState] | None = None,
) -> FunctionSpaceFit:
    """Friedman's loop: ``F_t = F_{t-1} + alpha_t h_t`` with ``h_t`` fitted to ``-dL/dF``.

    The validation split and the random stream are scikit-learn's (``train_test_split`` with
    ``random_state``, then one ``RandomState`` shared by the subsample masks and the learners), so
    that the tree engine reproduces ``GradientBoosting*``. With ``n_iter_no_change`` set, early
    stopping is scikit-learn's rule (``NoImprovementStopping``) on the first of ``eval_sets``, or
    on a held-out ``validation_fraction`` when none is given; every stage trained is kept, as
    scikit-learn keeps ``n_estimators_`` stages. ``warm`` = ``(model, train_score, rng)``
    continues a fitted model with the random stream where it stopped (scikit-learn's
    ``warm_start``).
    """
    if n_iter_no_change is not None and not eval_sets:
        X, X_val, y, y_val, sample_weight, w_val = split_validation(
            X,
            y,
            sample_weight,
            fraction=validation_fraction,
            random_state=random_state,
            stratify=loss.is_classification,
            classes=classes,
        )
        eval_sets = [("validation", X_val, y_val, w_val)]
    n_samples = y.shape[0]
    n_in_bag = max(1, int(subsample * n_samples))
    if warm is None:
        rng = check_random_state(random_state)
        start: Any = ConstantStart(loss.init_raw(y, sample_weight))
        stages: list[Any] = []
        weights: list[float] = []
        train_score: list[float] = []
    else:
        model, previous_score, rng = warm
        start, stages, weights = model.start, list(model.stages), list(model.weights)
        train_score = list(previous_score)
    raw = AdditiveModel(start, stages, weights).raw(X)
    histories: dict[str, list[float]] = {name: [] for name, *_ in eval_sets}
    raw_evals = []
    for name, X_eval, y_eval, w_eval in eval_sets:
        contributions = AdditiveModel(start, stages, weights).iter_contributions(X_eval)
        raw_eval = next(contributions).copy()
        for c in contributions:  # the history of the stages a warm start begins with
            raw_eval += c
            histories[name].append(loss.value(y_eval, raw_eval, w_eval))
        raw_evals.append(raw_eval)
    stopper = NoImprovementStopping(n_iter_no_change, tol) if n_iter_no_change else None
    factor = sklearn_loss_factor(loss)
    begin = len(stages)
    with progress_bar(max(n_stages - begin, 0), verbose, desc) as bar:
        for t in range(begin, n_stages):
            in_bag = np.ones(n_samples, dtype=bool)
            if subsample < 1.0:
                in_bag = _random_sample_mask(n_samples, n_in_bag, rng)
            loss.prepare_stage(y, raw, sample_weight)  # the Huber threshold, at F_{t-1}
            neg_gradient = -loss.gradient(y, raw)
            stage, alpha, h = fit_stage(X, y, raw, neg_gradient, sample_weight, in_bag, rng)
            raw += alpha * h
            stages.append(stage)
            weights.append(alpha)
            train_score.append(loss.value(y, raw, sample_weight))
            postfix = {"train": train_score[-1]}
            for (name, X_eval, y_eval, w_eval), raw_eval in zip(eval_sets, raw_evals, strict=True):
                raw_eval += alpha * stage.advance(X_eval, None)[0]
                histories[name].append(loss.value(y_eval, raw_eval, w_eval))
                postfix[name] = histories[name][-1]
            bar.set_postfix(postfix, refresh=False)
            bar.update()
            first = histories[eval_sets[0][0]][-1] if eval_sets else 0.0
            if stopper is not None and stopper.update(factor * first, t):
                break
    evals = {name: np.asarray(values) for name, values in histories.items()}
    return FunctionSpaceFit(
        model=AdditiveModel(start, stages, weights),
        train_score=np.asarray(train_score),
        validation_score=evals[eval_sets[0][0]] if eval_sets else np.array([]),
        evals=evals,
        rng=rng,
    )


def fit_estimator_stages(
    estimator: Any,
    fit_stage: StageFitter,
    X: Any,
    y: np.ndarray,
    sample_weight: np.ndarray,
    eval_sets: Sequence[EvalSet] = (),
) -> None:
    """Run ``fit_function_space`` with an estimator's own parameters; set its fitted state.

    The estimator provides ``loss_`` and the parameters ``n_stages``, ``subsample``,
    ``random_state``, ``n_iter_no_change``, ``validation_fraction``, ``tol`` and ``verbose``
    (and optionally ``warm_start`` and ``classes_``); this sets ``model_``, ``train_score_``,
    ``validation_score_``, ``evals_result_`` and, for warm starts, the random stream ``_rng``.
    """
    warm = None
    if getattr(estimator, "warm_start", False) and hasattr(estimator, "_rng"):
        if estimator.n_stages < estimator.model_.n_stages:
            raise ValueError(
                f"n_stages={estimator.n_stages} must be >= n_stages_="
                f"{estimator.model_.n_stages} when warm_start=True"
            )
        warm = (estimator.model_, estimator.train_score_, estimator._rng)
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
        eval_sets=eval_sets,
        classes=getattr(estimator, "classes_", None),
        warm=warm,
    )
    estimator.model_ = fit.model
    estimator.train_score_ = fit.train_score
    estimator.validation_score_ = fit.validation_score
    estimator.evals_result_ = {name: {estimator.loss_.name: v} for name, v in fit.evals.items()}
    estimator._rng = fit.rng


# -- stage fitters ------------------------------------------------------------------------------
@dataclass
class TreeNewtonFitter:
    """Regression trees with scikit-learn's leaf update (Friedman's line search per leaf).

    What a leaf becomes is the loss's ``leaf_update``: squared error keeps the tree's own leaf
    means (``"mean"``); the absolute, Huber and quantile losses refit each leaf to the weighted
    median / M-estimate / quantile of its in-bag residuals ``y - F`` (``"quantile"``, through
    ``Loss.fit_intercept``); every other loss takes one Newton step, ``sum(w * -g) / sum(w * h)``
    over the leaf's in-bag samples, times ``Loss.leaf_factor()`` (``(K - 1) / K`` for the
    multinomial loss, the factor scikit-learn keeps from Friedman's paper). ``alpha_t`` is the
    learning rate.
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
        rule = self.loss.leaf_update
        if rule not in ("mean", "newton", "quantile"):
            raise ValueError(
                f"loss {self.loss!r} has leaf_update={rule!r}; expected 'mean', 'newton' or "
                "'quantile'"
            )
        hessian = self.loss.newton_hessian(y, raw, -neg_gradient) if rule == "newton" else None
        trees, columns = [], []
        for k in range(raw.shape[1]):
            tree = DecisionTreeRegressor(random_state=rng, **self.tree_params)
            tree.fit(X, neg_gradient[:, k], sample_weight=w, check_input=False)
            leaves = tree.apply(X)
            if rule == "newton":
                factor = self.loss.leaf_factor()
                _newton_leaves(tree, leaves, in_bag, w, neg_gradient[:, k], hessian[:, k], factor)  # type: ignore[index]
            elif rule == "quantile":
                _intercept_leaves(tree, leaves, in_bag, w, y - raw[:, k], self.loss)
            trees.append(tree)
            columns.append(tree.tree_.value[leaves, 0, 0])
        return LearnerStage(tuple(trees)), self.learning_rate, np.column_stack(columns)


def _leaf_rows(tree: DecisionTreeRegressor, leaves: np.ndarray, in_bag: np.ndarray) -> Any:
    """``(leaf, in-bag rows)`` for every leaf of the tree."""
    masked = np.where(in_bag, leaves, -1)
    for leaf in np.flatnonzero(tree.tree_.children_left == -1):
        yield leaf, np.nonzero(masked == leaf)[0]


def _intercept_leaves(
    tree: DecisionTreeRegressor,
    leaves: np.ndarray,
    in_bag: np.ndarray,
    sample_weight: np.ndarray,
    residual: np.ndarray,
    loss: Loss,
) -> None:
    """Set each leaf to ``loss.fit_intercept`` of its in-bag residuals, in place (0 if empty)."""
    value = tree.tree_.value
    for leaf, rows in _leaf_rows(tree, leaves, in_bag):
        w = sample_weight[rows]
        empty = rows.size == 0 or w.sum() <= 0
        value[leaf, 0, 0] = 0.0 if empty else loss.fit_intercept(residual[rows], w)


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
    for leaf, rows in _leaf_rows(tree, leaves, in_bag):
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
        loss: Any = None,
        alpha: float = 0.9,
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
        self.loss = loss
        self.alpha = alpha

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

    def _accept_sparse(self) -> list[str] | bool:
        # sparse X when the learner takes it (its tag): rows are selected, so CSR is kept
        try:
            sparse = bool(self._learner().__sklearn_tags__().input_tags.sparse)
        except AttributeError:
            return False
        return ["csr"] if sparse else False

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
        Early stopping with scikit-learn's gradient-boosting rule: hold out
        ``validation_fraction`` of the data; a stage must beat, by more than ``tol``, one of the
        last ``n_iter_no_change`` validation losses that passed (twice the half squared error
        or binary log loss, as scikit-learn scales them); training stops at the first stage that
        does not, and every stage trained is kept. ``None`` disables it.
    validation_fraction : float, default=0.1
        Fraction in (0, 1) held out for early stopping (stratified for classifiers); a training
        part that lacks a class raises ``ValueError`` naming it.
    tol : float, default=1e-4
        Minimum improvement of the validation loss, >= 0.
    random_state : int, RandomState instance or None, default=None
        Seeds the validation split, subsampling and learners.
    verbose : int, default=0
        Show a progress bar over stages when > 0.
    loss : str, Loss or None, default=None
        Regressors: ``"squared_error"`` (``None``), ``"absolute_error"``, ``"huber"``,
        ``"quantile"``, ``"poisson"`` (y >= 0) or ``"gamma"`` (y > 0); classifiers:
        ``"log_loss"`` (``None``) or ``"exponential"`` (two classes); or any
        ``fboost.losses.Loss``. Each stage fits ``-dL/dF`` and line-searches its weight on it.
    alpha : float, default=0.9
        The quantile level of ``"quantile"``, and the quantile of ``|y - F|`` that sets the
        ``"huber"`` threshold at every stage; in (0, 1).

    Attributes
    ----------
    model_ : AdditiveModel
        ``F_0`` plus one ``LearnerStage`` per stage.
    n_stages_ : int
        Number of stages of the model: every stage trained, after early stopping too
        (scikit-learn's ``n_estimators_``).
    stage_weights_ : ndarray of shape (n_stages_,)
        ``alpha_t``.
    train_score_ : ndarray of shape (n_stages_,)
        Training loss after each stage (``fboost.losses`` conventions).
    validation_score_ : ndarray
        Validation loss after each stage trained (empty without early stopping).
    evals_result_ : dict
        ``{"validation": {loss name: validation_score_}}`` with early stopping, else empty.
    loss_ : Loss
        The loss.
    n_features_in_ : int
        Number of features seen during fit.
"""


class FunctionalBoostingRegressor(RegressorMixin, AdditiveRegressorMixin, _FunctionalBoostingBase):
    __doc__ = (
        """Gradient boosting in function space with any scikit-learn regressor as weak learner.

    Stage t fits ``h_t`` to the negative gradient of the loss at ``F_{t-1}`` (for the default
    half squared error, the residuals) and adds ``alpha_t h_t`` with a line-searched ``alpha_t``.
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

    Binary or multinomial log loss (or ``loss=``); stage t fits one regressor per raw output to
    the negative gradient and adds ``alpha_t h_t`` with one line-searched ``alpha_t`` for the stage.
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
