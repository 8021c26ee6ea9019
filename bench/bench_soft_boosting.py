"""Soft gradient boosting: fboost's SoftBoosting beside torchensemble's and beside GrowNet.

Three models on the same data (digits for classification, friedman1 for regression; fixed
80/20 splits, inputs standardised on the training rows), each fitted once per repeat on one
torch thread:

1. ``SoftBoostingClassifier`` / ``SoftBoostingRegressor``: T learners (MLPs with ``n_layers``
   hidden layers of ``d_hidden`` units), AdamW, ``epochs`` passes, shrinkage 1, no early stop.
2. torchensemble's ``SoftGradientBoostingClassifier`` / ``SoftGradientBoostingRegressor`` with
   the same learners (``fboost.nn._soft.mlp``), optimizer, learning rate, batch size, shrinkage
   and epochs (its defaults otherwise: ``use_reduction_sum=True``, targets not detached). It is
   an optional, bench-only dependency (the ``bench`` extra; ``pip install torchensemble==0.2.0
   --no-deps`` keeps the installed torch); without it that comparison is skipped with a message.
3. ``NeuralBoostingClassifier`` / ``NeuralBoostingRegressor`` (GrowNet) with as many stages and
   ``d_hidden`` chosen so that its parameter count is closest to the soft GBM's; every weak net
   trains ``epochs`` passes (``epochs_per_stage=epochs``, no corrective step), so each learner
   sees the data as often as in the soft GBM.

Reported: fit time (median over repeats, the three models run alternately so that the load of
a shared machine hits them alike), test accuracy or R^2, parameter counts; ratios of fit
times (fboost's soft GBM over torchensemble's, target <= 1.2: the same algorithm without its
per-learner re-summation and joblib dispatch) and of scores.
"""

from __future__ import annotations

import importlib.util
import time
from typing import Any

import numpy as np
import torch
from sklearn.datasets import load_digits, make_friedman1
from sklearn.model_selection import train_test_split

from fboost import SoftBoostingClassifier, SoftBoostingRegressor
from fboost.neural_boosting import NeuralBoostingClassifier, NeuralBoostingRegressor
from fboost.nn._soft import mlp

INSTALL = "pip install torchensemble==0.2.0 --no-deps"


def _data(task: str, quick: bool) -> tuple[np.ndarray, ...]:
    if task == "classification":
        X, y = load_digits(return_X_y=True)
        stratify = y
    else:
        X, y = make_friedman1(n_samples=1000 if quick else 4000, noise=1.0, random_state=0)
        stratify = None
    X_tr, X_te, y_tr, y_te = train_test_split(
        X, y, test_size=0.2, random_state=0, stratify=stratify
    )
    mean, std = X_tr.mean(0), X_tr.std(0)
    std = np.where(std > 0, std, 1.0)
    return (X_tr - mean) / std, (X_te - mean) / std, y_tr, y_te


def _n_params(module: torch.nn.Module) -> int:
    return int(sum(p.numel() for p in module.parameters()))


def _grownet_params(d_in: int, d_hidden: int, d_out: int, n_stages: int) -> int:
    """GrowNet's parameters: weak nets (stage 1 reads x, later ones [x, z_{t-1}]), boost rates."""

    def one(d_carry: int) -> int:
        return (d_in + d_carry + 1) * d_hidden + (d_hidden + 1) * d_hidden + (d_hidden + 1) * d_out

    return one(0) + (n_stages - 1) * one(d_hidden) + n_stages


def _timed_fit(make: Any, fit: Any, repeat: int) -> tuple[float, Any]:
    times, model = [], None
    for _ in range(repeat):
        model = make()
        start = time.perf_counter()
        fit(model)
        times.append(time.perf_counter() - start)
    return float(np.median(times)), model


def _score(task: str, y: np.ndarray, prediction: np.ndarray) -> float:
    if task == "classification":
        return float(np.mean(prediction == y))
    return float(1.0 - np.sum((y - prediction) ** 2) / np.sum((y - y.mean()) ** 2))


def _torchensemble(task: str, data: tuple, cfg: dict[str, Any], repeat: int) -> dict[str, Any]:
    import torchensemble
    from torch.utils.data import DataLoader, TensorDataset

    X_tr, X_te, y_tr, y_te = data
    classification = task == "classification"
    d_out = len(np.unique(y_tr)) if classification else 1
    y_mean, y_std = (0.0, 1.0) if classification else (float(y_tr.mean()), float(y_tr.std()))

    class Learner(torch.nn.Module):  # the same MLP as fboost's learners
        def __init__(self) -> None:
            super().__init__()
            self.net = mlp(
                d_in=X_tr.shape[1], d_hidden=cfg["d_hidden"], n_layers=cfg["n_layers"], d_out=d_out
            )

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.net(x)

    X = torch.as_tensor(X_tr, dtype=torch.float32)
    if classification:
        y = torch.as_tensor(y_tr, dtype=torch.int64)
        cls = torchensemble.SoftGradientBoostingClassifier
    else:  # its regressor needs targets shaped like the outputs, (n, 1)
        y = torch.as_tensor((y_tr - y_mean) / y_std, dtype=torch.float32)[:, None]
        cls = torchensemble.SoftGradientBoostingRegressor

    def make() -> Any:
        torch.manual_seed(0)
        model = cls(estimator=Learner, n_estimators=cfg["n_stages"], shrinkage_rate=1.0, cuda=False)
        model.set_optimizer("AdamW", lr=cfg["lr"], weight_decay=0.0)
        return model

    def fit(model: Any) -> None:
        torch.manual_seed(0)
        loader = DataLoader(TensorDataset(X, y), batch_size=cfg["batch_size"], shuffle=True)
        model.fit(loader, epochs=cfg["epochs"], save_model=False, log_interval=10**9)

    seconds, model = _timed_fit(make, fit, repeat)
    with torch.no_grad():
        out = model.predict(torch.as_tensor(X_te, dtype=torch.float32)).numpy()
    prediction = out.argmax(axis=1) if classification else y_mean + y_std * out[:, 0]
    return {
        "fit_s": seconds,
        "score": _score(task, y_te, prediction),
        "n_params": _n_params(model),
        "version": torchensemble.__version__ if hasattr(torchensemble, "__version__") else "0.2.0",
    }


def _fboost(task: str, data: tuple, cfg: dict[str, Any], repeat: int) -> dict[str, Any]:
    X_tr, X_te, y_tr, y_te = data
    cls = SoftBoostingClassifier if task == "classification" else SoftBoostingRegressor
    params = {
        "n_stages": cfg["n_stages"],
        "d_hidden": cfg["d_hidden"],
        "n_layers": cfg["n_layers"],
        "lr": cfg["lr"],
        "batch_size": cfg["batch_size"],
        "max_epochs": cfg["epochs"],
        "learning_rate": 1.0,
        "n_iter_no_change": None,
        "random_state": 0,
    }
    seconds, model = _timed_fit(lambda: cls(**params), lambda m: m.fit(X_tr, y_tr), repeat)
    return {
        "fit_s": seconds,
        "score": float(model.score(X_te, y_te)),
        "n_params": _n_params(model.module_),
        "params": params,
    }


def _grownet(
    task: str, data: tuple, cfg: dict[str, Any], n_params: int, repeat: int
) -> dict[str, Any]:
    X_tr, X_te, y_tr, y_te = data
    classification = task == "classification"
    d_out = len(np.unique(y_tr)) if classification else 1
    T = cfg["n_stages"]
    d_hidden = min(
        range(1, 257),
        key=lambda h: abs(_grownet_params(X_tr.shape[1], h, d_out, T) - n_params),
    )
    cls = NeuralBoostingClassifier if classification else NeuralBoostingRegressor
    params = {
        "n_stages": T,
        "d_hidden": d_hidden,
        "epochs_per_stage": cfg["epochs"],
        "corrective_epochs": 0,
        "lr": cfg["lr"],
        "batch_size": cfg["batch_size"],
        "random_state": 0,
    }
    seconds, model = _timed_fit(lambda: cls(**params), lambda m: m.fit(X_tr, y_tr), repeat)
    counted = _n_params(model.module_)
    assert counted == _grownet_params(X_tr.shape[1], d_hidden, d_out, T)
    return {
        "fit_s": seconds,
        "score": float(model.score(X_te, y_te)),
        "n_params": counted,
        "params": params,
    }


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The first run's record with the median fit time of all (fits are seeded: same scores)."""
    scores = {r["score"] for r in runs}
    return {
        **runs[0],
        "fit_s": float(np.median([r["fit_s"] for r in runs])),
        "fit_s_all": [r["fit_s"] for r in runs],
        "scores_all": sorted(scores),
    }


def run(quick: bool = False) -> dict[str, Any]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _run(quick)
    finally:
        torch.set_num_threads(threads)


def _run(quick: bool) -> dict[str, Any]:
    cfg = {
        "n_stages": 10,
        "d_hidden": 32,
        "n_layers": 2,
        "lr": 1e-3,
        "batch_size": 128,
        "epochs": 5 if quick else 40,
    }
    repeat = 1 if quick else 3
    warm = _data("regression", True)  # untimed: torch's first calls are slow
    SoftBoostingRegressor(n_stages=2, max_epochs=1, n_iter_no_change=None).fit(warm[0], warm[2])
    have_torchensemble = importlib.util.find_spec("torchensemble") is not None
    if not have_torchensemble:
        print(f"soft_boosting: torchensemble is not installed, skipping it ({INSTALL})")
    results: dict[str, Any] = {}
    ratios: dict[str, float] = {}
    timings: dict[str, float] = {}
    for task in ("classification", "regression"):
        data = _data(task, quick)
        runs: dict[str, list[dict[str, Any]]] = {"ours": [], "grownet": [], "reference": []}
        for _ in range(repeat):  # alternately, so that drift on a shared machine hits all alike
            runs["ours"].append(_fboost(task, data, cfg, 1))
            n_params = runs["ours"][0]["n_params"]
            runs["grownet"].append(_grownet(task, data, cfg, n_params, 1))
            if have_torchensemble:
                runs["reference"].append(_torchensemble(task, data, cfg, 1))
        ours, grownet = _median_run(runs["ours"]), _median_run(runs["grownet"])
        entry: dict[str, Any] = {
            "fboost_soft_boosting": ours,
            "neural_boosting_same_params": grownet,
            "n_train": len(data[0]),
            "n_test": len(data[1]),
            "score": "test accuracy" if task == "classification" else "test R^2",
        }
        timings[f"{task}: fboost soft boosting fit_s"] = ours["fit_s"]
        timings[f"{task}: NeuralBoosting fit_s"] = grownet["fit_s"]
        ratios[f"{task}: fit time NeuralBoosting / soft boosting"] = (
            grownet["fit_s"] / ours["fit_s"]
        )
        if have_torchensemble:
            reference = _median_run(runs["reference"])
            entry["torchensemble_soft_gradient_boosting"] = reference
            timings[f"{task}: torchensemble fit_s"] = reference["fit_s"]
            ratios[f"{task}: fit time fboost / torchensemble"] = ours["fit_s"] / reference["fit_s"]
            ratios[f"{task}: score fboost - torchensemble"] = ours["score"] - reference["score"]
        else:
            entry["torchensemble_soft_gradient_boosting"] = f"skipped: not installed ({INSTALL})"
        results[task] = entry
    targets = {}
    if have_torchensemble:
        targets = {f"{task}: fit time fboost / torchensemble": "<= 1.2" for task in results}
    return {
        "config": {**cfg, "repeat": repeat},
        "results": results,
        "timings": timings,
        "ratios": ratios,
        "targets": targets,
        "torch_threads": 1,
    }
