"""Dask input for ``TreeBoosting*(engine="lightgbm")``: LightGBM's Dask training, fboost's stages.

The fit goes through ``lightgbm.dask.DaskLGBMRegressor`` with the parameters the NumPy path
passes to LightGBM, on partitions that fboost validated block by block (the same checks as for
NumPy X, run where the data lives). Its booster then gets the same lazy stage view as a serial
fit (``fboost._lightgbm.stage_model``), so contributions, staged predictions, lesions and
pickling are unchanged. What needs the whole cluster:

- ``F_0``: in distributed training LightGBM's boost-from-average score is the mean over the
  workers of each worker's own score (``GlobalSyncUpByMean``). A callback records each worker's
  score (``lightgbm_init_raw`` of its labels and weights, as the serial path computes it) and
  ``Client.run`` collects them after the fit.
- ``train_score_``: the same callback records each worker's training loss after every
  iteration as the serial path reads it (LightGBM's metric on its cached scores, which in
  distributed training covers the worker's own rows; ``_MultinomialTrainLoss`` for K classes),
  and the workers' values are combined by their weight sums.
- ``evals_result_``: the loss of each ``eval_set`` after every stage, from the staged raw
  scores of its partitions (summed over partitions after the fit).

Nothing here is imported unless the input is a Dask collection (``sys.modules`` is checked for
``dask`` before any ``isinstance`` test); the optional extra is ``fboost[distributed]``.
"""

from __future__ import annotations

import contextlib
import io
import sys
import uuid
import warnings
from contextlib import nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _assert_all_finite, _check_sample_weight, check_is_fitted

from . import _numeric
from ._categorical import CategoricalEncoding, category_columns
from ._lightgbm import (
    _METRIC,
    _NATIVE,
    _MultinomialTrainLoss,
    eval_pairs,
    lightgbm_init_raw,
    stage_model,
)
from ._training import progress_bar
from .base import _check_label_types

if TYPE_CHECKING:
    from .losses import Loss

__all__ = ["is_dask", "any_dask", "fit_dask", "dask_apply", "DASK_METHODS"]

EXTRA = "fboost[distributed]"

#: what each worker's callback recorded: {fit token: record}; collected with ``Client.run``
_WORKER_RECORDS: dict[str, dict[str, Any]] = {}


def is_dask(obj: Any) -> bool:
    """Whether ``obj`` is a Dask collection (never imports dask: only if it is loaded)."""
    if "dask" not in sys.modules:
        return False
    import dask

    return bool(dask.is_dask_collection(obj))


def any_dask(*objs: Any) -> bool:
    """Whether any of ``objs`` (or an element of a list / tuple among them) is a Dask one."""
    for obj in objs:
        items = obj if isinstance(obj, list | tuple) else [obj]
        for item in items:
            inner = item if isinstance(item, list | tuple) else [item]
            if any(is_dask(x) for x in inner):
                return True
    return False


def _require_distributed() -> None:
    try:
        import dask.array  # noqa: F401
        import dask.dataframe  # noqa: F401
        import distributed  # noqa: F401
        import lightgbm.dask  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            f"Dask input needs the optional extra {EXTRA} (pip install '{EXTRA}'): {exc}"
        ) from exc


def _client(client: Any) -> Any:
    from distributed import Client, default_client

    if client is not None:
        if not isinstance(client, Client):
            raise TypeError(
                f"client must be a distributed.Client or None, got {type(client).__name__}"
            )
        return client
    try:
        return default_client()
    except ValueError:
        raise ValueError(
            "X is a Dask collection but no distributed.Client is active: create one "
            "(distributed.Client(...)) or pass client= to the estimator"
        ) from None


# -- blocks ------------------------------------------------------------------------------------
def _kind(obj: Any) -> str:
    import dask.array as da
    import dask.dataframe as dd

    if isinstance(obj, da.Array):
        return "array"
    if isinstance(obj, dd.DataFrame):
        return "frame"
    if isinstance(obj, dd.Series):
        return "series"
    return type(obj).__name__


def _sample(X: Any) -> Any:
    """A small in-memory stand-in for X with its columns and dtypes (for checks and shapes)."""
    if _kind(X) == "frame":
        return X._meta_nonempty
    return np.zeros((2, X.shape[1]), dtype=X.dtype)


def _check_X_collection(X: Any) -> None:
    kind = _kind(X)
    if kind not in ("array", "frame"):
        raise TypeError(f"X: a Dask X must be a dask array or DataFrame, got {kind}")
    if kind == "array" and X.ndim != 2:
        raise ValueError(f"X: expected a 2-D dask array, got {X.ndim} dimension(s)")
    if kind == "array" and np.isnan(X.shape[1]):
        raise ValueError("X: the dask array's number of columns is unknown; compute its chunks")
    if kind == "frame":
        unknown = [c for c in category_columns(X._meta) if not X[c].cat.known]
        if unknown:
            raise ValueError(
                f"X: category columns {unknown} have unknown categories in the Dask DataFrame; "
                "make them known first (X.categorize() or X[col].cat.as_known())"
            )


def _row_blocks(X: Any) -> Any:
    """X as one column block per row partition (a dask array or DataFrame)."""
    if _kind(X) == "array" and X.numblocks[1] > 1:
        return X.rechunk({1: -1})
    return X


@contextlib.contextmanager
def _shippable_errors() -> Any:
    """Errors of a task as distributed can send them: ``raise exc from exc`` (the NumPy path's
    checks, when the message already names the argument) is a cause cycle that distributed's
    ``collect_causes`` would follow forever."""
    try:
        yield
    except Exception as exc:
        if exc.__cause__ is exc:
            exc.__cause__ = None
        raise


def _validated(block: Any, est: Any) -> np.ndarray:
    """One partition of X through the NumPy path's checks (reset=False): float64 rows."""
    with _shippable_errors():
        return est._check_X(est._categorical.transform(block), reset=False)


def _map_rows(X: Any, func: Any, *, name: str, **kwargs: Any) -> Any:
    """``func(block, **kwargs)`` over the row partitions of X: a dask array (2-D blocks)."""
    token = f"{name}-{uuid.uuid4().hex}"
    if _kind(X) == "frame":
        return X.map_partitions(func, meta=np.empty((0, 0)), token=token, **kwargs)
    return X.map_blocks(func, dtype=np.float64, name=token, **kwargs)


def _vector(obj: Any, name: str, X: Any) -> Any:
    """y or a weight vector as a 1-D dask array partitioned like X."""
    import dask.array as da

    kind = _kind(obj)
    if kind == "series":
        arr = obj.to_dask_array()
    elif kind == "array":
        if obj.ndim == 2 and obj.shape[1] == 1:
            obj = obj[:, 0]
        if obj.ndim != 1:
            raise ValueError(f"{name}: expected a 1-D dask array, got shape {obj.shape}")
        arr = obj
    else:
        raise TypeError(
            f"{name} must be a dask array or Series when X is a Dask collection, got "
            f"{type(obj).__name__} (e.g. dask.array.from_array({name}, chunks=X.chunks[0]))"
        )
    n_blocks = X.npartitions if _kind(X) == "frame" else X.numblocks[0]
    rows = None if _kind(X) == "frame" else X.chunks[0]
    if rows is not None and not any(np.isnan(rows)) and not any(np.isnan(arr.chunks[0])):
        if sum(arr.chunks[0]) != sum(rows):
            raise ValueError(
                f"X and {name} must have the same number of samples; got X with {sum(rows)} "
                f"rows and {name} with {sum(arr.chunks[0])}"
            )
        if arr.chunks[0] != rows:
            arr = arr.rechunk((rows,))
    if arr.numblocks[0] != n_blocks:
        raise ValueError(
            f"X and {name} must be partitioned alike; got {n_blocks} partitions of X and "
            f"{arr.numblocks[0]} of {name}"
        )
    return da.asarray(arr)


def _weights(w: np.ndarray | None, n: int) -> np.ndarray:
    return np.ones(n) if w is None else w


def _block_summary(
    i: int, X: np.ndarray, y: np.ndarray, w: np.ndarray | None, regression: bool
) -> dict[str, Any]:
    """What the global checks need from one partition (the row checks run here)."""
    n = X.shape[0]
    y = np.asarray(y).reshape(-1)
    if len(y) != n:
        raise ValueError(
            f"X and y must have the same number of samples in every partition; partition {i}: "
            f"X has {n} rows, y has {len(y)}"
        )
    if w is not None:
        try:
            w = _check_sample_weight(w, X, dtype=np.float64, ensure_non_negative=True)
        except (ValueError, TypeError) as exc:
            raise type(exc)(f"sample_weight (partition {i}): {exc}") from exc
        if not np.isfinite(w).all():
            raise ValueError("sample_weight must be finite")
    with np.errstate(invalid="ignore"):
        out: dict[str, Any] = {
            "n": n,
            "x_min": np.nanmin(X, axis=0, initial=np.inf) if n else np.full(X.shape[1], np.inf),
            "x_max": np.nanmax(X, axis=0, initial=-np.inf) if n else np.full(X.shape[1], -np.inf),
        }
    weights = _weights(w, n)
    if regression:
        try:
            y = np.asarray(y, dtype=np.float64)
        except (ValueError, TypeError) as exc:
            raise type(exc)(f"y: {exc}") from exc
        _assert_all_finite(y, input_name="y")
        total = float(weights.sum())
        mean = float(weights @ y) / total if total > 0 else 0.0
        out.update(
            y_min=float(y.min(initial=np.inf)),
            y_max=float(y.max(initial=-np.inf)),
            w_sum=total,
            y_mean=mean,
            y_m2=float(weights @ (y - mean) ** 2),
            w_max=float(weights.max(initial=0.0)),
        )
        return out
    _check_label_types(y)
    try:
        check_classification_targets(y)
    except (ValueError, TypeError) as exc:
        raise type(exc)(f"y: {exc}") from exc
    labels, inverse = np.unique(y, return_inverse=True)
    w_max = np.zeros(len(labels))
    np.maximum.at(w_max, inverse, weights)
    out.update(
        labels=labels,
        counts=np.bincount(inverse, minlength=len(labels)),
        w_sums=np.bincount(inverse, weights=weights, minlength=len(labels)),
        w_max=w_max,
    )
    return out


def _merge_regression(parts: list[dict[str, Any]]) -> tuple[float, float, float, float, float]:
    """``(min, max, weighted std, weight sum, max weight)`` of y over all partitions (Chan)."""
    total, mean, m2 = 0.0, 0.0, 0.0
    for p in parts:
        if p["w_sum"] <= 0:
            continue
        w_b = p["w_sum"]
        delta = p["y_mean"] - mean
        new_total = total + w_b
        mean += delta * w_b / new_total
        m2 += p["y_m2"] + delta**2 * total * w_b / new_total
        total = new_total
    std = float(np.sqrt(m2 / total)) if total > 0 else 0.0
    y_min = min(p["y_min"] for p in parts)
    y_max = max(p["y_max"] for p in parts)
    return y_min, y_max, std, total, max(p["w_max"] for p in parts)


def _encode_codes(y: np.ndarray, classes: np.ndarray, what: str) -> np.ndarray:
    y = np.asarray(y).reshape(-1)
    codes = np.searchsorted(classes, y).clip(0, len(classes) - 1)
    bad = classes[codes] != y
    if np.any(bad):
        raise ValueError(f"{what} has labels not seen in fit: {np.unique(y[bad]).tolist()}")
    return codes.astype(np.float64)


def _scale(w: np.ndarray, codes: np.ndarray | None, factors: np.ndarray, divide: float) -> Any:
    """Weights times their class's factor (class_weight), divided to the float32 range."""
    out = np.asarray(w, dtype=np.float64)
    if codes is not None:
        out = out * factors[codes.astype(np.intp)]
    return out / divide


# -- F_0 and the training loss from every worker ----------------------------------------------
@dataclass(eq=False)  # hashable: LightGBM keeps callbacks in a set
class _WorkerRecord:
    """LightGBM callback (on each worker): the worker's boost-from-average score, its weight
    sum and, after every iteration, its training loss on its own rows, as the serial path
    reads it (LightGBM's metric on its cached scores; for K classes the cheaper
    ``_MultinomialTrainLoss``)."""

    token: str
    loss: Loss
    metric: str | None  # None: the multinomial callback
    order: ClassVar[int] = 5

    def __call__(self, env: Any) -> None:
        record = _WORKER_RECORDS.get(self.token)
        if record is None:
            data = env.model.train_set
            y = np.asarray(data.get_label(), dtype=np.float64)
            given = data.get_weight()
            w = np.ones(len(y)) if given is None else np.asarray(given, dtype=np.float64)
            record = {
                "init_raw": lightgbm_init_raw(self.loss, y, None if given is None else w),
                "w_sum": float(np.sum(w)),
                "losses": [],
                "multinomial": None if self.metric else _MultinomialTrainLoss(y, w),
            }
            _WORKER_RECORDS[self.token] = record
        if record["multinomial"] is not None:
            record["multinomial"](env)
            return
        values = [v for _, name, v, _ in env.model.eval_train() if name == self.metric]
        record["losses"].append(values[0])


def _pop_record(token: str) -> dict[str, Any] | None:
    """What this worker's callback recorded (then forgotten), without its labels."""
    record = _WORKER_RECORDS.pop(token, None)
    if record is None:
        return None
    multinomial = record.pop("multinomial")
    if multinomial is not None:
        record["losses"] = multinomial.values
    return record


# -- losses after every stage -------------------------------------------------------------------
def _block_stage_losses(
    model: Any, loss: Loss, X: np.ndarray, y: np.ndarray, w: np.ndarray | None
) -> tuple[np.ndarray, float]:
    """Sum over the block of ``w * loss`` after each stage, and the block's weight sum."""
    weights = _weights(w, X.shape[0])
    if len(weights) != X.shape[0] or len(y) != X.shape[0]:
        raise ValueError(
            f"eval_set: X has {X.shape[0]} rows in a partition, y {len(y)} and the weights "
            f"{len(weights)}"
        )
    if not (np.isfinite(weights).all() and (weights >= 0).all()):
        raise ValueError("eval_sample_weight must be finite and non-negative")
    y = np.asarray(y, dtype=np.float64)
    if loss.is_classification:
        y = y.astype(np.int64)
    sums = [float(weights @ loss.pointwise(y, raw)) for raw in model.staged_raw(X)]
    return np.asarray(sums, dtype=np.float64), float(weights.sum())


def _stage_losses(client: Any, model: Any, loss: Loss, X: Any, y: Any, w: Any) -> np.ndarray:
    """The weighted mean loss after each stage over all partitions of (X, y, w)."""
    from dask import delayed

    xs, ys = X.to_delayed().ravel().tolist(), y.to_delayed().ravel().tolist()
    ws = [None] * len(xs) if w is None else w.to_delayed().ravel().tolist()
    model_ = delayed(model, pure=False)
    tasks = [
        delayed(_block_stage_losses)(model_, loss, a, b, c)
        for a, b, c in zip(xs, ys, ws, strict=True)
    ]
    parts = client.gather(client.compute(tasks))
    total = sum(p[1] for p in parts)
    return np.sum([p[0] for p in parts], axis=0) / total


# -- fit --------------------------------------------------------------------------------------
def _prepare_X(est: Any, X: Any, *, fit: bool) -> Any:
    """Validate X's type and columns (eagerly), then map the row checks over its partitions."""
    _check_X_collection(X)
    X = _row_blocks(X)
    sample = _sample(X)
    if fit:
        est._categorical = CategoricalEncoding.fit(sample, est.categorical_features)
    est._check_X(est._categorical.transform(sample), reset=fit)
    return _map_rows(X, _validated, est=est, name="fboost-validate")


def fit_dask(
    est: Any,
    X: Any,
    y: Any,
    sample_weight: Any,
    eval_set: Any,
    eval_sample_weight: Any,
) -> None:
    """``est.fit`` for Dask input: validate, train on the cluster, build the stage view."""
    if est.engine != "lightgbm":
        raise ValueError(
            f"X is a Dask collection: only engine='lightgbm' fits Dask input (through "
            f"lightgbm.dask); got engine={est.engine!r}"
        )
    if not is_dask(X):
        raise TypeError(
            f"X must be a Dask collection when y, sample_weight or eval_set is one; got "
            f"{type(X).__name__}"
        )
    _require_distributed()
    est._validate_params()
    client = _client(est.client)
    if est.warm_start and hasattr(est, "model_"):
        raise ValueError("warm_start=True is not supported for Dask input; refit from scratch")
    if est.n_iter_no_change is not None:
        raise ValueError(
            "n_iter_no_change is not supported for Dask input (LightGBM's Dask training "
            "evaluates each worker's part alone); fit a fixed n_stages, pass eval_set to "
            "record the validation loss, and truncate with drop_stages"
        )
    regression = est._task == "regression"
    with progress_bar(4, est.verbose, type(est).__name__) as bar:
        Xa = _prepare_X(est, X, fit=True)
        ya = _vector(y, "y", X)
        wa = None if sample_weight is None else _vector(sample_weight, "sample_weight", X)
        summaries = _summaries(client, Xa, ya, wa, regression)
        bar.update()
        ya, wa = _check_targets_and_weights(est, summaries, ya, wa, regression)
        eval_sets = _eval_sets(est, eval_set, eval_sample_weight)
        bar.update()
        loss = est.loss_
        if not isinstance(loss, _NATIVE):
            raise ValueError(
                f"loss={loss.name!r} is not supported for Dask input: fboost passes it to "
                "LightGBM as a custom objective, which needs every target in one process; use "
                "one of LightGBM's objectives or fit NumPy input"
            )
        booster, raw0, train_score = _train(est, client, Xa, ya, wa, loss)
        bar.update()
        n_iter = booster.current_iteration()
        est.model_ = stage_model(booster, raw0, n_iter, float(est.learning_rate))
        est.booster_ = booster
        est.best_iteration_ = None
        est.train_score_ = train_score
        evals = {
            name: _stage_losses(client, est.model_, loss, Xe, ye, we)
            for name, Xe, ye, we in eval_sets
        }
        est.evals_result_ = {name: {loss.name: v} for name, v in evals.items()}
        est.validation_score_ = evals[eval_sets[0][0]] if eval_sets else np.array([])
        bar.update()


def _summaries(client: Any, Xa: Any, ya: Any, wa: Any, regression: bool) -> list[dict[str, Any]]:
    from dask import delayed

    xs, ys = Xa.to_delayed().ravel().tolist(), ya.to_delayed().ravel().tolist()
    ws = [None] * len(xs) if wa is None else wa.to_delayed().ravel().tolist()
    tasks = [
        delayed(_block_summary)(i, a, b, c, regression)
        for i, (a, b, c) in enumerate(zip(xs, ys, ws, strict=True))
    ]
    return list(client.gather(client.compute(tasks)))


def _check_targets_and_weights(
    est: Any, parts: list[dict[str, Any]], ya: Any, wa: Any, regression: bool
) -> tuple[Any, Any]:
    """The global checks of the NumPy path from the partitions' summaries; encoded y, weights."""
    n = sum(p["n"] for p in parts)
    if n < 2:
        raise ValueError(f"X: found array with {n} sample(s) while a minimum of 2 is required")
    spread = np.vstack(
        [np.min([p["x_min"] for p in parts], axis=0), np.max([p["x_max"] for p in parts], axis=0)]
    )
    _numeric.check_features(spread, est._feature_range(), "X", fit=True)
    factors, codes_needed = np.ones(1), False
    if regression:
        y_min, y_max, std, w_sum, w_max = _merge_regression(parts)
        limits = est._target_range()
        _numeric.check_targets(np.array([max(abs(y_min), abs(y_max))]), limits)
        _numeric.check_targets(np.array([-std, std]), limits)  # a spread of exactly std
        est.loss_ = est._make_loss()
        est.loss_.check_y(np.array([y_min, y_max]))
        y_codes = ya.map_blocks(_as_float, dtype=np.float64)
    else:
        classes = np.unique(np.concatenate([p["labels"] for p in parts]))
        counts, w_sums, w_maxs = (np.zeros(len(classes)) for _ in range(3))
        for p in parts:
            at = np.searchsorted(classes, p["labels"])
            counts[at] += p["counts"]
            w_sums[at] += p["w_sums"]
            w_maxs[at] = np.maximum(w_maxs[at], p["w_max"])
        est.classes_ = classes
        if est.class_weight is not None:
            try:
                if est.class_weight == "balanced":
                    factors = n / (len(classes) * counts)
                else:
                    factors = compute_class_weight(est.class_weight, classes=classes, y=classes)
            except (ValueError, KeyError) as exc:
                raise ValueError(f"class_weight: {exc}") from exc
            w_sums, w_maxs, codes_needed = w_sums * factors, w_maxs * factors, True
        weighted = classes[w_sums > 0].tolist()
        if len(weighted) < 2:
            raise ValueError(
                f"y must contain at least 2 classes with positive sample_weight; got "
                f"{len(weighted)}: {weighted}"
                + (f" (of {classes.tolist()})" if len(classes) > len(weighted) else "")
            )
        w_sum, w_max = float(w_sums.sum()), float(w_maxs.max())
        est.loss_ = est._make_loss()
        est.loss_.check_y(np.arange(len(classes)))
        y_codes = ya.map_blocks(_encode_codes, classes=classes, what="y", dtype=np.float64)
    if w_sum <= 0:
        raise ValueError("sample_weight must have a positive sum")
    limits = _numeric.WEIGHT_RANGE
    divide = w_max if w_max > limits.high or 0 < w_max < limits.low else 1.0
    if codes_needed or divide != 1.0:
        base = wa if wa is not None else ya.map_blocks(_ones_like, dtype=np.float64)
        codes = y_codes if codes_needed else None
        wa = base.map_blocks(_scale, codes, factors=factors, divide=divide, dtype=np.float64)
    return y_codes, wa


def _ones_like(y: np.ndarray) -> np.ndarray:
    return np.ones(len(y))


def _as_float(y: np.ndarray) -> np.ndarray:
    return np.asarray(y, dtype=np.float64)


def _eval_sets(est: Any, eval_set: Any, eval_sample_weight: Any) -> list[tuple[str, Any, Any, Any]]:
    """``eval_set`` pairs of Dask collections, validated and encoded like the training data."""
    sets = []
    for i, pair, w in eval_pairs(eval_set, eval_sample_weight):
        if not is_dask(pair[0]):
            raise TypeError(
                f"eval_set[{i}]: X must be a Dask collection when the training X is one, got "
                f"{type(pair[0]).__name__}"
            )
        try:
            X_e = _prepare_X(est, pair[0], fit=False)
            y_e = _vector(pair[1], "y", pair[0])
            w_e = None if w is None else _vector(w, "eval_sample_weight", pair[0])
        except (ValueError, TypeError) as exc:
            raise type(exc)(f"eval_set[{i}]: {exc}") from exc
        if est._task == "regression":
            y_e = y_e.map_blocks(_as_float, dtype=np.float64)
        else:
            y_e = y_e.map_blocks(
                _encode_codes, classes=est.classes_, what=f"eval_set[{i}] y", dtype=np.float64
            )
        sets.append((f"valid_{i}", X_e, y_e, w_e))
    return sets


def _train(
    est: Any, client: Any, Xa: Any, ya: Any, wa: Any, loss: Loss
) -> tuple[Any, np.ndarray, np.ndarray]:
    """LightGBM's Dask training with the serial path's parameters: the booster, its F_0 and the
    training loss after every iteration."""
    from lightgbm.basic import _ConfigAliases
    from lightgbm.dask import DaskLGBMRegressor

    threads = _ConfigAliases.get("num_threads")
    # each worker uses its own threads (LightGBM's Dask rule), so n_jobs does not travel
    params = {k: v for k, v in est.lightgbm_params().items() if k not in threads}
    if loss.is_classification:  # the classifier's objective, on fboost's encoded labels
        params["objective"] = "binary" if loss.n_outputs == 1 else "multiclass"
        if loss.n_outputs > 1:
            params["num_class"] = loss.n_outputs
    # the training loss as the serial path reads it: LightGBM's metric on the cached scores of
    # each worker's rows (local, as LightGBM's metrics are), combined below by weight
    metric: str | None
    metric, factor = _METRIC[loss.name]
    if loss.n_outputs > 1:
        metric = None  # _MultinomialTrainLoss instead, as in the serial path
    else:
        params.update(metric=metric, is_provide_training_metric=True)
    token = uuid.uuid4().hex
    model = DaskLGBMRegressor(client=client, **params)
    # lightgbm.dask prints where it looks for ports; the library prints nothing unless verbose
    quiet = contextlib.redirect_stdout(io.StringIO()) if not est.verbose else nullcontext()
    with quiet, warnings.catch_warnings():
        # DaskLGBMRegressor.get_params always has n_jobs, which lightgbm.dask then ignores
        warnings.filterwarnings("ignore", message="Parameter n_jobs will be ignored")
        model.fit(
            Xa,
            ya,
            sample_weight=wa,
            categorical_feature=est._categorical.indices or "auto",
            callbacks=[_WorkerRecord(token, loss, metric)],
        )
    records = [r for r in client.run(_pop_record, token).values() if r is not None]
    # LightGBM's GlobalSyncUpByMean: the sum over machines divided by their number
    init = np.sum([r["init_raw"] for r in records], axis=0) / len(records)
    raw0 = np.where(np.abs(init) > 1e-15, init, 0.0)
    w_sums = np.array([r["w_sum"] for r in records])
    losses = np.array([r["losses"] for r in records], dtype=np.float64)
    train_score = factor * (w_sums @ losses) / w_sums.sum()
    return model.booster_, raw0, train_score


# -- predict ------------------------------------------------------------------------------------
#: methods that take a Dask X, and the axis of their result that runs over samples
DASK_METHODS = {
    "predict": 0,
    "predict_proba": 0,
    "decision_function": 0,
    "stage_contributions": 1,
    "feature_contributions": 0,
    "stage_feature_contributions": 1,
}


def _apply_block(block: Any, est: Any, method: str) -> np.ndarray:
    with _shippable_errors():
        return np.asarray(getattr(est, method)(block))


def dask_apply(est: Any, method: str, X: Any) -> Any:
    """``est.<method>`` of every partition of X, as a lazy dask array (``map_blocks``)."""
    check_is_fitted(est)
    _require_distributed()
    _check_X_collection(X)
    X = _row_blocks(X)
    sample = _sample(X)
    est._check_X(est._categorical.transform(sample), reset=False)  # feature count, names
    out = np.asarray(getattr(est, method)(sample))
    rows = DASK_METHODS[method]
    token = f"fboost-{method}-{uuid.uuid4().hex}"
    if _kind(X) == "frame":
        meta = np.empty((0,) * out.ndim, out.dtype)
        return X.map_partitions(_apply_block, est=est, method=method, meta=meta, token=token)
    chunks = tuple(X.chunks[0] if i == rows else (s,) for i, s in enumerate(out.shape))
    kwargs: dict[str, Any] = {"chunks": chunks, "dtype": out.dtype, "name": token}
    if out.ndim == 1:
        kwargs["drop_axis"] = 1
    elif out.ndim > 2:  # the samples axis and the features axis carry over, the rest are new
        kwargs["new_axis"] = [i for i in range(out.ndim) if i not in (rows, rows + 1)]
    return X.map_blocks(_apply_block, est=est, method=method, **kwargs)
