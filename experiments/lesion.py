"""lesion: do a ResNet's blocks behave like an ensemble? (Veit et al. 2016; issue 6)

Three additive models with the same number of stages T are trained on the same data and
taken apart on the test set with :func:`fboost.analysis.lesion_study`: each single stage
removed, then k random stages removed (``n_repeats`` subsets per k).

- **ResNet**: ``ResNetClassifier`` (``architecture="mlp"``, BatchNorm), T residual blocks
  trained end to end. Removing block t sets ``z_t = z_{t-1}``; later blocks see the changed input.
- **plain net**: the same network with ``skip=False`` (same depth, widths, BatchNorm and
  training). Removing block t passes its input on unchanged (``z_t = z_{t-1}``), as Veit et
  al. removed layers of a VGG net; the widths are constant, so this is always defined.
- **plain net (VGG depth)**: a plain net of ``plain_depth`` blocks (8 in the paper size: 16
  layers, VGG's depth), trained like the others, and lesioned one block at a time only. Veit et
  al. compared their 110-layer ResNet with a VGG net, not with a plain net of 110 layers, which
  does not train (He et al. 2016); the same holds here (paper size, digits, 5 seeds,
  ``docs/results/lesion/paper``): the 54-block plain net stays near chance (0.137), so it has
  nothing to lose, while the 8-block one reaches 0.952 and one removed block sends it to
  0.091 on average.
- **GBM**: ``TreeBoostingClassifier`` (LightGBM) with T boosting rounds (a stage is one round:
  one tree per class) and a large learning rate, so that T rounds fit the data. Removing
  round t subtracts its contribution ``alpha_t h_t``.

- **ResNet (stochastic depth)**: the ResNet trained with ``stochastic_depth`` (Huang et al.
  2016: block t of T is dropped with probability ``t / T * p_L`` per minibatch, ``p_L = 0.5``;
  at test time its branch is scaled by its survival probability). Huang et al. train with
  lesions of this kind, so lesions should hurt it less.

The networks are also lesioned with their BatchNorm statistics re-estimated on the test
inputs after each removal (``lesion_study(recalibrate=True)``), which separates a block's
function from the shift of the statistics the later blocks normalise with; and reordered
(``reorder_study``: k random pairs of blocks swapped, ``n_repeats`` draws per k).

A depth sweep (``sweep_depths``, the first ``sweep_seeds`` seeds) trains residual networks with
fixed and with learned stage weights (``stage_weights="learned"``: ``z_t = z_{t-1} + alpha_t f_t``,
``alpha_t`` from 0, ReZero) and plain networks of each depth: the learned ``alpha_t`` of each
block after training, and the test score against depth.

Veit et al. found that a ResNet degrades smoothly when blocks are removed, while a plain net
collapses to chance; a GBM, an explicit ensemble, is the reference point of "behaves like an
ensemble". Data: ``digits`` by default (1,797 8x8 images as 64 features, 10 classes, a fixed
stratified 80/20 split; score: test accuracy, chance 0.1); any set of :mod:`fboost.datasets`
works (regression scores R^2). The seeds vary the networks' weights and batch order, the GBM's
seed and the random lesion subsets; the data split is fixed (LightGBM without subsampling is
deterministic, so the GBM's spread over seeds is 0).

Files: ``lesion.csv`` (one row per seed, model and lesioned model: the columns of
``lesion_study`` plus ``seed``), ``lesion_recalibrated.csv`` (the networks' lesions with
BatchNorm re-estimated), ``reorder.csv`` (``reorder_study`` plus ``seed``), ``stage_weights.csv``
(the depth sweep: one row per learned ``alpha_t``, one per network's test score) and the
figures ``lesion.png``, ``lesion_recalibrated.png``, ``reorder.png`` and ``stage_weights.png``
(scores averaged over seeds).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pandas as pd

from ._common import json_number, mean_sd, progress, save_figure, table_row, write_csv
from ._runner import BySeed, StudyConfig

__all__ = ["Config", "SIZES", "main", "seed_part", "combine", "MODELS"]

#: the plain net of VGG's depth (``plain_depth`` blocks; single-block lesions only)
SHALLOW = "plain net (VGG depth)"
MODELS = ("ResNet", "ResNet (stochastic depth)", "plain net", SHALLOW, "GBM")
#: the networks that are also lesioned with BatchNorm re-estimated, and reordered
NETWORKS = MODELS[:3]
#: the depth sweep's networks: (label, skip, stage_weights)
SWEEP = (
    ("residual", True, "fixed"),
    ("residual, learned alpha", True, "learned"),
    ("plain", False, "fixed"),
)


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
    n_repeats: int = 20  # random subsets per k (and random reorderings per number of swaps)
    stochastic_depth: float = 0.5  # p_L of the stochastic-depth ResNet (Huang et al. 2016)
    swaps: tuple[int, ...] = (1, 2, 4, 8, 16)  # pairs of blocks swapped in the reorder study
    sweep_depths: tuple[int, ...] = (2, 4, 8, 16, 24)  # depths of the stage-weight sweep
    sweep_seeds: int = 2  # the sweep repeats over the first this many seeds
    plain_depth: int = 8  # blocks of the VGG-depth plain net (single-block lesions only)


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
        swaps=(1, 2),
        sweep_depths=(2, 4),
        plain_depth=2,
    ),
    "quick": Config(
        name="quick",
        seeds=(0, 1, 2),
        n_stages=12,
        max_epochs=30,
        ks=(1, 2, 4, 8),
        n_repeats=10,
        swaps=(1, 2, 4, 8),
        sweep_depths=(2, 6, 12),
        sweep_seeds=1,
        plain_depth=4,
    ),
    "full": Config(name="full", seeds=(0, 1, 2, 3, 4)),
    # Veit et al.'s depth: 54 blocks (their 110-layer CIFAR ResNet); k up to 16 removed
    "paper": Config(
        name="paper",
        seeds=(0, 1, 2, 3, 4),
        n_stages=54,
        max_epochs=30,
        ks=(1, 2, 4, 8, 16),
        n_repeats=10,
        swaps=(1, 2, 4, 8, 16),
        sweep_depths=(2, 8, 24, 54),
        sweep_seeds=2,
    ),
}


def _model(
    config: Config,
    task: str,
    name: str,
    seed: int,
    *,
    n_stages: int | None = None,
    stage_weights: str = "fixed",
) -> Any:
    from fboost import (
        ResNetClassifier,
        ResNetRegressor,
        TreeBoostingClassifier,
        TreeBoostingRegressor,
    )

    regression = task == "regression"
    if name == SHALLOW and n_stages is None:
        n_stages = config.plain_depth
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
        n_stages=config.n_stages if n_stages is None else n_stages,
        d_block=config.d_block,
        d_hidden=config.d_hidden,
        dropout1=0.0,
        dropout2=0.0,
        skip=name not in ("plain net", SHALLOW),
        batch_norm=True,
        stage_weights=stage_weights,
        stochastic_depth=config.stochastic_depth if name == "ResNet (stochastic depth)" else 0.0,
        lr=config.lr,
        batch_size=config.batch_size,
        max_epochs=config.max_epochs,
        n_iter_no_change=None,
        random_state=seed,
    )


def seed_part(config: Config, seed: int) -> dict[str, Any]:
    """One seed: every model's lesion (and the networks' recalibrated lesion and reorder) frames,
    and the depth sweep's frame when ``seed`` is one of the first ``sweep_seeds`` seeds."""
    from fboost.analysis import lesion_study, reorder_study
    from fboost.datasets import load_dataset

    data = load_dataset(config.dataset, n_train=config.n_train, n_test=config.n_test)
    ks = [k for k in config.ks if k <= config.n_stages]
    sweep_seeds = tuple(s for s in config.seeds[: config.sweep_seeds] if s == seed)
    frames, recalibrated, reordered = [], [], []
    total = len(MODELS) + len(sweep_seeds) * len(config.sweep_depths) * 3
    with progress(total, verbose=config.verbose, desc=f"lesion seed {seed}") as bar:
        for name in MODELS:
            model = _model(config, data.task, name, seed).fit(data.X_train, data.y_train)
            options = {
                "k": [1] if name == SHALLOW else ks,
                "n_repeats": config.n_repeats,
                "random_state": seed,
            }
            runs = [(frames, lesion_study(model, data.X_test, data.y_test, **options))]
            if name in NETWORKS:
                again = lesion_study(model, data.X_test, data.y_test, recalibrate=True, **options)
                swaps = [0, *config.swaps]
                reorder = reorder_study(
                    model,
                    data.X_test,
                    data.y_test,
                    k=swaps,
                    n_repeats=config.n_repeats,
                    random_state=seed,
                )
                runs += [(recalibrated, again), (reordered, reorder)]
            for target, frame in runs:
                frame["model"] = name
                frame.insert(0, "seed", seed)
                target.append(frame)
            bar.update()
        sweep = _depth_sweep(config, data, sweep_seeds, bar) if sweep_seeds else None
    return {
        "lesion": frames,
        "recalibrated": recalibrated,
        "reorder": reordered,
        "sweep": sweep,
    }


def combine(config: Config, parts: dict[int, dict[str, Any]], output: Path) -> dict[str, Any]:
    """The CSV files, figures and report body from every seed's part."""
    from fboost.datasets import load_dataset

    data = load_dataset(config.dataset, n_train=config.n_train, n_test=config.n_test)
    ks = [k for k in config.ks if k <= config.n_stages]
    ordered = [parts[seed] for seed in config.seeds]
    frames = [frame for part in ordered for frame in part["lesion"]]
    recalibrated = [frame for part in ordered for frame in part["recalibrated"]]
    reordered = [frame for part in ordered for frame in part["reorder"]]
    sweeps = [part["sweep"] for part in ordered if part["sweep"] is not None]
    sweep = pd.concat(sweeps, ignore_index=True) if sweeps else _depth_sweep(config, data, (), None)
    table = pd.concat(frames, ignore_index=True)
    table_recalibrated = pd.concat(recalibrated, ignore_index=True)
    table_reorder = pd.concat(reordered, ignore_index=True)
    write_csv(table, output, "lesion.csv")
    write_csv(table_recalibrated, output, "lesion_recalibrated.csv")
    write_csv(table_reorder, output, "reorder.csv")
    write_csv(sweep, output, "stage_weights.csv")
    chance = None if data.n_classes is None else 1.0 / data.n_classes
    per_seed = _per_seed(table, ks, MODELS)
    per_seed_recalibrated = _per_seed(table_recalibrated, ks, NETWORKS)
    figures = [
        save_figure(plot_lesion(table, config, chance), output, "lesion.png"),
        save_figure(
            plot_lesion_recalibrated(table, table_recalibrated, config, chance),
            output,
            "lesion_recalibrated.png",
        ),
        save_figure(plot_reorder(table_reorder, config, chance), output, "reorder.png"),
        save_figure(plot_sweep(sweep, config), output, "stage_weights.png"),
    ]
    metrics = {
        "seeds": list(config.seeds),
        "score": "test " + _score_name(data.task),
        "chance": chance,  # 1 / classes; None for regression
    }
    return {
        "metrics": metrics
        | per_seed
        | {
            "recalibrated": per_seed_recalibrated,
            "reorder_mean": _reorder_means(table_reorder),
            "depth_sweep": _sweep_means(sweep),
        },
        "table": _table_rows(per_seed, ks, MODELS)
        + _table_rows(per_seed_recalibrated, ks, NETWORKS, suffix=", BN re-estimated"),
        "figures": figures,
    }


def _depth_sweep(config: Config, data: Any, seeds: tuple[int, ...], bar: Any) -> pd.DataFrame:
    """Residual (fixed and learned stage weights) and plain networks at every sweep depth."""
    rows: list[dict[str, Any]] = []
    for seed in seeds:
        for depth in config.sweep_depths:
            for variant, skip, stage_weights in SWEEP:
                name = "ResNet" if skip else "plain net"
                model = _model(
                    config, data.task, name, seed, n_stages=depth, stage_weights=stage_weights
                ).fit(data.X_train, data.y_train)
                score = float(model.score(data.X_test, data.y_test))
                rows.append({"seed": seed, "depth": depth, "variant": variant, "score": score})
                if stage_weights == "learned":
                    rows += [
                        {"seed": seed, "depth": depth, "stage": t, "alpha": float(alpha)}
                        for t, alpha in enumerate(model.stage_weights_, start=1)
                    ]
                bar.update()
    frame = pd.DataFrame(rows, columns=["seed", "depth", "variant", "score", "stage", "alpha"])
    return frame.astype({"stage": "Int64"})


def _reorder_means(table: pd.DataFrame) -> dict[str, dict[str, list[Any]]]:
    """``{model: {k: [mean score per seed]}}`` of the reorder study."""
    out: dict[str, dict[str, list[Any]]] = {}
    for name, rows in table.groupby("model", sort=False):
        means = rows.groupby(["k", "seed"])["score"].mean()
        out[str(name)] = {
            str(k): [json_number(v) for v in means.loc[k].tolist()]
            for k in means.index.get_level_values("k").unique()
        }
    return out


def _sweep_means(sweep: pd.DataFrame) -> dict[str, Any]:
    """Mean test score per variant and depth, and mean ``|alpha_t|`` per depth and stage."""
    scores = sweep[sweep["variant"].notna()]
    alphas = sweep[sweep["stage"].notna()]
    return {
        "score": {
            str(v): {str(d): json_number(s) for d, s in g.groupby("depth")["score"].mean().items()}
            for v, g in scores.groupby("variant", sort=False)
        },
        "abs_alpha": {
            str(d): [
                json_number(a) for a in g.groupby("stage")["alpha"].apply(lambda a: a.abs().mean())
            ]
            for d, g in alphas.groupby("depth")
        },
    }


def _score_name(task: str) -> str:
    return "R^2" if task == "regression" else "accuracy"


def _per_seed(table: pd.DataFrame, ks: list[int], models: tuple[str, ...]) -> dict[str, Any]:
    """``{"intact": {model: [per seed]}, "single_mean": ..., "single_min": ...,
    "random_mean": {model: {k: [per seed]}}}``."""
    out: dict[str, Any] = {"intact": {}, "single_mean": {}, "single_min": {}, "random_mean": {}}
    for name in models:
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


def _table_rows(
    per_seed: dict[str, Any], ks: list[int], models: tuple[str, ...], suffix: str = ""
) -> list[dict[str, Any]]:
    rows = []
    for name in models:
        intact, intact_sd = mean_sd(per_seed["intact"][name])
        single, single_sd = mean_sd(per_seed["single_mean"][name])
        row: dict[str, Any] = {
            "model": name + suffix,
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


def plot_lesion_recalibrated(
    table: pd.DataFrame, recalibrated: pd.DataFrame, config: Config, chance: float | None
) -> Any:
    """The networks' lesions, plain and with BatchNorm statistics re-estimated after removal."""
    plain = table[table["model"].isin(NETWORKS)].copy()
    again = recalibrated.copy()
    again["model"] = again["model"] + ", BN re-estimated"
    figure = plot_lesion(pd.concat([plain, again], ignore_index=True), config, chance)
    figure.suptitle(
        f"Lesions with and without BatchNorm statistics re-estimated on the test inputs "
        f"({config.dataset}, T = {config.n_stages}, mean over {len(config.seeds)} seeds)"
    )
    return figure


def plot_reorder(table: pd.DataFrame, config: Config, chance: float | None) -> Any:
    """:func:`fboost.plotting.plot_reorder_study` over seeds, one curve per network."""
    from fboost.plotting import plot_reorder_study

    figure = plot_reorder_study(table, hue="model", figsize=(10.0, 4.0))
    if chance is not None:
        for ax in figure.axes:
            ax.axhline(chance, color="0.5", ls=":", lw=1)
    figure.suptitle(
        f"Reordering: k random pairs of blocks swapped ({config.dataset}, T = "
        f"{config.n_stages}; {config.n_repeats} draws per k and seed, {len(config.seeds)} seeds)"
    )
    return figure


def plot_sweep(sweep: pd.DataFrame, config: Config) -> Any:
    """:func:`fboost.plotting.plot_stage_weights` on the depth sweep."""
    from fboost.plotting import plot_stage_weights

    figure = plot_stage_weights(sweep, figsize=(10.0, 4.0))
    seeds = sweep["seed"].nunique()
    figure.suptitle(
        f"Learned stage weights and depth ({config.dataset}; {config.max_epochs} epochs, "
        f"mean over {seeds} seeds)"
    )
    return figure


#: the serial ``main(config, output)``; the runner may send the seeds to a Dask cluster
main = BySeed(seed_part, combine)
