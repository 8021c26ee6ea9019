"""``loss=`` on every estimator that takes it: equal to scikit-learn and LightGBM, additive."""

from __future__ import annotations

import lightgbm
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.ensemble import GradientBoostingClassifier, GradientBoostingRegressor

from fboost import (
    FunctionalBoostingClassifier,
    FunctionalBoostingRegressor,
    ResNetClassifier,
    ResNetRegressor,
    TreeBoostingClassifier,
    TreeBoostingRegressor,
)
from fboost.losses import Loss

ROBUST = ["absolute_error", "huber", "quantile"]
LIGHTGBM_OBJECTIVES = {
    "absolute_error": "regression_l1",
    "huber": "huber",
    "quantile": "quantile",
    "poisson": "poisson",
    "gamma": "gamma",
}


def _target(loss, y):
    """y shaped for the loss: counts for Poisson, positive for Gamma."""
    if loss == "poisson":
        return np.random.RandomState(0).poisson(np.exp(y / np.abs(y).max())).astype(float)
    if loss == "gamma":
        return np.exp(y / np.abs(y).max()) * np.random.RandomState(0).gamma(2.0, 0.5, len(y))
    return y


class LogCosh(Loss):
    """``log(cosh(F - y))``: a user-written regression loss."""

    name = "log_cosh"
    is_classification = False

    def init_raw(self, y, sample_weight=None):
        return np.array([np.median(y)])

    def pointwise(self, y, raw):
        return np.logaddexp(raw[:, 0] - y, y - raw[:, 0]) - np.log(2)

    def gradient(self, y, raw):
        return np.tanh(raw - y[:, None])

    def hessian(self, y, raw):
        return 1 - np.tanh(raw - y[:, None]) ** 2

    def inverse_link(self, raw):
        return raw[:, 0]

    def torch_pointwise(self, y, raw):
        import torch

        return torch.logaddexp(raw[:, 0] - y, y - raw[:, 0]) - np.log(2)


# -- engine="sklearn" against GradientBoosting* --------------------------------------------------
@pytest.mark.parametrize("loss", ["squared_error", *ROBUST])
@pytest.mark.parametrize(("subsample", "weighted"), [(1.0, False), (0.7, True)])
def test_sklearn_engine_equals_gradient_boosting_regressor(
    regression_data, loss, subsample, weighted
):
    X, y = regression_data
    w = np.random.RandomState(0).uniform(0.5, 2.0, len(y)) if weighted else None
    shared = dict(loss=loss, alpha=0.8, learning_rate=0.2, subsample=subsample, random_state=0)
    ours = TreeBoostingRegressor(engine="sklearn", n_stages=30, num_leaves=8, **shared)
    ours.set_params(max_depth=3, min_samples_leaf=1)
    ref = GradientBoostingRegressor(n_estimators=30, max_leaf_nodes=8, **shared)
    ours.fit(X, y, sample_weight=w)
    ref.fit(X, y, sample_weight=w)
    np.testing.assert_allclose(ours.predict(X), ref.predict(X), rtol=0, atol=1e-8)
    for mine, theirs in zip(ours.staged_predict(X), ref.staged_predict(X), strict=True):
        np.testing.assert_allclose(mine, theirs, rtol=0, atol=1e-8)
    if loss != "squared_error" and subsample == 1.0:  # the same losses, not twice the half
        np.testing.assert_allclose(ours.train_score_, ref.train_score_, rtol=1e-10)


@pytest.mark.parametrize("subsample", [1.0, 0.7])
def test_sklearn_engine_exponential_equals_gradient_boosting_classifier(binary_data, subsample):
    X, y = binary_data
    shared = dict(loss="exponential", learning_rate=0.2, subsample=subsample, random_state=0)
    ours = TreeBoostingClassifier(engine="sklearn", n_stages=30, num_leaves=8, **shared)
    ours.set_params(max_depth=3, min_samples_leaf=1)
    ref = GradientBoostingClassifier(n_estimators=30, max_leaf_nodes=8, **shared)
    ours.fit(X, y)
    ref.fit(X, y)
    np.testing.assert_allclose(ours.decision_function(X), ref.decision_function(X), atol=1e-8)
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), atol=1e-8)
    np.testing.assert_array_equal(ours.predict(X), ref.predict(X))
    if subsample == 1.0:
        np.testing.assert_allclose(ours.train_score_, ref.train_score_, rtol=1e-10)


# -- engine="lightgbm" against LightGBM's objectives -------------------------------------------
@pytest.mark.parametrize("loss", list(LIGHTGBM_OBJECTIVES))
@pytest.mark.parametrize("weighted", [False, True])
def test_lightgbm_engine_equals_lightgbm_objective(regression_data, loss, weighted):
    X, y = regression_data
    y = _target(loss, y)
    w = np.random.RandomState(1).uniform(0.5, 2.0, len(y)) if weighted else None
    alpha = 5.0 if loss == "huber" else 0.8  # LightGBM's huber alpha is the threshold itself
    # one thread: LightGBM's weighted mean for F_0 is then a sum in row order
    ours = TreeBoostingRegressor(loss=loss, alpha=alpha, n_stages=30, random_state=0, n_jobs=1)
    params = ours.lightgbm_params()
    assert params["objective"] == LIGHTGBM_OBJECTIVES[loss]
    ref = lightgbm.LGBMRegressor(**params).fit(X, y, sample_weight=w)
    ours.fit(X, y, sample_weight=w)
    ref_raw = ref.predict(X, raw_score=True)
    np.testing.assert_array_equal(ours.model_.raw(X)[:, 0], ref_raw)  # bit for bit
    # the log link's exp is numpy's, not LightGBM's C++ one: the last bit may differ
    np.testing.assert_allclose(ours.predict(X), ref.predict(X), rtol=1e-15, atol=0)
    contributions = ours.stage_contributions(X)
    np.testing.assert_allclose(contributions.sum(axis=0)[:, 0], ref_raw, rtol=0, atol=1e-10)
    # F_0 is LightGBM's own boost-from-average score: a model whose trees add ~nothing
    bias = lightgbm.LGBMRegressor(**{**params, "n_estimators": 1, "learning_rate": 1e-300})
    bias_raw = bias.fit(X, y, sample_weight=w).predict(X[:1], raw_score=True)[0]
    assert contributions[0, 0, 0] == bias_raw
    # train_score_ is LightGBM's metric, which is fboost's loss (labels are float32 there)
    staged = [ours.loss_.value(y, raw, w) for raw in ours._staged_raw(X)]
    np.testing.assert_allclose(ours.train_score_, staged, rtol=1e-6)


def test_lightgbm_engine_takes_a_custom_loss_as_a_custom_objective(regression_data):
    X, y = regression_data
    y = y / 50
    ours = TreeBoostingRegressor(loss=LogCosh(), n_stages=20, random_state=0).fit(X, y)
    loss = LogCosh()

    def objective(y_true, raw):
        return loss.gradient(y, raw[:, None])[:, 0], loss.hessian(y, raw[:, None])[:, 0]

    raw0 = loss.init_raw(y)[0]
    params = {**ours.lightgbm_params(), "objective": objective}
    ref = lightgbm.LGBMRegressor(**params).fit(X, y, init_score=np.full(len(y), raw0))
    np.testing.assert_array_equal(ours.predict(X), ref.predict(X, raw_score=True) + raw0)
    contributions = ours.stage_contributions(X)
    assert np.all(contributions[0] == raw0)  # F_0 is the init_score, outside the trees
    np.testing.assert_allclose(contributions.sum(axis=0)[:, 0], ours.predict(X), atol=1e-12)
    lesioned = ours.drop_stages([1])
    np.testing.assert_allclose(lesioned.predict(X), ours.predict(X) - contributions[1, :, 0])
    staged = [loss.value(y, raw) for raw in ours._staged_raw(X)]
    np.testing.assert_allclose(ours.train_score_, staged, rtol=1e-6)


def test_lightgbm_engine_exponential_loss_is_a_custom_objective(binary_data):
    X, y = binary_data
    model = TreeBoostingClassifier(loss="exponential", n_stages=20, random_state=0).fit(X, y)
    raw = model.stage_contributions(X).sum(axis=0)[:, 0]
    np.testing.assert_allclose(raw, model.decision_function(X), atol=1e-12)
    np.testing.assert_allclose(model.predict_proba(X)[:, 1], 1 / (1 + np.exp(-2 * raw)))
    assert np.all(np.diff(model.train_score_) < 0)


# -- the additive view for every loss -----------------------------------------------------------
REGRESSION_CASES = [
    ("sklearn", loss) for loss in ["absolute_error", "huber", "quantile", "poisson", "gamma"]
] + [("lightgbm", loss) for loss in LIGHTGBM_OBJECTIVES]


@pytest.mark.parametrize(("engine", "loss"), [*REGRESSION_CASES, ("functional", "poisson")])
def test_contributions_telescope_for_every_loss(regression_data, engine, loss):
    X, y = regression_data
    y = _target(loss, y)
    if engine == "functional":
        model = FunctionalBoostingRegressor(loss=loss, n_stages=15, random_state=0)
    else:
        model = TreeBoostingRegressor(engine=engine, loss=loss, n_stages=15, random_state=0)
    model.fit(X, y)
    contributions = model.stage_contributions(X)
    raw = contributions.sum(axis=0)
    np.testing.assert_allclose(model.loss_.inverse_link(raw), model.predict(X), rtol=1e-12)
    *_, last = model.staged_predict(X)
    np.testing.assert_allclose(last, model.predict(X), rtol=1e-12)
    lesioned = model.drop_stages([3])
    np.testing.assert_allclose(
        lesioned.stage_contributions(X).sum(axis=0), raw - contributions[3], atol=1e-10
    )


@pytest.mark.parametrize("engine", ["sklearn", "functional"])
def test_exponential_loss_telescopes(binary_data, engine):
    X, y = binary_data
    if engine == "functional":
        model = FunctionalBoostingClassifier(loss="exponential", n_stages=10, random_state=0)
    else:
        model = TreeBoostingClassifier(engine="sklearn", loss="exponential", n_stages=10)
    model.fit(X, y)
    raw = model.stage_contributions(X).sum(axis=0)
    np.testing.assert_allclose(raw[:, 0], model.decision_function(X), atol=1e-10)
    # the half-logit link: p = expit(2 F)
    np.testing.assert_allclose(model.predict_proba(X)[:, 1], 1 / (1 + np.exp(-2 * raw[:, 0])))


@pytest.mark.parametrize("loss", ["poisson", "gamma"])
def test_sklearn_engine_newton_leaves_decrease_the_poisson_and_gamma_loss(regression_data, loss):
    X, y = regression_data
    y = _target(loss, y)
    model = TreeBoostingRegressor(engine="sklearn", loss=loss, n_stages=30, random_state=0)
    scores = model.fit(X, y).train_score_
    assert np.all(np.diff(scores) < 0)
    assert scores[-1] < model.loss_.value(y, np.full((len(y), 1), model.loss_.init_raw(y)[0]))


@pytest.mark.parametrize(
    ("loss", "y", "match"),
    [("poisson", -1.0, "y must be non-negative"), ("gamma", 0.0, "y must be positive")],
)
@pytest.mark.parametrize("estimator", ["trees", "functional", "resnet"])
def test_targets_outside_the_loss_domain_raise_naming_y(regression_data, loss, y, match, estimator):
    X, target = regression_data
    target = np.abs(target) + 1
    target[0] = y
    model = {
        "trees": TreeBoostingRegressor(loss=loss, n_stages=2),
        "functional": FunctionalBoostingRegressor(loss=loss, n_stages=2),
        "resnet": ResNetRegressor(loss=loss, n_stages=1, max_epochs=1),
    }[estimator]
    with pytest.raises(ValueError, match=match):
        model.fit(X, target)


def test_a_regression_loss_on_a_classifier_raises(binary_data):
    X, y = binary_data
    with pytest.raises(ValueError, match="loss must be one of 'log_loss', 'exponential'"):
        TreeBoostingClassifier(loss="huber", n_stages=2).fit(X, y)
    with pytest.raises(ValueError, match="alpha must be in"):
        TreeBoostingRegressor(engine="sklearn", loss="quantile", alpha=1.5).fit(X, y == "yes")


# -- a user-written loss ------------------------------------------------------------------------
@pytest.mark.parametrize("estimator", ["trees", "trees-lightgbm", "functional", "resnet"])
def test_a_user_written_loss_trains_every_estimator(regression_data, estimator):
    X, y = regression_data
    y = y / 50
    loss = LogCosh()
    model = {
        "trees": TreeBoostingRegressor(engine="sklearn", loss=loss, n_stages=15, random_state=0),
        "trees-lightgbm": TreeBoostingRegressor(loss=loss, n_stages=15, random_state=0),
        "functional": FunctionalBoostingRegressor(loss=loss, n_stages=15, random_state=0),
        "resnet": ResNetRegressor(
            loss=loss, n_stages=2, d_block=8, max_epochs=15, n_iter_no_change=None, random_state=0
        ),
    }[estimator]
    model.fit(X, y)
    assert isinstance(model.loss_, LogCosh) and model.loss_ is not loss
    scores = model.train_score_
    assert scores[-1] < scores[0]
    initial = loss.value(y, np.full((len(y), 1), np.median(y)))
    assert loss.value(y, model.predict(X)[:, None]) < initial
    atol = 1e-4 if estimator == "resnet" else 1e-10
    np.testing.assert_allclose(
        model.stage_contributions(X).sum(axis=0)[:, 0], model.predict(X), atol=atol
    )
    assert clone(model).get_params()["loss"] == loss


# -- networks -----------------------------------------------------------------------------------
@pytest.mark.parametrize("loss", ["absolute_error", "huber", "quantile", "poisson", "gamma"])
def test_resnet_regressor_trains_on_the_loss_in_the_targets_units(regression_data, loss):
    X, y = regression_data
    y = _target(loss, y)
    model = ResNetRegressor(
        loss=loss, n_stages=2, d_block=8, max_epochs=8, n_iter_no_change=None, random_state=0
    ).fit(X, y)
    assert model.train_score_[-1] < model.train_score_[0]
    raw = model.stage_contributions(X).sum(axis=0)
    np.testing.assert_allclose(
        model.loss_.inverse_link(raw), model.predict(X), rtol=1e-4, atol=1e-3
    )
    # the scores are the loss itself, in the target's units (eval mode differs from train mode
    # through dropout and BatchNorm only)
    assert model.loss_.value(y, raw) == pytest.approx(model.train_score_[-1], rel=0.3)
    assert model.y_mean_ == model.loss_.init_raw(y)[0]


def test_resnet_classifier_takes_the_exponential_loss(binary_data):
    X, y = binary_data
    model = ResNetClassifier(
        loss="exponential", n_stages=1, d_block=8, max_epochs=5, random_state=0
    ).fit(X, y)
    raw = model.stage_contributions(X).sum(axis=0)
    np.testing.assert_allclose(
        model.predict_proba(X)[:, 1], 1 / (1 + np.exp(-2 * raw[:, 0])), atol=1e-5
    )
    assert model.score(X, y) > 0.7
