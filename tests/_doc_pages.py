"""Reading a docs page's sections, tables and prose, and the benchmark results they cite.

The pages that report measurements (``docs/performance.md``, ``docs/cluster.md``) are written
by hand from ``bench/results/``; the tests that hold them to those files read both through
these helpers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


def result(name: str) -> dict[str, Any]:
    """The latest report of ``python -m bench name``."""
    return json.loads((RESULTS / f"{name}.json").read_text())


def runs(name: str) -> list[dict[str, Any]]:
    """Every recorded run of ``python -m bench name``, oldest first."""
    return json.loads((RESULTS / f"{name}_runs.json").read_text())["runs"]


def fmt(value: float, digits: int = 2) -> str:
    return f"{value:.{digits}f}"


def span(values: list[float], digits: int = 2) -> str:
    """``"a to b"`` at the page's precision, one number when both read the same."""
    low, high = fmt(min(values), digits), fmt(max(values), digits)
    return low if low == high else f"{low} to {high}"


class Page:
    def __init__(self, relative: str) -> None:
        self.text = (ROOT / relative).read_text()

    def section(self, heading: str, level: int = 2) -> str:
        marks = "#" * level
        start = self.text.index(f"{marks} {heading}\n")
        ends = [self.text.find(f"\n{'#' * k} ", start + 1) for k in range(1, level + 1)]
        ends = [e for e in ends if e != -1]
        return self.text[start : min(ends) if ends else len(self.text)]

    def rows(self, heading: str, level: int = 2) -> list[list[str]]:
        """The cells of the first table under the heading, header included, rule excluded."""
        lines = self.section(heading, level).splitlines()
        first = next(i for i, line in enumerate(lines) if line.startswith("|"))
        rows = []
        for line in lines[first:]:
            if not line.startswith("|"):
                break
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if not set(cells[0]) <= set("-: "):
                rows.append(cells)
        return rows

    def table(self, heading: str, level: int = 2) -> dict[str, list[str]]:
        """The first table under the heading: first cell -> the other cells (header included)."""
        return {cells[0]: cells[1:] for cells in self.rows(heading, level)}

    def prose(self, heading: str, level: int = 2) -> str:
        """The section on one line (the page wraps its sentences)."""
        return " ".join(self.section(heading, level).split())
