"""Numeric edges and messages: nothing silently wrong at the ends of float range.

Every estimator is scale-equivariant (trees split on thresholds, networks standardise X and y),
so ``X * 10**k`` and ``y * 10**k`` must give the clean fit's answers, scaled, or a ValueError
naming the argument and the limit. Batch invariance: a row's prediction does not depend on the
rows that share the call.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from sklearn.base import clone, is_classifier

from bench.fuzz_inputs import clean_data, variants
from fboost import (
    FunctionalBoostingRegressor,
    NeuralBoostingRegressor,
    ResNetClassifier,
    ResNetRegressor,
    TreeBoostingClassifier,
    TreeBoostingRegressor,
)
from fboost._numeric import safe_moments
from fboost.nn import TabularResNet
from fboost.nn._precision import float64_inference

VARIANTS = variants()
REGRESSORS = {k: v for k, v in VARIANTS.items() if not is_classifier(v)}
TORCH = {k: v for k, v in VARIANTS.items() if not k.startswith(("tree", "functional"))}


def _names(message: str, argument: str) -> bool:
    return re.search(rf"(?<!\w){argument}(?!\w)", message) is not None


def _answers(est, X):
    return est.decision_function(X) if is_classifier(est) else est.predict(X)


@pytest.fixture(scope="module")
def clean_fits():
    fits = {}
    for name, est in VARIANTS.items():
        X, y = clean_data(is_classifier(est))
        fits[name] = _answers(clone(est).fit(X, y), X)
    return fits


# -- safe moments ---------------------------------------------------------------------------------
@pytest.mark.parametrize("scale", [1.0, 1e300, 1e-300, 1e160, 1e-160])
def test_safe_moments_scale_with_the_data(scale):
    X = np.random.default_rng(0).normal(size=(50, 3))
    mean, std, max_abs = safe_moments(X * scale)
    np.testing.assert_allclose(mean / scale, X.mean(axis=0, keepdims=True), rtol=1e-12)
    np.testing.assert_allclose(std / scale, X.std(axis=0, keepdims=True), rtol=1e-12)
    np.testing.assert_allclose(max_abs / scale, np.abs(X).max(axis=0, keepdims=True), rtol=1e-15)


def test_safe_moments_bitwise_equal_to_numpy_in_the_ordinary_range():
    X = np.random.default_rng(1).normal(size=(50, 3)) * 1e5
    mean, std, _ = safe_moments(X)
    assert np.array_equal(mean, X.mean(axis=0, keepdims=True))
    assert np.array_equal(std, X.std(axis=0, keepdims=True))


# -- X and y at the edges of float range ----------------------------------------------------------
@pytest.mark.parametrize("scale", [1e300, 1e-300])
@pytest.mark.parametrize("name", list(TORCH))
def test_torch_estimators_standardise_any_finite_X(name, scale, clean_fits):
    est = VARIANTS[name]
    X, y = clean_data(is_classifier(est))
    fitted = clone(est).fit(X * scale, y)
    assert np.all(np.isfinite(fitted.x_scale_)) and np.all(fitted.x_scale_ > 0)
    np.testing.assert_allclose(_answers(fitted, X * scale), clean_fits[name], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("scale", [1e100, 1e-40])
@pytest.mark.parametrize("name", [k for k in TORCH if k.endswith("reg")])
def test_torch_regressors_scale_huge_and_tiny_targets(name, scale, clean_fits):
    X, y = clean_data(False)
    fitted = clone(VARIANTS[name]).fit(X, y * scale)
    assert np.all(np.isfinite(fitted.train_score_))
    np.testing.assert_allclose(fitted.predict(X) / scale, clean_fits[name], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", list(REGRESSORS))
def test_targets_whose_squared_error_overflows_are_refused(name):
    X, y = clean_data(False)
    with pytest.raises(ValueError, match=r"^y: targets up to 1\.\d+e\+301 in magnitude exceed"):
        clone(VARIANTS[name]).fit(X, y * 1e300)


@pytest.mark.parametrize("scale", [1e40, 1e-40])
def test_lightgbm_refuses_targets_float32_cannot_hold(scale):
    X, y = clean_data(False)
    with pytest.raises(ValueError, match=r"^y: .*LightGBM \(float32 labels"):
        TreeBoostingRegressor(n_stages=3).fit(X, y * scale)


def test_lightgbm_keeps_targets_it_can_hold():
    X, y = clean_data(False)
    plain = TreeBoostingRegressor(n_stages=5, min_samples_leaf=2).fit(X, y).predict(X)
    scaled = TreeBoostingRegressor(n_stages=5, min_samples_leaf=2).fit(X, y * 1e30).predict(X)
    np.testing.assert_allclose(scaled / 1e30, plain, rtol=1e-5)


def test_sklearn_engine_train_score_stays_finite_for_large_targets():
    X, y = clean_data(False)
    est = TreeBoostingRegressor(engine="sklearn", n_stages=5).fit(X, y * 1e100)
    assert np.all(np.isfinite(est.train_score_))
    with pytest.raises(ValueError, match="^y: "):
        TreeBoostingRegressor(engine="sklearn", n_stages=5).fit(X, y * 1e300)


@pytest.mark.parametrize(
    "est",
    [FunctionalBoostingRegressor(n_stages=3), TreeBoostingRegressor(engine="sklearn", n_stages=3)],
    ids=repr,
)
def test_float32_trees_refuse_X_beyond_float32(est):
    X, y = clean_data(False)
    with pytest.raises(ValueError, match=r"^X: values up to .* exceed 1e\+38.*float32"):
        clone(est).fit(X * 1e300, y)
    with pytest.raises(ValueError, match=r"^X: feature 0 varies by only .* treated as constant"):
        clone(est).fit(X * 1e-30, y)


def test_lightgbm_refuses_features_it_reads_as_zero():
    X, y = clean_data(False)
    with pytest.raises(ValueError, match=r"^X: feature 0 varies by only .* below 1e-30.*LightGBM"):
        TreeBoostingRegressor(n_stages=3).fit(X * 1e-300, y)
    TreeBoostingRegressor(n_stages=3).fit(X * 1e300, y)  # doubles: huge values are fine


@pytest.mark.parametrize(
    ("name", "scale", "limit"),
    [("resnet-mlp-reg", 1e-200, "1e-150"), ("tree-sklearn-reg", 1e-8, "1e-06")],
)
def test_targets_without_a_representable_spread_are_refused(name, scale, limit):
    X, y = clean_data(False)
    with pytest.raises(ValueError, match=rf"^y: the targets' standard deviation is .* {limit}"):
        clone(VARIANTS[name]).fit(X, y * scale)
    clone(VARIANTS[name]).fit(X, np.full(len(y), 1e-200))  # constant targets are fine


def test_float32_trees_refuse_predict_X_beyond_float32():
    X, y = clean_data(False)
    est = FunctionalBoostingRegressor(n_stages=3).fit(X, y)
    with pytest.raises(ValueError, match=r"^X: values up to"):
        est.predict(X * 1e300)


@pytest.mark.parametrize("name", ["resnet-mlp-reg", "grownet-reg"])
def test_networks_refuse_predict_X_that_overflows_once_standardised(name):
    X, y = clean_data(False)
    est = clone(VARIANTS[name]).fit(X, y)
    with pytest.raises(ValueError, match=r"^X: some values lie so far outside the training data"):
        est.predict(X * 1e300)


@pytest.mark.parametrize("scale", [1e300, 1e-300])
@pytest.mark.parametrize("name", ["tree-lightgbm-reg", "resnet-mlp-clf", "grownet-reg"])
def test_sample_weights_are_relative(name, scale, clean_fits):
    est = VARIANTS[name]
    X, y = clean_data(is_classifier(est))
    w = np.full(len(y), scale)
    w[:5] *= 2  # not uniform: the torch trainers then weigh rows
    weighted = _answers(clone(est).fit(X, y, sample_weight=w), X)
    reference = _answers(clone(est).fit(X, y, sample_weight=w / scale), X)
    np.testing.assert_allclose(weighted, reference, rtol=1e-6, atol=1e-6)


# -- messages name the argument at fault ----------------------------------------------------------
@pytest.mark.parametrize("name", list(REGRESSORS))
def test_string_y_into_a_regressor_names_y(name):
    X, _ = clean_data(False)
    with pytest.raises(ValueError, match="^y: could not convert string to float"):
        clone(VARIANTS[name]).fit(X, np.array(["a", "b"] * (len(X) // 2)))


@pytest.mark.parametrize("est", [TreeBoostingClassifier(n_stages=2), ResNetClassifier()], ids=repr)
def test_unsortable_labels_name_y(est):
    X, y = clean_data(True)
    labels = np.array(["no", "yes"], dtype=object)[y]
    labels[0] = None
    with pytest.raises(TypeError, match=r"^y: class labels must be all numbers or all strings"):
        clone(est).fit(X, labels)
    labels[0] = 3
    with pytest.raises(TypeError, match=r"types \['int', 'str'\]"):
        clone(est).fit(X, labels)


@pytest.mark.parametrize("est", [TreeBoostingRegressor(n_stages=2), ResNetRegressor()], ids=repr)
def test_nan_in_y_blames_y(est):
    X, y = clean_data(False)
    y[2] = np.nan
    with pytest.raises(ValueError, match="^Input y contains NaN") as info:
        clone(est).fit(X, y)
    assert not _names(str(info.value), "X")


def test_mismatched_lengths_name_both():
    X, y = clean_data(False)
    with pytest.raises(ValueError, match="X with 48 rows and y with 47"):
        TreeBoostingRegressor(n_stages=2).fit(X, y[:-1])


@pytest.mark.parametrize("fit", [True, False])
def test_5d_X_to_a_cnn_names_X_and_the_expected_shape(fit):
    X, y = clean_data(True)
    est = clone(VARIANTS["resnet-cnn-clf"])
    images = X.reshape(len(X), 1, 2, 2, 1)
    pattern = r"^X: expected images of shape \(n_samples, C, H, W\).* shape \(48, 1, 2, 2, 1\)"
    with pytest.raises(ValueError, match=pattern):
        if fit:
            est.fit(images, y)
        else:
            est.fit(X, y).predict(images)


def test_single_class_message_lists_the_labels():
    X, _ = clean_data(True)
    with pytest.raises(ValueError, match=r"got 1: \['spam'\]"):
        TreeBoostingClassifier(n_stages=2).fit(X, np.array(["spam"] * len(X)))


# -- batch invariance -----------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(TORCH))
def test_prediction_of_a_row_does_not_depend_on_its_neighbours(name):
    est = VARIANTS[name]
    X, y = clean_data(is_classifier(est))
    fitted = clone(est).fit(X, y)
    whole = _answers(fitted, X)
    one_by_one = np.concatenate([_answers(fitted, X[i : i + 1]) for i in range(len(X))])
    halves = np.concatenate([_answers(fitted, X[:17]), _answers(fitted, X[17:])])
    for part in (one_by_one, halves):
        np.testing.assert_allclose(part, whole, rtol=1e-12, atol=1e-12)
    contributions = fitted.stage_contributions(X)
    np.testing.assert_allclose(
        fitted.stage_contributions(X[:5]), contributions[:, :5], rtol=1e-12, atol=1e-12
    )


def test_float64_inference_restores_the_float32_weights_exactly():
    torch.manual_seed(0)
    net = TabularResNet(d_in=3, d_out=1, d_block=4, n_blocks=2).eval()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    with float64_inference(net) as dtype:
        assert dtype == torch.float64
        assert next(net.parameters()).dtype == torch.float64
        with float64_inference(net) as inner:  # nested: the same conversion
            assert inner == torch.float64
        assert next(net.parameters()).dtype == torch.float64
    after = net.state_dict()
    for key, value in before.items():
        assert after[key].dtype == value.dtype
        assert torch.equal(after[key], value)


def test_predict_leaves_the_module_in_float32():
    X, y = clean_data(False)
    est = NeuralBoostingRegressor(n_stages=2, epochs_per_stage=1, random_state=0).fit(X, y)
    est.predict(X)
    assert all(p.dtype == torch.float32 for p in est.module_.parameters())
