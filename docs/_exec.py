"""Run a tutorial's ```python blocks in one namespace and save the figures they make.

Used by ``make docs`` (full size, figures into ``docs/img``) and by the test suite (small size,
figures into a temporary folder). A figure is saved as ``<tutorial>-<label>.png``, its label being
set in the tutorial with ``fig.set_label("...")``; the markdown shows it as
``![...](../img/<tutorial>-<label>.png)``. ``overrides`` replaces the size knobs a tutorial
declares in its first block (for example ``{"N_STAGES": 10}``), so the tests run the same code
at a small size.

``python docs/_exec.py [tutorial.md ...]`` runs tutorials (default: all) at full size.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

DOCS = Path(__file__).resolve().parent
BLOCK = re.compile(r"```python\n(.*?)```", flags=re.S)


def code_blocks(path: Path) -> list[str]:
    return BLOCK.findall(path.read_text())


def run_tutorial(
    path: Path, out_dir: Path, overrides: dict[str, Any] | None = None
) -> dict[str, Path]:
    """Execute ``path``'s code; return ``{label: png}`` for the figures it made."""
    namespace: dict[str, Any] = {"__name__": f"tutorial_{path.stem}"}
    saved: dict[str, Path] = {}
    out_dir.mkdir(parents=True, exist_ok=True)
    plt.close("all")
    for index, block in enumerate(code_blocks(path)):
        exec(compile(block, f"{path.name}[block {index + 1}]", "exec"), namespace)
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
            saved[label] = target
        plt.close("all")
    return saved


def main(argv: list[str]) -> None:
    paths = [Path(a) for a in argv] or sorted((DOCS / "tutorials").glob("*.md"))
    for path in paths:
        figures = run_tutorial(path, DOCS / "img")
        print(f"{path.name}: {len(figures)} figure(s)", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
