"""The README's Python example runs as written, and the demo writes its table and figure."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from fboost import demo

ROOT = Path(__file__).resolve().parents[1]


def test_readme_python_blocks_run():
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks, "the README has no Python example"
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {})


def test_readme_gives_the_two_commands():
    text = (ROOT / "README.md").read_text()
    assert "make test" in text and "make demo" in text
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_demo_writes_scores_and_figure(tmp_path, capsys):
    demo.main(["--output", str(tmp_path), "--n-stages", "5"])
    scores = pd.read_csv(tmp_path / "staged_scores.csv")
    assert set(scores["engine"]) == {"lightgbm", "sklearn"}
    assert scores.groupby("engine")["stage"].max().tolist() == [5, 5]
    assert (tmp_path / "staged_scores.png").stat().st_size > 1000
    assert "Test R^2" in capsys.readouterr().out
    assert not list(tmp_path.glob("*.tmp"))


def test_import_fboost_does_not_load_torch():
    """Torch is imported when a network is fitted or loaded, not by ``import fboost``."""
    import subprocess
    import sys

    code = "import fboost, sys; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
