"""The Soft Gradient Boosting Machine's learners (Feng, Xu, Jiang & Zhou 2020) as torch modules.

T learners ``o_1 .. o_T`` (small MLPs) are trained *jointly*: on every batch, learner t is fitted
by least squares to the negative gradient of the loss at the sum of the learners before it,

    r_t = -dL/dF at F_{t-1} = F_0 + s * sum_{j<t} o_j(x)        (detached: a target)
    objective = sum_t mean_i 0.5 * ||o_t(x_i) - r_t(x_i)||^2

and all learners are updated from one backward pass of that objective. The model is
``F(x) = F_0 + s * sum_t o_t(x)`` with ``s`` the shrinkage (the stage weight of every learner).

- ``mlp``: the default learner, ``Linear -> ReLU`` ``n_layers`` times, then ``Linear``;
- ``SoftBoostedNets``: ``F_0`` and the learners; ``forward`` is ``F``, ``learner_outputs`` the
  stacked ``o_t``, ``soft_boosting_objective`` the objective above;
- ``SoftBoostingTrainer``: ``fboost.nn.Trainer`` whose step minimises that objective and reports
  the true loss of ``F`` (what validation and early stopping measure);
- ``LearnerStage``, ``LearnersModel``: the fitted sum as an ``AdditiveModel`` (no carry).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn

from ..additive import AdditiveModel, ConstantStart
from ..losses import Loss
from ._train import TensorData, Trainer
from .modules import _positive

__all__ = ["mlp", "SoftBoostedNets", "SoftBoostingTrainer", "LearnerStage", "LearnersModel"]


def mlp(*, d_in: int, d_hidden: int, n_layers: int, d_out: int) -> nn.Sequential:
    """``n_layers`` hidden layers ``Linear -> ReLU`` of width ``d_hidden``, then ``Linear``.

    Examples
    --------
    >>> import torch
    >>> from fboost.nn._soft import mlp
    >>> mlp(d_in=3, d_hidden=8, n_layers=2, d_out=2)(torch.zeros(5, 3)).shape
    torch.Size([5, 2])
    """
    d_in, d_hidden = _positive("d_in", d_in), _positive("d_hidden", d_hidden)
    n_layers, d_out = _positive("n_layers", n_layers), _positive("d_out", d_out)
    layers: list[nn.Module] = []
    width = d_in
    for _ in range(n_layers):
        layers += [nn.Linear(width, d_hidden), nn.ReLU()]
        width = d_hidden
    return nn.Sequential(*layers, nn.Linear(width, d_out))


class SoftBoostedNets(nn.Module):
    """``F(x) = F_0 + shrinkage * sum_t o_t(x)`` over ``n_learners`` MLPs, in module units.

    Parameters
    ----------
    init_raw : array-like of shape (d_out,)
        ``F_0``, a fixed buffer.
    d_in, d_hidden, n_layers : int
        Each learner's input width, hidden width and number of hidden layers (see ``mlp``).
    n_learners : int
        T, > 0.
    shrinkage : float, default=1.0
        ``s`` in ``F = F_0 + s * sum_t o_t``.

    Examples
    --------
    >>> import torch
    >>> from fboost.nn._soft import SoftBoostedNets
    >>> nets = SoftBoostedNets([0.5], d_in=3, d_hidden=4, n_layers=1, n_learners=3)
    >>> x = torch.zeros(2, 3)
    >>> nets.learner_outputs(x).shape
    torch.Size([3, 2, 1])
    >>> bool(torch.allclose(nets(x), 0.5 + nets.learner_outputs(x).sum(0)))
    True
    """

    init_raw: Tensor

    def __init__(
        self,
        init_raw: Any,
        *,
        d_in: int,
        d_hidden: int,
        n_layers: int,
        n_learners: int,
        shrinkage: float = 1.0,
    ) -> None:
        super().__init__()
        init = torch.as_tensor(np.asarray(init_raw, dtype=np.float32).reshape(-1))
        self.register_buffer("init_raw", init)
        d_out = int(init.shape[0])
        self.learners = nn.ModuleList(
            mlp(d_in=d_in, d_hidden=d_hidden, n_layers=n_layers, d_out=d_out)
            for _ in range(_positive("n_learners", n_learners))
        )
        self.shrinkage = float(shrinkage)

    def learner_outputs(self, x: Tensor) -> Tensor:
        """``o_1(x) .. o_T(x)`` stacked, shape ``(T, n, d_out)``."""
        return torch.stack([learner(x) for learner in self.learners])

    def raw_from_outputs(self, outputs: Tensor) -> Tensor:
        """``F = F_0 + s * sum_t o_t`` from ``learner_outputs``."""
        return self.init_raw + self.shrinkage * outputs.sum(dim=0)

    def forward(self, x: Tensor) -> Tensor:
        return self.raw_from_outputs(self.learner_outputs(x))


def soft_boosting_objective(
    nets: SoftBoostedNets,
    outputs: Tensor,
    loss: Loss,
    y: Tensor,
    sample_weight: Tensor | None,
) -> Tensor:
    """``sum_t`` weighted mean of ``0.5 * ||o_t - r_t||^2``, ``r_t = -dL/dF`` at ``F_{t-1}``.

    ``F_{t-1} = F_0 + s * sum_{j<t} o_j`` is detached, so each ``r_t`` is a fixed target: the
    gradient reaches learner t only through its own output, as in Feng et al. (2020). The
    gradient of the loss comes from ``loss.torch_pointwise`` by autograd (one source of truth).

    Examples
    --------
    >>> import torch
    >>> from fboost.losses import SquaredError
    >>> from fboost.nn._soft import SoftBoostedNets, soft_boosting_objective
    >>> nets = SoftBoostedNets([0.0], d_in=2, d_hidden=4, n_layers=1, n_learners=2)
    >>> x, y = torch.randn(8, 2), torch.randn(8)
    >>> o = nets.learner_outputs(x)
    >>> expected = 0.5 * ((o[0, :, 0] - y) ** 2).mean() + 0.5 * (
    ...     (o[1, :, 0] - (y - o[0, :, 0].detach())) ** 2).mean()
    >>> bool(torch.allclose(soft_boosting_objective(nets, o, SquaredError(), y, None), expected))
    True
    """
    n_learners, n_rows, d_out = outputs.shape
    with torch.enable_grad():
        before = torch.cumsum(outputs.detach(), dim=0) - outputs.detach()  # sum_{j<t} o_j
        previous = (nets.init_raw + nets.shrinkage * before).reshape(-1, d_out)
        previous.requires_grad_(True)
        value = loss.torch_pointwise(y.repeat(n_learners), previous).sum()
        (gradient,) = torch.autograd.grad(value, previous)
    targets = -gradient.reshape(n_learners, n_rows, d_out)
    squared = 0.5 * ((outputs - targets) ** 2).sum(dim=2)  # (T, n)
    if sample_weight is None:
        return squared.mean(dim=1).sum()
    return ((squared * sample_weight).sum(dim=1) / sample_weight.sum()).sum()


@dataclass
class SoftBoostingTrainer(Trainer):
    """A ``Trainer`` whose step minimises ``soft_boosting_objective`` (one backward pass).

    ``module`` must be a ``SoftBoostedNets`` and ``loss_fn`` the true loss of its output
    ``F``: each step returns that loss (so the history and early stopping measure ``F``),
    while the gradient is the soft-boosting objective's. Set ``loss`` to the ``Loss``.
    """

    loss: Loss | None = None

    def train_step(self, batch: TensorData) -> Tensor:
        nets = self.module
        assert isinstance(nets, SoftBoostedNets) and self.loss is not None
        self.optimizer.zero_grad(set_to_none=True)
        outputs = nets.learner_outputs(batch.X)
        objective = soft_boosting_objective(nets, outputs, self.loss, batch.y, batch.sample_weight)
        objective.backward()
        self.optimizer.step()
        with torch.no_grad():
            return self.loss_fn(nets.raw_from_outputs(outputs), batch.y, batch.sample_weight)


def _numpy(t: Tensor) -> np.ndarray:
    return t.detach().to("cpu", torch.float64).numpy()


@dataclass(frozen=True, eq=False)
class LearnerStage:
    """``(x, carry) -> (scale * o_index(x), carry)``: one learner; the carry is unused."""

    nets: SoftBoostedNets
    index: int
    scale: float = 1.0

    def advance(self, x: Tensor, carry: Any) -> tuple[np.ndarray, Any]:
        return self.scale * _numpy(self.nets.learners[self.index](x)), carry


class LearnersModel(AdditiveModel):
    """The additive model of a ``SoftBoostedNets``; ``X`` is a float32 array (scaled inputs).

    Examples
    --------
    >>> import numpy as np
    >>> from fboost.nn._soft import LearnersModel, SoftBoostedNets
    >>> nets = SoftBoostedNets([1.0], d_in=3, d_hidden=4, n_layers=1, n_learners=2)
    >>> model = LearnersModel.of(nets, offset=np.zeros(1))
    >>> X = np.zeros((5, 3), dtype=np.float32)
    >>> model.contributions(X).shape
    (3, 5, 1)
    >>> model.drop([1]).kept
    [1]
    """

    start: ConstantStart
    stages: list[LearnerStage]  # type: ignore[assignment]

    #: rows per forward pass
    batch_rows: ClassVar[int] = 8192

    @classmethod
    def of(
        cls,
        nets: SoftBoostedNets,
        offset: np.ndarray,
        scale: float = 1.0,
        kept: list[int] | None = None,
    ) -> LearnersModel:
        """The learners ``kept`` (all by default); raw scores ``offset + scale * F``."""
        kept = list(range(len(nets.learners))) if kept is None else kept
        f0 = offset + scale * _numpy(nets.init_raw)
        stages = [LearnerStage(nets, i, scale) for i in kept]
        return cls(ConstantStart(f0), stages, np.full(len(kept), nets.shrinkage))

    @property
    def kept(self) -> list[int]:
        """0-based indices of the learners that are stages of this model."""
        return [stage.index for stage in self.stages]

    def _batches(self, X: np.ndarray) -> Iterator[Tensor]:
        device = self.stages[0].nets.init_raw.device if self.stages else torch.device("cpu")
        for i in range(0, len(X), self.batch_rows):
            yield torch.as_tensor(X[i : i + self.batch_rows], device=device)

    @torch.no_grad()
    def contributions(self, X: Any) -> np.ndarray:
        if not self.stages:
            return np.stack([self.start(X)[0]])
        self.stages[0].nets.eval()
        parts = [np.stack(list(self.iter_contributions(x))) for x in self._batches(X)]
        return np.concatenate(parts, axis=1)

    def staged_raw(self, X: Any) -> Iterator[np.ndarray]:
        yield from np.cumsum(self.contributions(X), axis=0)[1:]

    def raw(self, X: Any) -> np.ndarray:
        return self.contributions(X).sum(axis=0)
