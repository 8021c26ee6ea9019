"""Regression losses: squared, absolute, Huber, quantile, Poisson and Gamma."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn._loss.loss import AbsoluteError as _SkAbsoluteError
from sklearn._loss.loss import HalfGammaLoss, HalfPoissonLoss, HalfSquaredError, PinballLoss
from sklearn._loss.loss import HuberLoss as _SkHuberLoss
from sklearn.utils.stats import _weighted_percentile

from ._base import (
    _KernelLoss,
    _log_of_mean,
    _percentile,
    _torch_where,
    _unless_uniform,
    _weighted_mean,
)

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["SquaredError", "AbsoluteError", "QuantileLoss", "HuberLoss", "PoissonLoss", "GammaLoss"]


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
