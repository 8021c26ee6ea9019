"""Run benchmarks: ``python -m bench [--quick] [name ...]`` runs ``bench/bench_<name>.py``.

Each module defines ``run(quick: bool) -> dict`` with ``timings`` (seconds), ``ratios`` and
``targets``; the harness writes ``bench/results/<name>.json`` and prints the ratios.
"""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path

from ._harness import write_report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    args = parser.parse_args(argv)
    available = sorted(p.stem[len("bench_") :] for p in Path(__file__).parent.glob("bench_*.py"))
    unknown = set(args.names) - set(available)
    if unknown:
        parser.error(f"unknown benchmark(s) {sorted(unknown)}; available: {available}")
    for name in args.names or available:
        module = importlib.import_module(f"bench.bench_{name}")
        write_report(name + ("_quick" if args.quick else ""), module.run(quick=args.quick))


if __name__ == "__main__":
    main()
