"""``make demo``: both tree engines on an offline data set, scored after every stage.

Writes ``<output>/staged_scores.csv`` and ``<output>/staged_scores.png`` and prints a short table.
Run as ``python -m fboost.demo --output results/demo``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from sklearn.metrics import r2_score

from . import TreeBoostingRegressor
from .datasets import load_dataset

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure


def _atomic_write(path: Path, write: Callable[[str], object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=path.suffix + ".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def staged_scores(n_stages: int = 200, random_state: int = 0) -> pd.DataFrame:
    """Test R^2 after each stage for both engines on friedman1 (long format)."""
    data = load_dataset("friedman1", random_state=random_state)
    rows = []
    for engine in ("lightgbm", "sklearn"):
        model = TreeBoostingRegressor(
            engine=engine, n_stages=n_stages, learning_rate=0.05, random_state=random_state
        ).fit(data.X_train, data.y_train)
        for t, pred in enumerate(model.staged_predict(data.X_test), start=1):
            rows.append({"engine": engine, "stage": t, "test_r2": r2_score(data.y_test, pred)})
    return pd.DataFrame(rows)


def plot(scores: pd.DataFrame) -> Figure:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for engine, frame in scores.groupby("engine"):
        ax.plot(frame["stage"], frame["test_r2"], label=f'engine="{engine}"')
    ax.set_xlabel("stage t")
    ax.set_ylabel("test $R^2$ of $F_t$")
    ax.set_title("TreeBoostingRegressor on friedman1: score after each stage")
    ax.set_ylim(max(-0.1, float(np.nanmin(scores["test_r2"]))), 1.0)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m fboost.demo", description=__doc__)
    parser.add_argument("--output", default="results/demo", help="folder for the CSV and PNG")
    parser.add_argument("--n-stages", type=int, default=200)
    args = parser.parse_args(argv)
    output = Path(args.output)
    scores = staged_scores(args.n_stages)
    _atomic_write(output / "staged_scores.csv", lambda p: scores.to_csv(p, index=False))
    figure = plot(scores)
    _atomic_write(output / "staged_scores.png", lambda p: figure.savefig(p, dpi=120, format="png"))
    table = scores[scores["stage"].isin([1, 10, 50, 100, args.n_stages])].pivot(
        index="stage", columns="engine", values="test_r2"
    )
    print("Test R^2 of F_t on friedman1 (2,000 rows), by stage and engine:")
    print(table.round(4).to_string())
    print(f"Wrote {output / 'staged_scores.csv'} and {output / 'staged_scores.png'}")


if __name__ == "__main__":
    main()
