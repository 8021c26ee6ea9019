"""Paths through a residual network (Veit, Wilber, Belongie, NeurIPS 2016).

Unrolled, a residual network of n blocks is a collection of ``2^n`` paths: each block is either
entered (its residual branch) or skipped. The number of paths of length k (blocks entered) is
``C(n, k)``, so path lengths follow the binomial distribution ``Binomial(n, 1/2)``. Veit et al.
measured how much gradient each length carries: forward the batch through the whole network,
then in the backward pass pick k blocks, propagate through their residual branch only and
through the skip for the other ``n - k``, and measure the gradient at the input of the first
block. The total gradient by length is that per-path magnitude times ``C(n, k)``; the
*effective paths* are the (short) lengths that carry most of it.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import combinations
from math import comb
from numbers import Integral, Real
from typing import Any

import numpy as np
import pandas as pd
from sklearn.utils import check_random_state

from ._common import check_int
from ._gradients import check_train
from ._network import network_from

__all__ = ["path_length_distribution", "gradient_by_path_length", "effective_range"]

PATH_COLUMNS = ["path_length", "n_paths", "path_fraction"]
GRADIENT_PATH_COLUMNS = [
    *PATH_COLUMNS,
    "n_sampled",
    "grad_norm",
    "grad_norm_std",
    "total_grad",
    "total_fraction",
    "effective",
    "model",
]


def path_length_distribution(n_blocks: int) -> pd.DataFrame:
    """How many of the ``2^n`` paths of an n-block residual network have each length.

    Parameters
    ----------
    n_blocks : int
        Number of residual blocks n (>= 1).

    Returns
    -------
    frame : pandas.DataFrame
        One row per length k = 0..n, columns:

        - ``path_length`` (int): k, the number of residual branches the path goes through;
        - ``n_paths`` (float): ``C(n, k)`` (float, exact up to ``2^53``);
        - ``path_fraction`` (float): ``C(n, k) / 2^n``, the binomial pmf with p = 1/2; sums to 1.

    Examples
    --------
    >>> from fboost.analysis import path_length_distribution
    >>> path_length_distribution(3)["path_fraction"].tolist()
    [0.125, 0.375, 0.375, 0.125]
    """
    n_blocks = check_int(n_blocks, "n_blocks")
    counts = [comb(n_blocks, k) for k in range(n_blocks + 1)]
    total = 2**n_blocks
    return pd.DataFrame(
        {
            "path_length": np.arange(n_blocks + 1, dtype=np.int64),
            "n_paths": np.array([float(c) for c in counts]),
            "path_fraction": np.array([c / total for c in counts]),  # exact int division
        },
        columns=PATH_COLUMNS,
    )


def effective_range(fractions: np.ndarray, coverage: float) -> tuple[int, int]:
    """Indices ``(a, b)`` of the shortest run ``fractions[a..b]`` summing to ``>= coverage``.

    Among runs of that length, the one with the largest sum.
    """
    fractions = np.asarray(fractions, dtype=np.float64)
    cumulative = np.concatenate([[0.0], np.cumsum(fractions)])
    target = coverage * cumulative[-1] - 1e-12
    for width in range(1, len(fractions) + 1):
        sums = cumulative[width:] - cumulative[:-width]
        best = int(np.argmax(sums))
        if sums[best] >= target:
            return best, best + width - 1
    return 0, len(fractions) - 1


def _check_lengths(path_lengths: Any, n_blocks: int) -> list[int]:
    if path_lengths is None:
        return list(range(n_blocks + 1))
    values = [path_lengths] if isinstance(path_lengths, Integral | np.integer) else path_lengths
    if not isinstance(values, Iterable):
        raise TypeError(f"path_lengths must be ints in 0..{n_blocks}, got {path_lengths!r}")
    out = [check_int(v, "path_lengths", minimum=0) for v in values]
    too_long = [v for v in out if v > n_blocks]
    if too_long:
        raise ValueError(
            f"path_lengths cannot exceed the number of blocks ({n_blocks}), got {too_long}"
        )
    if not out:
        raise ValueError("path_lengths must contain at least one length")
    return sorted(set(out))


def gradient_by_path_length(
    estimator: Any,
    X: Any,
    y: Any,
    *,
    path_lengths: int | Iterable[int] | None = None,
    n_samples: int = 10,
    coverage: float = 0.9,
    train: bool = True,
    random_state: Any = 0,
) -> pd.DataFrame:
    """Gradient magnitude carried by the paths of each length (Veit et al. 2016, Sec. 5.2).

    The batch ``X`` goes forward through the whole network once. For each length k, paths
    are drawn as sets of k blocks; the gradient of the mean loss at the network's output
    ``dL/dz_T`` is propagated back through the residual branch of the k chosen blocks
    (their Jacobian, at the activations of the full forward pass) and through the skip of
    the others, down to the input of the first block ``z_0``, where its norm is measured
    (mean over samples of the per-sample norm, as in ``gradient_norms``). The per-path
    magnitude times ``C(n, k)`` is the total gradient of length k; the effective range is the
    shortest run of lengths that carries ``coverage`` of the total.

    Parameters
    ----------
    estimator : ResNetRegressor or ResNetClassifier with ``skip=True``, fitted or not
        As in ``gradient_norms`` (unfitted: measured at initialisation). A plain
        network (``skip=False``) has a single path and raises ``ValueError``.
    X : array-like
        One batch.
    y : array-like of shape (n_samples,)
        Targets.
    path_lengths : int, sequence of int or None, default=None
        Lengths k to measure, each in ``0..n_stages_``; ``None`` measures all of them.
    n_samples : int, default=10
        Paths drawn per length (>= 1); when ``C(n, k) <= n_samples`` every path of that length
        is measured once instead.
    coverage : float, default=0.9
        Fraction in (0, 1] of the total gradient the effective range must carry.
    train : bool, default=True
        Train mode (BatchNorm on batch statistics, dropout) or eval mode; a private copy of the
        network is used.
    random_state : int, RandomState instance or None, default=0
        Seeds the choice of paths and torch's random stream (dropout).

    Returns
    -------
    frame : pandas.DataFrame
        One row per measured length, the columns of ``path_length_distribution`` and:

        - ``n_sampled`` (int): paths measured;
        - ``grad_norm`` (float): mean gradient norm of one path of that length;
        - ``grad_norm_std`` (float): its standard deviation over the measured paths;
        - ``total_grad`` (float): ``grad_norm * n_paths``;
        - ``total_fraction`` (float): ``total_grad`` over its sum across the measured lengths;
        - ``effective`` (bool): the length lies in the effective range;
        - ``model`` (str): the estimator's class name.

        ``frame.attrs`` holds ``"effective_range"`` (the shortest and longest effective
        length) and ``"coverage"``.

    Examples
    --------
    >>> import numpy as np
    >>> from fboost import ResNetRegressor
    >>> from fboost.analysis import gradient_by_path_length
    >>> rng = np.random.RandomState(0)
    >>> X, y = rng.normal(size=(32, 3)), rng.normal(size=32)
    >>> resnet = ResNetRegressor(n_stages=6, d_block=8, random_state=0)
    >>> frame = gradient_by_path_length(resnet, X, y, n_samples=3)
    >>> frame["path_length"].tolist()
    [0, 1, 2, 3, 4, 5, 6]
    >>> bool(abs(frame["total_fraction"].sum() - 1) < 1e-9)
    True
    """
    import torch

    n_samples = check_int(n_samples, "n_samples")
    if isinstance(coverage, bool) or not isinstance(coverage, Real) or not 0 < coverage <= 1:
        raise ValueError(f"coverage must be a float in (0, 1], got {coverage!r}")
    network = network_from(estimator, X, y, caller="gradient_by_path_length")
    train = check_train(train, network)
    if not network.skip:
        raise ValueError(
            "gradient_by_path_length needs a residual network (skip=True); the estimator is a "
            "plain network (skip=False), which has a single path through all of its blocks"
        )
    module, blocks = network.module, network.blocks
    n_blocks = len(blocks)
    if n_blocks < 1:
        raise ValueError("the estimator has no residual block left (all stages dropped)")
    lengths = _check_lengths(path_lengths, n_blocks)
    rng = check_random_state(random_state)

    with network.mode(train, random_state):
        z = module.stem(network.x).detach()
        inputs, branches = [], []
        for index in blocks:
            z_in = z.detach().requires_grad_(True)
            branch, z_out = module.step(index, z_in)  # branch = f_t(z_{t-1})
            inputs.append(z_in)
            branches.append(branch)
            z = z_out
        z_last = z.detach().requires_grad_(True)
        (g_last,) = torch.autograd.grad(network.value(z_last), [z_last])

        def path_norm(path: tuple[int, ...]) -> float:
            g = g_last
            for t in sorted(path, reverse=True):
                (g,) = torch.autograd.grad(branches[t], inputs[t], g, retain_graph=True)
            return network.per_sample_norm(g)

        rows = []
        for k in lengths:
            if comb(n_blocks, k) <= n_samples:
                paths = list(combinations(range(n_blocks), k))
            else:
                paths = [tuple(rng.choice(n_blocks, k, replace=False)) for _ in range(n_samples)]
            norms = np.array([path_norm(path) for path in paths])
            rows.append(
                {
                    "path_length": k,
                    "n_paths": float(comb(n_blocks, k)),
                    "path_fraction": comb(n_blocks, k) / 2**n_blocks,
                    "n_sampled": len(paths),
                    "grad_norm": float(norms.mean()),
                    "grad_norm_std": float(norms.std()),
                }
            )
    frame = pd.DataFrame(rows)
    frame["total_grad"] = frame["grad_norm"] * frame["n_paths"]
    total = frame["total_grad"].sum()
    frame["total_fraction"] = frame["total_grad"] / total if total > 0 else np.nan
    a, b = effective_range(frame["total_fraction"].fillna(0).to_numpy(), float(coverage))
    frame["effective"] = (frame.index >= a) & (frame.index <= b)
    frame["model"] = network.name
    frame = frame[GRADIENT_PATH_COLUMNS].astype({"path_length": np.int64, "n_sampled": np.int64})
    frame.attrs["effective_range"] = (
        int(frame["path_length"].iloc[a]),
        int(frame["path_length"].iloc[b]),
    )
    frame.attrs["coverage"] = float(coverage)
    return frame
