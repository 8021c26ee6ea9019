"""What a BoostResNet stage minimises and how its head is weighted: the ``StageRule`` s.

- ``BoostResNetCost``: Huang et al.'s (2018) multiclass cost-matrix rule: the oracle's
  objective (``exponential_loss`` of the module's bounded score ``alpha o``, alpha learned with
  the block and head), the hypothesis module's edge over the cost at the running score, the
  weak module classifier's edge;
- ``SquaredRule``: the squared-loss counterpart (every head weight 1).

The costs, edges and exponential losses are computed with ``fboost.analysis.edges``'s own
helpers, so that the numbers recorded while training are the ones that function reports.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from ..analysis._edges import _exp_loss as _cost_at
from ..analysis._edges import _two_columns
from ..losses import Loss
from ._stagewise import StageScore, bound

__all__ = ["BoostResNetCost", "SquaredRule", "exponential_loss", "EDGE_MARGIN", "MAX_MARGIN"]

#: gamma~_{t-1}^2 is clipped to 1 - EDGE_MARGIN in the edge formula (no division by zero)
EDGE_MARGIN = 1e-6
#: the exponential cost's exponent is clipped here in training (exp(30) ~ 1e13), against overflow
MAX_MARGIN = 30.0


def exponential_loss(logits: Tensor, y: Tensor, sample_weight: Tensor | None = None) -> Tensor:
    """The oracle's objective: weighted mean of ``sum_{l != y_i} exp(o(x_i, l) - o(x_i, y_i))``.

    One binary column ``F`` stands for the scores ``(0, F)``: the loss is ``exp(-y' F)``, with
    ``y'`` in {-1, +1} (AdaBoost's). The exponent is clipped at ``MAX_MARGIN`` against overflow.
    """
    if logits.shape[1] == 1:
        margin = -(2.0 * y.to(logits.dtype) - 1.0) * logits[:, 0]
    else:
        codes = y.long()[:, None]
        gaps = logits - logits.gather(1, codes)
        gaps = gaps.scatter(1, codes, float("-inf"))  # l != y_i only
        margin = torch.logsumexp(gaps, dim=1)
    losses = torch.exp(margin.clamp(max=MAX_MARGIN))
    if sample_weight is None:
        return losses.mean()
    return (losses * sample_weight).sum() / sample_weight.sum()


class BoostResNetCost:
    """BoostResNet's multiclass cost-matrix rule (Huang et al. 2018, after Mukherjee & Schapire).

    With the running score ``s_{t-1}`` (``s_{-1} = 0``), the cost is
    ``C(i, l) = w_i exp(s_{t-1}(x_i, l) - s_{t-1}(x_i, y_i))`` for ``l != y_i``; the hypothesis
    module is the head's bounded output ``o_t`` (softmax over classes, or ``tanh(F/2)`` for one
    binary column) and its edge
    ``gamma~_t = sum_i sum_{l != y_i} C(i, l) (o_t(x_i, y_i) - o_t(x_i, l)) / sum C``, in [-1, 1].
    ``alpha_t`` is the weight learned with the block and head (the stage network outputs
    ``alpha o``, and ``loss`` is the exponential loss of that score), ``s_t = alpha_t o_t``.
    Recorded per stage: the paper's formula ``gamma_t = sqrt((gamma~_t^2 - gamma~_{t-1}^2) /
    (1 - gamma~_{t-1}^2))`` (signed: negative when ``gamma~`` fell, as in the authors' code;
    ``gamma_0 = gamma~_0``), and the edge of ``h_t = s_t - s_{t-1}`` itself under the cost,
    which is the stage's ``StageScore.edge`` (0 when ``h_t`` is exactly 0).
    """

    def __init__(
        self,
        kind: str,
        y: np.ndarray,
        sample_weight: np.ndarray,
        y_val: np.ndarray | None,
        w_val: np.ndarray | None,
    ) -> None:
        self.kind = kind
        self.weighted: str | None = kind
        self.y, self.w, self.y_val, self.w_val = y, sample_weight, y_val, w_val
        self.records: list[dict[str, float]] = []
        self.reset()

    def reset(self) -> None:
        self.records = []
        self.score: np.ndarray | None = None  # s_{t-1}(x_i, l), two columns for binary
        self.previous_edge = 0.0
        #: the state before the last accept, for one ``reject`` (only the last score is kept:
        #: one array of the rows' scores, not one per stage)
        self._before_last: tuple[np.ndarray | None, float] = (None, 0.0)

    def reject(self) -> None:
        self.records.pop()
        self.score, self.previous_edge = self._before_last

    def loss(self, logits: Tensor, y: Tensor, sample_weight: Tensor | None) -> Tensor:
        return exponential_loss(logits, y, sample_weight)

    def _hypothesis(self, logits: np.ndarray) -> np.ndarray:
        return _two_columns(bound(logits, self.kind))

    def accept(
        self, logits: np.ndarray, logits_val: np.ndarray | None, weight: float | None = None
    ) -> StageScore:
        o = self._hypothesis(logits)
        onehot = _onehot(self.y, o.shape[1])
        before = np.zeros_like(o) if self.score is None else self.score
        edge_aux = _edge(o, before, onehot, self.w)
        if weight is None:
            raise ValueError("BoostResNet's oracle learns alpha: accept needs the weight")
        alpha = float(weight)
        g2 = self.previous_edge**2
        ratio = (edge_aux**2 - g2) / (1.0 - min(g2, 1 - EDGE_MARGIN))
        edge = float(np.sign(ratio) * np.sqrt(abs(ratio))) if self.score is not None else edge_aux
        score = alpha * o
        h = score - before
        spread = (h.max(axis=1) - h.min(axis=1))[self.w > 0]
        scale = float(spread.max()) if spread.size else 0.0
        edge_raw = _edge(h, before, onehot, self.w)
        validation = np.nan
        if logits_val is not None:
            assert self.y_val is not None and self.w_val is not None
            o_val = alpha * self._hypothesis(logits_val)
            validation = _exp_loss(o_val, _onehot(self.y_val, o.shape[1]), self.w_val)
        self.records.append(
            {
                "edge_aux": edge_aux,
                "edge": edge,
                "alpha": alpha,
                "edge_module": float(np.clip(edge_raw / scale, -1, 1)) if scale > 0 else np.nan,
                "edge_module_raw": edge_raw,
                "exp_loss_after": _exp_loss(score, onehot, self.w),
                "error_after": float(
                    np.average(np.argmax(score, axis=1) != self.y, weights=self.w)
                ),
            }
        )
        self._before_last = (self.score, self.previous_edge)
        self.score, self.previous_edge = score, edge_aux
        return StageScore(
            alpha,
            self.records[-1]["exp_loss_after"],
            validation,
            float(np.nan_to_num(self.records[-1]["edge_module"], nan=0.0)),  # h_t = 0: no edge
        )


def _onehot(y: np.ndarray, n_columns: int) -> np.ndarray:
    onehot = np.zeros((len(y), n_columns), dtype=bool)
    onehot[np.arange(len(y)), np.asarray(y, dtype=np.intp)] = True
    return onehot


def _edge(h: np.ndarray, score: np.ndarray, onehot: np.ndarray, w: np.ndarray) -> float:
    """``sum C(i, l) (h(i, y_i) - h(i, l)) / sum C`` with the cost ``C`` at ``score``."""
    cost, _ = _cost_at(score, onehot, w)
    gap = np.sum(h * onehot, axis=1, keepdims=True) - h
    total = float(cost.sum())
    return float(np.sum(cost * gap)) / total if total > 0 else np.nan


def _exp_loss(score: np.ndarray, onehot: np.ndarray, w: np.ndarray) -> float:
    """Weighted mean over samples of ``sum_{l != y_i} exp(s(x_i, l) - s(x_i, y_i))``."""
    cost, offset = _cost_at(score, onehot, w)
    return float(np.exp(offset) * cost.sum() / w.sum())


class SquaredRule:
    """Squared loss: block t and head t minimise the running model's half squared error.

    Every head has weight 1; scores are in the standardised target's units, reported in the
    user's (times ``units`` = the target's variance).
    """

    weighted: str | None = None

    def __init__(self, loss: Loss, units: float) -> None:
        self.loss_, self.units = loss, units
        self.y: np.ndarray = np.empty(0)
        self.w: np.ndarray = np.empty(0)
        self.y_val: np.ndarray | None = None
        self.w_val: np.ndarray | None = None

    def reset(self) -> None:
        pass

    def reject(self) -> None:
        pass

    def loss(self, logits: Tensor, y: Tensor, sample_weight: Tensor | None) -> Tensor:
        return self.loss_.torch_value(y, logits, sample_weight)

    def accept(
        self, logits: np.ndarray, logits_val: np.ndarray | None, weight: float | None = None
    ) -> StageScore:
        train = self.loss_.value(self.y, logits, self.w) * self.units
        validation = np.nan
        if logits_val is not None:
            assert self.y_val is not None
            validation = self.loss_.value(self.y_val, logits_val, self.w_val) * self.units
        return StageScore(1.0, train, validation)
