"""A sweep of runs (study x config), each seed a task: in this process, or on a Dask cluster.

`run_sweep` takes a list of `Job` (study, config, main). Without a client it runs them one after
another through `experiments._runner.run_study` (the serial path). With a
``distributed.Client`` it claims every run it can (`experiments._runner.open_run`, without
waiting), sends every seed of every claimed run to the cluster at once (``run_seed`` with the
study's ``seed_part``: workers compute, they never touch the output folder), keeps each finished
seed's part (`experiments._runner.SeedStore`) and, when a run's seeds are all in, combines
and publishes it in this process. Runs claimed by another runner are waited for afterwards
(then skipped when that runner finished them, or run here when it gave up).

Either way a run whose task fails (an exception in ``seed_part`` or ``combine``, a worker that
died) is reported with its traceback, is not published, and the other runs go on; each run
holds its claim from start to publish, so two runners on one output (two processes, two hosts)
run every run exactly once. Serial and Dask results are the same bit for bit: each seed goes
through `experiments._runner.run_seed` in both.

`dask_client` makes the client: ``workers=N`` starts a ``distributed.LocalCluster`` of N
processes with one thread each; ``scheduler=ADDRESS`` connects to a running scheduler. Dask is
the optional extra ``fboost[distributed]``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from ._claims import ClaimHeld
from ._common import progress
from ._runner import (
    SEED_THREADS,
    BySeed,
    CorruptRunError,
    OpenRun,
    RunResult,
    StudyConfig,
    compute_serial,
    open_run,
    run_seed,
    run_study,
)

__all__ = ["Job", "Outcome", "run_sweep", "dask_client", "import_distributed", "EXTRA"]

EXTRA = "fboost[distributed]"


@dataclasses.dataclass(frozen=True)
class Job:
    """One run: ``main`` (usually a `experiments._runner.BySeed`) of ``study`` at ``config``."""

    study: str
    config: StudyConfig
    main: Callable[[Any, Path], dict[str, Any]]

    @property
    def label(self) -> str:
        return f"{self.study}/{self.config.name}"


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What became of a job: its result, or the error (a traceback, or a one-line reason)."""

    job: Job
    result: RunResult | None
    error: str | None
    seconds: float

    @property
    def ok(self) -> bool:
        return self.error is None


_KNOWN = (FileExistsError, CorruptRunError)  # a refusal, explained in one line


def _describe(exc: BaseException) -> str:
    if isinstance(exc, _KNOWN):
        return str(exc)
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


def import_distributed() -> Any:
    """``distributed``, or an ImportError naming the extra that installs it."""
    try:
        import distributed
    except ImportError as exc:
        raise ImportError(
            f"running experiments on Dask (--workers / --scheduler) needs the optional extra "
            f"{EXTRA}: pip install '{EXTRA}' (make install installs it)"
        ) from exc
    return distributed


@contextlib.contextmanager
def dask_client(*, workers: int | None = None, scheduler: str | None = None) -> Iterator[Any]:
    """A ``distributed.Client``: on a new LocalCluster of ``workers`` processes (one thread each,
    no dashboard), or on the scheduler at ``scheduler`` (e.g. ``tcp://host:8786``). Exactly one
    of the two; closed (and the cluster shut down) on exit."""
    if (workers is None) == (scheduler is None):
        raise ValueError("give exactly one of workers (a LocalCluster) and scheduler (an address)")
    if workers is not None and (
        not isinstance(workers, int) or isinstance(workers, bool) or workers < 1
    ):
        raise ValueError(f"workers must be a positive int, got {workers!r}")
    if scheduler is not None and (not isinstance(scheduler, str) or not scheduler.strip()):
        raise ValueError(f"scheduler must be an address such as tcp://host:8786, got {scheduler!r}")
    distributed = import_distributed()
    if scheduler is not None:
        with distributed.Client(scheduler) as client:
            yield client
        return
    with (
        distributed.LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


def run_sweep(
    jobs: Sequence[Job],
    *,
    client: Any = None,
    output: Path | str = "results",
    force: bool = False,
    threads: int = SEED_THREADS,
    verbose: bool = False,
    on_done: Callable[[Outcome], None] | None = None,
) -> list[Outcome]:
    """Do every job; an `Outcome` per job, in the order given.

    Parameters
    ----------
    jobs : sequence of Job
        The runs; each study and config name at most once.
    client : distributed.Client or None, default=None
        None: one run after another in this process (`experiments._runner.run_study`). A
        client: every seed of every run is a task on its cluster.
    output : path, default="results"
        Root of all results.
    force : bool, default=False
        Redo finished runs (see `experiments._runner.run_study`).
    threads : int, default=1
        Threads each seed runs with, in every process (`experiments._runner.run_seed`).
    verbose : bool, default=False
        Progress bars: the studies' own (serial), or seeds done / total (Dask).
    on_done : callable, optional
        Called with each `Outcome` as soon as it is known (the CLI prints a line and rebuilds
        SUMMARY.md).
    """
    labels = [job.label for job in jobs]
    repeated = sorted({label for label in labels if labels.count(label) > 1})
    if repeated:
        raise ValueError(f"jobs repeat a run: {repeated}")
    done: dict[str, Outcome] = {}

    def report(outcome: Outcome) -> None:
        done[outcome.job.label] = outcome
        if on_done is not None:
            on_done(outcome)

    if client is None:
        for job in jobs:
            config = dataclasses.replace(job.config, verbose=True) if verbose else job.config
            start = time.time()
            try:
                result = run_study(
                    job.study, config, job.main, output=output, force=force, threads=threads
                )
            except Exception as exc:
                report(Outcome(job, None, _describe(exc), time.time() - start))
            else:
                report(Outcome(job, result, None, time.time() - start))
        return [done[label] for label in labels]

    _Cluster(client, output, force, threads, verbose, report).run(list(jobs))
    return [done[label] for label in labels]


@dataclasses.dataclass
class _Active:
    """A claimed run on the cluster: its futures by seed, the parts in, the first error."""

    job: Job
    opened: OpenRun
    start: float
    pending: dict[int, Any]
    parts: dict[int, Any]
    error: str | None = None


class _Cluster:
    def __init__(
        self,
        client: Any,
        output: Path | str,
        force: bool,
        threads: int,
        verbose: bool,
        report: Callable[[Outcome], None],
    ) -> None:
        self.client = client
        self.output = output
        self.force = force
        self.threads = threads
        self.verbose = verbose
        self.report = report
        self.distributed = import_distributed()

    def run(self, jobs: list[Job]) -> None:
        deferred = self._batch(jobs, wait=False)
        for job in deferred:  # claimed elsewhere: wait for that runner, then take over or skip
            self._batch([job], wait=True)

    def _open(self, job: Job, wait: bool) -> OpenRun | None:
        """The open run; None when the job is reported already (finished, or refused). Raises
        `experiments._claims.ClaimHeld` when another runner holds it and ``wait`` is False."""
        start = time.time()
        try:
            opened = open_run(job.study, job.config, output=self.output, force=self.force,
                              wait=wait)  # fmt: skip
        except ClaimHeld:
            raise
        except Exception as exc:
            self.report(Outcome(job, None, _describe(exc), time.time() - start))
            return None
        if isinstance(opened, RunResult):
            self.report(Outcome(job, opened, None, time.time() - start))
            return None
        return opened

    def _batch(self, jobs: list[Job], *, wait: bool) -> list[Job]:
        """Claim and run ``jobs``; returns the ones claimed by another runner (when not waiting)."""
        deferred: list[Job] = []
        active: list[_Active] = []
        local: list[_Active] = []  # mains that are not BySeed run here, while the cluster works
        futures: dict[Any, tuple[_Active, int]] = {}
        try:
            for job in jobs:
                try:
                    opened = self._open(job, wait)
                except ClaimHeld:
                    deferred.append(job)
                    continue
                if opened is None:
                    continue
                run = _Active(job, opened, time.time(), {}, {})
                if not isinstance(job.main, BySeed):
                    local.append(run)
                    continue
                try:
                    seeds = job.main.seeds(job.config)
                    quiet = dataclasses.replace(job.config, verbose=False)
                    for seed in seeds:
                        found, part = opened.store.load(seed)
                        if found:
                            run.parts[seed] = part
                            continue
                        key = f"{job.study}-{job.config.name}-seed-{seed}-{uuid.uuid4().hex[:8]}"
                        future = self.client.submit(
                            run_seed, job.main.seed_part, quiet, seed, threads=self.threads,
                            key=key, pure=False, retries=0,
                        )  # fmt: skip
                        run.pending[seed] = future
                        futures[future] = (run, seed)
                except Exception as exc:
                    run.error = _describe(exc)
                active.append(run)
            total = sum(len(run.pending) + len(run.parts) for run in active)
            runs = len(active) + len(local)
            finished = 0
            with progress(total, verbose=self.verbose, desc="seeds") as bar:
                bar.update(total - len(futures))  # the seeds kept from an interrupted attempt
                bar.set_postfix_str(f"runs {finished}/{runs}")
                for run in local:
                    self._finish_local(run)
                    finished += 1
                    bar.set_postfix_str(f"runs {finished}/{runs}")
                for run in active:
                    if not run.pending:
                        self._finish(run)
                        finished += 1
                        bar.set_postfix_str(f"runs {finished}/{runs}")
                for future in self.distributed.as_completed(list(futures)):
                    run, seed = futures.pop(future)
                    del run.pending[seed]
                    if future.status == "finished":
                        try:
                            part = future.result()
                            run.opened.store.save(seed, part)
                            run.parts[seed] = part
                        except Exception as exc:
                            run.error = run.error or _describe(exc)
                    else:
                        run.error = run.error or self._task_error(run.job, seed, future)
                    future.release()
                    bar.update()
                    if not run.pending:
                        self._finish(run)
                        finished += 1
                        bar.set_postfix_str(f"runs {finished}/{runs}")
        finally:
            for future in futures:
                future.cancel()
            for run in active + local:
                run.opened.close()  # releases the claim; a published run has nothing to remove
        return deferred

    def _task_error(self, job: Job, seed: int, future: Any) -> str:
        try:
            exc = future.exception()
            tb = future.traceback()
        except Exception as fetch:  # the scheduler lost it
            return f"{job.label} seed {seed}: {_describe(fetch)}"
        text = "".join(traceback.format_exception(type(exc), exc, tb))
        return f"{job.label} seed {seed} failed on a worker:\n{text}"

    def _finish(self, run: _Active) -> None:
        """All seeds in: combine and publish here, or report the run's error."""
        job = run.job
        if run.error is None:
            try:
                assert isinstance(job.main, BySeed)
                parts = {seed: run.parts[seed] for seed in job.main.seeds(job.config)}
                result = run.opened.publish(job.main.combine(job.config, parts, run.opened.work))
            except Exception as exc:
                run.error = f"{job.label} combine failed:\n{_describe(exc)}"
            else:
                run.opened.close()
                self.report(Outcome(job, result, None, time.time() - run.start))
                return
        run.opened.close()
        self.report(Outcome(job, None, run.error, time.time() - run.start))

    def _finish_local(self, run: _Active) -> None:
        job = run.job
        try:
            result = run.opened.publish(compute_serial(job.main, run.opened, threads=self.threads))
        except Exception as exc:
            run.opened.close()
            self.report(Outcome(job, None, _describe(exc), time.time() - run.start))
        else:
            run.opened.close()
            self.report(Outcome(job, result, None, time.time() - run.start))
