"""The estimator base every fboost model shares: validation, the fit template, the public surface.

Subclasses supply what differs (scikit-learn's own pattern):

- ``_fit(X, y, sample_weight)``: train and set ``model_`` (an
  ``AdditiveModel``),
  ``train_score_`` and ``validation_score_``;
- optionally ``_input_dtype()``, ``_allow_nan()``, ``_raw_predict(X)`` (a faster full sum) and
  ``_prepare_X(X)`` (what the stages consume, e.g. a float32 copy or a tensor).

The mixins ``AdditiveRegressorMixin`` and ``AdditiveClassifierMixin`` turn raw scores into
predictions through the loss's inverse link, for ``predict`` and all ``staged_*`` methods alike.
"""

from __future__ import annotations

import copy
import inspect
import re
from collections.abc import Iterable, Iterator
from numbers import Integral, Number, Real
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.preprocessing import LabelEncoder
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    _assert_all_finite,
    _check_sample_weight,
    _check_y,
    check_is_fitted,
    validate_data,
)

from . import _numeric
from ._categorical import reject_categorical
from ._numeric import Range
from .additive import AdditiveModel
from .losses import CLASSIFICATION_LOSSES, REGRESSION_LOSSES, Loss, get_loss

__all__ = ["AdditiveEstimator", "AdditiveRegressorMixin", "AdditiveClassifierMixin"]


def _name_argument(exc: Exception, name: str) -> Exception:
    """Re-raise an input error (same type) so that its message names the argument at fault."""
    msg = str(exc)
    if re.search(rf"(?<!\w){re.escape(name)}(?!\w)", msg):
        # a new exception, never ``exc`` itself: ``raise exc from exc`` makes an exception its
        # own cause, a cycle that distributed's traceback walk never leaves
        return type(exc)(msg)
    return type(exc)(f"{name}: {msg}")


def _check_label_types(y: np.ndarray) -> None:
    """``TypeError`` naming y when labels mix kinds (numbers, strings, None) and cannot sort."""
    if y.dtype != object:
        return
    kinds = {
        "number" if isinstance(v, Number) and not isinstance(v, bool) else type(v).__name__
        for v in y.ravel()
    }
    if len(kinds) > 1 or not kinds <= {"number", "str", "bool"}:
        types = sorted({type(v).__name__ for v in y.ravel()})
        raise TypeError(
            "y: class labels must be all numbers or all strings, so that they can be sorted; "
            f"got labels of types {types}"
        )


class AdditiveEstimator(BaseEstimator):
    """Base of every fboost estimator: ``F(x) = F_0(x) + sum_t alpha_t h_t(x)``.

    Fitted attributes shared by all subclasses
    -------------------------------------------
    model_ : AdditiveModel
        The fitted additive model.
    loss_ : Loss
        The loss the model was fitted to (``fboost.losses``).
    train_score_ : ndarray of shape (n_stages_,)
        Training loss after each stage (networks: after each epoch).
    validation_score_ : ndarray
        Validation loss after each stage (empty without early stopping).
    n_features_in_ : int
        Number of features seen in ``fit``.
    n_stages_ : int
        Number of stages in the fitted model: the stages that ``predict`` sums and
        ``stage_contributions`` returns (after early stopping, and after ``drop_stages``). Early
        stopping keeps what its reference keeps: every stage trained under scikit-learn's rule
        (scikit-learn's ``n_estimators_``: ``TreeBoosting*(engine="sklearn")`` and
        ``FunctionalBoosting*``), LightGBM's ``best_iteration_`` under its early-stopping
        callback (``engine="lightgbm"``), the stages up to the best validation stage for the
        stagewise networks, and all blocks (with the best epoch's weights) for ``ResNet*``.
    """

    _task: ClassVar[str]
    model_: AdditiveModel
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "n_stages": [Interval(Integral, 1, None, closed="left")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left"), None],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        # checked only where an estimator has them (scikit-learn skips absent parameters)
        "loss": [StrOptions({*REGRESSION_LOSSES, *CLASSIFICATION_LOSSES}), Loss, None],
        "alpha": [Interval(Real, 0, None, closed="neither")],
        "class_weight": [dict, StrOptions({"balanced"}), None],
    }

    # -- what subclasses may override -----------------------------------------------------------
    def _input_dtype(self) -> type:
        return np.float64

    def _allow_nan(self) -> bool:
        return False

    def _accept_sparse(self) -> list[str] | bool:
        """Sparse formats X may come in (validated, kept sparse); False: dense only."""
        return False

    def _prepare_X(self, X: np.ndarray) -> Any:
        """What the model's stages consume, from validated X."""
        return X

    def _fit(self, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray) -> None:
        raise NotImplementedError

    def _loss_options(self) -> dict[str, Any]:
        """Keyword arguments for ``fboost.losses.get_loss`` besides ``loss`` and ``alpha``."""
        return {}

    def _weight_classes(self, y: np.ndarray, sample_weight: np.ndarray) -> np.ndarray:
        """``sample_weight`` times the class weights (classifiers); unchanged here."""
        return sample_weight

    # -- fit template ---------------------------------------------------------------------------
    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> AdditiveEstimator:
        """Fit the additive model stage by stage.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data. Values the engine cannot hold raise ``ValueError`` naming X and the
            limit: beyond float32 (``|x| > 1e38``) or features varying by less than 1e-6 for
            scikit-learn's trees, features varying by less than 1e-30 for LightGBM. Networks
            standardise any finite X (moments computed without overflow).
        y : array-like of shape (n_samples,)
            Targets: real values for regressors, any labels for classifiers (numbers or
            strings, not both). Regression targets beyond ``1e150`` in magnitude, or with a
            positive standard deviation below ``1e-150``, raise ``ValueError`` naming y (their
            squared error would overflow or underflow float64); LightGBM (float32 labels)
            accepts ``|y| <= 1e37`` and a spread of at least 1e-30, scikit-learn's trees a
            spread of at least 1e-6 (their impurity floor is 2.2e-16).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights; ``None`` weighs every sample 1. Weights are relative: when the
            largest lies outside [1e-30, 1e30] they are divided by it (float32 engines could
            not hold them otherwise).

        Returns
        -------
        self : object
            The fitted estimator.
        """
        X, y, sample_weight = self._validate_fit_inputs(X, y, sample_weight)
        self._fit(X, y, sample_weight)
        return self

    def _validate_fit_inputs(
        self, X: Any, y: Any, sample_weight: Any
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Everything ``fit`` checks and sets before ``_fit``: params, data, weights, y, loss_."""
        self._validate_params()
        X, y = self._validate_fit_data(X, y)
        try:
            sample_weight = _check_sample_weight(
                sample_weight, X, dtype=np.float64, ensure_non_negative=True
            )
        except (ValueError, TypeError) as exc:
            raise _name_argument(exc, "sample_weight") from exc
        if not np.isfinite(sample_weight).all():
            raise ValueError("sample_weight must be finite")
        if sample_weight.sum() <= 0:
            raise ValueError("sample_weight must have a positive sum")
        sample_weight = self._weight_classes(y, sample_weight)
        sample_weight = _numeric.relative_weights(sample_weight)
        if self._task == "regression":
            _numeric.check_targets(y, self._target_range(), sample_weight)
        y = self._encode_y(y, sample_weight)
        self.loss_ = self._make_loss()
        self.loss_.check_y(y, sample_weight)
        return X, y, sample_weight

    def _feature_range(self) -> Range | None:
        """The magnitudes of X this estimator can hold (``None``: any finite float64)."""
        return None

    def _target_range(self) -> Range:
        """The magnitudes and spread of regression targets this estimator can hold."""
        return _numeric.SQUARED_ERROR_RANGE

    def _check_X(self, X: Any, *, reset: bool, **check_params: Any) -> np.ndarray:
        """X validated (named ``X`` in every message), range-checked, in ``_input_dtype()``."""
        reject_categorical(X, type(self).__name__)
        dtype = self._input_dtype()
        limits = self._feature_range()
        try:
            X = validate_data(
                self,
                X,
                reset=reset,
                # float32 engines: check magnitudes before the cast turns them into inf or 0
                dtype=np.float64 if limits is not None else dtype,
                ensure_all_finite="allow-nan" if self._allow_nan() else True,
                accept_sparse=self._accept_sparse(),
                **check_params,
            )
        except (ValueError, TypeError) as exc:
            raise _name_argument(exc, "X") from exc
        if limits is not None:
            _numeric.check_features(X, limits, "X", fit=reset)
        return X.astype(dtype, copy=False)

    def _validate_fit_data(self, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        """X and y checked separately, so that every message names the argument at fault."""
        if y is None:
            raise ValueError(
                f"This {type(self).__name__} estimator requires y to be passed, but the target "
                "y is None."
            )
        X = self._check_X(X, reset=True, ensure_min_samples=2)
        regression = self._task == "regression"
        try:
            y = _check_y(y, y_numeric=regression, estimator=self)
            if regression:
                y = np.asarray(y, dtype=np.float64)
                _assert_all_finite(y, input_name="y", estimator_name=type(self).__name__)
        except (ValueError, TypeError) as exc:
            raise _name_argument(exc, "y") from exc
        if len(y) != X.shape[0]:
            raise ValueError(
                f"X and y must have the same number of samples; got X with {X.shape[0]} rows and "
                f"y with {len(y)}"
            )
        return X, y

    def _validate_X(self, X: Any) -> Any:
        check_is_fitted(self)
        return self._prepare_X(self._check_X(X, reset=False))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = self._allow_nan()
        tags.input_tags.sparse = bool(self._accept_sparse())
        return tags

    # -- the shared surface ---------------------------------------------------------------------
    @property
    def n_stages_(self) -> int:
        """Number of stages of the fitted model (after early stopping and lesions)."""
        check_is_fitted(self)
        return self.model_.n_stages

    @property
    def stage_weights_(self) -> np.ndarray:
        """``alpha_t`` per stage, shape ``(n_stages_,)``."""
        check_is_fitted(self)
        return self.model_.weights.copy()

    def _raw_predict(self, X: Any) -> np.ndarray:
        return self.model_.raw(X)

    def _staged_raw(self, X: Any) -> Iterator[np.ndarray]:
        X = self._validate_X(X)
        yield from self.model_.staged_raw(X)

    def stage_contributions(self, X: Any) -> np.ndarray:
        """Per-stage contributions to the raw (link-space) score.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        contributions : ndarray of shape (n_stages_ + 1, n_samples, n_outputs)
            Row 0 is ``F_0(x)``, row t is ``alpha_t h_t(x)``; the sum over axis 0 is the raw
            prediction (``decision_function`` for classifiers, ``predict`` for regressors).
        """
        X = self._validate_X(X)
        return self.model_.contributions(X)

    def drop_stages(self, stages: Iterable[int] | int) -> AdditiveEstimator:
        """A fitted copy with the given stages removed (a lesion).

        Parameters
        ----------
        stages : int or iterable of int
            Stage numbers in ``1..n_stages_`` (stage t is row t of ``stage_contributions``).
            For function-space models this removes ``alpha_t h_t``; for residual networks the
            block is bypassed (``z_t = z_{t-1}``) and later blocks see the changed input.

        Returns
        -------
        estimator : same type as self
            A new fitted estimator; ``self`` is unchanged. Fitted histories such as
            ``train_score_`` describe the original training run and are kept as they were.
        """
        check_is_fitted(self)
        lesioned = copy.copy(self)
        lesioned.model_ = self.model_.drop(stages)
        return lesioned


class AdditiveRegressorMixin:
    """Regression: squared error, predictions are the raw score."""

    _task: ClassVar[str] = "regression"
    model_: AdditiveModel
    loss_: Loss

    def _encode_y(self, y: np.ndarray, sample_weight: np.ndarray) -> np.ndarray:
        return np.asarray(y, dtype=np.float64)

    def _make_loss(self) -> Loss:
        return get_loss(
            "regression",
            loss=getattr(self, "loss", None),
            alpha=getattr(self, "alpha", 0.9),
            **self._loss_options(),  # type: ignore[attr-defined]
        )

    def predict(self, X: Any) -> np.ndarray:
        """Predicted targets, shape ``(n_samples,)``."""
        raw = self._raw_predict(self._validate_X(X))  # type: ignore[attr-defined]
        return self.loss_.inverse_link(raw)  # (X is validated, and fit checked, first)

    def staged_predict(self, X: Any) -> Iterator[np.ndarray]:
        """Yield the prediction after each stage t = 1..n_stages_ (one pass over the stages)."""
        for raw in self._staged_raw(X):  # type: ignore[attr-defined]
            yield self.loss_.inverse_link(raw)


class AdditiveClassifierMixin:
    """Classification: binary or multinomial log loss; any label type through ``classes_``."""

    _task: ClassVar[str] = "classification"
    model_: AdditiveModel
    loss_: Loss
    classes_: np.ndarray

    def _encode_y(self, y: np.ndarray, sample_weight: np.ndarray) -> np.ndarray:
        _check_label_types(y)
        try:
            check_classification_targets(y)
            encoder = LabelEncoder()
            codes = encoder.fit_transform(y)
        except (ValueError, TypeError) as exc:
            raise _name_argument(exc, "y") from exc
        self.classes_ = encoder.classes_
        weighted = self.classes_[np.bincount(codes, weights=sample_weight) > 0].tolist()
        if len(weighted) < 2:
            raise ValueError(
                f"y must contain at least 2 classes with positive sample_weight; got "
                f"{len(weighted)}: {weighted}"
                + (f" (of {self.classes_.tolist()})" if len(self.classes_) > len(weighted) else "")
            )
        return codes.astype(np.int64)

    @property
    def n_classes_(self) -> int:
        return len(self.classes_)

    def _make_loss(self) -> Loss:
        return get_loss(
            "classification",
            n_classes=len(self.classes_),
            loss=getattr(self, "loss", None),
            **self._loss_options(),  # type: ignore[attr-defined]
        )

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _add_class_weight(cls)

    def _weight_classes(self, y: np.ndarray, sample_weight: np.ndarray) -> np.ndarray:
        """``sample_weight * compute_sample_weight(class_weight, y)``, as LightGBM computes it."""
        class_weight = getattr(self, "class_weight", None)
        if class_weight is None:
            return sample_weight
        check_classification_targets(y)
        try:
            return sample_weight * compute_sample_weight(class_weight, y)
        except (ValueError, KeyError) as exc:
            raise ValueError(f"class_weight: {exc}") from exc

    def _raw_to_decision(self, raw: np.ndarray) -> np.ndarray:
        return raw[:, 0] if raw.shape[1] == 1 else raw

    def _raw_to_labels(self, raw: np.ndarray) -> np.ndarray:
        # decision > 0 for two classes, argmax otherwise: always consistent with decision_function
        codes = (raw[:, 0] > 0).astype(np.intp) if raw.shape[1] == 1 else np.argmax(raw, axis=1)
        return self.classes_[codes]

    def decision_function(self, X: Any) -> np.ndarray:
        """Raw scores, shape ``(n_samples,)`` for 2 classes, else ``(n_samples, n_classes)``."""
        return self._raw_to_decision(self._raw_predict(self._validate_X(X)))  # type: ignore[attr-defined]

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, shape ``(n_samples, n_classes)``, columns in ``classes_`` order."""
        raw = self._raw_predict(self._validate_X(X))  # type: ignore[attr-defined]
        return self.loss_.inverse_link(raw)

    def predict(self, X: Any) -> np.ndarray:
        """Most probable class label per sample."""
        return self._raw_to_labels(self._raw_predict(self._validate_X(X)))  # type: ignore[attr-defined]

    def staged_decision_function(self, X: Any) -> Iterator[np.ndarray]:
        """Yield ``decision_function`` after each stage t = 1..n_stages_."""
        for raw in self._staged_raw(X):  # type: ignore[attr-defined]
            yield self._raw_to_decision(raw)

    def staged_predict_proba(self, X: Any) -> Iterator[np.ndarray]:
        """Yield ``predict_proba`` after each stage t = 1..n_stages_."""
        for raw in self._staged_raw(X):  # type: ignore[attr-defined]
            yield self.loss_.inverse_link(raw)

    def staged_predict(self, X: Any) -> Iterator[np.ndarray]:
        """Yield ``predict`` after each stage t = 1..n_stages_."""
        for raw in self._staged_raw(X):  # type: ignore[attr-defined]
            yield self._raw_to_labels(raw)


_CLASS_WEIGHT_DOC = """    class_weight : dict, "balanced" or None, default=None
        Weights per class, multiplying ``sample_weight`` in ``fit``: a dict ``{label: weight}``
        (labels left out weigh 1), ``"balanced"`` for ``n_samples / (n_classes * count(label))``,
        or ``None`` for none (``sklearn.utils.class_weight.compute_sample_weight``; LightGBM's
        ``class_weight`` does the same).
"""


def _add_class_weight(cls: type) -> None:
    """Give a classifier the ``class_weight`` parameter, on top of its family's ``__init__``.

    Regressors and classifiers of one family share one ``__init__``; this adds the keyword-only
    ``class_weight=None`` to the classifier's signature (what ``get_params`` reads) and to its
    docstring's parameters, so that every classifier has it without repeating the signature.
    """
    inherited = cls.__init__  # type: ignore[misc]
    signature = inspect.signature(inherited)
    if "class_weight" in signature.parameters:
        return

    def __init__(self: Any, *args: Any, class_weight: Any = None, **kwargs: Any) -> None:
        inherited(self, *args, **kwargs)
        self.class_weight = class_weight

    parameters = list(signature.parameters.values())
    parameters.append(
        inspect.Parameter("class_weight", inspect.Parameter.KEYWORD_ONLY, default=None)
    )
    __init__.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
    __init__.__qualname__ = f"{cls.__qualname__}.__init__"
    __init__.__module__ = cls.__module__  # where documentation tools look it up
    __init__.__doc__ = inherited.__doc__
    setattr(cls, "__init__", __init__)  # noqa: B010
    marker = "\n    Attributes\n    ----------\n"
    if cls.__doc__ and marker in cls.__doc__ and "class_weight :" not in cls.__doc__:
        cls.__doc__ = cls.__doc__.replace(marker, _CLASS_WEIGHT_DOC + marker, 1)
