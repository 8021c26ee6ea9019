"""Running a study so that finished results are never lost, mixed or silently overwritten.

A study is a module in ``experiments/`` with a frozen dataclass ``Config`` (a subclass of
:class:`StudyConfig`), the sizes ``SIZES = {"smoke": ..., "quick": ..., "full": ...}`` and
``main(config, output) -> dict``. ``main`` writes its CSV and PNG files into ``output`` and returns
the report body: ``{"metrics": ..., "table": [rows], "figures": [file names]}``.

:func:`run_study` gives every run its own folder ``results/<study>/<config.name>/``:

- the run works in a hidden temporary folder beside it and only a finished run is moved into
  place (``os.replace``), with ``report.json`` and a ``DONE`` marker written last; an interrupted
  run leaves no half-written report, and its temporary folder is removed by the next run;
- a finished run with the same config is skipped; ``force=True`` redoes it;
- a finished run with a *different* config under the same name is never overwritten silently:
  it raises unless ``force=True``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["StudyConfig", "RunResult", "run_study", "write_json_atomic", "environment"]

DONE = "DONE"
REPORT = "report.json"


@dataclasses.dataclass(frozen=True)
class StudyConfig:
    """Fields every study config has: a name for its folder and the seeds it repeats over."""

    name: str
    seeds: tuple[int, ...] = (0, 1, 2)
    #: progress bars; not part of the run's identity (a quiet and a verbose run are the same run)
    verbose: bool = dataclasses.field(default=False, metadata={"identity": False}, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """The fields that identify the run, JSON-ready (tuples become lists)."""
        fields = {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if f.metadata.get("identity", True)
        }
        return json.loads(json.dumps(fields))


@dataclasses.dataclass(frozen=True)
class RunResult:
    """Where a run's results are, and whether this call computed them."""

    path: Path
    report: dict[str, Any]
    skipped: bool


def environment() -> dict[str, Any]:
    """Versions and machine facts recorded in every report."""
    import lightgbm
    import numpy
    import sklearn
    import torch

    import fboost

    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "fboost": fboost.__version__,
        "numpy": numpy.__version__,
        "scikit-learn": sklearn.__version__,
        "lightgbm": lightgbm.__version__,
        "torch": torch.__version__,
        "cuda": torch.cuda.is_available(),
    }


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON to ``path`` through a temporary file in the same folder and ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle, indent=2, default=_json_default)  # keep column order
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _json_default(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _finished_report(path: Path) -> dict[str, Any] | None:
    if not (path / DONE).exists() or not (path / REPORT).exists():
        return None
    with open(path / REPORT) as handle:
        report: dict[str, Any] = json.load(handle)
        return report


def _check_writable(root: Path) -> None:
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OSError(f"cannot create the output folder {root}: {exc.strerror}") from exc
    if not os.access(root, os.W_OK | os.X_OK):
        raise PermissionError(f"the output folder {root} is not writable")


def run_study(
    study: str,
    config: StudyConfig,
    main: Callable[[Any, Path], dict[str, Any]],
    *,
    output: Path | str = "results",
    force: bool = False,
) -> RunResult:
    """Run ``main(config, folder)`` for one study and config, atomically; skip a finished run.

    Parameters
    ----------
    study : str
        The study's name (its results folder).
    config : StudyConfig
        The run's config; ``config.name`` names the run's folder.
    main : callable
        ``main(config, folder) -> report body``; writes its files into ``folder``.
    output : path, default="results"
        Root of all results.
    force : bool, default=False
        Redo a finished run, replacing it (also when its config differs).

    Returns
    -------
    RunResult
    """
    root = Path(output) / study
    _check_writable(root)
    final = root / config.name
    for stale in root.glob(f".{config.name}.*.partial"):
        shutil.rmtree(stale, ignore_errors=True)  # left by an interrupted run
    wanted = config.to_dict()
    finished = _finished_report(final) if final.exists() else None
    if finished is not None and not force:
        if finished.get("config") == wanted:
            return RunResult(final, finished, skipped=True)
        raise FileExistsError(
            f"{final} holds a finished run of a different config; pass force=True (--force) to "
            "replace it, or give the new config another name"
        )
    work = Path(tempfile.mkdtemp(dir=root, prefix=f".{config.name}.", suffix=".partial"))
    try:
        started = time.time()
        body = main(config, work)
        report = {
            "study": study,
            "config": wanted,
            "environment": environment(),
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
            "wall_time_s": time.time() - started,
            **body,
        }
        missing = [f for f in report.get("figures", []) if not (work / f).exists()]
        if missing:
            raise RuntimeError(f"study {study} reported figures it did not write: {missing}")
        write_json_atomic(work / REPORT, report)
        (work / DONE).write_text(report["started"] + "\n")
        if final.exists():  # an unfinished leftover, or a finished run being forced out
            shutil.rmtree(final)
        os.replace(work, final)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return RunResult(final, report, skipped=False)
