"""ResNetRegressor and ResNetClassifier: the additive-model identities, fitting, bad input."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from fboost import ResNetClassifier, ResNetRegressor
from fboost._training import split_validation
from fboost.nn._precision import float64_inference

TASKS = ["regression", "binary", "multiclass"]
#: tiny and fast; the identities hold for any weights
SMALL = {"n_stages": 3, "d_block": 8, "max_epochs": 3, "batch_size": 64, "random_state": 0}


@pytest.fixture(scope="module")
def image_data():
    digits = load_digits()
    images, labels = digits.images[:240, None], digits.target[:240]  # (240, 1, 8, 8)
    return {
        "regression": (images, images.mean(axis=(1, 2, 3)) * 3.0 + labels),
        "binary": (images, np.where(labels % 2 == 0, "even", "odd")),
        "multiclass": (images, labels),
    }


def _estimator(task: str, **params):
    cls = ResNetRegressor if task == "regression" else ResNetClassifier
    return cls(**{**SMALL, **params})


def _data(task, architecture, task_data, image_data):
    return image_data[task] if architecture == "cnn" else task_data[task]


def _raw(est, X) -> np.ndarray:
    """The fitted estimator's raw score, ``(n_samples, n_outputs)``."""
    if isinstance(est, ResNetRegressor):
        return est.predict(X)[:, None]
    decision = est.decision_function(X)
    return decision[:, None] if decision.ndim == 1 else decision


def _network_output(est, X) -> np.ndarray:
    """The torch module's own forward pass, mapped to the user's units."""
    with torch.no_grad(), float64_inference(est.module_.eval()) as dtype:  # as predictions run
        out = est.module_(torch.as_tensor(est._validate_X(X), dtype=dtype)).double().numpy()
    if isinstance(est, ResNetRegressor):
        return est.y_mean_ + est.y_scale_ * out
    return out


def _bypass_output(est, X, dropped: set[int]) -> np.ndarray:
    """Hand-written forward pass with the given blocks (1-based) bypassed: z_t = z_{t-1}."""
    net = est.module_.eval()
    with torch.no_grad(), float64_inference(net) as dtype:
        z = net.stem(torch.as_tensor(est._validate_X(X), dtype=dtype))
        for t, block in enumerate(net.blocks, start=1):
            if t not in dropped:
                z = z + block(z) if net.skip else block(z)
        out = net.head(z).double().numpy()
    if isinstance(est, ResNetRegressor):
        return est.y_mean_ + est.y_scale_ * out
    return out


@pytest.fixture(scope="module", params=[(a, t) for a in ("mlp", "cnn") for t in TASKS])
def fitted(request, image_data):
    from sklearn.datasets import make_classification, make_regression

    architecture, task = request.param
    if architecture == "cnn":
        X, y = image_data[task]
    elif task == "regression":
        X, y = make_regression(n_samples=300, n_features=6, noise=10.0, random_state=0)
    else:
        X, y = make_classification(
            n_samples=300,
            n_features=6,
            n_informative=4,
            n_classes=2 + (task == "multiclass"),
            random_state=0,
        )
    est = _estimator(task, architecture=architecture).fit(X, y)
    return est, X


# -- the identities -------------------------------------------------------------------------------
def test_contributions_sum_to_the_network_output(fitted):
    est, X = fitted
    contributions = est.stage_contributions(X)
    n_outputs = est.loss_.n_outputs
    assert contributions.shape == (est.n_stages_ + 1, len(X), n_outputs)
    assert contributions.dtype == np.float64
    network = _network_output(est, X)
    atol = 1e-5 * max(1.0, float(np.abs(network).max()))
    np.testing.assert_allclose(contributions.sum(axis=0), network, rtol=1e-5, atol=atol)
    np.testing.assert_allclose(_raw(est, X), network, rtol=1e-6, atol=1e-6 * atol)
    np.testing.assert_array_equal(est.stage_weights_, np.ones(3))


def test_staged_output_is_the_head_on_z_t(fitted):
    est, X = fitted
    staged = list(est.staged_predict(X))
    assert len(staged) == est.n_stages_ == 3
    if isinstance(est, ResNetRegressor):
        np.testing.assert_allclose(staged[-1], est.predict(X), rtol=1e-5, atol=1e-4)
        truncated = [est.drop_stages(range(t + 1, 4)).predict(X) for t in (1, 2)]
        np.testing.assert_allclose(staged[:2], truncated, rtol=1e-5, atol=1e-4)
        return
    np.testing.assert_array_equal(staged[-1], est.predict(X))
    decisions = list(est.staged_decision_function(X))
    np.testing.assert_allclose(decisions[-1], est.decision_function(X), rtol=1e-5, atol=1e-5)
    truncated = [est.drop_stages(range(t + 1, 4)).decision_function(X) for t in (1, 2)]
    np.testing.assert_allclose(decisions[:2], truncated, rtol=1e-5, atol=1e-5)
    probas = list(est.staged_predict_proba(X))
    np.testing.assert_allclose(probas[-1], est.predict_proba(X), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(probas[-1].sum(axis=1), 1.0)


def test_drop_stages_bypasses_the_block(fitted):
    est, X = fitted
    before = _raw(est, X)
    for dropped in ({2}, {1, 3}):
        lesioned = est.drop_stages(sorted(dropped))
        assert lesioned.n_stages_ == 3 - len(dropped)
        expected = _bypass_output(est, X, dropped)
        np.testing.assert_allclose(_raw(lesioned, X), expected, rtol=1e-6, atol=1e-6)
        contributions = lesioned.stage_contributions(X)
        assert contributions.shape[0] == 4 - len(dropped)
        atol = 1e-5 * max(1.0, float(np.abs(expected).max()))
        np.testing.assert_allclose(contributions.sum(axis=0), expected, rtol=1e-5, atol=atol)
        assert lesioned.stage_features(X).shape[0] == 4 - len(dropped)
    np.testing.assert_array_equal(_raw(est, X), before)  # the original is untouched
    assert est.n_stages_ == 3
    with pytest.raises(ValueError, match="stages"):
        est.drop_stages([4])


def test_stage_features_are_z_0_to_z_T(fitted):
    est, X = fitted
    features = est.stage_features(X)
    width = est.module_.stem(torch.as_tensor(est._validate_X(X[:2]))).shape[1:]
    assert features.shape == (4, len(X), *width)
    assert features.dtype == np.float32
    with torch.no_grad():  # the head on z_T is the network's output
        out = est.module_.head(torch.as_tensor(features[-1])).double().numpy()
    if isinstance(est, ResNetRegressor):
        out = est.y_mean_ + est.y_scale_ * out
    np.testing.assert_allclose(out, _raw(est, X), rtol=1e-5, atol=1e-5)


def test_pickle_round_trip(fitted):
    est, X = fitted
    lesioned = est.drop_stages([2])
    for model in (est, lesioned):
        loaded = pickle.loads(pickle.dumps(model))
        np.testing.assert_array_equal(_raw(loaded, X), _raw(model, X))
        np.testing.assert_array_equal(loaded.stage_contributions(X), model.stage_contributions(X))
        assert loaded.n_stages_ == model.n_stages_
        assert loaded.device_ == "cpu"


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the fallback without CUDA")
def test_pickle_from_a_cuda_machine_loads_on_cpu(regression_data):
    X, y = regression_data
    est = _estimator("regression").fit(X, y)
    est.device_ = "cuda:0"  # as if trained on a GPU: the state dict is stored on CPU anyway
    loaded = pickle.loads(pickle.dumps(est))
    assert loaded.device_ == "cpu"
    assert next(loaded.module_.parameters()).device.type == "cpu"
    np.testing.assert_array_equal(loaded.predict(X), est.predict(X))


def test_pickle_holds_no_torch_module(regression_data):
    X, y = regression_data
    est = _estimator("regression").fit(X, y)
    state = est.__getstate__()
    assert "module_" not in state and "model_" not in state
    assert isinstance(state["_module_state"]["state_dict"], bytes)


# -- fitting behaviour ----------------------------------------------------------------------------
@pytest.mark.parametrize("task", TASKS)
def test_same_random_state_same_predictions(task, task_data):
    X, y = task_data[task]
    first = _estimator(task).fit(X, y)
    second = _estimator(task).fit(X, y)
    np.testing.assert_array_equal(_raw(first, X), _raw(second, X))
    np.testing.assert_array_equal(first.train_score_, second.train_score_)
    other = _estimator(task, random_state=1).fit(X, y)
    assert not np.array_equal(_raw(first, X), _raw(other, X))


def test_fit_leaves_torch_global_rng_alone(regression_data):
    X, y = regression_data
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    _estimator("regression").fit(X, y)
    torch.testing.assert_close(torch.rand(3), expected)


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
        make_pipeline(StandardScaler(), _estimator("multiclass")),
        {"resnetclassifier__d_block": [4, 8], "resnetclassifier__skip": [True, False]},
        cv=2,
    ).fit(X, y)
    assert search.best_score_ > 0.4
    assert search.predict(X).shape == (len(X),)


def test_histories_per_epoch_and_best_weights_restored(regression_data):
    X, y = regression_data
    est = _estimator("regression", max_epochs=30, n_iter_no_change=3, lr=3e-2).fit(X, y)
    assert est.train_score_.shape == est.validation_score_.shape == (est.n_epochs_,)
    assert 1 <= est.best_epoch_ <= est.n_epochs_
    assert est.validation_score_[est.best_epoch_ - 1] == est.validation_score_.min()
    # the kept weights are those of the best epoch: recompute its validation loss
    _, X_val, _, y_val, _, _ = split_validation(
        X, y, np.ones(len(y)), fraction=0.1, random_state=0, stratify=False
    )
    loss = est.loss_.value(y_val, est.predict(X_val)[:, None])
    assert loss == pytest.approx(est.validation_score_[est.best_epoch_ - 1], rel=1e-4)


def test_early_stopping_stops_and_none_trains_all_epochs(regression_data):
    X, y = regression_data
    rng = np.random.RandomState(0)
    noise = _estimator("regression", max_epochs=200, n_iter_no_change=2, lr=1e-2)
    noise.fit(X, rng.normal(size=len(y)))
    assert noise.n_epochs_ < 200
    full = _estimator("regression", max_epochs=4, n_iter_no_change=None).fit(X, y)
    assert full.n_epochs_ == full.best_epoch_ == 4
    assert full.validation_score_.shape == (0,)


def test_losses_are_in_user_units_and_targets_rescale_exactly(regression_data):
    X, y = regression_data
    est = _estimator("regression", n_iter_no_change=None).fit(X, y)
    scaled = _estimator("regression", n_iter_no_change=None).fit(X, 1000.0 * y + 7.0)
    np.testing.assert_allclose(scaled.predict(X), 1000.0 * est.predict(X) + 7.0, rtol=1e-9)
    np.testing.assert_allclose(scaled.train_score_, 1e6 * est.train_score_, rtol=1e-9)
    contributions = scaled.stage_contributions(X)
    atol = 1e-5 * np.abs(scaled.predict(X)).max()  # float32 precision at the output's scale
    np.testing.assert_allclose(contributions.sum(axis=0)[:, 0], scaled.predict(X), atol=atol)
    # input scaling is fitted inside too: an affine change of X changes nothing
    shifted = _estimator("regression", n_iter_no_change=None).fit(X * 50.0 - 3.0, y)
    np.testing.assert_allclose(
        shifted.predict(X * 50.0 - 3.0), est.predict(X), rtol=1e-4, atol=1e-3
    )


def test_uniform_sample_weight_equals_none(binary_data):
    X, y = binary_data
    plain = _estimator("binary").fit(X, y)
    weighted = _estimator("binary").fit(X, y, sample_weight=np.full(len(y), 3.0))
    np.testing.assert_array_equal(weighted.decision_function(X), plain.decision_function(X))
    uneven = np.where(y == "yes", 5.0, 0.0)
    uneven[:3] = 1.0
    _estimator("binary").fit(X, y, sample_weight=uneven)  # zero weights are dropped, not NaN


def test_images_as_4d_3d_or_flat_rows(image_data):
    images, labels = image_data["multiclass"]
    four = _estimator("multiclass", architecture="cnn").fit(images, labels)
    three = _estimator("multiclass", architecture="cnn").fit(images[:, 0], labels)
    flat = _estimator("multiclass", architecture="cnn", image_shape=(1, 8, 8))
    flat.fit(images.reshape(len(images), -1), labels)
    assert four.image_shape_ == three.image_shape_ == flat.image_shape_ == (1, 8, 8)
    expected = four.predict_proba(images)
    np.testing.assert_array_equal(three.predict_proba(images[:, 0]), expected)
    np.testing.assert_array_equal(flat.predict_proba(images.reshape(len(images), -1)), expected)
    np.testing.assert_array_equal(four.predict_proba(images.reshape(len(images), -1)), expected)


def test_verbose_shows_a_bar_and_silent_otherwise(regression_data, capsys):
    X, y = regression_data
    _estimator("regression").fit(X, y)
    captured = capsys.readouterr()
    assert captured.out == captured.err == ""
    _estimator("regression", verbose=1).fit(X, y)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "ResNetRegressor" in captured.err and "train" in captured.err and "val" in captured.err


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_fit_predict_and_pickle(regression_data):
    X, y = regression_data
    est = _estimator("regression", device="cuda").fit(X, y)
    assert est.device_.startswith("cuda")
    cpu = _estimator("regression").fit(X, y)
    np.testing.assert_allclose(est.predict(X), cpu.predict(X), rtol=1e-2, atol=1e-1 * y.std())
    contributions = est.stage_contributions(X)
    np.testing.assert_allclose(
        contributions.sum(axis=0)[:, 0], est.predict(X), rtol=1e-5, atol=1e-3
    )
    loaded = pickle.loads(pickle.dumps(est))
    np.testing.assert_allclose(loaded.predict(X), est.predict(X), rtol=1e-6)


# -- bad input ------------------------------------------------------------------------------------
@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_gpu_is_a_clear_error(regression_data):
    X, y = regression_data
    with pytest.raises(ValueError, match="device='cuda'.*CUDA is not available"):
        _estimator("regression", device="cuda").fit(X, y)


@pytest.mark.parametrize(
    ("params", "error", "match"),
    [
        ({"architecture": "transformer"}, ValueError, "architecture"),
        ({"device": "tpu"}, ValueError, "device"),
        ({"device": 3.5}, ValueError, "device"),
        ({"n_stages": 0}, ValueError, "n_stages"),
        ({"dropout1": 1.0}, ValueError, "dropout1"),
        ({"lr": 0.0}, ValueError, "lr"),
        ({"max_epochs": 0}, ValueError, "max_epochs"),
        ({"batch_size": 1}, ValueError, "batch_size"),
        ({"skip": "no"}, ValueError, "skip"),
        ({"image_shape": (1, 2, 3)}, ValueError, "image_shape only applies to architecture='cnn'"),
    ],
)
def test_bad_parameters_name_the_argument(params, error, match, regression_data):
    X, y = regression_data
    with pytest.raises(error, match=match):
        _estimator("regression", **params).fit(X, y)


def test_unknown_parameters():
    with pytest.raises(TypeError, match="width"):
        ResNetRegressor(width=3)
    with pytest.raises(ValueError, match="width"):
        ResNetRegressor().set_params(width=3)


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
    est = _estimator("regression").fit(X, y)
    with pytest.raises(ValueError, match="X"):
        est.predict(X_bad)


def test_shape_errors(regression_data, multiclass_data):
    X, y = regression_data
    est = _estimator("regression").fit(X, y)
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


def test_image_shape_errors(image_data):
    images, labels = image_data["multiclass"]
    flat = images.reshape(len(images), -1)
    with pytest.raises(ValueError, match=r"image_shape=\(1, 8, 9\) has 72 values .* 64 features"):
        _estimator("multiclass", architecture="cnn", image_shape=(1, 8, 9)).fit(flat, labels)
    with pytest.raises(ValueError, match=r"image_shape: X holds images of shape \(1, 8, 8\)"):
        _estimator("multiclass", architecture="cnn", image_shape=(2, 4, 8)).fit(images, labels)
    with pytest.raises(ValueError, match=r"image_shape must be three positive ints"):
        _estimator("multiclass", architecture="cnn", image_shape=(8, 8)).fit(flat, labels)
    with pytest.raises(ValueError, match="image_shape=None"):
        _estimator("multiclass", architecture="cnn").fit(flat, labels)
    est = _estimator("multiclass", architecture="cnn").fit(images, labels)
    with pytest.raises(ValueError, match=r"X: X holds images of shape \(1, 4, 16\)"):
        est.predict(images.reshape(len(images), 1, 4, 16))
    with pytest.raises(ValueError, match="X has 63 features"):
        est.predict(flat[:, :63])


def test_stem_stride_sets_the_blocks_resolution(image_data, regression_data):
    images, labels = image_data["multiclass"]
    default = _estimator("multiclass", architecture="cnn").fit(images, labels)
    assert default.module_.stem.stride == (2, 2)  # the documented default
    assert default.stage_features(images[:3]).shape[-2:] == (4, 4)
    full = _estimator("multiclass", architecture="cnn", stem_stride=1).fit(images, labels)
    assert full.stage_features(images[:3]).shape[-2:] == (8, 8)
    contributions = full.stage_contributions(images)
    np.testing.assert_allclose(contributions.sum(axis=0), full.decision_function(images), atol=1e-5)
    X, y = regression_data
    with pytest.raises(ValueError, match="stem_stride only applies to architecture='cnn'"):
        _estimator("regression", stem_stride=2).fit(X, y)
    with pytest.raises(ValueError, match="stem_stride"):
        _estimator("multiclass", architecture="cnn", stem_stride=0).fit(images, labels)


# -- learning -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def digits_split():
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    return train_test_split(
        digits.images[:, None],
        digits.target,
        test_size=0.25,
        random_state=0,
        stratify=digits.target,
    )


@pytest.mark.slow
def test_cnn_learns_digits(digits_split):
    X_train, X_test, y_train, y_test = digits_split
    clf = ResNetClassifier(
        architecture="cnn",
        n_stages=2,
        d_block=16,
        lr=3e-3,
        batch_size=64,
        max_epochs=10,
        random_state=0,
    ).fit(X_train, y_train)
    assert clf.score(X_test, y_test) >= 0.95


@pytest.mark.slow
def test_mlp_learns_digits(digits_split):
    X_train, X_test, y_train, y_test = digits_split
    clf = ResNetClassifier(random_state=0).fit(X_train.reshape(len(X_train), -1), y_train)
    assert clf.score(X_test.reshape(len(X_test), -1), y_test) >= 0.95


@pytest.mark.slow
def test_mlp_learns_friedman1():
    from sklearn.datasets import make_friedman1
    from sklearn.model_selection import train_test_split

    X, y = make_friedman1(n_samples=2000, noise=0.0, random_state=0)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    model = ResNetRegressor(random_state=0).fit(X_train, y_train)
    assert model.score(X_test, y_test) >= 0.9


def test_initialize_builds_the_untrained_network_fit_starts_from(multiclass_data, monkeypatch):
    from fboost.nn import Trainer, TrainHistory

    X, y = multiclass_data
    est = _estimator("multiclass").initialize(X, y)
    assert est.n_epochs_ == 0 and est.train_score_.shape == (0,)
    assert not est.module_.training
    contributions = est.stage_contributions(X)
    np.testing.assert_allclose(contributions.sum(axis=0), _network_output(est, X), atol=1e-5)
    # the head starts at the log class priors
    np.testing.assert_allclose(
        est.module_.head.linear.bias.detach().numpy(), est.loss_.init_raw(y), rtol=1e-6
    )
    monkeypatch.setattr(Trainer, "fit", lambda self, train, validation=None: TrainHistory())
    untrained = _estimator("multiclass").fit(X, y)
    for (name, a), b in zip(
        est.module_.state_dict().items(), untrained.module_.state_dict().values(), strict=True
    ):
        torch.testing.assert_close(a, b, msg=name)
