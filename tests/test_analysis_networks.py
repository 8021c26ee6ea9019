"""fboost.analysis on networks: gradient norms, gradient by path length, initialisation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone

from fboost import ResNetClassifier, ResNetRegressor, TreeBoostingRegressor
from fboost.analysis import gradient_by_path_length, gradient_norms
from fboost.analysis._network import initialise

TINY_NET = {"d_block": 8, "max_epochs": 3, "batch_size": 32, "n_iter_no_change": None}


@pytest.fixture(scope="module")
def small(regression_data, binary_data, multiclass_data):
    return {
        "regression": (regression_data[0][:120], regression_data[1][:120]),
        "binary": (binary_data[0][:120], binary_data[1][:120]),
        "multiclass": (multiclass_data[0][:120], multiclass_data[1][:120]),
    }


@pytest.fixture(scope="module")
def resnet(small):
    X, y = small["regression"]
    return ResNetRegressor(n_stages=3, random_state=0, **TINY_NET).fit(X, y)


@pytest.fixture(scope="module")
def resnet_clf(small):
    X, y = small["multiclass"]
    return ResNetClassifier(n_stages=3, random_state=0, **TINY_NET).fit(X, y)


# -- gradients ----------------------------------------------------------------------------------
@pytest.mark.parametrize("batch_norm", [True, False])
def test_plain_gradients_vanish_or_explode_at_init_residual_do_not(small, batch_norm):
    X, y = small["regression"]
    ratios = {}
    for skip in (True, False):
        net = ResNetRegressor(n_stages=50, d_block=16, skip=skip, batch_norm=batch_norm)
        frame = gradient_norms(net, X[:64], y[:64])
        assert frame.shape[0] == 51 and not frame["fitted"].any()
        norms = frame["grad_norm"].to_numpy()
        ratios[skip] = (norms[0] / norms[-1], norms[1] / norms[-1])
    assert all(0.1 <= r <= 10 for r in ratios[True]), ratios
    assert all(r < 0.01 or r > 100 for r in ratios[False]), ratios


def test_gradient_norms_of_a_fitted_network(resnet_clf, small):
    from fboost.nn import block_gradient_norms

    X, y = small["multiclass"]
    before = {k: v.clone() for k, v in resnet_clf.module_.state_dict().items()}
    frame = gradient_norms(resnet_clf, X, y)  # train mode on a private copy
    for key, value in resnet_clf.module_.state_dict().items():
        assert torch.equal(value, before[key]), key
    assert frame["fitted"].all() and list(frame["block"].iloc[1:]) == [0, 1, 2]
    assert (frame["param_grad_norm"] > 0).all() and frame["grad_norm_ratio"].iloc[-1] == 1
    # the batch norm is the number the network package's helper computes
    evaluation = gradient_norms(resnet_clf, X, y, train=False)
    x = torch.as_tensor(resnet_clf._validate_X(X))
    codes = torch.as_tensor(np.searchsorted(resnet_clf.classes_, y))
    helper = block_gradient_norms(resnet_clf.module_, x, codes, resnet_clf.loss_, train=False)
    np.testing.assert_allclose(evaluation["grad_norm_batch"], helper, rtol=1e-5)
    lesioned = gradient_norms(resnet_clf.drop_stages([2]), X, y)
    assert list(lesioned["block"].iloc[1:]) == [0, 2]


def test_unfitted_network_is_measured_at_initialisation_and_left_unfitted(small):
    X, y = small["binary"]
    net = ResNetClassifier(n_stages=3, d_block=8, random_state=0)
    first = gradient_norms(net, X, y)
    assert not hasattr(net, "module_")
    pd.testing.assert_frame_equal(first, gradient_norms(net, X, y))  # same seed, same network


def test_initialisation_is_the_network_fit_starts_from(small):
    X, y = small["regression"]
    params = {"n_stages": 2, "d_block": 4, "random_state": 5, "n_iter_no_change": None}
    unfitted = ResNetRegressor(**params)
    # one epoch with a vanishing learning rate leaves the weights where fit started them
    started = ResNetRegressor(**params, max_epochs=1, lr=1e-12, weight_decay=0.0).fit(X, y)
    built = initialise(unfitted, X, y)
    for (name, value), (_, expected) in zip(
        built.module_.named_parameters(), started.module_.named_parameters(), strict=True
    ):
        torch.testing.assert_close(value, expected, rtol=0, atol=1e-9, msg=name)
    assert built.y_mean_ == started.y_mean_ and built.n_stages_ == 2
    telescoped = built.stage_contributions(X).sum(axis=0)[:, 0]
    np.testing.assert_allclose(telescoped, built.predict(X), rtol=1e-4, atol=1e-4)


def test_convolutional_networks(small):
    X, y = small["binary"]
    images = np.random.RandomState(0).normal(size=(len(y), 1, 5, 5))
    net = ResNetClassifier(architecture="cnn", n_stages=3, d_block=4, random_state=0)
    frame = gradient_norms(net, images, y)
    assert frame.shape[0] == 4 and (frame["grad_norm"] > 0).all()
    paths = gradient_by_path_length(net, images, y, n_samples=1)
    assert list(paths["n_sampled"]) == [1, 1, 1, 1]


# -- paths ----------------------------------------------------------------------------------------
def test_gradient_by_path_length(small):
    X, y = small["regression"]
    model = ResNetRegressor(n_stages=4, random_state=0, dropout1=0.0, **TINY_NET).fit(X, y)
    frame = gradient_by_path_length(model, X, y, n_samples=6, train=False)
    assert list(frame["path_length"]) == [0, 1, 2, 3, 4]
    assert list(frame["n_sampled"]) == [1, 4, 6, 4, 1]  # every path once: C(4, k) <= 6
    assert frame["total_fraction"].sum() == pytest.approx(1.0)
    np.testing.assert_allclose(frame["total_grad"], frame["grad_norm"] * frame["n_paths"])
    # the path of length 0 goes through every skip: it hands dL/dz_T unchanged to z_0
    norms = gradient_norms(model, X, y, train=False)
    assert frame["grad_norm"].iloc[0] == pytest.approx(norms["grad_norm"].iloc[-1], rel=1e-6)
    lo, hi = frame.attrs["effective_range"]
    assert frame.loc[frame["effective"], "total_fraction"].sum() >= 0.9 - 1e-9
    assert list(frame.loc[frame["effective"], "path_length"]) == list(range(lo, hi + 1))
    some = gradient_by_path_length(model, X, y, path_lengths=[1, 3], n_samples=2)
    assert list(some["path_length"]) == [1, 3] and list(some["n_sampled"]) == [2, 2]


@pytest.mark.parametrize("analysis", [gradient_norms, gradient_by_path_length])
def test_network_analyses_reject_trees(small, analysis):
    X, y = small["regression"]
    gbm = TreeBoostingRegressor(n_stages=2).fit(X, y)
    with pytest.raises(TypeError, match="feature space"):
        analysis(gbm, X, y)


def test_bad_arguments(resnet, small):
    X, y = small["regression"]
    with pytest.raises(ValueError, match="path_lengths cannot exceed"):
        gradient_by_path_length(resnet, X, y, path_lengths=[4])
    with pytest.raises(ValueError, match="coverage"):
        gradient_by_path_length(resnet, X, y, coverage=0)
    with pytest.raises(TypeError, match="train"):
        gradient_norms(resnet, X, y, train="yes")
    plain = ResNetRegressor(n_stages=2, d_block=4, skip=False)
    with pytest.raises(ValueError, match="skip=True"):
        gradient_by_path_length(plain, X, y)


def test_clone_is_untouched_by_initialisation(small):
    X, y = small["regression"]
    net = ResNetRegressor(n_stages=2, d_block=4, random_state=3)
    gradient_by_path_length(net, X, y, n_samples=1)
    assert clone(net).get_params() == net.get_params() and not hasattr(net, "model_")
