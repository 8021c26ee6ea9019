"""The additive model ``F_T(x) = F_0(x) + sum_t alpha_t h_t(x)`` and its one stage loop.

Every fitted fboost estimator holds an ``AdditiveModel``: a *start* that computes the initial
raw score ``F_0(x)`` (and an initial *carry*), an ordered list of *stages*, and one weight
``alpha_t`` per stage. A stage advances ``(x, carry) -> (h_t(x), carry)``:

- a tree or any function-space learner ignores the carry;
- a LightGBM iteration reads its leaf indices from a carry computed once for all trees;
- a residual block carries the features ``z``: ``z_t = z_{t-1} + f_t(z_{t-1})`` and returns
  ``W f_t(z_{t-1})`` (the head's linear part), which is what makes a ResNet telescope.

Contributions, staged raw predictions and lesions are all this one loop; nothing else iterates
over stages. Stages are numbered ``1..T`` (row ``t`` of ``AdditiveModel.contributions``),
row 0 being ``F_0``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from numbers import Integral
from typing import Any, Protocol, runtime_checkable

import numpy as np

__all__ = ["Stage", "Start", "AdditiveModel", "ConstantStart", "check_stage_numbers"]


@runtime_checkable
class Stage(Protocol):
    """One stage of an additive model: ``advance(X, carry) -> (h_t(X), carry)``.

    ``h_t(X)`` has shape ``(n_samples, n_outputs)`` and is *not* yet multiplied by the stage
    weight ``alpha_t``; the model does that.

    Examples
    --------
    >>> import numpy as np
    >>> from fboost.additive import Stage
    >>> class Doubling:
    ...     def advance(self, X, carry):
    ...         return 2 * X[:, :1], carry
    >>> isinstance(Doubling(), Stage)
    True
    """

    def advance(self, X: Any, carry: Any) -> tuple[np.ndarray, Any]: ...


#: ``start(X) -> (F_0(X), carry)`` with ``F_0(X)`` of shape ``(n_samples, n_outputs)``.
Start = Callable[[Any], tuple[np.ndarray, Any]]


@dataclass(frozen=True)
class ConstantStart:
    """A constant initial score ``F_0`` (trees, function-space boosting); no carry.

    Examples
    --------
    >>> import numpy as np
    >>> from fboost.additive import ConstantStart
    >>> raw0, carry = ConstantStart(np.array([1.5]))(np.zeros((2, 4)))
    >>> raw0.tolist(), carry
    ([[1.5], [1.5]], None)
    """

    raw: np.ndarray

    def __call__(self, X: Any) -> tuple[np.ndarray, Any]:
        return np.broadcast_to(self.raw, (_n_rows(X), self.raw.shape[0])).copy(), None


def _n_rows(X: Any) -> int:
    return int(X.shape[0])


def check_stage_numbers(
    stages: Iterable[int] | int, n_stages: int, name: str = "stages"
) -> list[int]:
    """Validate 1-based stage numbers; return them sorted and unique.

    Raises ``TypeError`` for non-integers and ``ValueError`` for numbers outside ``1..n_stages``
    or repeated numbers, naming the argument.

    Examples
    --------
    >>> from fboost.additive import check_stage_numbers
    >>> check_stage_numbers([3, 1], n_stages=5)
    [1, 3]
    >>> check_stage_numbers(0, n_stages=5)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: stages are numbered 1..5 (stage t is row t ...); got [0]
    """
    if isinstance(stages, Integral | np.integer):
        stages = [int(stages)]
    try:
        numbers = list(stages)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(
            f"{name} must be an iterable of stage numbers (1..{n_stages}), got {stages!r}"
        ) from None
    for s in numbers:
        if isinstance(s, bool) or not isinstance(s, Integral | np.integer):
            raise TypeError(f"{name} must contain integers (1..{n_stages}), got {s!r}")
    bad = [int(s) for s in numbers if not 1 <= s <= n_stages]
    if bad:
        raise ValueError(
            f"{name} are numbered 1..{n_stages} (stage t is row t of stage_contributions, "
            f"row 0 being F_0); got {bad}"
        )
    if len(set(numbers)) != len(numbers):
        raise ValueError(f"{name} must not repeat a stage, got {sorted(int(s) for s in numbers)}")
    return sorted(int(s) for s in numbers)


class AdditiveModel:
    """``F_0`` plus an ordered list of weighted stages.

    Parameters
    ----------
    start : callable
        ``start(X) -> (F_0(X), carry)``.
    stages : sequence of Stage
        The stages, in order.
    weights : array-like of shape (n_stages,)
        ``alpha_t`` per stage.

    Examples
    --------
    >>> import numpy as np
    >>> from fboost.additive import AdditiveModel, ConstantStart
    >>> class Column:  # h_t(x) = x[:, j]
    ...     def __init__(self, j):
    ...         self.j = j
    ...     def advance(self, X, carry):
    ...         return X[:, [self.j]], carry
    >>> model = AdditiveModel(ConstantStart(np.array([1.0])), [Column(0), Column(1)], [0.5, 2.0])
    >>> X = np.array([[2.0, 1.0], [4.0, 3.0]])
    >>> model.contributions(X)[:, :, 0].tolist()  # F_0, then alpha_t h_t
    [[1.0, 1.0], [1.0, 2.0], [2.0, 6.0]]
    >>> model.raw(X).ravel().tolist(), [r.ravel().tolist() for r in model.staged_raw(X)]
    ([4.0, 9.0], [[2.0, 3.0], [4.0, 9.0]])
    >>> model.drop([1]).raw(X).ravel().tolist()  # without alpha_1 h_1
    [3.0, 7.0]
    """

    def __init__(
        self, start: Start, stages: Sequence[Stage], weights: Sequence[float] | np.ndarray
    ):
        weights = np.asarray(weights, dtype=np.float64).reshape(-1)
        if len(weights) != len(stages):
            raise ValueError(f"got {len(stages)} stages but {len(weights)} weights")
        self.start = start
        self.stages = list(stages)
        self.weights = weights

    @property
    def n_stages(self) -> int:
        return len(self.stages)

    def iter_contributions(self, X: Any) -> Iterator[np.ndarray]:
        """Yield ``F_0(X)``, then ``alpha_t h_t(X)`` for t = 1..T, in one pass over the stages."""
        raw0, carry = self.start(X)
        yield raw0
        for stage, alpha in zip(self.stages, self.weights, strict=True):
            h, carry = stage.advance(X, carry)
            yield alpha * h

    def contributions(self, X: Any) -> np.ndarray:
        """Array ``(n_stages + 1, n_samples, n_outputs)``; its sum over axis 0 is the raw score."""
        return np.stack(list(self.iter_contributions(X)))

    def staged_raw(self, X: Any) -> Iterator[np.ndarray]:
        """Yield the raw score ``F_t(X)`` after each stage t = 1..T (partial sums)."""
        contributions = self.iter_contributions(X)
        raw = next(contributions).copy()
        for c in contributions:
            raw += c
            yield raw.copy()

    def raw(self, X: Any) -> np.ndarray:
        """The raw score ``F_T(X)``."""
        contributions = self.iter_contributions(X)
        raw = next(contributions).copy()
        for c in contributions:
            raw += c
        return raw

    def drop(self, stages: Iterable[int] | int) -> AdditiveModel:
        """A new model without the given stages (numbered 1..T); the rest are shared, not copied."""
        dropped = set(check_stage_numbers(stages, self.n_stages))
        keep = [i for i in range(self.n_stages) if i + 1 not in dropped]
        return type(self)(self.start, [self.stages[i] for i in keep], self.weights[keep])

    def truncate(self, n_stages: int) -> AdditiveModel:
        """A new model made of the first ``n_stages`` stages."""
        return type(self)(self.start, self.stages[:n_stages], self.weights[:n_stages])
