"""fboost.analysis.feature_alignment and the float-noise rule shared with functional_alignment."""

from __future__ import annotations

import copy
import doctest
import importlib

import numpy as np
import pytest
import torch
from torch import nn

from fboost import (
    BoostResNetClassifier,
    NeuralBoostingClassifier,
    ResNetClassifier,
    ResNetRegressor,
    TreeBoostingRegressor,
)
from fboost.analysis import feature_alignment, functional_alignment
from fboost.resfgb import ResFGBClassifier

NET = {"d_block": 8, "max_epochs": 3, "batch_size": 32, "n_iter_no_change": None}


@pytest.fixture(scope="module")
def small(regression_data, multiclass_data):
    return {
        "regression": (regression_data[0][:120], regression_data[1][:120]),
        "multiclass": (multiclass_data[0][:120], multiclass_data[1][:120]),
    }


@pytest.fixture(scope="module")
def resnet(small):
    return ResNetRegressor(n_stages=3, random_state=0, **NET).fit(*small["regression"])


class _NegativeGradient(nn.Module):
    """``f(z) = -c * dl/dz`` for the half squared error against y = 0 through the trunk's head."""

    def __init__(self, head: nn.Module, offset: float, scale: float, c: float) -> None:
        super().__init__()
        self.head, self.offset, self.scale, self.c = head, offset, scale, c

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        d = z.shape[1]
        w_eff = self.head.linear_part(torch.eye(d, dtype=z.dtype))  # (d, 1): d head / dz
        raw = self.offset + self.scale * self.head(z)  # the model's score; dl/draw = raw - 0
        return -self.c * raw * self.scale @ w_eff.T


class _Scaled(nn.Module):
    def __init__(self, block: nn.Module, factor: float) -> None:
        super().__init__()
        self.block, self.factor = block, factor

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.factor * self.block(z)


def _with_block(model, index, block):
    twin = copy.deepcopy(model)
    twin.module_.blocks[index] = block(twin)
    return twin


def test_one_for_a_block_that_is_the_exact_negative_gradient(resnet, small):
    X, _ = small["regression"]
    last = len(resnet.module_.blocks) - 1
    twin = _with_block(
        resnet,
        last,
        lambda m: _NegativeGradient(m.module_.head, m.y_mean_, m.y_scale_, c=1e-3),
    )
    frame = feature_alignment(twin, X, np.zeros(len(X)))
    assert frame["cosine"].iloc[-1] == pytest.approx(1.0, abs=1e-6)
    assert frame["first_order_decrease"].iloc[-1] > 0


def test_nan_for_a_zero_block_and_for_float_noise(resnet, small):
    X, y = small["regression"]
    zero = _with_block(resnet, 1, lambda m: _Scaled(m.module_.blocks[1], 0.0))
    frame = feature_alignment(zero, X, y)
    assert np.isnan(frame["cosine"].iloc[1])
    assert frame["cosine"].drop(index=1).notna().all()
    # a block of float-noise size (1e-9 of a real one) is NaN too, in both measures
    noise = _with_block(resnet, 1, lambda m: _Scaled(m.module_.blocks[1], 1e-9))
    assert np.isnan(feature_alignment(noise, X, y)["cosine"].iloc[1])
    functional = functional_alignment(noise, X, y)["cosine"]
    assert np.isnan(functional.iloc[1]) and functional.drop(index=1).notna().all()
    assert functional_alignment(resnet, X, y)["cosine"].notna().all()


def test_gradient_runs_through_the_later_blocks(resnet, small):
    """``first_order_decrease`` is the derivative of the loss in the size of block 1's update,
    with blocks 2 and 3 and the head downstream (a finite difference from the lesioned model)."""
    X, y = small["regression"]
    frame = feature_alignment(resnet, X, y)
    eps = 1e-2
    lesioned = resnet.drop_stages([1])

    def loss(model):
        return resnet.loss_.value(y, model.predict(X).reshape(-1, 1))

    scaled = _with_block(resnet, 0, lambda m: _Scaled(m.module_.blocks[0], eps))
    derivative = (loss(lesioned) - loss(scaled)) / eps
    assert derivative == pytest.approx(frame["first_order_decrease"].iloc[0], rel=0.05)


@pytest.mark.parametrize(
    "make",
    [
        lambda: ResNetClassifier(n_stages=2, random_state=0, **NET),
        lambda: ResNetClassifier(n_stages=2, skip=False, random_state=0, **NET),
        lambda: BoostResNetClassifier(
            n_stages=2, d_block=8, epochs_per_stage=2, gamma_threshold=-1.0, random_state=0
        ),  # every block kept: the test is of the alignment, not of the weak-learning condition
        lambda: ResFGBClassifier(
            n_stages=2, hidden=(8,), epochs_per_stage=3, n_iter_no_change=None, random_state=0
        ),
        lambda: NeuralBoostingClassifier(n_stages=3, random_state=0),
    ],
    ids=["resnet", "plain", "boostresnet", "resfgb", "neural_boosting"],
)
def test_every_feature_space_model(small, make):
    X, y = small["multiclass"]
    model = make().fit(X, y)
    frame = feature_alignment(model, X, y)
    assert list(frame["stage"]) == list(range(1, model.n_stages_ + 1))
    cosines = frame["cosine"].to_numpy()
    if isinstance(model, NeuralBoostingClassifier):  # stage 1 reads no carried features
        assert np.isnan(cosines[0])
        cosines = cosines[1:]
    assert np.all((cosines >= -1) & (cosines <= 1))
    weighted = feature_alignment(model, X, y, sample_weight=np.full(len(y), 3.0))
    np.testing.assert_allclose(weighted["cosine"], frame["cosine"], rtol=1e-6)


def test_resfgb_step_against_the_head_it_was_built_from(small):
    """With the head that gave its gradients downstream, a ResFGB step decreases the loss at the
    first order by exactly eta ||iota(Z)^T G||^2 / n^2 (K is positive semi-definite)."""
    X, y = small["multiclass"]
    model = ResFGBClassifier(
        n_stages=1, hidden=(16,), epochs_per_stage=5, n_iter_no_change=None, random_state=0
    ).fit(X, y)
    twin = copy.deepcopy(model)
    W, b = model.stage_heads_[0]
    with torch.no_grad():
        twin.module_.head.linear.weight.copy_(torch.as_tensor(W))
        twin.module_.head.linear.bias.copy_(torch.as_tensor(b))
    frame = feature_alignment(twin, X, y)
    z = model.stage_features(X)[0]
    G = model.loss_.gradient(y, z @ W.T + b) @ W
    with torch.no_grad():
        iota = model.module_.blocks[0].embedding(torch.as_tensor(z)).numpy()
    expected = model.learning_rate * np.sum((iota.T @ G) ** 2) / len(X) ** 2
    assert frame["first_order_decrease"].iloc[0] == pytest.approx(expected, rel=1e-6)
    assert frame["cosine"].iloc[0] > 0


def test_a_model_without_a_feature_space_is_a_type_error(small):
    X, y = small["regression"]
    gbm = TreeBoostingRegressor(engine="sklearn", n_stages=2).fit(X, y)
    with pytest.raises(TypeError, match="feature space"):
        feature_alignment(gbm, X, y)


def test_docstring_example():
    mod = importlib.import_module("fboost.analysis._feature_alignment")
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
