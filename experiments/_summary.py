"""``results/SUMMARY.md``: a table per study and links to its figures, rebuilt after any study."""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

from ._runner import DONE, REPORT

__all__ = ["write_summary", "markdown_table"]


def _cell(value: Any) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "–"
        return f"{value:.4g}"
    return str(value)


def markdown_table(rows: list[dict[str, Any]]) -> str:
    """Rows of dicts as a GitHub markdown table (columns in first-seen order)."""
    if not rows:
        return "_(no rows)_\n"
    columns: list[str] = []
    for row in rows:
        columns += [c for c in row if c not in columns]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(row.get(c, "")) for c in columns) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def write_summary(output: Path | str = "results") -> Path:
    """Rebuild ``<output>/SUMMARY.md`` from every finished run's ``report.json``."""
    root = Path(output)
    sections = [
        "# Results\n",
        "Regenerated after every study run; one section per study and config.\n",
    ]
    for study in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        runs = sorted(p for p in study.iterdir() if (p / DONE).exists())
        if not runs:
            continue
        sections.append(f"\n## {study.name}\n")
        for run in runs:
            report = json.loads((run / REPORT).read_text())
            wall = report.get("wall_time_s", float("nan"))
            sections.append(
                f"\n### {run.name}\n\nseeds {report['config'].get('seeds')}, "
                f"{wall:.0f} s, started {report.get('started', '?')}\n\n"
            )
            sections.append(markdown_table(report.get("table", [])))
            for figure in report.get("figures", []):
                rel = (run / figure).relative_to(root).as_posix()
                sections.append(f"\n![{figure}]({rel})\n")
    path = root / "SUMMARY.md"
    fd, tmp = tempfile.mkstemp(dir=root, prefix=".SUMMARY.", suffix=".tmp")
    with os.fdopen(fd, "w") as handle:
        handle.write("".join(sections))
    os.replace(tmp, path)
    return path
