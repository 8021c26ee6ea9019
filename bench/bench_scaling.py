"""How fit cost grows: CPU time against the number of rows and against the number of stages.

Each estimator is fitted with a fixed amount of work per row and per stage (no early stopping,
fixed epochs), on friedman1 rows (10 features), with torch and LightGBM on one thread, and the CPU
time of ``fit`` (``time.process_time``: on a shared machine wall time swings with the load of
other processes, CPU time much less) is recorded. The growth exponent is the least-squares slope
of log time against log size: 1 is linear. Rows go from 1,000 to 100,000 (quick: to 10,000);
stages from 2 to 32 blocks or 50 to 800 trees.

``NeuralBoosting`` is timed twice: purely stagewise (``corrective_epochs=0``: each stage trains
one weak net on cached inputs, so its cost is flat in t and the total linear in T) and with
GrowNet's corrective step (one epoch over all stages after each stage: stage t costs O(t), the
total O(T^2), by design of the algorithm).

The figure goes to ``bench/results/scaling.png`` and the docs' performance page
(``docs/img/performance-scaling.png``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.datasets import make_friedman1

from fboost import (
    BoostResNetRegressor,
    NeuralBoostingRegressor,
    ResNetRegressor,
    TreeBoostingRegressor,
)

from ._harness import RESULTS

DOCS_IMG = Path(__file__).resolve().parents[1] / "docs" / "img"

#: estimator factories: name -> (make(n_stages), stage grid)
_FAMILIES: dict[str, tuple[Callable[[int], Any], tuple[int, ...], int]] = {
    "TreeBoosting (lightgbm)": (
        lambda t: TreeBoostingRegressor(n_stages=t, n_jobs=1, random_state=0),
        (50, 100, 200, 400, 800),
        100,
    ),
    "TreeBoosting (sklearn)": (
        lambda t: TreeBoostingRegressor(engine="sklearn", n_stages=t, random_state=0),
        (50, 100, 200, 400, 800),
        100,
    ),
    "ResNet": (
        lambda t: ResNetRegressor(n_stages=t, max_epochs=2, n_iter_no_change=None, random_state=0),
        (2, 4, 8, 16, 32),
        3,
    ),
    "BoostResNet": (
        lambda t: BoostResNetRegressor(
            n_stages=t, epochs_per_stage=1, n_iter_no_change=None, random_state=0
        ),
        (2, 4, 8, 16, 32),
        3,
    ),
    "NeuralBoosting (stagewise)": (
        lambda t: NeuralBoostingRegressor(
            n_stages=t, epochs_per_stage=1, corrective_epochs=0, random_state=0
        ),
        (2, 4, 8, 16, 32),
        5,
    ),
    "NeuralBoosting (corrective)": (
        lambda t: NeuralBoostingRegressor(
            n_stages=t, epochs_per_stage=1, corrective_epochs=1, random_state=0
        ),
        (2, 4, 8, 16, 32),
        5,
    ),
}


def _cpu_time(
    make: Callable[[int], Any], n_stages: int, X: np.ndarray, y: np.ndarray, repeat: int
) -> float:
    times = []
    for _ in range(repeat):
        est = make(n_stages)
        start = time.process_time()
        est.fit(X, y)
        times.append(time.process_time() - start)
    return float(np.median(times))


def _slope(sizes: list[int], times: list[float]) -> float:
    return float(np.polyfit(np.log(sizes), np.log(times), 1)[0])


def _figure(report: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, axis in zip(axes, ("rows", "stages"), strict=True):
        for name, family in report["families"].items():
            curve = family[axis]
            slope = family[f"{axis}_exponent"]
            sizes = np.asarray(curve["sizes"], dtype=float)
            if axis == "stages":
                sizes = sizes / sizes[0]  # trees and blocks on one axis: relative number
            ax.loglog(sizes, curve["cpu_s"], "o-", label=f"{name} (slope {slope:.2f})")
        ax.set_xlabel("rows" if axis == "rows" else "stages, relative to the smallest grid point")
        ax.set_ylabel("fit CPU time (s)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    axes[0].set_title("cost against rows (fixed stages)")
    axes[1].set_title("cost against stages (fixed rows)")
    fig.suptitle(f"fit CPU time, one thread; {report['machine']}", fontsize=9)
    fig.tight_layout()
    RESULTS.mkdir(parents=True, exist_ok=True)
    for folder in (RESULTS, DOCS_IMG):
        fig.savefig(folder / ("scaling.png" if folder == RESULTS else "performance-scaling.png"))
    plt.close(fig)


def run(quick: bool) -> dict[str, Any]:
    import platform

    torch.set_num_threads(1)
    rows = (1000, 3000, 10000) if quick else (1000, 3000, 10000, 30000, 100000)
    n_stage_rows = 2000 if quick else 5000
    repeat = 1 if quick else 3
    X, y = make_friedman1(n_samples=max(rows), n_features=10, noise=1.0, random_state=0)
    families: dict[str, Any] = {}
    for name, (make, stage_grid, fixed_stages) in _FAMILIES.items():
        grid = stage_grid[:3] if quick else stage_grid
        make(2).fit(X[:200], y[:200])  # warm-up: one-off imports and allocations
        row_times = [_cpu_time(make, fixed_stages, X[:n], y[:n], repeat) for n in rows]
        stage_times = [_cpu_time(make, t, X[:n_stage_rows], y[:n_stage_rows], repeat) for t in grid]
        families[name] = {
            "rows": {"sizes": list(rows), "cpu_s": row_times, "n_stages": fixed_stages},
            "stages": {"sizes": list(grid), "cpu_s": stage_times, "n_rows": n_stage_rows},
            "rows_exponent": _slope(list(rows), row_times),
            "stages_exponent": _slope(list(grid), stage_times),
        }
    report = {
        "machine": f"{platform.processor() or platform.machine()}, torch threads 1",
        "families": families,
        "timings": {
            f"{name} rows={rows[-1]}": f["rows"]["cpu_s"][-1] for name, f in families.items()
        },
        "ratios": {f"{name} rows exponent": f["rows_exponent"] for name, f in families.items()}
        | {f"{name} stages exponent": f["stages_exponent"] for name, f in families.items()},
        "targets": {},
    }
    _figure(report)
    return report
