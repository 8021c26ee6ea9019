"""ResFGB's pieces in torch: the kernel step, its trunk, and the stagewise loop on cached z.

Nitanda and Suzuki (ICML 2018) grow a feature map ``phi_t`` by functional gradient steps in the
feature space. At stage t, with a linear head ``w_t`` fitted on ``z = phi_{t-1}(x)`` and the
per-sample gradient ``g_j = dl(w_t; z_j, y_j)/dz`` at ``z_j``, the step is the kernel-smoothed
functional gradient

    f_t(z) = -eta * E_n[k_t(z, z_j) g_j] = -eta * iota_t(z) A_t,   A_t = E_n[iota_t(z_j) g_j^T],

with the kernel ``k_t(z, z') = iota_t(z)^T iota_t(z')`` of an embedding ``iota_t`` (a small MLP
trained to regress the normalised gradients, as the authors' code does). ``z_t = z_{t-1} +
f_t(z_{t-1})``: a residual block whose weights ``A_t`` are a closed-form average and whose
embedding is a network, so new inputs go through the same map.

- ``KernelStep``: ``z -> -eta * iota(z) A`` (``A`` and ``eta`` are buffers of the state dict);
- ``KernelTrunk``: identity stem, ``KernelStep`` blocks, an affine ``LinearHead`` without
  BatchNorm; it is a ``ResidualTrunk``, so ``fboost.nn.TrunkModel`` makes it an additive model;
- ``fit_head``: the L2-regularised linear head on the true loss (L-BFGS, full batch);
- ``fit_resfgb``: the loop, truncated to the best stage on the validation rows.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor, nn

from .._training import progress_bar
from ._train import TensorData, Trainer
from .modules import LinearHead, ResidualTrunk, _init_trunk

__all__ = ["Embedding", "KernelStep", "KernelTrunk", "fit_head", "fit_resfgb", "ResFGBFit"]

#: Huber threshold of the embedding's regression loss (the authors' code: 1)
HUBER_DELTA = 1.0


class Embedding(nn.Sequential):
    """``iota: R^d -> [-1, 1]^d``: Linear-ReLU per hidden width, then Linear-Tanh.

    Parameters
    ----------
    d : int
        Width of ``z`` (input and output), > 0.
    hidden : sequence of int
        Hidden widths (may be empty: one Linear-Tanh).
    """

    def __init__(self, d: int, hidden: Sequence[int]) -> None:
        widths = [d, *hidden, d]
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
            # torch's default init: the authors' N(0, 0.05^2) weights with Adam kept no stage
            # on friedman1 (R^2 0.788, the linear model's; 0.935 with the default init)
            layers += [nn.Linear(a, b), nn.Tanh() if i == len(widths) - 2 else nn.ReLU()]
        super().__init__(*layers)


class KernelStep(nn.Module):
    """ResFGB's block ``f(z) = -eta * iota(z) A`` with ``A`` of shape ``(d, d)``.

    Parameters
    ----------
    d : int
        Width of ``z``.
    hidden : sequence of int
        Hidden widths of the embedding ``iota``.
    eta : float
        Step size of the functional gradient step.

    Examples
    --------
    >>> import torch
    >>> from fboost.nn._resfgb import KernelStep
    >>> step = KernelStep(3, [4], eta=0.1)
    >>> step(torch.zeros(2, 3)).abs().max().item()  # A = 0 until set
    0.0
    """

    A: Tensor
    eta: Tensor

    def __init__(self, d: int, hidden: Sequence[int], eta: float) -> None:
        super().__init__()
        self.embedding = Embedding(d, hidden)
        self.register_buffer("A", torch.zeros(d, d))
        self.register_buffer("eta", torch.tensor(float(eta)))

    def forward(self, z: Tensor) -> Tensor:
        return -self.eta * (self.embedding(z) @ self.A)


class KernelTrunk(ResidualTrunk):
    """``z_0 = x`` (standardised), ``z_t = z_{t-1} + f_t(z_{t-1})``, an affine head.

    Parameters
    ----------
    d : int
        Input features (the width of every ``z_t``).
    d_out : int
        Outputs of the head.
    n_blocks : int
        Kernel steps.
    hidden : sequence of int
        Hidden widths of every embedding.
    eta : float
        Step size of every step.
    """

    def __init__(
        self, *, d: int, d_out: int, n_blocks: int, hidden: Sequence[int], eta: float
    ) -> None:
        super().__init__()
        blocks = [KernelStep(d, hidden, eta) for _ in range(n_blocks)]
        head = LinearHead(d_in=d, d_out=d_out, batch_norm=False)
        _init_trunk(self, nn.Identity(), blocks, head, True)


# -- the linear head ---------------------------------------------------------------------------
#: ``pointwise(y, raw) -> (n,)``: the per-sample loss
Pointwise = Callable[[Tensor, Tensor], Tensor]


def _numpy(t: Tensor) -> np.ndarray:
    return t.detach().to("cpu", torch.float64).numpy()


def _weighted_mean(values: Tensor, w: Tensor) -> Tensor:
    return (values * w).sum() / w.sum()


def fit_head(
    head: LinearHead, pointwise: Pointwise, z: Tensor, y: Tensor, w: Tensor, l2: float
) -> float:
    """Minimise ``E_w[l(y, W z + b)] + l2/2 ||W||^2`` over the head, in place, from its weights.

    Full-batch L-BFGS with a strong Wolfe line search (the objective is convex and smooth).
    Returns the weighted mean loss at the solution (without the penalty).
    """
    linear = head.linear
    optimizer = torch.optim.LBFGS(
        linear.parameters(),
        lr=1.0,
        max_iter=500,
        tolerance_grad=1e-9,
        tolerance_change=1e-12,
        history_size=20,
        line_search_fn="strong_wolfe",
    )

    def closure() -> Tensor:
        optimizer.zero_grad()
        objective = _weighted_mean(pointwise(y, linear(z)), w)
        objective = objective + 0.5 * l2 * (linear.weight**2).sum()
        objective.backward()
        return objective

    head.train()
    optimizer.step(closure)
    head.eval()
    with torch.no_grad():
        return float(_weighted_mean(pointwise(y, linear(z)), w))


def feature_gradient(head: LinearHead, pointwise: Pointwise, z: Tensor, y: Tensor) -> Tensor:
    """Per-sample ``g_j = d l(y_j, head(z_j)) / d z_j``, shape of ``z`` (no sample weight)."""
    z = z.detach().requires_grad_(True)
    with torch.enable_grad():
        (grad,) = torch.autograd.grad(pointwise(y, head(z)).sum(), z)
    return grad.detach()


def _huber(out: Tensor, target: Tensor, w: Tensor | None) -> Tensor:
    per_row = nn.functional.huber_loss(out, target, reduction="none", delta=HUBER_DELTA).mean(1)
    return per_row.mean() if w is None else _weighted_mean(per_row, w)


# -- the loop ----------------------------------------------------------------------------------
@dataclass
class ResFGBFit:
    """What ``fit_resfgb`` returns (losses in module units)."""

    n_stages: int  # kept steps
    train_loss: list[float] = field(default_factory=list)  # head t on z_t, t = 0..trained
    validation_loss: list[float] = field(default_factory=list)  # likewise, with validation rows
    validation_error: list[float] = field(default_factory=list)  # classifiers: 1 - accuracy
    stage_times: list[float] = field(default_factory=list)
    heads: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)  # (W, b) per stage
    epochs: int = 0


@dataclass
class _Best:
    """The best stage so far by ``(error, loss)``: error first (classifiers), then loss - tol."""

    patience: int | None
    tol: float
    key: tuple[float, float] = (np.inf, np.inf)
    index: int = -1
    since: int = 0

    def update(self, error: float, loss: float, index: int) -> bool:
        best_error, best_loss = self.key
        better = error < best_error - 1e-12 or (
            error <= best_error + 1e-12 and loss < best_loss - self.tol
        )
        if better or self.index < 0:
            self.key, self.index, self.since = (error, loss), index, 0
        else:
            self.since += 1
        return self.patience is not None and self.since >= self.patience


def fit_resfgb(
    net: KernelTrunk,
    pointwise: Pointwise,
    train: TensorData,
    validation: TensorData | None,
    *,
    error: Callable[[Tensor, Tensor, Tensor], Tensor] | None,
    head_l2: float,
    embedding_l2: float,
    lr: float,
    batch_size: int,
    epochs: int,
    n_iter_no_change: int | None,
    tol: float,
    verbose: int = 0,
    desc: str = "ResFGB",
) -> ResFGBFit:
    """Train ``net``'s heads and steps stage by stage; keep the best stage and its head.

    Stage 0 fits the head on ``z_0``. Stage t >= 1 takes the per-sample gradients ``g_j`` of the
    loss through head t-1 at ``z_{t-1}``, trains the embedding ``iota_t`` for ``epochs`` epochs
    (Adam with L2 ``embedding_l2``, Huber loss) to regress ``g_j / rms(g_j)``, sets
    ``A_t = E_w[iota_t(z_j) g_j^T]``, advances ``z_t = z_{t-1} + f_t(z_{t-1})`` (training and
    validation rows) and refits the head on ``z_t`` from head t-1's weights. With validation
    rows, the best stage is the one of lowest validation ``error`` (classifiers: error rate),
    ties broken by the validation loss (a lower loss by more than ``tol``); regressors compare the
    loss alone. Training stops after ``n_iter_no_change`` stages without a better one; the net
    keeps the steps up to the best stage (possibly none) and that stage's head.
    """
    y, w = train.y, train.sample_weight
    assert w is not None
    head = net.head
    assert head is not None
    z = train.X
    zv = None if validation is None else validation.X
    fit = ResFGBFit(n_stages=0)
    best = _Best(n_iter_no_change if validation is not None else None, tol)
    heads: list[dict[str, Tensor]] = []
    n_blocks = len(net.blocks)
    with progress_bar(n_blocks + 1, verbose, desc) as bar:
        for t in range(n_blocks + 1):
            begin = time.perf_counter()
            if t > 0:
                block = net.blocks[t - 1]
                assert isinstance(block, KernelStep)
                grads = feature_gradient(head, pointwise, z, y)
                # every g_j to unit RMS, as the authors' (ICML) code: a global factor instead
                # (their later code) made steps about d times smaller, and early stopping kept
                # no stage on breast_cancer, diabetes or friedman1
                scale = grads.pow(2).mean(dim=1, keepdim=True).sqrt() + 1e-10
                trainer = Trainer(
                    module=block.embedding,
                    loss_fn=_huber,
                    optimizer=torch.optim.Adam(
                        block.embedding.parameters(), lr=lr, weight_decay=embedding_l2
                    ),
                    batch_size=batch_size,
                    max_epochs=epochs,
                )
                trainer.fit(TensorData(z, grads / scale, w))
                fit.epochs += epochs
                with torch.no_grad():
                    embedded = block.embedding(z)
                    block.A.copy_((embedded * w[:, None]).T @ grads / w.sum())
                    z = z + block(z)
                    zv = None if zv is None else zv + block(zv)
            fit.train_loss.append(fit_head(head, pointwise, z, y, w, head_l2))
            heads.append({k: v.detach().clone() for k, v in head.state_dict().items()})
            postfix = {"train": fit.train_loss[-1]}
            stop = False
            if validation is not None and zv is not None:
                with torch.no_grad():
                    raw = head(zv)
                    wv = validation.sample_weight
                    assert wv is not None
                    loss = float(_weighted_mean(pointwise(validation.y, raw), wv))
                    err = 0.0 if error is None else float(error(validation.y, raw, wv))
                fit.validation_loss.append(loss)
                fit.validation_error.append(err)
                postfix["val"] = loss
                stop = best.update(err, loss, t)
            fit.stage_times.append(time.perf_counter() - begin)
            bar.set_postfix(postfix)
            bar.update()
            if stop:
                break
    fit.n_stages = best.index if validation is not None else len(heads) - 1
    head.load_state_dict(heads[fit.n_stages])
    fit.heads = [(_numpy(state["linear.weight"]), _numpy(state["linear.bias"])) for state in heads]
    net.eval()
    return fit
