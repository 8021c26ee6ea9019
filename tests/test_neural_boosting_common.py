"""scikit-learn's estimator checks over the GrowNet estimators (tiny, fast training)."""

from __future__ import annotations

from sklearn.utils.estimator_checks import parametrize_with_checks

from fboost.neural_boosting import NeuralBoostingClassifier, NeuralBoostingRegressor

#: small, fast and still able to fit the checks' toy problems
_FAST = {
    "n_stages": 4,
    "d_hidden": 16,
    "epochs_per_stage": 4,
    "corrective_epochs": 1,
    "batch_size": 32,
    "lr": 1e-2,
    "random_state": 0,
}

_STOCHASTIC = (
    "minibatch training is not equivalent under integer sample weights vs repeated rows "
    "(different batches, hence different weights after the same number of epochs)"
)


def _expected_failed_checks(estimator: object) -> dict[str, str]:
    return {
        "check_sample_weight_equivalence_on_dense_data": _STOCHASTIC,
    }


@parametrize_with_checks(
    [NeuralBoostingRegressor(**_FAST), NeuralBoostingClassifier(**_FAST)],
    expected_failed_checks=_expected_failed_checks,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)
