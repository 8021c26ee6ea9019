"""compare-tabular: every estimator family beside LightGBM and scikit-learn on tabular data.

For each data set, model and seed: the test score (accuracy, or R^2 for regression), the fit time
and the test score after every stage (``scores.csv``, ``staged.csv``, one figure per data set).
All sizes use offline data; the full size adds diamonds (``make data`` installs it). Data behind a
download (california, adult, higgs, covertype) can be added to ``datasets`` once cached.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from ._compare import compare_combine, seed_grid
from ._models import MODELS
from ._runner import BySeed, StudyConfig

__all__ = ["Config", "SIZES", "main", "seed_part", "combine"]


@dataclasses.dataclass(frozen=True)
class Config(StudyConfig):
    """Sizes of the tabular comparison."""

    datasets: tuple[str, ...] = ("breast_cancer", "wine", "diabetes", "friedman1")
    models: tuple[str, ...] = tuple(MODELS)
    n_stages: int = 200  # boosting rounds of the tree models
    n_blocks: int = 4  # residual blocks / stages of the neural models
    n_neural_stages: int = 10  # GrowNet stages
    max_epochs: int = 100
    n_train: int | None = None  # subsample the training rows of big sets (None: all)
    require_all: bool = False  # fail, rather than skip, when a data set is not installed


SIZES = {
    "smoke": Config(
        name="smoke",
        seeds=(0,),
        datasets=("wine", "diabetes"),
        n_stages=10,
        n_blocks=2,
        n_neural_stages=3,
        max_epochs=3,
    ),
    "quick": Config(
        name="quick", seeds=(0, 1), n_stages=100, n_blocks=3, n_neural_stages=10, max_epochs=40
    ),
    "full": Config(
        name="full",
        seeds=(0, 1, 2, 3, 4),
        datasets=("breast_cancer", "wine", "diabetes", "friedman1", "diamonds"),
        n_stages=500,
        n_blocks=8,
        n_neural_stages=30,
        max_epochs=200,
        n_train=20_000,
        require_all=True,  # diamonds: `make data`
    ),
}


def _load(config: Config, name: str, seed: int) -> Any:
    """The data set ``name`` split by ``seed``, its rows capped at ``config.n_train``."""
    from fboost.datasets import load_dataset

    if config.n_train is None:
        return load_dataset(name, random_state=seed)
    full = load_dataset(name, random_state=seed)
    n_train = min(config.n_train, len(full.y_train))
    n_test = min(config.n_train, len(full.y_test))
    return load_dataset(name, random_state=seed, n_train=n_train, n_test=n_test)


def seed_part(config: Config, seed: int) -> dict[str, Any]:
    """One seed: every data set and model (`experiments._compare.seed_grid`)."""
    return seed_grid(config, seed, _load, "compare-tabular")


def combine(config: Config, parts: dict[int, Any], output: Path) -> dict[str, Any]:
    """``scores.csv``, ``staged.csv``, the figures and the report body."""
    return compare_combine(config, parts, output, "compare-tabular")


#: the serial ``main(config, output)``; the runner may send the seeds to a Dask cluster
main = BySeed(seed_part, combine)
