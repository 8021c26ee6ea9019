"""The experiment runner on Dask: a study's sweep on 2 worker processes against 1 worker.

A real study, ``gradient_flow`` at its quick size with six seeds (the same cost per seed: four
networks, six depths, three epochs each), is run by `experiments._sweep.run_sweep` three
times into fresh output folders: serially in this process, on a ``LocalCluster`` of one worker
process and on one of two (one thread per worker; the clusters are started and their workers
warmed up, importing the study, before the clock starts). The wall time of each sweep includes
claiming, every seed, the combine step (CSV files, figures) and publishing. The three results
are checked to be the same (metrics, CSV files) before the times are reported.

``ratios.workers_2_over_1`` is the target (<= 0.6 on two cores: six equal seeds split 3 + 3,
plus the serial combine step); ``ratios.workers_1_over_serial`` is Dask's overhead. The
machine's load average is recorded beside the times: two workers can only halve the wall time
when two cores are free for them. Quick: the smoke size (two seeds), a check that it runs.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
import time
from pathlib import Path
from typing import Any


def _config(quick: bool) -> Any:
    from experiments import gradient_flow

    if quick:
        return gradient_flow.SIZES["smoke"]
    return dataclasses.replace(gradient_flow.SIZES["quick"], name="bench", seeds=tuple(range(6)))


def _sweep(config: Any, output: Path, client: Any = None) -> tuple[float, dict[str, Any]]:
    from experiments import gradient_flow
    from experiments._sweep import Job, run_sweep

    start = time.perf_counter()
    (outcome,) = run_sweep(
        [Job("gradient_flow", config, gradient_flow.main)], client=client, output=output
    )
    seconds = time.perf_counter() - start
    if outcome.error is not None or outcome.result is None:
        raise RuntimeError(f"the sweep failed:\n{outcome.error}")
    files = {
        name: (outcome.result.path / name).read_bytes()
        for name in ("block_gradients.csv", "ratios.csv")
    }
    return seconds, {"metrics": outcome.result.report["metrics"], "files": files}


def _warm() -> None:
    """What a seed of gradient_flow imports, so that the clock starts with warm workers."""
    import experiments.gradient_flow  # noqa: F401
    import fboost.analysis  # noqa: F401
    import fboost.datasets  # noqa: F401


def _on_cluster(workers: int, config: Any, output: Path) -> tuple[float, dict[str, Any]]:
    from experiments._sweep import dask_client

    with dask_client(workers=workers) as client:
        client.wait_for_workers(workers, timeout=300)
        client.run(_warm)
        return _sweep(config, output, client)


def run(quick: bool = False) -> dict[str, Any]:
    config = _config(quick)
    _warm()
    load = {"before": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        serial, reference = _sweep(config, root / "serial")
        load["after_serial"] = os.getloadavg()[0]
        one, on_one = _on_cluster(1, config, root / "one")
        load["after_workers_1"] = os.getloadavg()[0]
        two, on_two = _on_cluster(2, config, root / "two")
        load["after_workers_2"] = os.getloadavg()[0]
    if not (reference == on_one == on_two):
        raise AssertionError("the sweeps on 1 and 2 workers differ from the serial one")
    return {
        "study": "gradient_flow",
        "config": config.to_dict(),
        "timings": {"serial": serial, "workers_1": one, "workers_2": two},
        "ratios": {"workers_2_over_1": two / one, "workers_1_over_serial": one / serial},
        "targets": {"workers_2_over_1": "<= 0.6"},
        "identical_results": True,
        # 1-minute load averages: on a machine others share, 2 workers get 2 cores only when
        # the load stays below about 2 (this machine has 2 cores: os.cpu_count())
        "load_average_1min": load,
    }
