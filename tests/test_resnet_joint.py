"""ResNet learned stage weights (ReZero), stochastic depth, reordering, BatchNorm recalibration."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from fboost import ResNetClassifier, ResNetRegressor
from fboost.nn import TabularResNet

SMALL = {"n_stages": 3, "d_block": 8, "max_epochs": 4, "batch_size": 64, "random_state": 0}


def _estimator(task: str, **params):
    cls = ResNetRegressor if task == "regression" else ResNetClassifier
    return cls(**{**SMALL, **params})


def _raw(est, X) -> np.ndarray:
    if isinstance(est, ResNetRegressor):
        return est.predict(X)[:, None]
    decision = est.decision_function(X)
    return decision[:, None] if decision.ndim == 1 else decision


def _forward(est, X, order=None) -> np.ndarray:
    """Hand-written forward pass z_t = z_{t-1} + alpha_t p_t f_t(z_{t-1}), blocks in ``order``."""
    net = est.module_.eval()
    order = range(1, len(net.blocks) + 1) if order is None else order
    with torch.no_grad():
        z = net.stem(torch.as_tensor(est._validate_X(X)))
        for t in order:
            alpha = 1.0 if net.alphas is None else float(net.alphas[t - 1])
            z = z + alpha * net.survival[t - 1] * net.blocks[t - 1](z)
        out = net.head(z).double().numpy()
    if isinstance(est, ResNetRegressor):
        return est.y_mean_ + est.y_scale_ * out
    return out


@pytest.mark.parametrize("task", ["regression", "multiclass"])
def test_learned_weights_start_at_F0(task, task_data):
    X, y = task_data[task]
    est = _estimator(task, stage_weights="learned").initialize(X, y)
    contributions = est.stage_contributions(X)
    np.testing.assert_array_equal(est.stage_weights_, np.zeros(3))
    np.testing.assert_array_equal(contributions[1:], 0.0)  # the network starts as F_0
    np.testing.assert_allclose(_raw(est, X), contributions[0], atol=1e-5)


@pytest.mark.parametrize("task", ["regression", "binary", "multiclass"])
def test_learned_weights_telescope_after_fit(task, task_data):
    X, y = task_data[task]
    est = _estimator(task, stage_weights="learned", lr=1e-2).fit(X, y)
    alphas = est.module_.alphas.detach().double().numpy()
    np.testing.assert_array_equal(est.stage_weights_, alphas)
    assert np.all(np.abs(alphas) > 0)  # trained away from the ReZero init
    contributions = est.stage_contributions(X)
    np.testing.assert_allclose(contributions.sum(axis=0), _raw(est, X), atol=1e-4)
    np.testing.assert_allclose(_forward(est, X), _raw(est, X), atol=1e-4)
    staged = list(est.staged_predict(X))
    if task == "regression":
        np.testing.assert_allclose(staged[-1], est.predict(X), rtol=1e-5, atol=1e-4)
    lesioned = est.drop_stages([2])
    np.testing.assert_allclose(_raw(lesioned, X), _forward(est, X, [1, 3]), atol=1e-4)
    np.testing.assert_array_equal(lesioned.stage_weights_, alphas[[0, 2]])
    again = pickle.loads(pickle.dumps(lesioned))
    np.testing.assert_array_equal(_raw(again, X), _raw(lesioned, X))
    np.testing.assert_array_equal(again.stage_weights_, lesioned.stage_weights_)


def test_plain_network_rejects_learned_weights_and_stochastic_depth(regression_data):
    X, y = regression_data
    for params in ({"stage_weights": "learned"}, {"stochastic_depth": 0.5}):
        with pytest.raises(ValueError, match="skip=True"):
            _estimator("regression", skip=False, **params).fit(X, y)
    with pytest.raises(ValueError, match="stage_weights"):
        _estimator("regression", stage_weights="rezero").fit(X, y)
    with pytest.raises(ValueError, match="stochastic_depth"):
        _estimator("regression", stochastic_depth=1.0).fit(X, y)
    with pytest.raises(ValueError, match="skip=True"):
        TabularResNet(d_in=3, d_out=1, d_block=4, n_blocks=2, skip=False, stochastic_depth=0.5)


def test_stochastic_depth_survival_and_eval_scaling(regression_data):
    X, y = regression_data
    est = _estimator("regression", n_stages=4, stochastic_depth=0.5).fit(X, y)
    expected = 1.0 - 0.5 * np.arange(1, 5) / 4  # p_t = 1 - t / T * p_L
    np.testing.assert_allclose(est.module_.survival, expected)
    np.testing.assert_allclose(est.stage_weights_, expected)
    np.testing.assert_allclose(_forward(est, X), _raw(est, X), atol=1e-4)
    np.testing.assert_allclose(est.stage_contributions(X).sum(axis=0), _raw(est, X), atol=1e-4)
    same = _estimator("regression", n_stages=4, stochastic_depth=0.5).fit(X, y)
    np.testing.assert_array_equal(same.predict(X), est.predict(X))
    other = _estimator("regression", n_stages=4).fit(X, y)
    assert not np.allclose(other.predict(X), est.predict(X))


def test_stochastic_depth_drops_whole_blocks_in_train_mode():
    torch.manual_seed(0)
    net = TabularResNet(
        d_in=3, d_out=1, d_block=4, n_blocks=1, batch_norm=False, stochastic_depth=0.5
    )
    x = torch.randn(6, 3)
    with torch.no_grad():
        z0 = net.stem(x)
        without = net.head(z0)
        kept = net.head(z0 + net.blocks[0](z0))  # unscaled in training
        net.train()
        outputs = [net(x) for _ in range(40)]
        net.eval()
        scaled = net(x)
    dropped = [bool(torch.allclose(o, without)) for o in outputs]
    assert all(d or torch.allclose(o, kept) for d, o in zip(dropped, outputs, strict=True))
    assert 0 < sum(dropped) < len(outputs)  # p_1 = 1 - 0.5: both outcomes occur
    assert torch.allclose(scaled, net.head(z0 + 0.5 * net.blocks[0](z0)), atol=1e-6)


def test_reorder_stages(task_data):
    X, y = task_data["multiclass"]
    est = _estimator("multiclass", stage_weights="learned", lr=1e-2).fit(X, y)
    np.testing.assert_array_equal(_raw(est.reorder_stages([1, 2, 3]), X), _raw(est, X))
    reordered = est.reorder_stages([3, 1, 2])
    np.testing.assert_allclose(_raw(reordered, X), _forward(est, X, [3, 1, 2]), atol=1e-4)
    np.testing.assert_allclose(reordered.stage_weights_, est.stage_weights_[[2, 0, 1]])
    assert reordered.model_.kept_blocks == [2, 0, 1]
    again = pickle.loads(pickle.dumps(reordered))
    np.testing.assert_array_equal(_raw(again, X), _raw(reordered, X))
    for bad in ([1, 2], [1, 1, 2], [0, 1, 2]):
        with pytest.raises(ValueError, match="permutation"):
            est.reorder_stages(bad)


def test_recalibrate_batch_norm(regression_data):
    X, y = regression_data
    est = _estimator("regression", batch_size=512, n_iter_no_change=None).fit(X, y)
    before = est.predict(X)
    recalibrated = est.drop_stages([1]).recalibrate_batch_norm(X)
    np.testing.assert_array_equal(est.predict(X), before)  # self untouched
    assert recalibrated.module_ is not est.module_
    # the first kept block (2) normalises z_0: its statistics are now those of stem(X)
    with torch.no_grad():
        z0 = recalibrated.module_.stem(torch.as_tensor(est._validate_X(X)))
    norm = recalibrated.module_.blocks[1].normalization
    np.testing.assert_allclose(norm.running_mean.numpy(), z0.mean(0).numpy(), atol=1e-5)
    np.testing.assert_allclose(norm.running_var.numpy(), z0.var(0).numpy(), rtol=1e-4)
    contributions = recalibrated.stage_contributions(X)
    np.testing.assert_allclose(contributions.sum(axis=0)[:, 0], recalibrated.predict(X), atol=1e-4)
    with pytest.raises(ValueError, match="batch_norm"):
        _estimator("regression", batch_norm=False).fit(X, y).recalibrate_batch_norm(X)
