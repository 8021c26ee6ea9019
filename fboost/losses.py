"""Losses of the additive model: one source of truth for trees, networks and analysis.

Every loss works on *raw* scores ``F`` of shape ``(n_samples, n_outputs)`` (the link space) and
encoded targets ``y``: floats for regression, integer class codes ``0..K-1`` for classification.
Each knows its weighted initial score ``F_0``, its value, its gradient and (diagonal) hessian with
respect to ``F``, and its inverse link (raw score to prediction). The torch side
(``Loss.torch_value``) computes the same value on tensors, so that networks are trained on,
and analysis tools differentiate, exactly the loss that the trees are fitted to.

The numpy gradients are computed by scikit-learn's compiled loss kernels (``sklearn._loss``), and
the conventions are theirs, so that the sklearn engine reproduces ``GradientBoostingRegressor`` /
``GradientBoostingClassifier`` bit for bit (last-bit differences in a gradient flip near-tied
splits a few stages later):

- squared error is *half* the squared error, ``0.5 * (y - F)**2``: its gradient is ``F - y``;
- binary log loss has one raw column (the log-odds of the positive class);
- the multinomial loss has one raw column per class, and its initial score is the symmetric
  log of the class priors, ``log(p_k / gmean(p))``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from scipy.special import expit, log_softmax
from sklearn._loss.loss import HalfBinomialLoss, HalfMultinomialLoss, HalfSquaredError

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = [
    "Loss",
    "SquaredError",
    "BinaryLogLoss",
    "MultinomialLogLoss",
    "get_loss",
]

_EPS64 = float(np.finfo(np.float64).eps)


def _weighted_mean(values: np.ndarray, sample_weight: np.ndarray | None) -> float:
    if sample_weight is None:
        return float(np.mean(values))
    return float(np.average(values, weights=sample_weight))


def _class_prior(y: np.ndarray, sample_weight: np.ndarray | None, n_classes: int) -> np.ndarray:
    """Weighted class frequencies clipped to [eps, 1 - eps] (scikit-learn's prior, bit for bit)."""
    counts = np.bincount(np.asarray(y, dtype=np.intp), weights=sample_weight, minlength=n_classes)
    return np.clip(counts / counts.sum(), _EPS64, 1 - _EPS64)


class Loss(ABC):
    """A differentiable loss on raw scores of shape ``(n_samples, n_outputs)``.

    Parameters
    ----------
    n_outputs : int, default=1
        Raw outputs: 1 for regression and binary classification, K for K classes.

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
    """

    #: short name, used in reports and by ``get_loss``
    name: ClassVar[str]
    #: whether targets are class codes
    is_classification: ClassVar[bool]

    def __init__(self, n_outputs: int = 1) -> None:
        self.n_outputs = n_outputs
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

    def targets(self, y: np.ndarray) -> np.ndarray:
        """Targets shaped like the raw score, ``(n_samples, n_outputs)``: one-hot for K classes."""
        return np.asarray(y, dtype=np.float64).reshape(-1, 1)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n_outputs={self.n_outputs})"

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.n_outputs == other.n_outputs

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.n_outputs))

    # -- numpy ---------------------------------------------------------------------------------
    @abstractmethod
    def init_raw(self, y: np.ndarray, sample_weight: np.ndarray | None = None) -> np.ndarray:
        """Weighted optimal constant raw score ``F_0``, shape ``(n_outputs,)``."""

    def pointwise(self, y: np.ndarray, raw: np.ndarray) -> np.ndarray:
        """Per-sample loss, shape ``(n_samples,)``."""
        return np.asarray(self._kernel.loss(**self._kernel_args(y, raw)))

    def value(
        self, y: np.ndarray, raw: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> float:
        """Weighted mean loss."""
        return _weighted_mean(self.pointwise(y, raw), sample_weight)

    def gradient(self, y: np.ndarray, raw: np.ndarray) -> np.ndarray:
        """Per-sample gradient ``dL/dF``, shape ``(n_samples, n_outputs)`` (unweighted)."""
        g = self._kernel.gradient(**self._kernel_args(y, raw))
        return np.asarray(g).reshape(len(y), self.n_outputs)

    def hessian(self, y: np.ndarray, raw: np.ndarray) -> np.ndarray:
        """Per-sample diagonal of ``d2L/dF2``, shape ``(n_samples, n_outputs)`` (unweighted)."""
        return self.hessian_from_gradient(y, self.gradient(y, raw))

    @abstractmethod
    def hessian_from_gradient(self, y: np.ndarray, gradient: np.ndarray) -> np.ndarray:
        """The diagonal hessian from the gradient (the form scikit-learn's leaf step uses)."""

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


class SquaredError(Loss):
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
    is_classification = False

    def _make_kernel(self) -> Any:
        return HalfSquaredError()

    def init_raw(self, y: np.ndarray, sample_weight: np.ndarray | None = None) -> np.ndarray:
        return np.array([_weighted_mean(y, sample_weight)])

    def hessian_from_gradient(self, y: np.ndarray, gradient: np.ndarray) -> np.ndarray:
        return np.ones_like(gradient)

    def inverse_link(self, raw: np.ndarray) -> np.ndarray:
        return raw[:, 0]

    def torch_pointwise(self, y: torch.Tensor, raw: torch.Tensor) -> torch.Tensor:
        return 0.5 * (y - raw[:, 0]) ** 2


class BinaryLogLoss(Loss):
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

    def _make_kernel(self) -> Any:
        return HalfBinomialLoss()

    def init_raw(self, y: np.ndarray, sample_weight: np.ndarray | None = None) -> np.ndarray:
        p = _class_prior(y, sample_weight, 2)[1:]
        return np.asarray(self._kernel.link.link(p), dtype=np.float64)

    def hessian_from_gradient(self, y: np.ndarray, gradient: np.ndarray) -> np.ndarray:
        p = self.targets(y) + gradient
        return p * (1 - p)

    def inverse_link(self, raw: np.ndarray) -> np.ndarray:
        p = expit(raw[:, 0])
        return np.column_stack([1 - p, p])

    def torch_pointwise(self, y: torch.Tensor, raw: torch.Tensor) -> torch.Tensor:
        import torch.nn.functional as F

        return F.binary_cross_entropy_with_logits(raw[:, 0], y.to(raw.dtype), reduction="none")


class MultinomialLogLoss(Loss):
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

    def _make_kernel(self) -> Any:
        return HalfMultinomialLoss(n_classes=self.n_outputs)

    def init_raw(self, y: np.ndarray, sample_weight: np.ndarray | None = None) -> np.ndarray:
        p = _class_prior(y, sample_weight, self.n_outputs)
        return np.asarray(self._kernel.link.link(p[None, :])[0], dtype=np.float64)

    def targets(self, y: np.ndarray) -> np.ndarray:
        return np.eye(self.n_outputs)[np.asarray(y, dtype=np.intp)]

    def hessian_from_gradient(self, y: np.ndarray, gradient: np.ndarray) -> np.ndarray:
        p = self.targets(y) + gradient
        return p * (1 - p)

    def inverse_link(self, raw: np.ndarray) -> np.ndarray:
        return np.exp(log_softmax(raw, axis=1))

    def torch_pointwise(self, y: torch.Tensor, raw: torch.Tensor) -> torch.Tensor:
        import torch.nn.functional as F

        return F.cross_entropy(raw, y.long(), reduction="none")


def get_loss(task: str, n_classes: int | None = None) -> Loss:
    """The loss for a task: ``"regression"``, or ``"classification"`` with ``n_classes >= 2``.

    Examples
    --------
    >>> from fboost.losses import get_loss
    >>> get_loss("regression"), get_loss("classification", n_classes=2)
    (SquaredError(n_outputs=1), BinaryLogLoss(n_outputs=1))
    >>> get_loss("classification", n_classes=4)
    MultinomialLogLoss(n_outputs=4)
    """
    if task == "regression":
        return SquaredError(1)
    if task == "classification":
        if n_classes is None or n_classes < 2:
            raise ValueError(f"n_classes must be at least 2 for classification, got {n_classes}")
        return BinaryLogLoss(1) if n_classes == 2 else MultinomialLogLoss(n_classes)
    raise ValueError(f"task must be 'regression' or 'classification', got {task!r}")
