"""The identities of DESIGN.md section 2 for every function-space estimator, and their behaviour."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.base import clone, is_classifier
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from fboost import (
    FunctionalBoostingClassifier,
    FunctionalBoostingRegressor,
    TreeBoostingClassifier,
    TreeBoostingRegressor,
)

TASKS = ["regression", "binary", "multiclass"]
ENGINES = ["lightgbm", "sklearn"]


def make(task, engine, **params):
    params.setdefault("n_stages", 25)
    params.setdefault("random_state", 0)
    if engine == "functional":
        cls = FunctionalBoostingRegressor if task == "regression" else FunctionalBoostingClassifier
        return cls(**params)
    cls = TreeBoostingRegressor if task == "regression" else TreeBoostingClassifier
    return cls(engine=engine, **params)


def raw_of(model, X):
    if is_classifier(model):
        raw = model.decision_function(X)
        return raw.reshape(len(X), -1)
    return model.predict(X).reshape(-1, 1)


@pytest.mark.parametrize("engine", [*ENGINES, "functional"])
@pytest.mark.parametrize("task", TASKS)
def test_contributions_telescope_to_raw_prediction(task_data, task, engine):
    X, y = task_data[task]
    model = make(task, engine).fit(X, y)
    contributions = model.stage_contributions(X)
    n_outputs = 3 if task == "multiclass" else 1
    assert contributions.shape == (model.n_stages_ + 1, len(X), n_outputs)
    np.testing.assert_allclose(contributions.sum(axis=0), raw_of(model, X), rtol=0, atol=1e-10)
    # row 0 is F_0: a constant for function-space models
    np.testing.assert_allclose(contributions[0], contributions[0][:1].repeat(len(X), 0))
    assert model.stage_weights_.shape == (model.n_stages_,)
    assert model.train_score_.shape == (model.n_stages_,)


@pytest.mark.parametrize("engine", [*ENGINES, "functional"])
@pytest.mark.parametrize("task", TASKS)
def test_staged_predictions_are_partial_sums(task_data, task, engine):
    X, y = task_data[task]
    model = make(task, engine).fit(X, y)
    contributions = model.stage_contributions(X)
    partial = np.cumsum(contributions, axis=0)[1:]
    if is_classifier(model):
        staged = list(model.staged_decision_function(X))
        assert len(staged) == model.n_stages_
        for t, raw in enumerate(staged):
            np.testing.assert_allclose(raw.reshape(len(X), -1), partial[t], atol=1e-10)
        np.testing.assert_allclose(staged[-1], model.decision_function(X), atol=1e-10)
        np.testing.assert_allclose(
            list(model.staged_predict_proba(X))[-1], model.predict_proba(X), atol=1e-12
        )
        np.testing.assert_array_equal(list(model.staged_predict(X))[-1], model.predict(X))
        assert set(np.unique(model.predict(X))) <= set(model.classes_)
    else:
        staged = list(model.staged_predict(X))
        assert len(staged) == model.n_stages_
        for t, pred in enumerate(staged):
            np.testing.assert_allclose(pred, partial[t][:, 0], atol=1e-10)
        np.testing.assert_allclose(staged[-1], model.predict(X), atol=1e-10)


@pytest.mark.parametrize("engine", [*ENGINES, "functional"])
@pytest.mark.parametrize("task", TASKS)
def test_lesions(task_data, task, engine):
    X, y = task_data[task]
    model = make(task, engine).fit(X, y)
    contributions = model.stage_contributions(X)
    full = raw_of(model, X)
    # dropping nothing changes nothing
    np.testing.assert_allclose(raw_of(model.drop_stages([]), X), full, atol=1e-12)
    # dropping every stage leaves F_0
    everything = model.drop_stages(range(1, model.n_stages_ + 1))
    assert everything.n_stages_ == 0
    np.testing.assert_allclose(raw_of(everything, X), contributions[0], atol=1e-12)
    # dropping stage t moves the raw score by exactly minus its contribution
    for t in (1, 2, model.n_stages_ // 2, model.n_stages_):
        lesioned = model.drop_stages([t])
        assert lesioned.n_stages_ == model.n_stages_ - 1
        np.testing.assert_allclose(raw_of(lesioned, X), full - contributions[t], atol=1e-10)
    # several at once, and the copy's own contributions are the kept rows
    lesioned = model.drop_stages([2, 5])
    kept = [r for r in range(model.n_stages_ + 1) if r not in (2, 5)]
    np.testing.assert_allclose(lesioned.stage_contributions(X), contributions[kept], atol=1e-12)
    # the original is untouched
    np.testing.assert_allclose(raw_of(model, X), full, atol=0)


@pytest.mark.parametrize("engine", [*ENGINES, "functional"])
def test_drop_stages_rejects_bad_numbers(regression_data, engine):
    X, y = regression_data
    model = make("regression", engine, n_stages=5).fit(X, y)
    with pytest.raises(ValueError, match="stages are numbered 1..5"):
        model.drop_stages([0])
    with pytest.raises(ValueError, match="stages are numbered 1..5"):
        model.drop_stages([6])
    with pytest.raises(ValueError, match="must not repeat"):
        model.drop_stages([2, 2])
    with pytest.raises(TypeError, match="stages must contain integers"):
        model.drop_stages([1.5])


@pytest.mark.parametrize("engine", [*ENGINES, "functional"])
@pytest.mark.parametrize("task", TASKS)
def test_same_random_state_same_model(task_data, task, engine):
    X, y = task_data[task]
    a = make(task, engine, subsample=0.7, random_state=3).fit(X, y)
    b = make(task, engine, subsample=0.7, random_state=3).fit(X, y)
    np.testing.assert_array_equal(raw_of(a, X), raw_of(b, X))
    c = make(task, engine, subsample=0.7, random_state=4).fit(X, y)
    assert not np.array_equal(raw_of(a, X), raw_of(c, X))


@pytest.mark.parametrize("engine", [*ENGINES, "functional"])
@pytest.mark.parametrize("task", TASKS)
def test_pickle_round_trip_and_clone(task_data, task, engine):
    X, y = task_data[task]
    model = make(task, engine).fit(X, y)
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(raw_of(restored, X), raw_of(model, X))
    np.testing.assert_array_equal(restored.stage_contributions(X), model.stage_contributions(X))
    fresh = clone(model)
    assert fresh.get_params() == model.get_params()
    assert not hasattr(fresh, "model_")


@pytest.mark.parametrize("engine", ENGINES)
def test_pipeline_inside_grid_search(binary_data, engine):
    X, y = binary_data
    pipe = make_pipeline(StandardScaler(), TreeBoostingClassifier(engine=engine, random_state=0))
    grid = GridSearchCV(
        pipe,
        {"treeboostingclassifier__n_stages": [5, 15], "treeboostingclassifier__num_leaves": [4, 8]},
        cv=3,
        n_jobs=2,
    ).fit(X, y)
    assert grid.best_score_ > 0.8
    assert grid.best_estimator_.predict(X).dtype == y.dtype


@pytest.mark.parametrize("engine", [*ENGINES, "functional"])
@pytest.mark.parametrize("task", TASKS)
def test_early_stopping_keeps_what_the_reference_keeps(task_data, task, engine):
    X, y = task_data[task]
    model = make(
        task, engine, n_stages=300, learning_rate=0.5, n_iter_no_change=5, validation_fraction=0.2
    ).fit(X, y)
    assert 1 <= model.n_stages_ < 300
    assert len(model.train_score_) == model.n_stages_
    val = model.validation_score_
    if engine == "lightgbm":
        # LightGBM's callback: the model stops at its best iteration, trained 5 more
        assert model.n_stages_ == model.best_iteration_ == np.argmin(val) + 1
        assert len(val) == model.n_stages_ + 5
    else:
        # scikit-learn's rule: every stage trained is kept, the last one failed to improve
        assert len(val) == model.n_stages_
        factor = 1 if task == "multiclass" else 2
        recent = factor * val[-6:-1]
        assert not np.any(factor * val[-1] + model.tol < recent)


@pytest.mark.parametrize("engine", [*ENGINES, "functional"])
def test_training_loss_decreases(regression_data, engine):
    X, y = regression_data
    model = make("regression", engine, n_stages=30).fit(X, y)
    assert np.all(np.diff(model.train_score_) <= 1e-9)
    assert model.score(X, y) > 0.8


def test_sample_weight_changes_fit_and_zero_weight_equals_removal(regression_data):
    X, y = regression_data
    w = np.ones(len(y))
    w[:100] = 0.0
    a = TreeBoostingRegressor(engine="sklearn", n_stages=10, min_samples_leaf=5, random_state=0)
    weighted = a.fit(X, y, sample_weight=w).predict(X)
    removed = clone(a).fit(X[100:], y[100:]).predict(X)
    np.testing.assert_allclose(weighted, removed, atol=1e-8)


@pytest.mark.parametrize(
    "learner", [Ridge(alpha=1.0), MLPRegressor(hidden_layer_sizes=(16,), max_iter=200)]
)
def test_functional_boosting_takes_any_regressor(regression_data, learner):
    X, y = regression_data
    X = StandardScaler().fit_transform(X)
    model = FunctionalBoostingRegressor(learner, n_stages=5, random_state=0).fit(X, y)
    contributions = model.stage_contributions(X)
    np.testing.assert_allclose(contributions.sum(axis=0)[:, 0], model.predict(X), atol=1e-10)
    assert np.all(model.stage_weights_ >= 0)
    assert model.score(X, y) > 0.5


def test_functional_line_search_is_exact_for_squared_error(regression_data):
    X, y = regression_data
    # One Ridge stage with learning_rate=1: alpha is the least-squares step along h.
    model = FunctionalBoostingRegressor(Ridge(alpha=0.0), n_stages=1, learning_rate=1.0).fit(X, y)
    h = model.model_.stages[0].advance(X, None)[0][:, 0]
    r = y - y.mean()
    np.testing.assert_allclose(model.stage_weights_[0], (r @ h) / (h @ h), rtol=1e-10)


def test_functional_classifier_line_search_lowers_loss(multiclass_data):
    X, y = multiclass_data
    model = FunctionalBoostingClassifier(n_stages=8, learning_rate=1.0, random_state=0).fit(X, y)
    assert np.all(np.diff(model.train_score_) < 0)
    assert model.score(X, y) > 0.8


def test_verbose_shows_progress_and_silent_otherwise(regression_data, capsys):
    X, y = regression_data
    for engine in ENGINES:
        TreeBoostingRegressor(engine=engine, n_stages=3).fit(X, y)
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""
    TreeBoostingRegressor(engine="sklearn", n_stages=3, verbose=1).fit(X, y)
    assert "TreeBoostingRegressor" in capsys.readouterr().err
