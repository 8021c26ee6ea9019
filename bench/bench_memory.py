"""Peak training memory: BoostResNet (one block at a time) against the end-to-end ResNet.

Huang et al. (2018, section 4) note that training one residual block at a time needs the memory
of one block plus the rest (``M1 + M2``) where backpropagation through the whole network needs
``T M1 + M2``. Here both estimators train the same MLP blocks (256 wide, hidden 512) on the same
data, for T = 4, 8 and 16 blocks, each fit in a fresh subprocess on one thread.

The baseline: a fit's memory is the peak resident set during ``fit`` (``VmHWM``, reset just before
the fit through ``/proc/self/clear_refs``) less the resident set just before it, measured after a
small warm-up fit of the same estimator, so that torch's own resident memory (about 500 MiB of
libraries and one-off allocations) is not counted. What is counted is everything the fit
allocates: the estimator's copies of the data, the network, its optimizer, the activations and,
for BoostResNet, the cached features ``z_{t-1}`` of every row; not a ``tracemalloc`` count
(which does not see torch's buffers). Two allocators (``_ALLOCATORS``: glibc's default, which
keeps freed heap blocks, and every large block in its own mapping, which counts live memory) and
three settings (``_SETTINGS``: minibatches, two sizes of full batches) are measured. The target
for the ratio BoostResNet / ResNet is ``2 / T``; beside it stand the ratio of the paper's own
model, ``(M1 + M2) / (T M1 + M2)`` with ``M1`` and ``M2`` read off the ResNet's peaks (the slope
and the intercept of its peak against T; ``_paper_model``), and the peak memory each added block
costs (the slope of the peak against T: ``M1`` and the block's parameters and optimizer state
for the ResNet, the frozen block's parameters alone for BoostResNet).

A second figure is the wall time BoostResNet needs to reach the end-to-end model's test accuracy:
the end-to-end ResNet is trained first, and BoostResNet's stage times are summed up to the first
stage whose staged test accuracy reaches it (``None`` when no stage does).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from typing import Any

import numpy as np
import torch

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


#: glibc keeps freed heap blocks for reuse, so the default allocator's high-water mark also
#: counts memory that is free but not returned; with every allocation above 128 KiB in its own
#: mapping (``MALLOC_MMAP_THRESHOLD_``, which also stops glibc from raising the threshold), the
#: mark counts what is live. Both are measured.
_ALLOCATORS = {"glibc_default": {}, "mmap_above_128k": {"MALLOC_MMAP_THRESHOLD_": "131072"}}

#: (rows, batch size): minibatches of 1,024 out of 20,000 rows (the cached features of every
#: row, 20 MiB, weigh as much as the activations of a few blocks), and full batches of 4,096
#: and of 16,384 rows (the activations of a batch dominate, the regime of the paper's M1 + M2
#: argument)
_SETTINGS = {
    "minibatch": (20000, 1024),
    "full_batch": (4096, 4096),
    "large_full_batch": (16384, 16384),
}


def _measure(spec: dict[str, Any], env: dict[str, str]) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, json.dumps(spec)],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def _memory(quick: bool) -> list[dict[str, Any]]:
    depths = (4, 8) if quick else (4, 8, 16)
    rows = []
    for setting, (n, batch_size) in _SETTINGS.items():
        n = n // 4 if quick else n
        base = {"n": n, "d_in": 64, "d_block": 256, "batch_size": min(batch_size, n), "epochs": 1}
        for allocator, env in _ALLOCATORS.items():
            for n_stages in depths:
                row: dict[str, Any] = {
                    "setting": setting, "allocator": allocator, "n_stages": n_stages, **base
                }  # fmt: skip
                for model in ("resnet", "boostresnet"):
                    result = _measure({**base, "n_stages": n_stages, "model": model}, env)
                    row[f"{model}_peak_mib"] = result["peak_kib"] / 1024
                    row[f"{model}_fit_s"] = result["fit_s"]
                row["memory_ratio"] = row["boostresnet_peak_mib"] / row["resnet_peak_mib"]
                row["target_ratio"] = 2.0 / n_stages
                rows.append(row)
    return rows


def _per_block(rows: list[dict[str, Any]], model: str) -> float:
    """MiB of peak memory per added block: the slope of the peak against T."""
    depths = [r["n_stages"] for r in rows]
    return float(np.polyfit(depths, [r[f"{model}_peak_mib"] for r in rows], 1)[0])


def _paper_model(rows: list[dict[str, Any]]) -> None:
    """Huang et al.'s model of the saving, fitted to the end-to-end ResNet's peaks.

    The ResNet's peak against T is a line ``M2 + T M1`` (``M1``: one block's share, its
    activations, gradients and optimizer state; ``M2``: the rest, which does not grow with T);
    the paper's BoostResNet needs ``M1 + M2``, so the model's ratio is ``(M1 + M2) / (T M1 +
    M2)``. It is at most ``2 / T`` only where ``M2 <= M1 T / (T - 2)``, i.e. where one block's
    activations outweigh everything else. Adds ``resnet_m1_mib``, ``resnet_m2_mib`` and
    ``paper_model_ratio`` to each row.
    """
    depths = [r["n_stages"] for r in rows]
    m1, m2 = np.polyfit(depths, [r["resnet_peak_mib"] for r in rows], 1)
    for r in rows:
        r["resnet_m1_mib"], r["resnet_m2_mib"] = float(m1), float(m2)
        r["paper_model_ratio"] = float((m1 + m2) / (r["n_stages"] * m1 + m2))


def _time_to_accuracy(quick: bool) -> dict[str, Any]:
    """Both at their defaults (4 blocks), one thread; wall and CPU seconds (CPU: steadier)."""
    from fboost import BoostResNetClassifier, ResNetClassifier
    from fboost.datasets import load_dataset

    torch.set_num_threads(1)
    ds = load_dataset("digits" if quick else "mnist1d", random_state=0)
    params = {"n_stages": 4, "random_state": 0}
    wall, cpu = time.perf_counter(), time.process_time()
    resnet = ResNetClassifier(**params).fit(ds.X_train, ds.y_train)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    target = float(resnet.score(ds.X_test, ds.y_test))
    boost = BoostResNetClassifier(**params).fit(ds.X_train, ds.y_train)
    staged = [float(np.mean(pred == ds.y_test)) for pred in boost.staged_predict(ds.X_test)]
    cumulative = np.cumsum(boost.stage_times_)  # stage 0 (stem and first head), then 1..T
    cumulative_cpu = np.cumsum(boost.stage_cpu_times_)
    reached = [t for t, acc in enumerate(staged, start=1) if acc >= target]
    return {
        "dataset": ds.name,
        "resnet_test_accuracy": target,
        "resnet_fit_s": wall,
        "resnet_fit_cpu_s": cpu,
        "boostresnet_staged_test_accuracy": staged,
        "boostresnet_cumulative_s": cumulative.tolist(),
        "boostresnet_cumulative_cpu_s": cumulative_cpu.tolist(),
        "first_stage_reaching_resnet": reached[0] if reached else None,
        "boostresnet_s_to_resnet_accuracy": float(cumulative[reached[0]]) if reached else None,
        "boostresnet_cpu_s_to_resnet_accuracy": (
            float(cumulative_cpu[reached[0]]) if reached else None
        ),
    }


def run(quick: bool) -> dict[str, Any]:
    rows = _memory(quick)
    ratios: dict[str, float] = {}
    targets: dict[str, float] = {}
    per_block: dict[str, dict[str, float]] = {}
    for r in rows:
        key = f"memory_boostresnet_over_resnet_{r['setting']}_{r['allocator']}_T{r['n_stages']}"
        ratios[key], targets[key] = r["memory_ratio"], 2.0 / r["n_stages"]
    for setting in _SETTINGS:
        for allocator in _ALLOCATORS:
            group = [r for r in rows if (r["setting"], r["allocator"]) == (setting, allocator)]
            slopes = {model: _per_block(group, model) for model in ("resnet", "boostresnet")}
            per_block[f"{setting}_{allocator}"] = slopes
            ratios[f"peak_mib_per_block_boostresnet_over_resnet_{setting}_{allocator}"] = (
                slopes["boostresnet"] / slopes["resnet"]
            )
            _paper_model(group)
            for r in group:
                key = f"memory_ratio_over_paper_model_{setting}_{allocator}_T{r['n_stages']}"
                ratios[key] = r["memory_ratio"] / r["paper_model_ratio"]
    timed = [r for r in rows if r["allocator"] == "glibc_default"]
    return {
        "timings": {
            f"{model}_fit_{r['setting']}_T{r['n_stages']}_s": r[f"{model}_fit_s"]
            for r in timed
            for model in ("resnet", "boostresnet")
        },
        "ratios": ratios,
        "targets": targets,
        "memory": rows,
        "peak_mib_per_block": per_block,
        "time_to_accuracy": _time_to_accuracy(quick),
    }
