"""The benchmark harness: median wall time of repeated runs, ratios, a JSON report per benchmark."""

from __future__ import annotations

import datetime
import json
import os
import platform
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"


def median_time(
    fn: Callable[[], Any],
    *,
    repeat: int = 3,
    warmup: int = 1,
    clock: Callable[[], float] = time.perf_counter,
) -> float:
    """Median time of ``repeat`` calls of ``fn`` (after ``warmup`` untimed calls), seconds of
    ``clock``: wall time by default, ``time.process_time`` for this process's CPU time."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = clock()
        fn()
        times.append(clock() - start)
    return statistics.median(times)


def paired_times(
    ours: Callable[[], Any], reference: Callable[[], Any], *, repeat: int = 3, warmup: int = 1
) -> tuple[float, float]:
    """Median times of ``ours`` and ``reference``, run alternately so drift hits both alike."""
    for _ in range(warmup):
        reference()
        ours()
    times: dict[str, list[float]] = {"ours": [], "reference": []}
    for _ in range(repeat):
        for name, fn in (("reference", reference), ("ours", ours)):
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return statistics.median(times["ours"]), statistics.median(times["reference"])


def environment() -> dict[str, Any]:
    import lightgbm
    import numpy
    import sklearn
    import torch

    return {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "numpy": numpy.__version__,
        "scikit-learn": sklearn.__version__,
        "lightgbm": lightgbm.__version__,
        "torch": torch.__version__,
    }


def _atomic_json(path: Path, obj: Any) -> None:
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as tmp:
        json.dump(obj, tmp, indent=2, sort_keys=True)
        tmp.write("\n")
    os.replace(tmp.name, path)


def _commit() -> str | None:
    """The checkout's commit, ``+dirty`` when tracked files differ from it; None outside git."""
    root = Path(__file__).parent.parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
        )
    except OSError:
        return None
    if head.returncode != 0:
        return None
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def write_report(name: str, report: dict[str, Any], *, results: Path = RESULTS) -> Path:
    """Write ``results/<name>.json`` atomically and add the run to ``results/<name>_runs.json``.

    The history keeps every run's report with its date and commit, so that the docs can give
    the spread across runs and machines beside the latest run. The ratios are printed, one line
    each.
    """
    report = {"benchmark": name, "environment": environment(), **report}
    results.mkdir(parents=True, exist_ok=True)
    path = results / f"{name}.json"
    _atomic_json(path, report)
    history_path = results / f"{name}_runs.json"
    history = json.loads(history_path.read_text()) if history_path.exists() else {"runs": []}
    date = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    history["runs"].append({"date": date, "commit": _commit(), **report})
    _atomic_json(history_path, history)
    for key, value in report.get("ratios", {}).items():
        target = report.get("targets", {}).get(key)
        suffix = f"  (target {target})" if target is not None else ""
        print(f"{name}: {key} = {value:.3f}{suffix}")
    return path
