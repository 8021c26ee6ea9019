"""Tree boosting beside the libraries it wraps: fit and contribution costs as ratios.

- lightgbm engine ``fit`` / bare ``LGBMRegressor.fit`` / ``LGBMClassifier.fit`` (target <= 1.05)
  on three tables side by side: 100k-row regression, 6 classes x 4,800 rows, 26 classes x
  15,000 rows (the multiclass cases cost 1.3x and 1.4x before the stage view became lazy)
- ``stage_contributions`` over all stages / one full ``predict`` (target <= 3)
- sklearn engine ``fit`` / ``GradientBoostingRegressor.fit`` (target <= 1.2)
"""

from __future__ import annotations

from typing import Any

import lightgbm
from sklearn.datasets import make_classification, make_regression
from sklearn.ensemble import GradientBoostingRegressor

from fboost import TreeBoostingClassifier, TreeBoostingRegressor

from ._harness import paired_times


def _classifier_fit_times(X: Any, y: Any, n_rounds: int) -> tuple[float, float]:
    clf = TreeBoostingClassifier(n_stages=n_rounds, random_state=0)
    reference = lightgbm.LGBMClassifier(**clf.lightgbm_params())
    return paired_times(lambda: clf.fit(X, y), lambda: reference.fit(X, y))


def run(quick: bool = False) -> dict[str, Any]:
    n_lgbm, n_rounds = (20_000, 50) if quick else (100_000, 200)
    n_sklearn, n_sklearn_rounds = (5_000, 30) if quick else (20_000, 100)
    X, y = make_regression(n_samples=n_lgbm, n_features=20, noise=1.0, random_state=0)

    ours = TreeBoostingRegressor(n_stages=n_rounds, num_leaves=31, random_state=0)
    reference = lightgbm.LGBMRegressor(**ours.lightgbm_params())
    fit_ours, fit_ref = paired_times(lambda: ours.fit(X, y), lambda: reference.fit(X, y))

    multiclass: dict[str, dict[str, float]] = {}
    for n_classes, n_rows in ((6, 4_800), (26, 15_000)):
        n_rows = n_rows // 4 if quick else n_rows
        Xc, yc = make_classification(
            n_samples=n_rows, n_features=20, n_informative=12, n_classes=n_classes, random_state=0
        )
        ours_t, ref_t = _classifier_fit_times(Xc, yc, n_rounds // 2)
        multiclass[f"{n_classes}_classes"] = {
            "n_samples": n_rows,
            "n_rounds": n_rounds // 2,
            "lightgbm_engine_fit": ours_t,
            "lgbm_classifier_fit": ref_t,
        }

    contributions, predict = paired_times(
        lambda: ours.stage_contributions(X), lambda: ours.predict(X)
    )

    Xs, ys = X[:n_sklearn], y[:n_sklearn]
    shared = {"learning_rate": 0.1, "random_state": 0}
    ours_sk = TreeBoostingRegressor(engine="sklearn", n_stages=n_sklearn_rounds, **shared)
    reference_sk = GradientBoostingRegressor(
        n_estimators=n_sklearn_rounds,
        max_depth=None,
        max_leaf_nodes=31,
        min_samples_leaf=20,
        **shared,
    )
    fit_sk, fit_sk_ref = paired_times(
        lambda: ours_sk.fit(Xs, ys), lambda: reference_sk.fit(Xs, ys), warmup=0
    )
    return {
        "sizes": {
            "lightgbm": {"n_samples": n_lgbm, "n_features": 20, "n_rounds": n_rounds},
            "sklearn": {"n_samples": n_sklearn, "n_features": 20, "n_rounds": n_sklearn_rounds},
            **{
                name: {"n_samples": m["n_samples"], "n_features": 20, "n_rounds": m["n_rounds"]}
                for name, m in multiclass.items()
            },
        },
        "timings": {
            "lightgbm_engine_fit": fit_ours,
            "lgbm_regressor_fit": fit_ref,
            "stage_contributions": contributions,
            "predict": predict,
            "sklearn_engine_fit": fit_sk,
            "gradient_boosting_regressor_fit": fit_sk_ref,
            **{
                f"{name}_{key}": m[key]
                for name, m in multiclass.items()
                for key in ("lightgbm_engine_fit", "lgbm_classifier_fit")
            },
        },
        "ratios": {
            "lightgbm_engine_fit / LGBMRegressor.fit": fit_ours / fit_ref,
            **{
                f"lightgbm_engine_fit / LGBMClassifier.fit ({name.replace('_', ' ')})": m[
                    "lightgbm_engine_fit"
                ]
                / m["lgbm_classifier_fit"]
                for name, m in multiclass.items()
            },
            "stage_contributions / predict": contributions / predict,
            "sklearn_engine_fit / GradientBoostingRegressor.fit": fit_sk / fit_sk_ref,
        },
        "targets": {
            "lightgbm_engine_fit / LGBMRegressor.fit": "<= 1.05",
            **{
                f"lightgbm_engine_fit / LGBMClassifier.fit ({name.replace('_', ' ')})": "<= 1.05"
                for name in multiclass
            },
            "stage_contributions / predict": "<= 3",
            "sklearn_engine_fit / GradientBoostingRegressor.fit": "<= 1.2",
        },
    }
