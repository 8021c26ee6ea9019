"""The tutorials run as written (at a small size), make the figures the pages show and print
what the pages record under each block."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
sys.path.insert(0, str(DOCS))
from _exec import BLOCK, code_blocks, recorded_outputs, run_tutorial, with_outputs  # noqa: E402

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
    run = run_tutorial(path, tmp_path, overrides=SMALL[path.stem])
    figures = run.figures
    shown = set(re.findall(rf"\.\./img/{path.stem}-([\w-]+)\.png", path.read_text()))
    assert shown == set(figures), "the page must show exactly the figures its code makes"
    for png in figures.values():
        assert png.stat().st_size > 1000
    for label in shown:  # the committed image the site shows exists
        assert (DOCS / "img" / f"{path.stem}-{label}.png").exists()
    # The page records an output under exactly the blocks that print (the numbers are the
    # full-size run's, which `make docs` refreshes; the small run here prints other ones).
    printed = [bool(out) for out in run.outputs]
    recorded = [bool(out) for out in recorded_outputs(path)]
    assert printed == recorded, "run `python docs/_exec.py` to refresh the recorded outputs"


def test_recorded_outputs_round_trip():
    text = "intro\n\n```python\nprint(1)\n```\n\nmid\n\n```python\nx = 2\n```\nend\n"
    once = with_outputs(text, ["1\n", ""])
    assert once.count('```text title="Output"') == 1
    assert '```python\nprint(1)\n```\n\n```text title="Output"\n1\n```\n' in once
    assert with_outputs(once, ["1\n", ""]) == once  # refreshing is idempotent
    assert with_outputs(once, ["", ""]) == text  # a block that no longer prints loses its output
    assert len(BLOCK.findall(once)) == 2


@pytest.mark.parametrize("path", TUTORIALS, ids=lambda p: p.stem)
def test_tutorial_code_fits_the_column(path):
    """Code and recorded output lines fit the site's code column (88 characters)."""
    lines = [line for block in code_blocks(path) for line in block.splitlines()]
    lines += [line for out in recorded_outputs(path) if out for line in out.splitlines()]
    too_long = [line for line in lines if len(line) > 88]
    assert not too_long, too_long


def test_nav_lists_every_tutorial():
    nav = (DOCS.parent / "mkdocs.yml").read_text()
    for path in TUTORIALS:
        assert f"tutorials/{path.name}" in nav
