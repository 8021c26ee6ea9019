"""Issue 11: the tree booster against scikit-learn's and LightGBM's own behaviour.

Early stopping, eval sets, feature importances, lgb_params, warm starts, categorical features and
per-feature contributions, each equal to the reference (sklearn engine to 1e-8, lightgbm engine
bitwise on raw scores) and kept through the additive view.
"""

from __future__ import annotations

import lightgbm
import numpy as np
import pandas as pd
import pytest
import scipy.sparse
import sklearn
from sklearn.ensemble import GradientBoostingClassifier, GradientBoostingRegressor
from sklearn.linear_model import Ridge
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from fboost import (
    FunctionalBoostingClassifier,
    FunctionalBoostingRegressor,
    TreeBoostingClassifier,
    TreeBoostingRegressor,
)

TASKS = ["regression", "binary", "multiclass"]


def tree(task, **params):
    params.setdefault("random_state", 0)
    cls = TreeBoostingRegressor if task == "regression" else TreeBoostingClassifier
    return cls(**params)


def gradient_boosting(task, **params):
    cls = GradientBoostingRegressor if task == "regression" else GradientBoostingClassifier
    return cls(max_depth=None, random_state=0, **params)


def lgbm(task, **params):
    return (lightgbm.LGBMRegressor if task == "regression" else lightgbm.LGBMClassifier)(**params)


def raw_of(model, X):
    if hasattr(model, "decision_function"):
        return np.asarray(model.decision_function(X)).reshape(X.shape[0], -1)
    return model.predict(X).reshape(-1, 1)


def lgbm_raw(ref, X):
    return np.asarray(ref.predict(X, raw_score=True)).reshape(X.shape[0], -1)


def assert_additive(model, X):
    """Contributions telescope, staged predictions are their partial sums, lesions subtract."""
    contributions = model.stage_contributions(X)
    raw = raw_of(model, X)
    np.testing.assert_allclose(contributions.sum(axis=0), raw, rtol=0, atol=1e-10)
    staged = list(model._staged_raw(X))
    assert len(staged) == model.n_stages_
    np.testing.assert_allclose(staged[-1], raw, rtol=0, atol=1e-10)
    t = max(1, model.n_stages_ // 2)
    np.testing.assert_allclose(
        raw_of(model.drop_stages([t]), X), raw - contributions[t], rtol=0, atol=1e-10
    )


# -- 1. early stopping -----------------------------------------------------------------------------
@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize(("n_iter_no_change", "tol"), [(5, 1e-4), (10, 0.1), (20, 0.1)])
def test_sklearn_engine_early_stopping_is_gradient_boostings(
    task_data, task, n_iter_no_change, tol
):
    X, y = task_data[task]
    shared = {
        "learning_rate": 0.5,
        "n_iter_no_change": n_iter_no_change,
        "tol": tol,
        "validation_fraction": 0.2,
        "min_samples_leaf": 1,
    }
    ours = tree(task, engine="sklearn", n_stages=200, num_leaves=8, **shared).fit(X, y)
    ref = gradient_boosting(task, n_estimators=200, max_leaf_nodes=8, **shared).fit(X, y)
    assert ours.n_stages_ == ref.n_estimators_ < 200
    ref_raw = raw_of(ref, X) if task != "regression" else ref.predict(X).reshape(-1, 1)
    np.testing.assert_allclose(raw_of(ours, X), ref_raw, rtol=0, atol=1e-8)
    np.testing.assert_allclose(
        2 * ours.train_score_
        if task == "regression"
        else ours.train_score_ * (2 - (task == "multiclass")),
        ref.train_score_,
        rtol=1e-10,
    )
    assert len(ours.validation_score_) == ours.n_stages_
    assert_additive(ours, X)


def test_sklearn_rule_counts_trained_stages_not_the_best(regression_data):
    # the case: with a large tol, patience changes how many stages are trained and kept
    X, y = regression_data
    fits = [
        tree("regression", engine="sklearn", n_stages=300, n_iter_no_change=n, tol=0.1).fit(X, y)
        for n in (10, 20)
    ]
    assert fits[0].n_stages_ < fits[1].n_stages_
    assert all(len(f.validation_score_) == f.n_stages_ for f in fits)


@pytest.mark.parametrize("task", TASKS)
def test_lightgbm_engine_early_stopping_is_lightgbms_callback(task_data, task):
    X, y = task_data[task]
    if task == "binary":  # LightGBM's wrapper does not encode string labels in eval_y
        y = np.unique(y, return_inverse=True)[1]
    X_tr, X_val, y_tr, y_val = train_test_split(X, y, test_size=0.25, random_state=0)
    ours = tree(task, n_stages=300, learning_rate=0.5, n_iter_no_change=5, tol=1e-3)
    ours.fit(X_tr, y_tr, eval_set=[(X_val, y_val)])
    ref = lgbm(task, **ours.lightgbm_params()).fit(
        X_tr,
        y_tr,
        eval_X=(X_val,),
        eval_y=(y_val,),
        callbacks=[lightgbm.early_stopping(5, verbose=False, min_delta=1e-3)],
    )
    assert ours.best_iteration_ == ref.best_iteration_ == ours.n_stages_ < 300
    np.testing.assert_array_equal(raw_of(ours, X), lgbm_raw(ref, X))
    assert_additive(ours, X)


@pytest.mark.parametrize("engine", ["lightgbm", "sklearn", "functional"])
def test_early_stopping_split_missing_a_class_raises_naming_it(engine):
    X = np.arange(40.0).reshape(-1, 1)
    y = np.array(["a"] * 38 + ["rare"] * 2)
    if engine == "functional":
        model = FunctionalBoostingClassifier(n_iter_no_change=3, validation_fraction=0.9)
    else:
        model = TreeBoostingClassifier(engine=engine, n_iter_no_change=3, validation_fraction=0.9)
    with pytest.raises(ValueError, match=r"lacks class \['rare'\]"):
        model.fit(X, y)


def test_one_class_message_names_the_label_not_all_classes():
    X = np.zeros((4, 2))
    with pytest.raises(ValueError, match=r"got 1: \[1\] \(of \[-1, 1\]\)"):
        TreeBoostingClassifier().fit(X, [-1, 1, 1, 1], sample_weight=[0, 1, 1, 1])
    with pytest.raises(ValueError, match=r"got 1: \['b'\]$"):
        TreeBoostingClassifier().fit(X, ["b"] * 4)


# -- 2. eval_set, evals_result_, metadata routing --------------------------------------------------
@pytest.mark.parametrize("engine", ["lightgbm", "sklearn"])
@pytest.mark.parametrize("task", TASKS)
def test_evals_result_is_the_loss_of_each_set_after_each_stage(task_data, task, engine):
    X, y = task_data[task]
    w = np.linspace(0.5, 1.5, 100)
    model = tree(task, engine=engine, n_stages=12).fit(
        X[100:],
        y[100:],
        eval_set=[(X[:100], y[:100]), (X[:50], y[:50])],
        eval_sample_weight=[w, None],
    )
    assert set(model.evals_result_) == {"valid_0", "valid_1"}
    history = model.evals_result_["valid_0"][model.loss_.name]
    assert history.shape == (model.n_stages_,)
    codes = y[:100] if task == "regression" else np.searchsorted(model.classes_, y[:100])
    staged = [model.loss_.value(codes, raw, w) for raw in model._staged_raw(X[:100])]
    np.testing.assert_allclose(history, staged, rtol=1e-6)
    np.testing.assert_allclose(model.validation_score_, history)
    # the training loss, read from LightGBM's own scores on that engine, is the same loss
    codes = y[100:] if task == "regression" else np.searchsorted(model.classes_, y[100:])
    staged = [model.loss_.value(codes, raw) for raw in model._staged_raw(X[100:])]
    np.testing.assert_allclose(model.train_score_, staged, rtol=1e-6)


def test_lightgbm_evals_result_equals_lightgbms(binary_data):
    X, y = binary_data
    y = np.unique(y, return_inverse=True)[1]
    ours = tree("binary", n_stages=15).fit(X[100:], y[100:], eval_set=[(X[:100], y[:100])])
    ref = lgbm("binary", **ours.lightgbm_params()).fit(
        X[100:], y[100:], eval_X=(X[:100],), eval_y=(y[:100],), eval_names=["valid_0"]
    )
    np.testing.assert_array_equal(
        ours.evals_result_["valid_0"]["binary_log_loss"],
        ref.evals_result_["valid_0"]["binary_logloss"],
    )


def test_sklearn_engine_eval_set_is_the_split_gradient_boosting_makes(regression_data):
    X, y = regression_data
    kw = {"learning_rate": 0.5, "n_iter_no_change": 5, "min_samples_leaf": 1}
    ref = gradient_boosting("regression", n_estimators=200, max_leaf_nodes=8, **kw).fit(X, y)
    X_tr, X_val, y_tr, y_val = train_test_split(X, y, test_size=0.1, random_state=0)
    ours = tree("regression", engine="sklearn", n_stages=200, num_leaves=8, **kw)
    ours.fit(X_tr, y_tr, eval_set=[(X_val, y_val)])
    assert ours.n_stages_ == ref.n_estimators_
    np.testing.assert_allclose(ours.predict(X), ref.predict(X), rtol=0, atol=1e-8)


def test_eval_set_is_routed_through_a_pipeline(regression_data):
    X, y = regression_data
    with sklearn.config_context(enable_metadata_routing=True):
        model = tree("regression", n_stages=5).set_fit_request(
            eval_set=True, sample_weight=True, eval_sample_weight=False
        )
        pipe = make_pipeline(FunctionTransformer(), model)
        pipe.fit(X, y, eval_set=[(X[:50], y[:50])], sample_weight=np.ones(len(y)))
    assert pipe[-1].evals_result_["valid_0"]["squared_error"].shape == (5,)


def test_eval_set_errors_name_the_argument(multiclass_data):
    X, y = multiclass_data
    model = tree("multiclass", n_stages=3)
    with pytest.raises(ValueError, match=r"eval_set\[0\]: y has labels \[7\]"):
        model.fit(X, y, eval_set=[(X[:5], np.full(5, 7))])
    with pytest.raises(ValueError, match="eval_sample_weight has 2 entries for 1"):
        model.fit(X, y, eval_set=[(X, y)], eval_sample_weight=[None, None])
    with pytest.raises(ValueError, match=r"eval_set\[0\]: X has 5 rows but y has 4"):
        model.fit(X, y, eval_set=[(X[:5], y[:4])])


# -- 3. feature importances ------------------------------------------------------------------------
@pytest.mark.parametrize("importance_type", ["split", "gain"])
@pytest.mark.parametrize("task", TASKS)
def test_lightgbm_feature_importances_equal_lightgbms(task_data, task, importance_type):
    X, y = task_data[task]
    ours = tree(task, n_stages=20, importance_type=importance_type).fit(X, y)
    ref = lgbm(task, **ours.lightgbm_params()).fit(X, y)
    np.testing.assert_array_equal(ours.feature_importances_, ref.feature_importances_)
    # a lesion counts only the kept stages: the kept windows' importances add up
    lesioned = ours.drop_stages([1, 2, 3, 10])
    kept = ref.booster_.feature_importance(
        importance_type, iteration=9
    ) - ref.booster_.feature_importance(importance_type, iteration=3)
    kept = (
        kept
        + ref.booster_.feature_importance(importance_type)
        - ref.booster_.feature_importance(importance_type, iteration=10)
    )
    np.testing.assert_allclose(lesioned.feature_importances_, kept, rtol=1e-12)


@pytest.mark.parametrize("task", TASKS)
def test_sklearn_feature_importances_equal_gradient_boostings(task_data, task):
    X, y = task_data[task]
    ours = tree(task, engine="sklearn", n_stages=15, num_leaves=8, importance_type="gain").fit(X, y)
    ref = gradient_boosting(task, n_estimators=15, max_leaf_nodes=8, min_samples_leaf=20).fit(X, y)
    np.testing.assert_allclose(ours.feature_importances_, ref.feature_importances_, atol=1e-12)
    splits = ours.set_params(importance_type="split").feature_importances_
    n_internal = sum((t.tree_.children_left != -1).sum() for row in ref.estimators_ for t in row)
    assert splits.sum() == n_internal


# -- 7. lgb_params ---------------------------------------------------------------------------------
def test_lgb_params_reach_lightgbm(regression_data):
    X, y = regression_data
    extra = {"min_data_in_bin": 30, "extra_trees": True, "seed": 7}
    ours = TreeBoostingRegressor(n_stages=10, lgb_params=extra).fit(X, y)
    ref = lightgbm.LGBMRegressor(**{**ours.lightgbm_params()}).fit(X, y)
    assert ours.booster_.params["min_data_in_bin"] == 30
    np.testing.assert_array_equal(ours.predict(X), ref.predict(X, raw_score=True))
    plain = TreeBoostingRegressor(n_stages=10, lgb_params={"seed": 7}).fit(X, y)
    assert not np.array_equal(ours.predict(X), plain.predict(X))
    assert_additive(ours, X)


@pytest.mark.parametrize(
    ("lgb_params", "match"),
    [
        ({"min_data_in_bins": 3}, "did you mean 'min_data_in_bin'"),
        ({"extra_treez": True}, "did you mean 'extra_tree', 'extra_trees'"),
        ({"num_leaf": 3}, "LightGBM.s .num_leaves.. is set by num_leaves"),
        ({"n_estimators": 3}, "set by n_stages"),
        ({"eta": 0.3}, "set by learning_rate"),
        ({"random_seed": 3}, "set by random_state"),
        ({"objective": "huber"}, "set by the loss"),
        ({"boosting": "rf"}, "not supported"),
        ({"linear_tree": True}, "not supported"),
    ],
)
def test_lgb_params_are_checked_against_lightgbms_list(regression_data, lgb_params, match):
    X, y = regression_data
    with pytest.raises(ValueError, match=match):
        TreeBoostingRegressor(n_stages=3, random_state=0, lgb_params=lgb_params).fit(X, y)


def test_lgb_params_need_the_lightgbm_engine(regression_data):
    X, y = regression_data
    with pytest.raises(ValueError, match="lgb_params only apply"):
        TreeBoostingRegressor(engine="sklearn", lgb_params={"min_data_in_bin": 3}).fit(X, y)


# -- 5. categorical features -----------------------------------------------------------------------
def _frame(n=400, seed=0):
    rng = np.random.RandomState(seed)
    colour = pd.Categorical(rng.choice(["red", "green", "blue", "grey"], n))
    size = pd.Categorical(rng.choice([3, 10, 20], n))  # numeric categories: not numbers
    x = rng.normal(size=n)
    frame = pd.DataFrame({"x": x, "colour": colour, "size": size})
    effect = {"red": 2.0, "green": -1.0, "blue": 0.5, "grey": 0.0}
    y = x + np.array([effect[c] for c in colour]) + 3.0 * (np.asarray(size) == 10)
    return frame, y + 0.1 * rng.normal(size=n)


@pytest.mark.parametrize("task", ["regression", "multiclass"])
def test_category_columns_go_to_lightgbm_natively(task):
    frame, y = _frame()
    if task == "multiclass":
        y = np.digitize(y, [-0.5, 1.5])
    ours = tree(task, n_stages=20, min_samples_leaf=5).fit(frame, y)
    ref = lgbm(task, **ours.lightgbm_params()).fit(frame, y)
    assert ours.categorical_features_ == [1, 2]
    test, _ = _frame(50, seed=1)
    test.loc[:3, "colour"] = np.nan  # missing
    np.testing.assert_array_equal(raw_of(ours, test), lgbm_raw(ref, test))
    assert_additive(ours, test)
    # never silently cast to codes: the codes as numbers give a different model
    codes = frame.assign(colour=frame["colour"].cat.codes, size=frame["size"].cat.codes)
    as_numbers = tree(task, n_stages=20, min_samples_leaf=5).fit(codes, y)
    assert not np.array_equal(raw_of(as_numbers, codes), raw_of(ours, frame))


def test_ordered_categories_go_as_ordinal_codes_as_in_lightgbm():
    frame, y = _frame()
    frame["size"] = frame["size"].cat.as_ordered()
    ours = TreeBoostingRegressor(n_stages=10, min_samples_leaf=5).fit(frame, y)
    ref = lightgbm.LGBMRegressor(**ours.lightgbm_params()).fit(frame, y)
    assert ours.categorical_features_ == [1]
    np.testing.assert_array_equal(ours.predict(frame), ref.predict(frame, raw_score=True))


def test_categorical_features_by_name_or_index_equal_lightgbms():
    frame, y = _frame()
    frame = frame.assign(colour=frame["colour"].cat.codes, size=frame["size"].cat.codes)
    by_name = TreeBoostingRegressor(n_stages=10, categorical_features=["colour"]).fit(frame, y)
    by_index = TreeBoostingRegressor(n_stages=10, categorical_features=[1]).fit(frame.to_numpy(), y)
    ref = lightgbm.LGBMRegressor(**by_name.lightgbm_params()).fit(
        frame, y, categorical_feature=["colour"]
    )
    np.testing.assert_array_equal(by_name.predict(frame), ref.predict(frame, raw_score=True))
    np.testing.assert_array_equal(by_index.predict(frame.to_numpy()), by_name.predict(frame))
    with pytest.raises(ValueError, match="'shade' is neither a feature index nor a column"):
        TreeBoostingRegressor(categorical_features=["shade"]).fit(frame, y)


def test_categories_are_refused_by_name_where_they_cannot_go():
    frame, y = _frame(60)
    with pytest.raises(TypeError, match=r"\['colour', 'size'\] have pandas category dtype"):
        TreeBoostingRegressor(engine="sklearn").fit(frame, y)
    with pytest.raises(TypeError, match="category dtype, which FunctionalBoostingClassifier"):
        FunctionalBoostingClassifier().fit(frame, y > 0)
    with pytest.raises(ValueError, match="categorical_features=.* needs engine='lightgbm'"):
        TreeBoostingRegressor(engine="sklearn", categorical_features=[0]).fit(frame[["x"]], y)


# -- 8. warm start ---------------------------------------------------------------------------------
@pytest.mark.parametrize("subsample", [1.0, 0.7])
@pytest.mark.parametrize("task", TASKS)
def test_sklearn_engine_warm_start_is_gradient_boostings(task_data, task, subsample):
    X, y = task_data[task]
    ours = tree(
        task, engine="sklearn", n_stages=8, num_leaves=8, subsample=subsample, warm_start=True
    )
    ref = gradient_boosting(
        task,
        n_estimators=8,
        max_leaf_nodes=8,
        min_samples_leaf=20,
        subsample=subsample,
        warm_start=True,
    )
    ours.fit(X, y)
    ref.fit(X, y)
    ours.set_params(n_stages=20).fit(X, y)
    ref.set_params(n_estimators=20).fit(X, y)
    assert ours.n_stages_ == 20
    ref_raw = raw_of(ref, X) if task != "regression" else ref.predict(X).reshape(-1, 1)
    np.testing.assert_allclose(raw_of(ours, X), ref_raw, rtol=0, atol=1e-8)
    assert ours.train_score_.shape == (20,)
    assert_additive(ours, X)
    with pytest.raises(ValueError, match="must be >= n_stages_=20"):
        ours.set_params(n_stages=10).fit(X, y)


@pytest.mark.parametrize("task", TASKS)
def test_lightgbm_engine_warm_start_is_lightgbms_init_model(task_data, task):
    X, y = task_data[task]
    ours = tree(task, n_stages=8, warm_start=True).fit(X, y)
    first = lgbm(task, **ours.lightgbm_params()).fit(X, y)
    ours.set_params(n_stages=20).fit(X, y)
    ref = lgbm(task, **{**ours.lightgbm_params(), "n_estimators": 12}).fit(
        X, y, init_model=first.booster_
    )
    assert ours.n_stages_ == ref.booster_.current_iteration() == 20
    np.testing.assert_array_equal(raw_of(ours, X), lgbm_raw(ref, X))
    assert ours.train_score_.shape == (20,)
    assert_additive(ours, X)


# -- 9. per-feature contributions -----------------------------------------------------------------
@pytest.mark.parametrize("task", TASKS)
def test_feature_contributions_are_lightgbms_and_sum_both_ways(task_data, task):
    X, y = task_data[task]
    model = tree(task, n_stages=12).fit(X, y)
    ref = lgbm(task, **model.lightgbm_params()).fit(X, y)
    k = 3 if task == "multiclass" else 1
    features = model.feature_contributions(X)
    assert features.shape == (len(X), X.shape[1] + 1, k)
    expected = np.asarray(ref.predict(X, pred_contrib=True)).reshape(len(X), k, -1)
    np.testing.assert_array_equal(features, expected.transpose(0, 2, 1))
    np.testing.assert_allclose(features.sum(axis=1), raw_of(model, X), rtol=0, atol=1e-10)
    both = model.stage_feature_contributions(X)
    assert both.shape == (model.n_stages_ + 1, len(X), X.shape[1] + 1, k)
    np.testing.assert_allclose(both.sum(axis=2), model.stage_contributions(X), atol=1e-10)
    np.testing.assert_allclose(both.sum(axis=0), features, atol=1e-10)
    lesioned = model.drop_stages([1, 4])
    np.testing.assert_allclose(
        lesioned.feature_contributions(X).sum(axis=1), raw_of(lesioned, X), atol=1e-10
    )
    kept = [r for r in range(model.n_stages_ + 1) if r not in (1, 4)]
    np.testing.assert_allclose(lesioned.stage_feature_contributions(X), both[kept], atol=1e-12)


@pytest.mark.parametrize("task", TASKS)
def test_sklearn_engine_feature_contributions_through_shap(task_data, task):
    pytest.importorskip("shap")
    X, y = task_data[task]
    model = tree(task, engine="sklearn", n_stages=6, num_leaves=6, subsample=0.8).fit(X, y)
    both = model.stage_feature_contributions(X)
    k = 3 if task == "multiclass" else 1
    assert both.shape == (model.n_stages_ + 1, len(X), X.shape[1] + 1, k)
    np.testing.assert_allclose(both.sum(axis=2), model.stage_contributions(X), atol=1e-8)
    features = model.feature_contributions(X)
    np.testing.assert_allclose(features, both.sum(axis=0), atol=1e-10)
    np.testing.assert_allclose(features.sum(axis=1), raw_of(model, X), atol=1e-8)
    lesioned = model.drop_stages([2])
    np.testing.assert_allclose(
        lesioned.feature_contributions(X).sum(axis=1), raw_of(lesioned, X), atol=1e-8
    )


def test_sklearn_engine_feature_contributions_name_the_missing_extra(regression_data, monkeypatch):
    import sys

    X, y = regression_data
    model = TreeBoostingRegressor(engine="sklearn", n_stages=3).fit(X, y)
    monkeypatch.setitem(sys.modules, "shap", None)
    with pytest.raises(ImportError, match=r"pip install 'fboost\[shap\]'"):
        model.feature_contributions(X)


# -- 6. sparse input ------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["csr", "csc"])
@pytest.mark.parametrize("task", ["regression", "multiclass"])
def test_lightgbm_engine_takes_sparse_x_as_lightgbm_does(task_data, task, fmt):
    X, y = task_data[task]
    X = np.where(np.abs(X) < 0.7, 0.0, X)
    Xs = getattr(scipy.sparse, f"{fmt}_matrix")(X)
    ours = tree(task, n_stages=10).fit(Xs, y)
    ref = lgbm(task, **ours.lightgbm_params()).fit(Xs, y)
    np.testing.assert_array_equal(raw_of(ours, Xs), lgbm_raw(ref, Xs))
    np.testing.assert_array_equal(raw_of(ours, Xs), raw_of(ours, X))
    assert_additive(ours, Xs)
    np.testing.assert_allclose(
        ours.feature_contributions(Xs).sum(axis=1), raw_of(ours, Xs), atol=1e-10
    )


def test_functional_boosting_takes_sparse_x_when_its_learner_does(regression_data):
    X, y = regression_data
    Xs = scipy.sparse.csr_matrix(np.where(np.abs(X) < 0.7, 0.0, X))
    learner = Ridge(solver="sparse_cg", tol=1e-12)  # the same solver on sparse and dense X
    model = FunctionalBoostingRegressor(learner, n_stages=5, random_state=0).fit(Xs, y)
    dense = FunctionalBoostingRegressor(learner, n_stages=5, random_state=0).fit(Xs.toarray(), y)
    np.testing.assert_allclose(model.predict(Xs), dense.predict(Xs.toarray()), rtol=1e-6)
    assert_additive(model, Xs)
    with pytest.raises(TypeError, match="[Ss]parse"):
        TreeBoostingRegressor(engine="sklearn").fit(Xs, y)
