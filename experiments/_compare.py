"""The comparison grid shared by compare-tabular and compare-image.

Fits every (data set, model, seed), records the test score, fit time and the test score after
every stage, and writes ``scores.csv``, ``staged.csv`` and one figure per data set. A study's
``seed_part`` is `seed_grid` (one seed, every data set and model), its ``combine`` is
`compare_combine`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from ._common import progress
from ._models import MODELS, score_of, staged_scores

__all__ = [
    "seed_grid",
    "grid_frames",
    "summarise",
    "plot_staged",
    "compare_combine",
    "installed_datasets",
]


def installed_datasets(config: Any) -> tuple[Any, dict[str, str]]:
    """``config`` restricted to the data sets this machine has, and why the others are missing.

    With ``config.require_all`` a missing data set is an error naming the command that installs it.
    """
    import dataclasses

    from fboost.datasets import dataset_table

    table = dataset_table()
    missing = {
        name: str(table.loc[name, "requires"])
        for name in config.datasets
        if not bool(table.loc[name, "available"])
    }
    if missing and config.require_all:
        raise FileNotFoundError(f"this study needs {sorted(missing)}; install with {missing}")
    present = tuple(n for n in config.datasets if n not in missing)
    return dataclasses.replace(config, datasets=present), missing


def seed_grid(
    config: Any, seed: int, loader: Callable[[Any, str, int], Any], desc: str
) -> dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]]]]:
    """One seed of the grid: ``{dataset: (score rows, staged-score rows)}`` for the data sets
    this machine has; ``loader(config, dataset, seed)`` loads a data set."""
    config, _ = installed_datasets(config)
    part: dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]]]] = {}
    total = len(config.datasets) * len(config.models)
    with progress(total, verbose=config.verbose, desc=f"{desc} seed {seed}") as bar:
        for dataset in config.datasets:
            rows: list[dict[str, Any]] = []
            curves: list[dict[str, Any]] = []
            data = loader(config, dataset, seed)
            for name in config.models:
                spec = MODELS[name]
                bar.set_postfix_str(f"{dataset} {name}")
                model = spec.make(data, config, seed)
                start = time.perf_counter()
                model.fit(data.X_train, data.y_train)
                fit_time = time.perf_counter() - start
                rows.append(
                    {
                        "dataset": dataset,
                        "model": name,
                        "family": spec.family,
                        "seed": seed,
                        "test_score": score_of(model, data),
                        "fit_time_s": fit_time,
                        "n_stages": getattr(model, "n_stages_", None),
                    }
                )
                curves += [
                    {
                        "dataset": dataset,
                        "model": name,
                        "seed": seed,
                        "stage": t,
                        "test_score": s,
                    }
                    for t, s in staged_scores(model, data)
                ]
                bar.update()
            part[dataset] = (rows, curves)
    return part


def grid_frames(config: Any, parts: dict[int, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Scores and curves of every seed's part, ordered by data set, then seed, then model."""
    rows: list[dict[str, Any]] = []
    curves: list[dict[str, Any]] = []
    for dataset in config.datasets:
        for seed in config.seeds:
            if dataset in parts[seed]:
                rows += parts[seed][dataset][0]
                curves += parts[seed][dataset][1]
    return pd.DataFrame(rows), pd.DataFrame(curves)


def summarise(scores: pd.DataFrame) -> list[dict[str, Any]]:
    """Mean and spread over seeds, per data set and model (the SUMMARY table)."""
    table = (
        scores.groupby(["dataset", "model"], sort=False)
        .agg(
            family=("family", "first"),
            score_mean=("test_score", "mean"),
            score_std=("test_score", "std"),
            fit_time_s=("fit_time_s", "mean"),
        )
        .reset_index()
    )
    return table.to_dict("records")  # type: ignore[no-any-return]


def plot_staged(curves: pd.DataFrame, scores: pd.DataFrame, dataset: str, study: str) -> Any:
    """Mean test score versus stage, one line per model; models without stages as dotted lines."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.5, 4))
    ax = fig.add_subplot()
    frame = curves[curves["dataset"] == dataset] if len(curves) else curves
    staged = set(frame["model"]) if len(frame) else set()
    for name, group in frame.groupby("model", sort=False) if len(frame) else []:
        mean = group.groupby("stage")["test_score"].mean()
        ax.plot(mean.index, mean.to_numpy(), label=name)
    for name, group in scores[scores["dataset"] == dataset].groupby("model", sort=False):
        if name not in staged:
            ax.axhline(group["test_score"].mean(), linestyle=":", color="gray", label=name)
    ax.set_xscale("log")
    ax.set_xlabel("stage t (boosting round, or residual block)")
    ax.set_ylabel("test score of F_t (accuracy or R^2)")
    ax.set_title(f"{study}: {dataset}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def _best_of_family(scores: pd.DataFrame) -> dict[str, dict[str, float]]:
    best = scores.groupby(["dataset", "model", "family"])["test_score"].mean().reset_index()
    out: dict[str, dict[str, float]] = {}
    for (dataset, family), group in best.groupby(["dataset", "family"]):
        out.setdefault(str(dataset), {})[str(family)] = float(group["test_score"].max())
    return out


def compare_combine(config: Any, parts: dict[int, Any], output: Path, study: str) -> dict[str, Any]:
    """Write CSVs and figures from every seed's `seed_grid` part into ``output``; the body."""
    config, missing = installed_datasets(config)
    scores, curves = grid_frames(config, parts)
    scores.to_csv(output / "scores.csv", index=False)
    curves.to_csv(output / "staged.csv", index=False)
    figures = []
    for dataset in config.datasets:
        name = f"staged_{dataset}.png"
        plot_staged(curves, scores, dataset, study).savefig(output / name, dpi=110)
        figures.append(name)
    return {
        "metrics": {
            "per_seed": scores.to_dict("records"),
            "best_of_family": _best_of_family(scores),
            "skipped_datasets": {n: f"not installed ({how})" for n, how in missing.items()},
        },
        "table": summarise(scores),
        "figures": figures,
    }
