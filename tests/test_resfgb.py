"""ResFGBRegressor and ResFGBClassifier: the kernel step, identities, selection, bad input."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone

from fboost.resfgb import ResFGBClassifier, ResFGBRegressor

TASKS = ["regression", "binary", "multiclass"]
#: tiny and fast; the identities hold for any weights
SMALL = {
    "n_stages": 3,
    "hidden": (16,),
    "epochs_per_stage": 3,
    "batch_size": 64,
    "random_state": 0,
}


def _make(task: str, **kwargs):
    cls = ResFGBRegressor if task == "regression" else ResFGBClassifier
    return cls(**{**SMALL, **kwargs})


def _small(task_data, task, n=120):
    X, y = task_data[task]
    return X[:n], y[:n]


@pytest.fixture(scope="module")
def fitted(task_data):
    return {
        task: _make(task, n_iter_no_change=None).fit(*_small(task_data, task)) for task in TASKS
    }


def _raw(model, X):
    if isinstance(model, ResFGBClassifier):
        return model.decision_function(X).reshape(len(X), -1)
    return model.predict(X).reshape(len(X), -1)


@pytest.mark.parametrize("task", TASKS)
def test_stage_is_minus_eta_kernel_times_gradient(fitted, task_data, task):
    """On the training rows (uniform weights, no held-out rows) step t is -eta K G / n."""
    model = fitted[task]
    X, y = _small(task_data, task)
    features = model.stage_features(X)  # z_0 .. z_T, float64
    n = len(X)
    codes = np.searchsorted(model.classes_, y) if task != "regression" else None
    target = codes if codes is not None else (y - model.y_mean_) / model.y_scale_
    for t in range(1, model.n_stages_ + 1):
        z = features[t - 1]
        W, b = model.stage_heads_[t - 1]
        G = model.loss_.gradient(target, z @ W.T + b) @ W  # dl/dz per sample (numpy loss)
        with torch.no_grad():
            iota = model.module_.blocks[t - 1].embedding(torch.as_tensor(z)).numpy()
        K = iota @ iota.T
        expected = -model.learning_rate * K @ G / n
        step = features[t] - features[t - 1]
        assert np.abs(step).max() > 1e-6  # a real step, not a zero one
        np.testing.assert_allclose(step, expected, rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("task", TASKS)
def test_contributions_telescope_through_the_final_head(fitted, task_data, task):
    model = fitted[task]
    X, _ = _small(task_data, task)
    contributions = model.stage_contributions(X)
    assert contributions.shape[0] == model.n_stages_ + 1 == 4
    raw = _raw(model, X)
    np.testing.assert_allclose(contributions.sum(axis=0), raw, rtol=0, atol=1e-10)
    # F_0 and every row through the final head W: W z_0 + b and W (z_t - z_{t-1})
    W, b = model.stage_heads_[model.n_stages_]
    features = model.stage_features(X)
    scale = model.y_scale_ if task == "regression" else 1.0
    offset = model.y_mean_ if task == "regression" else 0.0
    np.testing.assert_allclose(contributions[0], offset + scale * (features[0] @ W.T + b))
    np.testing.assert_allclose(contributions[1:], scale * np.diff(features, axis=0) @ W.T)
    staged = list(model.staged_decision_function(X) if task != "regression" else [])
    if staged:
        partial = np.cumsum(contributions, axis=0)[1:]
        np.testing.assert_allclose(np.stack(staged).reshape(partial.shape), partial, atol=1e-10)
    else:
        partial = np.cumsum(contributions, axis=0)[1:, :, 0]
        np.testing.assert_allclose(np.stack(list(model.staged_predict(X))), partial, atol=1e-10)


def test_drop_stages_bypasses_a_step(fitted, task_data):
    model = fitted["binary"]
    X, _ = _small(task_data, "binary")
    lesioned = model.drop_stages([1])
    z0 = model.stage_features(X)[0]
    with torch.no_grad():
        z = torch.as_tensor(z0)
        for block in list(model.module_.blocks)[1:]:
            z = z + block(z)
        expected = model.module_.head(z).numpy()[:, 0]
    np.testing.assert_allclose(lesioned.decision_function(X), expected, atol=1e-10)
    assert lesioned.n_stages_ == model.n_stages_ - 1
    assert model.stage_contributions(X).shape[0] == 4  # the original is unchanged


@pytest.mark.parametrize("task", ["regression", "binary"])
def test_best_stage_by_validation_is_kept(task_data, task):
    X, y = _small(task_data, task, n=200)
    model = _make(task, n_stages=4, n_iter_no_change=4, tol=0.0).fit(X, y)
    scores, errors = model.validation_score_, model.validation_error_
    assert len(scores) == len(errors) == 5  # stages 0..4 were evaluated
    if task == "regression":
        assert model.n_stages_ == int(np.argmin(scores))
    else:  # highest accuracy first, then the lowest loss among those
        candidates = np.flatnonzero(errors <= errors.min() + 1e-12)
        assert model.n_stages_ == int(candidates[np.argmin(scores[candidates])])
    assert len(model.train_score_) == model.n_stages_
    assert len(model.stage_heads_) == 5


def test_deterministic_under_random_state(task_data):
    X, y = _small(task_data, "multiclass")
    a = _make("multiclass").fit(X, y).predict_proba(X)
    b = _make("multiclass").fit(X, y).predict_proba(X)
    c = _make("multiclass", random_state=1).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("task", ["regression", "multiclass"])
def test_pickle_round_trip(fitted, task_data, task):
    model = fitted[task]
    X, _ = _small(task_data, task)
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(_raw(restored, X), _raw(model, X))
    np.testing.assert_array_equal(restored.stage_contributions(X), model.stage_contributions(X))
    lesioned = pickle.loads(pickle.dumps(model.drop_stages([2])))
    assert lesioned.n_stages_ == 2
    np.testing.assert_array_equal(_raw(lesioned, X), _raw(model.drop_stages([2]), X))


def test_silent_unless_verbose(task_data, capsys):
    X, y = _small(task_data, "binary")
    _make("binary", n_stages=1).fit(X, y)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""
    _make("binary", n_stages=1, verbose=1).fit(X, y)
    assert "ResFGBClassifier" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"hidden": (8, 0)}, "hidden"),
        ({"hidden": "wide"}, "hidden"),
        ({"learning_rate": 0.0}, "learning_rate"),
        ({"head_l2": -1.0}, "head_l2"),
        ({"epochs_per_stage": 0}, "epochs_per_stage"),
        ({"device": "tpu"}, "device"),
    ],
)
def test_bad_parameters_are_named(task_data, params, match):
    X, y = _small(task_data, "binary")
    with pytest.raises((ValueError, TypeError), match=match):
        _make("binary", **params).fit(X, y)


def test_bad_input_is_named(fitted, task_data):
    X, y = _small(task_data, "binary")
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="X"):
        clone(fitted["binary"]).fit(bad, y)
    with pytest.raises(ValueError, match="features"):
        fitted["binary"].predict(X[:, :3])


@pytest.mark.slow
def test_defaults_learn_scikit_learns_toy_problems():
    """At its defaults ResFGB learns the problems scikit-learn's estimator checks train on: the
    regressor passes check_regressors_train; the classifier reaches check_classifiers_train's
    0.83 training accuracy on its 3-class blobs (one fit of that check's several)."""
    from sklearn.datasets import make_blobs
    from sklearn.preprocessing import StandardScaler
    from sklearn.utils.estimator_checks import check_regressors_train

    check_regressors_train("ResFGBRegressor", ResFGBRegressor(random_state=0))
    X, y = make_blobs(n_samples=300, random_state=0)
    X = StandardScaler().fit_transform(X)
    assert ResFGBClassifier(random_state=0).fit(X, y).score(X, y) > 0.83


@pytest.mark.parametrize("module", ["fboost.resfgb", "fboost.nn._resfgb"])
def test_docstring_examples(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted > 0 and result.failed == 0
