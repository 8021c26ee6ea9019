"""The tutorials run as written (at a small size) and make the figures the pages show."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
sys.path.insert(0, str(DOCS))
from _exec import run_tutorial  # noqa: E402

SMALL = {
    "quickstart": {"N_STAGES": 60, "N_BLOCKS": 3, "MAX_EPOCHS": 15},
    "vanishing-gradients": {
        "DEPTHS": (2, 4, 8),
        "N_ROWS": 64,
        "N_BLOCKS": 4,
        "N_EPOCHS": 2,
        "N_PATHS": 3,
    },
    "skip-connections": {"N_BLOCKS": 3, "N_ROWS": 32, "EPOCHS": (0, 1, 2)},
    "your-own-data": {"N_STAGES": 30, "N_EPOCHS": 5, "N_FOLDS": 2},
    "resnets-and-boosting": {"N_STAGES": 4, "MAX_EPOCHS": 5, "EPOCHS_PER_STAGE": 2},
    "boostresnet": {
        "N_STAGES": 3,
        "D_BLOCK": 8,
        "EPOCHS_PER_STAGE": 1,
        "MAX_EPOCHS": 2,
        "FINE_TUNE_EPOCHS": 2,
    },
}
TUTORIALS = sorted((DOCS / "tutorials").glob("*.md"))


def test_every_tutorial_has_a_small_size():
    assert {p.stem for p in TUTORIALS} == set(SMALL)


@pytest.mark.parametrize("path", TUTORIALS, ids=lambda p: p.stem)
def test_tutorial_runs_and_makes_its_figures(path, tmp_path):
    figures = run_tutorial(path, tmp_path, overrides=SMALL[path.stem])
    shown = set(re.findall(rf"\.\./img/{path.stem}-([\w-]+)\.png", path.read_text()))
    assert shown == set(figures), "the page must show exactly the figures its code makes"
    for png in figures.values():
        assert png.stat().st_size > 1000
    for label in shown:  # the committed image the site shows exists
        assert (DOCS / "img" / f"{path.stem}-{label}.png").exists()


def test_nav_lists_every_tutorial():
    nav = (DOCS.parent / "mkdocs.yml").read_text()
    for path in TUTORIALS:
        assert f"tutorials/{path.name}" in nav


def test_site_builds_strictly(tmp_path):
    """``mkdocs build --strict`` (what ``make docs`` runs after the tutorials) has no warning."""
    import os
    import subprocess

    mkdocs = Path(sys.executable).with_name("mkdocs")
    result = subprocess.run(
        [str(mkdocs), "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=DOCS.parent,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
