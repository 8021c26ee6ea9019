"""Fuzz the input validation of every estimator variant with bad or odd inputs, and count outcomes.

Run from the repository root (a few minutes on 2 cores; not part of the test suite)::

    OMP_NUM_THREADS=1 python -m bench.fuzz_inputs [--quick] [--json PATH] [--show unclear,wrong]

Each case is a ``fit`` (and, where it passes, ``predict``) on tiny data with one thing changed,
and says which argument is at fault when it should be refused. An outcome is

- **clear**: ``ValueError`` or ``TypeError`` whose message names the argument at fault;
- **unclear**: any other exception type, or a message that does not name that argument;
- **wrong**: no error, but the answer is silently wrong: non-finite or wrongly shaped
  predictions, a non-finite ``train_score_``, constant predictions where the clean fit was not
  constant, predictions that disagree with the clean fit on data that differ only in scale
  (every estimator here is scale-equivariant), or a row whose prediction changes with the rows
  sharing the call (subset invariance, above 1e-7 relative);
- **ok**: the input was accepted and every check above passed.

The counts are printed as ``cases clear unclear wrong ok``; ``--json`` writes every case.
"""

from __future__ import annotations

import argparse
import json
import re
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.base import clone, is_classifier

from fboost import (
    BoostResNetClassifier,
    BoostResNetRegressor,
    FunctionalBoostingClassifier,
    FunctionalBoostingRegressor,
    NeuralBoostingClassifier,
    NeuralBoostingRegressor,
    ResNetClassifier,
    ResNetRegressor,
    TreeBoostingClassifier,
    TreeBoostingRegressor,
)

N, D = 48, 4
_NN = {"n_iter_no_change": None, "random_state": 0, "batch_size": 16}
_RESNET = {"n_stages": 2, "d_block": 8, "max_epochs": 3, "lr": 1e-2, **_NN}
_BOOSTRESNET = {"n_stages": 2, "d_block": 8, "epochs_per_stage": 2, "lr": 1e-2, **_NN}
_GROWNET = {"n_stages": 2, "d_hidden": 8, "epochs_per_stage": 2, "corrective_epochs": 1, **_NN}
_CNN = {"architecture": "cnn", "image_shape": (1, 2, 2)}


def variants() -> dict[str, Any]:
    """The 16 estimator variants: every class, both tree engines, both ResNet architectures."""
    out: dict[str, Any] = {}
    for task, tree, functional, resnet, boostresnet, grownet in (
        (
            "reg",
            TreeBoostingRegressor,
            FunctionalBoostingRegressor,
            ResNetRegressor,
            BoostResNetRegressor,
            NeuralBoostingRegressor,
        ),
        (
            "clf",
            TreeBoostingClassifier,
            FunctionalBoostingClassifier,
            ResNetClassifier,
            BoostResNetClassifier,
            NeuralBoostingClassifier,
        ),
    ):
        out[f"tree-lightgbm-{task}"] = tree(n_stages=5, random_state=0, min_samples_leaf=2)
        out[f"tree-sklearn-{task}"] = tree(engine="sklearn", n_stages=5, random_state=0)
        out[f"functional-{task}"] = functional(n_stages=5, random_state=0)
        out[f"resnet-mlp-{task}"] = resnet(**_RESNET)
        out[f"resnet-cnn-{task}"] = resnet(**_RESNET, **_CNN)
        out[f"boostresnet-mlp-{task}"] = boostresnet(**_BOOSTRESNET)
        out[f"boostresnet-cnn-{task}"] = boostresnet(**_BOOSTRESNET, **_CNN)
        out[f"grownet-{task}"] = grownet(**_GROWNET)
    return out


def clean_data(classifier: bool) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(N, D))
    score = X[:, 0] + 0.5 * X[:, 1] ** 2
    y = (score > np.median(score)).astype(int) if classifier else 3.0 * score + 1.0
    return X, y


@dataclass(frozen=True)
class Case:
    """One input: ``make(X, y) -> (fit kwargs, predict X)``; ``blame`` is the argument at fault.

    ``blame=None``: the input is valid or odd but legal, and may be accepted. ``x_scale`` and
    ``y_scale``: the case only rescales X or y, so predictions must match the clean fit's.
    """

    name: str
    make: Callable[[np.ndarray, np.ndarray], tuple[dict[str, Any], Any]]
    blame: str | None
    task: str = "both"  # "reg", "clf" or "both"
    x_scale: float = 1.0
    y_scale: float = 1.0


def _fit(X: Any, y: Any, **kw: Any) -> Callable[[np.ndarray, np.ndarray], tuple[dict, Any]]:
    """A case that fits on the given X, y (callables of the clean data) and predicts that X."""

    def make(X0: np.ndarray, y0: np.ndarray) -> tuple[dict[str, Any], Any]:
        extra = {k: (v(X0, y0) if callable(v) else v) for k, v in kw.items()}
        X_fit = X(X0, y0)
        return {"X": X_fit, "y": y(X0, y0), **extra}, X_fit

    return make


def _weights(w: Callable[[], Any]) -> Callable[..., tuple[dict, Any]]:
    """A case that fits the clean data with ``sample_weight=w()``."""
    return _fit(lambda X, y: X, lambda X, y: y, sample_weight=lambda X, y: w())


def _predict_on(X: Callable[[np.ndarray], Any]) -> Callable[..., tuple[dict, Any]]:
    def make(X0: np.ndarray, y0: np.ndarray) -> tuple[dict[str, Any], Any]:
        return {"X": X0, "y": y0}, X(X0)

    return make


def _with(X0: np.ndarray, index: tuple, value: Any, dtype: Any = None) -> np.ndarray:
    out = X0.astype(dtype if dtype is not None else X0.dtype, copy=True)
    out[index] = value
    return out


def _cases() -> list[Case]:
    keep_x = lambda X, y: X  # noqa: E731
    keep_y = lambda X, y: y  # noqa: E731
    W = "sample_weight"
    all_nan = (slice(None), 2)
    cases = [
        Case("clean", _fit(keep_x, keep_y), None),
        # -- X: values
        Case("X nan", _fit(lambda X, y: _with(X, (3, 1), np.nan), keep_y), "X"),
        Case("X inf", _fit(lambda X, y: _with(X, (3, 1), np.inf), keep_y), "X"),
        Case("X -inf", _fit(lambda X, y: _with(X, (0, 0), -np.inf), keep_y), "X"),
        Case("X all nan column", _fit(lambda X, y: _with(X, all_nan, np.nan), keep_y), "X"),
        Case("X strings", _fit(lambda X, y: X.astype(str).astype(object), keep_y), None),
        Case("X words", _fit(lambda X, y: _with(X, (1, 1), "abc", object), keep_y), "X"),
        Case("X None entry", _fit(lambda X, y: _with(X, (2, 2), None, object), keep_y), "X"),
        Case("X complex", _fit(lambda X, y: X + 1j, keep_y), "X"),
        Case("X bool", _fit(lambda X, y: X > 0, keep_y), None),
        Case("X int8", _fit(lambda X, y: (10 * X).astype(np.int8), keep_y), None),
        Case("X uint64", _fit(lambda X, y: (10 * np.abs(X)).astype(np.uint64), keep_y), None),
        Case("X float16", _fit(lambda X, y: X.astype(np.float16), keep_y), None),
        Case("X float32", _fit(lambda X, y: X.astype(np.float32), keep_y), None),
        Case("X list of lists", _fit(lambda X, y: X.tolist(), keep_y), None),
        Case("X constant", _fit(lambda X, y: np.ones_like(X), keep_y), None),
        Case("X one constant column", _fit(lambda X, y: _with(X, all_nan, 7.0), keep_y), None),
        Case("X * 1e300", _fit(lambda X, y: X * 1e300, keep_y), None, x_scale=1e300),
        Case("X * 1e200", _fit(lambda X, y: X * 1e200, keep_y), None, x_scale=1e200),
        Case("X * 1e30", _fit(lambda X, y: X * 1e30, keep_y), None, x_scale=1e30),
        Case("X * 1e-30", _fit(lambda X, y: X * 1e-30, keep_y), None, x_scale=1e-30),
        Case("X * 1e-300", _fit(lambda X, y: X * 1e-300, keep_y), None, x_scale=1e-300),
        Case("X + 1e6", _fit(lambda X, y: X + 1e6, keep_y), None),
        Case("X max float", _fit(lambda X, y: _with(X, (0, 0), np.finfo(float).max), keep_y), None),
        # -- X: shapes
        Case("X 1-D", _fit(lambda X, y: X[:, 0], keep_y), "X"),
        Case("X scalar", _fit(lambda X, y: 3.0, keep_y), "X"),
        Case("X None", _fit(lambda X, y: None, keep_y), "X"),
        Case("X 3-D", _fit(lambda X, y: X.reshape(N, 2, 2), keep_y), None),
        Case("X 5-D", _fit(lambda X, y: X.reshape(N, 1, 2, 2, 1), keep_y), "X"),
        Case("X zero features", _fit(lambda X, y: X[:, :0], keep_y), "X"),
        Case("X one feature", _fit(lambda X, y: X[:, :1], keep_y), None),
        Case("X empty", _fit(lambda X, y: X[:0], lambda X, y: y[:0]), "X"),
        Case("X one row", _fit(lambda X, y: X[:1], lambda X, y: y[:1]), "X"),
        Case("X fewer rows than y", _fit(lambda X, y: X[:-3], keep_y), "X"),
        Case("X string scalar", _fit(lambda X, y: "data", keep_y), "X"),
        Case("X dict", _fit(lambda X, y: {"a": 1}, keep_y), "X"),
        # -- y
        Case("y nan", _fit(keep_x, lambda X, y: _with(y, (3,), np.nan, float)), "y"),
        Case("y inf", _fit(keep_x, lambda X, y: _with(y, (3,), np.inf, float)), "y", task="reg"),
        Case("y None", _fit(keep_x, lambda X, y: None), "y"),
        Case("y 2-D column", _fit(keep_x, lambda X, y: y[:, None]), None),
        Case("y 2-D two columns", _fit(keep_x, lambda X, y: np.column_stack([y, y])), "y"),
        Case("y scalar", _fit(keep_x, lambda X, y: 1.0), "y"),
        Case("y words", _fit(keep_x, lambda X, y: np.array(["a", "b"] * (N // 2))), "y", "reg"),
        Case("y numeric strings", _fit(keep_x, lambda X, y: y.astype(str)), None),
        Case("y complex", _fit(keep_x, lambda X, y: y + 1j), "y"),
        Case("y None labels", _fit(keep_x, lambda X, y: _with(y, (0,), None, object)), "y"),
        Case("y mixed labels", _fit(keep_x, lambda X, y: _with(y, (0,), "a", object)), "y", "clf"),
        Case("y float labels", _fit(keep_x, lambda X, y: y + 0.5), None, task="clf"),
        Case("y continuous", _fit(keep_x, lambda X, y: X[:, 0]), "y", task="clf"),
        Case("y one class", _fit(keep_x, lambda X, y: np.zeros_like(y)), "y", task="clf"),
        Case("y bool", _fit(keep_x, lambda X, y: y > np.median(y)), None),
        Case("y constant", _fit(keep_x, lambda X, y: np.full(N, 2.5)), None, task="reg"),
        Case("y * 1e300", _fit(keep_x, lambda X, y: y * 1e300), None, "reg", y_scale=1e300),
        Case("y * 1e200", _fit(keep_x, lambda X, y: y * 1e200), None, "reg", y_scale=1e200),
        Case("y * 1e100", _fit(keep_x, lambda X, y: y * 1e100), None, "reg", y_scale=1e100),
        Case("y * 1e40", _fit(keep_x, lambda X, y: y * 1e40), None, "reg", y_scale=1e40),
        Case("y * 1e-40", _fit(keep_x, lambda X, y: y * 1e-40), None, "reg", y_scale=1e-40),
        Case("y * 1e-300", _fit(keep_x, lambda X, y: y * 1e-300), None, "reg", y_scale=1e-300),
        Case("y + 1e8", _fit(keep_x, lambda X, y: y + 1e8), None, task="reg"),
        Case("y huge labels", _fit(keep_x, lambda X, y: y * 1e300), None, task="clf"),
        Case("y many classes", _fit(keep_x, lambda X, y: np.arange(N) % 12), None, task="clf"),
        Case("y wrong length", _fit(keep_x, lambda X, y: y[:-1]), "y"),
        Case("y dict", _fit(keep_x, lambda X, y: {"a": 1}), "y"),
        # -- sample_weight
        Case("w negative", _weights(lambda: -np.ones(N)), W),
        Case("w nan", _weights(lambda: _with(np.ones(N), (1,), np.nan)), W),
        Case("w inf", _weights(lambda: _with(np.ones(N), (1,), np.inf)), W),
        Case("w zeros", _weights(lambda: np.zeros(N)), W),
        Case("w wrong length", _weights(lambda: np.ones(N - 1)), W),
        Case("w 2-D", _weights(lambda: np.ones((N, 2))), W),
        Case("w strings", _weights(lambda: np.array(["a"] * N)), W),
        Case("w scalar", _weights(lambda: 2.0), None),
        Case("w * 1e300", _weights(lambda: np.ones(N) * 1e300), None),
        Case("w * 1e-300", _weights(lambda: np.ones(N) * 1e-300), None),
        Case("w mostly zero", _weights(lambda: (np.arange(N) < 6) * 1.0), None),
        # -- predict
        Case("predict nan", _predict_on(lambda X: _with(X, (0, 0), np.nan)), "X"),
        Case("predict inf", _predict_on(lambda X: _with(X, (0, 0), np.inf)), "X"),
        Case("predict too few features", _predict_on(lambda X: X[:, :-1]), "X"),
        Case("predict too many features", _predict_on(lambda X: np.hstack([X, X])), "X"),
        Case("predict 1-D", _predict_on(lambda X: X[0]), "X"),
        Case("predict 5-D", _predict_on(lambda X: X.reshape(N, 1, 2, 2, 1)), "X"),
        Case("predict strings", _predict_on(lambda X: _with(X, (0, 0), "abc", object)), "X"),
        Case("predict one row", _predict_on(lambda X: X[:1]), None),
        Case("predict zero rows", _predict_on(lambda X: X[:0]), "X"),
        Case("predict * 1e300", _predict_on(lambda X: X * 1e300), None),
        Case("predict float32", _predict_on(lambda X: X.astype(np.float32)), None),
    ]
    return cases


def _names(message: str, argument: str) -> bool:
    return re.search(rf"(?<![\w]){re.escape(argument)}(?![\w])", message) is not None


def _predictions(est: Any, X: Any) -> tuple[np.ndarray, ...]:
    if is_classifier(est):
        return est.predict(X), est.predict_proba(X)
    return (np.asarray(est.predict(X), dtype=float),)


def _silently_wrong(est: Any, case: Case, X_pred: Any, ref: tuple[np.ndarray, ...]) -> str | None:
    """What is wrong with a fitted estimator's answers, or None."""
    train_score = getattr(est, "train_score_", np.zeros(1))
    if len(train_score) and not np.all(np.isfinite(train_score)):
        return "non-finite train_score_"
    out = _predictions(est, X_pred)
    n = len(X_pred)
    if out[0].shape != (n,):
        return f"predict shape {out[0].shape}, expected ({n},)"
    numeric = [o for o in out if o.dtype.kind in "fc"]
    if any(not np.all(np.isfinite(o)) for o in numeric):
        return "non-finite predictions"
    if n >= 4 and case.blame is None and case.name != "X constant" and case.task != "clf":
        values = numeric[-1]
        # six weighted rows cannot fill two leaves of min_samples_leaf=20: constant, as in sklearn
        legit = ("y constant", "w mostly zero")
        if np.ptp(values) == 0 and np.ptp(ref[-1]) > 0 and case.name not in legit:
            return "constant predictions"
    if case.x_scale != 1.0 or case.y_scale != 1.0:
        if is_classifier(est):
            agree = np.mean(out[0] == ref[0])
            if agree < 0.95:
                return f"scaling changed {1 - agree:.0%} of the labels"
        else:
            mine, theirs = out[0] / case.y_scale, ref[0]
            if np.max(np.abs(mine - theirs)) > 1e-2 * (np.std(theirs) + 1e-12):
                return "scaling changed the predictions"
    if n >= 8 and case.name == "clean":  # a row's answer must not depend on its neighbours
        first = _predictions(est, X_pred[: n // 2])
        for whole, part in zip(out, first, strict=True):
            same = np.allclose(whole[: n // 2], part, rtol=1e-7, atol=1e-7)
            if part.dtype.kind in "fc" and not same:
                return "predictions depend on the rows sharing the call"
    return None


def run_case(est: Any, case: Case, X0: np.ndarray, y0: np.ndarray, ref: tuple) -> tuple[str, str]:
    """``(outcome, detail)`` of one case on one (unfitted) estimator."""
    fit_kwargs, X_pred = case.make(X0, y0)
    est = clone(est)
    if "nan" in case.name and case.blame == "X" and est.__sklearn_tags__().input_tags.allow_nan:
        case = Case(case.name, case.make, None, case.task)  # missing values are legal here
    if case.name == "X None entry" and est.__sklearn_tags__().input_tags.allow_nan:
        case = Case(case.name, case.make, None, case.task)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.fit(fit_kwargs.pop("X"), fit_kwargs.pop("y"), **fit_kwargs)
            if case.name == "X 3-D" and est.get_params().get("architecture") != "cnn":
                return "wrong", "accepted 3-D X without images"
            if not hasattr(X_pred, "shape"):
                X_pred = np.asarray(X_pred)
            problem = _silently_wrong(est, case, X_pred, ref)
    except (ValueError, TypeError) as exc:
        blame = case.blame or "X"
        if case.name.startswith("y") or case.name.startswith("w"):
            blame = case.blame or ("y" if case.name.startswith("y") else "sample_weight")
        if _names(str(exc), blame):
            return "clear", f"{type(exc).__name__}: {str(exc)[:200]}"
        return "unclear", f"{type(exc).__name__} not naming {blame}: {str(exc)[:200]}"
    except Exception as exc:  # noqa: BLE001 - counting what escapes is the point
        return "unclear", f"{type(exc).__name__}: {str(exc)[:200]}"
    if problem is not None:
        return "wrong", problem
    if case.blame is not None:
        return "wrong", f"accepted although {case.blame} is at fault"
    return "ok", ""


def main(argv: list[str] | None = None) -> dict[str, int]:
    parser = argparse.ArgumentParser(prog="python -m bench.fuzz_inputs", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="four variants only")
    parser.add_argument("--json", help="write every case's outcome to this file")
    parser.add_argument("--show", default="unclear,wrong", help="outcomes to list, comma-separated")
    parser.add_argument("--only", default="", help="variants whose name contains this")
    args = parser.parse_args(argv)
    chosen = {k: v for k, v in variants().items() if args.only in k}
    if args.quick:
        chosen = dict(list(chosen.items())[::4])
    counts: Counter[str] = Counter()
    rows = []
    show = set(args.show.split(","))
    for name, est in chosen.items():
        classifier = is_classifier(est)
        X0, y0 = clean_data(classifier)
        ref = _predictions(clone(est).fit(X0, y0), X0)
        for case in _cases():
            if case.task != "both" and case.task != ("clf" if classifier else "reg"):
                continue
            outcome, detail = run_case(est, case, X0, y0, ref)
            counts[outcome] += 1
            rows.append({"variant": name, "case": case.name, "outcome": outcome, "detail": detail})
            if outcome in show:
                print(f"{outcome:8s} {name:24s} {case.name:26s} {detail}")
    total = sum(counts.values())
    summary = {"cases": total, **{k: counts[k] for k in ("clear", "unclear", "wrong", "ok")}}
    print(" ".join(f"{k}={v}" for k, v in summary.items()))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"summary": summary, "cases": rows}, f, indent=1)
    return summary


if __name__ == "__main__":
    main()
