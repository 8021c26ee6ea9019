"""fboost's engines against the libraries they reproduce or wrap."""

from __future__ import annotations

import lightgbm
import numpy as np
import pytest
from sklearn.ensemble import GradientBoostingClassifier, GradientBoostingRegressor

from fboost import TreeBoostingClassifier, TreeBoostingRegressor

TASKS = ["regression", "binary", "multiclass"]


def _fboost_raw(model, X):
    if hasattr(model, "decision_function"):
        return model.decision_function(X)
    return model.predict(X)


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("subsample", [1.0, 0.7])
@pytest.mark.parametrize("weighted", [False, True])
def test_sklearn_engine_equals_gradient_boosting(task_data, task, subsample, weighted):
    X, y = task_data[task]
    w = np.random.RandomState(0).uniform(0.5, 2.0, len(y)) if weighted else None
    shared = dict(learning_rate=0.2, subsample=subsample, random_state=0)
    if task == "regression":
        ours = TreeBoostingRegressor(engine="sklearn", n_stages=30, num_leaves=8, **shared)
        ref = GradientBoostingRegressor(n_estimators=30, max_leaf_nodes=8, **shared)
    else:
        ours = TreeBoostingClassifier(engine="sklearn", n_stages=30, num_leaves=8, **shared)
        ref = GradientBoostingClassifier(n_estimators=30, max_leaf_nodes=8, **shared)
    # GradientBoosting defaults max_depth=3, min_samples_leaf=1: match them explicitly
    ours.set_params(max_depth=3, min_samples_leaf=1)
    ours.fit(X, y, sample_weight=w)
    ref.fit(X, y, sample_weight=w)
    ref_raw = ref.decision_function(X) if task != "regression" else ref.predict(X)
    np.testing.assert_allclose(_fboost_raw(ours, X), ref_raw, rtol=0, atol=1e-8)
    for mine, theirs in zip(ours.staged_predict(X), ref.staged_predict(X), strict=True):
        if task == "regression":
            np.testing.assert_allclose(mine, theirs, rtol=0, atol=1e-8)
        else:
            np.testing.assert_array_equal(mine, theirs)
    if subsample == 1.0:
        # scikit-learn reports twice the half losses of fboost for squared and binary log loss
        factor = 1.0 if task == "multiclass" else 2.0
        np.testing.assert_allclose(factor * ours.train_score_, ref.train_score_, rtol=1e-10)


def test_sklearn_engine_default_shape_equals_best_first_gradient_boosting(regression_data):
    X, y = regression_data
    ours = TreeBoostingRegressor(engine="sklearn", n_stages=20, random_state=1).fit(X, y)
    ref = GradientBoostingRegressor(
        n_estimators=20, max_depth=None, max_leaf_nodes=31, min_samples_leaf=20, random_state=1
    ).fit(X, y)
    np.testing.assert_allclose(ours.predict(X), ref.predict(X), rtol=0, atol=1e-8)


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize(
    "params",
    [
        {},
        {"subsample": 0.7, "colsample_bytree": 0.8, "reg_lambda": 1.0, "num_leaves": 7},
        {"max_depth": 3, "min_samples_leaf": 5, "learning_rate": 0.3},
    ],
)
def test_lightgbm_engine_equals_lightgbm(task_data, task, params):
    X, y = task_data[task]
    cls = TreeBoostingRegressor if task == "regression" else TreeBoostingClassifier
    ours = cls(n_stages=40, random_state=0, **params)
    lgbm_params = ours.lightgbm_params()
    ref_cls = lightgbm.LGBMRegressor if task == "regression" else lightgbm.LGBMClassifier
    ref = ref_cls(**lgbm_params)
    w = np.random.RandomState(1).uniform(0.5, 2.0, len(y))
    ours.fit(X, y, sample_weight=w)
    ref.fit(X, y, sample_weight=w)
    ref_raw = ref.predict(X, raw_score=True)
    np.testing.assert_allclose(_fboost_raw(ours, X), ref_raw, rtol=0, atol=1e-12)
    if task != "regression":
        np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), atol=1e-12)
        np.testing.assert_array_equal(ours.predict(X), ref.predict(X))
    # contributions are LightGBM's trees, split per iteration, with F_0 its boost-from-average
    contributions = ours.stage_contributions(X)
    np.testing.assert_allclose(
        contributions.sum(axis=0).reshape(ref_raw.shape), ref_raw, rtol=0, atol=1e-10
    )
    for t in (1, 7, 40):
        window = ref.predict(X, raw_score=True, start_iteration=t - 1, num_iteration=1)
        expected = contributions[t] + (contributions[0] if t == 1 else 0)
        np.testing.assert_allclose(expected.reshape(window.shape), window, atol=1e-10)


def test_lightgbm_default_estimator_scores_like_default_lgbm(multiclass_data):
    X, y = multiclass_data
    ours = TreeBoostingClassifier().fit(X, y)
    # LightGBM's defaults, except the thread count (fboost honours OMP_NUM_THREADS)
    ref = lightgbm.LGBMClassifier(verbose=-1, n_jobs=ours.lightgbm_params()["n_jobs"]).fit(X, y)
    assert ours.score(X, y) == ref.score(X, y)
    np.testing.assert_allclose(ours.decision_function(X), ref.predict(X, raw_score=True), atol=0)


def test_lightgbm_leaf_table_is_exact(regression_data):
    X, y = regression_data
    model = TreeBoostingRegressor(n_stages=10, random_state=0).fit(X, y)
    booster = model.booster_
    lr = model.learning_rate
    trees = booster.dump_model()["tree_info"]
    for t, stage in enumerate(model.model_.stages):
        for leaf in range(trees[t]["num_leaves"]):
            expected = booster.get_leaf_output(t, leaf)
            if t == 0:
                expected -= model.model_.start.raw[0]
            assert stage.values[0, leaf] * lr == pytest.approx(expected, abs=1e-14)


def test_lightgbm_engine_takes_nan_as_missing(regression_data):
    X, y = regression_data
    X = X.copy()
    X[::7, 0] = np.nan
    ours = TreeBoostingRegressor(n_stages=20, random_state=0).fit(X, y)
    ref = lightgbm.LGBMRegressor(**ours.lightgbm_params()).fit(X, y)
    np.testing.assert_allclose(ours.predict(X), ref.predict(X), atol=1e-12)
    contributions = ours.stage_contributions(X)
    np.testing.assert_allclose(contributions.sum(axis=0)[:, 0], ours.predict(X), atol=1e-10)
