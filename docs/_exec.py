"""Run a tutorial's ```python blocks in one namespace; save its figures and record its output.

Used by ``make docs`` (full size: figures into ``docs/img``, printed output written into the
page) and by the test suite (small size, figures into a temporary folder, the page untouched).

- A figure is saved as ``<tutorial>-<label>.png``, its label being set in the tutorial with
  ``fig.set_label("...")``; the markdown shows it as ``![...](../img/<tutorial>-<label>.png)``.
- What a block prints is recorded in the page right under the block, as a fenced block
  opened by ```` ```text title="Output" ````. A full run replaces these blocks with what the
  code prints now (and removes the one of a block that no longer prints), so the markdown stays
  the one reviewable source of the page: its code, and the output that code gave on the
  site's build.
- ``overrides`` replaces the size knobs a tutorial declares in its first block (for example
  ``{"N_STAGES": 10}``), so the tests run the same code at a small size.

``python docs/_exec.py [tutorial.md ...]`` runs tutorials (default: all) at full size and
rewrites their output blocks; ``git diff docs/tutorials`` then shows what changed (timings
always do).
"""

from __future__ import annotations

import contextlib
import io
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

DOCS = Path(__file__).resolve().parent
OUTPUT_FENCE = '```text title="Output"'
# A python block, then (optionally) the output block recorded under it.
BLOCK = re.compile(
    r"^```python\n(?P<code>.*?)^```\n(?:\n" + re.escape(OUTPUT_FENCE) + r"\n(?P<out>.*?)^```\n)?",
    flags=re.S | re.M,
)


@dataclass
class Run:
    """What running a tutorial gave: its figures and each python block's printed output."""

    figures: dict[str, Path] = field(default_factory=dict)
    outputs: list[str] = field(default_factory=list)


def code_blocks(path: Path) -> list[str]:
    return [m["code"] for m in BLOCK.finditer(path.read_text())]


def recorded_outputs(path: Path) -> list[str | None]:
    """The output recorded under each python block of ``path`` (None where there is none)."""
    return [m["out"] for m in BLOCK.finditer(path.read_text())]


def with_outputs(text: str, outputs: list[str]) -> str:
    """``text`` with the output block under each python block set to ``outputs[i]``."""
    matches = list(BLOCK.finditer(text))
    if len(matches) != len(outputs):
        raise ValueError(f"{len(matches)} python blocks but {len(outputs)} outputs")
    pieces, end = [], 0
    for match, output in zip(matches, outputs, strict=True):
        pieces.append(text[end : match.start()])
        pieces.append(f"```python\n{match['code']}```\n")
        if output:
            body = output if output.endswith("\n") else output + "\n"
            pieces.append(f"\n{OUTPUT_FENCE}\n{body}```\n")
        end = match.end()
    pieces.append(text[end:])
    return "".join(pieces)


def run_tutorial(path: Path, out_dir: Path, overrides: dict[str, Any] | None = None) -> Run:
    """Execute ``path``'s code; return its figures ``{label: png}`` and printed outputs."""
    namespace: dict[str, Any] = {"__name__": f"tutorial_{path.stem}"}
    run = Run()
    out_dir.mkdir(parents=True, exist_ok=True)
    plt.close("all")
    for index, block in enumerate(code_blocks(path)):
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            exec(compile(block, f"{path.name}[block {index + 1}]", "exec"), namespace)
        run.outputs.append(buffer.getvalue())
        if index == 0 and overrides:
            unknown = set(overrides) - set(namespace)
            if unknown:
                raise KeyError(f"{path.name} declares no size knob {sorted(unknown)}")
            namespace.update(overrides)
        for number in plt.get_fignums():
            figure = plt.figure(number)
            label = figure.get_label()
            if not label:
                raise ValueError(f"{path.name}[block {index + 1}] made a figure without a label")
            target = out_dir / f"{path.stem}-{label}.png"
            figure.savefig(target, dpi=110, bbox_inches="tight")
            run.figures[label] = target
        plt.close("all")
    return run


def main(argv: list[str]) -> None:
    paths = [Path(a) for a in argv] or sorted((DOCS / "tutorials").glob("*.md"))
    for path in paths:
        run = run_tutorial(path, DOCS / "img")
        # read after the run: only the output blocks change, whatever was edited meanwhile
        path.write_text(with_outputs(path.read_text(), run.outputs))
        print(f"{path.name}: {len(run.figures)} figure(s)", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
