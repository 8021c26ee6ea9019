"""Data-parallel training (``n_processes``, torch DDP on gloo): throughput and accuracy.

1. **Throughput.** A default ``ResNetRegressor`` (tabular, 3 blocks of width 128) and a
   ``BoostResNetRegressor`` (5 stages) trained for a fixed number of epochs on ``make_friedman1``
   rows (20 features), as ``2x1`` (``n_processes=2``, one torch thread per rank), ``1x2`` (one
   process, two threads: the same two cores) and ``1x1`` (one process, one thread). Rows per
   second are training rows times epochs (times stages) over the median wall time of ``fit``,
   the three run alternately; ``launch_s`` is the time to spawn two ranks that do nothing
   (interpreters importing torch and fboost), which a data-parallel fit pays once, and the
   ``*_excluding_launch`` ratios take it out.
2. **Accuracy.** Test accuracy on digits (1,347 training rows, 450 test rows) of each torch
   classifier at small settings, 3 seeds, with ``n_processes=1`` and ``n_processes=2``. The
   two-process fits run in one spawned group, with ``n_processes=2`` over it (the path of a
   ``torchrun`` launch, which trains as a spawned fit does: ``tests/test_ddp.py``).

``python -m bench ddp`` (``--quick``: fewer rows and epochs) writes ``bench/results/ddp.json``.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch
from sklearn.datasets import load_digits, make_friedman1
from sklearn.model_selection import train_test_split

from fboost import NeuralBoostingClassifier, ResNetClassifier, ResNetRegressor
from fboost.boostresnet import BoostResNetClassifier, BoostResNetRegressor
from fboost.nn._ddp import run_data_parallel
from fboost.resfgb import ResFGBClassifier

SEEDS = (0, 1, 2)


def _noop(group: Any) -> int:
    return int(group.rank)


def _launch_time(repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run_data_parallel(_noop, (), n_processes=2)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


#: (processes, torch threads per process): two processes on one thread each, against one
#: process on both cores and one process on one core
CONFIGS = {"2x1": (2, 1), "1x2": (1, 2), "1x1": (1, 1)}


def _throughput(quick: bool) -> dict[str, Any]:
    n_rows, epochs = (4_000, 2) if quick else (10_000, 3)
    repeat = 1 if quick else 3
    X, y = make_friedman1(n_samples=n_rows, n_features=20, random_state=0)
    models = {
        "resnet": (ResNetRegressor, {"max_epochs": epochs}),
        "boostresnet": (BoostResNetRegressor, {"epochs_per_stage": epochs}),
    }
    threads = torch.get_num_threads()
    out: dict[str, Any] = {"rows": n_rows, "epochs": epochs, "repeat": repeat}
    try:
        torch.set_num_threads(2)  # the ranks get one thread each (thread_share)
        out["launch_s"] = launch = _launch_time(repeat)
        for name, (cls, params) in models.items():
            times: dict[str, list[float]] = {key: [] for key in CONFIGS}
            for _ in range(repeat):  # alternately, so that drift hits all alike
                for key, (n, t) in CONFIGS.items():
                    torch.set_num_threads(2 if n > 1 else t)
                    est = cls(**params, n_iter_no_change=None, random_state=0, n_processes=n)
                    start = time.perf_counter()
                    est.fit(X, y)
                    times[key].append(time.perf_counter() - start)
            passes = n_rows * epochs * (1 if name == "resnet" else 6)  # stem + 5 stages
            fit_s = {key: float(np.median(v)) for key, v in times.items()}
            out[name] = {
                "fit_s": fit_s,
                "rows_per_s": {key: passes / v for key, v in fit_s.items()},
                "rows_per_s_2x1_excluding_launch": passes / max(fit_s["2x1"] - launch, 1e-9),
            }
    finally:
        torch.set_num_threads(threads)
    return out


def _classifiers(seed: int, n_processes: int) -> dict[str, Any]:
    common = {"random_state": seed, "n_processes": n_processes}
    return {
        "resnet": ResNetClassifier(n_stages=2, d_block=64, max_epochs=20, lr=3e-3, **common),
        "boostresnet": BoostResNetClassifier(
            n_stages=3, d_block=64, epochs_per_stage=5, lr=3e-3, **common
        ),
        "resfgb": ResFGBClassifier(n_stages=5, hidden=(32,), epochs_per_stage=5, **common),
        "neural_boosting": NeuralBoostingClassifier(n_stages=5, d_hidden=32, **common),
    }


def _digits() -> tuple[np.ndarray, ...]:
    X, y = load_digits(return_X_y=True)
    return tuple(train_test_split(X, y, test_size=0.25, random_state=0, stratify=y))


def _scores(n_processes: int) -> dict[str, list[float]]:
    X_train, X_test, y_train, y_test = _digits()
    scores: dict[str, list[float]] = {}
    for seed in SEEDS:
        for name, est in _classifiers(seed, n_processes).items():
            est.fit(X_train, y_train)
            scores.setdefault(name, []).append(float(est.score(X_test, y_test)))
    return scores


def _scores_in_group(group: Any) -> dict[str, list[float]]:
    return _scores(group.world_size)


def _accuracy() -> dict[str, Any]:
    one = _scores(1)
    two = run_data_parallel(_scores_in_group, (), n_processes=2)
    return {
        name: {
            "n_processes_1": one[name],
            "n_processes_2": two[name],
            "mean_1": float(np.mean(one[name])),
            "mean_2": float(np.mean(two[name])),
            "std_1": float(np.std(one[name])),
            "std_2": float(np.std(two[name])),
        }
        for name in one
    }


def run(quick: bool = False) -> dict[str, Any]:
    throughput = _throughput(quick)
    accuracy = {} if quick else _accuracy()
    ratios = {}
    for name in ("resnet", "boostresnet"):
        rows = throughput[name]["rows_per_s"]
        excluding = throughput[name]["rows_per_s_2x1_excluding_launch"]
        for one in ("1x2", "1x1"):
            ratios[f"{name}_rows_per_s_2x1_over_{one}"] = rows["2x1"] / rows[one]
            ratios[f"{name}_rows_per_s_2x1_over_{one}_excluding_launch"] = excluding / rows[one]
    for name, a in accuracy.items():
        ratios[f"{name}_accuracy_2_minus_1"] = a["mean_2"] - a["mean_1"]
    return {
        "timings": {"launch_s": throughput["launch_s"]},
        "throughput": throughput,
        "accuracy": accuracy,
        "ratios": ratios,
        "targets": {},
        "seeds": list(SEEDS),
    }
