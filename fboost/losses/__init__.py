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

from ._base import Loss
from ._classification import BinaryLogLoss, ExponentialLoss, MultinomialLogLoss
from ._regression import (
    AbsoluteError,
    GammaLoss,
    HuberLoss,
    PoissonLoss,
    QuantileLoss,
    SquaredError,
)

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
