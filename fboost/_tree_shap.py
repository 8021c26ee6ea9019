"""Per-feature contributions of the sklearn engine's trees through ``shap``'s TreeSHAP (optional).

Each stage is ``alpha_t`` times one ``DecisionTreeRegressor`` per output; TreeSHAP
(path-dependent, the algorithm behind LightGBM's ``pred_contrib``) splits each tree's prediction
into one value per feature plus its expected value, so that the stage and feature view of a model
is the sum of those pieces. ``shap`` is an optional dependency: ``pip install 'fboost[shap]'``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .additive import AdditiveModel

__all__ = ["stage_feature_contributions"]


def _shap() -> Any:
    try:
        import shap
    except ImportError:
        raise ImportError(
            "per-feature contributions with engine='sklearn' need the optional package shap "
            "(TreeSHAP): pip install 'fboost[shap]'; engine='lightgbm' needs nothing more"
        ) from None
    return shap


def _tree_contributions(shap: Any, tree: Any, X: Any) -> np.ndarray:
    """TreeSHAP values of one tree plus its expected value as a last column, ``(n, F + 1)``."""
    explainer = shap.TreeExplainer(tree, feature_perturbation="tree_path_dependent")
    values = np.asarray(explainer.shap_values(X, check_additivity=False), dtype=np.float64)
    expected = float(np.ravel(explainer.expected_value)[0])
    return np.column_stack([values, np.full(X.shape[0], expected)])


def stage_feature_contributions(model: AdditiveModel, X: Any) -> np.ndarray:
    """``(n_stages + 1, n, n_features + 1, K)``: ``F_0`` in row 0's bias column, then each stage."""
    shap = _shap()
    raw0, _ = model.start(X)
    n, k = raw0.shape
    out = np.zeros((model.n_stages + 1, n, X.shape[1] + 1, k))
    out[0, :, -1] = raw0
    for row, (stage, alpha) in enumerate(zip(model.stages, model.weights, strict=True), start=1):
        for j, tree in enumerate(stage.learners):  # type: ignore[attr-defined]
            out[row, :, :, j] = alpha * _tree_contributions(shap, tree, X)
    return out
