"""NeuralBoosting against torchensemble's GradientBoosting: time and accuracy at T = 20 stages.

torchensemble's ``GradientBoostingRegressor`` / ``Classifier`` train one learner after another,
each on the pseudo-residuals of the learners before it, and recompute every earlier learner on
every batch to get those residuals: stage t runs t networks per batch, the whole fit O(T^2).
fboost's ``NeuralBoosting*`` caches the frozen stages' outputs, so stage t trains one network.

Both get the same weak learner (two hidden ReLU layers of ``d_hidden`` units; GrowNet's stage t
also reads the previous stage's hidden features), the same number of stages, epochs per stage,
batch size and AdamW settings, on the same standardised data. fboost is timed purely stagewise
(``corrective_epochs=0``: the same work per stage as torchensemble) and with its default
corrective step (one epoch over all stages after each stage; more work, by GrowNet's design).
Test scores (R^2, accuracy) sit beside the times. torchensemble is optional
(``pip install torchensemble``); without it the benchmark says so and reports fboost alone.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
import torch
from sklearn.datasets import load_digits, make_friedman1
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from fboost import NeuralBoostingClassifier, NeuralBoostingRegressor


class _MLP(torch.nn.Module):
    """The weak learner of GrowNet's first stage: Linear-ReLU-Linear-ReLU-Linear."""

    def __init__(self, d_in: int, d_hidden: int, d_out: int) -> None:
        super().__init__()
        self.net = torch.nn.Sequential(
            torch.nn.Linear(d_in, d_hidden),
            torch.nn.ReLU(),
            torch.nn.Linear(d_hidden, d_hidden),
            torch.nn.ReLU(),
            torch.nn.Linear(d_hidden, d_out),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def _data(task: str, quick: bool) -> tuple[np.ndarray, ...]:
    if task == "regression":
        X, y = make_friedman1(n_samples=2000 if quick else 10000, noise=1.0, random_state=0)
    else:
        X, y = load_digits(return_X_y=True)
    parts = train_test_split(X, y, test_size=0.25, random_state=0)
    scaler = StandardScaler().fit(parts[0])
    X_train, X_test = (scaler.transform(p).astype(np.float32) for p in parts[:2])
    y_train, y_test = parts[2], parts[3]
    if task == "regression":
        mean, std = y_train.mean(), y_train.std()
        y_train, y_test = (y_train - mean) / std, (y_test - mean) / std
    return X_train, X_test, y_train, y_test


def _torchensemble(task: str, data: tuple[np.ndarray, ...], params: dict[str, Any]) -> dict:
    from torch.utils.data import DataLoader, TensorDataset
    from torchensemble import GradientBoostingClassifier, GradientBoostingRegressor

    logging.getLogger("torchensemble").setLevel(logging.ERROR)
    X_train, X_test, y_train, y_test = data
    d_out = 1 if task == "regression" else int(y_train.max()) + 1
    cls = GradientBoostingRegressor if task == "regression" else GradientBoostingClassifier
    torch.manual_seed(0)
    model = cls(
        estimator=_MLP,
        n_estimators=params["n_stages"],
        estimator_args={"d_in": X_train.shape[1], "d_hidden": params["d_hidden"], "d_out": d_out},
        cuda=False,
    )
    model.set_optimizer("AdamW", lr=params["lr"], weight_decay=0.0)
    target = (
        torch.as_tensor(y_train, dtype=torch.float32)[:, None]
        if task == "regression"
        else torch.as_tensor(y_train, dtype=torch.long)
    )
    loader = DataLoader(
        TensorDataset(torch.as_tensor(X_train), target),
        batch_size=params["batch_size"],
        shuffle=True,
    )
    start = time.perf_counter()
    model.fit(loader, epochs=params["epochs_per_stage"], save_model=False, log_interval=10**9)
    elapsed = time.perf_counter() - start
    with torch.no_grad():
        out = model.predict(torch.as_tensor(X_test)).numpy()
    score = (
        r2_score(y_test, out[:, 0])
        if task == "regression"
        else accuracy_score(y_test, out.argmax(axis=1))
    )
    return {"fit_s": elapsed, "test_score": float(score)}


def _fboost(
    task: str, data: tuple[np.ndarray, ...], params: dict[str, Any], corrective_epochs: int
) -> dict:
    X_train, X_test, y_train, y_test = data
    cls = NeuralBoostingRegressor if task == "regression" else NeuralBoostingClassifier
    est = cls(**params, corrective_epochs=corrective_epochs, random_state=0)
    start = time.perf_counter()
    est.fit(X_train, y_train)
    elapsed = time.perf_counter() - start
    return {"fit_s": elapsed, "test_score": float(est.score(X_test, y_test))}


def run(quick: bool) -> dict[str, Any]:
    try:
        import torchensemble  # noqa: F401

        have_reference = True
    except ImportError:
        have_reference = False
        print("torchensemble is not installed: reporting fboost alone (pip install torchensemble)")
    # the first torch optimizer of a process imports torch._dynamo (seconds): not either's cost
    torch.optim.AdamW(torch.nn.Linear(1, 1).parameters())
    params = {
        "n_stages": 20,
        "d_hidden": 32,
        "epochs_per_stage": 1 if quick else 3,
        "lr": 3e-3,
        "batch_size": 128,
    }
    cases: dict[str, Any] = {}
    ratios: dict[str, float] = {}
    timings: dict[str, float] = {}
    for task in ("regression", "classification"):
        data = _data(task, quick)
        row = {
            "fboost_stagewise": _fboost(task, data, params, 0),
            "fboost_corrective": _fboost(task, data, params, 1),
        }
        if have_reference:
            row["torchensemble"] = _torchensemble(task, data, params)
            for name in ("fboost_stagewise", "fboost_corrective"):
                ratios[f"{task}: torchensemble time / {name} time"] = (
                    row["torchensemble"]["fit_s"] / row[name]["fit_s"]
                )
        timings |= {f"{task} {name}": r["fit_s"] for name, r in row.items()}
        cases[task] = {"n_train": len(data[0]), **row}
    return {
        "config": params,
        "cases": cases,
        "timings": timings,
        "ratios": ratios,
        "targets": {f"{t}: torchensemble time / fboost_stagewise time": 3.0 for t in cases},
        "torch_threads": torch.get_num_threads(),
    }
