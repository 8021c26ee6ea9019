"""Bad input gets a clear ValueError/TypeError that names the argument."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import Ridge
from sklearn.tree import DecisionTreeRegressor

from fboost import (
    FunctionalBoostingClassifier,
    FunctionalBoostingRegressor,
    TreeBoostingClassifier,
    TreeBoostingRegressor,
)

REGRESSORS = [
    TreeBoostingRegressor(n_stages=3),
    TreeBoostingRegressor(engine="sklearn", n_stages=3),
    FunctionalBoostingRegressor(n_stages=3),
]
CLASSIFIERS = [
    TreeBoostingClassifier(n_stages=3),
    TreeBoostingClassifier(engine="sklearn", n_stages=3),
    FunctionalBoostingClassifier(n_stages=3),
]
ALL = REGRESSORS + CLASSIFIERS


def _data(estimator, n=40, d=3):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(n, d))
    y = rng.normal(size=n) if estimator in REGRESSORS else np.arange(n) % 2
    return X, y


@pytest.mark.parametrize("estimator", REGRESSORS, ids=repr)
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_y(estimator, bad):
    X, y = _data(estimator)
    y[3] = bad
    with pytest.raises(ValueError, match="y"):
        estimator.fit(X, y)


@pytest.mark.parametrize("estimator", ALL, ids=repr)
def test_inf_in_X(estimator):
    X, y = _data(estimator)
    X[0, 1] = np.inf
    with pytest.raises(ValueError, match="X.*infinity|infinity.*X"):
        estimator.fit(X, y)


@pytest.mark.parametrize(
    "estimator",
    [
        TreeBoostingRegressor(engine="sklearn", n_stages=3),
        TreeBoostingClassifier(engine="sklearn", n_stages=3),
        FunctionalBoostingRegressor(Ridge(), n_stages=3),
    ],
    ids=repr,
)
def test_nan_in_X_where_the_engine_cannot_take_it(estimator):
    X, y = _data(estimator)
    X[0, 1] = np.nan
    with pytest.raises(ValueError, match="X.*NaN|NaN.*X"):
        estimator.fit(X, y)


@pytest.mark.parametrize("estimator", ALL, ids=repr)
def test_wrong_feature_count_at_predict(estimator):
    X, y = _data(estimator)
    estimator.fit(X, y)
    with pytest.raises(ValueError, match="X has 2 features.*expecting 3"):
        estimator.predict(X[:, :2])
    with pytest.raises(ValueError, match="X has 2 features"):
        estimator.stage_contributions(X[:, :2])


@pytest.mark.parametrize("estimator", CLASSIFIERS, ids=repr)
def test_one_class(estimator):
    X, _ = _data(estimator)
    with pytest.raises(ValueError, match="y must contain at least 2 classes"):
        estimator.fit(X, np.zeros(len(X)))


@pytest.mark.parametrize("estimator", ALL, ids=repr)
def test_empty_and_3d_X(estimator):
    X, y = _data(estimator)
    with pytest.raises(ValueError, match="X.*0 sample"):
        estimator.fit(X[:0], y[:0])
    with pytest.raises(ValueError, match="X.*dim 3"):
        estimator.fit(X.reshape(len(X), 3, 1), y)


@pytest.mark.parametrize("estimator", ALL, ids=repr)
def test_strings_in_X(estimator):
    X, y = _data(estimator)
    X = X.astype(object)
    X[0, 0] = "a"
    with pytest.raises(ValueError, match="X"):
        estimator.fit(X, y)


@pytest.mark.parametrize("estimator", ALL, ids=repr)
@pytest.mark.parametrize(
    "params, name",
    [
        ({"n_stages": 0}, "n_stages"),
        ({"n_stages": -3}, "n_stages"),
        ({"n_stages": 2.5}, "n_stages"),
        ({"learning_rate": 0.0}, "learning_rate"),
        ({"subsample": 1.5}, "subsample"),
        ({"validation_fraction": 1.0}, "validation_fraction"),
        ({"n_iter_no_change": 0}, "n_iter_no_change"),
    ],
)
def test_bad_parameter_values_are_named(estimator, params, name):
    X, y = _data(estimator)
    with pytest.raises((ValueError, TypeError), match=f"'{name}' parameter.*Got"):
        clone(estimator).set_params(**params).fit(X, y)


@pytest.mark.parametrize("cls", [TreeBoostingRegressor, TreeBoostingClassifier])
def test_unknown_engine(cls):
    X, y = _data(REGRESSORS[0] if cls is TreeBoostingRegressor else CLASSIFIERS[0])
    with pytest.raises(ValueError, match="'engine' parameter.*among.*lightgbm.*Got 'xgb'"):
        cls(engine="xgb").fit(X, y)


def test_lightgbm_only_parameters_with_sklearn_engine():
    X, y = _data(REGRESSORS[0])
    with pytest.raises(ValueError, match="reg_lambda only apply to engine='lightgbm'"):
        TreeBoostingRegressor(engine="sklearn", reg_lambda=1.0).fit(X, y)


def test_unknown_parameter():
    with pytest.raises(TypeError, match="n_trees"):
        TreeBoostingRegressor(n_trees=10)
    with pytest.raises(ValueError, match="Invalid parameter 'n_trees'"):
        TreeBoostingRegressor().set_params(n_trees=10)


@pytest.mark.parametrize("cls", [FunctionalBoostingRegressor, FunctionalBoostingClassifier])
def test_learner_without_fit_or_predict(cls):
    X, y = _data(REGRESSORS[0] if cls is FunctionalBoostingRegressor else CLASSIFIERS[0])
    with pytest.raises(ValueError, match="'learner' parameter.*'fit' and 'predict'"):
        cls(learner=object()).fit(X, y)


def test_learner_without_sample_weight_support():
    from sklearn.neighbors import KNeighborsRegressor

    X, y = _data(REGRESSORS[0])
    model = FunctionalBoostingRegressor(KNeighborsRegressor(), n_stages=2)
    model.fit(X, y)  # unweighted: fine
    with pytest.raises(ValueError, match="sample_weight is not supported.*KNeighborsRegressor"):
        model.fit(X, y, sample_weight=np.arange(len(y)) + 1.0)


@pytest.mark.parametrize("estimator", ALL, ids=repr)
def test_bad_sample_weight(estimator):
    X, y = _data(estimator)
    with pytest.raises(ValueError, match="sample_weight"):
        estimator.fit(X, y, sample_weight=-np.ones(len(y)))
    with pytest.raises(ValueError, match="sample_weight"):
        estimator.fit(X, y, sample_weight=np.ones(len(y) - 1))
    with pytest.raises(ValueError, match="sample_weight"):
        estimator.fit(X, y, sample_weight=np.zeros(len(y)))


@pytest.mark.parametrize("estimator", ALL, ids=repr)
def test_unfitted(estimator):
    from sklearn.exceptions import NotFittedError

    X, _ = _data(estimator)
    fresh = estimator.__class__(**estimator.get_params())
    for method in ("predict", "stage_contributions"):
        with pytest.raises(NotFittedError):
            getattr(fresh, method)(X)
    with pytest.raises(NotFittedError):
        fresh.drop_stages([1])


def test_nan_in_X_follows_the_learner():
    """The lightgbm engine and NaN-aware learners take NaN as missing; the tags say so."""
    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(60, 3)), rng.normal(size=60)
    X[::5, 0] = np.nan
    for model in (
        TreeBoostingRegressor(n_stages=5),
        FunctionalBoostingRegressor(DecisionTreeRegressor(max_depth=2), n_stages=5),
    ):
        assert model.__sklearn_tags__().input_tags.allow_nan
        assert np.isfinite(model.fit(X, y).predict(X)).all()
    for model in (TreeBoostingRegressor(engine="sklearn"), FunctionalBoostingRegressor(Ridge())):
        assert not model.__sklearn_tags__().input_tags.allow_nan


def test_a_named_input_error_is_never_its_own_cause():
    """An error whose message already names the argument is re-raised as a new exception of the
    same type and message, chained to the original, never as its own cause (a cycle)."""
    from fboost.base import _name_argument

    original = ValueError("X contains NaN")
    try:
        raise _name_argument(original, "X") from original
    except ValueError as exc:
        assert exc is not original and exc.__cause__ is original
        assert str(exc) == "X contains NaN" and original.__cause__ is None
    renamed = _name_argument(TypeError("bad dtype"), "y")
    assert type(renamed) is TypeError and str(renamed) == "y: bad dtype"
