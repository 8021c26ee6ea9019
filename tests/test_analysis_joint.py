"""reorder_study, lesion_study(recalibrate=True) and the joint-training figures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.stats import kendalltau
from sklearn.datasets import make_classification, make_regression

from fboost import ResNetClassifier, ResNetRegressor, TreeBoostingRegressor
from fboost.analysis import lesion_study, reorder_study
from fboost.plotting import plot_reorder_study, plot_stage_weights


@pytest.fixture(scope="module")
def regression():
    return make_regression(n_samples=200, n_features=3, noise=5.0, random_state=0)


@pytest.fixture(scope="module")
def trained(regression):
    X, y = regression
    return ResNetRegressor(
        n_stages=4, d_block=8, max_epochs=5, lr=1e-2, n_iter_no_change=None, random_state=0
    ).fit(X, y)


def _disjoint_network(X, y):
    """A ResNet whose block t reads and writes coordinate t of z only: blocks commute."""
    est = ResNetRegressor(n_stages=3, d_block=3, d_hidden=4, random_state=0).initialize(X, y)
    with torch.no_grad():
        for t, block in enumerate(est.module_.blocks):
            mask_in = torch.zeros_like(block.linear1.weight)
            mask_in[:, t] = 1.0
            block.linear1.weight.mul_(mask_in)
            mask_out = torch.zeros_like(block.linear2.weight)
            mask_out[t] = 1.0
            block.linear2.weight.mul_(mask_out).add_(mask_out)  # nonzero: a real branch
            block.linear2.bias.zero_()[t] = 0.5
    return est


def test_reorder_any_order_is_the_same_on_disjoint_blocks(regression):
    X, y = regression
    est = _disjoint_network(X, y)
    assert np.abs(est.stage_contributions(X)[1:]).max() > 0.1  # the blocks do something
    frame = reorder_study(est, X, y, k=[0, 1, 2, 3], n_repeats=5, random_state=0)
    assert frame.groupby("k").size().to_dict() == {0: 1, 1: 5, 2: 5, 3: 5}
    assert (frame["kendall_tau"] < 1).any()  # the orders did change
    np.testing.assert_array_equal(frame["raw_change"], 0.0)
    np.testing.assert_array_equal(frame["score"], est.score(X, y))


def test_reorder_study_rows(trained, regression):
    X, y = regression
    frame = reorder_study(trained, X, y, k=[0, 2, 8], n_repeats=4, random_state=0)
    intact = frame[frame["k"] == 0].iloc[0]
    assert intact["order"] == (1, 2, 3, 4) and intact["score"] == trained.score(X, y)
    for _, row in frame.iterrows():
        assert sorted(row["order"]) == [1, 2, 3, 4]
        reordered = trained.reorder_stages(list(row["order"]))
        assert row["score"] == reordered.score(X, y)
        tau = kendalltau([1, 2, 3, 4], row["order"]).statistic
        assert row["kendall_tau"] == pytest.approx(tau)
        if row["order"] != (1, 2, 3, 4):
            assert row["raw_change"] > 0  # order matters in a trained net
    assert (frame["model"] == "ResNetRegressor").all() and not frame["recalibrated"].any()
    again = reorder_study(trained, X, y, k=[0, 2, 8], n_repeats=4, random_state=0)
    pd.testing.assert_frame_equal(frame, again)
    recalibrated = reorder_study(trained, X, y, k=[0, 1], n_repeats=2, recalibrate=True)
    assert recalibrated["recalibrated"].all()
    expected = trained.recalibrate_batch_norm(X).score(X, y)
    assert recalibrated.loc[recalibrated["k"] == 0, "score"].iloc[0] == pytest.approx(expected)
    figure = plot_reorder_study(pd.concat([frame, recalibrated]), hue="recalibrated")
    assert len(figure.axes) == 2


def test_reorder_study_bad_input(trained, regression):
    X, y = regression
    gbm = TreeBoostingRegressor(engine="sklearn", n_stages=3).fit(X, y)
    with pytest.raises(TypeError, match="reorder_stages"):
        reorder_study(gbm, X, y)
    with pytest.raises(ValueError, match="k"):
        reorder_study(trained, X, y, k=[-1])
    with pytest.raises(ValueError, match="samples"):
        reorder_study(trained, X, y[:10])


def test_lesion_study_recalibrate(regression):
    X, y = make_classification(n_samples=200, n_features=5, n_informative=3, random_state=0)
    est = ResNetClassifier(n_stages=3, d_block=8, max_epochs=4, random_state=0).fit(X, y)
    frame = lesion_study(est, X, y, k=[2], n_repeats=2, random_state=0, recalibrate=True)
    assert frame["recalibrated"].all()
    intact = frame[frame["kind"] == "none"].iloc[0]
    assert intact["score"] == est.recalibrate_batch_norm(X).score(X, y)
    single = frame[frame["kind"] == "single"].set_index("stage")
    for t in (1, 2, 3):
        assert single.loc[t, "score"] == est.drop_stages([t]).recalibrate_batch_norm(X).score(X, y)
    plain = lesion_study(est, X, y, k=[2], n_repeats=2, random_state=0)
    assert not plain["recalibrated"].any()
    Xr, yr = regression
    gbm = TreeBoostingRegressor(engine="sklearn", n_stages=3).fit(Xr, yr)
    with pytest.raises(TypeError, match="recalibrate"):
        lesion_study(gbm, Xr, yr, recalibrate=True)


def test_plot_stage_weights():
    frame = pd.DataFrame(
        {
            "depth": [2, 2, 4, 4, 4, 4, 2, 4, 2, 4],
            "stage": [1, 2, 1, 2, 3, 4, None, None, None, None],
            "alpha": [0.5, 0.2, 0.4, 0.3, 0.2, 0.1, None, None, None, None],
            "variant": [None] * 6 + ["plain", "plain", "residual", "residual"],
            "score": [None] * 6 + [0.8, 0.5, 0.9, 0.92],
        }
    )
    figure = plot_stage_weights(frame)
    left, right = figure.axes
    assert len(left.get_lines()) == 2  # one curve per depth
    np.testing.assert_allclose(left.get_lines()[1].get_xdata(), [0.25, 0.5, 0.75, 1.0])
    assert {t.get_text() for t in right.get_legend().get_texts()} == {"plain", "residual"}
