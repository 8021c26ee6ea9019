"""alignment: is each stage a step along the negative functional gradient?

For every model and stage t, on the training data, two cosines:

- functional (``fboost.analysis.functional_alignment``): the stage's contribution
  ``alpha_t h_t(X)`` against ``-dL/dF`` at ``F_{t-1}(X)``, and the loss the stage buys. A GBM is
  aligned by construction; for a network it only sees the block through the final head.
- feature (``fboost.analysis.feature_alignment``, column ``feature_cosine``; NaN for models
  without a feature space): the block's update ``f_t(z_{t-1})`` against ``-dL/dz_{t-1}`` with the
  later blocks and the head downstream, which also sees what the head maps to zero.

Writes ``alignment.csv`` (one row per data set, model, seed and stage) and two figures per data
set (``alignment_<set>.png``, functional; ``feature_alignment_<set>.png``, feature).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pandas as pd

from ._common import progress
from ._models import MODELS
from ._runner import BySeed, StudyConfig

__all__ = ["Config", "SIZES", "main", "seed_part", "combine"]


@dataclasses.dataclass(frozen=True)
class Config(StudyConfig):
    """Sizes of the alignment study."""

    datasets: tuple[str, ...] = ("friedman1", "wine")
    models: tuple[str, ...] = (
        "TreeBoosting[lightgbm]",
        "TreeBoosting[sklearn]",
        "ResNet",
        "BoostResNet",
        "ResFGB",
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
    # the four models of the claims, on the two regression / classification sets of the quick
    # size and breast_cancer
    "paper": Config(
        name="paper",
        seeds=(0, 1, 2, 3, 4),
        datasets=("friedman1", "wine", "breast_cancer"),
        models=("TreeBoosting[lightgbm]", "ResNet", "BoostResNet", "ResFGB"),
        n_stages=100,
        n_blocks=8,
        max_epochs=100,
    ),
}


def seed_part(config: Config, seed: int) -> list[pd.DataFrame]:
    """One seed: a frame per data set and model (one row per stage)."""
    from fboost.analysis import feature_alignment, functional_alignment
    from fboost.datasets import load_dataset

    frames = []
    jobs = len(config.datasets) * len(config.models)
    with progress(jobs, verbose=config.verbose, desc=f"alignment seed {seed}") as bar:
        for dataset in config.datasets:
            data = load_dataset(dataset, random_state=seed)
            for name in config.models:
                model = MODELS[name].make(data, config, seed).fit(data.X_train, data.y_train)
                frame = functional_alignment(model, data.X_train, data.y_train)
                frame["feature_cosine"] = _feature_cosine(
                    feature_alignment, model, data, len(frame)
                )
                frame["model"] = name
                frame["dataset"] = dataset
                frame["seed"] = seed
                frames.append(frame)
                bar.update()
    return frames


def combine(config: Config, parts: dict[int, list[pd.DataFrame]], output: Path) -> dict[str, Any]:
    """``alignment.csv``, the figures and the report body (rows by data set, seed, model)."""
    from fboost.plotting import plot_functional_alignment

    per_dataset = len(config.models)
    frames = [
        frame
        for index in range(len(config.datasets))
        for seed in config.seeds
        for frame in parts[seed][index * per_dataset : (index + 1) * per_dataset]
    ]
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
        name = f"feature_alignment_{dataset}.png"
        networks = mean.reset_index().dropna(subset=["feature_cosine"])
        networks = networks.assign(cosine=networks["feature_cosine"])
        figure = plot_functional_alignment(networks, hue="model")
        figure.axes[0].set_ylabel("cosine(f_t(z_{t-1}), -dL/dz_{t-1})")
        figure.suptitle(f"feature alignment: {dataset} (training data, mean over seeds)")
        figure.savefig(output / name, dpi=110)
        figures.append(name)
    per_seed = (
        table.groupby(["dataset", "model", "seed"], sort=False)
        .agg(
            mean_cosine=("cosine", "mean"),
            mean_feature_cosine=("feature_cosine", "mean"),
            loss_decrease=("loss_decrease", "sum"),
        )
        .reset_index()
    )
    first = table[table["stage"] == 1].groupby(["dataset", "model"], sort=False)["cosine"].mean()
    summary = (
        per_seed.groupby(["dataset", "model"], sort=False)
        .agg(
            mean_cosine=("mean_cosine", "mean"),
            mean_cosine_std=("mean_cosine", "std"),
            mean_feature_cosine=("mean_feature_cosine", "mean"),
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


def _feature_cosine(measure: Any, model: Any, data: Any, n_stages: int) -> list[float]:
    """``feature_alignment``'s cosine per stage, NaN for models without a feature space."""
    try:
        frame = measure(model, data.X_train, data.y_train)
    except TypeError as exc:  # trees and other function-space models
        if "no feature space" not in str(exc):
            raise
        return [float("nan")] * n_stages
    return [float(c) for c in frame["cosine"]]


#: the serial ``main(config, output)``; the runner may send the seeds to a Dask cluster
main = BySeed(seed_part, combine)
