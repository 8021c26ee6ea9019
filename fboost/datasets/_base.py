"""What every loader shares: the result record, the cache folder, the split and the subsample."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split
from sklearn.utils import resample

__all__ = ["Dataset", "RawData", "Task", "get_data_home"]

Task = Literal["regression", "binary", "multiclass"]

DATA_HOME_ENV = "FBOOST_DATA"


@dataclass(frozen=True, eq=False, repr=False)
class Dataset:
    """A data set split into a training and a test part, as ``load_dataset`` returns it.

    Attributes
    ----------
    name : str
        Registry name, e.g. ``"digits"``.
    task : {"regression", "binary", "multiclass"}
        What ``y`` holds.
    X_train : ndarray of shape (n_train, n_features)
        Training rows: float64 for tables; float32 for signals and images, whose pixels are
        scaled to [0, 1]. Image sets are flat too: ``X.reshape(-1, *image_shape)`` (or
        ``as_images``) gives ``(n, C, H, W)``.
    X_test : ndarray of shape (n_test, n_features)
        Test rows, same dtype.
    y_train, y_test : ndarray of shape (n_train,) and (n_test,)
        Float64 targets for regression; int64 class codes ``0 .. n_classes - 1`` otherwise.
    feature_names : tuple of str
        One name per column of ``X``.
    n_classes : int or None
        Number of classes; None for regression.
    image_shape : tuple of int or None
        ``(C, H, W)`` for images, ``(C, L)`` for 1-D signals; None for tables.
    target_names : tuple of str or None
        Name of each class code; None for regression.
    categorical_features : tuple of int
        Columns holding integer codes of a categorical variable (code -1 marks a missing value).
        Tree models take them as they are (``TreeBoostingClassifier(categorical_features=...)``);
        networks see the codes as numbers, so one-hot encode them first if that matters.
    categories : dict of str to tuple of str
        For the categorical columns whose labels are known, feature name -> label of each code
        (code ``i`` means ``categories[name][i]``); ``as_frame`` uses it.
    description : str
        One paragraph on the data and its preprocessing.
    source : str
        Where the data came from.
    split : str
        How the train/test split was made.

    Examples
    --------
    >>> from fboost.datasets import load_dataset
    >>> data = load_dataset("digits")
    >>> data.task, data.n_classes, data.image_shape
    ('multiclass', 10, (1, 8, 8))
    >>> data.X_train.shape, data.X_test.shape, data.y_test.dtype
    ((1437, 64), (360, 64), dtype('int64'))
    >>> data.as_images(data.X_test[:2]).shape
    (2, 1, 8, 8)
    """

    name: str
    task: Task
    X_train: np.ndarray
    X_test: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray
    feature_names: tuple[str, ...]
    n_classes: int | None
    image_shape: tuple[int, ...] | None
    target_names: tuple[str, ...] | None
    categorical_features: tuple[int, ...]
    description: str
    source: str
    split: str
    categories: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def n_features(self) -> int:
        """Number of columns of ``X_train``."""
        return int(self.X_train.shape[1])

    @property
    def n_train(self) -> int:
        """Number of training rows."""
        return int(self.X_train.shape[0])

    @property
    def n_test(self) -> int:
        """Number of test rows."""
        return int(self.X_test.shape[0])

    def as_images(self, X: np.ndarray) -> np.ndarray:
        """Reshape flat rows of an image or signal set to ``(n, *image_shape)`` (a view).

        Raises
        ------
        ValueError
            If the data set has no ``image_shape``.
        """
        if self.image_shape is None:
            raise ValueError(f"the {self.name!r} data set is a table: it has no image_shape")
        return np.asarray(X).reshape(-1, *self.image_shape)

    def as_frame(self, X: np.ndarray) -> pd.DataFrame:
        """Rows of ``X`` as a DataFrame, the features in ``categories`` as ``category`` columns.

        Columns are named by ``feature_names``; code -1 becomes a missing value. fboost's
        LightGBM-engine estimators take such a frame and treat those columns as categorical on
        their own; the other columns stay float64.

        Raises
        ------
        ValueError
            If ``X`` is not 2-D with one column per feature, or holds a code that is not one of
            the column's categories.
        """
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != len(self.feature_names):
            raise ValueError(
                f"X must have shape (n, {len(self.feature_names)}) for the {self.name!r} data "
                f"set, got {X.shape}"
            )
        frame = pd.DataFrame(X, columns=list(self.feature_names))
        for name, labels in self.categories.items():
            codes = frame[name].to_numpy()
            if not np.isin(codes, np.arange(-1, len(labels))).all():
                raise ValueError(
                    f"column {name!r} holds codes outside -1..{len(labels) - 1}, so it is not "
                    f"a category code of the {self.name!r} data set"
                )
            frame[name] = pd.Categorical.from_codes(codes.astype(np.int64), categories=labels)
        return frame

    def __repr__(self) -> str:
        parts = [
            f"name={self.name!r}",
            f"task={self.task!r}",
            f"n_train={self.n_train}",
            f"n_test={self.n_test}",
            f"n_features={self.n_features}",
        ]
        if self.n_classes is not None:
            parts.append(f"n_classes={self.n_classes}")
        if self.image_shape is not None:
            parts.append(f"image_shape={self.image_shape}")
        return f"Dataset({', '.join(parts)})"


@dataclass(frozen=True, eq=False)
class RawData:
    """What a loader hands back before the split: all rows, or the published train/test parts.

    ``scale`` (when set) multiplies ``X`` after subsampling, so that big uint8 image arrays are
    converted to float only for the rows kept.
    """

    X: np.ndarray
    y: np.ndarray
    feature_names: tuple[str, ...]
    X_test: np.ndarray | None = None
    y_test: np.ndarray | None = None
    target_names: tuple[str, ...] | None = None
    categorical_features: tuple[int, ...] = ()
    categories: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    scale: float | None = None
    notes: str = ""


def get_data_home(data_home: str | os.PathLike[str] | None = None) -> Path:
    """The folder where fboost caches downloaded and regenerated data.

    Parameters
    ----------
    data_home : str, path-like or None, default=None
        The folder itself. None takes ``$FBOOST_DATA`` when set, else ``~/.cache/fboost``.

    Returns
    -------
    Path
        The folder (not created here; loaders create it when they first write).

    Examples
    --------
    >>> from fboost.datasets import get_data_home
    >>> get_data_home("/tmp/fboost-data").name
    'fboost-data'
    """
    if data_home is None:
        data_home = os.environ.get(DATA_HOME_ENV) or Path("~") / ".cache" / "fboost"
    return Path(data_home).expanduser()


def save_npz_atomic(path: Path, arrays: Mapping[str, np.ndarray]) -> None:
    """Write ``arrays`` to ``path`` as .npz through a temporary file and a rename.

    A reader never sees a half-written file, and two processes writing the same cache leave one
    whole file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, **arrays)  # type: ignore[arg-type]
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _stratify_labels(y: np.ndarray, classification: bool) -> np.ndarray | None:
    """Labels to stratify on, or None where stratifying is impossible (a class with one row)."""
    if not classification:
        return None
    _, counts = np.unique(y, return_counts=True)
    return y if counts.min() >= 2 else None


def split_indices(
    y: np.ndarray, *, test_size: float, classification: bool, random_state: int
) -> tuple[np.ndarray, np.ndarray]:
    """Seeded train/test row indices, stratified on ``y`` for classification."""
    index = np.arange(len(y))
    train, test = train_test_split(
        index,
        test_size=test_size,
        random_state=random_state,
        stratify=_stratify_labels(y, classification),
    )
    return np.asarray(train), np.asarray(test)


def subsample_indices(
    y: np.ndarray, n: int | None, *, argument: str, classification: bool, random_state: int
) -> np.ndarray:
    """``n`` row indices drawn without replacement (stratified for classification); all if None."""
    total = len(y)
    if n is None or n == total:
        return np.arange(total)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"{argument} must be an int or None, got {n!r}")
    if not 1 <= n <= total:
        raise ValueError(f"{argument} must be in [1, {total}] for this data set, got {n}")
    index = resample(
        np.arange(total),
        replace=False,
        n_samples=int(n),
        random_state=random_state,
        stratify=_stratify_labels(y, classification),
    )
    return np.asarray(index)
