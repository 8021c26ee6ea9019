"""gradient_flow: did residual learning solve vanishing gradients? (issue 6)

A depth sweep of four networks of the same shape (``ResNetRegressor`` / ``ResNetClassifier``,
``architecture="mlp"``): residual or plain (``skip=False``), each with and without BatchNorm,
measured twice per depth and seed, at initialisation and after a short training that starts
from exactly those weights (``max_epochs`` epochs on all training rows, no early stopping).

What is measured (:func:`fboost.analysis.gradient_norms`): one forward and backward pass of the
mean training loss over a fixed batch (the first ``n_measure`` training rows), in train mode
(BatchNorm on the batch's statistics, as during training; dropout is 0 throughout), giving the
mean per-sample norm ``||dL/dz_t||`` at every feature map ``z_0 .. z_T``. The headline number is

    ratio = ||dL/dz_0|| / ||dL/dz_T||

the gradient that reaches the input of the first block relative to the one at the output of the
last block: 1 means the gradient passes through all T blocks unchanged; it vanishes (-> 0) or
explodes (>> 1) with depth in a plain network (He et al. 2016). A ratio of exactly 0 means the
gradient underflowed float32.

Data: ``friedman1`` by default (regression, 10 features; any tabular set of
:mod:`fboost.datasets` works), with a fixed split; the seeds vary the initial weights and the
batch order. Files: ``block_gradients.csv`` (one row per seed, network, depth, state and stage),
``ratios.csv`` (one row per seed, network, depth and state, with the test score after training),
``ratio_vs_depth.png`` and ``profiles_init.png`` / ``profiles_trained.png`` (per-block profiles
of the deepest networks, first seed).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ._common import (
    geometric_mean_sd,
    json_number,
    mean_sd,
    progress,
    save_figure,
    table_row,
    write_csv,
)
from ._runner import BySeed, StudyConfig

__all__ = ["Config", "SIZES", "main", "seed_part", "combine", "NETWORKS"]

#: (network, batch_norm) of the four configurations, in plotting order
NETWORKS: tuple[tuple[str, bool], ...] = (
    ("residual", True),
    ("residual", False),
    ("plain", True),
    ("plain", False),
)
STATES = ("init", "trained")


@dataclasses.dataclass(frozen=True)
class Config(StudyConfig):
    """Sizes of the gradient-flow study."""

    dataset: str = "friedman1"
    n_train: int | None = None  # training rows, None: all (friedman1: 1,600 of 2,000)
    n_test: int | None = None  # test rows, None: all (friedman1: 400)
    n_measure: int = 256
    depths: tuple[int, ...] = (2, 4, 8, 16, 32, 64, 128)  # residual blocks T
    d_block: int = 32
    d_hidden: int = 64
    max_epochs: int = 5  # the "short training"
    lr: float = 1e-3
    batch_size: int = 128


SIZES = {
    "smoke": Config(
        name="smoke",
        seeds=(0, 1),
        n_train=200,
        n_test=100,
        n_measure=64,
        depths=(2, 16),
        d_block=8,
        d_hidden=16,
        max_epochs=1,
    ),
    "quick": Config(
        name="quick", seeds=(0, 1, 2), n_train=1000, depths=(2, 4, 8, 16, 32, 64), max_epochs=3
    ),
    "full": Config(name="full", seeds=(0, 1, 2, 3, 4), max_epochs=10),
    # He et al.'s eq. 5 from 2 to 128 blocks, at initialisation and after 20 epochs
    "paper": Config(name="paper", seeds=(0, 1, 2, 3, 4), max_epochs=20),
}


def label(network: str, batch_norm: bool) -> str:
    """``"residual + BN"``, ``"plain"``, ... (figure legends and table rows)."""
    return f"{network} + BN" if batch_norm else network


def _estimator(
    config: Config, task: str, network: str, batch_norm: bool, depth: int, seed: int
) -> Any:
    from fboost import ResNetClassifier, ResNetRegressor

    cls = ResNetRegressor if task == "regression" else ResNetClassifier
    return cls(
        architecture="mlp",
        n_stages=depth,
        d_block=config.d_block,
        d_hidden=config.d_hidden,
        dropout1=0.0,
        dropout2=0.0,
        skip=network == "residual",
        batch_norm=batch_norm,
        lr=config.lr,
        batch_size=config.batch_size,
        max_epochs=config.max_epochs,
        n_iter_no_change=None,
        random_state=seed,
    )


def test_score(model: Any, data: Any) -> float:
    """``model.score`` on the test split; NaN when training diverged to non-finite outputs."""
    try:
        return float(model.score(data.X_test, data.y_test))
    except ValueError:  # scikit-learn refuses NaN predictions
        return float("nan")


def _trained(epochs: int) -> str:
    return f"after {epochs} epoch{'s' if epochs != 1 else ''} of training"


def _ratio_summary(values: list[float]) -> tuple[float, float]:
    """Geometric mean and spread over seeds; 0 if any seed underflowed to 0."""
    finite = [v for v in values if np.isfinite(v)]
    if finite and min(finite) == 0.0:
        return 0.0, float("nan")
    return geometric_mean_sd(finite)


def seed_part(config: Config, seed: int) -> tuple[list[pd.DataFrame], list[dict[str, Any]]]:
    """One seed: the per-block gradient profiles and the ratio rows of every network and depth."""
    from fboost.analysis import gradient_norms
    from fboost.datasets import load_dataset

    data = load_dataset(config.dataset, n_train=config.n_train, n_test=config.n_test)
    X_batch, y_batch = data.X_train[: config.n_measure], data.y_train[: config.n_measure]
    profiles, ratios = [], []
    jobs = len(NETWORKS) * len(config.depths)
    with progress(jobs, verbose=config.verbose, desc=f"gradient_flow seed {seed}") as bar:
        for network, batch_norm in NETWORKS:
            for depth in config.depths:
                model = _estimator(config, data.task, network, batch_norm, depth, seed)
                for state in STATES:
                    if state == "trained":  # from the very weights measured at init
                        model.fit(data.X_train, data.y_train)
                    frame = gradient_norms(model, X_batch, y_batch, random_state=seed)
                    frame["state"] = state
                    frame["seed"] = seed
                    profiles.append(frame)
                    first, last = frame["grad_norm"].iloc[[0, -1]]
                    trained = state == "trained"
                    ratios.append(
                        {
                            "seed": seed,
                            "network": network,
                            "batch_norm": batch_norm,
                            "depth": depth,
                            "state": state,
                            "grad_first": first,
                            "grad_last": last,
                            "ratio": first / last if last > 0 else np.nan,
                            "train_loss": model.train_score_[-1] if trained else np.nan,
                            "test_score": test_score(model, data) if trained else np.nan,
                        }
                    )
                bar.update()
    return profiles, ratios


def combine(config: Config, parts: dict[int, Any], output: Path) -> dict[str, Any]:
    """The CSV files, figures and report body from every seed's part."""
    profiles = [frame for seed in config.seeds for frame in parts[seed][0]]
    ratios = [row for seed in config.seeds for row in parts[seed][1]]
    blocks = pd.concat(profiles, ignore_index=True)
    table = pd.DataFrame(ratios)
    write_csv(blocks, output, "block_gradients.csv")
    write_csv(table, output, "ratios.csv")
    figures = [save_figure(plot_ratio_vs_depth(table, config), output, "ratio_vs_depth.png")]
    deepest = max(config.depths)
    for state in STATES:
        figure = _plot_profiles(blocks, deepest, state, config.seeds[0], config.max_epochs)
        figures.append(save_figure(figure, output, f"profiles_{state}.png"))
    return {
        "metrics": _metrics(table, config),
        "table": _table_rows(table, config),
        "figures": figures,
    }


def _metrics(table: pd.DataFrame, config: Config) -> dict[str, Any]:
    """Per-seed numbers: ratio[config][state][depth] and test_score[config][depth], seed order."""
    ratio: dict[str, Any] = {}
    score: dict[str, Any] = {}
    for (network, batch_norm), rows in table.groupby(["network", "batch_norm"], sort=False):
        name = label(str(network), bool(batch_norm))
        ratio[name] = {
            state: {
                str(depth): [json_number(v) for v in cell["ratio"]]
                for depth, cell in rows[rows["state"] == state].groupby("depth")
            }
            for state in STATES
        }
        trained = rows[rows["state"] == "trained"]
        score[name] = {
            str(depth): [json_number(v) for v in cell["test_score"]]
            for depth, cell in trained.groupby("depth")
        }
    return {
        "seeds": list(config.seeds),
        "ratio_first_last": ratio,
        "test_score": score,
        "ratio_definition": "||dL/dz_0|| / ||dL/dz_T|| (mean per-sample norms, train mode)",
    }


def _table_rows(table: pd.DataFrame, config: Config) -> list[dict[str, Any]]:
    rows = []
    for network, batch_norm in NETWORKS:
        for depth in config.depths:
            cell = table[
                (table["network"] == network)
                & (table["batch_norm"] == batch_norm)
                & (table["depth"] == depth)
            ]
            row: dict[str, Any] = {"network": label(network, batch_norm), "blocks": depth}
            for state in STATES:
                mean, spread = _ratio_summary(cell.loc[cell["state"] == state, "ratio"].tolist())
                row[f"ratio {state} (geo-mean)"] = mean
                row[f"{state} ×/÷"] = spread
            score, score_sd = mean_sd(cell.loc[cell["state"] == "trained", "test_score"])
            row["test score (trained)"] = score
            row["test score sd"] = score_sd
            rows.append(table_row(row))
    return rows


def plot_ratio_vs_depth(table: pd.DataFrame, config: Config) -> Any:
    """``||dL/dz_0|| / ||dL/dz_T||`` against depth, log-log; one panel per state.

    Lines: geometric mean over seeds; bands: min to max over seeds. A ratio that underflowed
    to 0 is drawn as a triangle on the bottom edge.
    """
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    figure = Figure(figsize=(10.0, 4.0), layout="constrained")
    axes = figure.subplots(1, 2, sharey=True)
    positive = table.loc[table["ratio"] > 0, "ratio"]
    floor = float(positive.min()) / 30 if len(positive) else 1e-30
    any_zero = False
    for ax, state in zip(axes, STATES, strict=True):
        rows = table[table["state"] == state]
        for index, (network, batch_norm) in enumerate(NETWORKS):
            color = f"C{index}"
            cell = rows[(rows["network"] == network) & (rows["batch_norm"] == batch_norm)]
            by_depth = cell.groupby("depth")["ratio"]
            depths = np.array(sorted(cell["depth"].unique()), dtype=float)
            means = np.array([_ratio_summary(by_depth.get_group(d).tolist())[0] for d in depths])
            low = np.array([by_depth.get_group(d).min() for d in depths])
            high = np.array([by_depth.get_group(d).max() for d in depths])
            shown = means > 0
            ax.plot(
                depths[shown],
                means[shown],
                marker="o",
                ms=4,
                color=color,
                ls="--" if network == "plain" else "-",
                label=label(network, batch_norm),
            )
            band = shown & (low > 0)
            ax.fill_between(depths[band], low[band], high[band], color=color, alpha=0.15)
            zero = means == 0
            if zero.any():
                any_zero = True
                ax.plot(depths[zero], np.full(zero.sum(), floor), "v", color=color, ms=8)
        ax.axhline(1.0, color="0.5", lw=0.8, ls=":")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xticks(list(config.depths), [str(d) for d in config.depths])
        ax.set_xlabel("residual blocks T (depth)")
        ax.set_title("at initialisation" if state == "init" else _trained(config.max_epochs))
        ax.grid(True, which="major", alpha=0.3)
    axes[0].set_ylabel("||dL/dz_0|| / ||dL/dz_T||  (log)")
    handles, labels = axes[0].get_legend_handles_labels()
    if any_zero:
        handles.append(Line2D([], [], marker="v", ls="", color="0.3", ms=8))
        labels.append("underflow to 0 (float32)")
    axes[0].legend(handles, labels, fontsize="small")
    figure.suptitle(
        f"Gradient reaching the first block, relative to the last ({config.dataset}; "
        f"geo-mean over {len(config.seeds)} seeds, band: min–max)"
    )
    return figure


def _plot_profiles(blocks: pd.DataFrame, depth: int, state: str, seed: int, epochs: int) -> Any:
    from fboost.plotting import plot_gradient_norms

    rows = blocks[(blocks["n_stages"] == depth) & (blocks["state"] == state)]
    rows = rows[rows["seed"] == seed].copy()
    rows["config"] = [label(n, b) for n, b in zip(rows["network"], rows["batch_norm"], strict=True)]
    figure = plot_gradient_norms(rows, hue="config", relative=True, figsize=(10.0, 4.0))
    when = "at initialisation" if state == "init" else _trained(epochs)
    figure.suptitle(f"Per-block gradients, {depth} blocks, {when} (seed {seed})")
    return figure


#: the serial ``main(config, output)``; the runner may send the seeds to a Dask cluster
main = BySeed(seed_part, combine)
