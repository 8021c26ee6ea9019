"""Gradient norms per block: did residual learning solve vanishing gradients?"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ._network import Network, network_from

__all__ = ["gradient_norms"]

GRADIENT_COLUMNS = [
    "stage",
    "block",
    "grad_norm",
    "grad_norm_batch",
    "grad_norm_ratio",
    "param_grad_norm",
    "n_params",
    "network",
    "batch_norm",
    "n_stages",
    "fitted",
    "model",
]


def check_train(train: Any, network: Network) -> bool:
    if not isinstance(train, bool):
        raise TypeError(f"train must be a bool, got {train!r}")
    if train and network.batch_norm and network.n_samples < 2:
        raise ValueError(
            f"X must have at least 2 rows to run BatchNorm in train mode, got "
            f"{network.n_samples}; pass more rows or train=False"
        )
    return train


def gradient_norms(
    estimator: Any,
    X: Any,
    y: Any,
    *,
    train: bool = True,
    random_state: Any = 0,
) -> pd.DataFrame:
    """Norm of ``dL/dz_t`` and of each block's parameter gradient, along the trunk.

    One forward and one backward pass of the mean loss ``L`` (``estimator.loss_`` on the raw
    score in the user's units) over the batch ``X``. Through a skip connection
    ``dL/dz_l = dL/dz_T (I + d/dz_l sum_{i>l} f_i)`` keeps a direct term, so early blocks get a
    gradient comparable to the last one; a plain network multiplies T Jacobians and the
    gradient vanishes or explodes with depth (He et al. 2016).

    Parameters
    ----------
    estimator : ResNetRegressor or ResNetClassifier, fitted or not
        A fitted estimator is measured as trained (blocks removed by ``drop_stages`` are
        skipped). An **unfitted** one is built at initialisation for ``X`` and ``y`` (same
        seed as ``fit`` would use) and measured untrained, so a depth sweep at
        initialisation needs no training. ``TypeError`` for estimators without a feature
        space (trees).
    X : array-like of shape (n_samples, n_features) or (n_samples, C, H, W)
        One batch; a few hundred rows are plenty.
    y : array-like of shape (n_samples,)
        Targets.
    train : bool, default=True
        Run the network in train mode (BatchNorm on the batch's statistics and dropout, as
        during training) or eval mode. A private copy of the network is used, so the
        estimator's BatchNorm statistics are never changed.
    random_state : int, RandomState instance or None, default=0
        Seeds torch's random stream (dropout masks); torch's global state is restored after.

    Returns
    -------
    frame : pandas.DataFrame
        One row per feature map ``z_t``, t = 0..T, columns:

        - ``stage`` (int): t; 0 is the stem's output ``z_0`` (the input of the first block),
          t >= 1 is the output of stage t;
        - ``block`` (Int64): the module's 0-based block index of stage t (``<NA>`` for the stem);
        - ``grad_norm`` (float): mean over samples of the per-sample norm ``||d loss_i / d z_t||``
          (``n`` times the row norms of ``dL/dz_t``; exact per sample unless BatchNorm couples
          the rows in train mode);
        - ``grad_norm_batch`` (float): Frobenius norm of ``dL/dz_t`` over the whole batch
          (``fboost.nn.block_gradient_norms``'s number);
        - ``grad_norm_ratio`` (float): ``grad_norm / grad_norm`` of the last stage;
        - ``param_grad_norm`` (float): L2 norm of ``dL/dtheta`` over the parameters of stage t
          (the stem's for t = 0);
        - ``n_params`` (int): number of those parameters;
        - ``network`` (str): ``"residual"`` or ``"plain"`` (``skip=False``);
        - ``batch_norm`` (bool): whether the network has BatchNorm layers;
        - ``n_stages`` (int): T;
        - ``fitted`` (bool): False when measured at initialisation;
        - ``model`` (str): the estimator's class name.

    Examples
    --------
    >>> import numpy as np
    >>> from fboost import ResNetRegressor
    >>> from fboost.analysis import gradient_norms
    >>> rng = np.random.RandomState(0)
    >>> X, y = rng.normal(size=(64, 4)), rng.normal(size=64)
    >>> plain = ResNetRegressor(n_stages=20, d_block=8, skip=False, batch_norm=False)
    >>> frame = gradient_norms(plain, X, y)  # unfitted: measured at initialisation
    >>> frame.shape[0]
    21
    >>> first, last = frame["grad_norm"].iloc[[1, -1]]
    >>> bool(first / last < 0.01)  # the plain network's gradient vanishes
    True
    """
    import torch

    network = network_from(estimator, X, y, caller="gradient_norms")
    train = check_train(train, network)
    module, blocks = network.module, network.blocks
    groups = [list(module.stem.parameters())]
    groups += [list(module.blocks[index].parameters()) for index in blocks]
    parameters = [p for group in groups for p in group]
    with network.mode(train, random_state):
        zs = [module.stem(network.x)]
        for index in blocks:
            zs.append(module.step(index, zs[-1])[1])
        value = network.value(zs[-1])
        grads = torch.autograd.grad(value, [*zs, *parameters], allow_unused=True)
    z_grads, p_grads = grads[: len(zs)], list(grads[len(zs) :])

    rows = []
    for t, (z, g) in enumerate(zip(zs, z_grads, strict=True)):
        g = torch.zeros_like(z) if g is None else g
        group, p_group = groups[t], p_grads[: len(groups[t])]
        del p_grads[: len(groups[t])]
        squares = sum(float(pg.double().pow(2).sum()) for pg in p_group if pg is not None)
        rows.append(
            {
                "stage": t,
                "block": blocks[t - 1] if t > 0 else pd.NA,
                "grad_norm": network.per_sample_norm(g),
                "grad_norm_batch": float(torch.linalg.vector_norm(g.double()).item()),
                "param_grad_norm": float(np.sqrt(squares)),
                "n_params": int(sum(p.numel() for p in group)),
            }
        )
    frame = pd.DataFrame(rows)
    last = frame["grad_norm"].iloc[-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        frame["grad_norm_ratio"] = frame["grad_norm"] / last if last > 0 else np.nan
    frame["network"] = "residual" if network.skip else "plain"
    frame["batch_norm"] = network.batch_norm
    frame["n_stages"] = len(blocks)
    frame["fitted"] = network.fitted
    frame["model"] = network.name
    return frame[GRADIENT_COLUMNS].astype({"stage": np.int64, "block": "Int64"})
