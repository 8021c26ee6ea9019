"""Issue 16: TreeBoosting*(engine="lightgbm") on a real two-worker Dask cluster.

The Dask fit is LightGBM's Dask model (``lightgbm.dask``) bit for bit, keeps every identity of
the additive view, predicts lazily on Dask input, pickles without its client, and refuses what
it cannot do with a message naming the argument.

LightGBM's distributed training depends on which worker gets which rows and on the workers'
ranks (each rank finds the bins of some features from its own rows; ``Client.who_has`` orders
the ranks at random). The bit-for-bit tests therefore pin one partition on each worker and use
features with few distinct values, each frequent on both workers, so that every rank finds the
same bins and the model does not depend on the rank order.
"""

from __future__ import annotations

import copy
import pickle
import subprocess
import sys
import warnings

import lightgbm
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.datasets import make_classification, make_regression
from sklearn.metrics import log_loss
from sklearn.utils.class_weight import compute_sample_weight

da = pytest.importorskip("dask.array")
dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")
lgb_dask = pytest.importorskip("lightgbm.dask")

from fboost import TreeBoostingClassifier, TreeBoostingRegressor  # noqa: E402
from fboost._lightgbm import lightgbm_init_raw  # noqa: E402

TASKS = ["regression", "binary", "multiclass"]


@pytest.fixture(scope="module")
def client():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # distributed's notes on ports and memory
        cluster = distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        )
        with cluster, distributed.Client(cluster) as c:
            # the pinned collections need both workers registered before the first scatter
            c.wait_for_workers(2, timeout=120)
            yield c
            _FUTURES.clear()


def workers(client):
    names = sorted(client.scheduler_info()["workers"])
    assert len(names) == 2, f"expected the fixture's 2 workers, the scheduler lists {names}"
    return names


#: the scattered futures behind pinned collections, kept alive for the module's tests
_FUTURES: list = []


def pinned(client, pieces_per_worker):
    """A dask array (or DataFrame) whose i-th partition lies on worker i (one list per worker)."""
    names = workers(client)
    blocks = []
    for name, pieces in zip(names, pieces_per_worker, strict=False):
        for piece in pieces:
            future = client.scatter(piece, workers=[name])
            _FUTURES.append(future)
            blocks.append((future, piece))
    if isinstance(blocks[0][1], pd.DataFrame):
        return dd.from_delayed([f for f, _ in blocks], meta=blocks[0][1].iloc[:0])
    return da.concatenate(
        [da.from_delayed(f, shape=p.shape, dtype=p.dtype) for f, p in blocks], axis=0
    )


def split_pinned(client, *arrays, sizes=None):
    """Each array split in two row halves (or at ``sizes``), the first on worker 0."""
    out = []
    for a in arrays:
        cut = len(a) // 2 if sizes is None else sizes
        out.append(pinned(client, [[a[:cut]], [a[cut:]]]))
    return out


def discrete_data(task, n=400, seed=0):
    """Features with 7 values, each seen at least 5 times in either half (see the module doc)."""
    rng = np.random.default_rng(seed)
    X = rng.integers(-3, 4, size=(n, 5)).astype(np.float64)
    signal = X[:, 0] - 0.5 * X[:, 1] + 0.3 * X[:, 2] * X[:, 3] + rng.normal(0, 0.5, n)
    for half in (X[: n // 2], X[n // 2 :]):
        for j in range(X.shape[1]):
            assert np.bincount((half[:, j] + 3).astype(int), minlength=7).min() >= 5
    if task == "regression":
        return X, 3.0 * signal
    if task == "binary":
        return X, np.array(["no", "yes"])[(signal > 0).astype(int)]
    return X, np.digitize(signal, np.quantile(signal, [1 / 3, 2 / 3]))


def ours(task, **params):
    params = {"n_stages": 15, "random_state": 0, **params}
    return (TreeBoostingRegressor if task == "regression" else TreeBoostingClassifier)(**params)


def theirs(task, client, params, X, y):
    """LightGBM's own Dask estimator fitted on (X, y) with fboost's LightGBM parameters."""
    cls = lgb_dask.DaskLGBMRegressor if task == "regression" else lgb_dask.DaskLGBMClassifier
    params = {k: v for k, v in params.items() if k != "n_jobs"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Parameter n_jobs will be ignored"
        return cls(client=client, **params).fit(X, y).to_local()


def raw_of(model, X):
    if hasattr(model, "decision_function"):
        return np.asarray(model.decision_function(X)).reshape(X.shape[0], -1)
    return np.asarray(model.predict(X)).reshape(-1, 1)


def lgbm_raw(booster, X):
    return np.asarray(booster.predict(X, raw_score=True)).reshape(X.shape[0], -1)


def score(model, X, y):
    """R^2 for regressors, minus the log loss for classifiers (finer than accuracy)."""
    if hasattr(model, "predict_proba"):
        return -float(log_loss(y, model.predict_proba(X), labels=model.classes_))
    return float(model.score(X, y))


@pytest.fixture(scope="module")
def fitted(client):
    """One pinned Dask fit per task, with LightGBM's Dask model on the same partitions."""
    out = {}
    for task in TASKS:
        X, y = discrete_data(task)
        Xd, yd = split_pinned(client, X, y)
        model = ours(task).fit(Xd, yd)
        y_lgb = y if task != "binary" else (y == "yes").astype(int)
        (yd_lgb,) = split_pinned(client, y_lgb)
        reference = theirs(task, client, model.lightgbm_params(), Xd, yd_lgb)
        out[task] = (X, y, Xd, yd, model, reference)
    return out


# -- the model is LightGBM's Dask model --------------------------------------------------------
@pytest.mark.parametrize("task", TASKS)
def test_dask_fit_is_lightgbm_dasks_model_bit_for_bit(fitted, task):
    X, _, _, _, model, reference = fitted[task]
    X_test = discrete_data(task, n=200, seed=1)[0]
    np.testing.assert_array_equal(raw_of(model, X_test), lgbm_raw(reference.booster_, X_test))
    np.testing.assert_array_equal(model.feature_importances_, reference.feature_importances_)
    assert model.n_stages_ == 15
    assert model.booster_.num_trees() == reference.booster_.num_trees()


@pytest.mark.parametrize("task", TASKS)
def test_dask_fit_keeps_every_identity(fitted, task):
    X, *_, model, _ = fitted[task]
    contributions = model.stage_contributions(X)
    raw = raw_of(model, X)
    np.testing.assert_allclose(contributions.sum(axis=0), raw, rtol=0, atol=1e-10)
    staged = list(model._staged_raw(X))
    assert len(staged) == model.n_stages_
    np.testing.assert_allclose(
        np.stack(staged), np.cumsum(contributions, axis=0)[1:], rtol=0, atol=1e-10
    )
    lesioned = model.drop_stages([1, 7])
    np.testing.assert_allclose(
        raw_of(lesioned, X), raw - contributions[1] - contributions[7], rtol=0, atol=1e-10
    )
    by_feature = model.feature_contributions(X)
    np.testing.assert_allclose(by_feature.sum(axis=1), raw, rtol=0, atol=1e-10)
    per_stage = model.stage_feature_contributions(X)
    np.testing.assert_allclose(per_stage.sum(axis=2), contributions, rtol=0, atol=1e-10)
    # lesions count in the importances: only the kept stages' splits
    kept = lesioned.feature_importances_
    assert kept.sum() < model.feature_importances_.sum()


@pytest.mark.parametrize("task", TASKS)
def test_train_score_is_the_loss_of_the_staged_predictions(fitted, task):
    X, y, _, _, model, _ = fitted[task]
    codes = y if task == "regression" else np.searchsorted(model.classes_, y)
    expected = [model.loss_.value(codes, raw) for raw in model._staged_raw(X)]
    np.testing.assert_allclose(model.train_score_, expected, rtol=1e-6)
    assert model.validation_score_.shape == (0,)


def test_f0_is_the_mean_of_each_workers_own_score(client):
    """LightGBM's distributed F_0: each worker's boost-from-average score, averaged."""
    X, y = discrete_data("regression")
    y = y + np.where(np.arange(len(y)) < 100, 10.0, 0.0)  # the first 100 rows on worker 0
    Xd, yd = split_pinned(client, X, y, sizes=100)
    model = ours("regression").fit(Xd, yd)
    loss = model.loss_
    per_worker = [lightgbm_init_raw(loss, y[:100], None), lightgbm_init_raw(loss, y[100:], None)]
    np.testing.assert_allclose(model.model_.start.raw, np.mean(per_worker, axis=0), rtol=1e-14)
    assert abs(model.model_.start.raw[0] - y.mean()) > 1.0  # not the global mean
    np.testing.assert_allclose(
        model.stage_contributions(X).sum(axis=0)[:, 0], model.predict(X), rtol=0, atol=1e-10
    )


# -- scores: within LightGBM's own distributed-versus-serial difference ------------------------
@pytest.mark.parametrize("task", TASKS)
def test_score_differs_from_serial_as_lightgbms_does(client, task):
    if task == "regression":
        X, y = make_regression(n_samples=600, n_features=6, noise=10.0, random_state=0)
    else:
        X, y = make_classification(
            n_samples=600,
            n_features=6,
            n_informative=4,
            n_classes=3 if task == "multiclass" else 2,
            random_state=0,
        )
    X_train, y_train, X_test, y_test = X[:400], y[:400], X[400:], y[400:]
    Xd, yd = split_pinned(client, X_train, y_train)
    dask_model = ours(task, n_stages=30).fit(Xd, yd)
    serial_model = ours(task, n_stages=30).fit(X_train, y_train)
    params = serial_model.lightgbm_params()
    lgbm = (lightgbm.LGBMRegressor if task == "regression" else lightgbm.LGBMClassifier)(**params)
    lgbm.fit(X_train, y_train)
    reference = theirs(task, client, params, Xd, yd)
    ours_gap = abs(score(dask_model, X_test, y_test) - score(serial_model, X_test, y_test))
    their_gap = abs(score(reference, X_test, y_test) - score(lgbm, X_test, y_test))
    # the serial fits are equal bit for bit, so each gap is a distributed model's own
    np.testing.assert_array_equal(raw_of(serial_model, X_test), lgbm_raw(lgbm.booster_, X_test))
    # lightgbm.dask orders the ranks at random, which picks one of two distributed models (for
    # either, fboost's equals LightGBM's: the bit-for-bit test); gaps measured here: <= 0.006
    assert ours_gap <= their_gap + 0.01, (ours_gap, their_gap)


# -- prediction of Dask input ------------------------------------------------------------------
@pytest.mark.parametrize("task", TASKS)
def test_predict_on_dask_is_lazy_and_equals_numpy(fitted, task):
    X, *_, model, _ = fitted[task]
    Xd = da.from_array(X, chunks=(150, 2))  # several column blocks: rechunked by rows
    methods = [
        "predict",
        "stage_contributions",
        "feature_contributions",
        "stage_feature_contributions",
    ]
    if task != "regression":
        methods += ["predict_proba", "decision_function"]
    for method in methods:
        lazy = getattr(model, method)(Xd)
        assert isinstance(lazy, da.Array), method
        eager = getattr(model, method)(X)
        assert lazy.shape == eager.shape
        np.testing.assert_array_equal(lazy.compute(), eager, err_msg=method)


def test_staged_methods_take_numpy_only(fitted):
    X, *_, model, _ = fitted["binary"]
    with pytest.raises(TypeError, match="stage_contributions"):
        next(model.staged_predict_proba(da.from_array(X, chunks=100)))


@pytest.mark.parametrize("task", ["regression", "multiclass"])
def test_dask_dataframe_with_category_columns(client, task):
    X, y = discrete_data(task)
    # the same colour sequence in both halves: a categorical feature's bins are ordered by the
    # category counts a rank sees, so equal counts on both workers keep the ranks' bins equal
    half = len(y) // 2
    colour = np.tile(np.array(["red", "green", "blue"])[np.arange(half) % 3], 2)
    frame = pd.DataFrame(X, columns=[f"x{j}" for j in range(X.shape[1])])
    frame["colour"] = pd.Categorical(colour, categories=["blue", "green", "red"])
    if task == "regression":
        y = y + np.where(colour == "red", 3.0, 0.0)
    ddf = pinned(client, [[frame.iloc[:half]], [frame.iloc[half:]]])
    (yd,) = split_pinned(client, y)
    model = ours(task).fit(ddf, yd)
    assert model.categorical_features_ == [5]
    assert list(model.feature_names_in_) == list(frame.columns)
    # With a category column LightGBM's Dask fit still depends on the rank order it draws (the
    # multiclass case differed in about 1 run in 4 even with equal category counts; the cause
    # inside LightGBM is not identified): fboost's fit must equal one of LightGBM's own fits on
    # the same partitions, bit for bit (a rank order is missed by 8 draws with chance 1/256).
    ours_raw = raw_of(model, frame)
    for _ in range(8):
        reference = theirs(task, client, model.lightgbm_params(), ddf, yd)
        if np.array_equal(ours_raw, lgbm_raw(reference.booster_, frame)):
            break
    np.testing.assert_array_equal(ours_raw, lgbm_raw(reference.booster_, frame))
    lazy = model.predict(ddf)
    assert isinstance(lazy, da.Array)
    np.testing.assert_array_equal(lazy.compute(), model.predict(frame))
    contributions = model.stage_contributions(frame)
    np.testing.assert_allclose(contributions.sum(axis=0), raw_of(model, frame), atol=1e-10)


def test_unknown_categories_are_refused_by_name(client):
    frame = pd.DataFrame({"x": np.arange(40.0), "c": pd.Categorical(["a", "b"] * 20)})
    ddf = dd.from_pandas(frame, npartitions=2)
    ddf = ddf.assign(c=ddf["c"].cat.as_unknown())
    y = da.from_array(np.arange(40.0), chunks=20)
    with pytest.raises(ValueError, match=r"category columns \['c'\] have unknown categories"):
        ours("regression").fit(ddf, y)


def test_y_is_rechunked_to_x_and_n_jobs_stays_home(fitted):
    """A dask y chunked otherwise is aligned with X's rows; n_jobs neither travels nor warns."""
    X, _, Xd, yd, model, _ = fitted["regression"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        other = ours("regression", n_jobs=3).fit(Xd, yd.rechunk(50))
    np.testing.assert_array_equal(other.predict(X), model.predict(X))


def test_verbose_shows_progress_and_silent_otherwise(small, capsys):
    _, _, Xd, yd = small
    ours("regression").fit(Xd, yd)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""
    ours("regression", verbose=1).fit(Xd, yd)
    assert "TreeBoostingRegressor" in capsys.readouterr().err


def test_class_weight_and_sample_weight_on_dask(client):
    X, y = discrete_data("multiclass")
    Xd, yd = split_pinned(client, X, y)
    balanced = ours("multiclass", class_weight="balanced").fit(Xd, yd)
    weights = compute_sample_weight("balanced", y)
    (wd,) = split_pinned(client, weights)
    weighted = ours("multiclass").fit(Xd, yd, sample_weight=wd)
    np.testing.assert_array_equal(balanced.decision_function(X), weighted.decision_function(X))
    plain = ours("multiclass").fit(Xd, yd)
    assert not np.array_equal(plain.decision_function(X), weighted.decision_function(X))
    expected = [weighted.loss_.value(y, raw, weights) for raw in weighted._staged_raw(X)]
    np.testing.assert_allclose(weighted.train_score_, expected, rtol=1e-6)


def test_eval_set_losses_on_dask(client):
    X, y = discrete_data("binary")
    X_val, y_val = discrete_data("binary", n=200, seed=1)
    Xd, yd = split_pinned(client, X, y)
    Xv, yv = split_pinned(client, X_val, y_val)
    model = ours("binary").fit(Xd, yd, eval_set=[(Xv, yv)])
    codes = np.searchsorted(model.classes_, y_val)
    expected = [model.loss_.value(codes, raw) for raw in model._staged_raw(X_val)]
    np.testing.assert_allclose(model.evals_result_["valid_0"]["binary_log_loss"], expected)
    np.testing.assert_allclose(model.validation_score_, expected)
    (bad,) = split_pinned(client, np.where(y_val == "yes", "maybe", y_val))
    with pytest.raises(ValueError, match="labels not seen in fit"):
        ours("binary").fit(Xd, yd, eval_set=[(Xv, bad)])
    (negative,) = split_pinned(client, -np.ones(len(y_val)))
    with pytest.raises(ValueError, match="eval_sample_weight"):
        ours("binary").fit(Xd, yd, eval_set=[(Xv, yv)], eval_sample_weight=[negative])


# -- pickling, clone, parameters ---------------------------------------------------------------
def test_pickle_drops_the_client_and_clone_keeps_it(client, fitted):
    X, _, Xd, yd, _, _ = fitted["regression"]
    model = ours("regression", client=client).fit(Xd, yd)
    assert model.get_params()["client"] is client
    restored = pickle.loads(pickle.dumps(model))
    assert restored.client is None and model.client is client
    assert copy.copy(model).client is None and copy.deepcopy(model).client is None
    np.testing.assert_array_equal(restored.predict(X), model.predict(X))
    np.testing.assert_array_equal(restored.predict(Xd).compute(), model.predict(X))
    twin = clone(model)
    assert twin.client is client and not hasattr(twin, "model_")
    assert twin.get_params() == model.get_params()


# -- errors ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small(client):
    X, y = discrete_data("regression")
    Xd, yd = split_pinned(client, X, y)
    return X, y, Xd, yd


def test_engine_sklearn_names_engine_lightgbm(small):
    _, _, Xd, yd = small
    with pytest.raises(ValueError, match="engine='lightgbm'"):
        TreeBoostingRegressor(engine="sklearn", n_stages=3).fit(Xd, yd)


def test_inputs_that_are_not_dask_are_named(small):
    X, y, Xd, yd = small
    with pytest.raises(TypeError, match="y must be a dask array or Series"):
        ours("regression").fit(Xd, y)
    with pytest.raises(TypeError, match="sample_weight must be a dask array or Series"):
        ours("regression").fit(Xd, yd, sample_weight=np.ones(len(y)))
    with pytest.raises(TypeError, match=r"eval_set\[0\]: X must be a Dask collection"):
        ours("regression").fit(Xd, yd, eval_set=[(X, y)])
    with pytest.raises(TypeError, match="X must be a Dask collection"):
        ours("regression").fit(X, yd)
    with pytest.raises(ValueError, match="client is given but X is not a Dask collection"):
        ours("regression", client=object()).fit(X, y)
    with pytest.raises(TypeError, match="client must be a distributed.Client"):
        ours("regression", client="tcp://nowhere:1").fit(Xd, yd)


def test_bad_dask_values_and_shapes_are_named(small):
    X, y, Xd, yd = small
    with pytest.raises(ValueError, match="X and y must have the same number of samples"):
        ours("regression").fit(Xd, da.from_array(y[:-5], chunks=100))
    inf = X.copy()
    inf[3, 1] = np.inf
    with pytest.raises(ValueError, match="X"):
        ours("regression").fit(da.from_array(inf, chunks=200), yd.rechunk(200))
    nan_y = y.copy()
    nan_y[0] = np.nan
    with pytest.raises(ValueError, match="y"):
        ours("regression").fit(Xd, da.from_array(nan_y, chunks=200))
    with pytest.raises(ValueError, match="sample_weight"):
        ours("regression").fit(Xd, yd, sample_weight=da.from_array(-np.ones(len(y)), chunks=200))
    model = ours("regression").fit(Xd, yd)
    with pytest.raises(ValueError, match="X has 4 features"):
        model.predict(da.from_array(X[:, :4], chunks=100))


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"loss": "exponential"}, "not supported for Dask input"),
        ({"n_iter_no_change": 3}, "n_iter_no_change is not supported"),
    ],
)
def test_what_dask_cannot_do_raises(small, params, match):
    _, y, Xd, yd = small
    task = "binary" if params.get("loss") == "exponential" else "regression"
    target = yd if task == "regression" else (yd > 0).astype(int)
    with pytest.raises(ValueError, match=match):
        ours(task, **params).fit(Xd, target)


def test_warm_start_on_dask_raises(small):
    _, _, Xd, yd = small
    model = ours("regression", warm_start=True).fit(Xd, yd)
    model.set_params(n_stages=20)
    with pytest.raises(ValueError, match="warm_start=True is not supported for Dask input"):
        model.fit(Xd, yd)


def test_missing_extra_is_named(small, monkeypatch):
    _, _, Xd, yd = small
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(ImportError, match=r"fboost\[distributed\]"):
        ours("regression").fit(Xd, yd)


NO_CLIENT = """
import sys
import numpy as np
from fboost import TreeBoostingClassifier
X = np.random.default_rng(0).normal(size=(60, 3))
TreeBoostingClassifier(n_stages=3).fit(X, X[:, 0] > 0).predict(X)
assert not [k for k in sys.modules if k.split(".")[0] in ("dask", "distributed")]
import dask.array as da
try:
    TreeBoostingClassifier(n_stages=3).fit(da.from_array(X), da.from_array(X[:, 0] > 0))
except ValueError as exc:
    print(exc)
"""


def test_numpy_path_never_imports_dask_and_dask_needs_a_client():
    result = subprocess.run(
        [sys.executable, "-c", NO_CLIENT], check=True, capture_output=True, text=True
    )
    assert "no distributed.Client is active" in result.stdout
