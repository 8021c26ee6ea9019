"""A trained trunk as an :class:`~fboost.additive.AdditiveModel`: the carry is ``z``.

- :class:`TrunkStart` computes ``z_0 = stem(x)`` and ``F_0 = head(z_0)``;
- :class:`BlockStage` advances ``z_t = z_{t-1} + f_t(z_{t-1})`` and returns
  ``head.linear_part(f_t(z_{t-1}))`` (for a plain trunk, ``head.linear_part(z_t - z_{t-1})``).

The output is mapped to the user's units, ``offset + scale * head(.)``: ``F_0`` takes the offset
(the target mean) and every row the scale, so the telescoping sum stays exact in user units.
Staged predictions are then the head applied to ``z_t``, and dropping a stage bypasses its block
(``z_t = z_{t-1}``): both are the one loop of :class:`~fboost.additive.AdditiveModel`.

:class:`TrunkModel` runs that loop in eval mode, without autograd, over batches of rows (so that
the carry of a large image set never has to fit in memory at once) and returns float64 NumPy.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor

from ..additive import AdditiveModel
from .modules import LinearHead, ResidualTrunk

__all__ = ["TrunkStart", "BlockStage", "TrunkModel"]


def _numpy(t: Tensor) -> np.ndarray:
    return t.detach().to("cpu", torch.float64).numpy()


@dataclass(frozen=True, eq=False)
class TrunkStart:
    """``x -> (F_0(x), z_0)`` with ``F_0 = offset + scale * head(stem(x))``."""

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
    """Block ``index`` (0-based) of the trunk: ``(x, z_{t-1}) -> (scale * W f_t(z_{t-1}), z_t)``."""

    start: TrunkStart
    index: int

    def advance(self, x: Tensor, z: Tensor) -> tuple[np.ndarray, Tensor]:
        delta, z = self.start.module.step(self.index, z)
        return self.start.scale * _numpy(self.start.head.linear_part(delta)), z


class TrunkModel(AdditiveModel):
    """An additive model over a torch trunk; ``X`` is a float32 array in the module's layout."""

    start: TrunkStart
    stages: list[BlockStage]  # type: ignore[assignment]

    #: rows per forward pass are chosen so that one feature map holds at most this many floats
    max_batch_elements: ClassVar[int] = 2**23

    @property
    def module(self) -> ResidualTrunk:
        return self.start.module

    def _batches(self, X: np.ndarray) -> Iterator[Tensor]:
        module = self.module
        device = next(module.parameters()).device
        module.eval()
        first = torch.as_tensor(X[:1], device=device)
        width = max(int(first.numel()), int(module.stem(first).numel()))
        rows = max(1, self.max_batch_elements // width)
        for i in range(0, len(X), rows):
            yield torch.as_tensor(X[i : i + rows], device=device)

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
        """``z_0, .., z_T`` (kept stages) stacked: ``(n_stages + 1, n_samples, *z.shape[1:])``."""
        parts = []
        for x in self._batches(X):
            zs = [self.module.stem(x)]
            for stage in self.stages:
                zs.append(self.module.step(stage.index, zs[-1])[1])
            parts.append(torch.stack(zs).cpu().numpy())
        return np.concatenate(parts, axis=1)

    @property
    def kept_blocks(self) -> list[int]:
        """0-based indices of the module's blocks that are stages of this model."""
        return [stage.index for stage in self.stages]
