"""Small pieces every training loop shares: validation split, early stopping, progress, seeding."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.model_selection import train_test_split
from tqdm import tqdm

__all__ = ["EarlyStopping", "split_validation", "progress_bar", "seed_from"]


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


def split_validation(
    X: Any,
    y: np.ndarray,
    sample_weight: np.ndarray,
    *,
    fraction: float,
    random_state: Any,
    stratify: bool,
) -> tuple[Any, Any, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Hold out ``fraction`` of the rows for early stopping (stratified for classifiers).

    Returns ``X_train, X_val, y_train, y_val, w_train, w_val``; the split is the one
    scikit-learn's gradient boosting makes for the same ``random_state``.
    """
    try:
        return train_test_split(
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


def progress_bar(total: int, verbose: int | bool, desc: str) -> tqdm:
    """A tqdm bar when ``verbose``, a silent no-op otherwise (the library never prints)."""
    # mininterval=0: bars count stages or epochs (few, slow updates), so draw every one of them
    return tqdm(
        total=total, disable=not verbose, desc=desc, leave=False, dynamic_ncols=True, mininterval=0
    )


def seed_from(rng: np.random.RandomState) -> int:
    """Draw a seed for a sub-object from a RandomState (same convention as scikit-learn)."""
    return int(rng.randint(np.iinfo(np.int32).max))
