"""The feature-space table: ResFGB beside LightGBM, the end-to-end ResNet and BoostResNet.

Every model at its defaults (fboost's TreeBoosting with engine="lightgbm" for LightGBM), on the
offline sets (breast_cancer, wine, diabetes, friedman1, digits as 64 pixel columns: every model,
ResFGB included, reads rows of features), with the registry's 80/20 split per seed. Test accuracy
or R^2, mean and standard deviation over the seeds, and the fit time. Run from the repository root:

    python -m experiments.resfgb_table [--seeds 0 1 2] [--output results/resfgb_table]

It writes ``scores.csv`` (one row per data set, model and seed) and ``table.md``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import pandas as pd

DATASETS = ("breast_cancer", "wine", "diabetes", "friedman1", "digits")
MODELS = ("ResFGB", "LightGBM", "ResNet", "BoostResNet")


def make(name: str, regression: bool, seed: int) -> Any:
    """The model ``name`` at its defaults, seeded."""
    import fboost
    from fboost.resfgb import ResFGBClassifier, ResFGBRegressor

    classes = {
        "ResFGB": (ResFGBRegressor, ResFGBClassifier),
        "LightGBM": (fboost.TreeBoostingRegressor, fboost.TreeBoostingClassifier),
        "ResNet": (fboost.ResNetRegressor, fboost.ResNetClassifier),
        "BoostResNet": (fboost.BoostResNetRegressor, fboost.BoostResNetClassifier),
    }
    regressor, classifier = classes[name]
    return (regressor if regression else classifier)(random_state=seed)


def run(seeds: tuple[int, ...], output: Path) -> pd.DataFrame:
    from fboost.datasets import load_dataset

    output.mkdir(parents=True, exist_ok=True)
    rows = []
    for dataset in DATASETS:
        for seed in seeds:
            data = load_dataset(dataset, random_state=seed)
            for name in MODELS:
                model = make(name, data.task == "regression", seed)
                start = time.perf_counter()
                model.fit(data.X_train, data.y_train)
                rows.append(
                    {
                        "dataset": dataset,
                        "model": name,
                        "seed": seed,
                        "score": float(model.score(data.X_test, data.y_test)),
                        "fit_seconds": time.perf_counter() - start,
                        "n_stages": int(model.n_stages_),
                    }
                )
                print(rows[-1], flush=True)
                pd.DataFrame(rows).to_csv(output / "scores.csv", index=False)
    scores = pd.DataFrame(rows)
    (output / "table.md").write_text(markdown(scores))
    return scores


def markdown(scores: pd.DataFrame) -> str:
    """Mean +- std of the test score per data set (rows) and model (columns)."""
    stats = scores.groupby(["dataset", "model"], sort=False)["score"].agg(["mean", "std"])
    cells = stats.apply(lambda r: f"{r['mean']:.3f} ± {r['std']:.3f}", axis=1).unstack("model")
    cells = cells.reindex(index=list(dict.fromkeys(scores["dataset"])), columns=list(MODELS))
    times = scores.groupby("model", sort=False)["fit_seconds"].mean().reindex(list(MODELS))
    n_seeds = scores["seed"].nunique()
    lines = [
        f"Test score, mean ± std over {n_seeds} seeds (accuracy; R^2 for diabetes, friedman1)",
        "",
        "| data set | " + " | ".join(cells.columns) + " |",
        "|---" * (len(cells.columns) + 1) + "|",
    ]
    lines += [f"| {d} | " + " | ".join(cells.loc[d]) + " |" for d in cells.index]
    lines += ["| mean fit s | " + " | ".join(f"{t:.1f}" for t in times) + " |", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--output", type=Path, default=Path("results/resfgb_table"))
    args = parser.parse_args(argv)
    scores = run(tuple(args.seeds), args.output)
    print(markdown(scores))


if __name__ == "__main__":
    main()
