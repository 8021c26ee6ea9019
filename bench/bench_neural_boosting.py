"""GrowNet's stagewise cost: does stage 20 cost what stage 1 costs?

``NeuralBoostingRegressor`` caches ``F_{t-1}`` and the penultimate features ``z_{t-1}`` of the
frozen stages, so that stage t trains one weak net whatever t is. With a fixed number of epochs
per stage and no corrective step, the wall time of stage 20 over that of stage 1 should stay near 1
(target <= 1.3; stage 1 reads ``x`` alone, later stages ``[x, z]``, a slightly wider first layer).

For contrast, the same stage is timed in a reference loop that recomputes the frozen stages on
every batch, as GrowNet's own code and torchensemble do: its ratio grows with t. A third figure
times the estimator with one corrective epoch per stage, which must run all stages (no target).
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import numpy as np
import torch

from fboost.neural_boosting import NeuralBoostingRegressor
from fboost.nn._weak import WeakNet


class _Timed(NeuralBoostingRegressor):
    """Records the wall time of each stage (Newton targets, training, line search, caches)."""

    def _boost_stage(self, train: Any, val: Any) -> None:
        start = time.perf_counter()
        super()._boost_stage(train, val)
        self.stage_times_.append(time.perf_counter() - start)

    def _fit(self, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray) -> None:
        self.stage_times_: list[float] = []
        super()._fit(X, y, sample_weight)


def _stage_times(params: dict[str, Any], X: np.ndarray, y: np.ndarray, repeat: int) -> np.ndarray:
    """Per-stage wall times, median over ``repeat`` fits, shape ``(n_stages,)``."""
    runs = []
    for _ in range(repeat):
        est = _Timed(**params).fit(X, y)
        runs.append(est.stage_times_)
    return np.median(np.asarray(runs), axis=0)


def _recomputing_stage(
    nets: list[WeakNet], alphas: list[float], X: torch.Tensor, y: torch.Tensor, params: dict
) -> float:
    """One stage of the no-cache reference: the frozen nets run again on every batch."""
    d_hidden = params["d_hidden"]
    net = WeakNet(d_in=X.shape[1], d_carry=d_hidden if nets else 0, d_hidden=d_hidden, d_out=1)
    optimizer = torch.optim.AdamW(net.parameters(), lr=params["lr"], weight_decay=0.0)
    start = time.perf_counter()
    for _ in range(params["epochs_per_stage"]):
        order = torch.randperm(len(X))
        for i in range(0, len(X), params["batch_size"]):
            index = order[i : i + params["batch_size"]]
            x = X[index]
            with torch.no_grad():  # F_{t-1} and z_{t-1} of this batch, from scratch
                raw, z = torch.zeros(len(x), 1), None
                for frozen, alpha in zip(nets, alphas, strict=True):
                    out, z = frozen(x, z)
                    raw = raw + alpha * out
            optimizer.zero_grad()
            loss = 0.5 * ((net(x, z)[0][:, 0] - (y[index] - raw[:, 0])) ** 2).mean()
            loss.backward()
            optimizer.step()
    elapsed = time.perf_counter() - start
    net.eval()
    nets.append(net)
    alphas.append(1.0)
    return elapsed


def _reference_times(X: np.ndarray, y: np.ndarray, params: dict, repeat: int) -> np.ndarray:
    Xt = torch.as_tensor((X - X.mean(0)) / X.std(0), dtype=torch.float32)
    yt = torch.as_tensor((y - y.mean()) / y.std(), dtype=torch.float32)
    runs = []
    for seed in range(repeat):
        torch.manual_seed(seed)
        nets: list[WeakNet] = []
        alphas: list[float] = []
        runs.append([_recomputing_stage(nets, alphas, Xt, yt, params) for _ in range(20)])
    return np.median(np.asarray(runs), axis=0)


def run(quick: bool = False) -> dict[str, Any]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small nets: per-stage times are stable (and no slower) on one
    try:
        return _run(quick)
    finally:
        torch.set_num_threads(threads)


def _run(quick: bool) -> dict[str, Any]:
    n, d, epochs, repeat = (4000, 32, 1, 2) if quick else (20000, 32, 2, 3)
    rng = np.random.RandomState(0)
    X = rng.normal(size=(n, d))
    y = np.sin(X[:, 0]) + X[:, 1] * X[:, 2] + 0.1 * rng.normal(size=n)
    params = {
        "n_stages": 20,
        "d_hidden": 32,
        "epochs_per_stage": epochs,
        "corrective_epochs": 0,
        "batch_size": 128,
        "lr": 3e-3,
        "random_state": 0,
    }
    _Timed(**{**params, "n_stages": 2}).fit(X[:500], y[:500])  # warm-up
    stagewise = _stage_times(params, X, y, repeat)
    corrective = _stage_times({**params, "corrective_epochs": 1}, X, y, max(1, repeat - 1))
    reference = _reference_times(X, y, params, max(1, repeat - 1))
    late = statistics.mean(stagewise[-3:]) / statistics.mean(stagewise[:3])
    return {
        "config": {"n_samples": n, "n_features": d, **params},
        "timings": {
            "stagewise_stage_1_s": float(stagewise[0]),
            "stagewise_stage_20_s": float(stagewise[-1]),
            "stagewise_fit_s": float(stagewise.sum()),
            "corrective_stage_1_s": float(corrective[0]),
            "corrective_stage_20_s": float(corrective[-1]),
            "recomputing_reference_stage_1_s": float(reference[0]),
            "recomputing_reference_stage_20_s": float(reference[-1]),
        },
        "stage_times_s": {
            "stagewise": stagewise.tolist(),
            "corrective": corrective.tolist(),
            "recomputing_reference": reference.tolist(),
        },
        "ratios": {
            "stage 20 / stage 1 (stagewise, cached)": float(stagewise[-1] / stagewise[0]),
            "stages 18-20 / stages 1-3 (stagewise, cached)": float(late),
            "stage 20 / stage 1 (recomputing reference)": float(reference[-1] / reference[0]),
            "stage 20 / stage 1 (corrective_epochs=1)": float(corrective[-1] / corrective[0]),
            "stage 1 / reference stage 1 (estimator overhead)": float(stagewise[0] / reference[0]),
        },
        "targets": {"stage 20 / stage 1 (stagewise, cached)": "<= 1.3"},
        "torch_threads": torch.get_num_threads(),
    }
