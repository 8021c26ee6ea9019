"""lesion: do a ResNet's blocks behave like an ensemble? (Veit et al. 2016; issue 6)

Three additive models with the same number of stages T are trained on the same data and
taken apart on the test set with :func:`fboost.analysis.lesion_study`: each single stage
removed, then k random stages removed (``n_repeats`` subsets per k).

- **ResNet**: ``ResNetClassifier`` (``architecture="mlp"``, BatchNorm), T residual blocks
  trained end to end. Removing block t sets ``z_t = z_{t-1}``; later blocks see the changed input.
- **plain net**: the same network with ``skip=False`` (same depth, widths, BatchNorm and
  training). Removing block t passes its input on unchanged (``z_t = z_{t-1}``), as Veit et
  al. removed layers of a VGG net; the widths are constant, so this is always defined.
- **GBM**: ``TreeBoostingClassifier`` (LightGBM) with T boosting rounds (a stage is one round:
  one tree per class) and a large learning rate, so that T rounds fit the data. Removing
  round t subtracts its contribution ``alpha_t h_t``.

Veit et al. found that a ResNet degrades smoothly when blocks are removed, while a plain net
collapses to chance; a GBM, an explicit ensemble, is the reference point of "behaves like an
ensemble". Data: ``digits`` by default (1,797 8x8 images as 64 features, 10 classes, a fixed
stratified 80/20 split; score: test accuracy, chance 0.1); any set of :mod:`fboost.datasets`
works (regression scores R^2). The seeds vary the networks' weights and batch order, the GBM's
seed and the random lesion subsets; the data split is fixed (LightGBM without subsampling is
deterministic, so the GBM's spread over seeds is 0).

Files: ``lesion.csv`` (one row per seed, model and lesioned model: the columns of
``lesion_study`` plus ``seed``) and ``lesion.png`` (scores averaged over seeds).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pandas as pd

from ._common import json_number, mean_sd, progress, save_figure, table_row, write_csv
from ._runner import StudyConfig

__all__ = ["Config", "SIZES", "main", "MODELS"]

MODELS = ("ResNet", "plain net", "GBM")


@dataclasses.dataclass(frozen=True)
class Config(StudyConfig):
    """Sizes of the lesion study."""

    dataset: str = "digits"
    n_train: int | None = None  # None: the whole training split
    n_test: int | None = None
    n_stages: int = 24  # T: blocks of both networks, boosting rounds of the GBM
    d_block: int = 32
    d_hidden: int = 64
    max_epochs: int = 60
    lr: float = 1e-3
    batch_size: int = 128
    gbm_learning_rate: float = 0.3
    gbm_num_leaves: int = 8
    ks: tuple[int, ...] = (1, 2, 4, 8, 16)  # numbers of random stages removed
    n_repeats: int = 20  # random subsets per k


SIZES = {
    "smoke": Config(
        name="smoke",
        seeds=(0, 1),
        n_train=300,
        n_test=150,
        n_stages=4,
        d_block=16,
        d_hidden=32,
        max_epochs=10,
        lr=3e-3,
        ks=(1, 2),
        n_repeats=3,
    ),
    "quick": Config(
        name="quick", seeds=(0, 1, 2), n_stages=12, max_epochs=30, ks=(1, 2, 4, 8), n_repeats=10
    ),
    "full": Config(name="full", seeds=(0, 1, 2, 3, 4)),
}


def _model(config: Config, task: str, name: str, seed: int) -> Any:
    from fboost import (
        ResNetClassifier,
        ResNetRegressor,
        TreeBoostingClassifier,
        TreeBoostingRegressor,
    )

    regression = task == "regression"
    if name == "GBM":
        gbm = TreeBoostingRegressor if regression else TreeBoostingClassifier
        return gbm(
            n_stages=config.n_stages,
            learning_rate=config.gbm_learning_rate,
            num_leaves=config.gbm_num_leaves,
            random_state=seed,
        )
    net = ResNetRegressor if regression else ResNetClassifier
    return net(
        architecture="mlp",
        n_stages=config.n_stages,
        d_block=config.d_block,
        d_hidden=config.d_hidden,
        dropout1=0.0,
        dropout2=0.0,
        skip=name == "ResNet",
        batch_norm=True,
        lr=config.lr,
        batch_size=config.batch_size,
        max_epochs=config.max_epochs,
        n_iter_no_change=None,
        random_state=seed,
    )


def main(config: Config, output: Path) -> dict[str, Any]:
    from fboost.analysis import lesion_study
    from fboost.datasets import load_dataset

    data = load_dataset(config.dataset, n_train=config.n_train, n_test=config.n_test)
    ks = [k for k in config.ks if k <= config.n_stages]
    frames = []
    with progress(len(config.seeds) * len(MODELS), verbose=config.verbose, desc="lesion") as bar:
        for seed in config.seeds:
            for name in MODELS:
                model = _model(config, data.task, name, seed).fit(data.X_train, data.y_train)
                frame = lesion_study(
                    model,
                    data.X_test,
                    data.y_test,
                    k=ks,
                    n_repeats=config.n_repeats,
                    random_state=seed,
                )
                frame["model"] = name
                frame.insert(0, "seed", seed)
                frames.append(frame)
                bar.update()
    table = pd.concat(frames, ignore_index=True)
    write_csv(table, output, "lesion.csv")
    chance = None if data.n_classes is None else 1.0 / data.n_classes
    figure = plot_lesion(table, config, chance)
    per_seed = _per_seed(table, ks)
    return {
        "metrics": {"seeds": list(config.seeds), "score": "test " + _score_name(data.task)}
        | per_seed,
        "table": _table_rows(per_seed, ks),
        "figures": [save_figure(figure, output, "lesion.png")],
    }


def _score_name(task: str) -> str:
    return "R^2" if task == "regression" else "accuracy"


def _per_seed(table: pd.DataFrame, ks: list[int]) -> dict[str, Any]:
    """``{"intact": {model: [per seed]}, "single_mean": ..., "single_min": ...,
    "random_mean": {model: {k: [per seed]}}}``."""
    out: dict[str, Any] = {"intact": {}, "single_mean": {}, "single_min": {}, "random_mean": {}}
    for name in MODELS:
        rows = table[table["model"] == name]
        by_seed = rows.groupby("seed", sort=False)
        out["intact"][name] = [
            json_number(g.loc[g["kind"] == "none", "score"].iloc[0]) for _, g in by_seed
        ]
        singles = [g.loc[g["kind"] == "single", "score"] for _, g in by_seed]
        out["single_mean"][name] = [json_number(s.mean()) for s in singles]
        out["single_min"][name] = [json_number(s.min()) for s in singles]
        out["random_mean"][name] = {
            str(k): [
                json_number(g.loc[(g["kind"] == "random") & (g["k"] == k), "score"].mean())
                for _, g in by_seed
            ]
            for k in ks
        }
    return out


def _table_rows(per_seed: dict[str, Any], ks: list[int]) -> list[dict[str, Any]]:
    rows = []
    for name in MODELS:
        intact, intact_sd = mean_sd(per_seed["intact"][name])
        single, single_sd = mean_sd(per_seed["single_mean"][name])
        row: dict[str, Any] = {
            "model": name,
            "intact": intact,
            "intact sd": intact_sd,
            "1 removed (mean over stages)": single,
            "1 removed sd": single_sd,
            "1 removed (worst stage)": mean_sd(per_seed["single_min"][name])[0],
        }
        for k in ks:
            if k > 1:
                row[f"{k} random removed"] = mean_sd(per_seed["random_mean"][name][str(k)])[0]
        rows.append(table_row(row))
    return rows


def plot_lesion(table: pd.DataFrame, config: Config, chance: float | None) -> Any:
    """:func:`fboost.plotting.plot_lesion_study` on scores averaged over seeds.

    Intact and single-stage scores are averaged per stage over seeds; the error bars of the
    random lesions are the standard deviation over all subsets and seeds.
    """
    from matplotlib.ticker import MaxNLocator

    from fboost.plotting import plot_lesion_study

    keys = ["model", "kind", "k", "stage"]
    fixed = table[table["kind"] != "random"]
    averaged = fixed.groupby(keys, sort=False, dropna=False)["score"].mean().reset_index()
    random = table.loc[table["kind"] == "random", [*keys, "score"]]
    frame = pd.concat([averaged, random], ignore_index=True)
    figure = plot_lesion_study(frame, hue="model", figsize=(10.0, 4.0))
    for ax in figure.axes:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if chance is not None:
        for ax in figure.axes:
            ax.axhline(chance, color="0.5", ls=":", lw=1, label="chance")
        figure.axes[0].legend(fontsize="small")
    figure.suptitle(
        f"Lesion study on {config.dataset} (T = {config.n_stages} stages; test score, mean "
        f"over {len(config.seeds)} seeds)"
    )
    return figure
