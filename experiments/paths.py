"""paths: which paths of a deep ResNet carry its gradient? (Veit et al. 2016, Sec. 5; issue 6)

Unrolled, a residual network of T blocks is ``2^T`` paths; the number of paths that go through
k residual branches is ``C(T, k)`` (:func:`fboost.analysis.path_length_distribution`), so most
paths have length near T/2. Veit et al. measured the gradient each path length carries and found
that nearly all of it comes from short paths, the *effective paths* (5 to 17 of the 54 blocks of
their 110-layer CIFAR ResNet).

This study repeats the measurement (:func:`fboost.analysis.gradient_by_path_length`) for a deep
``ResNetClassifier`` (``architecture="mlp"``, BatchNorm, dropout 0) at initialisation and after a
short training that starts from those weights (``max_epochs`` epochs, no early stopping). For
each length k, ``n_paths`` paths are drawn; the gradient of the mean loss over a fixed batch
(the first ``n_measure`` training rows, train mode) is sent back through their k residual
branches only, and its norm at the input of the first block is the gradient of one path. Times
``C(T, k)``, it is the total gradient of length k; the effective range is the shortest run of
lengths carrying ``coverage`` of the total.

Summaries per seed and state: the effective range, the gradient-weighted mean path length
(``sum_k k * share_k``; the mean over all paths is T/2), and the factor by which one extra
residual branch scales a path's gradient (``10^slope`` of a straight-line fit of
``log10(gradient of one path)`` against k). Data: ``digits`` by default (any classification or
regression set of :mod:`fboost.datasets` works), a fixed split; the seeds vary the weights, the
batch order and the sampled paths.

Files: ``path_distribution.csv`` (the binomial distribution of path lengths),
``gradient_by_path_length.csv`` (one row per seed, state and length), ``summary.csv`` (one row
per seed and state) and ``paths.png``.
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

__all__ = ["Config", "SIZES", "main", "seed_part", "combine"]

STATES = ("init", "trained")


@dataclasses.dataclass(frozen=True)
class Config(StudyConfig):
    """Sizes of the path study."""

    dataset: str = "digits"
    n_train: int | None = None  # None: the whole training split
    n_test: int | None = None
    n_stages: int = 54  # residual blocks T (Veit et al.'s 110-layer CIFAR ResNet has 54)
    d_block: int = 32
    d_hidden: int = 64
    max_epochs: int = 20  # the "short training"
    lr: float = 1e-3
    batch_size: int = 128
    n_measure: int = 512  # rows of the batch the gradient is measured on
    n_paths: int = 30  # paths drawn per length
    coverage: float = 0.9  # share of the total gradient the effective range carries


SIZES = {
    "smoke": Config(
        name="smoke",
        seeds=(0, 1),
        n_train=300,
        n_test=150,
        n_stages=8,
        d_block=8,
        d_hidden=16,
        max_epochs=2,
        n_measure=64,
        n_paths=3,
    ),
    "quick": Config(name="quick", seeds=(0, 1, 2), max_epochs=10, n_measure=256, n_paths=10),
    "full": Config(name="full", seeds=(0, 1, 2, 3, 4)),
    # Veit et al.'s 54 blocks, 30 paths per length, after 20 epochs
    "paper": Config(name="paper", seeds=(0, 1, 2, 3, 4)),
}


def _model(config: Config, task: str, seed: int) -> Any:
    from fboost import ResNetClassifier, ResNetRegressor

    cls = ResNetRegressor if task == "regression" else ResNetClassifier
    return cls(
        architecture="mlp",
        n_stages=config.n_stages,
        d_block=config.d_block,
        d_hidden=config.d_hidden,
        dropout1=0.0,
        dropout2=0.0,
        lr=config.lr,
        batch_size=config.batch_size,
        max_epochs=config.max_epochs,
        n_iter_no_change=None,
        random_state=seed,
    )


def branch_factor(frame: pd.DataFrame) -> float:
    """``10^slope`` of ``log10(grad_norm)`` against path length (lengths with a positive norm):
    the factor by which one more residual branch scales the gradient of a path."""
    rows = frame[frame["grad_norm"] > 0]
    if len(rows) < 2:
        return float("nan")
    slope = np.polyfit(rows["path_length"], np.log10(rows["grad_norm"]), 1)[0]
    return float(10.0**slope)


def seed_part(config: Config, seed: int) -> tuple[list[pd.DataFrame], list[dict[str, Any]]]:
    """One seed: the gradient by path length and the summary row, at init and trained."""
    from fboost.analysis import gradient_by_path_length
    from fboost.datasets import load_dataset

    data = load_dataset(config.dataset, n_train=config.n_train, n_test=config.n_test)
    X_batch, y_batch = data.X_train[: config.n_measure], data.y_train[: config.n_measure]
    frames, summaries = [], []
    with progress(len(STATES), verbose=config.verbose, desc=f"paths seed {seed}") as bar:
        model = _model(config, data.task, seed)
        for state in STATES:
            if state == "trained":  # from the very weights measured at init
                model.fit(data.X_train, data.y_train)
            frame = gradient_by_path_length(
                model,
                X_batch,
                y_batch,
                n_samples=config.n_paths,
                coverage=config.coverage,
                random_state=seed,
            )
            low, high = frame.attrs["effective_range"]
            frame.insert(0, "state", state)
            frame.insert(0, "seed", seed)
            frames.append(frame)
            trained = state == "trained"
            summaries.append(
                {
                    "seed": seed,
                    "state": state,
                    "effective_low": low,
                    "effective_high": high,
                    "mean_length": float((frame["path_length"] * frame["total_fraction"]).sum()),
                    "branch_factor": branch_factor(frame),
                    "test_score": (model.score(data.X_test, data.y_test) if trained else np.nan),
                }
            )
            bar.update()
    return frames, summaries


def combine(config: Config, parts: dict[int, Any], output: Path) -> dict[str, Any]:
    """The CSV files, the figure and the report body from every seed's part."""
    from fboost.analysis import path_length_distribution

    distribution = path_length_distribution(config.n_stages)
    frames = [frame for seed in config.seeds for frame in parts[seed][0]]
    summaries = [row for seed in config.seeds for row in parts[seed][1]]
    gradients = pd.concat(frames, ignore_index=True)
    summary = pd.DataFrame(summaries)
    write_csv(distribution, output, "path_distribution.csv")
    write_csv(gradients, output, "gradient_by_path_length.csv")
    write_csv(summary, output, "summary.csv")
    reference = binomial_range(config.n_stages, config.coverage)
    figure = plot_paths(distribution, gradients, summary, config, reference)
    return {
        "metrics": _metrics(summary, distribution, config, reference),
        "table": _table_rows(summary, config, reference),
        "figures": [save_figure(figure, output, "paths.png")],
    }


def binomial_range(n_blocks: int, coverage: float) -> tuple[int, int]:
    """The central range of path lengths holding at least ``coverage`` of all ``2^n`` paths."""
    from scipy.stats import binom

    low, high = binom.interval(coverage, n_blocks, 0.5)
    return int(low), int(high)


def _metrics(
    summary: pd.DataFrame, distribution: pd.DataFrame, config: Config, reference: tuple[int, int]
) -> dict[str, Any]:
    per_state: dict[str, Any] = {}
    for state in STATES:
        rows = summary[summary["state"] == state]
        per_state[state] = {
            column: [json_number(v) for v in rows[column]]
            for column in ("effective_low", "effective_high", "mean_length", "branch_factor")
        }
        if state == "trained":
            per_state[state]["test_score"] = [json_number(v) for v in rows["test_score"]]
    return {
        "seeds": list(config.seeds),
        "n_blocks": config.n_stages,
        "coverage": config.coverage,
        "path_fraction_sum": float(distribution["path_fraction"].sum()),
        "all_paths": {"range": list(reference), "mean_length": config.n_stages / 2},
        **per_state,
    }


def _table_rows(
    summary: pd.DataFrame, config: Config, reference: tuple[int, int]
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = [
        {
            "what": f"all 2^{config.n_stages} paths (by count)",
            "range from": float(reference[0]),
            "range to": float(reference[1]),
            "mean length": config.n_stages / 2,
        }
    ]
    for state in STATES:
        cell = summary[summary["state"] == state]
        low, low_sd = mean_sd(cell["effective_low"])
        high, high_sd = mean_sd(cell["effective_high"])
        length, length_sd = mean_sd(cell["mean_length"])
        factor, factor_spread = geometric_mean_sd(cell["branch_factor"])
        what = "at initialisation" if state == "init" else f"after {config.max_epochs} epochs"
        row = {
            "what": f"gradient, {what}",
            "range from": low,
            "range from sd": low_sd,
            "range to": high,
            "range to sd": high_sd,
            "mean length": length,
            "mean length sd": length_sd,
            "gradient factor per branch": factor,
            "factor ×/÷": factor_spread,
        }
        if state == "trained":
            row["test score"], row["test score sd"] = mean_sd(cell["test_score"])
        rows.append(table_row(row))
    return rows


def plot_paths(
    distribution: pd.DataFrame,
    gradients: pd.DataFrame,
    summary: pd.DataFrame,
    config: Config,
    reference: tuple[int, int],
) -> Any:
    """Veit et al.'s Fig. 6 for both states: paths by length, gradient of one path (log),
    share of the total gradient by length with the effective ranges shaded."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(13.0, 4.0), layout="constrained")
    ax_paths, ax_one, ax_total = figure.subplots(1, 3)
    k = distribution["path_length"].to_numpy()
    ax_paths.bar(k, distribution["path_fraction"], color="0.6")
    ax_paths.axvspan(
        reference[0] - 0.5,
        reference[1] + 0.5,
        color="0.8",
        alpha=0.4,
        label=f"{config.coverage:.0%} of paths: {reference[0]}–{reference[1]}",
    )
    ax_paths.set(xlabel="path length k", ylabel="fraction of paths", title="Paths by length")
    ax_paths.legend(fontsize="small")
    ax_total.bar(k, distribution["path_fraction"], color="0.85", label="fraction of paths")
    for index, state in enumerate(STATES):
        color = f"C{index}"
        name = "at init" if state == "init" else f"after {config.max_epochs} epochs"
        rows = gradients[gradients["state"] == state]
        by_length = rows.groupby("path_length")
        lengths = np.array(sorted(rows["path_length"].unique()))
        one = np.array([geometric_mean_sd(by_length.get_group(x)["grad_norm"])[0] for x in lengths])
        low = by_length["grad_norm"].min().reindex(lengths).to_numpy()
        high = by_length["grad_norm"].max().reindex(lengths).to_numpy()
        shown = np.isfinite(one) & (one > 0)
        ax_one.plot(lengths[shown], one[shown], marker="o", ms=2, color=color, label=name)
        band = shown & (low > 0)
        ax_one.fill_between(lengths[band], low[band], high[band], color=color, alpha=0.2)
        share = by_length["total_fraction"].mean().reindex(lengths).to_numpy()
        ax_total.plot(lengths, share, marker="o", ms=2, color=color, label=name)
        cell = summary[summary["state"] == state]
        a, b = int(round(cell["effective_low"].mean())), int(round(cell["effective_high"].mean()))
        ax_total.axvspan(
            a - 0.5, b + 0.5, color=color, alpha=0.15, label=f"effective ({name}): {a}–{b}"
        )
    ax_one.set_yscale("log")
    ax_one.set(
        xlabel="path length k (residual branches on the path)",
        ylabel="gradient norm of one path (log)",
        title="Gradient of one path",
    )
    ax_one.legend(fontsize="small")
    ax_total.set(
        xlabel="path length k",
        ylabel="share of the total gradient",
        title="Total gradient by length (x number of paths)",
    )
    ax_total.legend(fontsize="small")
    for ax in (ax_paths, ax_one, ax_total):
        ax.grid(True, alpha=0.3)
    figure.suptitle(
        f"Paths through a ResNet of {config.n_stages} blocks on {config.dataset} "
        f"(mean over {len(config.seeds)} seeds; band: min–max)"
    )
    return figure


#: the serial ``main(config, output)``; the runner may send the seeds to a Dask cluster
main = BySeed(seed_part, combine)
