"""scikit-learn's estimator checks over the ResNet estimators: tiny training, and the defaults.

At their defaults (128-wide blocks, up to 100 epochs with early stopping, batches of 256) the
checks take about 20 s per estimator on one core: cheap enough to run as they are.
"""

from __future__ import annotations

from sklearn.utils.estimator_checks import parametrize_with_checks

from fboost import ResNetClassifier, ResNetRegressor

#: small, fast and still able to fit the checks' toy problems
_FAST = {
    "n_stages": 2,
    "d_block": 16,
    "max_epochs": 12,
    "batch_size": 32,
    "lr": 1e-2,
    "random_state": 0,
}

_STOCHASTIC = (
    "minibatch training is not equivalent under integer sample weights vs repeated rows "
    "(different batches, BatchNorm statistics and dropout masks)"
)


def _expected_failed_checks(estimator: object) -> dict[str, str]:
    return {
        "check_sample_weight_equivalence_on_dense_data": _STOCHASTIC,
    }


@parametrize_with_checks(
    [
        ResNetRegressor(**_FAST),
        ResNetClassifier(**_FAST),
        ResNetRegressor(random_state=0),
        ResNetClassifier(random_state=0),
    ],
    expected_failed_checks=_expected_failed_checks,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)
