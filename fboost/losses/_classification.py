"""Classification losses: binary and multinomial log loss, the exponential loss."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.special import expit, log_softmax
from sklearn._loss.loss import ExponentialLoss as _SkExponentialLoss
from sklearn._loss.loss import HalfBinomialLoss, HalfMultinomialLoss

from ._base import _class_prior, _KernelLoss

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["BinaryLogLoss", "MultinomialLogLoss", "ExponentialLoss"]


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
