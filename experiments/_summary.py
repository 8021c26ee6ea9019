"""``results/SUMMARY.md``: a table per study and links to its figures, rebuilt after any study."""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path
from typing import Any

from ._claims import claim, fault_point, remove_leftovers
from ._runner import CorruptRunError, check_writable, finished_report

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
    """Rebuild ``<output>/SUMMARY.md`` from every finished run's ``report.json``, atomically.

    Only finished runs are listed (partial folders and runs without ``DONE`` are not); a run
    marked DONE whose report is corrupt is listed under "Runs that need attention" with the
    remedy. Writers take turns through a claim on ``.SUMMARY``; temporary files left by a killed
    writer (``.SUMMARY.*.tmp``) are removed.
    """
    root = Path(output)
    check_writable(root)
    with claim(root, "SUMMARY"):
        for leftover in root.glob(".SUMMARY.*.tmp"):
            leftover.unlink(missing_ok=True)
        remove_leftovers(root, "SUMMARY")
        text = _summary_text(root)
        path = root / "SUMMARY.md"
        fd, tmp = tempfile.mkstemp(dir=root, prefix=".SUMMARY.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            fault_point("summary-tmp-written")
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
    return path


def _summary_text(root: Path) -> str:
    sections = [
        "# Results\n",
        "Regenerated after every study run; one section per study and config.\n",
    ]
    problems: list[str] = []
    for study in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        finished = []
        for run in sorted(p for p in study.iterdir() if p.is_dir() and not p.name.startswith(".")):
            try:
                report = finished_report(run)
            except CorruptRunError as exc:
                problems.append(str(exc))
                continue
            if report is not None:
                finished.append((run, report))
        if not finished:
            continue
        sections.append(f"\n## {study.name}\n")
        for run, report in finished:
            wall = report.get("wall_time_s", float("nan"))
            sections.append(
                f"\n### {run.name}\n\nseeds {report['config'].get('seeds')}, "
                f"{wall:.0f} s, started {report.get('started', '?')}\n\n"
            )
            sections.append(markdown_table(report.get("table", [])))
            for figure in report.get("figures", []):
                rel = (run / figure).relative_to(root).as_posix()
                sections.append(f"\n![{figure}]({rel})\n")
    if problems:
        sections.append("\n## Runs that need attention\n\n")
        sections += [f"- {problem}\n" for problem in problems]
    return "".join(sections)
