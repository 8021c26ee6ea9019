"""Shared fixtures: tiny synthetic data for every task."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from sklearn.datasets import make_classification, make_regression


@pytest.fixture(scope="session")
def regression_data():
    X, y = make_regression(n_samples=300, n_features=6, noise=10.0, random_state=0)
    return X, y


@pytest.fixture(scope="session")
def binary_data():
    X, y = make_classification(
        n_samples=300, n_features=6, n_informative=4, n_classes=2, random_state=0
    )
    return X, np.array(["no", "yes"])[y]


@pytest.fixture(scope="session")
def multiclass_data():
    X, y = make_classification(
        n_samples=300, n_features=6, n_informative=4, n_classes=3, random_state=0
    )
    return X, y


@pytest.fixture(scope="session")
def task_data(regression_data, binary_data, multiclass_data):
    return {"regression": regression_data, "binary": binary_data, "multiclass": multiclass_data}
