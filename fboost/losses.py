"""Losses of the additive model: one source of truth for trees, networks and analysis.

Every loss works on *raw* scores ``F`` of shape ``(n_samples, n_outputs)`` (the link space) and
encoded targets ``y``: floats for regression, integer class codes ``0..K-1`` for classification.
Each knows its weighted initial score ``F_0``, its value, its gradient and (diagonal) hessian with
respect to ``F``, its inverse link (raw score to prediction), how the ``engine="sklearn"`` trees
set their leaves (``leaf_update``) and which targets it accepts (``check_y``). The torch side
(``Loss.torch_value``) computes the same value on tensors, so that networks are trained on,
and analysis tools differentiate, exactly the loss that the trees are fitted to.

The built-in numpy sides are scikit-learn's compiled loss kernels (``sklearn._loss``), and the
conventions are theirs, so that the sklearn engine reproduces ``GradientBoostingRegressor`` /
``GradientBoostingClassifier`` (``loss=`` ``"squared_error"``, ``"absolute_error"``,
``"huber"``, ``"quantile"``, ``"log_loss"``, ``"exponential"``) to the last bits (last-bit
differences in a gradient flip near-tied splits a few stages later):

- squared error is *half* the squared error, ``0.5 * (y - F)**2``: its gradient is ``F - y``;
- binary log loss has one raw column (the log-odds of the positive class);
- the multinomial loss has one raw column per class, and its initial score is the symmetric
  log of the class priors, ``log(p_k / gmean(p))``;
- Poisson and Gamma are *half* deviances without their constant terms, on a log link
  (``exp(F) - y F`` and ``F + y exp(-F)``); the exponential loss has a half-logit link,
  ``p = expit(2 F)``.

``get_loss`` builds a loss from an estimator's ``loss=`` option; any subclass of ``Loss`` can be
passed instead (see its example).
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from scipy.special import expit, log_softmax
from sklearn._loss.loss import AbsoluteError as _SkAbsoluteError
from sklearn._loss.loss import ExponentialLoss as _SkExponentialLoss
from sklearn._loss.loss import (
    HalfBinomialLoss,
    HalfGammaLoss,
    HalfMultinomialLoss,
    HalfPoissonLoss,
    HalfSquaredError,
    PinballLoss,
)
from sklearn._loss.loss import HuberLoss as _SkHuberLoss
from sklearn.utils.stats import _weighted_percentile

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = [
    "Loss",
    "SquaredError",
    "AbsoluteError",
    "HuberLoss",
    "QuantileLoss",
    "PoissonLoss",
    "GammaLoss",
    "BinaryLogLoss",
    "MultinomialLogLoss",
    "ExponentialLoss",
    "REGRESSION_LOSSES",
    "CLASSIFICATION_LOSSES",
    "get_loss",
]

#: the ``loss=`` options of regressors and of classifiers
REGRESSION_LOSSES = ("squared_error", "absolute_error", "huber", "quantile", "poisson", "gamma")
CLASSIFICATION_LOSSES = ("log_loss", "exponential")

_EPS64 = float(np.finfo(np.float64).eps)


def _weighted_mean(values: np.ndarray, sample_weight: np.ndarray | None) -> float:
    if sample_weight is None:
        return float(np.mean(values))
    return float(np.average(values, weights=sample_weight))


def _class_prior(y: np.ndarray, sample_weight: np.ndarray | None, n_classes: int) -> np.ndarray:
    """Weighted class frequencies clipped to [eps, 1 - eps] (scikit-learn's prior, bit for bit)."""
    counts = np.bincount(np.asarray(y, dtype=np.intp), weights=sample_weight, minlength=n_classes)
    return np.clip(counts / counts.sum(), _EPS64, 1 - _EPS64)


def _percentile(values: np.ndarray, sample_weight: np.ndarray | None, q: float) -> float:
    """scikit-learn's quantile ``q`` in (0, 1): ``np.percentile``, or its weighted inverted CDF."""
    if sample_weight is None:
        return float(np.percentile(values, 100 * q))
    return float(_weighted_percentile(values, sample_weight, 100 * q))


def _unless_uniform(sample_weight: np.ndarray | None) -> np.ndarray | None:
    """``None`` for equal weights: ``GradientBoosting*`` fits ``F_0`` unweighted without weights."""
    if sample_weight is None or np.all(sample_weight == sample_weight[0]):
        return None
    return sample_weight


def _log_of_mean(name: str, y: np.ndarray, sample_weight: np.ndarray | None) -> np.ndarray:
    mean = _weighted_mean(y, sample_weight)
    if not mean > 0:
        raise ValueError(f"y must have a positive weighted mean for loss={name!r}, got {mean}")
    return np.array([np.log(mean)])


class Loss(ABC):
    """A differentiable loss on raw scores of shape ``(n_samples, n_outputs)``.

    Subclass it to train any fboost estimator that takes ``loss=`` on a loss of your own:
    implement ``init_raw``, ``pointwise``, ``gradient``, ``hessian``, ``inverse_link`` and
    ``torch_pointwise``, and set ``name`` and ``is_classification`` (a classifier's loss needs
    ``n_outputs`` 1 for two classes, K for K classes). Optional: ``check_y`` (reject targets),
    ``leaf_update`` and ``fit_intercept`` (how ``engine="sklearn"`` trees set their leaves),
    ``link`` (``"identity"`` lets regression networks standardise their output).

    Parameters
    ----------
    n_outputs : int, default=1
        Raw outputs: 1 for regression and binary classification, K for K classes.

    Attributes
    ----------
    name : str
        Short name, used in reports and LightGBM's metric lookup.
    is_classification : bool
        Whether targets are class codes.
    leaf_update : {"mean", "newton", "quantile"}
        How ``engine="sklearn"`` sets a tree's leaves: keep the tree's means of ``-g``
        (``"mean"``), one Newton step ``sum(w (-g)) / sum(w h)`` (``"newton"``), or
        ``fit_intercept`` on the leaf's residuals ``y - F`` (``"quantile"``, scikit-learn's
        rule for the absolute, Huber and quantile losses).
    link : {"identity", "log", "logit"}
        The link between the raw score and the prediction.

    Examples
    --------
    >>> import numpy as np
    >>> from fboost.losses import get_loss
    >>> loss = get_loss("classification", n_classes=2)
    >>> y, raw = np.array([0, 1, 1]), np.zeros((3, 1))
    >>> round(loss.value(y, raw), 4)  # log(2)
    0.6931
    >>> loss.gradient(y, raw).ravel().tolist()  # p - y
    [0.5, -0.5, -0.5]

    A loss of one's own, here ``log(cosh(F - y))`` (squared near 0, absolute far away), works
    with every estimator that takes ``loss=``:

    >>> from fboost.losses import Loss
    >>> class LogCosh(Loss):
    ...     name = "log_cosh"
    ...     is_classification = False
    ...     def init_raw(self, y, sample_weight=None):
    ...         return np.array([np.median(y)])
    ...     def pointwise(self, y, raw):
    ...         return np.logaddexp(raw[:, 0] - y, y - raw[:, 0]) - np.log(2)
    ...     def gradient(self, y, raw):
    ...         return np.tanh(raw - y[:, None])
    ...     def hessian(self, y, raw):
    ...         return 1 - np.tanh(raw - y[:, None]) ** 2
    ...     def inverse_link(self, raw):
    ...         return raw[:, 0]
    ...     def torch_pointwise(self, y, raw):
    ...         import torch
    ...         return torch.logaddexp(raw[:, 0] - y, y - raw[:, 0]) - np.log(2)
    >>> from sklearn.datasets import make_friedman1
    >>> from fboost import TreeBoostingRegressor
    >>> X, y = make_friedman1(n_samples=200, random_state=0)
    >>> model = TreeBoostingRegressor(engine="sklearn", loss=LogCosh(), n_stages=20).fit(X, y)
    >>> bool(model.train_score_[-1] < model.train_score_[0])
    True
    >>> contributions = model.stage_contributions(X)  # telescopes as with any built-in loss
    >>> bool(abs(contributions.sum(axis=0)[:, 0] - model.predict(X)).max() < 1e-10)
    True
    """

    name: ClassVar[str] = "custom"
    is_classification: ClassVar[bool] = False
    leaf_update: ClassVar[str] = "newton"
    link: ClassVar[str] = "identity"

    def __init__(self, n_outputs: int = 1) -> None:
        self.n_outputs = n_outputs

    def _params(self) -> dict[str, Any]:
        return {"n_outputs": self.n_outputs}

    def targets(self, y: np.ndarray) -> np.ndarray:
        """Targets shaped like the raw score, ``(n_samples, n_outputs)``: one-hot for K classes."""
        return np.asarray(y, dtype=np.float64).reshape(-1, 1)

    def __repr__(self) -> str:
        params = ", ".join(f"{key}={value!r}" for key, value in self._params().items())
        return f"{type(self).__name__}({params})"

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self._params() == other._params()

    def __hash__(self) -> int:
        return hash((type(self).__name__, tuple(sorted(self._params().items()))))

    # -- numpy ---------------------------------------------------------------------------------
    def check_y(self, y: np.ndarray, sample_weight: np.ndarray | None = None) -> None:
        """Raise ``ValueError`` (naming y) for targets outside the loss's domain."""
        return None

    def prepare_stage(
        self, y: np.ndarray, raw: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> None:
        """Called before each boosting stage (and once before a network trains); no-op here."""
        return None

    @abstractmethod
    def init_raw(self, y: np.ndarray, sample_weight: np.ndarray | None = None) -> np.ndarray:
        """Weighted optimal constant raw score ``F_0``, shape ``(n_outputs,)``."""

    @abstractmethod
    def pointwise(self, y: np.ndarray, raw: np.ndarray) -> np.ndarray:
        """Per-sample loss, shape ``(n_samples,)``."""

    def value(
        self, y: np.ndarray, raw: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> float:
        """Weighted mean loss."""
        return _weighted_mean(self.pointwise(y, raw), sample_weight)

    @abstractmethod
    def gradient(self, y: np.ndarray, raw: np.ndarray) -> np.ndarray:
        """Per-sample gradient ``dL/dF``, shape ``(n_samples, n_outputs)`` (unweighted)."""

    @abstractmethod
    def hessian(self, y: np.ndarray, raw: np.ndarray) -> np.ndarray:
        """Per-sample diagonal of ``d2L/dF2``, shape ``(n_samples, n_outputs)`` (unweighted)."""

    def newton_hessian(self, y: np.ndarray, raw: np.ndarray, gradient: np.ndarray) -> np.ndarray:
        """The hessian a Newton step divides by, given the gradient already computed."""
        return self.hessian(y, raw)

    def leaf_factor(self) -> float:
        """Factor on every Newton leaf (scikit-learn's ``(K - 1) / K`` for K classes)."""
        return 1.0

    def fit_intercept(self, residual: np.ndarray, sample_weight: np.ndarray) -> float:
        """Best constant for ``residual = y - F`` (``leaf_update="quantile"`` leaves)."""
        raise NotImplementedError(f"{type(self).__name__} has leaf_update={self.leaf_update!r}")

    @abstractmethod
    def inverse_link(self, raw: np.ndarray) -> np.ndarray:
        """Raw score to prediction: the regression target or the class probabilities."""

    # -- torch ---------------------------------------------------------------------------------
    @abstractmethod
    def torch_pointwise(self, y: torch.Tensor, raw: torch.Tensor) -> torch.Tensor:
        """Per-sample loss on tensors; ``y`` float for regression, int64 codes otherwise."""

    def torch_value(
        self, y: torch.Tensor, raw: torch.Tensor, sample_weight: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Weighted mean loss on tensors; the same number as ``value``."""
        losses = self.torch_pointwise(y, raw)
        if sample_weight is None:
            return losses.mean()
        return (losses * sample_weight).sum() / sample_weight.sum()


class _KernelLoss(Loss):
    """A built-in loss whose numpy value and gradient are scikit-learn's compiled kernels."""

    def __init__(self, n_outputs: int = 1) -> None:
        super().__init__(n_outputs)
        self._kernel = self._make_kernel()

    @abstractmethod
    def _make_kernel(self) -> Any:
        """scikit-learn's compiled loss for the numpy side."""

    def _kernel_args(self, y: np.ndarray, raw: np.ndarray) -> dict[str, np.ndarray]:
        raw = np.ascontiguousarray(raw, dtype=np.float64)
        return {
            "y_true": np.ascontiguousarray(y, dtype=np.float64),
            "raw_prediction": raw[:, 0] if self.n_outputs == 1 else raw,
        }

    def pointwise(self, y: np.ndarray, raw: np.ndarray) -> np.ndarray:
        return np.asarray(self._kernel.loss(**self._kernel_args(y, raw)))

    def gradient(self, y: np.ndarray, raw: np.ndarray) -> np.ndarray:
        g = self._kernel.gradient(**self._kernel_args(y, raw))
        return np.asarray(g).reshape(len(y), self.n_outputs)

    def hessian(self, y: np.ndarray, raw: np.ndarray) -> np.ndarray:
        return self.newton_hessian(y, raw, self.gradient(y, raw))

    def inverse_link(self, raw: np.ndarray) -> np.ndarray:
        return raw[:, 0]


class SquaredError(_KernelLoss):
    """Half squared error ``0.5 * (y - F)**2``; gradient ``F - y``, hessian 1, identity link.

    Examples
    --------
    >>> import numpy as np
    >>> from fboost.losses import SquaredError
    >>> loss = SquaredError()
    >>> y = np.array([1.0, 3.0])
    >>> loss.init_raw(y).tolist(), loss.value(y, np.array([[2.0], [2.0]]))
    ([2.0], 0.5)
    >>> loss.gradient(y, np.array([[2.0], [2.0]])).ravel().tolist()
    [1.0, -1.0]
    """

    name = "squared_error"
    leaf_update = "mean"

    def _make_kernel(self) -> Any:
        return HalfSquaredError()

    def init_raw(self, y: np.ndarray, sample_weight: np.ndarray | None = None) -> np.ndarray:
        return np.array([_weighted_mean(y, sample_weight)])

    def newton_hessian(self, y: np.ndarray, raw: np.ndarray, gradient: np.ndarray) -> np.ndarray:
        return np.ones_like(gradient)

    def torch_pointwise(self, y: torch.Tensor, raw: torch.Tensor) -> torch.Tensor:
        return 0.5 * (y - raw[:, 0]) ** 2


class AbsoluteError(_KernelLoss):
    """Absolute error ``|y - F|``; ``F_0`` and the tree leaves are (weighted) medians.

    The hessian is 0 almost everywhere; like scikit-learn's histogram GBM, ``hessian`` returns 1
    (so that Newton targets are the gradient's signs).

    Examples
    --------
    >>> import numpy as np
    >>> from fboost.losses import AbsoluteError
    >>> loss = AbsoluteError()
    >>> y = np.array([1.0, 2.0, 10.0])
    >>> loss.init_raw(y).tolist(), loss.value(y, np.full((3, 1), 2.0))
    ([2.0], 3.0)
    """

    name = "absolute_error"
    leaf_update = "quantile"

    def _make_kernel(self) -> Any:
        return _SkAbsoluteError()

    def init_raw(self, y: np.ndarray, sample_weight: np.ndarray | None = None) -> np.ndarray:
        return np.array([_percentile(y, _unless_uniform(sample_weight), 0.5)])

    def fit_intercept(self, residual: np.ndarray, sample_weight: np.ndarray) -> float:
        return _percentile(residual, sample_weight, 0.5)

    def newton_hessian(self, y: np.ndarray, raw: np.ndarray, gradient: np.ndarray) -> np.ndarray:
        return np.ones_like(gradient)

    def torch_pointwise(self, y: torch.Tensor, raw: torch.Tensor) -> torch.Tensor:
        return (y - raw[:, 0]).abs()


class QuantileLoss(_KernelLoss):
    """Pinball loss for the ``quantile`` in (0, 1): ``q (y - F)`` above ``F``, ``(1 - q) (F - y)``
    below; ``F_0`` and the tree leaves are (weighted) ``q``-quantiles. Hessian 1 as for
    ``AbsoluteError``.

    Parameters
    ----------
    quantile : float, default=0.5
        The quantile level, in (0, 1).
    n_outputs : int, default=1
        Always 1.

    Examples
    --------
    >>> import numpy as np
    >>> from fboost.losses import QuantileLoss
    >>> loss = QuantileLoss(quantile=0.9)
    >>> y = np.arange(11.0)
    >>> loss.init_raw(y).tolist(), loss.gradient(np.array([0.0, 5.0]), np.ones((2, 1))).ravel()
    ([9.0], array([ 0.1, -0.9]))
    """

    name = "quantile"
    leaf_update = "quantile"

    def __init__(self, quantile: float = 0.5, n_outputs: int = 1) -> None:
        if not 0 < quantile < 1:
            raise ValueError(f"quantile must be in (0, 1), got {quantile}")
        self.quantile = float(quantile)
        super().__init__(n_outputs)

    def _params(self) -> dict[str, Any]:
        return {"quantile": self.quantile, **super()._params()}

    def _make_kernel(self) -> Any:
        return PinballLoss(quantile=self.quantile)

    def init_raw(self, y: np.ndarray, sample_weight: np.ndarray | None = None) -> np.ndarray:
        return np.array([_percentile(y, _unless_uniform(sample_weight), self.quantile)])

    def fit_intercept(self, residual: np.ndarray, sample_weight: np.ndarray) -> float:
        return _percentile(residual, sample_weight, self.quantile)

    def newton_hessian(self, y: np.ndarray, raw: np.ndarray, gradient: np.ndarray) -> np.ndarray:
        return np.ones_like(gradient)

    def torch_pointwise(self, y: torch.Tensor, raw: torch.Tensor) -> torch.Tensor:
        diff = y - raw[:, 0]
        return _torch_where(diff >= 0, self.quantile * diff, (self.quantile - 1) * diff)


class HuberLoss(_KernelLoss):
    """Huber loss: ``0.5 d**2`` if ``|d| <= delta``, else ``delta (|d| - delta / 2)``, d = y - F.

    With ``delta=None`` the threshold is scikit-learn's: before every boosting stage,
    ``prepare_stage`` sets ``delta`` to the weighted ``quantile`` of ``|y - F|``
    (Friedman 2001, algorithm 4); networks set it once, at ``F_0``. A float fixes it (LightGBM's
    ``alpha`` for ``objective="huber"``). ``F_0`` is the median, the tree leaves scikit-learn's
    one-step M-estimate ``median(r) + mean(sign(r - median) min(delta, |r - median|))``; the
    hessian is 1 inside ``delta`` and ``delta / |d|`` beyond (scikit-learn's histogram GBM).

    Parameters
    ----------
    quantile : float, default=0.9
        Quantile of ``|y - F|`` that sets ``delta`` when ``delta`` is None, in (0, 1).
    delta : float or None, default=None
        A fixed threshold (> 0), or ``None`` for the adaptive one.
    n_outputs : int, default=1
        Always 1.

    Examples
    --------
    >>> import numpy as np
    >>> from fboost.losses import HuberLoss
    >>> loss = HuberLoss(delta=1.0)
    >>> loss.pointwise(np.array([0.5, 3.0]), np.zeros((2, 1))).tolist()
    [0.125, 2.5]
    """

    name = "huber"
    leaf_update = "quantile"

    def __init__(self, quantile: float = 0.9, delta: float | None = None, n_outputs: int = 1):
        if not 0 < quantile < 1:
            raise ValueError(f"quantile must be in (0, 1), got {quantile}")
        if delta is not None and not delta > 0:
            raise ValueError(f"delta must be positive, got {delta}")
        self.quantile = float(quantile)
        self.adaptive = delta is None
        self.delta = 0.5 if delta is None else float(delta)  # scikit-learn's until a stage sets it
        super().__init__(n_outputs)

    def _params(self) -> dict[str, Any]:
        delta = None if self.adaptive else self.delta
        return {"quantile": self.quantile, "delta": delta, **super()._params()}

    def _make_kernel(self) -> Any:
        return _SkHuberLoss(quantile=self.quantile, delta=self.delta)

    def prepare_stage(
        self, y: np.ndarray, raw: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> None:
        if self.adaptive:
            abs_error = np.abs(y - raw[:, 0])
            weights = np.ones_like(abs_error) if sample_weight is None else sample_weight
            self.delta = float(_weighted_percentile(abs_error, weights, 100 * self.quantile))
            self._kernel.closs.delta = self.delta

    def init_raw(self, y: np.ndarray, sample_weight: np.ndarray | None = None) -> np.ndarray:
        return np.array([_percentile(y, _unless_uniform(sample_weight), 0.5)])

    def fit_intercept(self, residual: np.ndarray, sample_weight: np.ndarray) -> float:
        median = _percentile(residual, sample_weight, 0.5)
        diff = residual - median
        term = np.sign(diff) * np.minimum(self.delta, np.abs(diff))
        return float(median + np.average(term, weights=sample_weight))

    def newton_hessian(self, y: np.ndarray, raw: np.ndarray, gradient: np.ndarray) -> np.ndarray:
        abs_diff = np.abs(self.targets(y) - raw)
        return np.where(abs_diff <= self.delta, 1.0, self.delta / np.maximum(abs_diff, 1e-300))

    def torch_pointwise(self, y: torch.Tensor, raw: torch.Tensor) -> torch.Tensor:
        abs_diff = (y - raw[:, 0]).abs()
        delta = self.delta
        return _torch_where(abs_diff <= delta, 0.5 * abs_diff**2, delta * (abs_diff - 0.5 * delta))


class PoissonLoss(_KernelLoss):
    """Half Poisson deviance ``exp(F) - y F`` (no constant terms) on a log link, ``y >= 0``.

    ``F_0 = log(mean(y))``; gradient ``exp(F) - y``, hessian ``exp(F)``. scikit-learn's
    ``GradientBoostingRegressor`` has no Poisson loss: ``engine="sklearn"`` takes Newton leaves
    (as LightGBM does); ``engine="lightgbm"`` is LightGBM's ``objective="poisson"``.

    Examples
    --------
    >>> import numpy as np
    >>> from fboost.losses import PoissonLoss
    >>> loss = PoissonLoss()
    >>> raw0 = loss.init_raw(np.array([1.0, 3.0]))
    >>> loss.inverse_link(raw0[None, :]).tolist()  # the mean
    [2.0]
    """

    name = "poisson"
    link = "log"

    def _make_kernel(self) -> Any:
        return HalfPoissonLoss()

    def check_y(self, y: np.ndarray, sample_weight: np.ndarray | None = None) -> None:
        if np.min(y) < 0:
            raise ValueError(f"y must be non-negative for loss='poisson', got min(y)={np.min(y)}")

    def init_raw(self, y: np.ndarray, sample_weight: np.ndarray | None = None) -> np.ndarray:
        return _log_of_mean(self.name, y, sample_weight)

    def newton_hessian(self, y: np.ndarray, raw: np.ndarray, gradient: np.ndarray) -> np.ndarray:
        return np.exp(raw)

    def inverse_link(self, raw: np.ndarray) -> np.ndarray:
        return np.exp(raw[:, 0])

    def torch_pointwise(self, y: torch.Tensor, raw: torch.Tensor) -> torch.Tensor:
        return raw[:, 0].exp() - y * raw[:, 0]


class GammaLoss(_KernelLoss):
    """Half Gamma deviance ``F + y exp(-F)`` (no constant terms) on a log link, ``y > 0``.

    ``F_0 = log(mean(y))``; gradient ``1 - y exp(-F)``, hessian ``y exp(-F)``. Trees as for
    ``PoissonLoss``: Newton leaves on ``engine="sklearn"``, LightGBM's ``objective="gamma"``.

    Examples
    --------
    >>> import numpy as np
    >>> from fboost.losses import GammaLoss
    >>> GammaLoss().gradient(np.array([2.0]), np.zeros((1, 1))).tolist()
    [[-1.0]]
    """

    name = "gamma"
    link = "log"

    def _make_kernel(self) -> Any:
        return HalfGammaLoss()

    def check_y(self, y: np.ndarray, sample_weight: np.ndarray | None = None) -> None:
        if np.min(y) <= 0:
            raise ValueError(f"y must be positive for loss='gamma', got min(y)={np.min(y)}")

    def init_raw(self, y: np.ndarray, sample_weight: np.ndarray | None = None) -> np.ndarray:
        return _log_of_mean(self.name, y, sample_weight)

    def newton_hessian(self, y: np.ndarray, raw: np.ndarray, gradient: np.ndarray) -> np.ndarray:
        return self.targets(y) * np.exp(-raw)

    def inverse_link(self, raw: np.ndarray) -> np.ndarray:
        return np.exp(raw[:, 0])

    def torch_pointwise(self, y: torch.Tensor, raw: torch.Tensor) -> torch.Tensor:
        return raw[:, 0] + y * (-raw[:, 0]).exp()


class BinaryLogLoss(_KernelLoss):
    """Binary cross-entropy on one raw column ``F`` = log-odds of class 1; ``p = expit(F)``.

    Examples
    --------
    >>> import numpy as np
    >>> from fboost.losses import BinaryLogLoss
    >>> loss = BinaryLogLoss()
    >>> y = np.array([0, 1, 1, 1])
    >>> raw0 = loss.init_raw(y)  # log-odds of the class-1 frequency
    >>> round(float(raw0[0]), 4), loss.inverse_link(raw0[None, :]).round(2).tolist()
    (1.0986, [[0.25, 0.75]])
    """

    name = "binary_log_loss"
    is_classification = True
    link = "logit"

    def _make_kernel(self) -> Any:
        return HalfBinomialLoss()

    def init_raw(self, y: np.ndarray, sample_weight: np.ndarray | None = None) -> np.ndarray:
        p = _class_prior(y, sample_weight, 2)[1:]
        return np.asarray(self._kernel.link.link(p), dtype=np.float64)

    def newton_hessian(self, y: np.ndarray, raw: np.ndarray, gradient: np.ndarray) -> np.ndarray:
        p = self.targets(y) + gradient  # scikit-learn's leaf step takes p from the gradient
        return p * (1 - p)

    def inverse_link(self, raw: np.ndarray) -> np.ndarray:
        p = expit(raw[:, 0])
        return np.column_stack([1 - p, p])

    def torch_pointwise(self, y: torch.Tensor, raw: torch.Tensor) -> torch.Tensor:
        import torch.nn.functional as F

        return F.binary_cross_entropy_with_logits(raw[:, 0], y.to(raw.dtype), reduction="none")


class MultinomialLogLoss(_KernelLoss):
    """Multinomial cross-entropy on ``K`` raw columns; ``p = softmax(F)``.

    Examples
    --------
    >>> import numpy as np
    >>> from fboost.losses import MultinomialLogLoss
    >>> loss = MultinomialLogLoss(3)
    >>> y = np.array([0, 1, 2, 2])
    >>> raw0 = loss.init_raw(y)  # symmetric log of the priors: sums to 0
    >>> loss.inverse_link(raw0[None, :]).round(2).tolist(), bool(abs(raw0.sum()) < 1e-12)
    ([[0.25, 0.25, 0.5]], True)
    """

    name = "multinomial_log_loss"
    is_classification = True
    link = "softmax"

    def _make_kernel(self) -> Any:
        return HalfMultinomialLoss(n_classes=self.n_outputs)

    def init_raw(self, y: np.ndarray, sample_weight: np.ndarray | None = None) -> np.ndarray:
        p = _class_prior(y, sample_weight, self.n_outputs)
        return np.asarray(self._kernel.link.link(p[None, :])[0], dtype=np.float64)

    def targets(self, y: np.ndarray) -> np.ndarray:
        return np.eye(self.n_outputs)[np.asarray(y, dtype=np.intp)]

    def newton_hessian(self, y: np.ndarray, raw: np.ndarray, gradient: np.ndarray) -> np.ndarray:
        p = self.targets(y) + gradient
        return p * (1 - p)

    def leaf_factor(self) -> float:
        return (self.n_outputs - 1) / self.n_outputs

    def inverse_link(self, raw: np.ndarray) -> np.ndarray:
        return np.exp(log_softmax(raw, axis=1))

    def torch_pointwise(self, y: torch.Tensor, raw: torch.Tensor) -> torch.Tensor:
        import torch.nn.functional as F

        return F.cross_entropy(raw, y.long(), reduction="none")


class ExponentialLoss(_KernelLoss):
    """AdaBoost's exponential loss ``y exp(-F) + (1 - y) exp(F)`` for two classes.

    Half-logit link ``p = expit(2 F)``; ``F_0`` is half the log-odds of the prior. Trees take
    scikit-learn's Newton leaves (hessian ``|g|``); LightGBM has no such objective.

    Examples
    --------
    >>> import numpy as np
    >>> from fboost.losses import ExponentialLoss
    >>> loss = ExponentialLoss()
    >>> raw0 = loss.init_raw(np.array([0, 1, 1, 1]))
    >>> loss.inverse_link(raw0[None, :]).round(2).tolist()
    [[0.25, 0.75]]
    """

    name = "exponential"
    is_classification = True
    link = "logit"

    def _make_kernel(self) -> Any:
        return _SkExponentialLoss()

    def init_raw(self, y: np.ndarray, sample_weight: np.ndarray | None = None) -> np.ndarray:
        p = _class_prior(y, sample_weight, 2)[1:]
        return np.asarray(self._kernel.link.link(p), dtype=np.float64)

    def newton_hessian(self, y: np.ndarray, raw: np.ndarray, gradient: np.ndarray) -> np.ndarray:
        return np.where(self.targets(y) == 0, gradient, -gradient)

    def inverse_link(self, raw: np.ndarray) -> np.ndarray:
        p = expit(2 * raw[:, 0])
        return np.column_stack([1 - p, p])

    def torch_pointwise(self, y: torch.Tensor, raw: torch.Tensor) -> torch.Tensor:
        y = y.to(raw.dtype)
        return y * (-raw[:, 0]).exp() + (1 - y) * raw[:, 0].exp()


def _torch_where(condition: Any, a: Any, b: Any) -> Any:
    import torch

    return torch.where(condition, a, b)


def _custom_loss(loss: Loss, task: str, n_classes: int | None) -> Loss:
    expected = 1 if task == "regression" or n_classes == 2 else n_classes
    if loss.is_classification != (task == "classification"):
        kind = "classification" if loss.is_classification else "regression"
        raise ValueError(f"loss={loss!r} is a {kind} loss; this estimator does {task}")
    if loss.n_outputs != expected:
        raise ValueError(
            f"loss={loss!r} has n_outputs={loss.n_outputs}; {task} with n_classes={n_classes} "
            f"needs {expected}"
        )
    return copy.deepcopy(loss)  # a fit never changes the estimator's parameter


def get_loss(
    task: str,
    n_classes: int | None = None,
    *,
    loss: str | Loss | None = None,
    alpha: float = 0.9,
    huber_delta: float | None = None,
) -> Loss:
    """The loss for a task: ``"regression"``, or ``"classification"`` with ``n_classes >= 2``.

    Parameters
    ----------
    task : {"regression", "classification"}
        What the estimator does.
    n_classes : int or None, default=None
        Number of classes (classification only, >= 2).
    loss : str, Loss or None, default=None
        One of ``REGRESSION_LOSSES`` or ``CLASSIFICATION_LOSSES``, a ``Loss`` instance (copied),
        or ``None`` for ``"squared_error"`` / ``"log_loss"``.
    alpha : float, default=0.9
        The quantile level of ``"quantile"``, and the quantile of ``|y - F|`` that sets the
        ``"huber"`` threshold (both in (0, 1)).
    huber_delta : float or None, default=None
        A fixed ``"huber"`` threshold instead (LightGBM's ``alpha``).

    Returns
    -------
    loss : Loss

    Examples
    --------
    >>> from fboost.losses import get_loss
    >>> get_loss("regression"), get_loss("classification", n_classes=2)
    (SquaredError(n_outputs=1), BinaryLogLoss(n_outputs=1))
    >>> get_loss("classification", n_classes=4)
    MultinomialLogLoss(n_outputs=4)
    >>> get_loss("regression", loss="quantile", alpha=0.1)
    QuantileLoss(quantile=0.1, n_outputs=1)
    """
    if task not in ("regression", "classification"):
        raise ValueError(f"task must be 'regression' or 'classification', got {task!r}")
    if task == "classification" and (n_classes is None or n_classes < 2):
        raise ValueError(f"n_classes must be at least 2 for classification, got {n_classes}")
    if isinstance(loss, Loss):
        return _custom_loss(loss, task, n_classes)
    options = REGRESSION_LOSSES if task == "regression" else CLASSIFICATION_LOSSES
    name = options[0] if loss is None else loss
    if name not in options:
        raise ValueError(
            f"loss must be one of {', '.join(map(repr, options))} or a fboost.losses.Loss for "
            f"{task}, got loss={loss!r}"
        )
    if (name == "quantile" or (name == "huber" and huber_delta is None)) and not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1) for loss={name!r}, got alpha={alpha}")
    if name == "exponential" and n_classes != 2:
        raise ValueError(
            f"loss='exponential' is for binary classification, got n_classes={n_classes}; use "
            "loss='log_loss'"
        )
    if task == "classification" and name == "log_loss":
        return BinaryLogLoss(1) if n_classes == 2 else MultinomialLogLoss(int(n_classes))  # type: ignore[arg-type]
    if name == "huber":
        return HuberLoss(delta=huber_delta) if huber_delta is not None else HuberLoss(alpha)
    if name == "quantile":
        return QuantileLoss(quantile=alpha)
    classes: dict[str, type[Loss]] = {
        "squared_error": SquaredError,
        "absolute_error": AbsoluteError,
        "poisson": PoissonLoss,
        "gamma": GammaLoss,
        "exponential": ExponentialLoss,
    }
    return classes[name]()
