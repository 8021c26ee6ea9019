"""Peak training memory: BoostResNet (one block at a time) against the end-to-end ResNet.

Huang et al. (2018, section 4) note that training one residual block at a time needs the memory
of one block plus the rest (``M1 + M2``) where backpropagation through the whole network needs
``T M1 + M2``. Here both estimators train the same MLP blocks on the same data, for
T = 4, 8 and 16 blocks, each fit in a fresh subprocess. A fit's memory is the peak resident set
during ``fit`` (``VmHWM``, reset just before the fit through ``/proc/self/clear_refs``) less the
resident set just before it (after a small warm-up fit of the same estimator, so that torch's
one-off allocations are not counted): the allocator's real peak, data and module included, not a
``tracemalloc`` count (which does not see torch's buffers). The target for the ratio
BoostResNet / ResNet is ``2 / T``.

A second figure is the wall time BoostResNet needs to reach the end-to-end model's test accuracy:
the end-to-end ResNet is trained first, and BoostResNet's stage times are summed up to the first
stage whose staged test accuracy reaches it (``None`` when no stage does).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from typing import Any

import numpy as np

_CHILD = textwrap.dedent(
    """
    import json, sys, time
    import numpy as np
    import torch
    torch.set_num_threads(1)
    from fboost import BoostResNetClassifier, ResNetClassifier

    def rss_kib(field):
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field):
                    return int(line.split()[1])
        raise RuntimeError(field)

    spec = json.loads(sys.argv[1])
    rng = np.random.RandomState(0)
    X = rng.normal(size=(spec["n"], spec["d_in"])).astype(np.float32)
    y = (X[:, :4].sum(axis=1) > 0).astype(int) + 2 * (X[:, 4:8].sum(axis=1) > 0)
    common = dict(
        n_stages=spec["n_stages"], d_block=spec["d_block"], batch_size=spec["batch_size"],
        n_iter_no_change=None, random_state=0, dropout1=0.0,
    )
    if spec["model"] == "boostresnet":
        est = BoostResNetClassifier(epochs_per_stage=spec["epochs"], **common)
    else:
        est = ResNetClassifier(max_epochs=spec["epochs"], **common)
    # warm-up: torch's one-off allocations (kernels, thread pools) before the baseline
    type(est)(**{**est.get_params(), "n_stages": 1}).fit(X[:256], y[:256])
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset VmHWM to the current resident set
    before = rss_kib("VmRSS")
    start = time.perf_counter()
    est.fit(X, y)
    elapsed = time.perf_counter() - start
    print(json.dumps({"peak_kib": rss_kib("VmHWM") - before, "fit_s": elapsed}))
    """
)


def _measure(spec: dict[str, Any]) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, json.dumps(spec)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def _memory(quick: bool) -> list[dict[str, Any]]:
    depths = (4, 8) if quick else (4, 8, 16)
    base = {"n": 4000, "d_in": 64, "d_block": 256, "batch_size": 1024, "epochs": 1}
    if not quick:
        base = {**base, "n": 20000}
    rows = []
    for n_stages in depths:
        row: dict[str, Any] = {"n_stages": n_stages, **base}
        for model in ("resnet", "boostresnet"):
            result = _measure({**base, "n_stages": n_stages, "model": model})
            row[f"{model}_peak_mib"] = result["peak_kib"] / 1024
            row[f"{model}_fit_s"] = result["fit_s"]
        row["memory_ratio"] = row["boostresnet_peak_mib"] / row["resnet_peak_mib"]
        row["target_ratio"] = 2.0 / n_stages
        rows.append(row)
    return rows


def _time_to_accuracy(quick: bool) -> dict[str, Any]:
    from fboost import BoostResNetClassifier, ResNetClassifier
    from fboost.datasets import load_dataset

    ds = load_dataset("digits" if quick else "mnist1d", random_state=0)
    params = {"n_stages": 4, "random_state": 0}
    start = time.perf_counter()
    resnet = ResNetClassifier(**params).fit(ds.X_train, ds.y_train)
    resnet_s = time.perf_counter() - start
    target = float(resnet.score(ds.X_test, ds.y_test))
    boost = BoostResNetClassifier(**params).fit(ds.X_train, ds.y_train)
    staged = [float(np.mean(pred == ds.y_test)) for pred in boost.staged_predict(ds.X_test)]
    cumulative = np.cumsum(boost.stage_times_)  # stage 0 (stem and first head), then 1..T
    reached = [t for t, acc in enumerate(staged, start=1) if acc >= target]
    return {
        "dataset": ds.name,
        "resnet_test_accuracy": target,
        "resnet_fit_s": resnet_s,
        "boostresnet_staged_test_accuracy": staged,
        "boostresnet_cumulative_s": cumulative.tolist(),
        "first_stage_reaching_resnet": reached[0] if reached else None,
        "boostresnet_s_to_resnet_accuracy": float(cumulative[reached[0]]) if reached else None,
    }


def run(quick: bool) -> dict[str, Any]:
    rows = _memory(quick)
    return {
        "timings": {f"resnet_fit_T{r['n_stages']}_s": r["resnet_fit_s"] for r in rows}
        | {f"boostresnet_fit_T{r['n_stages']}_s": r["boostresnet_fit_s"] for r in rows},
        "ratios": {
            f"memory_boostresnet_over_resnet_T{r['n_stages']}": r["memory_ratio"] for r in rows
        },
        "targets": {
            f"memory_boostresnet_over_resnet_T{r['n_stages']}": 2.0 / r["n_stages"] for r in rows
        },
        "memory": rows,
        "time_to_accuracy": _time_to_accuracy(quick),
    }
