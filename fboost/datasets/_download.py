"""Loaders for data behind a download (OpenML, scikit-learn's California housing), with a cache.

The first load fetches the data, encodes it to numbers and writes ``<data_home>/<name>.npz``;
every later load reads that file and nothing else. The cache format (all arrays, no pickles):

``X``
    float64, shape (n_samples, n_features); categorical columns hold integer codes, -1 = missing.
``y``
    shape (n_samples,): float64 targets for regression, integer class codes 0..K-1 otherwise.
``feature_names``
    str, shape (n_features,).
``categorical_features`` (optional)
    int, the columns of ``X`` that hold category codes.

A file in that format put there by hand (a copy from another machine, or a test's small stand-in)
is read the same way, so nothing needs the network once the file exists.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ._base import RawData, Task, save_npz_atomic

CACHE_FORMAT_VERSION = 1


@dataclass(frozen=True)
class RemoteSpec:
    """Where a downloadable set comes from and how its target is coded."""

    name: str
    task: Task
    fetcher: str  # "openml" or "california"
    data_id: int | None = None
    classes: tuple[str, ...] | None = None  # raw labels in code order 0..K-1
    class_names: tuple[str, ...] | None = None  # readable names, same order
    dropna: bool = True  # drop rows with a missing numeric feature or target

    @property
    def source(self) -> str:
        if self.fetcher == "openml":
            return f"OpenML data_id={self.data_id} (sklearn.datasets.fetch_openml)"
        return "sklearn.datasets.fetch_california_housing (StatLib, 1990 census)"

    @property
    def target_names(self) -> tuple[str, ...] | None:
        return self.class_names or self.classes


REMOTE: dict[str, RemoteSpec] = {
    spec.name: spec
    for spec in (
        RemoteSpec("california", "regression", "california"),
        RemoteSpec("adult", "binary", "openml", 1590, classes=("<=50K", ">50K")),
        RemoteSpec("higgs", "binary", "openml", 23512, classes=("0", "1")),
        RemoteSpec(
            "covertype",
            "multiclass",
            "openml",
            1596,
            classes=tuple(str(c) for c in range(1, 8)),
            class_names=(
                "Spruce/Fir",
                "Lodgepole Pine",
                "Ponderosa Pine",
                "Cottonwood/Willow",
                "Aspen",
                "Douglas-fir",
                "Krummholz",
            ),
        ),
    )
}


def cache_path(name: str, data_home: Path) -> Path:
    """The cache file of the downloadable set ``name``."""
    return data_home / f"{name}.npz"


# The only two functions that touch the network; the tests replace them to prove they go uncalled.


def _fetch_openml(data_id: int, data_home: Path) -> tuple[pd.DataFrame, pd.Series]:
    from sklearn.datasets import fetch_openml

    bunch = fetch_openml(
        data_id=data_id, data_home=str(data_home / "openml"), as_frame=True, parser="auto"
    )
    return bunch.data, bunch.target


def _fetch_california(data_home: Path) -> tuple[pd.DataFrame, pd.Series]:
    from sklearn.datasets import fetch_california_housing

    bunch = fetch_california_housing(data_home=str(data_home / "sklearn"), as_frame=True)
    return bunch.data, bunch.target


def _canonical_label(value: Any) -> str:
    """``1``, ``1.0`` and ``" 1 "`` all read ``"1"``; other labels are stripped strings."""
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError:
        return text
    return str(int(number)) if math.isfinite(number) and number.is_integer() else text


def _numeric_categories(column: pd.Series) -> bool:
    """True when every category of ``column`` reads as a number (e.g. 0/1 indicator columns)."""
    values = column.dropna().unique()
    return len(values) > 0 and bool(pd.to_numeric(pd.Series(values), errors="coerce").notna().all())


def encode_frame(
    X: pd.DataFrame, y: pd.Series, spec: RemoteSpec
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...], tuple[int, ...]]:
    """Numbers from a fetched frame: category codes for text columns, class codes for ``y``."""
    X = X.reset_index(drop=True)
    y = y.reset_index(drop=True)
    columns: list[np.ndarray] = []
    categorical: list[int] = []
    numeric_missing = np.zeros(len(X), dtype=bool)
    for j, name in enumerate(X.columns):
        column = X[name]
        if pd.api.types.is_numeric_dtype(column) and not isinstance(
            column.dtype, pd.CategoricalDtype
        ):
            values = column.to_numpy(dtype=np.float64, na_value=np.nan)
            numeric_missing |= np.isnan(values)
        elif _numeric_categories(column):
            values = pd.to_numeric(column.astype(object), errors="coerce").to_numpy(np.float64)
            numeric_missing |= np.isnan(values)
        else:
            if not isinstance(column.dtype, pd.CategoricalDtype):
                column = column.astype("category")
            values = column.cat.codes.to_numpy().astype(np.float64)  # -1 = missing
            categorical.append(j)
        columns.append(values)
    matrix = np.column_stack(columns) if columns else np.empty((len(X), 0))

    if spec.task == "regression":
        target = pd.to_numeric(y, errors="coerce").to_numpy(dtype=np.float64)
        missing = np.isnan(target)
    else:
        assert spec.classes is not None
        lookup = {label: code for code, label in enumerate(spec.classes)}
        missing = y.isna().to_numpy()
        labels = [_canonical_label(v) for v in y[~missing]]
        unknown = sorted(set(labels) - set(lookup))
        if unknown:
            raise ValueError(
                f"the {spec.name!r} target has labels {unknown}, expected only {spec.classes}"
            )
        target = np.full(len(y), -1, dtype=np.int64)
        target[~missing] = [lookup[label] for label in labels]
    keep = ~missing
    if spec.dropna:
        keep &= ~numeric_missing
    return matrix[keep], target[keep], tuple(str(c) for c in X.columns), tuple(categorical)


def write_cache(
    path: Path,
    X: np.ndarray,
    y: np.ndarray,
    feature_names: tuple[str, ...],
    categorical_features: tuple[int, ...] = (),
) -> None:
    """Write a cache file in the format this module reads (see the module docstring)."""
    save_npz_atomic(
        path,
        {
            "X": np.asarray(X, dtype=np.float64),
            "y": np.asarray(y),
            "feature_names": np.asarray(feature_names, dtype=str),
            "categorical_features": np.asarray(categorical_features, dtype=np.int64),
            "format_version": np.asarray(CACHE_FORMAT_VERSION),
        },
    )


def read_cache(path: Path, spec: RemoteSpec) -> RawData:
    """Read and check a cache file; a malformed one is a ValueError naming the file."""

    def bad(why: str) -> ValueError:
        return ValueError(f"the cache file {path} of {spec.name!r} is malformed ({why}); delete it")

    try:
        with np.load(path, allow_pickle=False) as npz:
            X = np.asarray(npz["X"], dtype=np.float64)
            y = np.asarray(npz["y"])
            names = tuple(str(n) for n in npz["feature_names"])
            categorical = (
                tuple(int(i) for i in npz["categorical_features"])
                if "categorical_features" in npz.files
                else ()
            )
    except KeyError as err:
        raise bad(f"no array {err.args[0]!r}") from None
    except (OSError, ValueError) as err:
        raise bad(str(err)) from err
    if X.ndim != 2 or y.shape != (X.shape[0],) or len(names) != X.shape[1] or X.shape[0] == 0:
        raise bad(f"X {X.shape}, y {y.shape}, {len(names)} feature names")
    if any(not 0 <= i < X.shape[1] for i in categorical):
        raise bad(f"categorical_features {categorical} outside 0..{X.shape[1] - 1}")
    if spec.task == "regression":
        y = y.astype(np.float64)
    else:
        assert spec.classes is not None
        if not np.all(np.isfinite(y.astype(np.float64))) or np.any(y != np.round(y)):
            raise bad("class codes must be integers")
        y = y.astype(np.int64)
        if y.min() < 0 or y.max() >= len(spec.classes):
            raise bad(f"class codes must lie in 0..{len(spec.classes) - 1}")
    return RawData(
        X=X,
        y=y,
        feature_names=names,
        target_names=spec.target_names,
        categorical_features=categorical,
    )


def load_remote(name: str, data_home: Path, *, download: bool = True) -> RawData:
    """Read ``name`` from its cache, fetching and caching it first when the file is missing."""
    spec = REMOTE[name]
    path = cache_path(name, data_home)
    if not path.is_file():
        if not download:
            raise FileNotFoundError(
                f"the {name!r} data set is not cached at {path} and download=False"
            )
        try:
            if spec.fetcher == "openml":
                assert spec.data_id is not None
                X, y = _fetch_openml(spec.data_id, data_home)
            else:
                X, y = _fetch_california(data_home)
        except Exception as err:
            raise ConnectionError(
                f"could not download the {name!r} data set from {spec.source}: {err}. "
                f"Its cache file {path} does not exist; run once where the download works, or "
                "copy a cache file there (format: see fboost.datasets._download)."
            ) from err
        matrix, target, names, categorical = encode_frame(X, y, spec)
        write_cache(path, matrix, target, names, categorical)
    return read_cache(path, spec)


def make_loader(name: str) -> Any:
    """A registry loader ``(data_home, random_state, *, download=True)`` for ``name``."""

    def loader(data_home: Path, random_state: int, *, download: bool = True) -> RawData:
        return load_remote(name, data_home, download=download)

    loader.__name__ = f"load_{name}"
    return loader
