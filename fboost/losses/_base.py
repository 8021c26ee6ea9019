"""The ``Loss`` base class and the helpers the built-in losses share."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from sklearn.utils.stats import _weighted_percentile

if TYPE_CHECKING:  # pragma: no cover
    import torch

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


def _torch_where(condition: Any, a: Any, b: Any) -> Any:
    import torch

    return torch.where(condition, a, b)
