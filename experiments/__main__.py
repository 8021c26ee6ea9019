"""``python -m experiments [study ...] [--size smoke|quick|full] [--force] [--output results]``.

Runs each named study (default: all) at the given size, skipping finished runs, then rebuilds
``<output>/SUMMARY.md``.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import sys
import time

from . import STUDIES
from ._runner import CorruptRunError, run_study
from ._summary import write_summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m experiments", description=__doc__)
    parser.add_argument("studies", nargs="*", help=f"studies to run (default: all of {STUDIES})")
    parser.add_argument("--size", choices=("smoke", "quick", "full"), default="quick")
    parser.add_argument("--force", action="store_true", help="redo finished runs")
    parser.add_argument("--output", default="results", help="results root (default: results)")
    parser.add_argument(
        "--quiet", action="store_true", help="no progress bars (default: bars on a terminal)"
    )
    args = parser.parse_args(argv)
    names = [s.replace("-", "_") for s in args.studies] or list(STUDIES)
    unknown = [s for s in names if s not in STUDIES]
    if unknown:
        parser.error(f"unknown study {unknown}; known: {', '.join(STUDIES)}")
    for name in names:
        module = importlib.import_module(f"experiments.{name}")
        config = dataclasses.replace(
            module.SIZES[args.size], verbose=not args.quiet and sys.stderr.isatty()
        )
        start = time.time()
        try:
            result = run_study(name, config, module.main, output=args.output, force=args.force)
        except (FileExistsError, CorruptRunError) as exc:
            print(f"{name}/{config.name}: error: {exc}", file=sys.stderr)
            return 1
        state = "skipped (finished)" if result.skipped else f"done in {time.time() - start:.0f} s"
        print(f"{name}/{config.name}: {state} -> {result.path}", file=sys.stderr)
        write_summary(args.output)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
