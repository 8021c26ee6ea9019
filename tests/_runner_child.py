"""A toy study run in a real child process by the runner's fault-injection tests.

``python tests/_runner_child.py OUTPUT NAME[,NAME...] VALUE [--force] [--barrier FILE]
[--log FILE] [--big BYTES] [--summary] [--by-seed] [--scheduler ADDRESS]``: runs the toy study
``toy`` under each name, then (with ``--summary``) rebuilds SUMMARY.md. ``--barrier`` makes
``main`` wait until that file exists; ``--log`` records each execution of ``main``. Faults come
from the environment (``FBOOST_RUNNER_KILL_AT``, ``FBOOST_RUNNER_TRACE``: see
``experiments._claims.fault_point``).

``--by-seed`` runs the toy as a `BySeed` study (`toy_seed`, `toy_combine`: ``--log`` records each
seed and each combine, ``--barrier`` holds every seed); ``--scheduler`` sends its seeds to the
Dask cluster at that address (`experiments._sweep.run_sweep`).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from experiments._runner import BySeed, StudyConfig, run_study  # noqa: E402
from experiments._summary import write_summary  # noqa: E402
from experiments._sweep import Job, run_sweep  # noqa: E402


def _hidden(default: Any = None) -> Any:
    """A config field that is not part of the run's identity (a test's plumbing)."""
    return dataclasses.field(default=default, metadata={"identity": False}, compare=False)


@dataclasses.dataclass(frozen=True)
class ToyConfig(StudyConfig):
    value: float = 1.0
    log: str | None = _hidden()  # file recording each seed and combine (BySeed toy)
    barrier: str | None = _hidden()  # every seed waits for this file (BySeed toy)
    fail_seed: int | None = _hidden()  # this seed raises (BySeed toy)


def _log(config: ToyConfig, text: str) -> None:
    if config.log:
        with open(config.log, "a") as handle:
            handle.write(f"{os.getpid()} {text}\n")


def toy_seed(config: ToyConfig, seed: int) -> dict[str, Any]:
    """One seed of the BySeed toy: its score row (and a log line)."""
    _log(config, f"seed {config.name} {seed}")
    if config.barrier:
        while not os.path.exists(config.barrier):
            time.sleep(0.02)
    if seed == config.fail_seed:
        raise ValueError(f"seed {seed} fails on purpose")
    return {"seed": seed, "score": config.value}


def toy_combine(config: ToyConfig, parts: dict[int, Any], output: Path) -> dict[str, Any]:
    """The BySeed toy's files: the same as `toy_main` writes."""
    _log(config, f"combine {config.name}")
    rows = [parts[seed] for seed in config.seeds]
    (output / "scores.csv").write_text(
        "seed,score\n" + "".join(f"{r['seed']},{r['score']}\n" for r in rows)
    )
    (output / "figure.png").write_bytes(b"\x89PNG fake")
    return {
        "metrics": {"score": config.value},
        "table": [{"model": "toy", "score": config.value}],
        "figures": ["figure.png"],
    }


toy_by_seed = BySeed(toy_seed, toy_combine)


def toy_main(config: ToyConfig, output: Path, options: Any) -> dict[str, Any]:
    if options.log:
        with open(options.log, "a") as handle:
            handle.write(f"{os.getpid()} {config.name} {config.value}\n")
    if options.barrier:
        while not os.path.exists(options.barrier):
            time.sleep(0.02)
    (output / "scores.csv").write_text(
        "seed,score\n" + "".join(f"{s},{config.value}\n" for s in config.seeds)
    )
    (output / "figure.png").write_bytes(b"\x89PNG fake")
    if options.big:
        (output / "big.bin").write_bytes(b"x" * options.big)
    return {
        "metrics": {"score": config.value},
        "table": [{"model": "toy", "score": config.value}],
        "figures": ["figure.png"],
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("output")
    parser.add_argument("names")
    parser.add_argument("value", type=float)
    parser.add_argument("--force", action="store_true")
    parser.add_argument("--barrier")
    parser.add_argument("--log")
    parser.add_argument("--big", type=int, default=0)
    parser.add_argument("--summary", action="store_true")
    parser.add_argument("--by-seed", action="store_true")
    parser.add_argument("--scheduler")
    options = parser.parse_args()
    results = {}
    names = options.names.split(",")
    if options.by_seed:
        configs = [
            ToyConfig(name=n, value=options.value, log=options.log, barrier=options.barrier)
            for n in names
        ]
        jobs = [Job("toy", config, toy_by_seed) for config in configs]
        if options.scheduler:
            from distributed import Client

            with Client(options.scheduler) as client:
                outcomes = run_sweep(
                    jobs, client=client, output=options.output, force=options.force
                )
        else:
            outcomes = run_sweep(jobs, output=options.output, force=options.force)
        for outcome in outcomes:
            if outcome.result is None:
                print(outcome.error, file=sys.stderr)
                return 1
            results[outcome.job.config.name] = {
                "skipped": outcome.result.skipped,
                "score": outcome.result.report["metrics"]["score"],
            }
        names = []
    for name in names:
        result = run_study(
            "toy",
            ToyConfig(name=name, value=options.value),
            lambda config, output: toy_main(config, output, options),
            output=options.output,
            force=options.force,
        )
        results[name] = {"skipped": result.skipped, "score": result.report["metrics"]["score"]}
    if options.summary:
        write_summary(options.output)
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
