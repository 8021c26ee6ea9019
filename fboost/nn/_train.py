"""The epoch loop that trains a torch module end to end: ``fit -> run_epoch -> train_step``.

Each step is a small method of ``Trainer``, so that other training schedules (a stagewise one
that trains one block at a time, a corrective step) override only what differs. Data are tensors
already on the device (``TensorData``); early stopping and progress come from
``fboost._training``, so that every fboost loop stops and reports the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor, nn

from .._training import EarlyStopping, progress_bar

__all__ = ["TensorData", "TrainHistory", "Trainer", "adamw", "batch_slices"]

#: ``loss_fn(raw, y, sample_weight) -> scalar``: a weighted mean over the batch
LossFn = Callable[[Tensor, Tensor, Tensor | None], Tensor]


class TensorData(NamedTuple):
    """Inputs, targets and sample weights (``None``: all equal) on one device.

    Attributes
    ----------
    X : Tensor of shape (n, ...)
        Inputs, one row per sample.
    y : Tensor of shape (n, ...)
        Targets.
    sample_weight : Tensor of shape (n,) or None, default=None
        Per-row weights; ``None`` weighs all rows equally.

    Examples
    --------
    >>> import torch
    >>> from fboost.nn import TensorData
    >>> data = TensorData(torch.zeros(5, 3), torch.arange(5.0))
    >>> len(data), data.sample_weight is None
    (5, True)
    >>> batch = data.rows(slice(1, 3))
    >>> tuple(batch.X.shape), batch.y.tolist()
    ((2, 3), [1.0, 2.0])
    """

    X: Tensor
    y: Tensor
    sample_weight: Tensor | None = None

    def __len__(self) -> int:
        return int(self.X.shape[0])

    def rows(self, index: Tensor | slice) -> TensorData:
        w = self.sample_weight
        return TensorData(self.X[index], self.y[index], None if w is None else w[index])


@dataclass
class TrainHistory:
    """Per-epoch losses (module units) and the epoch whose weights were kept.

    Attributes
    ----------
    train_loss : list of float
        Mean training loss of each epoch.
    validation_loss : list of float
        Validation loss after each epoch; empty without a validation set.
    best_epoch : int
        1-based epoch whose weights were kept; the last epoch without a validation set.

    Examples
    --------
    >>> from fboost.nn import TrainHistory
    >>> history = TrainHistory()
    >>> history
    TrainHistory(train_loss=[], validation_loss=[], best_epoch=0)
    >>> history.train_loss.append(0.5)
    >>> len(history.train_loss)
    1
    """

    train_loss: list[float] = field(default_factory=list)
    validation_loss: list[float] = field(default_factory=list)
    best_epoch: int = 0  # 1-based; the last epoch when there is no validation set


def batch_slices(n: int, batch_size: int) -> list[slice]:
    """Consecutive slices of ``batch_size`` rows; a last batch of one row joins the previous one.

    (BatchNorm cannot normalise a single row in train mode.)

    Parameters
    ----------
    n : int
        Number of rows.
    batch_size : int
        Rows per batch, > 0.

    Returns
    -------
    list of slice
        Consecutive slices covering ``range(n)``.

    Examples
    --------
    >>> from fboost.nn import batch_slices
    >>> batch_slices(10, 4)
    [slice(0, 4, None), slice(4, 8, None), slice(8, 10, None)]
    >>> batch_slices(9, 4)  # the last single row joins the previous batch
    [slice(0, 4, None), slice(4, 9, None)]
    """
    starts = list(range(0, n, batch_size))
    bounds = [*starts, n]
    if batch_size > 1 and len(starts) > 1 and n - starts[-1] == 1:
        bounds.pop(-2)
    return [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def adamw(
    parameters: Iterable[nn.Parameter],
    *,
    lr: float,
    weight_decay: float,
    device: torch.device | None = None,
) -> torch.optim.AdamW:
    """AdamW in its fused form where torch has one (CPU and CUDA): one kernel for all parameters.

    The fused step does the arithmetic of the per-parameter loop in one pass (the ratio
    ``fused_adamw_throughput_gain_minimal_loop`` of ``bench/bench_resnet.py``). ``ResNet*``,
    ``BoostResNet*``, ``NeuralBoosting*`` and ``SoftBoosting*`` train with it (ResFGB keeps the
    authors' Adam for its embeddings).

    Parameters
    ----------
    parameters : iterable of Parameter
        What to optimise.
    lr : float
        Learning rate, > 0.
    weight_decay : float
        Decoupled weight decay, >= 0.
    device : torch.device or None, default=None
        Where the parameters live (``None``: the first parameter's device); devices other than
        CPU and CUDA get the default implementation.

    Returns
    -------
    torch.optim.AdamW

    Examples
    --------
    >>> import torch
    >>> from fboost.nn import adamw
    >>> optimizer = adamw(torch.nn.Linear(2, 1).parameters(), lr=1e-3, weight_decay=0.0,
    ...                   device=torch.device("cpu"))
    >>> optimizer.defaults["fused"]
    True
    """
    parameters = list(parameters)
    if device is None:
        device = parameters[0].device if parameters else torch.device("cpu")
    fused = True if device.type in ("cpu", "cuda") else None
    return torch.optim.AdamW(parameters, lr=lr, weight_decay=weight_decay, fused=fused)


def finite_epoch_loss(mean: float) -> float:
    """An epoch's mean training loss, or ``FloatingPointError`` when training diverged."""
    if not np.isfinite(mean):
        raise FloatingPointError(
            f"training diverged: the training loss is {mean}; lower lr or check the data"
        )
    return mean


@dataclass
class Trainer:
    """Minibatch training with a validation-based early stop and best-weight restore.

    Parameters
    ----------
    module : nn.Module
        The network; trained in place.
    loss_fn : callable
        ``loss_fn(raw, y, sample_weight) -> scalar tensor`` (a weighted mean).
    optimizer : torch.optim.Optimizer
        Over ``module``'s parameters.
    batch_size : int
        Rows per step (training and evaluation).
    max_epochs : int
        Upper bound on passes over the training data.
    n_iter_no_change : int or None
        Stop after this many epochs without a validation improvement larger than ``tol``.
        ``None`` trains ``max_epochs``. Whenever a validation set is given, the weights of the
        best validation epoch are restored at the end; without one, the last weights are kept.
    tol : float
        Minimum validation improvement.
    verbose : int
        Progress bar over epochs (train and validation loss) when > 0.
    desc : str
        Label of the progress bar.

    Examples
    --------
    >>> import torch
    >>> from fboost.nn import TabularResNet, TensorData, Trainer
    >>> _ = torch.manual_seed(0)
    >>> X = torch.randn(64, 3)
    >>> y = X.sum(dim=1, keepdim=True)
    >>> net = TabularResNet(d_in=3, d_out=1, d_block=8, n_blocks=1)
    >>> def mse(raw, y, sample_weight):
    ...     return ((raw - y) ** 2).mean()
    >>> trainer = Trainer(
    ...     net, mse, torch.optim.Adam(net.parameters(), lr=1e-2), batch_size=16, max_epochs=5
    ... )
    >>> history = trainer.fit(TensorData(X, y), validation=TensorData(X[:16], y[:16]))
    >>> len(history.train_loss), len(history.validation_loss)
    (5, 5)
    >>> history.train_loss[-1] < history.train_loss[0], net.training
    (True, False)
    """

    module: nn.Module
    loss_fn: LossFn
    optimizer: torch.optim.Optimizer
    batch_size: int
    max_epochs: int
    n_iter_no_change: int | None = None
    tol: float = 0.0
    verbose: int = 0
    desc: str = "epochs"

    def fit(self, train: TensorData, validation: TensorData | None = None) -> TrainHistory:
        """Run epochs until ``max_epochs`` or early stopping; restore the best weights.

        Inside a data-parallel fit (``n_processes``), the epochs are split over the ranks
        (``fboost.nn._ddp.DistributedTrainer``); otherwise this process trains alone.
        """
        from ._ddp import data_parallel_trainer

        parallel = data_parallel_trainer(self)
        if parallel is not None:
            return parallel.fit(train, validation)
        if len(train) < 2:
            raise ValueError(f"training needs at least 2 rows, got {len(train)}")
        history = TrainHistory()
        stopper = EarlyStopping(self.n_iter_no_change if validation is not None else None, self.tol)
        best_state: dict[str, Tensor] | None = None
        with progress_bar(self.max_epochs, self.verbose, self.desc) as bar:
            for epoch in range(self.max_epochs):
                history.train_loss.append(self.run_epoch(train))
                postfix = {"train": history.train_loss[-1]}
                stop = False
                if validation is not None:
                    history.validation_loss.append(self.evaluate(validation))
                    postfix["val"] = history.validation_loss[-1]
                    stop = stopper.update(history.validation_loss[-1], epoch)
                    if stopper.best_index == epoch:
                        best_state = self.snapshot()
                bar.set_postfix(postfix)  # epochs are slow: show every one
                bar.update()
                if stop:
                    break
        if best_state is not None:
            self.module.load_state_dict(best_state)
            history.best_epoch = stopper.best_index + 1
        else:
            history.best_epoch = len(history.train_loss)
        self.module.eval()
        return history

    def batches(self, n: int, *, shuffle: bool, device: torch.device) -> Iterator[Tensor | slice]:
        """Row indices per batch: a fresh permutation each epoch, or consecutive slices."""
        slices = batch_slices(n, self.batch_size)
        if not shuffle:
            yield from slices
            return
        order = torch.randperm(n, device=device)
        for s in slices:
            yield order[s]

    def run_epoch(self, data: TensorData) -> float:
        """One pass over shuffled training data; the weighted mean of the batch losses."""
        self.module.train()
        total = torch.zeros((), device=data.X.device, dtype=torch.float64)
        for index in self.batches(len(data), shuffle=True, device=data.X.device):
            batch = data.rows(index)
            total += self.train_step(batch).detach() * _total_weight(batch)
        return finite_epoch_loss(float(total.item()) / float(_total_weight(data)))

    def train_step(self, batch: TensorData) -> Tensor:
        """One optimizer step on one batch; returns the batch loss."""
        self.optimizer.zero_grad(set_to_none=True)
        loss = self.loss_fn(self.module(batch.X), batch.y, batch.sample_weight)
        loss.backward()
        self.optimizer.step()
        return loss

    @torch.inference_mode()
    def evaluate(self, data: TensorData) -> float:
        """Weighted mean loss over ``data`` in eval mode."""
        self.module.eval()
        total = torch.zeros((), device=data.X.device, dtype=torch.float64)
        for index in self.batches(len(data), shuffle=False, device=data.X.device):
            batch = data.rows(index)
            loss = self.loss_fn(self.module(batch.X), batch.y, batch.sample_weight)
            total += loss * _total_weight(batch)
        return float(total.item()) / float(_total_weight(data))

    def snapshot(self) -> dict[str, Tensor]:
        """A detached copy of the module's state (the best weights so far)."""
        return {k: v.detach().clone() for k, v in self.module.state_dict().items()}


def _total_weight(data: TensorData) -> Tensor | float:
    """Sum of the sample weights (a tensor, to avoid a device sync) or the row count."""
    return float(len(data)) if data.sample_weight is None else data.sample_weight.sum()
