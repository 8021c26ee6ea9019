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
initial weights and the batch order.

Two more measurements of the paper's claims:

- **equal gradient updates** (``equal_updates_depths``): at each of these depths the end-to-end
  network is trained again, for as many epochs as BoostResNet trained in all at that depth and
  seed (its ``n_epochs_``: every stage's epochs and head refits), so that both made the same
  number of optimiser steps (``gradient_updates`` = epochs x batches per epoch); it is the model
  ``"end-to-end (equal updates)"``.
- **memory** (``memory_depths``, first seed only): the peak resident memory of one training
  epoch (one epoch per stage for BoostResNet) of each model, each fit in a fresh Python process:
  the peak during ``fit`` (``VmHWM``, reset through ``/proc/self/clear_refs`` just before) less
  the resident set before it, after a warm-up fit (Linux only; None elsewhere). Huang et al.
  (Sec. 4): one block at a time needs the memory of one block and the rest, back-propagation
  through all T blocks about T times one block's.

Files: ``depth.csv`` (one row per seed, depth and model: training and test accuracy, blocks kept,
epochs, gradient updates, fit time) and ``accuracy_vs_depth.png``. The report's table gives, per
model and depth, the mean and spread over seeds; its metrics say, per model, how much training
accuracy the deepest network lost against the best depth (``drop``), and the peak memory in MiB
per model and depth (``peak_memory_mib``).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import subprocess
import sys
import textwrap
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
#: the end-to-end network trained for BoostResNet's number of gradient updates
EQUAL = "end-to-end (equal updates)"


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
    equal_updates_depths: tuple[int, ...] = ()  # depths (of ``depths``) trained at equal updates
    memory_depths: tuple[int, ...] = ()  # depths whose peak training memory is measured

    def __post_init__(self) -> None:
        extra = sorted(set(self.equal_updates_depths) - set(self.depths))
        if extra:
            raise ValueError(
                f"equal_updates_depths must be among depths {self.depths}, got extra {extra}"
            )


SIZES = {
    "smoke": Config(
        name="smoke",
        seeds=(0,),
        n_train=200,
        depths=(1, 3),
        d_block=8,
        e2e_epochs=2,
        epochs_per_stage=1,
        equal_updates_depths=(3,),
        memory_depths=(3,),
    ),  # fmt: skip
    "quick": Config(name="quick", seeds=(0, 1)),
    "full": Config(name="full", seeds=(0, 1, 2), depths=(1, 4, 16, 64, 128, 256)),
    # pilot (1 seed, 1 thread, shared machine): see the README's table of paper sizes
    "paper": Config(
        name="paper",
        seeds=(0, 1, 2, 3, 4),
        depths=(1, 4, 16, 64, 128, 256),
        equal_updates_depths=(4, 16, 64),
        memory_depths=(4, 16, 64, 256),
    ),
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


def _fit_row(estimator: Any, data: Any, X: Any, y: Any, **fields: Any) -> dict[str, Any]:
    """Fit ``estimator`` on ``(X, y)``; its row of ``depth.csv``."""
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        estimator.fit(X, y)
    elapsed = time.perf_counter() - start
    stopped = any("weak-learning" in str(w.message) for w in caught)
    batches = math.ceil(len(y) / estimator.batch_size)
    return {
        **fields,
        "train_accuracy": _accuracy(estimator, X, y),
        "test_accuracy": _accuracy(estimator, data.X_test, data.y_test),
        "n_stages": int(estimator.n_stages_),
        "stopped_by_condition": stopped,
        "epochs": int(estimator.n_epochs_),
        "gradient_updates": int(estimator.n_epochs_) * batches,
        "fit_seconds": elapsed,
    }


def seed_part(config: Config, seed: int) -> dict[str, Any]:
    """One seed: a row per depth and model (the rows of ``depth.csv``) and, for the first seed,
    the peak training memory per model and depth."""
    from fboost.datasets import load_dataset

    rows = []
    data = load_dataset(config.dataset, random_state=seed)
    X, y = data.X_train[: config.n_train], data.y_train[: config.n_train]
    memory = config.memory_depths if seed == config.seeds[0] else ()
    jobs = len(config.depths) * len(MODELS) + len(config.equal_updates_depths) + len(memory)
    with progress(jobs, verbose=config.verbose, desc=f"depth seed {seed}") as bar:
        for depth in config.depths:
            for model in MODELS:
                estimator = _estimator(config, model, depth, seed)
                rows.append(_fit_row(estimator, data, X, y, seed=seed, depth=depth, model=model))
                bar.update()
            if depth in config.equal_updates_depths:
                epochs = rows[-1]["epochs"]  # BoostResNet's, this depth and seed
                estimator = _estimator(config, "end-to-end", depth, seed)
                estimator.set_params(max_epochs=epochs)
                rows.append(_fit_row(estimator, data, X, y, seed=seed, depth=depth, model=EQUAL))
                bar.update()
        peaks: dict[str, dict[str, float | None]] = {model: {} for model in MODELS}
        for depth in memory:
            for model in MODELS:
                estimator = _estimator(config, model, depth, seed)
                peaks[model][str(depth)] = peak_fit_memory(estimator, config.dataset, seed, X, y)
            bar.update()
    return {"rows": rows, "memory": peaks if memory else None}


_MEMORY_CHILD = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import torch
    torch.set_num_threads(1)
    import fboost

    def kib(field):
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith(field):
                    return int(line.split()[1])
        raise RuntimeError(field)

    spec = json.loads(sys.argv[1])
    data = np.load(spec["data"])
    X, y = data["X"], data["y"]
    estimator = getattr(fboost, spec["cls"])(**spec["params"])
    estimator.set_params(**spec["one_epoch"])
    warm = dict(spec["params"], n_stages=1)
    getattr(fboost, spec["cls"])(**warm).set_params(**spec["one_epoch"]).fit(X[:256], y[:256])
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")  # the peak (VmHWM) from here on
    before = kib("VmRSS")
    estimator.fit(X, y)
    print(json.dumps({"peak_mib": (kib("VmHWM") - before) / 1024}))
    """
)


def peak_fit_memory(estimator: Any, dataset: str, seed: int, X: Any, y: Any) -> float | None:
    """Peak resident MiB of one epoch (one per stage) of ``estimator.fit(X, y)``, measured in a
    fresh process; None where ``/proc/self/clear_refs`` is not there (not Linux)."""
    import tempfile

    if not os.path.exists("/proc/self/clear_refs"):
        return None
    one_epoch = {"max_epochs": 1} if "max_epochs" in estimator.get_params() else {}
    if not one_epoch:
        one_epoch = {"epochs_per_stage": 1}
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, f"{dataset}-{seed}.npz")
        np.savez(path, X=X, y=y)
        spec = {
            "cls": type(estimator).__name__,
            "params": estimator.get_params(),
            "one_epoch": one_epoch,
            "data": path,
        }
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        out = subprocess.run(
            [sys.executable, "-c", _MEMORY_CHILD, json.dumps(spec)],
            check=True,
            capture_output=True,
            text=True,
            env=env,
        ).stdout
    return float(json.loads(out.strip().splitlines()[-1])["peak_mib"])


def combine(config: Config, parts: dict[int, dict[str, Any]], output: Path) -> dict[str, Any]:
    """``depth.csv``, the figure and the report body from every seed's rows and memory."""
    import matplotlib.pyplot as plt

    rows = [row for seed in config.seeds for row in parts[seed]["rows"]]
    frame = pd.DataFrame(rows)
    write_csv(frame, output, "depth.csv")
    memory = parts[config.seeds[0]]["memory"]

    table, drops = [], {}
    for model in (*MODELS, EQUAL):
        means = []
        depths = config.equal_updates_depths if model == EQUAL else config.depths
        for depth in depths:
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
                        "gradient_updates": float(subset["gradient_updates"].mean()),
                    }
                )
            )
        if model != EQUAL:
            drops[model] = float(np.nanmax(means) - means[-1])

    figure, axes = plt.subplots(1, 2, figsize=(10, 4), sharex=True)
    for ax, column in zip(axes, ("train_accuracy", "test_accuracy"), strict=True):
        for model in (*MODELS, EQUAL):
            subset = frame[frame["model"] == model].groupby("depth")[column]
            if not len(subset):
                continue
            mean, sd = subset.mean(), subset.std().fillna(0.0)
            style = {"ls": ":", "marker": "s"} if model == EQUAL else {"marker": "o"}
            ax.errorbar(mean.index, mean.values, yerr=sd.values, capsize=3, label=model, **style)
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
            "peak_memory_mib": memory,
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
