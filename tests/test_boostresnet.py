"""BoostResNetRegressor and BoostResNetClassifier: identities, stagewise training, bad input."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits, make_classification, make_regression
from sklearn.exceptions import ConvergenceWarning

from fboost import ResNetClassifier
from fboost.analysis import edges
from fboost.boostresnet import BoostResNetClassifier, BoostResNetRegressor
from fboost.nn._precision import float64_inference
from fboost.nn._stagewise import bound

TASKS = ["regression", "binary", "multiclass"]
#: tiny and fast; the identities hold for any weights
SMALL = {
    "n_stages": 3,
    "d_block": 8,
    "epochs_per_stage": 2,
    "batch_size": 64,
    "lr": 3e-3,
    "random_state": 0,
}


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
    cls = BoostResNetRegressor if task == "regression" else BoostResNetClassifier
    return cls(**{**SMALL, **params})


def _raw(est, X) -> np.ndarray:
    """The fitted estimator's raw score, ``(n_samples, n_outputs)``."""
    if isinstance(est, BoostResNetRegressor):
        return est.predict(X)[:, None]
    decision = est.decision_function(X)
    return decision[:, None] if decision.ndim == 1 else decision


def _forward(est, X, dropped: frozenset[int] = frozenset()) -> np.ndarray:
    """Hand-written forward pass: the kept blocks, then the last kept stage's head, scaled."""
    net = est.module_.eval()
    kept = [t for t in range(1, est.n_stages_ + 1) if t not in dropped]
    with torch.no_grad(), float64_inference(net) as dtype:  # as predictions run
        z = net.stem(torch.as_tensor(est._validate_X(X), dtype=dtype))
        for t in kept:
            z = z + net.blocks[t - 1](z)
        head = kept[-1] if kept else 0
        logits = net.heads[head](z).double().numpy()
    if isinstance(est, BoostResNetRegressor):
        return est.y_mean_ + est.y_scale_ * logits
    return est.alphas_[head] * bound(logits, "tanh" if logits.shape[1] == 1 else "softmax")


@pytest.fixture(scope="module", params=[(a, t) for a in ("mlp", "cnn") for t in TASKS])
def fitted(request, image_data, task_data):
    architecture, task = request.param
    X, y = image_data[task] if architecture == "cnn" else task_data[task]
    return _estimator(task, architecture=architecture, n_iter_no_change=None).fit(X, y), X, y


# -- the identities -------------------------------------------------------------------------------
def test_contributions_telescope_to_the_last_head(fitted):
    est, X, _ = fitted
    contributions = est.stage_contributions(X)
    assert contributions.shape == (4, len(X), est.loss_.n_outputs)
    assert contributions.dtype == np.float64
    expected = _forward(est, X)
    atol = 1e-5 * max(1.0, float(np.abs(expected).max()))
    np.testing.assert_allclose(contributions.sum(axis=0), expected, rtol=1e-5, atol=atol)
    np.testing.assert_allclose(_raw(est, X), expected, rtol=1e-6, atol=atol)
    np.testing.assert_array_equal(est.stage_weights_, np.ones(3))
    assert est.alphas_.shape == (4,)


def test_staged_output_is_each_stage_head(fitted):
    est, X, _ = fitted
    raws = [_raw(est.drop_stages(range(t + 1, 4)), X) if t < 3 else _raw(est, X) for t in (1, 2, 3)]
    if isinstance(est, BoostResNetRegressor):
        staged = list(est.staged_predict(X))
        assert len(staged) == 3
        np.testing.assert_allclose(staged[-1], est.predict(X), rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(np.stack(staged)[..., None], raws, rtol=1e-9, atol=1e-9)
        return
    decisions = [d.reshape(len(X), -1) for d in est.staged_decision_function(X)]
    np.testing.assert_allclose(decisions, raws, rtol=1e-9, atol=1e-9)
    np.testing.assert_array_equal(list(est.staged_predict(X))[-1], est.predict(X))
    probas = list(est.staged_predict_proba(X))
    np.testing.assert_allclose(probas[-1], est.predict_proba(X), rtol=1e-9, atol=1e-12)
    for t, raw in enumerate(decisions, start=1):  # s_t = alpha_t o_t: bounded by |alpha_t|
        assert np.abs(raw).max() <= abs(est.alphas_[t]) + 1e-12


def test_drop_stages_bypasses_block_and_head(fitted):
    est, X, _ = fitted
    before = _raw(est, X)
    for dropped in ({2}, {1, 3}, {3}):
        lesioned = est.drop_stages(sorted(dropped))
        assert lesioned.n_stages_ == 3 - len(dropped)
        expected = _forward(est, X, frozenset(dropped))
        np.testing.assert_allclose(_raw(lesioned, X), expected, rtol=1e-6, atol=1e-6)
        contributions = lesioned.stage_contributions(X)
        assert contributions.shape[0] == 4 - len(dropped)
        np.testing.assert_allclose(contributions.sum(axis=0), expected, rtol=1e-5, atol=1e-5)
        assert lesioned.stage_features(X).shape[0] == 4 - len(dropped)
    np.testing.assert_array_equal(_raw(est, X), before)
    with pytest.raises(ValueError, match="stages"):
        est.drop_stages([4])


def test_stage_features_are_z_0_to_z_T(fitted):
    est, X, _ = fitted
    features = est.stage_features(X)
    assert features.shape[:2] == (4, len(X)) and features.dtype == np.float32
    with torch.no_grad():  # the last head on z_T is the output
        logits = est.module_.heads[3](torch.as_tensor(features[-1])).double().numpy()
    if isinstance(est, BoostResNetRegressor):
        expected = est.y_mean_ + est.y_scale_ * logits
    else:
        expected = est.alphas_[3] * bound(logits, "tanh" if logits.shape[1] == 1 else "softmax")
    np.testing.assert_allclose(expected, _raw(est, X), rtol=1e-5, atol=1e-5)


def test_pickle_round_trip(fitted):
    est, X, _ = fitted
    for model in (est, est.drop_stages([2])):
        loaded = pickle.loads(pickle.dumps(model))
        np.testing.assert_array_equal(loaded.stage_contributions(X), model.stage_contributions(X))
        np.testing.assert_array_equal(_raw(loaded, X), _raw(model, X))
        assert loaded.n_stages_ == model.n_stages_ and loaded.device_ == "cpu"
    state = est.__getstate__()
    assert "module_" not in state and "model_" not in state


# -- BoostResNet's quantities ---------------------------------------------------------------------
@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_edges_match_the_analysis_and_alpha_is_learned(task, task_data):
    X, y = task_data[task]
    clf = _estimator(task, gamma_threshold=None, n_iter_no_change=None).fit(X, y)
    frame = clf.edges_
    assert list(frame["stage"]) == [0, 1, 2, 3]
    # alpha learned with the block, in (0, 7.25), not set from the edge
    assert ((frame["alpha"] > 0) & (frame["alpha"] < 7.25)).all()
    assert not np.allclose(frame["alpha"], np.arctanh(frame["edge_aux"]))
    np.testing.assert_allclose(frame["alpha"], clf.alphas_)
    assert frame["edge"][0] == frame["edge_aux"][0]  # gamma~_{-1} = 0
    np.testing.assert_allclose(frame["exp_loss_after"][1:], clf.train_score_)
    g = frame["edge_aux"].to_numpy()
    ratio = (g[1:] ** 2 - g[:-1] ** 2) / (1 - g[:-1] ** 2)
    np.testing.assert_allclose(frame["edge"][1:], np.sign(ratio) * np.sqrt(np.abs(ratio)))
    analysis = edges(clf, X, y)  # the same formula, from the fitted surface
    np.testing.assert_allclose(frame["edge_module"][1:], analysis["edge"], rtol=1e-6)
    np.testing.assert_allclose(frame["edge_module_raw"][1:], analysis["edge_raw"], rtol=1e-6)
    np.testing.assert_allclose(frame["exp_loss_after"][1:], analysis["exp_loss_after"], rtol=1e-6)
    np.testing.assert_allclose(frame["error_after"][1:], analysis["error_after"])


@pytest.fixture(scope="module")
def easy():
    X, y = make_classification(
        n_samples=400, n_features=8, n_informative=6, n_redundant=0, class_sep=2.0,
        n_classes=3, random_state=0,
    )  # fmt: skip
    return X, y


def test_losses_fall_and_edges_are_positive_on_an_easy_problem(easy):
    X, y = easy
    clf = _estimator("multiclass", n_stages=4, epochs_per_stage=5, n_iter_no_change=None)
    clf.fit(X, y)
    assert clf.n_stages_ == 4
    assert clf.train_score_[-1] < clf.train_score_[0] < clf.edges_["exp_loss_after"][0]
    assert (clf.edges_["edge_aux"] > 0).all() and (clf.edges_["edge_module"] > 0).all()
    assert clf.score(X, y) > 0.9
    Xr, yr = make_regression(n_samples=300, n_features=6, noise=1.0, random_state=0)
    reg = _estimator("regression", n_stages=4, epochs_per_stage=5, n_iter_no_change=None)
    reg.fit(Xr, yr)
    assert reg.train_score_[-1] < reg.train_score_[0]
    np.testing.assert_array_equal(reg.alphas_, np.ones(5))


def test_stages_train_on_cached_features(multiclass_data, monkeypatch):
    """Block t runs with autograd only while stage t trains: the frozen trunk is cached."""
    X, y = multiclass_data
    calls: dict[int, int] = {}
    build = BoostResNetClassifier._build_module

    def counting(self):
        net = build(self)
        for t, block in enumerate(net.blocks, start=1):
            block.register_forward_hook(
                lambda module, args, out, t=t: calls.update(
                    {t: calls.get(t, 0) + torch.is_grad_enabled()}
                )
            )
        return net

    monkeypatch.setattr(BoostResNetClassifier, "_build_module", counting)
    est = _estimator("multiclass", n_stages=4, n_iter_no_change=None).fit(X, y)
    n_batches = int(np.ceil(len(X) / SMALL["batch_size"]))
    assert calls == {t: n_batches * SMALL["epochs_per_stage"] for t in range(1, 5)}
    assert est.stage_times_.shape == (5,)


def test_early_stopping_truncates_to_the_best_stage(regression_data):
    X, y = regression_data
    rng = np.random.RandomState(0)
    noise = _estimator("regression", n_stages=8, n_iter_no_change=2, epochs_per_stage=3, lr=3e-2)
    noise.fit(X, rng.normal(size=len(y)))
    assert len(noise.validation_score_) < 8
    scores, best = noise.validation_score_, 0  # the best stage under tol, as early stopping
    for t in range(1, len(scores)):
        if scores[t] < scores[best] - noise.tol:
            best = t
    assert noise.n_stages_ == best + 1
    assert noise.train_score_.shape == (noise.n_stages_,)
    full = _estimator("regression", n_iter_no_change=None).fit(X, y)
    assert full.n_stages_ == 3 and full.validation_score_.shape == (0,)


def test_fine_tuning_keeps_the_identities(multiclass_data):
    X, y = multiclass_data
    clf = _estimator("multiclass", fine_tune_epochs=2).fit(X, y)
    plain = _estimator("multiclass").fit(X, y)
    assert clf.fine_tune_score_.shape == (2,)
    assert not np.array_equal(clf.decision_function(X), plain.decision_function(X))
    contributions = clf.stage_contributions(X)
    np.testing.assert_allclose(contributions.sum(axis=0), _forward(clf, X), atol=1e-6)
    assert len(clf.edges_) == clf.n_stages_ + 1


def test_regression_targets_rescale_exactly(regression_data):
    X, y = regression_data
    est = _estimator("regression", n_iter_no_change=None).fit(X, y)
    scaled = _estimator("regression", n_iter_no_change=None).fit(X, 1000.0 * y + 7.0)
    np.testing.assert_allclose(scaled.predict(X), 1000.0 * est.predict(X) + 7.0, rtol=1e-9)
    np.testing.assert_allclose(scaled.train_score_, 1e6 * est.train_score_, rtol=1e-9)


# -- fitting behaviour ----------------------------------------------------------------------------
@pytest.mark.parametrize("task", TASKS)
def test_same_random_state_same_model(task, task_data):
    X, y = task_data[task]
    first, second = _estimator(task).fit(X, y), _estimator(task).fit(X, y)
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
    assert not hasattr(twin, "module_") and twin.get_params() == est.get_params()
    np.testing.assert_array_equal(twin.fit(X, y).predict_proba(X), est.predict_proba(X))


def test_initialize_builds_the_untrained_network(multiclass_data):
    X, y = multiclass_data
    est = _estimator("multiclass").initialize(X, y)
    assert est.n_epochs_ == 0 and est.train_score_.shape == (0,) and est.edges_.empty
    np.testing.assert_allclose(est.stage_contributions(X).sum(axis=0), _forward(est, X))
    for block in est.module_.blocks:  # fresh blocks are the identity: stages start at s_{t-1}
        assert not block.linear2.weight.any()


def test_images_as_4d_3d_or_flat_rows(image_data):
    images, labels = image_data["multiclass"]
    four = _estimator("multiclass", architecture="cnn").fit(images, labels)
    flat = _estimator("multiclass", architecture="cnn", image_shape=(1, 8, 8))
    flat.fit(images.reshape(len(images), -1), labels)
    expected = four.predict_proba(images)
    np.testing.assert_array_equal(four.predict_proba(images[:, 0]), expected)
    np.testing.assert_array_equal(flat.predict_proba(images.reshape(len(images), -1)), expected)


def test_verbose_shows_a_bar_and_silent_otherwise(regression_data, capsys):
    X, y = regression_data
    _estimator("regression").fit(X, y)
    captured = capsys.readouterr()
    assert captured.out == captured.err == ""
    _estimator("regression", verbose=1).fit(X, y)
    captured = capsys.readouterr()
    assert captured.out == "" and "BoostResNetRegressor" in captured.err and "val" in captured.err


# -- bad input ------------------------------------------------------------------------------------
@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_gpu_is_a_clear_error(regression_data):
    X, y = regression_data
    with pytest.raises(ValueError, match="device='cuda'.*CUDA is not available"):
        _estimator("regression", device="cuda").fit(X, y)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"architecture": "transformer"}, "architecture"),
        ({"device": "tpu"}, "device"),
        ({"n_stages": 0}, "n_stages"),
        ({"epochs_per_stage": 0}, "epochs_per_stage"),
        ({"fine_tune_epochs": -1}, "fine_tune_epochs"),
        ({"oracle": "hinge"}, "oracle"),
        ({"gamma_threshold": 1.0}, "gamma_threshold"),
        ({"max_retries": -1}, "max_retries"),
        ({"batch_size": 1}, "batch_size"),
        ({"image_shape": (1, 2, 3)}, "image_shape only applies to architecture='cnn'"),
    ],
)
def test_bad_parameters_name_the_argument(params, match, binary_data):
    X, y = binary_data
    with pytest.raises(ValueError, match=match):
        _estimator("binary", **params).fit(X, y)


def test_unknown_parameters():
    with pytest.raises(TypeError, match="skip"):
        BoostResNetRegressor(skip=False)  # residual by construction
    for name in ("oracle", "gamma_threshold", "max_retries"):  # a classifier's parameters
        with pytest.raises(TypeError, match=name):
            BoostResNetRegressor(**{name: None})
    with pytest.raises(ValueError, match="width"):
        BoostResNetClassifier().set_params(width=3)


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
    with pytest.raises(ValueError, match="X"):
        _estimator("regression", n_stages=1).fit(X, y).predict(X_bad)


def test_shape_errors(regression_data, image_data):
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
    images, labels = image_data["multiclass"]
    flat = images.reshape(len(images), -1)
    with pytest.raises(ValueError, match=r"image_shape=\(1, 8, 9\) has 72 values .* 64 features"):
        _estimator("multiclass", architecture="cnn", image_shape=(1, 8, 9)).fit(flat, labels)
    with pytest.raises(ValueError, match=r"image_shape: X holds images of shape \(1, 8, 8\)"):
        _estimator("multiclass", architecture="cnn", image_shape=(2, 4, 8)).fit(images, labels)
    with pytest.raises(ValueError, match="image_shape=None"):
        _estimator("multiclass", architecture="cnn").fit(flat, labels)


def test_stem_stride_sets_the_blocks_resolution(image_data, regression_data):
    images, labels = image_data["multiclass"]
    default = _estimator("multiclass", architecture="cnn", n_stages=1).fit(images, labels)
    assert default.module_.stem.stride == (2, 2)  # the documented default, ResNet's
    assert default.stage_features(images[:3]).shape[-2:] == (4, 4)
    full = _estimator("multiclass", architecture="cnn", n_stages=1, stem_stride=1)
    full.fit(images, labels)
    assert full.stage_features(images[:3]).shape[-2:] == (8, 8)
    np.testing.assert_allclose(
        full.stage_contributions(images).sum(axis=0), _raw(full, images), atol=1e-9
    )
    X, y = regression_data
    with pytest.raises(ValueError, match="stem_stride only applies to architecture='cnn'"):
        _estimator("regression", stem_stride=2).fit(X, y)
    with pytest.raises(ValueError, match="stem_stride"):
        _estimator("multiclass", architecture="cnn", stem_stride=0).fit(images, labels)


def test_the_cache_advances_in_place_or_after_the_verdict_alike(multiclass_data):
    """A stage that may be retried scores z_t without caching it, then advances the cache once
    it passes; one that may not overwrites z_{t-1} in the scoring pass: the same model."""
    X, y = multiclass_data
    params = {"n_stages": 3, "n_iter_no_change": 2, "fine_tune_epochs": 1}
    after = _estimator("multiclass", gamma_threshold=-1.0, **params).fit(X, y)  # always passes
    in_place = _estimator("multiclass", gamma_threshold=None, **params).fit(X, y)
    assert after.n_stages_ == in_place.n_stages_
    np.testing.assert_array_equal(after.decision_function(X), in_place.decision_function(X))
    np.testing.assert_array_equal(after.validation_score_, in_place.validation_score_)


# -- learning -------------------------------------------------------------------------------------
@pytest.mark.slow
def test_cnn_digits_within_three_points_of_the_end_to_end_resnet():
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    X_train, X_test, y_train, y_test = train_test_split(
        digits.images[:, None], digits.target, test_size=0.25, random_state=0,
        stratify=digits.target,
    )  # fmt: skip
    same = {"architecture": "cnn", "n_stages": 3, "d_block": 16, "lr": 3e-3, "batch_size": 64}
    boost = BoostResNetClassifier(**same, epochs_per_stage=5, random_state=0)
    resnet = ResNetClassifier(**same, max_epochs=10, random_state=0)
    boost_score = boost.fit(X_train, y_train).score(X_test, y_test)
    resnet_score = resnet.fit(X_train, y_train).score(X_test, y_test)
    assert boost_score >= resnet_score - 0.03, (boost_score, resnet_score)


# -- the weak-learning condition (Algorithm 1) and early stopping -----------------------------
def test_every_kept_edge_passes_the_threshold(multiclass_data):
    X, y = multiclass_data
    clf = _estimator("multiclass", n_stages=4, gamma_threshold=0.02, n_iter_no_change=None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        clf.fit(X, y)
    stopped = [w for w in caught if issubclass(w.category, ConvergenceWarning)]
    assert (clf.edges_["edge_module"][1:] > 0.02).all(), clf.edges_
    assert stopped or clf.n_stages_ == 4
    assert len(clf.edges_) == clf.n_stages_ + 1
    np.testing.assert_allclose(clf.stage_contributions(X).sum(axis=0), _raw(clf, X), atol=1e-9)


class _ScriptedEdges:
    """Wraps a rule: stage -> how many attempts get edge -1 (the rest keep their own edge)."""

    def __init__(self, rule, failures: dict[int, int]):
        self.rule, self.failures, self.weighted = rule, failures, rule.weighted
        self.attempts: dict[int, int] = {}

    def __getattr__(self, name):
        return getattr(self.rule, name)

    def accept(self, logits, logits_val, weight=None):
        from fboost.nn._stagewise import StageScore

        stage = len(self.rule.records)
        score = self.rule.accept(logits, logits_val, weight)
        self.attempts[stage] = self.attempts.get(stage, 0) + 1
        if self.attempts[stage] <= self.failures.get(stage, 0):
            return StageScore(score.weight, score.train, score.validation, -1.0)
        return StageScore(score.weight, score.train, score.validation, 1.0)


def _scripted(monkeypatch, failures):
    rules = []
    make = BoostResNetClassifier._make_rule

    def scripted(self, train, validation):
        rules.append(_ScriptedEdges(make(self, train, validation), failures))
        return rules[-1]

    monkeypatch.setattr(BoostResNetClassifier, "_make_rule", scripted)
    return rules


def test_a_failing_stage_is_retrained_from_a_fresh_start(multiclass_data, monkeypatch):
    X, y = multiclass_data
    rules = _scripted(monkeypatch, {2: 2})  # stage 2 fails twice, then passes
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf = _estimator("multiclass", max_retries=2, n_iter_no_change=None).fit(X, y)
    assert rules[0].attempts == {0: 1, 1: 1, 2: 3, 3: 1}
    assert list(clf.edges_["retries"]) == [0, 0, 2, 0] and clf.n_stages_ == 3
    assert clf.stage_times_.shape == (4,)
    np.testing.assert_allclose(clf.stage_contributions(X).sum(axis=0), _raw(clf, X), atol=1e-9)


def test_a_stage_that_keeps_failing_stops_training_with_a_warning(multiclass_data, monkeypatch):
    X, y = multiclass_data
    rules = _scripted(monkeypatch, {2: 99})
    with pytest.warns(ConvergenceWarning, match=r"stage 2 .*edge -1 .*keeping 1 block"):
        clf = _estimator("multiclass", max_retries=1, n_iter_no_change=None).fit(X, y)
    assert rules[0].attempts[2] == 2 and 3 not in rules[0].attempts
    assert clf.n_stages_ == 1 and len(clf.edges_) == 2 and clf.alphas_.shape == (2,)
    np.testing.assert_allclose(clf.stage_contributions(X).sum(axis=0), _raw(clf, X), atol=1e-9)
    np.testing.assert_allclose(_raw(clf, X), _forward(clf, X), atol=1e-6)


def test_stage_zero_is_not_judged(multiclass_data, monkeypatch):
    X, y = multiclass_data
    rules = _scripted(monkeypatch, {0: 99})
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf = _estimator("multiclass", n_iter_no_change=None).fit(X, y)
    assert rules[0].attempts == {0: 1, 1: 1, 2: 1, 3: 1} and clf.n_stages_ == 3


def test_the_papers_edge_formula_can_fall_while_the_module_edge_is_positive():
    """The docstring's measurement: with alpha learned (Algorithm 2), the gamma~ formula for
    gamma_t is not the edge of h_t; the threshold reads the latter."""
    X, y = make_classification(
        n_samples=600, n_features=20, n_informative=10, n_classes=6, n_clusters_per_class=2,
        random_state=0,
    )  # fmt: skip
    clf = BoostResNetClassifier(
        n_stages=5, d_block=32, epochs_per_stage=20, gamma_threshold=None, n_iter_no_change=None,
        random_state=0,
    ).fit(X, y)  # fmt: skip
    frame = clf.edges_
    assert (frame["edge"] < 0).any() and (frame["edge_module"] > 0).all(), frame
    assert np.all(np.diff(frame["exp_loss_after"]) < 0), frame


def test_early_stopping_follows_the_objective_where_log_loss_is_flat():
    """6 classes: the bounded score keeps the log loss nearly flat while accuracy rises; early
    stopping on the stages' exponential loss keeps the blocks that raise accuracy."""
    from sklearn.metrics import log_loss

    X, y = make_classification(
        n_samples=1200, n_features=20, n_informative=10, n_classes=6, n_clusters_per_class=2,
        random_state=0,
    )  # fmt: skip
    X_test, y_test, X, y = X[:360], y[:360], X[360:], y[360:]
    clf = BoostResNetClassifier(n_stages=8, d_block=32, random_state=0).fit(X, y)
    assert clf.n_stages_ >= 4, clf.validation_score_
    losses = [log_loss(y_test, p, labels=clf.classes_) for p in clf.staged_predict_proba(X_test)]
    accuracy = [np.mean(p == y_test) for p in clf.staged_predict(X_test)]
    assert max(losses) - min(losses) < 0.1 * losses[0], losses  # flat
    assert accuracy[-1] > accuracy[0] + 0.04, accuracy  # yet accuracy rises
