"""``class_weight`` on every classifier: scikit-learn's sample weights per class, LightGBM's too."""

from __future__ import annotations

import inspect

import lightgbm
import numpy as np
import pytest
from sklearn.base import clone, is_classifier
from sklearn.utils.class_weight import compute_sample_weight

import fboost
from fboost import (
    BoostResNetClassifier,
    FunctionalBoostingClassifier,
    NeuralBoostingClassifier,
    ResNetClassifier,
    TreeBoostingClassifier,
)

CLASSIFIERS = {
    "trees-lightgbm": TreeBoostingClassifier(n_stages=10, random_state=0),
    "trees-sklearn": TreeBoostingClassifier(engine="sklearn", n_stages=10, random_state=0),
    "functional": FunctionalBoostingClassifier(n_stages=5, random_state=0),
    "resnet": ResNetClassifier(n_stages=1, d_block=8, max_epochs=3, random_state=0),
    "boostresnet": BoostResNetClassifier(n_stages=2, d_block=8, epochs_per_stage=2, random_state=0),
    "neural_boosting": NeuralBoostingClassifier(
        n_stages=2, d_hidden=8, epochs_per_stage=2, random_state=0
    ),
}
ESTIMATOR_CLASSES = [getattr(fboost, name) for name in fboost.__all__ if name[0].isupper()]
ESTIMATOR_CLASSES = [cls for cls in ESTIMATOR_CLASSES if hasattr(cls, "fit")]


def _decision(model, X):
    return model.decision_function(X)


@pytest.mark.parametrize("name", list(CLASSIFIERS))
@pytest.mark.parametrize("class_weight", ["balanced", {0: 0.5, 1: 3.0, 2: 1.0}])
def test_class_weight_equals_the_equivalent_sample_weight(multiclass_data, name, class_weight):
    X, y = multiclass_data
    weighted = clone(CLASSIFIERS[name]).set_params(class_weight=class_weight).fit(X, y)
    w = compute_sample_weight(class_weight, y)
    by_sample = clone(CLASSIFIERS[name]).fit(X, y, sample_weight=w)
    np.testing.assert_array_equal(_decision(weighted, X), _decision(by_sample, X))
    plain = clone(CLASSIFIERS[name]).fit(X, y)
    assert not np.array_equal(_decision(weighted, X), _decision(plain, X))


def test_class_weight_multiplies_sample_weight(binary_data):
    X, y = binary_data
    w = np.random.RandomState(0).uniform(0.5, 2.0, len(y))
    class_weight = {"no": 2.0, "yes": 0.5}
    model = TreeBoostingClassifier(engine="sklearn", n_stages=5, class_weight=class_weight)
    both = model.fit(X, y, sample_weight=w)
    product = TreeBoostingClassifier(engine="sklearn", n_stages=5).fit(
        X, y, sample_weight=w * compute_sample_weight(class_weight, y)
    )
    np.testing.assert_array_equal(both.decision_function(X), product.decision_function(X))


@pytest.mark.parametrize("class_weight", ["balanced", {"no": 3.0, "yes": 0.7}])
@pytest.mark.parametrize("weighted", [False, True])
def test_lightgbm_engine_class_weight_equals_lgbm_classifier(binary_data, class_weight, weighted):
    X, y = binary_data
    w = np.random.RandomState(0).uniform(0.5, 2.0, len(y)) if weighted else None
    ours = TreeBoostingClassifier(n_stages=20, random_state=0, class_weight=class_weight)
    ref = lightgbm.LGBMClassifier(**ours.lightgbm_params(), class_weight=class_weight)
    ours.fit(X, y, sample_weight=w)
    ref.fit(X, y, sample_weight=w)
    np.testing.assert_array_equal(ours.decision_function(X), ref.predict(X, raw_score=True))
    np.testing.assert_array_equal(ours.predict(X), ref.predict(X))


def test_a_class_weight_for_an_unknown_label_raises_naming_class_weight(binary_data):
    X, y = binary_data
    with pytest.raises(ValueError, match="class_weight"):
        TreeBoostingClassifier(n_stages=2, class_weight={"maybe": 2.0}).fit(X, y)
    with pytest.raises(ValueError, match="class_weight"):
        TreeBoostingClassifier(n_stages=2, class_weight="uniform").fit(X, y)


def test_class_weight_that_removes_a_class_raises(binary_data):
    X, y = binary_data
    with pytest.raises(ValueError, match="at least 2 classes with positive sample_weight"):
        TreeBoostingClassifier(n_stages=2, class_weight={"no": 0.0}).fit(X, y)


@pytest.mark.parametrize("cls", ESTIMATOR_CLASSES, ids=lambda cls: cls.__name__)
def test_every_classifier_and_no_regressor_has_class_weight(cls):
    params = inspect.signature(cls).parameters
    if is_classifier(cls()):
        assert params["class_weight"].default is None
        assert params["class_weight"].kind is inspect.Parameter.KEYWORD_ONLY
        assert cls.__doc__.count("class_weight :") == 1
        assert cls().get_params()["class_weight"] is None
    else:
        assert "class_weight" not in params
