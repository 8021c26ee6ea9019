"""ResNet training: ``ResNetRegressor.fit`` against a minimal hand-written torch loop.

Both train the same :class:`fboost.nn.TabularResNet` (same widths, depth, initial weights) on the
same standardised data with AdamW, the same batch size and the same number of epochs; the ratio of
their throughputs (training samples per second) measures what the estimator's machinery costs
(validation, scaling, the loss from :mod:`fboost.losses`, the epoch loop). Early stopping is off for
that ratio; a second figure includes the default held-out validation pass.

The achieved training GFLOP/s (3x the forward pass's matrix-multiply FLOPs per sample) is compared
with torch's own matmul GFLOP/s measured in the same run: a large square product (the machine's
practical peak) and a product of the training layers' shape.

Beside the minimal loop stand what a user would pick instead: skorch's ``NeuralNet`` on the same
module, data, batch size, optimizer and epochs (its DataLoader collates rows one by one), with
AdamW as skorch builds it and with the fused AdamW fboost uses (``fboost.nn.adamw``); and the
minimal loop with the fused optimizer, which isolates what the optimizer alone is worth; and the
minimal loop with ``torch.nn.Dropout`` in place of ``fboost.nn.Dropout`` (the networks' dropout,
with a cheaper mask on the CPU), which isolates what that is worth; and the estimator at twice
and four times its default batch size (throughput and test R^2 after the same epochs), and the
default classifier on MNIST-1D at its default batch and at four times it (early stopping on,
test accuracy over three seeds): a larger default only where accuracy does not suffer.
skorch is optional (``pip install skorch``); without it those rows are missing.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from fboost import ResNetClassifier, ResNetRegressor
from fboost.nn import ConvResNet, Dropout, TabularResNet

from ._harness import median_time


def _interleaved(
    fns: dict[str, Callable[[], Any]],
    repeat: int,
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, float]:
    """Median time per function (seconds of ``clock``, wall time by default), runs interleaved
    so that machine load hits all alike."""
    for fn in fns.values():  # warm-up
        fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            times[name].append(median_time(fn, repeat=1, warmup=0, clock=clock))
    return {name: statistics.median(t) for name, t in times.items()}


def _minimal_loop(
    module: torch.nn.Module,
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    X: np.ndarray,
    y: np.ndarray,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    weight_decay: float,
    fused: bool | None = None,
) -> None:
    """The reference: shuffle, forward, loss, backward, AdamW step; nothing else."""
    X_t, y_t = torch.as_tensor(X), torch.as_tensor(y)
    optimizer = torch.optim.AdamW(
        module.parameters(), lr=lr, weight_decay=weight_decay, fused=fused
    )
    module.train()
    n = len(X_t)
    for _ in range(epochs):
        order = torch.randperm(n)
        for start in range(0, n, batch_size):
            index = order[start : start + batch_size]
            optimizer.zero_grad()
            loss(module(X_t[index]), y_t[index]).backward()
            optimizer.step()


def _native_dropout(module: torch.nn.Module) -> torch.nn.Module:
    """``module`` with every ``fboost.nn.Dropout`` replaced by ``torch.nn.Dropout`` (same p)."""
    for parent in list(module.modules()):
        for name, child in parent.named_children():
            if isinstance(child, Dropout):
                setattr(parent, name, torch.nn.Dropout(child.p))
    return module


def _skorch_fit(
    module: torch.nn.Module,
    X: np.ndarray,
    y: np.ndarray,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    weight_decay: float,
    fused: bool | None = None,
) -> bool:
    """skorch's NeuralNet on the same module and data; False when skorch is not installed."""
    try:
        from skorch import NeuralNet
    except ImportError:
        return False
    net = NeuralNet(
        module,
        criterion=torch.nn.MSELoss,
        optimizer=torch.optim.AdamW,
        optimizer__weight_decay=weight_decay,
        optimizer__fused=fused,
        lr=lr,
        batch_size=batch_size,
        max_epochs=epochs,
        train_split=None,
        iterator_train__shuffle=True,
        verbose=0,
    )
    net.fit(X, y[:, None])
    return True


def _matmul_gflops(m: int, k: int, n: int, min_time: float = 0.5) -> float:
    a, b = torch.randn(m, k), torch.randn(k, n)
    torch.mm(a, b)
    reps, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < min_time:
        torch.mm(a, b)
        reps += 1
    return 2.0 * m * k * n * reps / elapsed / 1e9


def _tabular(quick: bool) -> dict[str, Any]:
    n, d_in, epochs, repeat = (4000, 32, 2, 3) if quick else (20000, 32, 4, 5)
    rng = np.random.RandomState(0)
    X = rng.normal(size=(n, d_in))
    y = np.sin(X[:, 0]) + X[:, 1] * X[:, 2] + 0.1 * rng.normal(size=n)
    params = {"n_stages": 3, "max_epochs": epochs, "random_state": 0}
    est = ResNetRegressor(n_iter_no_change=None, **params)
    kwargs = est.fit(X, y)._module_config["kwargs"]
    batch_size, lr, weight_decay = est.batch_size, est.lr, est.weight_decay
    Xs = ((X - X.mean(0)) / X.std(0)).astype(np.float32)
    ys = ((y - y.mean()) / y.std()).astype(np.float32)

    def minimal(fused: bool | None, native_dropout: bool = False) -> Callable[[], None]:
        def fit() -> None:
            torch.manual_seed(0)
            module = TabularResNet(**kwargs)
            _minimal_loop(
                _native_dropout(module) if native_dropout else module,
                lambda raw, t: 0.5 * ((raw[:, 0] - t) ** 2).mean(),
                Xs,
                ys,
                epochs=epochs,
                batch_size=batch_size,
                lr=lr,
                weight_decay=weight_decay,
                fused=fused,
            )

        return fit

    def skorch(fused: bool | None) -> Callable[[], bool]:
        def fit() -> bool:
            torch.manual_seed(0)
            return _skorch_fit(
                TabularResNet(**kwargs), Xs, ys, epochs=epochs, batch_size=batch_size,
                lr=lr, weight_decay=weight_decay, fused=fused,
            )  # fmt: skip

        return fit

    default = ResNetRegressor(n_iter_no_change=epochs + 1, **params)
    fns: dict[str, Callable[[], Any]] = {
        "fit": lambda: est.fit(X, y),
        "reference": minimal(None),
        "reference_fused": minimal(True),
        "reference_native_dropout": minimal(None, native_dropout=True),
        "fit_with_validation": lambda: default.fit(X, y),
    }
    has_skorch = skorch(None)()
    if has_skorch:
        fns |= {"skorch": skorch(None), "skorch_fused": skorch(True)}
    t = _interleaved(fns, repeat)
    d_block, d_hidden = kwargs["d_block"], kwargs["d_hidden"]
    forward_flops = 2 * (d_in * d_block + kwargs["n_blocks"] * 2 * d_block * d_hidden + d_block)
    throughput = n * epochs / t["fit"]
    achieved = 3 * forward_flops * throughput / 1e9
    peak = _matmul_gflops(2048, 2048, 2048)
    layer = _matmul_gflops(batch_size, d_block, d_hidden)
    return {
        "config": {"n": n, "d_in": d_in, "epochs": epochs, "batch_size": batch_size, **kwargs},
        "timings": {
            "resnet_fit_s": t["fit"],
            "minimal_torch_loop_s": t["reference"],
            "minimal_torch_loop_fused_adamw_s": t["reference_fused"],
            "minimal_torch_loop_native_dropout_s": t["reference_native_dropout"],
            "resnet_fit_with_validation_s": t["fit_with_validation"],
            **(
                {"skorch_s": t["skorch"], "skorch_fused_adamw_s": t["skorch_fused"]}
                if has_skorch
                else {}
            ),
        },
        "samples_per_s": {
            "resnet_fit": throughput,
            "minimal_torch_loop": n * epochs / t["reference"],
            "minimal_torch_loop_fused_adamw": n * epochs / t["reference_fused"],
            "minimal_torch_loop_native_dropout": n * epochs / t["reference_native_dropout"],
            "resnet_fit_with_validation": 0.9 * n * epochs / t["fit_with_validation"],
            **(
                {
                    "skorch": n * epochs / t["skorch"],
                    "skorch_fused_adamw": n * epochs / t["skorch_fused"],
                }
                if has_skorch
                else {}
            ),
        },
        "gflops": {
            "training_achieved": achieved,
            "torch_matmul_2048": peak,
            "torch_matmul_layer_shape": layer,
        },
        "train_flops_per_sample": 3 * forward_flops,
    }


def _conv(quick: bool) -> dict[str, Any]:
    n, epochs, repeat = (1000, 1, 3) if quick else (4000, 2, 3)
    rng = np.random.RandomState(0)
    X = rng.normal(size=(n, 1, 8, 8))
    y = (X[:, 0, :4].mean(axis=(1, 2)) > 0).astype(int)
    est = ResNetClassifier(
        architecture="cnn", n_stages=2, d_block=32, max_epochs=epochs,
        n_iter_no_change=None, random_state=0,
    )  # fmt: skip
    kwargs = est.fit(X, y)._module_config["kwargs"]
    Xs = ((X - X.mean()) / X.std()).astype(np.float32)

    def reference() -> None:
        torch.manual_seed(0)
        _minimal_loop(
            ConvResNet(**kwargs),
            lambda raw, t: torch.nn.functional.binary_cross_entropy_with_logits(
                raw[:, 0], t.to(raw.dtype)
            ),
            Xs,
            y,
            epochs=epochs,
            batch_size=est.batch_size,
            lr=est.lr,
            weight_decay=est.weight_decay,
        )

    t = _interleaved({"fit": lambda: est.fit(X, y), "reference": reference}, repeat)
    return {
        "timings": {"resnet_cnn_fit_s": t["fit"], "minimal_torch_cnn_loop_s": t["reference"]},
        "samples_per_s": {
            "resnet_cnn_fit": n * epochs / t["fit"],
            "minimal_torch_cnn_loop": n * epochs / t["reference"],
        },
    }


def _compiled(quick: bool) -> dict[str, Any]:
    """``torch.compile`` on the tabular ResNet: compile time, then steady-state throughput.

    The same minimal loop, eager and compiled (inductor, which needs a C++ compiler), on the
    default widths; "pays off" when the saving per epoch repays the compile time within the
    default 100 epochs.
    """
    n, d_in, epochs = (2048, 32, 2) if quick else (16384, 32, 3)
    rng = np.random.RandomState(0)
    X = torch.as_tensor(rng.normal(size=(n, d_in)).astype(np.float32))
    y = torch.as_tensor(rng.normal(size=n).astype(np.float32))
    batch_size = ResNetRegressor().batch_size
    result: dict[str, Any] = {"n": n, "epochs": epochs, "batch_size": batch_size}
    for name in ("eager", "compiled"):
        torch.manual_seed(0)
        net = TabularResNet(d_in=d_in, d_out=1, d_block=128, d_hidden=256, n_blocks=3)
        forward = torch.compile(net) if name == "compiled" else net
        optimizer = torch.optim.AdamW(net.parameters(), lr=1e-3, fused=True)
        net.train()

        def step(index: torch.Tensor, forward: Any = forward, optimizer: Any = optimizer) -> None:
            optimizer.zero_grad(set_to_none=True)
            ((forward(X[index])[:, 0] - y[index]) ** 2).mean().backward()
            optimizer.step()

        start = time.perf_counter()
        step(torch.arange(batch_size))  # the first step compiles
        result[f"{name}_first_step_s"] = time.perf_counter() - start
        start = time.perf_counter()
        for _ in range(epochs):
            order = torch.randperm(n)
            for i in range(0, n - batch_size + 1, batch_size):  # full batches: no recompiles
                step(order[i : i + batch_size])
        result[f"{name}_samples_per_s"] = (
            epochs * (n // batch_size) * batch_size / (time.perf_counter() - start)
        )
    saved_per_epoch = n / result["eager_samples_per_s"] - n / result["compiled_samples_per_s"]
    result["compiled_over_eager_throughput"] = (
        result["compiled_samples_per_s"] / result["eager_samples_per_s"]
    )
    result["epochs_to_repay_compile"] = (
        result["compiled_first_step_s"] / saved_per_epoch if saved_per_epoch > 0 else None
    )
    return result


def _batch_sizes(quick: bool) -> dict[str, Any]:
    """``ResNetRegressor.fit`` at the default batch size and at 2x and 4x it, same epochs.

    Throughput (training rows per second of wall time, median of interleaved fits) and the test
    R^2 reached after the same number of epochs on held-out rows of the same task, so that a
    larger default batch is only taken where it is faster without costing accuracy.
    """
    n, n_test, d_in, epochs, repeat = (2000, 1000, 32, 2, 1) if quick else (20000, 5000, 32, 10, 2)
    rng = np.random.RandomState(1)
    X = rng.normal(size=(n + n_test, d_in))
    y = np.sin(X[:, 0]) + X[:, 1] * X[:, 2] + 0.1 * rng.normal(size=n + n_test)
    default = ResNetRegressor().batch_size
    sizes = (default, 2 * default, 4 * default)
    ests = {
        b: ResNetRegressor(
            n_stages=3, max_epochs=epochs, batch_size=b, n_iter_no_change=None, random_state=0
        )
        for b in sizes
    }
    fns = {b: (lambda est=est: est.fit(X[:n], y[:n])) for b, est in ests.items()}
    t = _interleaved(fns, repeat)
    return {
        str(b): {
            "samples_per_s": n * epochs / t[b],
            "test_r2": float(ests[b].score(X[n:], y[n:])),
            "epochs": epochs,
        }
        for b in sizes
    }


def _batch_sizes_at_defaults(quick: bool) -> dict[str, Any]:
    """``ResNetClassifier()`` on MNIST-1D at the default batch size and at 4x it, else defaults.

    With early stopping and the default epochs, so the larger batch gets as many epochs as it
    needs; test accuracy (mean and standard deviation over seeds) and median wall time of fit.
    """
    from fboost.datasets import load_dataset

    ds = load_dataset("mnist1d")
    n, seeds = (1000, 1) if quick else (ds.n_train, 3)
    default = ResNetClassifier().batch_size
    result: dict[str, Any] = {"dataset": "mnist1d", "n_train": n, "seeds": seeds}
    for b in (default, 4 * default):
        accuracy, wall, epochs = [], [], []
        for seed in range(seeds):
            est = ResNetClassifier(batch_size=b, random_state=seed)
            start = time.perf_counter()
            est.fit(ds.X_train[:n], ds.y_train[:n])
            wall.append(time.perf_counter() - start)
            accuracy.append(float(est.score(ds.X_test, ds.y_test)))
            epochs.append(est.n_epochs_)
        result[str(b)] = {
            "test_accuracy_mean": statistics.mean(accuracy),
            "test_accuracy_std": statistics.pstdev(accuracy),
            "fit_wall_s_median": statistics.median(wall),
            "n_epochs": epochs,
        }
    return result


def _cnn_default(quick: bool) -> dict[str, Any]:
    """The default CNN on 28x28 digits: accuracy and time (the estimator's CPU-sizing claim)."""
    from fboost.datasets import load_dataset

    ds = load_dataset("digits28")
    n = 1000 if quick else ds.n_train
    X, X_test = ds.as_images(ds.X_train[:n]), ds.as_images(ds.X_test)
    est = ResNetClassifier(architecture="cnn", random_state=0)
    wall, cpu = time.perf_counter(), time.process_time()
    est.fit(X, ds.y_train[:n])
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {
        "n_train": n,
        "epochs": est.n_epochs_,
        "best_epoch": est.best_epoch_,
        "fit_wall_s": wall,
        "fit_cpu_s": cpu,
        "test_accuracy": float(est.score(X_test, ds.y_test)),
        "torch_threads": torch.get_num_threads(),
    }


def run(quick: bool) -> dict[str, Any]:
    tab, conv = _tabular(quick), _conv(quick)
    cnn_default = _cnn_default(quick)
    compiled = _compiled(quick)
    batches = _batch_sizes(quick)
    (b1, r1), (b2, r2), (b4, r4) = batches.items()
    at_defaults = _batch_sizes_at_defaults(quick)
    d1, d4 = at_defaults[b1], at_defaults[b4]
    sps, gflops = {**tab["samples_per_s"], **conv["samples_per_s"]}, tab["gflops"]
    skorch_ratios = (
        {
            "fit_throughput_vs_skorch": sps["resnet_fit"] / sps["skorch"],
            "fit_throughput_vs_skorch_fused_adamw": sps["resnet_fit"] / sps["skorch_fused_adamw"],
        }
        if "skorch" in sps
        else {}
    )
    return {
        "timings": {**tab["timings"], **conv["timings"]},
        "ratios": {
            "cnn_default_test_accuracy": cnn_default["test_accuracy"],
            "cnn_default_fit_wall_s": cnn_default["fit_wall_s"],
            "torch_compile_throughput_vs_eager": compiled["compiled_over_eager_throughput"],
            **skorch_ratios,
            "fit_throughput_vs_minimal_loop": sps["resnet_fit"] / sps["minimal_torch_loop"],
            "fit_throughput_vs_minimal_loop_fused_adamw": sps["resnet_fit"]
            / sps["minimal_torch_loop_fused_adamw"],
            "fused_adamw_throughput_gain_minimal_loop": sps["minimal_torch_loop_fused_adamw"]
            / sps["minimal_torch_loop"],
            "fboost_dropout_throughput_gain_minimal_loop": sps["minimal_torch_loop"]
            / sps["minimal_torch_loop_native_dropout"],
            "fit_with_validation_throughput_vs_minimal_loop": sps["resnet_fit_with_validation"]
            / sps["minimal_torch_loop"],
            "cnn_fit_throughput_vs_minimal_loop": sps["resnet_cnn_fit"]
            / sps["minimal_torch_cnn_loop"],
            "training_gflops_vs_matmul_peak": gflops["training_achieved"]
            / gflops["torch_matmul_2048"],
            "training_gflops_vs_layer_matmul": gflops["training_achieved"]
            / gflops["torch_matmul_layer_shape"],
            f"fit_throughput_batch_{b2}_vs_{b1}": r2["samples_per_s"] / r1["samples_per_s"],
            f"fit_throughput_batch_{b4}_vs_{b1}": r4["samples_per_s"] / r1["samples_per_s"],
            f"test_r2_batch_{b2}_minus_{b1}": r2["test_r2"] - r1["test_r2"],
            f"test_r2_batch_{b4}_minus_{b1}": r4["test_r2"] - r1["test_r2"],
            f"mnist1d_default_fit_wall_batch_{b4}_over_{b1}": d4["fit_wall_s_median"]
            / d1["fit_wall_s_median"],
            f"mnist1d_default_test_accuracy_batch_{b4}_minus_{b1}": d4["test_accuracy_mean"]
            - d1["test_accuracy_mean"],
        },
        "batch_sizes": batches,
        "batch_sizes_at_defaults": at_defaults,
        "cnn_default": cnn_default,
        "torch_compile": compiled,
        "targets": {
            "cnn_default_test_accuracy": 0.97,
            "cnn_default_fit_wall_s": 180.0,
            "fit_throughput_vs_skorch": 1.2,
            "fit_throughput_vs_minimal_loop": 1.0,
            "training_gflops_vs_matmul_peak": 0.4,
        },
        "samples_per_s": sps,
        "gflops": gflops,
        "config": tab["config"],
        "train_flops_per_sample": tab["train_flops_per_sample"],
        "torch_threads": torch.get_num_threads(),
    }
