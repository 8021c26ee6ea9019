"""The model families the comparison studies fit, by name: one registry for every study.

A :class:`ModelSpec` names a model, the cell of DESIGN.md's grid it sits in (its family), and
makes a fresh estimator for a data set, a study config and a seed. Sizes come from the config:
``n_stages`` (boosting rounds of tree models), ``n_blocks`` (residual blocks), ``n_neural_stages``
(GrowNet stages), ``max_epochs``; a config without one of them gets the default below.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

from sklearn.metrics import accuracy_score, r2_score

__all__ = ["ModelSpec", "MODELS", "score_of", "staged_scores"]


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    name: str
    family: str
    make: Callable[[Any, Any, int], Any]


def _size(config: Any, name: str, default: int) -> int:
    return int(getattr(config, name, default))


def _is_regression(data: Any) -> bool:
    return bool(data.task == "regression")


def _image_params(data: Any, config: Any) -> dict[str, Any]:
    """CNN settings for image data: 1-D signals (C, L) become (C, 1, L) images."""
    if not data.image_shape:
        return {}
    shape = tuple(data.image_shape)
    params: dict[str, Any] = {
        "architecture": "cnn",
        "image_shape": shape if len(shape) == 3 else (shape[0], 1, shape[1]),
    }
    if getattr(config, "cnn_width", None):
        params["d_block"] = config.cnn_width
    return params


def _tree(engine: str) -> Callable[[Any, Any, int], Any]:
    def make(data: Any, config: Any, seed: int) -> Any:
        from fboost import TreeBoostingClassifier, TreeBoostingRegressor

        cls = TreeBoostingRegressor if _is_regression(data) else TreeBoostingClassifier
        return cls(
            engine=engine,
            n_stages=_size(config, "n_stages", 100),
            learning_rate=float(getattr(config, "tree_learning_rate", 0.1)),
            subsample=float(getattr(config, "tree_subsample", 1.0)),
            colsample_bytree=float(getattr(config, "tree_colsample", 1.0)),
            random_state=seed,
        )

    return make


def _resnet(data: Any, config: Any, seed: int) -> Any:
    from fboost import ResNetClassifier, ResNetRegressor

    cls = ResNetRegressor if _is_regression(data) else ResNetClassifier
    return cls(
        n_stages=_size(config, "n_blocks", 3),
        max_epochs=_size(config, "max_epochs", 100),
        random_state=seed,
        **_image_params(data, config),
    )


def _boostresnet(data: Any, config: Any, seed: int) -> Any:
    """BoostResNet with the end-to-end ResNet's blocks; its epoch cap split over the stages
    (or ``config.epochs_per_stage`` when the config sets it)."""
    from fboost import BoostResNetClassifier, BoostResNetRegressor

    cls = BoostResNetRegressor if _is_regression(data) else BoostResNetClassifier
    split = max(1, _size(config, "max_epochs", 100) // _size(config, "n_blocks", 3))
    per_stage = getattr(config, "epochs_per_stage", None)
    return cls(
        n_stages=_size(config, "n_blocks", 3),
        epochs_per_stage=split if per_stage is None else int(per_stage),
        random_state=seed,
        **_image_params(data, config),
    )


def _resfgb(data: Any, config: Any, seed: int) -> Any:
    """ResFGB on rows of features: 10 kernel steps per residual block of the config, at most 30
    (its default), and at most 20 embedding epochs a step (its default)."""
    from fboost import ResFGBClassifier, ResFGBRegressor

    cls = ResFGBRegressor if _is_regression(data) else ResFGBClassifier
    return cls(
        n_stages=min(30, 10 * _size(config, "n_blocks", 3)),
        epochs_per_stage=min(20, _size(config, "max_epochs", 100)),
        random_state=seed,
    )


def _neural_boosting(data: Any, config: Any, seed: int) -> Any:
    from fboost import NeuralBoostingClassifier, NeuralBoostingRegressor

    cls = NeuralBoostingRegressor if _is_regression(data) else NeuralBoostingClassifier
    return cls(n_stages=_size(config, "n_neural_stages", 20), random_state=seed)


def _lightgbm(data: Any, config: Any, seed: int) -> Any:
    import lightgbm

    from fboost.trees import _default_n_jobs

    cls = lightgbm.LGBMRegressor if _is_regression(data) else lightgbm.LGBMClassifier
    # the thread count fboost's lightgbm engine uses, so that fit times compare like for like
    return cls(
        n_estimators=_size(config, "n_stages", 100),
        random_state=seed,
        verbose=-1,
        n_jobs=_default_n_jobs(),
    )


def _hist_gradient_boosting(data: Any, config: Any, seed: int) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    cls = HistGradientBoostingRegressor if _is_regression(data) else HistGradientBoostingClassifier
    return cls(max_iter=_size(config, "n_stages", 100), early_stopping=False, random_state=seed)


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in [
        ModelSpec("TreeBoosting[lightgbm]", "GBM: function space, stagewise", _tree("lightgbm")),
        ModelSpec("TreeBoosting[sklearn]", "GBM: function space, stagewise", _tree("sklearn")),
        ModelSpec("ResNet", "ResNet: feature space, joint", _resnet),
        ModelSpec("BoostResNet", "BoostResNet: feature space, stagewise", _boostresnet),
        ModelSpec("ResFGB", "ResFGB: feature space, stagewise (kernel)", _resfgb),
        ModelSpec(
            "NeuralBoosting", "GrowNet: function space, stagewise + corrective", _neural_boosting
        ),
        ModelSpec("LightGBM", "reference: LightGBM", _lightgbm),
        ModelSpec("HistGradientBoosting", "reference: scikit-learn", _hist_gradient_boosting),
    ]
}


def score_of(model: Any, data: Any) -> float:
    """Test accuracy (classification) or R^2 (regression)."""
    return float(model.score(data.X_test, data.y_test))


def staged_scores(model: Any, data: Any) -> Iterator[tuple[int, float]]:
    """``(t, test score of F_t)`` for models with ``staged_predict``; nothing otherwise."""
    if not hasattr(model, "staged_predict"):
        return
    metric = r2_score if _is_regression(data) else accuracy_score
    for t, prediction in enumerate(model.staged_predict(data.X_test), start=1):
        yield t, float(metric(data.y_test, prediction))
