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
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

import numpy as np
import torch
from scipy.special import expit, softmax
from sklearn.exceptions import ConvergenceWarning
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


def bound_torch(logits: Tensor, kind: str) -> Tensor:
    """``bound`` on a tensor, differentiable (what the paper's oracle trains through)."""
    if kind == "identity":
        return logits
    if kind == "tanh":
        return 2.0 * torch.sigmoid(logits) - 1.0
    if kind == "softmax":
        return torch.softmax(logits, dim=1)
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
        for block in self.blocks:
            _zero_last(block)


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
    """What a rule records for one stage: its head's weight, the running model's losses (the
    stage's objective) and, for a boosting rule, the stage's edge (NaN otherwise)."""

    weight: float
    train: float
    validation: float = np.nan
    edge: float = np.nan


class StageRule(Protocol):
    """What a stage minimises and how its head is weighted (one rule per estimator).

    ``weighted`` is the bound of the head (``"softmax"``, ``"tanh"``) when the stage learns its
    head's weight with the block (the network then outputs ``weight * bound(head)``, and
    ``loss`` reads that score), or ``None`` when ``loss`` reads the head's logits. ``accept``
    is called once per stage, in order (stage 0 first), with the head's logits on the training
    and validation rows and the learned weight (``None`` when not learned); it returns the
    stage's weight and scores. ``reject`` forgets the last accepted stage (one level: it follows
    an ``accept``), ``reset`` all.
    """

    weighted: str | None

    def loss(self, logits: Tensor, y: Tensor, sample_weight: Tensor | None) -> Tensor: ...

    def accept(
        self, logits: np.ndarray, logits_val: np.ndarray | None, weight: float | None = None
    ) -> StageScore: ...

    def reject(self) -> None: ...

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
    retries: list[int] = field(default_factory=list)  # fresh starts of each kept stage 0..
    failed: tuple[int, float] | None = None  # (stage, edge) that stopped training, if one did


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


#: a learned head weight lies in (0, MAX_WEIGHT): arctanh(1 - 1e-6), the cap of an edge's alpha
MAX_WEIGHT = float(np.arctanh(1.0 - 1e-6))


class _Weighted(nn.Module):
    """``weight * bound(net(z))`` with ``weight = MAX_WEIGHT * sigmoid(u)`` learned with ``net``:
    the score of a hypothesis module, which the paper's oracle trains jointly (f, alpha, W)."""

    def __init__(self, net: nn.Module, kind: str, weight: float) -> None:
        super().__init__()
        self.net, self.kind = net, kind
        p = float(np.clip(weight / MAX_WEIGHT, 1e-4, 1 - 1e-4))
        self.u = nn.Parameter(torch.tensor(np.log(p / (1 - p)), dtype=torch.float32))

    @property
    def weight(self) -> float:
        return float(MAX_WEIGHT * torch.sigmoid(self.u.detach().double()).item())

    def forward(self, z: Tensor) -> Tensor:
        return MAX_WEIGHT * torch.sigmoid(self.u) * bound_torch(self.net(z), self.kind)


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
    #: (2**20: 4 MiB; a block's hidden maps are a few times that). Larger passes made the
    #: transient maps of caching z_t, not the blocks, BoostResNet's peak memory
    #: (``bench/bench_memory.py``: 206 MiB against the end-to-end ResNet's 66 at T = 4 with 2**23)
    max_batch_elements: ClassVar[int] = 2**20

    def train(
        self,
        module: nn.Module,
        train: TensorData,
        val: TensorData | None,
        *,
        epochs: int | None = None,
        weight: float = 1.0,
    ) -> tuple[TrainHistory, float | None]:
        """``epochs`` epochs, keeping the best epoch on the validation rows (the last without
        them). With a rule that learns the head's weight, ``module`` is trained inside
        ``_Weighted`` from ``weight``; returns the history and the learned weight (``None``
        otherwise)."""
        kind = self.rule.weighted
        if kind is not None:
            module = _Weighted(module, kind, weight).to(next(module.parameters()).device)
        optimizer = self.optimizer(list(module.parameters()))
        history = Trainer(
            module=module,
            loss_fn=self.rule.loss,
            optimizer=optimizer,
            batch_size=self.batch_size,
            max_epochs=self.epochs if epochs is None else epochs,
        ).fit(train, val)
        optimizer.zero_grad(set_to_none=True)  # a frozen stage keeps no gradient buffers
        return history, module.weight if isinstance(module, _Weighted) else None

    def _rows_per_pass(self, x: Tensor, fn: Callable[[Tensor], Tensor]) -> int:
        width = max(1, int(x[:1].numel()), int(fn(x[:1]).numel()))
        return max(1, self.max_batch_elements // width)

    @torch.no_grad()
    def map(
        self, fn: Callable[[Tensor], Tensor], x: Tensor, *, out: Tensor | None = None
    ) -> Tensor:
        """``fn`` over row batches in eval mode (the frozen trunk; nothing kept for autograd),
        written into ``out`` (a new tensor when ``None``; ``out=x`` advances a cache in place:
        rows are independent in eval mode)."""
        self.net.eval()
        rows = self._rows_per_pass(x, fn)
        for i in range(0, len(x), rows):
            part = fn(x[i : i + rows])
            if out is None:
                out = part.new_empty((len(x), *part.shape[1:]))
            out[i : i + rows] = part
        assert out is not None  # (x has rows)
        return out

    @torch.no_grad()
    def logits(
        self,
        head: int,
        z: Tensor,
        step: Callable[[Tensor], Tensor] | None = None,
        *,
        update: bool = False,
    ) -> np.ndarray:
        """Head ``head``'s logits on ``step(z)`` (on ``z`` without ``step``), in row batches;
        ``update`` overwrites ``z`` with ``step(z)`` in the same pass, so that the next stage's
        cache ``z_t`` takes the place of ``z_{t-1}`` without a second copy of the rows."""
        self.net.eval()
        module = self.net.heads[head]
        advance = (lambda part: part) if step is None else step
        rows = self._rows_per_pass(z, advance)
        parts = []
        for i in range(0, len(z), rows):
            part = advance(z[i : i + rows])
            if update and step is not None:
                z[i : i + rows] = part
            parts.append(module(part))
        return _numpy(torch.cat(parts))

    def accept(
        self,
        head: int,
        train: _Rows,
        val: _Rows | None,
        weight: float | None,
        step: Callable[[Tensor], Tensor] | None = None,
        *,
        update: bool = False,
    ) -> StageScore:
        """The rule's verdict on head ``head`` over ``step(z)`` (``logits``, ``update``)."""
        logits = self.logits(head, train.z, step, update=update)
        logits_val = None if val is None else self.logits(head, val.z, step, update=update)
        return self.rule.accept(logits, logits_val, weight)


def _redraw(module: nn.Module) -> None:
    """Draw fresh initial weights for every layer of ``module`` (a retry's fresh start)."""
    for layer in module.modules():
        reset = getattr(layer, "reset_parameters", None)
        if layer is not module and callable(reset):
            reset()


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
    gamma_threshold: float | None = None,
    max_retries: int = 0,
    verbose: int = 0,
    desc: str = "stages",
) -> StagewiseFit:
    """Train ``net`` stage by stage on the rule's objective; truncate to the best stage.

    Stage 0 trains the stem and head 0 on the inputs. Stage t >= 1 starts from head t-1's
    weights (and weight) and a block whose last layer is zero, so that it starts at the running
    model; it trains block t and head t for ``epochs`` epochs on the cached ``z_{t-1}`` and keeps
    the best epoch on the rule's objective over the validation rows (the last epoch without
    them), then caches ``z_t = z_{t-1} + f_t(z_{t-1})`` in eval mode. Nothing forces a stage to
    lower the running model's objective: the weak-learning condition is what judges it.

    With ``gamma_threshold``, a stage t >= 1 whose edge (``StageScore.edge``) is not above it
    is trained again from a fresh start (new random weights in the block; the head and its
    weight back at the running model's), at most ``max_retries`` times; if it still fails,
    training stops there with a ``ConvergenceWarning`` naming the stage and its edge, and the
    stage is not kept. Stage 0 (``F_0``) is not judged.

    With ``n_iter_no_change``, training stops once the rule's validation score has not improved
    by more than ``tol`` for that many stages, and the model keeps the stages up to the best one.
    ``fine_tune_epochs`` then trains the kept stem, blocks and last head end to end on the same
    objective (keeping its best validation epoch, or the last) and
    refits heads 0..T-1 on the fine-tuned features (head only, ``epochs`` each), so that every
    stage's score is again its own head's.
    """
    loop = _Loop(net, rule, optimizer, batch_size, epochs)
    fit = StagewiseFit(n_stages=0)
    rule.reset()
    n_blocks = len(net.blocks)
    net.zero_residuals()
    stopper = EarlyStopping(n_iter_no_change if validation is not None else None, tol)
    rows = _Rows(train.X, train)
    rows_val = None if validation is None else _Rows(validation.X, validation)
    weight = 1.0
    with progress_bar(n_blocks + 1, verbose, desc) as bar:
        for t in range(n_blocks + 1):
            begin, begin_cpu = time.perf_counter(), time.process_time()
            for attempt in range(max_retries + 1):
                learned = _train_stage(loop, t, rows, rows_val, weight, attempt)
                fit.epochs += epochs
                # a stage that may be retried leaves z_{t-1} as it is until it passes
                keep = t > 0 and gamma_threshold is not None and attempt < max_retries
                rows, rows_val, score = _cache_stage(loop, t, rows, rows_val, learned, keep)
                passed = t == 0 or gamma_threshold is None or bool(score.edge > gamma_threshold)
                if passed:
                    if keep:
                        _advance(loop, t, rows, rows_val)
                    break
                rule.reject()
            fit.stage_times.append(time.perf_counter() - begin)
            fit.stage_cpu_times.append(time.process_time() - begin_cpu)
            if not passed:
                fit.failed = (t, float(score.edge))
                warnings.warn(
                    f"stage {t} did not pass the weak-learning condition: edge {score.edge:.4g} "
                    f"<= gamma_threshold={gamma_threshold} after {max_retries} retries; "
                    f"training stopped, keeping {t - 1} block(s)",
                    ConvergenceWarning,
                    stacklevel=3,
                )
                break
            weight = learned if learned is not None else weight
            fit.scores.append(score)
            fit.retries.append(attempt)
            postfix = {"train": score.train}
            stop = False
            if t > 0 and rows_val is not None:
                fit.validation_score.append(score.validation)
                postfix["val"] = score.validation
                stop = stopper.update(score.validation, t - 1)
            bar.set_postfix(postfix)  # stages are slow: show every one
            bar.update()
            if stop:
                break
    kept = len(fit.scores) - 1
    fit.n_stages = min(stopper.best_index + 1, kept) if stopper.best_index >= 0 else kept
    fit.scores = fit.scores[: fit.n_stages + 1]
    fit.retries = fit.retries[: fit.n_stages + 1]
    if fine_tune_epochs > 0 and fit.n_stages > 0:
        _fine_tune(loop, fit, train, validation, fine_tune_epochs)
    net.eval()
    return fit


def _train_stage(
    loop: _Loop,
    t: int,
    rows: _Rows,
    rows_val: _Rows | None,
    weight: float,
    attempt: int,
) -> float | None:
    """Train stage t (attempt 0, or a fresh start) on the cached rows; return the learned head
    weight (``None`` when the rule does not learn one)."""
    net = loop.net
    val = None if rows_val is None else rows_val.tensors
    if t == 0:
        _, learned = loop.train(
            _StageNet(net.stem, net.heads[0], residual=False), rows.tensors, val
        )
        return learned
    block, head = net.blocks[t - 1], net.heads[t]
    if attempt > 0:
        _redraw(block)
    _zero_last(block)
    head.load_state_dict(net.heads[t - 1].state_dict())
    _, learned = loop.train(_StageNet(block, head, residual=True), rows.tensors, val, weight=weight)
    return learned


def _cache_stage(
    loop: _Loop,
    t: int,
    rows: _Rows,
    rows_val: _Rows | None,
    learned: float | None,
    keep: bool,
) -> tuple[_Rows, _Rows | None, StageScore]:
    """Score stage t and cache its output: the rows of ``z_t`` and the rule's verdict.

    Stage 0 caches ``z_0 = stem(x)`` in new tensors (the inputs stay as they are). Stage t >= 1
    overwrites the cache ``z_{t-1}`` with ``z_t`` in the pass that scores head t, so that one
    copy of the rows' features lives at a time (BoostResNet's memory is that of one block plus
    the cache, ``bench/bench_memory.py``); with ``keep`` it scores without caching and leaves
    ``z_{t-1}`` for a retry (``_advance`` caches it once the stage passes).
    """
    net = loop.net
    if t == 0:
        rows = _Rows(loop.map(net.stem, rows.z), rows.data)
        if rows_val is not None:
            rows_val = _Rows(loop.map(net.stem, rows_val.z), rows_val.data)
        return rows, rows_val, loop.accept(0, rows, rows_val, learned)
    step = _stepper(net, t - 1)
    return rows, rows_val, loop.accept(t, rows, rows_val, learned, step, update=not keep)


def _advance(loop: _Loop, t: int, rows: _Rows, rows_val: _Rows | None) -> None:
    """``z_{t-1} -> z_t`` in place on the cached rows (block t, 1-based)."""
    step = _stepper(loop.net, t - 1)
    for part in (rows, rows_val):
        if part is not None:
            loop.map(step, part.z, out=part.z)


def _zero_last(block: nn.Module) -> None:
    """Zero a block's last layer: a fresh block is the identity (its stage starts at s_{t-1})."""
    last = getattr(block, "linear2", getattr(block, "conv2", None))
    if not isinstance(last, nn.Linear | nn.Conv2d):
        raise TypeError(f"no last layer (linear2 or conv2) in block {block!r}")
    with torch.no_grad():
        last.weight.zero_()
        if last.bias is not None:
            last.bias.zero_()


def _fine_tune(
    loop: _Loop,
    fit: StagewiseFit,
    train: TensorData,
    validation: TensorData | None,
    epochs: int,
) -> None:
    """End-to-end training of the kept prefix, then every earlier head refitted on its new z."""
    net, n_blocks = loop.net, fit.n_stages
    weights = [s.weight for s in fit.scores]
    history, last = loop.train(
        _Prefix(net, n_blocks), train, validation, epochs=epochs, weight=weights[-1]
    )
    fit.fine_tune_loss = history.train_loss
    fit.epochs += len(history.train_loss)
    loop.rule.reset()
    rows = _Rows(loop.map(net.stem, train.X), train)
    rows_val = None if validation is None else _Rows(loop.map(net.stem, validation.X), validation)
    fit.scores = []
    for t in range(n_blocks + 1):
        learned = last
        if t < n_blocks:
            _, learned = loop.train(
                _StageNet(None, net.heads[t], residual=False),
                rows.tensors,
                None if rows_val is None else rows_val.tensors,
                weight=weights[t],
            )
            fit.epochs += loop.epochs
        fit.scores.append(loop.accept(t, rows, rows_val, learned))
        if t < n_blocks:
            _advance(loop, t + 1, rows, rows_val)
