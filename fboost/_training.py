"""Small pieces every training loop shares: validation split, early stopping, progress, seeding."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.model_selection import train_test_split
from tqdm import tqdm

__all__ = [
    "EarlyStopping",
    "NoImprovementStopping",
    "split_validation",
    "check_classes_present",
    "progress_bar",
    "seed_from",
]


class EarlyStopping:
    """Track a validation loss; stop after ``patience`` updates without an improvement > ``tol``.

    ``best_index`` is the 0-based index of the best update so far: loops truncate to it.
    """

    def __init__(self, patience: int | None, tol: float = 0.0) -> None:
        self.patience = patience
        self.tol = tol
        self.best = np.inf
        self.best_index = -1
        self._since_best = 0

    @property
    def enabled(self) -> bool:
        return self.patience is not None

    def update(self, loss: float, index: int) -> bool:
        """Record ``loss`` at ``index``; return True when training should stop."""
        if loss < self.best - self.tol or self.best_index < 0:
            self.best, self.best_index, self._since_best = float(loss), index, 0
        else:
            self._since_best += 1
        return self.enabled and self._since_best >= self.patience  # type: ignore[operator]


class NoImprovementStopping:
    """scikit-learn's gradient-boosting rule: stop at the first stage that fails to improve.

    The stage's validation loss must beat, by more than ``tol``, at least one of the last
    ``n_iter_no_change`` losses that passed (a ring buffer that starts at ``inf``); the first stage
    that does not is still kept, and training stops after it. This is
    ``GradientBoosting*._fit_stages`` exactly, so that the number of stages trained equals
    scikit-learn's ``n_estimators_``.
    """

    def __init__(self, n_iter_no_change: int, tol: float) -> None:
        self.tol = tol
        self.history = np.full(n_iter_no_change, np.inf)

    def update(self, loss: float, index: int) -> bool:
        """Record the loss after stage ``index`` (0-based); return True when training stops."""
        if np.any(loss + self.tol < self.history):
            self.history[index % len(self.history)] = loss
            return False
        return True


def check_classes_present(
    y: np.ndarray, sample_weight: np.ndarray, classes: np.ndarray, part: str
) -> None:
    """Raise ``ValueError`` naming the labels that ``y`` (class codes) lacks, or has at weight 0."""
    weights = np.bincount(np.asarray(y, dtype=np.intp), sample_weight, minlength=len(classes))
    missing = [classes[k] for k in np.flatnonzero(weights[: len(classes)] <= 0)]
    if missing:
        labels = [label.item() if isinstance(label, np.generic) else label for label in missing]
        raise ValueError(
            f"the {part} lacks class{'es' if len(labels) > 1 else ''} {labels} (no sample with "
            "positive sample_weight); try another random_state or validation_fraction"
        )


def split_validation(
    X: Any,
    y: np.ndarray,
    sample_weight: np.ndarray,
    *,
    fraction: float,
    random_state: Any,
    stratify: bool,
    classes: np.ndarray | None = None,
) -> tuple[Any, Any, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Hold out ``fraction`` of the rows for early stopping (stratified for classifiers).

    Returns ``X_train, X_val, y_train, y_val, w_train, w_val``; the split is the one
    scikit-learn's gradient boosting makes for the same ``random_state``. For classifiers
    (``classes`` given, or ``stratify`` with ``y`` the class codes), a training part that lacks a
    class raises ``ValueError`` naming its label, as scikit-learn does: a model never trains
    silently on fewer classes than it predicts.
    """
    try:
        parts = train_test_split(
            X,
            y,
            sample_weight,
            test_size=fraction,
            random_state=random_state,
            stratify=y if stratify else None,
        )
    except ValueError as exc:
        raise ValueError(
            f"cannot hold out validation_fraction={fraction} of {len(y)} samples for early "
            f"stopping: {exc}"
        ) from exc
    if classes is None and stratify:
        classes = np.arange(int(np.max(y)) + 1)
    if classes is not None:
        check_classes_present(
            parts[2], parts[4], classes, "training part of the early-stopping split"
        )
    return parts


def progress_bar(total: int, verbose: int | bool, desc: str) -> tqdm:
    """A tqdm bar when ``verbose``, a silent no-op otherwise (the library never prints)."""
    # mininterval=0: bars count stages or epochs (few, slow updates), so draw every one of them
    return tqdm(
        total=total, disable=not verbose, desc=desc, leave=False, dynamic_ncols=True, mininterval=0
    )


def seed_from(rng: np.random.RandomState) -> int:
    """Draw a seed for a sub-object from a RandomState (same convention as scikit-learn)."""
    return int(rng.randint(np.iinfo(np.int32).max))
