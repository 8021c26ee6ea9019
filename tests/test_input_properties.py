"""Property-based tests (hypothesis) of every estimator's input validation.

Over shapes, dtypes and values of X, y and sample_weight, with one argument changed at a time,
an input is either refused with a ``ValueError``/``TypeError`` naming that argument, or fitted,
and then ``predict`` returns finite values of the right shape; never another exception type,
never a silent NaN. For inputs that differ from clean data only by a power of ten (X or y), a
fit must also agree with the clean fit (scale equivariance: no constant answer from an overflow
or an underflow). Few examples per estimator, derandomized: the suite stays fast and
deterministic.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn.base import clone, is_classifier

from bench.fuzz_inputs import clean_data, variants

VARIANTS = variants()
SETTINGS = settings(
    max_examples=4,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
DTYPES = ["float64", "float32", "int64", "bool", "object", "complex128"]


def _names(message: str, argument: str) -> bool:
    return re.search(rf"(?<!\w){argument}(?!\w)", message) is not None


def _as(values: np.ndarray, dtype: str) -> np.ndarray:
    with np.errstate(all="ignore"):
        if dtype == "object":
            return values.astype(str).astype(object)  # numbers as strings ('nan' included)
        if dtype in ("int64", "bool"):
            return np.nan_to_num(values, posinf=1e9, neginf=-1e9).clip(-1e9, 1e9).astype(dtype)
        return values.astype(dtype)


@st.composite
def _arrays(draw: st.DrawFn, shape: tuple[int, ...]) -> np.ndarray:
    """Clean normals times a power of ten, or arbitrary float64 (NaN, inf, 1e308, 5e-324)."""
    if draw(st.booleans()):
        rng = np.random.default_rng(draw(st.integers(0, 2**16)))
        return rng.normal(size=shape) * 10.0 ** draw(st.integers(-320, 308))
    return draw(hnp.arrays(np.float64, shape, elements=st.floats(width=64)))


@st.composite
def _inputs(draw: st.DrawFn, classifier: bool) -> tuple[str, dict]:
    """``(argument changed, fit kwargs)``: clean data with X, y or sample_weight redrawn."""
    X, y = clean_data(classifier)
    n, d = X.shape
    sample_weight = None
    which = draw(st.sampled_from(["X", "y", "sample_weight"]))
    dtype = draw(st.sampled_from(DTYPES))
    if which == "X":
        rows = draw(st.sampled_from([n, n, 0, 1, 2, n - 1]))
        shape = draw(st.sampled_from([(rows, d), (rows, d), (rows,), (rows, 1), (rows, 1, 2, 2)]))
        X = _as(draw(_arrays(shape)), dtype)
    elif which == "y":
        shape = draw(st.sampled_from([(n,), (n,), (n, 1), (n, 2), (n - 1,)]))
        y = draw(_arrays(shape))
        if classifier and draw(st.booleans()):
            y = np.round(y)  # labels, as far as the values allow
        y = _as(y, dtype)
    else:
        length = draw(st.sampled_from([n, n, n - 1]))
        sample_weight = _as(np.abs(draw(_arrays((length,)))), dtype)
    return which, {"X": X, "y": y, "sample_weight": sample_weight}


def _check_fitted(est, X) -> None:
    prediction = est.predict(X)
    assert prediction.shape == (len(X),)
    if not is_classifier(est):
        assert np.all(np.isfinite(prediction)), "a regressor predicted NaN or inf"
    else:
        assert np.all(np.isfinite(est.predict_proba(X)))
        assert set(np.unique(prediction)) <= set(est.classes_)


@pytest.mark.parametrize("name", list(VARIANTS))
def test_any_input_is_fitted_or_refused_naming_the_argument(name):
    est = VARIANTS[name]

    @SETTINGS
    @given(case=_inputs(is_classifier(est)))
    def check(case):
        which, kwargs = case
        fitted = clone(est)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fitted.fit(kwargs["X"], kwargs["y"], sample_weight=kwargs["sample_weight"])
        except (ValueError, TypeError) as exc:
            assert _names(str(exc), which), f"{type(exc).__name__} not naming {which}: {exc}"
            return
        _check_fitted(fitted, np.asarray(kwargs["X"]))

    check()


@pytest.fixture(scope="module")
def clean_answers():
    answers = {}
    for name, est in VARIANTS.items():
        X, y = clean_data(is_classifier(est))
        answers[name] = clone(est).fit(X, y).predict(X)
    return answers


@pytest.mark.parametrize("name", list(VARIANTS))
def test_a_power_of_ten_is_refused_or_changes_nothing(name, clean_answers):
    est = VARIANTS[name]
    classifier = is_classifier(est)

    @settings(SETTINGS, max_examples=3)
    @given(
        which=st.sampled_from(["X", "y"] if not classifier else ["X"]),
        k=st.integers(-320, 308),
    )
    def check(which, k):
        X, y = clean_data(classifier)
        scale = 10.0**k
        if scale == 0 or not np.all(np.isfinite(X * scale)) or not np.all(np.isfinite(y * scale)):
            return  # not a finite input
        X_fit, y_fit = (X * scale, y) if which == "X" else (X, y * scale)
        try:
            fitted = clone(est).fit(X_fit, y_fit)
        except ValueError as exc:
            assert _names(str(exc), which), str(exc)
            return
        answers = fitted.predict(X_fit)
        if classifier:
            assert np.mean(answers == clean_answers[name]) >= 0.95
        else:
            reference = clean_answers[name]
            error = np.max(np.abs(answers / (scale if which == "y" else 1.0) - reference))
            assert error <= 1e-2 * np.std(reference), f"{which} * 1e{k} changed the answers"

    check()
