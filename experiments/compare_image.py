"""compare-image: residual fitting on images, end to end, stagewise and with trees on pixels.

Digits (8x8), MNIST-1D (length-40 signals, run as 1x40 images) and Fashion-MNIST (28x28,
subsampled below the full size). For each data set, model and seed: test accuracy, fit time and
test accuracy after every stage. Fashion-MNIST comes from Debian (``make data``); below the full
size a machine without it skips that data set and says so in the report.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from ._compare import compare_combine, seed_grid
from ._runner import BySeed, StudyConfig

__all__ = ["Config", "SIZES", "main", "seed_part", "combine"]


@dataclasses.dataclass(frozen=True)
class Config(StudyConfig):
    """Sizes of the image comparison."""

    datasets: tuple[str, ...] = ("digits", "mnist1d", "fashion_mnist")
    models: tuple[str, ...] = ("ResNet", "BoostResNet", "NeuralBoosting", "TreeBoosting[lightgbm]")
    n_stages: int = 200  # boosting rounds of the tree model
    n_blocks: int = 3  # residual blocks / stages of the neural models
    n_neural_stages: int = 10  # GrowNet stages
    max_epochs: int = 30
    cnn_width: int | None = None  # channels of the residual CNN (None: the estimator's default)
    n_train: int | None = None  # training rows per data set (None: all); test rows: n_train // 2
    require_all: bool = False  # fail, rather than skip, when a data set is not installed
    epochs_per_stage: int | None = None  # BoostResNet's (None: max_epochs // n_blocks)
    tree_learning_rate: float = 0.1  # of the tree model (TreeBoosting's default)
    tree_subsample: float = 1.0  # rows per boosting round (LightGBM's bagging)
    tree_colsample: float = 1.0  # pixels per tree


SIZES = {
    "smoke": Config(
        name="smoke",
        seeds=(0,),
        datasets=("digits",),
        n_stages=10,
        n_blocks=2,
        n_neural_stages=3,
        max_epochs=2,
        cnn_width=8,
        n_train=300,
    ),
    "quick": Config(
        name="quick",
        seeds=(0, 1),
        n_stages=100,
        n_blocks=3,
        n_neural_stages=10,
        max_epochs=30,
        cnn_width=16,
        n_train=2000,
    ),
    "full": Config(
        name="full",
        seeds=(0, 1, 2),
        n_stages=500,
        n_blocks=4,
        n_neural_stages=30,
        max_epochs=60,
        require_all=True,
    ),
    # Fashion-MNIST alone, all 60,000 training and 10,000 test images (the claims' data set);
    # the trees subsample rows and pixels to fit the budget. Cost: the README's table.
    "paper": Config(
        name="paper",
        seeds=(0, 1, 2, 3, 4),
        datasets=("fashion_mnist",),
        models=("ResNet", "BoostResNet", "TreeBoosting[lightgbm]"),
        n_stages=200,
        n_blocks=3,
        max_epochs=15,
        epochs_per_stage=1,
        tree_learning_rate=0.15,
        tree_subsample=0.5,
        tree_colsample=0.5,
        require_all=True,
    ),
}


def _load(config: Config, name: str, seed: int) -> Any:
    """The data set ``name`` split by ``seed``: ``n_train`` training, ``n_train // 2`` test rows."""
    from fboost.datasets import dataset_table, load_dataset

    if config.n_train is None:
        return load_dataset(name, random_state=seed)
    size = dataset_table()["n_samples"][name]
    n_train = min(config.n_train, int(0.8 * size))
    n_test = min(config.n_train // 2, int(0.2 * size))
    return load_dataset(name, random_state=seed, n_train=n_train, n_test=n_test)


def seed_part(config: Config, seed: int) -> dict[str, Any]:
    """One seed: every data set and model (`experiments._compare.seed_grid`)."""
    return seed_grid(config, seed, _load, "compare-image")


def combine(config: Config, parts: dict[int, Any], output: Path) -> dict[str, Any]:
    """``scores.csv``, ``staged.csv``, the figures and the report body."""
    return compare_combine(config, parts, output, "compare-image")


#: the serial ``main(config, output)``; the runner may send the seeds to a Dask cluster
main = BySeed(seed_part, combine)
