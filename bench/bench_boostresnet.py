"""BoostResNet: the cost of a stage against its depth, and of stagewise against end-to-end training.

1. **Caching.** BoostResNet trains stage t on the cached output of the frozen trunk, so the wall
   time of a stage must not grow with t. 20 stages with a fixed number of epochs each
   (``n_iter_no_change=None``); the ratio is the median time of stage 20 over that of stage 1
   (target <= 1.3), for tabular (mlp) and image (cnn) blocks. Without the cache, stage 20 would
   run 20 blocks per batch (torchensemble's O(T^2)).
2. **Stagewise vs end to end.** ``BoostResNetClassifier`` against ``ResNetClassifier`` with the
   same blocks, data and number of passes per block (``epochs_per_stage = max_epochs``), both
   without early stopping; the ratio of their total training times, with the test accuracy of
   each. The full run uses MNIST-1D (offline), the quick run digits.

Torch runs on one thread here: the figures are ratios, and on a shared machine a second thread
makes wall times swing by several times when another process takes a core.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch
from sklearn.datasets import load_digits, make_classification
from sklearn.model_selection import train_test_split

from fboost import ResNetClassifier
from fboost.boostresnet import BoostResNetClassifier

from ._harness import paired_times


def _digits() -> tuple[np.ndarray, ...]:
    digits = load_digits()
    return tuple(
        train_test_split(
            digits.images[:, None].astype(np.float32),
            digits.target,
            test_size=0.25,
            random_state=0,
            stratify=digits.target,
        )
    )


def _mnist1d() -> tuple[np.ndarray, ...]:
    from fboost.datasets import load_dataset

    ds = load_dataset("mnist1d")
    images = [x.reshape(len(x), 1, 1, -1) for x in (ds.X_train, ds.X_test)]  # (n, 1, 1, 40)
    return images[0], images[1], ds.y_train, ds.y_test


def _stage_times(name: str, X: np.ndarray, y: np.ndarray, repeat: int, **params: Any) -> dict:
    """Median wall and CPU time of every stage over ``repeat`` fits of 20 stages (after one
    untimed fit)."""
    est = BoostResNetClassifier(n_stages=20, n_iter_no_change=None, random_state=0, **params)
    est.fit(X, y)
    times: dict[str, list[np.ndarray]] = {"wall": [], "cpu": []}
    for _ in range(repeat):
        est.fit(X, y)
        times["wall"].append(est.stage_times_)
        times["cpu"].append(est.stage_cpu_times_)
    result: dict[str, Any] = {"name": name, "config": {"n": len(X), "n_stages": 20, **params}}
    for kind, rows in times.items():
        median = np.median(np.stack(rows), axis=0)
        result[f"{kind}_stage_s"] = median.tolist()  # stage 0 (stem and head 0), 1..20
        result[f"{kind}_stage20_over_stage1"] = float(median[20] / median[1])
        result[f"{kind}_last5_over_first5"] = float(median[16:21].mean() / median[1:6].mean())
        result[f"{kind}_total_s"] = float(median.sum())
    return result


def _versus_end_to_end(name: str, data: tuple[np.ndarray, ...], repeat: int, **params: Any) -> dict:
    X_train, X_test, y_train, y_test = data
    epochs = params.pop("epochs")
    same = {"n_iter_no_change": None, "random_state": 0, **params}
    boost = BoostResNetClassifier(epochs_per_stage=epochs, **same)
    resnet = ResNetClassifier(max_epochs=epochs, **same)
    t_boost, t_resnet = paired_times(
        lambda: boost.fit(X_train, y_train),
        lambda: resnet.fit(X_train, y_train),
        repeat=repeat,
        warmup=0,
    )
    staged = [float(np.mean(p == y_test)) for p in boost.staged_predict(X_test)]
    return {
        "name": name,
        "config": {"n_train": len(X_train), "n_test": len(X_test), "epochs": epochs, **same},
        "boostresnet_fit_s": t_boost,
        "resnet_fit_s": t_resnet,
        "boostresnet_over_resnet_time": t_boost / t_resnet,
        "boostresnet_test_accuracy": float(boost.score(X_test, y_test)),
        "resnet_test_accuracy": float(resnet.score(X_test, y_test)),
        "boostresnet_staged_test_accuracy": staged,
        "boostresnet_edges": boost.edges_.round(4).to_dict(orient="list"),
    }


def run(quick: bool) -> dict[str, Any]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # ratios, not throughput: one thread keeps them steady when shared
    try:
        return _run(quick)
    finally:
        torch.set_num_threads(threads)


def _run(quick: bool) -> dict[str, Any]:
    begin = time.perf_counter()
    repeat = 1 if quick else 3
    X, y = make_classification(
        n_samples=2000 if quick else 8000, n_features=32, n_informative=16, n_classes=4,
        random_state=0,
    )  # fmt: skip
    digits = _digits()
    caching = [
        _stage_times("mlp", X, y, repeat, d_block=64, epochs_per_stage=2),
        _stage_times("cnn", digits[0], digits[2], repeat, architecture="cnn", d_block=16,
                     epochs_per_stage=1),
    ]  # fmt: skip
    if quick:
        versus = [
            _versus_end_to_end("digits_cnn", digits, 1, architecture="cnn", n_stages=3,
                               d_block=16, lr=3e-3, batch_size=64, epochs=5),
        ]  # fmt: skip
    else:
        mnist1d = _mnist1d()
        flat = tuple(x.reshape(len(x), -1) if x.ndim == 4 else x for x in mnist1d)
        versus = [
            _versus_end_to_end("digits_cnn", digits, repeat, architecture="cnn", n_stages=3,
                               d_block=16, lr=3e-3, batch_size=64, epochs=5),
            _versus_end_to_end("mnist1d_mlp", flat, repeat, architecture="mlp", n_stages=6,
                               epochs=10),
            _versus_end_to_end("mnist1d_cnn", mnist1d, 1, architecture="cnn", n_stages=3,
                               d_block=32, epochs=10),
        ]  # fmt: skip
    ratios: dict[str, float] = {}
    for c in caching:
        for key in ("stage20_over_stage1", "last5_over_first5"):
            for kind in ("wall", "cpu"):
                ratios[f"{c['name']}_{kind}_{key}"] = c[f"{kind}_{key}"]
    for v in versus:
        ratios[f"{v['name']}_boostresnet_over_resnet_time"] = v["boostresnet_over_resnet_time"]
    return {
        "timings": {
            **{f"{c['name']}_20_stages_s": c["wall_total_s"] for c in caching},
            **{f"{v['name']}_boostresnet_fit_s": v["boostresnet_fit_s"] for v in versus},
            **{f"{v['name']}_resnet_fit_s": v["resnet_fit_s"] for v in versus},
            "benchmark_s": time.perf_counter() - begin,
        },
        "ratios": ratios,
        "targets": {f"{c['name']}_wall_stage20_over_stage1": 1.3 for c in caching},
        "accuracy": {
            v["name"]: {
                "boostresnet": v["boostresnet_test_accuracy"],
                "resnet": v["resnet_test_accuracy"],
            }
            for v in versus
        },
        "caching": caching,
        "versus_end_to_end": versus,
        "torch_threads": torch.get_num_threads(),
        "note": "times are medians over repeated fits in one process; CPU times count every "
        "thread of the process and are steadier than wall times on a shared machine",
    }
