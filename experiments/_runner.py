"""Running a study so that finished results are never lost, mixed or silently overwritten.

A study is a module in ``experiments/`` with a frozen dataclass ``Config`` (a subclass of
`StudyConfig`), the sizes ``SIZES = {"smoke": ..., "quick": ..., "full": ...}`` and
``main(config, output) -> dict``. ``main`` writes its CSV and PNG files into ``output`` and returns
the report body: ``{"metrics": ..., "table": [rows], "figures": [file names]}``.

Every study's ``main`` is a `BySeed`: ``seed_part(config, seed)`` computes what one seed
contributes (anything picklable, e.g. DataFrames) and ``combine(config, parts, output)`` turns
``{seed: part}`` into the files and the report body. Calling the `BySeed` is the serial ``main``;
`experiments._sweep` sends the seeds of many runs to a Dask cluster instead. Either way each
seed runs through `run_seed` (fixed thread counts, every global generator seeded), so the
results are the same bit for bit. A seed's part is kept (`SeedStore`) until its run is
published: an interrupted run resumes without redoing its finished seeds.

`run_study` gives every run its own folder ``results/<study>/<config.name>/``:

- a finished run (``DONE`` beside a readable ``report.json`` and every file the report lists, at
  the size it lists) with the same config is skipped; ``force=True`` redoes it; one with a
  *different* config is never overwritten unless ``force=True``; one whose report is corrupt is
  an error naming the file (rerun with ``force=True`` / ``--force``);
- each run is *claimed* first (`experiments._claims`: a ``.<name>.claim`` file created
  atomically, recording its owner's pid, host and start; a claim whose owner is gone is
  recovered). A second runner on the same output waits for the first and then skips its finished
  run; runners on other hosts sharing the file system take turns the same way;
- the claimed run works in a hidden folder ``.<name>.<token>.partial`` and writes ``report.json``
  and then ``DONE`` last; just before publishing it checks again that it still holds the claim,
  that its folder is whole, and the config of whatever now sits at the final path;
- publishing is a rename. A forced run first renames the old result aside
  (``.<name>.<token>.old``), renames the new one into place, and only then deletes the old one;
  a crash between the two renames is repaired by the next run, which puts the old result back;
- on start (holding the claim) a run removes the partial folders whose owner is gone, never a
  live one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import pickle
import platform
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ._claims import Claim, Owner, claim, fault_point, owner_alive, remove_leftovers

__all__ = [
    "StudyConfig",
    "BySeed",
    "run_seed",
    "SeedStore",
    "OpenRun",
    "open_run",
    "RunResult",
    "CorruptRunError",
    "run_study",
    "finished_report",
    "write_json_atomic",
    "environment",
    "check_writable",
]

DONE = "DONE"
REPORT = "report.json"
OWNER = ".owner.json"


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


class CorruptRunError(RuntimeError):
    """A run is marked DONE but its report or files cannot be trusted."""


@dataclasses.dataclass(frozen=True)
class BySeed:
    """A study's ``main`` split by seed, so that its seeds can run anywhere, in any order.

    ``seed_part(config, seed)`` computes what one seed contributes and returns it (it must be
    picklable: plain values, lists, dicts, NumPy arrays, DataFrames; it writes no files).
    ``combine(config, parts, output)`` gets ``{seed: part}`` for every seed of ``config.seeds``,
    in that order, writes the run's files into ``output`` and returns the report body. Both are
    module-level functions (a Dask worker imports them by name).

    Calling a `BySeed` is the serial ``main(config, output)``: each seed through `run_seed`,
    then ``combine``.
    """

    seed_part: Callable[[Any, int], Any]
    combine: Callable[[Any, dict[int, Any], Path], dict[str, Any]]

    def seeds(self, config: Any) -> tuple[int, ...]:
        """``config.seeds``; a ValueError when a seed repeats (its part would be one part)."""
        seeds = tuple(config.seeds)
        if len(set(seeds)) != len(seeds):
            raise ValueError(f"config.seeds repeats a seed: {seeds}")
        return seeds

    def __call__(self, config: Any, output: Path) -> dict[str, Any]:
        parts = {seed: run_seed(self.seed_part, config, seed) for seed in self.seeds(config)}
        return self.combine(config, parts, Path(output))


#: threads each seed runs with (torch, OpenMP, BLAS, LightGBM), in every process alike
SEED_THREADS = 1


@contextlib.contextmanager
def _threads(n: int) -> Iterator[None]:
    """torch, the OpenMP/BLAS pools and LightGBM's default (``OMP_NUM_THREADS``) at ``n``."""
    import torch
    from threadpoolctl import threadpool_limits

    before_torch = torch.get_num_threads()
    before_env = os.environ.get("OMP_NUM_THREADS")
    torch.set_num_threads(n)
    os.environ["OMP_NUM_THREADS"] = str(n)  # fboost's LightGBM default reads it at fit time
    try:
        with threadpool_limits(limits=n):
            yield
    finally:
        torch.set_num_threads(before_torch)
        if before_env is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = before_env


def run_seed(
    seed_part: Callable[[Any, int], Any], config: Any, seed: int, *, threads: int = SEED_THREADS
) -> Any:
    """``seed_part(config, seed)`` with ``threads`` threads and every global generator seeded.

    Python's ``random``, NumPy's legacy global generator and torch's are seeded with ``seed``
    first, so a seed's part is the same whichever process runs it and whatever ran there before.
    """
    import numpy as np
    import torch

    if not isinstance(threads, int) or isinstance(threads, bool) or threads < 1:
        raise ValueError(f"threads must be a positive int, got {threads!r}")
    with _threads(threads):
        random.seed(seed)
        np.random.seed(seed % 2**32)  # noqa: NPY002 (the legacy global generator is the point)
        torch.manual_seed(seed)
        return seed_part(config, seed)


def _digest(wanted: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(wanted, sort_keys=True).encode()).hexdigest()[:16]


class SeedStore:
    """Finished seeds' parts of one unfinished run, kept until the run is published.

    ``<output>/.seeds/<study>/<config.name>/<digest of the config>/<seed>.pkl``, each written
    atomically. Only the holder of the run's claim reads or writes it. A part saved under
    another config (another digest) is never used; a file that does not unpickle to this
    config's part is ignored and recomputed.
    """

    def __init__(self, output: Path | str, study: str, config: StudyConfig) -> None:
        self.wanted = config.to_dict()
        self.base = Path(output) / ".seeds"
        self.run = self.base / study / config.name
        self.folder = self.run / _digest(self.wanted)

    def _file(self, seed: int) -> Path:
        return self.folder / f"{seed}.pkl"

    def load(self, seed: int) -> tuple[bool, Any]:
        """``(True, part)`` when ``seed``'s part is stored, else ``(False, None)``."""
        try:
            with open(self._file(seed), "rb") as handle:
                record = pickle.load(handle)
        except FileNotFoundError:
            return False, None
        except Exception:  # a part that does not unpickle (truncated, code changed) is redone
            return False, None
        if not (
            isinstance(record, dict)
            and record.get("config") == self.wanted
            and record.get("seed") == seed
        ):
            return False, None
        return True, record["part"]

    def save(self, seed: int, part: Any) -> None:
        """Keep ``seed``'s part (temporary file, then ``os.replace``)."""
        data = pickle.dumps({"config": self.wanted, "seed": seed, "part": part})
        for attempt in range(3):  # a parent folder may be removed as empty by another run
            self.folder.mkdir(parents=True, exist_ok=True)
            try:
                fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=f".{seed}.", suffix=".tmp")
            except FileNotFoundError:
                if attempt == 2:
                    raise
                continue
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(tmp, self._file(seed))
            except BaseException:
                if os.path.exists(tmp):
                    os.unlink(tmp)
                raise
            fault_point("seed-saved")
            return

    def clear(self) -> None:
        """Remove every part kept for this run's name (any config), and empty parent folders."""
        shutil.rmtree(self.run, ignore_errors=True)
        for folder in (self.run.parent, self.base):
            try:
                folder.rmdir()
            except OSError:
                pass  # not empty (another run's parts), or gone


def _version(name: str) -> str | None:
    module = sys.modules.get(name)
    if module is not None and hasattr(module, "__version__"):
        return str(module.__version__)
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def environment() -> dict[str, Any]:
    """Versions and machine facts recorded in every report (reads versions without importing)."""
    torch = sys.modules.get("torch")
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "fboost": _version("fboost"),
        "numpy": _version("numpy"),
        "scikit-learn": _version("sklearn") or _version("scikit-learn"),
        "lightgbm": _version("lightgbm"),
        "torch": _version("torch"),
        "cuda": bool(torch.cuda.is_available()) if torch is not None else None,
    }


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON to ``path`` through a temporary file in the same folder and ``os.replace``.

    The folder must exist: it is never created here, so a folder removed under a run cannot
    come back holding nothing but a report.
    """
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


def _manifest(folder: Path) -> dict[str, int]:
    """Every file a run wrote (relative path -> bytes), hidden files and the markers aside."""
    return {
        p.relative_to(folder).as_posix(): p.stat().st_size
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.name.startswith(".") and p.name not in (DONE, REPORT)
    }


def finished_report(path: Path) -> dict[str, Any] | None:
    """The report of the finished run at ``path``, or None when it is not finished.

    Raises `CorruptRunError` (naming the file and the remedy) when ``DONE`` is there but
    ``report.json`` is missing, unreadable, or lists files that are missing or of another size.
    """
    if not (path / DONE).is_file():
        return None
    remedy = f"rerun with --force (force=True) to redo it, or delete {path}"
    report_path = path / REPORT
    try:
        report = json.loads(report_path.read_text())
    except FileNotFoundError:
        raise CorruptRunError(f"{path} is marked DONE but has no {REPORT}; {remedy}") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise CorruptRunError(
            f"{report_path} is corrupt or truncated ({exc}); the run is marked DONE but its "
            f"report cannot be read; {remedy}"
        ) from exc
    if not isinstance(report, dict) or not isinstance(report.get("config"), dict):
        raise CorruptRunError(f"{report_path} is not a run report (no config); {remedy}")
    listed = report.get("files") or {name: None for name in report.get("figures", [])}
    wrong = []
    for name, size in listed.items():
        file = path / name
        if not file.is_file() or (size is not None and file.stat().st_size != size):
            wrong.append(name)
    if wrong:
        raise CorruptRunError(
            f"{path} is marked DONE but these files are missing or truncated: {wrong}; {remedy}"
        )
    return report


def check_writable(root: Path) -> None:
    """Create ``root`` if needed; a clear error when it cannot be created or written."""
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OSError(exc.errno, f"cannot create the output folder {root}: {exc.strerror}") from exc
    if not os.access(root, os.W_OK | os.X_OK):
        raise PermissionError(f"the output folder {root} is not writable (read-only?)")


def _owner_of(folder: Path) -> Owner | None:
    try:
        return Owner.from_json((folder / OWNER).read_text())
    except OSError:
        return None


def _recover(root: Path, name: str, final: Path) -> None:
    """Holding the claim: repair an interrupted swap, remove what gone owners left behind."""
    for old in sorted(root.glob(f".{name}.*.old")):  # only a claim holder makes these
        if not final.exists():
            try:
                if finished_report(old) is not None:
                    os.rename(old, final)  # a forced run died between its two renames
                    continue
            except CorruptRunError:
                pass
        shutil.rmtree(old, ignore_errors=True)
    for partial in root.glob(f".{name}.*.partial"):
        owner = _owner_of(partial)
        if owner is None or not owner_alive(owner):
            shutil.rmtree(partial, ignore_errors=True)
    remove_leftovers(root, name)


def _state(final: Path, wanted: dict[str, Any], force: bool) -> dict[str, Any] | None:
    """The finished report at ``final`` (None if none); raises for a different config."""
    try:
        report = finished_report(final) if final.exists() else None
    except CorruptRunError:
        if force:
            return None
        raise
    if report is None or force:
        return None if force else report
    if report.get("config") != wanted:
        raise FileExistsError(
            f"{final} holds a finished run of a different config; pass force=True (--force) to "
            "replace it, or give the new config another name"
        )
    return report


def _publish(final: Path, work: Path, held: Claim, wanted: dict[str, Any], force: bool) -> bool:
    """Move the finished ``work`` to ``final``; False when an equal run got there first."""
    if not held.held():
        raise RuntimeError(
            f"the claim {held.path} was taken over while this run worked; its result is "
            f"discarded and the run at {final} is left as it is"
        )
    if finished_report(work) is None:
        raise RuntimeError(f"the run's folder {work} lost its files while it ran; not published")
    if _state(final, wanted, force) is not None:
        return False  # finished meanwhile with this config (by a runner that does not claim)
    (work / OWNER).unlink()  # only a partial folder needs it; a run folder holds no hidden files
    if final.exists():  # a forced-out finished run, or an unfinished leftover
        old = work.with_name(work.name.replace(".partial", ".old"))
        os.rename(final, old)
        fault_point("old-moved-aside")
        os.rename(work, final)
        fault_point("replaced")
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(work, final)
        fault_point("replaced")
    return True


class OpenRun:
    """A claimed, unfinished run: compute into :attr:`work`, then :meth:`publish` the body.

    Made by `open_run`; use as a context manager: leaving it releases the claim and removes
    the work folder unless the run was published.
    """

    def __init__(
        self, study: str, config: StudyConfig, root: Path, held: Claim, force: bool
    ) -> None:
        self.study = study
        self.config = config
        self.root = root
        self.final = root / config.name
        self.held = held
        self.force = force
        self.wanted = config.to_dict()
        self.work = root / f".{config.name}.{held.owner.token}.partial"
        self.store = SeedStore(root.parent, study, config)
        self.started = time.time()
        self._closed = False

    def publish(self, body: dict[str, Any]) -> RunResult:
        """Write the report and ``DONE`` into the work folder and rename it into place."""
        fault_point("main-returned")
        work = self.work
        report = {
            "study": self.study,
            "config": self.wanted,
            "environment": environment(),
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.started)),
            "wall_time_s": time.time() - self.started,
            **body,
            "files": _manifest(work),
        }
        missing = [f for f in report.get("figures", []) if not (work / f).exists()]
        if missing:
            raise RuntimeError(f"study {self.study} reported figures it did not write: {missing}")
        write_json_atomic(work / REPORT, report)
        fault_point("report-written")
        with open(work / DONE, "w") as handle:
            handle.write(report["started"] + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        fault_point("done-written")
        published = _publish(self.final, work, self.held, self.wanted, self.force)
        self.store.clear()
        if not published:
            shutil.rmtree(work, ignore_errors=True)
            return RunResult(self.final, _state(self.final, self.wanted, False) or report, True)
        return RunResult(self.final, report, skipped=False)

    def close(self) -> None:
        """Remove the work folder (if still there) and release the claim; idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            shutil.rmtree(self.work, ignore_errors=True)
        finally:
            self.held.release()

    def __enter__(self) -> OpenRun:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def open_run(
    study: str,
    config: StudyConfig,
    *,
    output: Path | str = "results",
    force: bool = False,
    wait: bool | float = True,
) -> RunResult | OpenRun:
    """Claim the run ``output/study/config.name``: its `RunResult` when it is finished (and
    not forced), else an `OpenRun` holding the claim and a fresh work folder.

    Raises `FileExistsError` for a finished run of another config, `CorruptRunError` for a
    corrupt one (both unless ``force``) and `experiments._claims.ClaimHeld` as ``wait`` says.
    """
    root = Path(output) / study
    final = root / config.name
    wanted = config.to_dict()
    if not force and root.is_dir():  # read-only fast path: a finished run needs no claim
        report = _state(final, wanted, force)
        if report is not None:
            return RunResult(final, report, skipped=True)
    check_writable(root)
    held = claim(root, config.name, wait=wait)
    try:
        fault_point("claimed")
        _recover(root, config.name, final)
        report = _state(final, wanted, force)
        if report is not None:
            SeedStore(Path(output), study, config).clear()  # parts of an attempt finished since
            held.release()
            return RunResult(final, report, skipped=True)
        opened = OpenRun(study, config, root, held, force)
        if force:
            opened.store.clear()  # a forced run redoes every seed
        opened.work.mkdir()
    except BaseException:
        held.release()
        raise
    try:
        (opened.work / OWNER).write_text(held.owner.to_json())
        fault_point("partial-created")
    except BaseException:
        opened.close()
        raise
    return opened


def compute_serial(
    main: Callable[[Any, Path], dict[str, Any]], opened: OpenRun, *, threads: int = SEED_THREADS
) -> dict[str, Any]:
    """The report body of ``main`` in this process; a `BySeed` keeps each seed's part and
    takes the parts a previous attempt kept."""
    config = opened.config
    if not isinstance(main, BySeed):
        return main(config, opened.work)
    parts = {}
    for seed in main.seeds(config):
        found, part = opened.store.load(seed)
        if not found:
            part = run_seed(main.seed_part, config, seed, threads=threads)
            opened.store.save(seed, part)
        parts[seed] = part
    return main.combine(config, parts, opened.work)


def run_study(
    study: str,
    config: StudyConfig,
    main: Callable[[Any, Path], dict[str, Any]],
    *,
    output: Path | str = "results",
    force: bool = False,
    wait: bool | float = True,
    threads: int = SEED_THREADS,
) -> RunResult:
    """Run ``main(config, folder)`` for one study and config, atomically; skip a finished run.

    Parameters
    ----------
    study : str
        The study's name (its results folder).
    config : StudyConfig
        The run's config; ``config.name`` names the run's folder.
    main : callable
        ``main(config, folder) -> report body``; writes its files into ``folder``. A `BySeed`
        runs seed by seed, keeping each finished seed's part until the run is published.
    output : path, default="results"
        Root of all results.
    force : bool, default=False
        Redo a finished run, replacing it (also when its config differs or its report is
        corrupt); the old result stays in place until the new one is complete.
    wait : bool or float, default=True
        While another process runs the same study and name: wait for it (``True``), raise
        `experiments._claims.ClaimHeld` at once (``False``) or after this many seconds.
    threads : int, default=1
        Threads each seed of a `BySeed` runs with (`run_seed`).

    Returns
    -------
    RunResult
    """
    opened = open_run(study, config, output=output, force=force, wait=wait)
    if isinstance(opened, RunResult):
        return opened
    with opened:
        return opened.publish(compute_serial(main, opened, threads=threads))
