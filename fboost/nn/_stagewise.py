"""Stagewise training in feature space: one block and one auxiliary head per stage, on cached z.

The network is a residual trunk with one affine head per stage (``HeadedTrunk``): head ``t``
reads ``z_t``, so that every prefix of the trunk is a classifier or regressor of its own. Its
score in the user's link space is ``s_t(x) = offset + w_t * bound(head_t(z_t(x)))``
(``HeadScores``), and the model telescopes over *consecutive heads* (Huang et al. 2018,
Lemma 3.2):

    s_T = s_0 + sum_{t=1..T} (s_t - s_{t-1}),   F_0 = s_0,   alpha_t h_t = s_t - s_{t-1}.

``HeadStart`` and ``HeadStage`` are that sum as an ``AdditiveModel``
(the carry is ``(z, s_prev)``), so that dropping stage t bypasses block t *and* its head: the next
kept stage subtracts the score of the previous kept one, and the output is the last kept head.

``fit_stagewise`` trains the stages in order. Stage 0 is the stem with head 0 (on the inputs);
stage t >= 1 is block t with head t on the *cached* output ``z_{t-1}`` of the frozen trunk (training
and validation rows), so that a stage costs one block's training whatever t is. What each stage
minimises and how its score is weighted is a ``StageRule`` (BoostResNet's exponential cost
and edges, or the squared loss; see ``fboost.boostresnet``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

import numpy as np
import torch
from scipy.special import expit, softmax
from torch import Tensor, nn

from .._training import EarlyStopping, progress_bar
from ._train import TensorData, Trainer, TrainHistory
from .modules import LinearHead, ResidualTrunk, _init_trunk
from .stages import TrunkModel

__all__ = [
    "HeadedTrunk",
    "HeadScores",
    "HeadStart",
    "HeadStage",
    "StagewiseModel",
    "StageRule",
    "StageScore",
    "StagewiseFit",
    "bound",
    "fit_stagewise",
]

BOUNDS = ("identity", "tanh", "softmax")


def bound(logits: np.ndarray, kind: str) -> np.ndarray:
    """A head's output as a hypothesis: ``identity``; ``tanh`` = ``tanh(F/2)``, in [-1, 1] (one
    binary log-odds column: the two-class softmax ``p_1 - p_0``); ``softmax`` over columns."""
    if kind == "identity":
        return logits
    if kind == "tanh":
        return 2.0 * expit(logits) - 1.0
    if kind == "softmax":
        return softmax(logits, axis=1)
    raise ValueError(f"kind must be one of {BOUNDS}, got {kind!r}")


def _numpy(t: Tensor) -> np.ndarray:
    return t.detach().to("cpu", torch.float64).numpy()


class HeadedTrunk(ResidualTrunk):
    """A residual trunk (stem, blocks) with one ``LinearHead`` per stage, ``heads[t]`` on z_t.

    ``head`` is ``None``: the output of the network is a choice of head (the last by default,
    ``forward``). ``step`` and ``features`` are those of ``ResidualTrunk``.

    Parameters
    ----------
    trunk : ResidualTrunk
        A residual trunk without a head (``d_out=None``), ``skip=True``; its stem and blocks are
        taken over.
    heads : sequence of LinearHead
        ``len(trunk.blocks) + 1`` heads: head 0 reads the stem's output ``z_0``.

    Examples
    --------
    >>> import torch
    >>> from fboost.nn import LinearHead, TabularResNet
    >>> from fboost.nn._stagewise import HeadedTrunk
    >>> trunk = TabularResNet(d_in=3, d_out=None, d_block=4, n_blocks=2)
    >>> net = HeadedTrunk(trunk, [LinearHead(d_in=4, d_out=2) for _ in range(3)])
    >>> net.eval()(torch.zeros(5, 3)).shape
    torch.Size([5, 2])
    """

    heads: nn.ModuleList

    def __init__(self, trunk: ResidualTrunk, heads: Sequence[LinearHead]) -> None:
        super().__init__()
        if trunk.head is not None or not trunk.skip:
            raise ValueError("trunk must be residual (skip=True) and have no head (d_out=None)")
        if len(heads) != len(trunk.blocks) + 1:
            raise ValueError(
                f"heads must hold one head per stage, len(trunk.blocks) + 1 = "
                f"{len(trunk.blocks) + 1}; got {len(heads)}"
            )
        _init_trunk(self, trunk.stem, list(trunk.blocks), None, True)
        self.heads = nn.ModuleList(heads)

    def forward(self, x: Tensor) -> Tensor:
        z = self.stem(x)
        for block in self.blocks:
            z = z + block(z)
        return self.heads[-1](z)

    def zero_residuals(self) -> None:
        """Zero every block's last layer, so that a fresh block is the identity (``f_t = 0``)."""
        with torch.no_grad():
            for block in self.blocks:
                last = getattr(block, "linear2", getattr(block, "conv2", None))
                if not isinstance(last, nn.Linear | nn.Conv2d):
                    raise TypeError(f"no last layer (linear2 or conv2) in block {block!r}")
                last.weight.zero_()
                if last.bias is not None:
                    last.bias.zero_()


# -- the additive model -----------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class HeadScores:
    """``s_t(z) = offset + weights[t] * bound(head_t(z))`` in the user's link space, float64."""

    module: HeadedTrunk
    weights: np.ndarray  # (n_heads,)
    offset: np.ndarray  # (n_outputs,)
    kind: str = "identity"

    def __call__(self, head: int, z: Tensor) -> np.ndarray:
        logits = _numpy(self.module.heads[head](z))
        return self.offset + self.weights[head] * bound(logits, self.kind)


@dataclass(frozen=True, eq=False)
class HeadStart:
    """``x -> (F_0(x), (z_0, s_0))`` with ``z_0 = stem(x)`` and ``F_0 = s_0 = s_0(z_0)``."""

    scores: HeadScores

    @property
    def module(self) -> HeadedTrunk:
        return self.scores.module

    def __call__(self, x: Tensor) -> tuple[np.ndarray, tuple[Tensor, np.ndarray]]:
        z = self.module.stem(x)
        s = self.scores(0, z)
        return s, (z, s)


@dataclass(frozen=True, eq=False)
class HeadStage:
    """Block ``index`` (0-based) and head ``index + 1``: ``(z, s_prev) -> s_t - s_prev``."""

    scores: HeadScores
    index: int

    def advance(
        self, x: Tensor, carry: tuple[Tensor, np.ndarray]
    ) -> tuple[np.ndarray, tuple[Tensor, np.ndarray]]:
        z, previous = carry
        z = self.scores.module.step(self.index, z)[1]
        s = self.scores(self.index + 1, z)
        return s - previous, (z, s)


class StagewiseModel(TrunkModel):
    """A ``TrunkModel`` whose output is the last kept stage's head."""

    start: HeadStart  # type: ignore[assignment]
    stages: list[HeadStage]  # type: ignore[assignment]

    @torch.no_grad()
    def raw(self, X: Any) -> np.ndarray:
        """``s_T(X)``: the kept blocks, then the last kept stage's head (no other head runs)."""
        module, parts = self.module, []
        head = self.stages[-1].index + 1 if self.stages else 0
        for x in self._batches(X):
            z = module.stem(x)
            for stage in self.stages:
                z = module.step(stage.index, z)[1]
            parts.append(self.start.scores(head, z))
        return np.concatenate(parts, axis=0)


# -- training ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class StageScore:
    """What a rule records for one stage: its head's weight and the running model's losses."""

    weight: float
    train: float
    validation: float = np.nan


class StageRule(Protocol):
    """What a stage minimises and how its head is weighted (one rule per estimator).

    ``loss`` is the objective of the stage's block and head, on the head's logits (module
    units). ``accept`` is called once per stage, in order (stage 0 first), with the head's logits
    on the training and validation rows, and returns the stage's weight and scores; ``reset``
    forgets every accepted stage.
    """

    def loss(self, logits: Tensor, y: Tensor, sample_weight: Tensor | None) -> Tensor: ...

    def accept(self, logits: np.ndarray, logits_val: np.ndarray | None) -> StageScore: ...

    def reset(self) -> None: ...


@dataclass
class StagewiseFit:
    """What ``fit_stagewise`` returns; lists are over the kept stages 0..n_stages."""

    n_stages: int  # kept blocks
    scores: list[StageScore] = field(default_factory=list)
    validation_score: list[float] = field(default_factory=list)  # every trained stage 1..
    stage_times: list[float] = field(default_factory=list)  # wall s, every trained stage 0..
    stage_cpu_times: list[float] = field(default_factory=list)  # process CPU s, likewise
    epochs: int = 0
    fine_tune_loss: list[float] = field(default_factory=list)


class _StageNet(nn.Module):
    """What one stage trains: ``head(z + body(z))`` (a block), ``head(body(z))`` (the stem), or
    ``head(z)`` (a head alone)."""

    def __init__(self, body: nn.Module | None, head: nn.Module, residual: bool) -> None:
        super().__init__()
        self.body, self.head, self.residual = body, head, residual

    def forward(self, z: Tensor) -> Tensor:
        if self.body is not None:
            out = self.body(z)
            z = z + out if self.residual else out
        return self.head(z)


class _Prefix(nn.Module):
    """The first ``n_blocks`` blocks and head ``n_blocks``: what fine-tuning trains end to end."""

    def __init__(self, net: HeadedTrunk, n_blocks: int) -> None:
        super().__init__()
        self.net, self.n_blocks = net, n_blocks

    def forward(self, x: Tensor) -> Tensor:
        z = self.net.stem(x)
        for index in range(self.n_blocks):
            z = self.net.step(index, z)[1]
        return self.net.heads[self.n_blocks](z)


@dataclass
class _Rows:
    """One split's cached trunk output ``z`` with its targets."""

    z: Tensor
    data: TensorData

    @property
    def tensors(self) -> TensorData:
        return TensorData(self.z, self.data.y, self.data.sample_weight)


@dataclass
class _Loop:
    """The settings every stage shares."""

    net: HeadedTrunk
    rule: StageRule
    optimizer: Callable[[list[nn.Parameter]], torch.optim.Optimizer]
    batch_size: int
    epochs: int

    #: rows per evaluation pass are chosen so that one feature map holds at most this many floats
    max_batch_elements: ClassVar[int] = 2**23

    def train(
        self,
        module: nn.Module,
        train: TensorData,
        val: TensorData | None,
        *,
        warm: bool = True,
        epochs: int | None = None,
    ) -> TrainHistory:
        """``epochs`` epochs, keeping the best epoch on the validation rows (the last without
        them); a warm start (the running model) is kept when the result does not beat it, on the
        validation rows or else on the training rows."""
        trainer = Trainer(
            module=module,
            loss_fn=self.rule.loss,
            optimizer=self.optimizer(list(module.parameters())),
            batch_size=self.batch_size,
            max_epochs=self.epochs if epochs is None else epochs,
        )
        if not warm:
            return trainer.fit(train, val)
        start, before = trainer.snapshot(), trainer.evaluate(train if val is None else val)
        history = trainer.fit(train, val)
        after = min(history.validation_loss) if val is not None else trainer.evaluate(train)
        if after >= before:
            module.load_state_dict(start)
            history.best_epoch = 0
        return history

    @torch.no_grad()
    def map(self, fn: Callable[[Tensor], Tensor], x: Tensor) -> Tensor:
        """``fn`` over row batches in eval mode (the frozen trunk; nothing kept for autograd)."""
        self.net.eval()
        width = max(1, int(x[:1].numel()), int(fn(x[:1]).numel()))
        rows = max(1, self.max_batch_elements // width)
        return torch.cat([fn(x[i : i + rows]) for i in range(0, len(x), rows)])

    def accept(self, head: int, train: _Rows, val: _Rows | None) -> StageScore:
        module = self.net.heads[head]
        logits = _numpy(self.map(module, train.z))
        logits_val = None if val is None else _numpy(self.map(module, val.z))
        return self.rule.accept(logits, logits_val)


def _stepper(net: HeadedTrunk, index: int) -> Callable[[Tensor], Tensor]:
    """``z_{t-1} -> z_t`` through block ``index`` (0-based)."""
    return lambda z: net.step(index, z)[1]


def fit_stagewise(
    net: HeadedTrunk,
    rule: StageRule,
    train: TensorData,
    validation: TensorData | None,
    *,
    optimizer: Callable[[list[nn.Parameter]], torch.optim.Optimizer],
    batch_size: int,
    epochs: int,
    fine_tune_epochs: int = 0,
    n_iter_no_change: int | None = None,
    tol: float = 0.0,
    verbose: int = 0,
    desc: str = "stages",
) -> StagewiseFit:
    """Train ``net`` stage by stage on the rule's objective; truncate to the best stage.

    Stage 0 trains the stem and head 0 on the inputs. Stage t >= 1 starts from head t-1's
    weights and a block whose last layer is zero (so the stage starts at the running model),
    trains block t and head t for ``epochs`` epochs on the cached ``z_{t-1}`` and keeps the best
    epoch on the rule's objective over the validation rows (the last epoch without them), or its
    starting point when that does not beat it (on the validation rows, else the training rows:
    a stage never makes the running model worse on that objective), then caches
    ``z_t = z_{t-1} + f_t(z_{t-1})`` in eval mode. With ``n_iter_no_change``, training stops once
    the rule's validation score has not improved by more than ``tol`` for that many stages, and the
    model keeps the stages up to the best one (at least one). ``fine_tune_epochs`` then trains the
    kept stem, blocks and last head end to end on the same objective (keeping its best epoch, or
    the stagewise network when no epoch beats it) and refits heads 0..T-1 on the fine-tuned
    features (head only, ``epochs`` each), so that every stage's score is again its own head's.
    """
    loop = _Loop(net, rule, optimizer, batch_size, epochs)
    fit = StagewiseFit(n_stages=0)
    rule.reset()
    n_blocks = len(net.blocks)
    net.zero_residuals()
    stopper = EarlyStopping(n_iter_no_change if validation is not None else None, tol)
    with progress_bar(n_blocks + 1, verbose, desc) as bar:
        for t in range(n_blocks + 1):
            begin, begin_cpu = time.perf_counter(), time.process_time()
            if t == 0:
                stem = _StageNet(net.stem, net.heads[0], residual=False)
                loop.train(stem, train, validation, warm=False)
                rows = _Rows(loop.map(net.stem, train.X), train)
                rows_val = (
                    None
                    if validation is None
                    else _Rows(loop.map(net.stem, validation.X), validation)
                )
            else:
                block, head = net.blocks[t - 1], net.heads[t]
                head.load_state_dict(net.heads[t - 1].state_dict())
                loop.train(
                    _StageNet(block, head, residual=True),
                    rows.tensors,
                    None if rows_val is None else rows_val.tensors,
                )
                step = _stepper(net, t - 1)
                rows = _Rows(loop.map(step, rows.z), train)
                if rows_val is not None:
                    rows_val = _Rows(loop.map(step, rows_val.z), rows_val.data)
            fit.scores.append(loop.accept(t, rows, rows_val))
            fit.epochs += epochs
            fit.stage_times.append(time.perf_counter() - begin)
            fit.stage_cpu_times.append(time.process_time() - begin_cpu)
            postfix = {"train": fit.scores[-1].train}
            stop = False
            if t > 0 and rows_val is not None:
                fit.validation_score.append(fit.scores[-1].validation)
                postfix["val"] = fit.validation_score[-1]
                stop = stopper.update(fit.validation_score[-1], t - 1)
            bar.set_postfix(postfix)  # stages are slow: show every one
            bar.update()
            if stop:
                break
    fit.n_stages = stopper.best_index + 1 if stopper.enabled else len(fit.scores) - 1
    fit.scores = fit.scores[: fit.n_stages + 1]
    if fine_tune_epochs > 0:
        _fine_tune(loop, fit, train, validation, fine_tune_epochs)
    net.eval()
    return fit


def _fine_tune(
    loop: _Loop,
    fit: StagewiseFit,
    train: TensorData,
    validation: TensorData | None,
    epochs: int,
) -> None:
    """End-to-end training of the kept prefix, then every earlier head refitted on its new z."""
    net, n_blocks = loop.net, fit.n_stages
    history = loop.train(_Prefix(net, n_blocks), train, validation, epochs=epochs)
    fit.fine_tune_loss = history.train_loss
    fit.epochs += len(history.train_loss)
    loop.rule.reset()
    rows = _Rows(loop.map(net.stem, train.X), train)
    rows_val = None if validation is None else _Rows(loop.map(net.stem, validation.X), validation)
    fit.scores = []
    for t in range(n_blocks + 1):
        if t < n_blocks:
            loop.train(
                _StageNet(None, net.heads[t], residual=False),
                rows.tensors,
                None if rows_val is None else rows_val.tensors,
            )
            fit.epochs += loop.epochs
        fit.scores.append(loop.accept(t, rows, rows_val))
        if t < n_blocks:
            step = _stepper(net, t)
            rows = _Rows(loop.map(step, rows.z), train)
            if rows_val is not None:
                rows_val = _Rows(loop.map(step, rows_val.z), rows_val.data)
