"""NeuralBoostingRegressor and NeuralBoostingClassifier (GrowNet): identities, fitting, errors."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits, make_classification, make_regression
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from fboost._training import split_validation
from fboost.losses import get_loss
from fboost.neural_boosting import (
    MIN_HESSIAN,
    NeuralBoostingClassifier,
    NeuralBoostingRegressor,
    newton_targets,
)
from fboost.nn._weak import WeakNet

TASKS = ["regression", "binary", "multiclass"]
#: tiny and fast; the identities hold for any weights
SMALL = {
    "n_stages": 4,
    "d_hidden": 8,
    "epochs_per_stage": 2,
    "batch_size": 64,
    "lr": 1e-2,
    "random_state": 0,
}


def _estimator(task: str, **params):
    cls = NeuralBoostingRegressor if task == "regression" else NeuralBoostingClassifier
    return cls(**{**SMALL, **params})


def _raw(est, X) -> np.ndarray:
    """The fitted estimator's raw score, ``(n_samples, n_outputs)``."""
    if isinstance(est, NeuralBoostingRegressor):
        return est.predict(X)[:, None]
    decision = est.decision_function(X)
    return decision[:, None] if decision.ndim == 1 else decision


def _module_output(est, X) -> np.ndarray:
    """The torch module's own forward pass (all nets chained), in the user's units."""
    with torch.no_grad():
        out = est.module_.eval()(torch.as_tensor(est._validate_X(X))).double().numpy()
    if isinstance(est, NeuralBoostingRegressor):
        return est.y_mean_ + est.y_scale_ * out
    return out


def _codes(est, y) -> np.ndarray:
    return y if isinstance(est, NeuralBoostingRegressor) else np.searchsorted(est.classes_, y)


@pytest.fixture(scope="module", params=[(t, c) for t in TASKS for c in (0, 1)])
def fitted(request, task_data):
    task, corrective = request.param
    X, y = task_data[task]
    return _estimator(task, corrective_epochs=corrective).fit(X, y), X, y


# -- the identities -------------------------------------------------------------------------------
def test_contributions_sum_to_the_network_output(fitted):
    est, X, _ = fitted
    contributions = est.stage_contributions(X)
    assert contributions.shape == (est.n_stages_ + 1, len(X), est.loss_.n_outputs)
    assert contributions.dtype == np.float64
    np.testing.assert_allclose(contributions.sum(axis=0), _raw(est, X), rtol=1e-12, atol=1e-12)
    network = _module_output(est, X)
    atol = 1e-5 * max(1.0, float(np.abs(network).max()))
    np.testing.assert_allclose(contributions.sum(axis=0), network, rtol=1e-5, atol=atol)
    np.testing.assert_array_equal(est.stage_weights_, est.module_.weights())
    assert est.stage_weights_.shape == (4,) and np.all(est.stage_weights_ != 0)


def test_staged_output_at_T_equals_predict(fitted):
    est, X, _ = fitted
    staged = list(est.staged_predict(X))
    assert len(staged) == est.n_stages_ == 4
    np.testing.assert_array_equal(staged[-1], est.predict(X))
    if isinstance(est, NeuralBoostingRegressor):
        truncated = [est.drop_stages(range(t + 1, 5)).predict(X) for t in (1, 2, 3)]
        np.testing.assert_allclose(staged[:3], truncated, rtol=1e-12)
        return
    decisions = list(est.staged_decision_function(X))
    np.testing.assert_allclose(decisions[-1], est.decision_function(X), rtol=1e-12, atol=1e-12)
    truncated = [est.drop_stages(range(t + 1, 5)).decision_function(X) for t in (1, 2, 3)]
    np.testing.assert_allclose(decisions[:3], truncated, rtol=1e-12, atol=1e-12)
    probas = list(est.staged_predict_proba(X))
    np.testing.assert_allclose(probas[-1], est.predict_proba(X), rtol=1e-12)
    np.testing.assert_allclose(probas[-1].sum(axis=1), 1.0)


def test_drop_stages_removes_exactly_those_contributions(fitted):
    est, X, _ = fitted
    full = est.stage_contributions(X)
    for dropped in ([1], [2, 3], [4], [1, 2, 3, 4]):
        lesioned = est.drop_stages(dropped)
        assert lesioned.n_stages_ == 4 - len(dropped)
        kept = np.delete(full, dropped, axis=0)  # later stages still see the dropped features
        np.testing.assert_array_equal(lesioned.stage_contributions(X), kept)
        np.testing.assert_allclose(_raw(lesioned, X), kept.sum(axis=0), rtol=1e-12, atol=1e-12)
        np.testing.assert_array_equal(
            lesioned.stage_weights_, np.delete(est.stage_weights_, np.array(dropped) - 1)
        )
    np.testing.assert_array_equal(est.stage_contributions(X), full)  # the original is untouched
    with pytest.raises(ValueError, match="stages"):
        est.drop_stages([5])


def test_train_score_is_the_loss_of_the_staged_predictions(fitted):
    est, X, y = fitted
    codes = _codes(est, y)
    staged = np.cumsum(est.stage_contributions(X), axis=0)[1:]
    losses = [est.loss_.value(codes, raw) for raw in staged]
    if est.corrective_epochs == 0:  # stages are frozen once made: every partial sum is kept
        np.testing.assert_allclose(est.train_score_, losses, rtol=1e-5)
    else:  # later corrective steps changed the earlier stages: only the last score stays
        assert est.train_score_[-1] == pytest.approx(losses[-1], rel=1e-5)
    assert est.validation_score_.shape == (0,)


@pytest.mark.parametrize("task", TASKS)
def test_training_loss_never_increases_when_stagewise(task, task_data):
    X, y = task_data[task]
    est = _estimator(task, n_stages=8, corrective_epochs=0).fit(X, y)
    assert np.all(np.diff(est.train_score_) <= 0)
    assert est.train_score_[-1] < 0.8 * est.train_score_[0]


def test_boost_rate_is_the_line_search_step(regression_data):
    X, y = regression_data
    est = _estimator("regression", corrective_epochs=0).fit(X, y)
    contributions = est.stage_contributions(X)[:, :, 0]
    for t in range(1, est.n_stages_ + 1):
        h = contributions[t] / est.stage_weights_[t - 1]
        residual = y - contributions[:t].sum(axis=0)
        assert est.stage_weights_[t - 1] == pytest.approx(residual @ h / (h @ h), rel=1e-5)
    shrunk = _estimator("regression", corrective_epochs=0, learning_rate=0.5).fit(X, y)
    first = shrunk.stage_contributions(X)[:2, :, 0]
    h = first[1] / shrunk.stage_weights_[0]
    assert shrunk.stage_weights_[0] == pytest.approx(0.5 * ((y - first[0]) @ h) / (h @ h))


def test_newton_targets():
    rng = np.random.RandomState(0)
    raw, w = rng.normal(size=(50, 1)), rng.uniform(0.5, 2.0, size=50)
    y = rng.normal(size=50)
    target, weight = newton_targets(get_loss("regression"), y, raw, w)
    np.testing.assert_allclose(target[:, 0], y - raw[:, 0])
    np.testing.assert_allclose(weight[:, 0], w)
    codes = rng.randint(3, size=50)
    loss = get_loss("classification", n_classes=3)
    raw3 = rng.normal(size=(50, 3))
    raw3[0] = [60.0, -60.0, 0.0]  # a vanishing hessian is clipped
    target, weight = newton_targets(loss, codes, raw3, w)
    g, h = loss.gradient(codes, raw3), loss.hessian(codes, raw3)
    clipped = np.maximum(h, MIN_HESSIAN)
    np.testing.assert_allclose(target, -g / clipped)
    np.testing.assert_allclose(weight, w[:, None] * clipped)
    assert np.all(np.isfinite(target)) and weight[0].min() >= MIN_HESSIAN * w[0]


def test_frozen_stages_are_never_run_while_a_stage_trains(regression_data, monkeypatch):
    """Stagewise, every net runs the same number of forward passes, however late it comes."""
    X, y = regression_data
    calls: dict[int, int] = {}
    original = WeakNet.forward_inputs

    def counting(self, u):
        calls[id(self)] = calls.get(id(self), 0) + 1
        return original(self, u)

    monkeypatch.setattr(WeakNet, "forward_inputs", counting)
    est = _estimator("regression", n_stages=6, corrective_epochs=0, n_iter_no_change=10)
    est.fit(X, y)
    counts = [calls[id(net)] for net in est.module_.nets]
    assert len(set(counts)) == 1, counts  # epochs x batches + the train and validation caches


# -- fitting behaviour ----------------------------------------------------------------------------
@pytest.mark.parametrize("task", TASKS)
def test_same_random_state_same_predictions(task, task_data):
    X, y = task_data[task]
    first = _estimator(task).fit(X, y)
    second = _estimator(task).fit(X, y)
    np.testing.assert_array_equal(_raw(first, X), _raw(second, X))
    np.testing.assert_array_equal(first.train_score_, second.train_score_)
    np.testing.assert_array_equal(first.stage_weights_, second.stage_weights_)
    other = _estimator(task, random_state=1).fit(X, y)
    assert not np.array_equal(_raw(first, X), _raw(other, X))


def test_fit_leaves_torch_global_rng_alone(regression_data):
    X, y = regression_data
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    _estimator("regression").fit(X, y)
    torch.testing.assert_close(torch.rand(3), expected)


def test_pickle_round_trip(fitted):
    est, X, _ = fitted
    for model in (est, est.drop_stages([2])):
        loaded = pickle.loads(pickle.dumps(model))
        np.testing.assert_array_equal(loaded.stage_contributions(X), model.stage_contributions(X))
        np.testing.assert_array_equal(_raw(loaded, X), _raw(model, X))
        np.testing.assert_array_equal(loaded.stage_weights_, model.stage_weights_)
        assert loaded.device_ == "cpu"
    state = est.__getstate__()
    assert "module_" not in state and "model_" not in state
    assert isinstance(state["_module_state"]["state_dict"], bytes)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the fallback without CUDA")
def test_pickle_from_a_cuda_machine_loads_on_cpu(regression_data):
    X, y = regression_data
    est = _estimator("regression").fit(X, y)
    est.device_ = "cuda:0"  # as if trained on a GPU: the state dict is stored on CPU anyway
    loaded = pickle.loads(pickle.dumps(est))
    assert loaded.device_ == "cpu"
    np.testing.assert_array_equal(loaded.predict(X), est.predict(X))


def test_clone_refits_identically(binary_data):
    X, y = binary_data
    est = _estimator("binary").fit(X, y)
    twin = clone(est)
    assert not hasattr(twin, "module_")
    assert twin.get_params() == est.get_params()
    np.testing.assert_array_equal(twin.fit(X, y).predict_proba(X), est.predict_proba(X))


def test_grid_search_and_pipeline(multiclass_data):
    X, y = multiclass_data
    search = GridSearchCV(
        make_pipeline(StandardScaler(), _estimator("multiclass", n_stages=2)),
        {"neuralboostingclassifier__corrective_epochs": [0, 1]},
        cv=2,
    ).fit(X, y)
    assert search.best_score_ > 0.5
    assert search.predict(X).shape == (len(X),)


@pytest.mark.parametrize("corrective", [0, 1])
def test_early_stopping_truncates_to_the_best_stage(corrective, regression_data):
    X, y = regression_data
    rng = np.random.RandomState(0)
    y_noisy = y + 3 * y.std() * rng.normal(size=len(y))  # overfits after a few stages
    params = {"n_stages": 30, "n_iter_no_change": 3, "tol": 0.0, "corrective_epochs": corrective}
    est = _estimator("regression", **params).fit(X, y_noisy)
    n_trained = len(est.validation_score_)
    assert n_trained < 30
    best = int(np.argmin(est.validation_score_))
    assert est.n_stages_ == best + 1 == n_trained - 3
    assert est.train_score_.shape == (est.n_stages_,)
    # the kept model is the one validated at its best stage (later corrective steps undone)
    _, X_val, _, y_val, _, _ = split_validation(
        X, y_noisy, np.ones(len(y)), fraction=0.1, random_state=0, stratify=False
    )
    loss = est.loss_.value(y_val, _raw(est, X_val))
    assert loss == pytest.approx(est.validation_score_[best], rel=1e-5)


def test_targets_and_inputs_are_scaled_inside(regression_data):
    X, y = regression_data
    est = _estimator("regression").fit(X, y)
    scaled = _estimator("regression").fit(X, 1000.0 * y + 7.0)
    np.testing.assert_allclose(scaled.predict(X), 1000.0 * est.predict(X) + 7.0, rtol=1e-6)
    np.testing.assert_allclose(scaled.train_score_, 1e6 * est.train_score_, rtol=1e-5)
    np.testing.assert_allclose(scaled.stage_weights_, est.stage_weights_, rtol=1e-5)
    contributions = scaled.stage_contributions(X)
    np.testing.assert_allclose(contributions.sum(axis=0)[:, 0], scaled.predict(X), rtol=1e-12)
    shifted = _estimator("regression").fit(X * 50.0 - 3.0, y)
    np.testing.assert_allclose(
        shifted.predict(X * 50.0 - 3.0), est.predict(X), rtol=1e-4, atol=1e-3 * y.std()
    )


def test_sample_weight_uniform_equals_none_and_zero_rows_are_dropped(binary_data):
    X, y = binary_data
    plain = _estimator("binary").fit(X, y)
    weighted = _estimator("binary").fit(X, y, sample_weight=np.full(len(y), 3.0))
    # the same fit up to float rounding (Newton weights 3 h instead of h, normalised per batch)
    np.testing.assert_allclose(weighted.decision_function(X), plain.decision_function(X), atol=1e-4)
    ones = _estimator("binary").fit(X, y, sample_weight=np.ones(len(y)))
    np.testing.assert_array_equal(ones.decision_function(X), plain.decision_function(X))
    keep = np.arange(len(y)) % 3 != 0
    zeros = _estimator("binary").fit(X, y, sample_weight=keep.astype(float))
    subset = _estimator("binary").fit(X[keep], y[keep])
    np.testing.assert_allclose(zeros.decision_function(X), subset.decision_function(X), atol=1e-5)


def test_verbose_shows_a_bar_and_silent_otherwise(regression_data, capsys):
    X, y = regression_data
    _estimator("regression").fit(X, y)
    captured = capsys.readouterr()
    assert captured.out == captured.err == ""
    _estimator("regression", verbose=1, n_iter_no_change=5).fit(X, y)
    captured = capsys.readouterr()
    assert captured.out == ""
    err = captured.err
    assert "NeuralBoostingRegressor" in err and "train" in err and "val" in err


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_fit_predict_and_pickle(multiclass_data):
    X, y = multiclass_data
    est = _estimator("multiclass", device="cuda").fit(X, y)
    assert est.device_.startswith("cuda")
    contributions = est.stage_contributions(X)
    np.testing.assert_allclose(contributions.sum(axis=0), est.decision_function(X), rtol=1e-12)
    network = _module_output(est, X)
    np.testing.assert_allclose(contributions.sum(axis=0), network, rtol=1e-4, atol=1e-4)
    cpu = _estimator("multiclass").fit(X, y)
    assert np.mean(cpu.predict(X) == est.predict(X)) > 0.9
    loaded = pickle.loads(pickle.dumps(est))
    np.testing.assert_allclose(loaded.decision_function(X), est.decision_function(X), rtol=1e-6)


# -- bad input ------------------------------------------------------------------------------------
@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_gpu_is_a_clear_error(regression_data):
    X, y = regression_data
    with pytest.raises(ValueError, match="device='cuda'.*CUDA is not available"):
        _estimator("regression", device="cuda").fit(X, y)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"device": "tpu"}, "device"),
        ({"device": 3.5}, "device"),
        ({"n_stages": 0}, "n_stages"),
        ({"d_hidden": 0}, "d_hidden"),
        ({"epochs_per_stage": 0}, "epochs_per_stage"),
        ({"corrective_epochs": -1}, "corrective_epochs"),
        ({"learning_rate": 0.0}, "learning_rate"),
        ({"lr": -1.0}, "lr"),
        ({"corrective_lr": 0.0}, "corrective_lr"),
        ({"batch_size": 1}, "batch_size"),
        ({"validation_fraction": 1.0}, "validation_fraction"),
    ],
)
def test_bad_parameters_name_the_argument(params, match, regression_data):
    X, y = regression_data
    with pytest.raises(ValueError, match=match):
        _estimator("regression", **params).fit(X, y)


def test_unknown_parameters():
    with pytest.raises(TypeError, match="width"):
        NeuralBoostingRegressor(width=3)
    with pytest.raises(ValueError, match="width"):
        NeuralBoostingClassifier().set_params(width=3)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_input(bad, regression_data):
    X, y = regression_data
    X_bad = X.copy()
    X_bad[3, 1] = bad
    with pytest.raises(ValueError, match="X"):
        _estimator("regression").fit(X_bad, y)
    y_bad = y.copy()
    y_bad[0] = bad
    with pytest.raises(ValueError, match="y"):
        _estimator("regression").fit(X, y_bad)
    est = _estimator("regression", n_stages=1).fit(X, y)
    with pytest.raises(ValueError, match="X"):
        est.predict(X_bad)


def test_shape_errors(regression_data):
    X, y = regression_data
    est = _estimator("regression", n_stages=1).fit(X, y)
    with pytest.raises(ValueError, match="X has 5 features"):
        est.predict(X[:, :5])
    with pytest.raises(ValueError, match="X"):
        _estimator("regression").fit(X[:0], y[:0])
    with pytest.raises(ValueError, match="X"):
        _estimator("regression").fit(X.reshape(len(X), 2, 3), y)
    with pytest.raises(ValueError, match="classes"):
        _estimator("binary").fit(X, np.zeros(len(X)))
    with pytest.raises(ValueError, match="sample_weight"):
        _estimator("regression").fit(X, y, sample_weight=-np.ones(len(y)))


# -- learning -------------------------------------------------------------------------------------
@pytest.mark.slow
def test_classifier_learns_digits():
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=0, stratify=y
    )
    clf = NeuralBoostingClassifier(n_stages=10, random_state=0).fit(X_train, y_train)
    assert clf.score(X_test, y_test) >= 0.93


@pytest.mark.slow
def test_regressor_learns_a_smooth_function():
    X, y = make_regression(n_samples=600, n_features=5, noise=1.0, random_state=0)
    y = y + 30 * np.sin(X[:, 0])
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    model = NeuralBoostingRegressor(n_stages=10, random_state=0).fit(X_train, y_train)
    assert model.score(X_test, y_test) >= 0.9


def test_binary_easy_problem_is_learned():
    X, y = make_classification(n_samples=300, n_features=4, n_informative=2, random_state=1)
    clf = _estimator("binary", corrective_epochs=0).fit(X, y)
    assert clf.score(X, y) > 0.85


# -- GrowNet's schedule and defaults ------------------------------------------------------------
@pytest.mark.parametrize("task", ["regression", "multiclass"])
def test_grownet_schedule_no_corrective_step_after_the_first_net_and_lr_halving(
    task, task_data, monkeypatch
):
    """Corrective steps after nets 2.., at lr / 2 (classifier) or lr / 5 (regressor); every
    learning rate and weight decay halves from stage 16 on."""
    X, y = task_data[task]
    calls: list[tuple[float, float, int]] = []  # (lr, weight_decay, n_param_tensors)
    adamw = torch.optim.AdamW

    def recording(params, lr, weight_decay, **kwargs):
        params = list(params)
        calls.append((lr, weight_decay, len(params)))
        return adamw(params, lr=lr, weight_decay=weight_decay, **kwargs)

    monkeypatch.setattr(torch.optim, "AdamW", recording)
    est = _estimator(
        task, n_stages=17, d_hidden=4, epochs_per_stage=1, lr=1e-2, weight_decay=1e-4
    ).fit(X[:60], y[:60])
    per_net = 6  # a weak net's parameter tensors
    new_nets = [c for c in calls if c[2] == per_net]
    corrective = [c for c in calls if c[2] != per_net]
    assert len(new_nets) == 17 and len(corrective) == 16  # none after the first net
    assert [c[0] for c in new_nets] == [1e-2] * 15 + [5e-3] * 2
    assert [c[1] for c in new_nets] == [1e-4] * 15 + [5e-5] * 2
    divisor = 5 if task == "regression" else 2
    np.testing.assert_allclose(
        [c[0] for c in corrective], [1e-2 / divisor] * 14 + [5e-3 / divisor] * 2
    )
    assert est.n_stages_ == 17


def test_defaults_learn_scikit_learns_blob_problems():
    """The data of scikit-learn's ``check_classifiers_train``: its bar is accuracy > 0.83."""
    from sklearn.datasets import make_blobs

    X, y = make_blobs(n_samples=300, random_state=0)
    X = StandardScaler().fit_transform(X)
    clf = NeuralBoostingClassifier(random_state=0).fit(X, y)
    assert clf.score(X, y) > 0.9
    binary = y != 2
    clf = NeuralBoostingClassifier(random_state=0).fit(X[binary], y[binary])
    assert clf.score(X[binary], y[binary]) > 0.9
