"""The losses of ``fboost.losses`` on their own: numpy and torch sides, derivatives, F_0, checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fboost.losses import (
    CLASSIFICATION_LOSSES,
    REGRESSION_LOSSES,
    AbsoluteError,
    BinaryLogLoss,
    ExponentialLoss,
    GammaLoss,
    HuberLoss,
    Loss,
    MultinomialLogLoss,
    PoissonLoss,
    QuantileLoss,
    SquaredError,
    get_loss,
)

RNG = np.random.RandomState(0)
N = 40


def _targets(loss: Loss) -> np.ndarray:
    rng = np.random.RandomState(1)
    if isinstance(loss, MultinomialLogLoss):
        return rng.randint(0, loss.n_outputs, N)
    if loss.is_classification:
        return rng.randint(0, 2, N)
    if isinstance(loss, PoissonLoss):
        return rng.poisson(2.0, N).astype(float)
    if isinstance(loss, GammaLoss):
        return rng.gamma(2.0, 1.5, N)
    return rng.normal(size=N) * 3


LOSSES = [
    SquaredError(),
    AbsoluteError(),
    HuberLoss(quantile=0.8),
    HuberLoss(delta=1.5),
    QuantileLoss(quantile=0.3),
    PoissonLoss(),
    GammaLoss(),
    BinaryLogLoss(),
    MultinomialLogLoss(3),
    ExponentialLoss(),
]
# losses whose hessian is the derivative of their gradient everywhere
SMOOTH = (SquaredError, PoissonLoss, GammaLoss, BinaryLogLoss, MultinomialLogLoss, ExponentialLoss)


@pytest.mark.parametrize("loss", LOSSES, ids=repr)
def test_torch_value_equals_numpy_value(loss):
    y = _targets(loss)
    raw = RNG.normal(size=(N, loss.n_outputs))
    w = RNG.uniform(0.5, 2.0, N)
    y_t = torch.as_tensor(y, dtype=torch.int64 if loss.is_classification else torch.float64)
    value = loss.torch_value(y_t, torch.as_tensor(raw), torch.as_tensor(w))
    np.testing.assert_allclose(float(value), loss.value(y, raw, w), rtol=1e-12)


@pytest.mark.parametrize("loss", LOSSES, ids=repr)
def test_gradient_is_the_derivative_of_the_loss(loss):
    y = _targets(loss)
    raw = RNG.normal(size=(N, loss.n_outputs))
    eps = 1e-6
    gradient = loss.gradient(y, raw)
    assert gradient.shape == raw.shape
    for k in range(loss.n_outputs):
        step = np.zeros_like(raw)
        step[:, k] = eps
        numeric = (loss.pointwise(y, raw + step) - loss.pointwise(y, raw - step)) / (2 * eps)
        np.testing.assert_allclose(gradient[:, k], numeric, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("loss", [loss for loss in LOSSES if isinstance(loss, SMOOTH)], ids=repr)
def test_hessian_is_the_derivative_of_the_gradient(loss):
    y = _targets(loss)
    raw = RNG.normal(size=(N, loss.n_outputs))
    eps = 1e-6
    hessian = loss.hessian(y, raw)
    for k in range(loss.n_outputs):
        step = np.zeros_like(raw)
        step[:, k] = eps
        numeric = (loss.gradient(y, raw + step) - loss.gradient(y, raw - step))[:, k] / (2 * eps)
        np.testing.assert_allclose(hessian[:, k], numeric, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(loss.newton_hessian(y, raw, loss.gradient(y, raw)), hessian)


def test_robust_losses_hessians_are_the_documented_surrogates():
    y, raw = np.array([0.0, 0.0, 0.0]), np.array([[0.5], [2.0], [-4.0]])
    np.testing.assert_array_equal(AbsoluteError().hessian(y, raw), np.ones((3, 1)))
    np.testing.assert_array_equal(QuantileLoss(0.2).hessian(y, raw), np.ones((3, 1)))
    np.testing.assert_allclose(HuberLoss(delta=1.0).hessian(y, raw), [[1.0], [0.5], [0.25]])


@pytest.mark.parametrize("loss", [loss for loss in LOSSES if loss.n_outputs == 1], ids=repr)
def test_initial_score_minimises_the_weighted_loss_among_constants(loss):
    y = _targets(loss)
    w = RNG.uniform(0.5, 2.0, N)
    if isinstance(loss, HuberLoss):  # F_0 is the median, the minimiser of the absolute error
        loss = AbsoluteError()
    raw0 = loss.init_raw(y, w)
    best = loss.value(y, np.full((N, 1), raw0[0]), w)
    for shift in (-0.05, 0.05):
        assert best <= loss.value(y, np.full((N, 1), raw0[0] + shift), w) + 1e-12


def test_quantile_initial_score_is_numpys_unweighted_percentile_for_equal_weights():
    y = RNG.normal(size=50)
    loss = QuantileLoss(0.3)
    assert loss.init_raw(y, np.full(50, 2.0))[0] == np.percentile(y, 30)
    assert loss.init_raw(y)[0] == np.percentile(y, 30)


def test_adaptive_huber_sets_delta_to_the_quantile_of_absolute_errors():
    loss = HuberLoss(quantile=0.5)
    y = np.array([0.0, 1.0, 2.0, 3.0, 10.0])
    loss.prepare_stage(y, np.zeros((5, 1)), np.ones(5))
    assert loss.delta == 2.0
    fixed = HuberLoss(delta=0.7)
    fixed.prepare_stage(y, np.zeros((5, 1)), np.ones(5))
    assert fixed.delta == 0.7


@pytest.mark.parametrize(
    ("loss", "y", "match"),
    [
        (PoissonLoss(), np.array([1.0, -1.0]), "y must be non-negative"),
        (GammaLoss(), np.array([1.0, 0.0]), "y must be positive"),
    ],
)
def test_targets_outside_the_domain_raise_naming_y(loss, y, match):
    with pytest.raises(ValueError, match=match):
        loss.check_y(y)


def test_poisson_of_all_zero_targets_raises():
    with pytest.raises(ValueError, match="y must have a positive weighted mean"):
        PoissonLoss().init_raw(np.zeros(4))


@pytest.mark.parametrize("name", REGRESSION_LOSSES)
def test_get_loss_builds_every_regression_option(name):
    loss = get_loss("regression", loss=name, alpha=0.7)
    assert not loss.is_classification and loss.name == name and loss.n_outputs == 1


@pytest.mark.parametrize("name", CLASSIFICATION_LOSSES)
def test_get_loss_builds_every_classification_option(name):
    loss = get_loss("classification", n_classes=2, loss=name)
    assert loss.is_classification and loss.n_outputs == 1


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"task": "regression", "loss": "log_loss"}, "loss must be one of"),
        ({"task": "classification", "n_classes": 2, "loss": "huber"}, "loss must be one of"),
        ({"task": "regression", "loss": "quantile", "alpha": 1.0}, "alpha must be in"),
        ({"task": "regression", "loss": "huber", "alpha": 2.0}, "alpha must be in"),
        ({"task": "classification", "n_classes": 3, "loss": "exponential"}, "binary"),
        ({"task": "regression", "loss": BinaryLogLoss()}, "is a classification loss"),
        ({"task": "classification", "n_classes": 3, "loss": BinaryLogLoss()}, "n_outputs=1"),
    ],
)
def test_get_loss_rejects_what_does_not_fit(kwargs, match):
    with pytest.raises(ValueError, match=match):
        get_loss(**kwargs)


def test_get_loss_huber_with_a_fixed_delta_takes_any_positive_alpha():
    loss = get_loss("regression", loss="huber", huber_delta=5.0)
    assert isinstance(loss, HuberLoss) and loss.delta == 5.0 and not loss.adaptive


def test_a_custom_loss_is_copied_not_shared():
    loss = HuberLoss(quantile=0.5)
    built = get_loss("regression", loss=loss)
    assert built == loss and built is not loss
    built.prepare_stage(np.array([0.0, 4.0]), np.zeros((2, 1)))
    assert loss.delta == 0.5  # the caller's instance keeps its state


def test_losses_compare_and_hash_by_parameters():
    assert QuantileLoss(0.3) == QuantileLoss(0.3) != QuantileLoss(0.4)
    assert len({QuantileLoss(0.3), QuantileLoss(0.3), HuberLoss(delta=1.0)}) == 2
    assert repr(HuberLoss(delta=1.0)) == "HuberLoss(quantile=0.9, delta=1.0, n_outputs=1)"
