"""SoftBoostingRegressor / SoftBoostingClassifier: the soft GBM's objective, identities, surface."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from fboost import SoftBoostingClassifier, SoftBoostingRegressor
from fboost.losses import MultinomialLogLoss, SquaredError
from fboost.nn._soft import SoftBoostedNets, SoftBoostingTrainer, soft_boosting_objective
from fboost.nn._train import TensorData

TASKS = ["regression", "binary", "multiclass"]
SMALL = {"n_stages": 3, "d_hidden": 8, "max_epochs": 4, "lr": 1e-2, "random_state": 0}


def _estimator(task: str, **params):
    cls = SoftBoostingRegressor if task == "regression" else SoftBoostingClassifier
    return cls(**{**SMALL, **params})


def _raw(est, X) -> np.ndarray:
    if isinstance(est, SoftBoostingRegressor):
        return est.predict(X)[:, None]
    decision = est.decision_function(X)
    return decision[:, None] if decision.ndim == 1 else decision


@pytest.fixture(scope="module", params=TASKS)
def fitted(request, task_data):
    X, y = task_data[request.param]
    return request.param, _estimator(request.param).fit(X, y), X, y


def test_telescoping_and_staged(fitted):
    task, est, X, _ = fitted
    contributions = est.stage_contributions(X)
    assert contributions.shape[0] == est.n_stages_ + 1 == 4
    np.testing.assert_allclose(contributions.sum(axis=0), _raw(est, X), rtol=0, atol=1e-10)
    np.testing.assert_array_equal(est.stage_weights_, np.ones(3))
    staged = list(est.staged_predict(X))
    assert len(staged) == 3
    np.testing.assert_array_equal(staged[-1], est.predict(X))
    partial = np.cumsum(contributions, axis=0)[1]
    first = next(est.staged_decision_function(X)) if task != "regression" else staged[0]
    np.testing.assert_allclose(np.squeeze(partial), first, atol=1e-10)
    # the torch module's own forward pass gives the same raw score (float32)
    with torch.no_grad():
        out = est.module_(torch.as_tensor(est._validate_X(X))).double().numpy()
    if task == "regression":
        out = est.y_mean_ + est.y_scale_ * out
    np.testing.assert_allclose(out, _raw(est, X), rtol=1e-5, atol=1e-4)


def test_drop_stages_removes_learners(fitted):
    _, est, X, _ = fitted
    contributions = est.stage_contributions(X)
    lesioned = est.drop_stages([2])
    assert lesioned.n_stages_ == 2 and est.n_stages_ == 3
    expected = contributions.sum(axis=0) - contributions[2]
    np.testing.assert_allclose(_raw(lesioned, X), expected, atol=1e-10)
    again = pickle.loads(pickle.dumps(lesioned))
    np.testing.assert_array_equal(_raw(again, X), _raw(lesioned, X))
    assert again.model_.kept == [0, 2]


def test_determinism_and_pickling(task_data):
    X, y = task_data["multiclass"]
    a = _estimator("multiclass").fit(X, y)
    b = _estimator("multiclass").fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    c = _estimator("multiclass", random_state=1).fit(X, y)
    assert not np.allclose(a.predict_proba(X), c.predict_proba(X))
    again = pickle.loads(pickle.dumps(a))
    np.testing.assert_array_equal(again.predict_proba(X), a.predict_proba(X))
    assert again.device_ == "cpu"


def test_objective_targets_are_negative_gradients_at_previous_sum():
    torch.manual_seed(0)
    nets = SoftBoostedNets([0.1, -0.1, 0.0], d_in=4, d_hidden=6, n_layers=1, n_learners=3)
    nets.shrinkage = 0.5
    x, y = torch.randn(10, 4), torch.randint(0, 3, (10,))
    outputs = nets.learner_outputs(x)
    expected = torch.zeros(())
    previous = nets.init_raw.expand(10, -1)
    for t in range(3):
        target = torch.nn.functional.one_hot(y, 3) - torch.softmax(previous, dim=1)
        expected = expected + 0.5 * ((outputs[t] - target) ** 2).sum(dim=1).mean()
        previous = previous + 0.5 * outputs[t].detach()
    value = soft_boosting_objective(nets, outputs, MultinomialLogLoss(3), y, None)
    torch.testing.assert_close(value, expected)
    # targets are detached: learner 1's gradient is that of its own term alone
    (g_all,) = torch.autograd.grad(value, [nets.learners[0][0].weight], retain_graph=True)
    own = (
        0.5
        * (
            (
                outputs[0]
                - (
                    torch.nn.functional.one_hot(y, 3)
                    - torch.softmax(nets.init_raw.expand(10, -1), dim=1)
                )
            )
            ** 2
        )
        .sum(dim=1)
        .mean()
    )
    (g_own,) = torch.autograd.grad(own, [nets.learners[0][0].weight])
    torch.testing.assert_close(g_all, g_own)


def test_one_backward_pass_updates_every_learner():
    torch.manual_seed(0)
    nets = SoftBoostedNets([0.0], d_in=3, d_hidden=4, n_layers=2, n_learners=4)
    before = [p.detach().clone() for p in nets.parameters()]
    trainer = SoftBoostingTrainer(
        module=nets,
        loss_fn=lambda raw, y, w: SquaredError().torch_value(y, raw, w),
        optimizer=torch.optim.SGD(nets.parameters(), lr=0.1),
        batch_size=16,
        max_epochs=1,
        loss=SquaredError(),
    )
    batch = TensorData(torch.randn(16, 3), torch.randn(16))
    loss = trainer.train_step(batch)
    for learner in nets.learners:  # every learner moved after one step
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in learner.parameters())
    moved = [not torch.equal(a, b) for a, b in zip(before, nets.parameters(), strict=True)]
    per_learner = len(moved) // 4
    assert all(any(moved[i * per_learner : (i + 1) * per_learner]) for i in range(4))
    with torch.no_grad():  # the step reports the true loss of F, before the update
        assert float(loss) > 0


def test_early_stopping_and_histories(regression_data):
    X, y = regression_data
    est = _estimator("regression", max_epochs=30, n_iter_no_change=2, tol=10.0).fit(X, y)
    assert est.n_epochs_ == 3 and est.best_epoch_ == 1  # tol too large to ever improve
    assert len(est.train_score_) == len(est.validation_score_) == 3
    plain = _estimator("regression", n_iter_no_change=None).fit(X, y)
    assert plain.n_epochs_ == 4 and plain.validation_score_.size == 0
    assert plain.train_score_[-1] < plain.train_score_[0]


def test_learns(regression_data, multiclass_data):
    X, y = regression_data
    reg = _estimator("regression", max_epochs=40, n_iter_no_change=None).fit(X, y)
    assert reg.score(X, y) > 0.8
    X, y = multiclass_data
    clf = _estimator("multiclass", max_epochs=40, n_iter_no_change=None).fit(X, y)
    assert clf.score(X, y) > 0.8


def test_verbose_and_silence(regression_data, capsys):
    X, y = regression_data
    _estimator("regression").fit(X, y)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""
    _estimator("regression", verbose=1).fit(X, y)
    assert "SoftBoostingRegressor" in capsys.readouterr().err


def test_bad_input(regression_data):
    X, y = regression_data
    with pytest.raises(ValueError, match="batch_size"):
        _estimator("regression", batch_size=1).fit(X, y)
    with pytest.raises(ValueError, match="device"):
        _estimator("regression", device="nope").fit(X, y)
    with pytest.raises(ValueError, match="n_layers"):
        _estimator("regression", n_layers=0).fit(X, y)
    with pytest.raises(ValueError, match="learning_rate"):
        _estimator("regression", learning_rate=0.0).fit(X, y)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_surface(regression_data):
    X, y = regression_data
    est = _estimator("regression", device="cuda").fit(X, y)
    assert est.device_.startswith("cuda")
    np.testing.assert_allclose(est.stage_contributions(X).sum(axis=0)[:, 0], est.predict(X))
