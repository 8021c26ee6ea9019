"""depth: does end-to-end training lose training accuracy with depth where BoostResNet does not?

BoostResNet's headline claim (Huang, Ash, Langford, Schapire, ICML 2018): as a ResNet grows
deeper, end-to-end back-propagation (e2eBP) gets harder to train, while training the blocks one
at a time as weak learners keeps improving. Here at a size two cores can run: an MLP-ResNet of
T blocks (``fboost.nn.TabularResNet`` blocks, no BatchNorm and no dropout, like the paper's
MLP-ResNet) on one tabular set, trained

- end to end (``ResNetClassifier``): ``e2e_epochs`` epochs over all blocks, PyTorch's default
  initialisation, no early stopping;
- by BoostResNet (``BoostResNetClassifier``, the paper's oracle and weak-learning condition):
  ``epochs_per_stage`` epochs per block, no early stopping (a stage that fails the condition
  ends training with a warning, recorded as ``n_stages`` below T).

Both see the same rows, width and optimiser (AdamW, ``lr``). The seeds vary the split, the
initial weights and the batch order. Files: ``depth.csv`` (one row per seed, depth and model:
training and test accuracy, blocks kept, fit time) and ``accuracy_vs_depth.png``. The report's
table gives, per model and depth, the mean and spread over seeds; its metrics say, per model,
how much training accuracy the deepest network lost against the best depth (``drop``).
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ._common import json_number, mean_sd, progress, save_figure, table_row, write_csv
from ._runner import BySeed, StudyConfig

__all__ = ["Config", "SIZES", "main", "seed_part", "combine", "MODELS"]

#: the two ways of training the same network, in plotting order
MODELS = ("end-to-end", "BoostResNet")


@dataclasses.dataclass(frozen=True)
class Config(StudyConfig):
    """Sizes of the depth study."""

    dataset: str = "digits"
    n_train: int | None = None  # training rows, None: all of the split (digits: about 1,350)
    depths: tuple[int, ...] = (1, 4, 16, 64, 128)  # residual blocks T
    d_block: int = 32
    e2e_epochs: int = 10
    epochs_per_stage: int = 3
    lr: float = 1e-3
    batch_size: int = 128


SIZES = {
    "smoke": Config(
        name="smoke",
        seeds=(0,),
        n_train=200,
        depths=(1, 3),
        d_block=8,
        e2e_epochs=2,
        epochs_per_stage=1,
    ),  # fmt: skip
    "quick": Config(name="quick", seeds=(0, 1)),
    "full": Config(name="full", seeds=(0, 1, 2), depths=(1, 4, 16, 64, 128, 256)),
}


def _estimator(config: Config, model: str, depth: int, seed: int) -> Any:
    from fboost import BoostResNetClassifier, ResNetClassifier

    shared = {
        "architecture": "mlp",
        "n_stages": depth,
        "d_block": config.d_block,
        "dropout1": 0.0,
        "dropout2": 0.0,
        "batch_norm": False,
        "lr": config.lr,
        "batch_size": config.batch_size,
        "n_iter_no_change": None,
        "random_state": seed,
    }
    if model == "end-to-end":
        return ResNetClassifier(max_epochs=config.e2e_epochs, **shared)
    return BoostResNetClassifier(epochs_per_stage=config.epochs_per_stage, **shared)


def _accuracy(model: Any, X: Any, y: Any) -> float:
    """Accuracy; NaN when training diverged to non-finite outputs."""
    try:
        return float(model.score(X, y))
    except ValueError:  # scikit-learn refuses NaN predictions
        return float("nan")


def seed_part(config: Config, seed: int) -> list[dict[str, Any]]:
    """One seed: a row per depth and model (the rows of ``depth.csv``)."""
    from fboost.datasets import load_dataset

    rows = []
    data = load_dataset(config.dataset, random_state=seed)
    X, y = data.X_train[: config.n_train], data.y_train[: config.n_train]
    jobs = len(config.depths) * len(MODELS)
    with progress(jobs, verbose=config.verbose, desc=f"depth seed {seed}") as bar:
        for depth in config.depths:
            for model in MODELS:
                estimator = _estimator(config, model, depth, seed)
                start = time.perf_counter()
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    estimator.fit(X, y)
                stopped = any("weak-learning" in str(w.message) for w in caught)
                rows.append(
                    {
                        "seed": seed,
                        "depth": depth,
                        "model": model,
                        "train_accuracy": _accuracy(estimator, X, y),
                        "test_accuracy": _accuracy(estimator, data.X_test, data.y_test),
                        "n_stages": int(estimator.n_stages_),
                        "stopped_by_condition": stopped,
                        "fit_seconds": time.perf_counter() - start,
                    }
                )
                bar.update()
    return rows


def combine(config: Config, parts: dict[int, list[dict[str, Any]]], output: Path) -> dict[str, Any]:
    """``depth.csv``, the figure and the report body from every seed's rows."""
    import matplotlib.pyplot as plt

    rows = [row for seed in config.seeds for row in parts[seed]]
    frame = pd.DataFrame(rows)
    write_csv(frame, output, "depth.csv")

    table, drops = [], {}
    for model in MODELS:
        means = []
        for depth in config.depths:
            subset = frame[(frame["model"] == model) & (frame["depth"] == depth)]
            train, train_sd = mean_sd(subset["train_accuracy"])
            test, test_sd = mean_sd(subset["test_accuracy"])
            means.append(train)
            table.append(
                table_row(
                    {
                        "model": model,
                        "depth": depth,
                        "train_accuracy": round(train, 4),
                        "train_accuracy_sd": round(train_sd, 4),
                        "test_accuracy": round(test, 4),
                        "test_accuracy_sd": round(test_sd, 4),
                        "n_stages": float(subset["n_stages"].mean()),
                    }
                )
            )
        drops[model] = float(np.nanmax(means) - means[-1])

    figure, axes = plt.subplots(1, 2, figsize=(10, 4), sharex=True)
    for ax, column in zip(axes, ("train_accuracy", "test_accuracy"), strict=True):
        for model in MODELS:
            subset = frame[frame["model"] == model].groupby("depth")[column]
            mean, sd = subset.mean(), subset.std().fillna(0.0)
            ax.errorbar(mean.index, mean.values, yerr=sd.values, marker="o", capsize=3, label=model)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("residual blocks T")
        ax.set_ylabel(column.replace("_", " "))
        ax.grid(alpha=0.3)
    axes[0].legend()
    figure.suptitle(
        f"depth: {config.dataset}, MLP-ResNet without BatchNorm "
        f"(e2e {config.e2e_epochs} epochs; BoostResNet {config.epochs_per_stage} per block)"
    )
    figure.tight_layout()
    figures = [save_figure(figure, output, "accuracy_vs_depth.png")]
    plt.close(figure)
    return {
        "metrics": {
            "train_accuracy_drop_at_deepest": {m: json_number(v) for m, v in drops.items()},
            "per_seed": json_safe(frame),
        },
        "table": table,
        "figures": figures,
    }


def json_safe(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of ``frame`` with plain JSON numbers (NaN becomes null)."""
    return [
        {k: v if isinstance(v, str) else json_number(v) for k, v in row.items()}
        for row in frame.to_dict("records")
    ]


#: the serial ``main(config, output)``; the runner may send the seeds to a Dask cluster
main = BySeed(seed_part, combine)
