"""Pieces the torch estimators trained by a ``fboost.nn.Trainer`` share.

- ``training_rows``: the training rows and the early-stopping hold-out;
- ``TrunkEdits``: a fitted residual network with its blocks reordered
  (``reorder_stages``) or its BatchNorm statistics re-estimated (``recalibrate_batch_norm``).
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ._training import split_validation

if TYPE_CHECKING:  # pragma: no cover
    from .nn import ResidualTrunk, TrunkModel
    from .nn._inputs import PreparedData

__all__ = ["training_rows", "TrunkEdits"]


def training_rows(
    estimator: Any, data: PreparedData, y: np.ndarray
) -> tuple[PreparedData, PreparedData | None]:
    """The rows to train on and, with ``n_iter_no_change``, the held-out validation rows.

    Reads ``n_iter_no_change``, ``validation_fraction``, ``random_state`` and
    ``_can_stratify(y)`` of ``estimator`` (the torch estimators trained end to end by a
    ``fboost.nn.Trainer``). Rows of zero weight take no part in training; errors name what is
    at fault.
    """
    train, validation = data, None
    if estimator.n_iter_no_change is not None:
        X_tr, X_val, y_tr, y_val, w_tr, w_val = split_validation(
            data.X,
            data.y,
            data.sample_weight,
            fraction=estimator.validation_fraction,
            random_state=estimator.random_state,
            stratify=estimator._can_stratify(y),
        )
        if w_val.sum() <= 0:
            raise ValueError(
                "sample_weight is zero on every row held out by validation_fraction; "
                "cannot early-stop on it"
            )
        train, validation = data.rows(X_tr, y_tr, w_tr), data.rows(X_val, y_val, w_val)
    if not np.all(train.sample_weight > 0):  # rows of weight 0 take no part in training
        keep = train.sample_weight > 0
        train = train.rows(train.X[keep], train.y[keep], train.sample_weight[keep])
    if len(train.X) < 2:
        raise ValueError(
            f"only {len(train.X)} training row(s) remain after holding out "
            f"validation_fraction={estimator.validation_fraction}; need at least 2"
        )
    return train, validation


class TrunkEdits:
    """``reorder_stages`` and ``recalibrate_batch_norm`` for estimators over a ``TrunkModel``."""

    model_: Any
    module_: ResidualTrunk
    batch_norm: bool
    batch_size: int

    if TYPE_CHECKING:  # pragma: no cover

        def _validate_X(self, X: Any) -> Any: ...

    def reorder_stages(self, order: Any) -> Any:
        """A fitted copy whose blocks run in another order (Veit et al. 2016's reordering).

        Parameters
        ----------
        order : sequence of int
            A permutation of the stage numbers ``1..n_stages_``: ``order[i]`` is the stage that
            runs i-th. Each block keeps its weights and its stage weight; later blocks see the
            changed input, as in a lesion.

        Returns
        -------
        estimator : same type as self
            A new fitted estimator sharing the network; ``self`` is unchanged.
        """
        check_is_fitted(self)
        model = cast("TrunkModel", self.model_)
        n = model.n_stages
        try:
            numbers = [int(t) for t in order]
        except (TypeError, ValueError):
            raise TypeError(
                f"order must be a sequence of stage numbers 1..{n}, got {order!r}"
            ) from None
        if sorted(numbers) != list(range(1, n + 1)):
            raise ValueError(f"order must be a permutation of 1..{n}, got {numbers}")
        reordered = copy.copy(self)
        index = [t - 1 for t in numbers]
        reordered.model_ = type(model)(
            model.start, [model.stages[i] for i in index], model.weights[index]
        )
        return reordered

    def recalibrate_batch_norm(self, X: Any) -> Any:
        """A fitted copy whose BatchNorm statistics are re-estimated on ``X``.

        The network is copied; every BatchNorm's running mean and variance are reset and
        recomputed (a cumulative average over batches of ``batch_size`` rows) along the stages
        the model runs, in their order, so that a lesioned or reordered model normalises with
        the statistics of the features its blocks now see. Nothing else changes. Stochastic
        depth stays in its eval form (branches scaled by ``p_t``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, C, H, W)
            Rows to estimate the statistics on (at least 2; labels are not needed).

        Returns
        -------
        estimator : same type as self
            A new fitted estimator with its own network; ``self`` is unchanged.
        """
        import torch

        from .nn import batch_slices

        check_is_fitted(self)
        if not self.batch_norm:
            raise ValueError("recalibrate_batch_norm needs batch_norm=True; this model has none")
        x_all = self._validate_X(X)
        if len(x_all) < 2:
            raise ValueError(
                f"X needs at least 2 rows to estimate BatchNorm statistics, got {len(x_all)}"
            )
        new = copy.deepcopy(self)
        module, model = new.module_, cast("TrunkModel", new.model_)
        batch_norm = torch.nn.modules.batchnorm._BatchNorm
        norms = [m for m in module.modules() if isinstance(m, batch_norm)]
        momenta = [m.momentum for m in norms]
        module.eval()
        for norm in norms:
            norm.reset_running_stats()
            norm.momentum = None  # cumulative average over the batches
            norm.train()
        device = next(module.parameters()).device
        with torch.no_grad():
            for rows in batch_slices(len(x_all), self.batch_size):
                z = module.stem(torch.as_tensor(x_all[rows], device=device))
                for stage in model.stages:
                    z = module.step(stage.index, z)[1]
                if module.head is not None:
                    module.head(z)
        for norm, momentum in zip(norms, momenta, strict=True):
            norm.momentum = momentum
        module.eval()
        return new
