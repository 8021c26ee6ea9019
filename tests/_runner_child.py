"""A toy study run in a real child process by the runner's fault-injection tests.

``python tests/_runner_child.py OUTPUT NAME[,NAME...] VALUE [--force] [--barrier FILE]
[--log FILE] [--big BYTES] [--summary]``: runs the toy study ``toy`` under each name, then
(with ``--summary``) rebuilds SUMMARY.md. ``--barrier`` makes ``main`` wait until that file
exists; ``--log`` records each execution of ``main``. Faults come from the environment
(``FBOOST_RUNNER_KILL_AT``, ``FBOOST_RUNNER_TRACE``: see ``experiments._claims.fault_point``).
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

from experiments._runner import StudyConfig, run_study  # noqa: E402
from experiments._summary import write_summary  # noqa: E402


@dataclasses.dataclass(frozen=True)
class ToyConfig(StudyConfig):
    value: float = 1.0


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
    options = parser.parse_args()
    results = {}
    for name in options.names.split(","):
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
