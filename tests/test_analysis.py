"""fboost.analysis: known answers, agreement with the shared surface, and bad input."""

from __future__ import annotations

import doctest
import importlib
from math import comb

import numpy as np
import pandas as pd
import pytest
from scipy.special import softmax
from scipy.stats import binom
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LinearRegression
from sklearn.tree import DecisionTreeRegressor

from fboost import (
    FunctionalBoostingRegressor,
    ResNetClassifier,
    ResNetRegressor,
    TreeBoostingClassifier,
    TreeBoostingRegressor,
)
from fboost.analysis import (
    edges,
    functional_alignment,
    gradient_by_path_length,
    gradient_norms,
    lesion_study,
    path_length_distribution,
    skip_gradient_demo,
)
from fboost.analysis._paths import effective_range

TINY_NET = {"d_block": 8, "max_epochs": 3, "batch_size": 32, "n_iter_no_change": None}


def raw_of(model, X):
    raw = model.decision_function(X) if hasattr(model, "classes_") else model.predict(X)
    return np.asarray(raw).reshape(len(X), -1)


@pytest.fixture(scope="module")
def small(regression_data, binary_data, multiclass_data):
    return {
        "regression": (regression_data[0][:120], regression_data[1][:120]),
        "binary": (binary_data[0][:120], binary_data[1][:120]),
        "multiclass": (multiclass_data[0][:120], multiclass_data[1][:120]),
    }


@pytest.fixture(scope="module")
def gbm(small):
    X, y = small["regression"]
    return TreeBoostingRegressor(engine="sklearn", n_stages=6, random_state=0).fit(X, y)


@pytest.fixture(scope="module")
def resnet(small):
    X, y = small["regression"]
    return ResNetRegressor(n_stages=3, random_state=0, **TINY_NET).fit(X, y)


@pytest.fixture(scope="module")
def resnet_clf(small):
    X, y = small["multiclass"]
    return ResNetClassifier(n_stages=3, random_state=0, **TINY_NET).fit(X, y)


# -- functional alignment -----------------------------------------------------------------------
def test_alignment_is_one_for_an_exact_residual_fit(small):
    X, y = small["regression"]
    model = FunctionalBoostingRegressor(
        DecisionTreeRegressor(), n_stages=1, learning_rate=1.0, random_state=0
    ).fit(X, y)
    frame = functional_alignment(model, X, y)
    assert frame.shape[0] == 1
    row = frame.iloc[0]
    assert row["cosine"] == pytest.approx(1.0, abs=1e-12)
    assert row["loss_after"] == pytest.approx(0.0, abs=1e-9)
    assert row["loss_decrease"] == pytest.approx(row["loss_before"])
    assert row["alpha"] == pytest.approx(1.0)


@pytest.mark.parametrize("task", ["regression", "binary", "multiclass"])
def test_alignment_agrees_with_the_loss_and_a_direct_computation(small, task):
    X, y = small[task]
    cls = TreeBoostingRegressor if task == "regression" else TreeBoostingClassifier
    model = cls(engine="sklearn", n_stages=4, random_state=0).fit(X, y)
    frame = functional_alignment(model, X, y)
    assert list(frame["stage"]) == [1, 2, 3, 4]
    # the loss after each stage is the one the fit loop recorded (one source of truth)
    np.testing.assert_allclose(frame["loss_after"], model.train_score_, rtol=1e-10)
    np.testing.assert_allclose(frame["loss_before"].iloc[1:], frame["loss_after"].iloc[:-1])
    contributions = model.stage_contributions(X)
    raw = contributions[:2].sum(axis=0)  # F_1
    if task == "regression":
        residual = (y - raw[:, 0])[:, None]
    else:
        codes = np.searchsorted(model.classes_, y)
        if task == "binary":
            residual = (codes - 1 / (1 + np.exp(-raw[:, 0])))[:, None]
        else:
            residual = np.eye(3)[codes] - softmax(raw, axis=1)
    step = contributions[2]
    if task == "multiclass":
        step = step - step.mean(axis=1, keepdims=True)
    expected = np.sum(step * residual) / np.linalg.norm(step) / np.linalg.norm(residual)
    assert frame["cosine"].iloc[1] == pytest.approx(expected, rel=1e-10)
    assert (frame["cosine"] > 0.3).all()  # a GBM steps along the gradient


def test_alignment_sample_weight_equals_repeated_rows(gbm, small):
    X, y = small["regression"]
    weight = np.arange(len(y)) % 3
    weighted = functional_alignment(gbm, X, y, sample_weight=weight)
    rows = np.repeat(np.arange(len(y)), weight)
    repeated = functional_alignment(gbm, X[rows], y[rows])
    numeric = weighted.columns.drop("model")
    np.testing.assert_allclose(weighted[numeric], repeated[numeric], rtol=1e-9)


def test_alignment_of_a_resnet(resnet_clf, small):
    X, y = small["multiclass"]
    frame = functional_alignment(resnet_clf, X, y)
    assert frame.shape[0] == 3 and frame["cosine"].between(-1, 1).all()
    assert (frame["model"] == "ResNetClassifier").all()
    uncentered = functional_alignment(resnet_clf, X, y, center=False)
    assert (uncentered["cosine"].abs() <= frame["cosine"].abs() + 1e-12).all()
    np.testing.assert_allclose(uncentered["loss_decrease"], frame["loss_decrease"])


# -- lesions ------------------------------------------------------------------------------------
@pytest.mark.parametrize("engine", ["sklearn", "lightgbm"])
def test_removing_a_stage_subtracts_its_contribution(small, engine):
    X, y = small["regression"]
    model = TreeBoostingRegressor(engine=engine, n_stages=5, random_state=0).fit(X, y)
    contributions = model.stage_contributions(X)
    full = raw_of(model, X)
    frame = lesion_study(model, X, y, k=[2], n_repeats=4, random_state=0)
    single = frame[frame["kind"] == "single"].set_index("stage")
    for t in range(1, 6):
        lesioned = model.drop_stages([t])
        np.testing.assert_allclose(raw_of(lesioned, X), full - contributions[t], atol=1e-9)
        assert single.loc[t, "score"] == lesioned.score(X, y)
        rms = np.sqrt(np.mean(contributions[t] ** 2))
        assert single.loc[t, "raw_change"] == pytest.approx(rms, rel=1e-9)
    intact = frame[frame["kind"] == "none"].iloc[0]
    assert intact["score"] == model.score(X, y) and intact["stages"] == ()


def test_lesion_random_subsets(gbm, small):
    X, y = small["regression"]
    frame = lesion_study(gbm, X, y, k=[1, 2, 6], n_repeats=5, random_state=0)
    random = frame[frame["kind"] == "random"]
    # C(6, 1) = 6 > 5 and C(6, 2) = 15 > 5 are sampled; C(6, 6) = 1 <= 5 is enumerated
    assert random.groupby("k").size().to_dict() == {1: 5, 2: 5, 6: 1}
    for _, row in random.iterrows():
        assert len(row["stages"]) == row["k"] == len(set(row["stages"]))
        assert set(row["stages"]) <= set(range(1, 7))
        expected = gbm.drop_stages(list(row["stages"])).score(X, y)
        assert row["score"] == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(frame["score_change"], frame["score"] - gbm.score(X, y))
    again = lesion_study(gbm, X, y, k=[1, 2, 6], n_repeats=5, random_state=0)
    pd.testing.assert_frame_equal(frame, again)
    default = lesion_study(gbm, X, y, n_repeats=2, random_state=0)
    assert sorted(default.loc[default["kind"] == "random", "k"].unique()) == [1, 2, 4]
    scored = lesion_study(gbm, X, y, k=1, scoring="neg_mean_squared_error", n_repeats=1)
    assert (scored["score"] <= 0).all()


def test_lesion_of_a_resnet_agrees_with_drop_stages(resnet, small):
    X, y = small["regression"]
    frame = lesion_study(resnet, X, y, k=[2], n_repeats=10, random_state=0)
    random = frame[frame["kind"] == "random"]
    assert len(random) == comb(3, 2)  # every pair, once
    for _, row in frame.iterrows():
        expected = resnet.drop_stages(list(row["stages"])).score(X, y) if row["k"] else None
        if expected is not None:
            assert row["score"] == pytest.approx(expected, rel=1e-12)


# -- path lengths -------------------------------------------------------------------------------
@pytest.mark.parametrize("n_blocks", [1, 7, 54])
def test_path_length_distribution_is_binomial(n_blocks):
    frame = path_length_distribution(n_blocks)
    k = np.arange(n_blocks + 1)
    assert list(frame["path_length"]) == list(k)
    assert frame["path_fraction"].sum() == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(frame["path_fraction"], binom.pmf(k, n_blocks, 0.5), rtol=1e-10)
    np.testing.assert_array_equal(frame["n_paths"], [comb(n_blocks, i) for i in k])


def test_effective_range():
    assert effective_range(np.array([0.05, 0.5, 0.4, 0.05]), 0.9) == (1, 2)
    assert effective_range(np.array([0.3, 0.3, 0.1, 0.3]), 0.9) == (0, 3)
    assert effective_range(np.array([0.0, 1.0, 0.0]), 1.0) == (1, 1)


class _Contributions:
    """Any object with the shared surface is analysed alike: fixed contributions."""

    def __init__(self, contributions, like):
        self.contributions, self.loss_, self.classes_ = contributions, like.loss_, like.classes_

    def stage_contributions(self, X):
        return self.contributions


# -- edges --------------------------------------------------------------------------------------
def test_binary_edges_are_adaboost_edges(small):
    X, y = small["binary"]
    model = TreeBoostingClassifier(engine="sklearn", n_stages=4, random_state=0).fit(X, y)
    frame = edges(model, X, y)
    contributions = model.stage_contributions(X)[..., 0]
    sign = np.where(y == model.classes_[1], 1.0, -1.0)
    for t in range(1, 5):
        previous, h = contributions[:t].sum(axis=0), contributions[t]
        weight = np.exp(-sign * previous)
        expected = np.sum(weight * sign * h) / weight.sum()
        row = frame.iloc[t - 1]
        assert row["edge_raw"] == pytest.approx(expected, rel=1e-10)
        assert row["scale"] == pytest.approx(np.abs(h).max())
        assert row["edge"] == pytest.approx(expected / np.abs(h).max(), rel=1e-10)
        assert row["exp_loss_before"] == pytest.approx(weight.mean(), rel=1e-10)


def test_multiclass_edges_follow_the_cost_matrix(small):
    X, y = small["multiclass"]
    model = TreeBoostingClassifier(n_stages=3, random_state=0).fit(X, y)
    frame = edges(model, X, y)
    contributions = model.stage_contributions(X)
    codes = np.searchsorted(model.classes_, y)
    rows = np.arange(len(y))
    for t in range(1, 4):
        s, h = contributions[:t].sum(axis=0), contributions[t]
        cost = np.exp(s - s[rows, codes][:, None])  # C(i, l) = exp(s(l) - s(y_i))
        cost[rows, codes] = 0.0
        cost[rows, codes] = -cost.sum(axis=1)  # C(i, y_i) = -sum_{l != y_i} C(i, l)
        z = -cost[rows, codes].sum()
        expected = -np.sum(cost * h) / z
        row = frame.iloc[t - 1]
        assert row["edge_raw"] == pytest.approx(expected, rel=1e-10)
        assert -1 <= row["edge"] <= 1
    # adding a per-sample constant to every class score of a stage changes nothing
    shift = np.random.RandomState(0).normal(size=(4, len(y), 1))
    shifted = edges(_Contributions(contributions + shift, model), X, y)
    numeric = frame.columns.drop("model")
    np.testing.assert_allclose(shifted[numeric], frame[numeric], rtol=1e-9, atol=1e-12)
    predicted = np.argmax(contributions.sum(axis=0), axis=1)
    assert frame["error_after"].iloc[-1] == pytest.approx(np.mean(predicted != codes))


def test_edges_of_a_resnet(resnet_clf, small):
    X, y = small["multiclass"]
    frame = edges(resnet_clf, X, y)
    assert frame.shape[0] == 3 and frame["edge"].between(-1, 1).all()
    np.testing.assert_allclose(frame["exp_loss_before"].iloc[1:], frame["exp_loss_after"][:-1])


# -- the skip demonstration ---------------------------------------------------------------------
def test_skip_gradient_demo_matches_the_analytic_values():
    frame = skip_gradient_demo(x=0.3, weight=-1.2, target=0.7)
    np.testing.assert_allclose(frame["autograd"], frame["analytic"], rtol=1e-12, atol=1e-14)
    residual = frame[frame["network"] == "residual"].set_index("quantity")["autograd"]
    g = residual["dL/dz_1"]
    assert residual["dL/d(skip input)"] == g == residual["dL/d(branch output)"]
    tanh = np.tanh(0.3)
    assert residual["dL/dz_0"] == pytest.approx(g * (1 - 1.2 * (1 - tanh**2)))
    assert residual["dL/dw"] == pytest.approx(g * tanh)
    with pytest.raises(TypeError, match="weight"):
        skip_gradient_demo(weight="1")


# -- bad input ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "analysis", [functional_alignment, lesion_study, edges], ids=lambda f: f.__name__
)
def test_unfitted_estimator_raises_not_fitted(small, analysis):
    X, y = small["binary"]
    with pytest.raises(NotFittedError):
        analysis(TreeBoostingClassifier(), X, y)


@pytest.mark.parametrize(
    "analysis",
    [functional_alignment, lesion_study, edges, gradient_norms, gradient_by_path_length],
    ids=lambda f: f.__name__,
)
def test_estimator_without_stages_raises_type_error(small, analysis):
    X, y = small["regression"]
    with pytest.raises(TypeError, match="estimator"):
        analysis(LinearRegression().fit(X, y), X, y)


def test_bad_arguments(gbm, small):
    X, y = small["regression"]
    with pytest.raises(ValueError, match="k cannot exceed.*n_stages_=6"):
        lesion_study(gbm, X, y, k=[2, 7])
    with pytest.raises(ValueError, match="k must be"):
        lesion_study(gbm, X, y, k=0)
    with pytest.raises(TypeError, match="k must"):
        lesion_study(gbm, X, y, k=[1.5])
    with pytest.raises(ValueError, match="n_repeats"):
        lesion_study(gbm, X, y, n_repeats=0)
    with pytest.raises(ValueError, match="y has 10 samples"):
        functional_alignment(gbm, X, y[:10])
    with pytest.raises(ValueError, match="sample_weight"):
        functional_alignment(gbm, X, y, sample_weight=-np.ones(len(y)))
    with pytest.raises(TypeError, match="classifier"):
        edges(gbm, X, y)
    with pytest.raises(ValueError, match="n_blocks"):
        path_length_distribution(0)
    with pytest.raises(TypeError, match="n_blocks"):
        path_length_distribution(2.0)


def test_unknown_class_labels_are_named(small):
    X, y = small["binary"]
    model = TreeBoostingClassifier(engine="sklearn", n_stages=2).fit(X, y)
    wrong = y.astype(object)
    wrong[0] = "maybe"
    for analysis in (functional_alignment, edges):
        with pytest.raises(ValueError, match="maybe"):
            analysis(model, X, wrong)


# -- the docstring examples run -----------------------------------------------------------------
@pytest.mark.parametrize(
    "module",
    ["_alignment", "_lesion", "_edges", "_paths", "_gradients", "_demo"],
)
def test_docstring_examples(module):
    mod = importlib.import_module(f"fboost.analysis.{module}")
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_stage_frames_keep_their_dtypes_when_empty():
    """A model with no stage (ResFGB can keep none) gives an empty frame whose columns are still
    numeric, so that it concatenates and averages with the other models' frames."""
    from fboost.analysis._alignment import ALIGNMENT_COLUMNS
    from fboost.analysis._common import stage_frame

    empty = stage_frame([], ALIGNMENT_COLUMNS)
    assert empty.empty and empty["stage"].dtype == np.int64
    numeric = [c for c in ALIGNMENT_COLUMNS if c not in ("stage", "model")]
    assert all(empty[c].dtype == np.float64 for c in numeric)
    row = dict.fromkeys(numeric, 0.5) | {"stage": 1, "model": "m"}
    both = pd.concat([stage_frame([row], ALIGNMENT_COLUMNS), empty], ignore_index=True)
    mean = both.groupby(["model", "stage"]).mean(numeric_only=True)
    assert set(numeric) <= set(mean.columns) and mean["cosine"].iloc[0] == 0.5
