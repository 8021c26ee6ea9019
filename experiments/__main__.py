"""``python -m experiments [study ...] [--size SIZE] [--force] [--output results]
[--workers N | --scheduler ADDRESS]``.

Runs each named study (default: all) at the given size, skipping finished runs, and rebuilds
``<output>/SUMMARY.md`` after each. Serial by default; ``--workers N`` runs every seed of every
study as a task on a new Dask LocalCluster of N processes (one thread each), ``--scheduler
ADDRESS`` on a running Dask cluster (both need the extra fboost[distributed]). A run that fails
is reported with its traceback; the others go on; the exit status is then 1.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import sys
from typing import Any

from . import STUDIES
from ._runner import SEED_THREADS
from ._summary import write_summary
from ._sweep import Job, Outcome, dask_client, run_sweep


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The command line's parser."""
    parser = argparse.ArgumentParser(prog="python -m experiments", description=__doc__)
    parser.add_argument("studies", nargs="*", help=f"studies to run (default: all of {STUDIES})")
    parser.add_argument(
        "--size", default="quick", help="a size every chosen study has (smoke, quick, full, ...)"
    )
    parser.add_argument("--force", action="store_true", help="redo finished runs")
    parser.add_argument("--output", default="results", help="results root (default: results)")
    parser.add_argument(
        "--quiet", action="store_true", help="no progress bars (default: bars on a terminal)"
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--workers",
        type=_positive,
        metavar="N",
        help="run the seeds on a new Dask LocalCluster of N processes",
    )
    where.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run the seeds on the Dask cluster at ADDRESS (tcp://host:8786)",
    )
    parser.add_argument(
        "--threads",
        type=_positive,
        default=SEED_THREADS,
        metavar="T",
        help="threads per seed (default: 1)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    names = [s.replace("-", "_") for s in args.studies] or list(STUDIES)
    unknown = [s for s in names if s not in STUDIES]
    if unknown:
        parser.error(f"unknown study {unknown}; known: {', '.join(STUDIES)}")
    modules = {name: importlib.import_module(f"experiments.{name}") for name in names}
    lacking = [name for name, module in modules.items() if args.size not in module.SIZES]
    if lacking:
        sizes = sorted(set.intersection(*(set(m.SIZES) for m in modules.values())))
        parser.error(f"size {args.size!r} is not a size of {lacking}; sizes they all have: {sizes}")
    verbose = not args.quiet and sys.stderr.isatty()
    jobs = [Job(name, module.SIZES[args.size], module.main) for name, module in modules.items()]
    finished = 0

    def on_done(outcome: Outcome) -> None:
        nonlocal finished
        finished += 1
        label = f"[{finished}/{len(jobs)}] {outcome.job.label}"
        if outcome.result is None:
            print(f"{label}: error: {outcome.error}", file=sys.stderr)
            return
        result = outcome.result
        state = "skipped (finished)" if result.skipped else f"done in {outcome.seconds:.0f} s"
        print(f"{label}: {state} -> {result.path}", file=sys.stderr)
        write_summary(args.output)

    options: dict[str, Any] = {
        "output": args.output,
        "force": args.force,
        "threads": args.threads,
        "verbose": verbose,
        "on_done": on_done,
    }
    if args.workers is None and args.scheduler is None:
        outcomes = run_sweep(jobs, **options)
    else:
        with contextlib.ExitStack() as stack:
            try:
                client = stack.enter_context(
                    dask_client(workers=args.workers, scheduler=args.scheduler)
                )
            except (ImportError, ValueError, OSError) as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 2
            where_ = args.scheduler or f"a LocalCluster of {args.workers} worker processes"
            print(f"running {len(jobs)} runs on {where_}", file=sys.stderr)
            outcomes = run_sweep(jobs, client=client, **options)
    failed = [outcome.job.label for outcome in outcomes if not outcome.ok]
    if failed:
        print(f"{len(failed)} of {len(jobs)} runs failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
