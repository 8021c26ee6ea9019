"""alignment: is each stage a step along the negative functional gradient?

For every model and stage t, the cosine between the stage's contribution ``alpha_t h_t(X)`` and
``-dL/dF`` at ``F_{t-1}(X)`` on the training data (``fboost.analysis.functional_alignment``), and
the loss the stage buys. A GBM is aligned by construction; for an end-to-end ResNet the number is
the empirical answer to "is this gradient boosting?". Writes ``alignment.csv`` (one row per data
set, model, seed and stage) and one figure per data set.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pandas as pd

from ._common import progress
from ._models import MODELS
from ._runner import StudyConfig

__all__ = ["Config", "SIZES", "main"]


@dataclasses.dataclass(frozen=True)
class Config(StudyConfig):
    """Sizes of the alignment study."""

    datasets: tuple[str, ...] = ("friedman1", "wine")
    models: tuple[str, ...] = (
        "TreeBoosting[lightgbm]",
        "TreeBoosting[sklearn]",
        "ResNet",
        "BoostResNet",
        "NeuralBoosting",
    )
    n_stages: int = 50  # boosting rounds of the tree models
    n_blocks: int = 8  # residual blocks / stages of the neural models
    n_neural_stages: int = 10  # GrowNet stages
    max_epochs: int = 60


SIZES = {
    "smoke": Config(
        name="smoke",
        seeds=(0,),
        datasets=("wine",),
        n_stages=5,
        n_blocks=2,
        n_neural_stages=3,
        max_epochs=3,
    ),
    "quick": Config(
        name="quick", seeds=(0, 1), n_stages=50, n_blocks=6, n_neural_stages=10, max_epochs=40
    ),
    "full": Config(
        name="full",
        seeds=(0, 1, 2, 3, 4),
        datasets=("friedman1", "wine", "breast_cancer", "digits"),
        n_stages=200,
        n_blocks=16,
        n_neural_stages=30,
        max_epochs=150,
    ),
}


def main(config: Config, output: Path) -> dict[str, Any]:
    from fboost.analysis import functional_alignment
    from fboost.datasets import load_dataset
    from fboost.plotting import plot_functional_alignment

    frames = []
    jobs = len(config.datasets) * len(config.seeds) * len(config.models)
    with progress(jobs, verbose=config.verbose, desc="alignment") as bar:
        for dataset in config.datasets:
            for seed in config.seeds:
                data = load_dataset(dataset, random_state=seed)
                for name in config.models:
                    model = MODELS[name].make(data, config, seed).fit(data.X_train, data.y_train)
                    frame = functional_alignment(model, data.X_train, data.y_train)
                    frame["model"] = name
                    frame["dataset"] = dataset
                    frame["seed"] = seed
                    frames.append(frame)
                    bar.update()
    table = pd.concat(frames, ignore_index=True)
    table.to_csv(output / "alignment.csv", index=False)
    figures = []
    for dataset in config.datasets:
        name = f"alignment_{dataset}.png"
        subset = table[table["dataset"] == dataset].drop(columns=["dataset", "seed"])
        mean = subset.groupby(["model", "stage"], sort=False).mean(numeric_only=True)
        figure = plot_functional_alignment(mean.reset_index(), hue="model")
        figure.suptitle(f"alignment: {dataset} (training data, mean over seeds)")
        figure.savefig(output / name, dpi=110)
        figures.append(name)
    per_seed = (
        table.groupby(["dataset", "model", "seed"], sort=False)
        .agg(mean_cosine=("cosine", "mean"), loss_decrease=("loss_decrease", "sum"))
        .reset_index()
    )
    first = table[table["stage"] == 1].groupby(["dataset", "model"], sort=False)["cosine"].mean()
    summary = (
        per_seed.groupby(["dataset", "model"], sort=False)
        .agg(
            mean_cosine=("mean_cosine", "mean"),
            mean_cosine_std=("mean_cosine", "std"),
            total_loss_decrease=("loss_decrease", "mean"),
        )
        .join(first.rename("cosine_stage_1"))
        .reset_index()
    )
    return {
        "metrics": {"per_seed": per_seed.to_dict("records")},
        "table": summary.to_dict("records"),
        "figures": figures,
    }
