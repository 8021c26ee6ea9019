"""GrowNet's weak networks as an additive model whose carry is the penultimate features.

Badirli et al. (2020) boost small MLPs in function space. Stage t is a ``WeakNet`` fed with
``[x, z_{t-1}]``, the input and the penultimate features of stage t-1 (stage 1 sees ``x`` alone);
it returns its output ``h_t`` and its own penultimate features ``z_t`` for the next stage:

- ``WeakNet``: ``z = W_2 relu(W_1 [x, (z_prev - mean) / scale] + b_1) + b_2``,
  ``h = W_3 relu(z) + b_3``; the carry's standardisation is frozen when the net is made;
- ``BoostedNets``: ``F(x) = F_0 + sum_t alpha_t h_t(x)`` as one torch module, the thing the
  corrective step trains end to end (all nets and all ``alpha_t``);
- ``NetStage``, ``NetsModel``: the same sum as an ``AdditiveModel``
  (one loop over stages, carry ``z``), in the user's units, batched, without autograd.

A lesion removes ``alpha_t h_t`` and nothing else: a dropped stage's net still runs to hand its
features to the next kept stage (it is folded into that stage, ``NetsModel.drop``), so every
other row of the contributions is unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn

from ..additive import AdditiveModel, ConstantStart, check_stage_numbers
from .modules import _positive

__all__ = ["WeakNet", "BoostedNets", "NetStage", "NetsModel"]


class WeakNet(nn.Module):
    """A two-layer MLP on ``[x, z_prev]`` that returns ``(output, penultimate features)``.

    Parameters
    ----------
    d_in : int
        Features of ``x``, > 0.
    d_carry : int
        Width of the previous stage's penultimate features ``z_prev``; 0 for the first stage.
    d_hidden : int
        Width of both hidden layers (and so of the features handed on), > 0.
    d_out : int
        Outputs, > 0.

    Examples
    --------
    >>> import torch
    >>> from fboost.nn._weak import WeakNet
    >>> first = WeakNet(d_in=3, d_carry=0, d_hidden=8, d_out=2)
    >>> out, z = first(torch.zeros(5, 3))
    >>> out.shape, z.shape
    (torch.Size([5, 2]), torch.Size([5, 8]))
    >>> WeakNet(d_in=3, d_carry=8, d_hidden=8, d_out=2)(torch.zeros(5, 3), z)[0].shape
    torch.Size([5, 2])
    """

    carry_mean: Tensor
    carry_scale: Tensor

    def __init__(self, *, d_in: int, d_carry: int, d_hidden: int, d_out: int) -> None:
        super().__init__()
        self.d_in, self.d_hidden = _positive("d_in", d_in), _positive("d_hidden", d_hidden)
        self.d_carry = 0 if d_carry == 0 else _positive("d_carry", d_carry)
        self.hidden1 = nn.Linear(self.d_in + self.d_carry, self.d_hidden)
        self.hidden2 = nn.Linear(self.d_hidden, self.d_hidden)
        self.output = nn.Linear(self.d_hidden, _positive("d_out", d_out))
        self.register_buffer("carry_mean", torch.zeros(self.d_carry))
        self.register_buffer("carry_scale", torch.ones(self.d_carry))

    @torch.no_grad()
    def fit_carry_scaling(self, carry: Tensor | None) -> None:
        """Freeze the standardisation of ``z_prev`` at the statistics of ``carry`` (train rows)."""
        if self.d_carry == 0 or carry is None:
            return
        std = carry.std(dim=0, unbiased=False)
        self.carry_mean.copy_(carry.mean(dim=0))
        self.carry_scale.copy_(torch.where(std > 1e-6, std, torch.ones_like(std)))

    def inputs(self, x: Tensor, carry: Tensor | None) -> Tensor:
        """The stage's input ``[x, (z_prev - mean) / scale]`` (``x`` alone for the first stage)."""
        if self.d_carry == 0:
            return x
        if carry is None:
            raise ValueError(f"this stage reads features of width {self.d_carry}; got none")
        return torch.cat([x, (carry - self.carry_mean) / self.carry_scale], dim=1)

    def forward_inputs(self, u: Tensor) -> tuple[Tensor, Tensor]:
        """``(output, z)`` from the joined input of ``inputs``."""
        z = self.hidden2(torch.relu(self.hidden1(u)))
        return self.output(torch.relu(z)), z

    def forward(self, x: Tensor, carry: Tensor | None = None) -> tuple[Tensor, Tensor]:
        return self.forward_inputs(self.inputs(x, carry))


class OutputOf(nn.Module):
    """``u -> net.forward_inputs(u)[0]``: a weak net as ``module(X) -> raw`` (for a Trainer)."""

    def __init__(self, net: WeakNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, u: Tensor) -> Tensor:
        return self.net.forward_inputs(u)[0]


class BoostedNets(nn.Module):
    """``F(x) = F_0 + sum_t alpha_t h_t(x)`` over a chain of ``WeakNet``, in module units.

    ``F_0`` is a fixed buffer; the ``alpha_t`` are parameters, so the corrective step trains them
    with the nets.

    Parameters
    ----------
    init_raw : array-like of shape (d_out,)
        ``F_0``.

    Examples
    --------
    >>> import torch
    >>> from fboost.nn._weak import BoostedNets, WeakNet
    >>> model = BoostedNets([0.5])
    >>> model.add(WeakNet(d_in=3, d_carry=0, d_hidden=4, d_out=1), alpha=0.1)
    >>> model(torch.zeros(2, 3)).shape
    torch.Size([2, 1])
    """

    init_raw: Tensor

    def __init__(self, init_raw: Any) -> None:
        super().__init__()
        self.nets = nn.ModuleList()
        self.alphas = nn.ParameterList()
        self.register_buffer("init_raw", torch.as_tensor(np.asarray(init_raw), dtype=torch.float32))

    def add(self, net: WeakNet, alpha: float) -> None:
        """Append a stage with weight ``alpha``."""
        device = self.init_raw.device
        self.nets.append(net.to(device))
        self.alphas.append(nn.Parameter(torch.tensor(float(alpha), device=device)))

    def weights(self) -> np.ndarray:
        """``alpha_t`` as float64, shape ``(n_stages,)``."""
        return np.array([float(a.detach().cpu()) for a in self.alphas], dtype=np.float64)

    def truncate(self, n_stages: int) -> None:
        """Keep the first ``n_stages`` stages, in place."""
        del self.nets[n_stages:]
        keep = list(self.alphas)[:n_stages]
        self.alphas = nn.ParameterList(keep)

    def forward(self, x: Tensor) -> Tensor:
        raw = self.init_raw.expand(x.shape[0], -1)
        z: Tensor | None = None
        for net, alpha in zip(self.nets, self.alphas, strict=True):
            out, z = net(x, z)
            raw = raw + alpha * out
        return raw

    @torch.no_grad()
    def cache(self, x: Tensor) -> tuple[Tensor, Tensor | None]:
        """``(F_T(x), z_T(x))`` in eval mode: what stage T + 1 starts from."""
        self.eval()
        z: Tensor | None = None
        raw = self.init_raw.expand(x.shape[0], -1).to(torch.float64)
        for net, alpha in zip(self.nets, self.alphas, strict=True):
            out, z = net(x, z)
            raw = raw + alpha.double() * out.double()
        return raw, z


def _numpy(t: Tensor) -> np.ndarray:
    return t.detach().to("cpu", torch.float64).numpy()


@dataclass(frozen=True, eq=False)
class NetStage:
    """``(x, z_prev) -> (scale * h(x), z)`` through ``nets.nets[i]`` for i in ``indices``.

    Every net but the last only hands its features on (stages dropped before this one); the last
    net's output is this stage's ``h_t``, in user units (``scale`` times the module's).
    """

    nets: BoostedNets
    indices: tuple[int, ...]
    scale: float = 1.0

    def advance(self, x: Tensor, z: Tensor | None) -> tuple[np.ndarray, Tensor | None]:
        for i in self.indices:
            out, z = self.nets.nets[i](x, z)
        return self.scale * _numpy(out), z


class NetsModel(AdditiveModel):
    """The additive model of a ``BoostedNets``; ``X`` is a float32 array (scaled inputs)."""

    start: ConstantStart
    stages: list[NetStage]  # type: ignore[assignment]

    #: rows per forward pass
    batch_rows: ClassVar[int] = 8192

    @classmethod
    def of(cls, nets: BoostedNets, offset: np.ndarray, scale: float = 1.0) -> NetsModel:
        """All stages of ``nets``; raw scores ``offset + scale * F`` with ``F`` the module's."""
        f0 = offset + scale * _numpy(nets.init_raw)
        stages = [NetStage(nets, (i,), scale) for i in range(len(nets.nets))]
        return cls(ConstantStart(f0), stages, nets.weights())

    @classmethod
    def from_structure(
        cls, nets: BoostedNets, offset: np.ndarray, scale: float, structure: dict[str, Any]
    ) -> NetsModel:
        """Rebuild a (possibly lesioned) model from ``structure``."""
        f0 = offset + scale * _numpy(nets.init_raw)
        stages = [NetStage(nets, tuple(ix), scale) for ix in structure["indices"]]
        return cls(ConstantStart(f0), stages, structure["weights"])

    @property
    def structure(self) -> dict[str, Any]:
        """What pickling keeps of the model beyond the nets: net indices and weight per stage."""
        return {"indices": [list(s.indices) for s in self.stages], "weights": self.weights.copy()}

    def _batches(self, X: np.ndarray) -> Iterator[Tensor]:
        """Rows in batches, with the nets in float64 (batch-invariant) until the last one."""
        from ._precision import float64_inference

        device = _device_of(self)
        with float64_inference(self.stages[0].nets) as dtype:
            for i in range(0, len(X), self.batch_rows):
                yield torch.as_tensor(X[i : i + self.batch_rows], device=device, dtype=dtype)

    @torch.no_grad()
    def contributions(self, X: Any) -> np.ndarray:
        if not self.stages:
            return np.stack([self.start(X)[0]])
        for stage in self.stages:
            stage.nets.eval()
        parts = [np.stack(list(self.iter_contributions(x))) for x in self._batches(X)]
        return np.concatenate(parts, axis=1)

    def staged_raw(self, X: Any) -> Iterator[np.ndarray]:
        yield from np.cumsum(self.contributions(X), axis=0)[1:]

    def raw(self, X: Any) -> np.ndarray:
        return self.contributions(X).sum(axis=0)

    def drop(self, stages: Iterable[int] | int) -> NetsModel:
        """Remove ``alpha_t h_t`` of the given stages; their nets still feed the next kept stage."""
        dropped = set(check_stage_numbers(stages, self.n_stages))
        kept: list[NetStage] = []
        weights: list[float] = []
        pending: tuple[int, ...] = ()
        for t, (stage, alpha) in enumerate(zip(self.stages, self.weights, strict=True), start=1):
            if t in dropped:
                pending += stage.indices
                continue
            kept.append(NetStage(stage.nets, pending + stage.indices, stage.scale))
            weights.append(float(alpha))
            pending = ()
        return type(self)(self.start, kept, weights)


def _device_of(model: NetsModel) -> torch.device:
    if not model.stages:
        return torch.device("cpu")
    return model.stages[0].nets.init_raw.device
