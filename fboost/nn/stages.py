"""A trained trunk as an ``AdditiveModel``: the carry is ``z``.

- ``TrunkStart`` computes ``z_0 = stem(x)`` and ``F_0 = head(z_0)``;
- ``BlockStage`` advances ``z_t = z_{t-1} + w_t f_t(z_{t-1})`` and returns
  ``head.linear_part(f_t(z_{t-1}))`` (for a plain trunk, ``head.linear_part(z_t - z_{t-1})``);
  the branch weight ``w_t = module.branch_weight(t)`` (a learned ``alpha_t`` times a survival
  probability ``p_t``, 1 by default) is the stage weight of the ``TrunkModel``, so that
  ``alpha_t h_t = w_t W f_t(z_{t-1})`` still telescopes.

The output is mapped to the user's units, ``offset + scale * head(.)``: ``F_0`` takes the offset
(the target mean) and every row the scale, so the telescoping sum stays exact in user units.
Staged predictions are then the head applied to ``z_t``, and dropping a stage bypasses its block
(``z_t = z_{t-1}``): both are the one loop of ``AdditiveModel``.

``TrunkModel`` runs that loop in eval mode, without autograd, over batches of rows (so that
the carry of a large image set never has to fit in memory at once), in float64
(``fboost.nn._precision``: a row's output does not depend on the rows beside it) and returns
float64 NumPy.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor

from ..additive import AdditiveModel
from ._precision import float64_inference
from .modules import LinearHead, ResidualTrunk

__all__ = ["TrunkStart", "BlockStage", "TrunkModel"]


def _numpy(t: Tensor) -> np.ndarray:
    return t.detach().to("cpu", torch.float64).numpy()


@dataclass(frozen=True, eq=False)
class TrunkStart:
    """``x -> (F_0(x), z_0)`` with ``F_0 = offset + scale * head(stem(x))``.

    Parameters
    ----------
    module : ResidualTrunk
        The trained trunk; it needs a head.
    offset : ndarray of shape (n_outputs,)
        Added to the head's output (the target mean, in user units).
    scale : float, default=1.0
        Multiplies the head's output (the target scale).

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from fboost.nn import TabularResNet, TrunkStart
    >>> _ = torch.manual_seed(0)
    >>> net = TabularResNet(d_in=3, d_out=1, d_block=4, n_blocks=2).eval()
    >>> start = TrunkStart(net, offset=np.array([10.0]), scale=2.0)
    >>> x = torch.randn(5, 3)
    >>> F0, z0 = start(x)
    >>> F0.shape, F0.dtype, tuple(z0.shape)
    ((5, 1), dtype('float64'), (5, 4))
    >>> with torch.no_grad():
    ...     expected = 10.0 + 2.0 * net.head(net.stem(x)).double().numpy()
    >>> bool(np.allclose(F0, expected))
    True
    """

    module: ResidualTrunk
    offset: np.ndarray  # (n_outputs,)
    scale: float = 1.0

    @property
    def head(self) -> LinearHead:
        if self.module.head is None:
            raise ValueError("the module needs a head (d_out is not None)")
        return self.module.head

    def __call__(self, x: Tensor) -> tuple[np.ndarray, Tensor]:
        z = self.module.stem(x)
        return self.offset + self.scale * _numpy(self.head(z)), z


@dataclass(frozen=True, eq=False)
class BlockStage:
    """Block ``index`` (0-based) of the trunk: ``(x, z_{t-1}) -> (scale * W f_t(z_{t-1}), z_t)``.

    The branch weight ``module.branch_weight(index)`` is not applied here: it is the stage's
    weight in the ``TrunkModel``.

    Parameters
    ----------
    start : TrunkStart
        The start of the same trunk (its module, head and scale).
    index : int
        Which block of ``start.module.blocks`` this stage runs, 0-based.

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from fboost.nn import BlockStage, TabularResNet, TrunkStart
    >>> _ = torch.manual_seed(0)
    >>> net = TabularResNet(d_in=3, d_out=1, d_block=4, n_blocks=2).eval()
    >>> start = TrunkStart(net, offset=np.zeros(1))
    >>> x = torch.randn(5, 3)
    >>> F0, z0 = start(x)
    >>> h, z1 = BlockStage(start, 0).advance(x, z0)
    >>> h.shape, tuple(z1.shape)
    ((5, 1), (5, 4))
    >>> with torch.no_grad():
    ...     head_z1 = net.head(z1).double().numpy()
    >>> bool(np.allclose(F0 + h, head_z1, atol=1e-6))
    True
    """

    start: TrunkStart
    index: int

    def advance(self, x: Tensor, z: Tensor) -> tuple[np.ndarray, Tensor]:
        branch, z = self.start.module.branch(self.index, z)
        return self.start.scale * _numpy(self.start.head.linear_part(branch)), z


class TrunkModel(AdditiveModel):
    """An additive model over a torch trunk; ``X`` is a float32 array in the module's layout.

    Parameters
    ----------
    start : TrunkStart
        ``F_0`` and ``z_0``.
    stages : list of BlockStage
        The kept blocks, in order.
    weights : array-like of shape (n_stages,)
        ``alpha_t`` per stage: the blocks' ``branch_weight`` (ones for fixed stage weights
        without stochastic depth).

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from fboost.nn import BlockStage, TabularResNet, TrunkModel, TrunkStart
    >>> _ = torch.manual_seed(0)
    >>> net = TabularResNet(d_in=3, d_out=1, d_block=4, n_blocks=2)
    >>> start = TrunkStart(net, offset=np.zeros(1))
    >>> model = TrunkModel(start, [BlockStage(start, i) for i in range(2)], np.ones(2))
    >>> X = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    >>> model.contributions(X).shape
    (3, 5, 1)
    >>> bool(np.allclose(model.contributions(X).sum(axis=0), model.raw(X), atol=1e-6))
    True
    >>> model.drop(1).kept_blocks
    [1]
    """

    start: TrunkStart
    stages: list[BlockStage]  # type: ignore[assignment]

    #: rows per forward pass are chosen so that one feature map holds at most this many floats
    max_batch_elements: ClassVar[int] = 2**23

    @property
    def module(self) -> ResidualTrunk:
        return self.start.module

    def _batches(self, X: np.ndarray) -> Iterator[Tensor]:
        """Rows in batches, with the module in float64 until the last one is consumed."""
        module = self.module
        device = next(module.parameters()).device
        module.eval()
        with float64_inference(module) as dtype:
            first = torch.as_tensor(X[:1], device=device, dtype=dtype)
            width = max(int(first.numel()), int(module.stem(first).numel()))
            rows = max(1, self.max_batch_elements // width)
            for i in range(0, len(X), rows):
                yield torch.as_tensor(X[i : i + rows], device=device, dtype=dtype)

    @torch.no_grad()
    def contributions(self, X: Any) -> np.ndarray:
        parts = [np.stack(list(self.iter_contributions(x))) for x in self._batches(X)]
        return np.concatenate(parts, axis=1)

    def staged_raw(self, X: Any) -> Iterator[np.ndarray]:
        """``F_t`` for t = 1..T: partial sums of one pass of contributions (head applied to z_t)."""
        yield from np.cumsum(self.contributions(X), axis=0)[1:]

    @torch.no_grad()
    def raw(self, X: Any) -> np.ndarray:
        """The forward pass through the kept blocks (the network's own output, user units)."""
        start, parts = self.start, []
        for x in self._batches(X):
            z = self.module.stem(x)
            for stage in self.stages:
                z = self.module.step(stage.index, z)[1]
            parts.append(start.offset + start.scale * _numpy(start.head(z)))
        return np.concatenate(parts, axis=0)

    @torch.no_grad()
    def features(self, X: Any) -> np.ndarray:
        """``z_0, .., z_T`` (kept stages) stacked: ``(n_stages + 1, n_samples, *z.shape[1:])``,
        in the dtype the module trains in (computed in float64, see ``_batches``)."""
        native = next(self.module.parameters()).dtype
        parts = []
        for x in self._batches(X):
            zs = [self.module.stem(x)]
            for stage in self.stages:
                zs.append(self.module.step(stage.index, zs[-1])[1])
            parts.append(torch.stack(zs).to("cpu", native).numpy())
        return np.concatenate(parts, axis=1)

    @property
    def kept_blocks(self) -> list[int]:
        """0-based indices of the module's blocks that are stages of this model."""
        return [stage.index for stage in self.stages]
