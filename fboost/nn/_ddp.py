"""Data-parallel training of fboost's networks with torch DDP (the ``n_processes`` parameter).

One fit runs on N processes (ranks) at once, SPMD: every rank runs the estimator's whole
``_fit`` on all the rows, and only the minibatch training is split. ``run_data_parallel``
spawns the ranks (start method ``"spawn"``: forking a process that runs torch threads is
unsafe), joins them in one process group (gloo on CPU; NCCL with ``device="cuda"``, rank r on
GPU r) and hands rank 0's result back; a script launched by ``torchrun`` brings its own group
(``fit_in_group``).

Inside a data-parallel fit, every ``fboost.nn.Trainer`` trains as a ``DistributedTrainer``:

- each epoch a ``DistributedSampler`` (its seed drawn from the shared generator, ``set_epoch``
  per epoch) deals every rank ``ceil(n / N)`` rows of one shared permutation (padded by
  repeating rows, so that all ranks take the same number of steps);
- each rank steps on ``batch_size // N`` rows and DDP averages the gradients: an update sees
  ``N * (batch_size // N)`` rows (``batch_size`` when N divides it), the rows one process would
  see in one batch of the same permutation, and an epoch makes as many updates;
- BatchNorm layers normalise with the mean and variance of the whole global batch (per-channel
  sums all-reduced in the forward pass, their gradients in the backward pass: what
  ``torch.nn.SyncBatchNorm`` computes, which runs on GPUs only), so their running statistics are
  the global batch's; the layers are plain BatchNorm again once training ends;
- dropout and stochastic depth draw from a stream of their own per rank, so that the shared
  torch generator, which initialises weights, stays identical on all ranks;
- the epoch's training loss is all-reduced; the validation loss (every rank evaluates all the
  validation rows) and, once training ends, the weights are rank 0's.

Everything else is replicated deterministically on every rank, with the same weights and the
same rows: the early-stopping split, initial weights, caching the frozen trunk's features
(BoostResNet), the L-BFGS heads and the kernel steps' averages (ResFGB), the Newton targets and
line searches (NeuralBoosting), and every decision that follows from them. Progress bars show on
rank 0 only; warnings are rank 0's, raised again in the parent.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import os
import pickle
import socket
import tempfile
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from sklearn.utils import check_random_state
from torch import Tensor, nn

from .._training import seed_from
from ._train import TensorData, Trainer, TrainHistory, batch_slices, finite_epoch_loss

__all__ = [
    "Group",
    "active_group",
    "training_group",
    "run_data_parallel",
    "fit_data_parallel",
    "fit_in_group",
    "DistributedTrainer",
    "synced_batch_norm",
    "thread_share",
]

#: how long a rank waits for the others in one collective before failing
TIMEOUT = timedelta(minutes=30)


@dataclass(frozen=True)
class Group:
    """The ranks of one data-parallel fit, as the training loops see them.

    Attributes
    ----------
    rank : int
        This process's rank, 0 .. world_size - 1.
    world_size : int
        Number of processes.
    device : torch.device
        Where the tensors of collectives live (the rank's GPU with NCCL, else CPU).
    stats : object
        The process group of the BatchNorm statistics (apart from DDP's gradients).
    """

    rank: int
    world_size: int
    device: torch.device
    stats: Any = None


_ACTIVE: list[Group] = []


def active_group() -> Group | None:
    """The group of the data-parallel fit running in this process, or ``None``."""
    return _ACTIVE[-1] if _ACTIVE else None


@contextlib.contextmanager
def training_group(group: Group) -> Iterator[Group]:
    """Within this block every ``Trainer`` trains data-parallel over ``group``."""
    _ACTIVE.append(group)
    try:
        yield group
    finally:
        _ACTIVE.pop()


def thread_share(n_processes: int, threads: int | None = None) -> int:
    """Torch threads per rank: an equal share of ``threads`` (this process's), at least 1.

    Examples
    --------
    >>> from fboost.nn._ddp import thread_share
    >>> thread_share(2, threads=8), thread_share(4, threads=2)
    (4, 1)
    """
    threads = torch.get_num_threads() if threads is None else threads
    return max(1, threads // n_processes)


# -- BatchNorm over the global batch ----------------------------------------------------------
class _AllReduceSum(torch.autograd.Function):
    """The sum over the ranks, whose gradient is the sum over the ranks of the gradients."""

    @staticmethod
    def forward(ctx: Any, tensor: Tensor, group: Any) -> Tensor:
        ctx.group = group
        total = tensor.clone(memory_format=torch.contiguous_format)
        dist.all_reduce(total, group=group)
        return total

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
        return _AllReduceSum.apply(grad, ctx.group), None


def _synced_forward(bn: nn.modules.batchnorm._BatchNorm, group: Group, x: Tensor) -> Tensor:
    """``bn(x)`` in train mode with the statistics of the rows of every rank."""
    if not bn.training:
        return type(bn).forward(bn, x)
    bn._check_input_dim(x)
    channels = x.shape[1]
    dims = [0, *range(2, x.dim())]
    # sums in float64: the variance as E[x^2] - E[x]^2 cancels less
    local = torch.cat(
        [
            x.sum(dims, dtype=torch.float64),
            (x * x).sum(dims, dtype=torch.float64),
            torch.full((1,), x.numel() // channels, dtype=torch.float64, device=x.device),
        ]
    )
    total = _AllReduceSum.apply(local, group.stats)
    count = total[-1]
    mean = total[:channels] / count
    var = (total[channels:-1] / count - mean * mean).clamp_min(0.0)
    if bn.track_running_stats and bn.running_mean is not None and bn.running_var is not None:
        with torch.no_grad():
            assert bn.num_batches_tracked is not None
            bn.num_batches_tracked.add_(1)
            momentum = 1.0 / float(bn.num_batches_tracked) if bn.momentum is None else bn.momentum
            unbiased = var * count / (count - 1).clamp_min(1.0)
            bn.running_mean.mul_(1 - momentum).add_(momentum * mean.to(bn.running_mean.dtype))
            bn.running_var.mul_(1 - momentum).add_(momentum * unbiased.to(bn.running_var.dtype))
    shape = (1, channels) + (1,) * (x.dim() - 2)
    invstd = torch.rsqrt(var + bn.eps)
    y = (x - mean.to(x.dtype).view(shape)) * invstd.to(x.dtype).view(shape)
    if bn.affine:
        y = y * bn.weight.view(shape) + bn.bias.view(shape)
    return y


@contextlib.contextmanager
def synced_batch_norm(
    module: nn.Module, group: Group
) -> Iterator[list[nn.modules.batchnorm._BatchNorm]]:
    """Within this block, every BatchNorm of ``module`` normalises over the global batch.

    The layers stay where they are, with their own weights and running statistics (so state
    dicts keep their keys); only their train-mode forward pass changes, and it is restored on
    exit, leaving plain BatchNorm layers with the statistics of the global batches.
    """
    norms = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    for norm in norms:
        norm.forward = functools.partial(_synced_forward, norm, group)  # type: ignore[method-assign]
    try:
        yield norms
    finally:
        for norm in norms:
            norm.__dict__.pop("forward", None)


# -- the training loop ------------------------------------------------------------------------
class _RankStream:
    """A random stream of one rank, swapped in for the duration of a training step.

    Dropout and stochastic depth draw from it; outside the steps the shared generators (CPU,
    and the rank's CUDA device) are the same on every rank.
    """

    def __init__(self, seed: int, device: torch.device) -> None:
        self.cpu = torch.Generator().manual_seed(seed).get_state()
        self.cuda = device if device.type == "cuda" else None
        if self.cuda is not None:
            self.cuda_state = torch.Generator(device=self.cuda).manual_seed(seed).get_state()

    def __enter__(self) -> None:
        self.saved = torch.get_rng_state()
        torch.set_rng_state(self.cpu)
        if self.cuda is not None:
            self.saved_cuda = torch.cuda.get_rng_state(self.cuda)
            torch.cuda.set_rng_state(self.cuda_state, self.cuda)

    def __exit__(self, *exc: object) -> None:
        self.cpu = torch.get_rng_state()
        torch.set_rng_state(self.saved)
        if self.cuda is not None:
            self.cuda_state = torch.cuda.get_rng_state(self.cuda)
            torch.cuda.set_rng_state(self.saved_cuda, self.cuda)


def _uses_stochastic_depth(module: nn.Module) -> bool:
    """Whether a forward pass may skip a block (DDP then looks for unused parameters)."""
    return any(min(getattr(m, "survival", ()) or (1.0,)) < 1.0 for m in module.modules())


def broadcast_state(module: nn.Module, group: Group) -> None:
    """Rank 0's parameters and buffers, in place, on every rank."""
    with torch.no_grad():
        for tensor in module.state_dict(keep_vars=True).values():
            if group.device.type == tensor.device.type:
                dist.broadcast(tensor.data, src=0)
            else:  # (gloo with CUDA tensors, NCCL with CPU ones): through the group's device
                copy = tensor.data.to(group.device)
                dist.broadcast(copy, src=0)
                tensor.data.copy_(copy)


def _broadcast_float(value: float, group: Group) -> float:
    t = torch.tensor([value], dtype=torch.float64, device=group.device)
    dist.broadcast(t, src=0)
    return float(t.item())


@dataclass
class DistributedTrainer(Trainer):
    """A ``Trainer`` whose epochs are split over the ranks of ``group`` (see the module notes).

    ``Trainer.fit`` makes one of these from itself inside a data-parallel fit. Each rank steps on
    ``max(1, batch_size // world_size)`` rows of its shard of the epoch; evaluation batches stay
    ``batch_size`` rows (every rank evaluates all the rows).
    """

    group: Group | None = None

    @classmethod
    def of(cls, trainer: Trainer, group: Group) -> DistributedTrainer:
        """The same settings, data-parallel over ``group``."""
        values = {f.name: getattr(trainer, f.name) for f in fields(Trainer)}
        return cls(**values, group=group)

    @property
    def per_rank(self) -> int:
        assert self.group is not None
        return max(1, self.batch_size // self.group.world_size)

    def fit(self, train: TensorData, validation: TensorData | None = None) -> TrainHistory:
        from torch.nn.parallel import DistributedDataParallel
        from torch.utils.data import DistributedSampler

        group = self.group
        assert group is not None
        # drawn from the shared generator: the same on every rank
        sampler_seed, stream_seed = (int(s) for s in torch.randint(0, 2**31 - 1, (2,)))
        self._sampler: DistributedSampler[int] = DistributedSampler(
            range(len(train)),  # type: ignore[arg-type]
            num_replicas=group.world_size,
            rank=group.rank,
            shuffle=True,
            seed=sampler_seed,
        )
        self._epoch = 0
        self._stream = _RankStream(stream_seed + 7919 * group.rank, train.X.device)
        device = train.X.device
        with synced_batch_norm(self.module, group):
            self._ddp = DistributedDataParallel(
                self.module,
                device_ids=[device.index or 0] if device.type == "cuda" else None,
                find_unused_parameters=_uses_stochastic_depth(self.module),
                **_no_buffer_sync(),  # type: ignore[arg-type]
            )
            try:
                history = super().fit(train, validation)
            finally:
                del self._ddp  # (its gradient hooks go with it)
        broadcast_state(self.module, group)
        return history

    def batches(self, n: int, *, shuffle: bool, device: torch.device) -> Iterator[Tensor | slice]:
        """This rank's shard of a fresh shared permutation, in batches of ``per_rank`` rows;
        consecutive slices of all the rows (``shuffle=False``: evaluation)."""
        if not shuffle:
            yield from super().batches(n, shuffle=False, device=device)
            return
        self._sampler.set_epoch(self._epoch)
        self._epoch += 1
        shard = torch.as_tensor(list(self._sampler), dtype=torch.int64, device=device)
        for s in batch_slices(len(shard), self.per_rank):
            yield shard[s]

    def run_epoch(self, data: TensorData) -> float:
        """One pass over this rank's shard; the weighted mean loss over all ranks' batches."""
        assert self.group is not None
        self.module.train()
        device = data.X.device
        total = torch.zeros(2, device=device, dtype=torch.float64)
        for index in self.batches(len(data), shuffle=True, device=device):
            batch = data.rows(index)
            weight = _batch_weight(batch)
            total[0] += self.train_step(batch).detach() * weight
            total[1] += weight
        total = total.to(self.group.device)
        dist.all_reduce(total)
        return finite_epoch_loss(float(total[0].item()) / float(total[1].item()))

    def train_step(self, batch: TensorData) -> Tensor:
        """One DDP step on this rank's batch (gradients averaged over the ranks)."""
        self.optimizer.zero_grad(set_to_none=True)
        with self._stream:
            loss = self.loss_fn(self._ddp(batch.X), batch.y, batch.sample_weight)
            loss.backward()
        self.optimizer.step()
        return loss

    def evaluate(self, data: TensorData) -> float:
        """Rank 0's loss over all of ``data`` (every rank has the same weights)."""
        assert self.group is not None
        return _broadcast_float(super().evaluate(data), self.group)


@functools.cache
def _no_buffer_sync() -> dict[str, bool]:
    """DDP's option that skips broadcasting rank 0's buffers before every forward pass (they
    agree: BatchNorm statistics are synced), under its name in this torch."""
    import inspect

    from torch.nn.parallel import DistributedDataParallel

    parameters = inspect.signature(DistributedDataParallel).parameters
    name = "forward_sync_buffers" if "forward_sync_buffers" in parameters else "broadcast_buffers"
    return {name: False}


def _batch_weight(batch: TensorData) -> Tensor | float:
    return float(len(batch)) if batch.sample_weight is None else batch.sample_weight.sum()


def data_parallel_trainer(trainer: Trainer) -> DistributedTrainer | None:
    """What ``Trainer.fit`` trains with: a ``DistributedTrainer`` inside a data-parallel fit,
    ``None`` (the trainer itself) otherwise."""
    group = active_group()
    if group is None or isinstance(trainer, DistributedTrainer):
        return None
    return DistributedTrainer.of(trainer, group)


# -- processes --------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _worker(
    rank: int,
    world_size: int,
    port: int,
    threads: int,
    cuda: bool,
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    out: str,
) -> None:
    """One rank: join the group, run ``fn(group, *args)``; rank 0 writes its result."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)  # the same shared generator on every rank, seeded or not by the fit
    if cuda:
        torch.cuda.set_device(rank)
    dist.init_process_group(
        "nccl" if cuda else "gloo",
        init_method=f"tcp://127.0.0.1:{port}",
        rank=rank,
        world_size=world_size,
        timeout=TIMEOUT,
    )
    try:
        device = torch.device("cuda", rank) if cuda else torch.device("cpu")
        group = Group(rank, world_size, device, dist.new_group())
        with training_group(group):
            result = fn(group, *args)
        if rank == 0:
            _write(Path(out) / "result.pkl", pickle.dumps(result))
    except BaseException as exc:
        with contextlib.suppress(Exception):
            _write(Path(out) / f"error-{rank}.pkl", pickle.dumps(exc))
        raise
    finally:
        dist.destroy_process_group()


def run_data_parallel(
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    *,
    n_processes: int,
    cuda: bool = False,
    threads: int | None = None,
) -> Any:
    """``fn(group, *args)`` on ``n_processes`` spawned ranks; rank 0's return value.

    The ranks meet at a free port of 127.0.0.1 (gloo, or NCCL with ``cuda``: rank r on GPU r)
    and run ``thread_share(n_processes)`` torch threads each unless ``threads`` says otherwise.
    ``fn`` must be importable by name (the ranks are fresh interpreters); torch tensors among
    ``args`` travel through shared memory. An exception on a rank is raised here again (the
    lowest failing rank's, same type and message).
    """
    import torch.multiprocessing as mp

    threads = thread_share(n_processes) if threads is None else threads
    with tempfile.TemporaryDirectory(prefix="fboost-ddp-") as out:
        try:
            mp.start_processes(
                _worker,
                args=(n_processes, _free_port(), threads, cuda, fn, args, out),
                nprocs=n_processes,
                join=True,
                start_method="spawn",
            )
        except Exception as exc:
            for rank in range(n_processes):
                path = Path(out) / f"error-{rank}.pkl"
                if path.exists():
                    with contextlib.suppress(Exception):
                        error = pickle.loads(path.read_bytes())
                    if isinstance(error, BaseException):
                        error.add_note(f"(raised on rank {rank} of {n_processes})")
                        raise error from exc
            raise
        return pickle.loads((Path(out) / "result.pkl").read_bytes())


# -- estimators -------------------------------------------------------------------------------
def _fitted_attributes(estimator: Any) -> dict[str, Any]:
    params = estimator.get_params(deep=False)
    return {k: v for k, v in vars(estimator).items() if k not in params}


def _adopt(estimator: Any, fitted: Any) -> None:
    """Give ``estimator`` the fitted state of ``fitted`` (its own parameters stay)."""
    for key in list(_fitted_attributes(estimator)):
        delattr(estimator, key)
    for key, value in _fitted_attributes(fitted).items():
        setattr(estimator, key, value)


def _fit_rank(
    group: Group, estimator: Any, X: Tensor, y: Tensor, sample_weight: Tensor
) -> tuple[Any, list[tuple[type[Warning], str]]]:
    """One rank of ``fit_data_parallel``: the estimator's ``_fit`` on all the rows."""
    if group.rank > 0:
        estimator.verbose = 0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        estimator._fit(X.numpy(), y.numpy(), sample_weight.numpy())
    return estimator, [(w.category, str(w.message)) for w in caught]


def fit_data_parallel(
    estimator: Any, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray, n_processes: int
) -> None:
    """Fit ``estimator`` (inputs validated) on ``n_processes`` spawned ranks, in place.

    The rows travel to the ranks through shared memory; rank 0's fitted estimator comes back
    pickled (its networks as state dicts), so that the estimator is the ordinary one.
    """
    from ._inputs import resolve_device

    cuda = resolve_device(estimator.device).type == "cuda"
    if estimator.random_state is None:  # the ranks must agree: one draw, here, for all
        estimator = copy.copy(estimator)
        estimator.random_state = seed_from(check_random_state(None))
    shared = [torch.from_numpy(np.ascontiguousarray(a)).share_memory_() for a in (X, y)]
    weights = torch.from_numpy(np.ascontiguousarray(sample_weight)).share_memory_()
    fitted, caught = run_data_parallel(
        _fit_rank, (estimator, *shared, weights), n_processes=n_processes, cuda=cuda
    )
    _adopt(estimator, fitted)
    for category, message in caught:
        warnings.warn(message, category, stacklevel=4)


def fit_in_group(estimator: Any, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray) -> None:
    """Fit ``estimator`` over the process group this script was launched in (``torchrun``).

    Every rank must call ``fit`` with the same rows and parameters. Each trains its shards as in
    a spawned fit; at the end rank 0's fitted estimator is broadcast, so that every rank holds
    the same model. ``device="cuda"`` uses GPU ``LOCAL_RANK`` of each node.
    """
    from ._inputs import resolve_device

    rank, world_size = dist.get_rank(), dist.get_world_size()
    nccl = dist.get_backend() == "nccl"
    if resolve_device(estimator.device).type == "cuda" and "LOCAL_RANK" in os.environ:
        torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))
    device = torch.device("cuda", torch.cuda.current_device()) if nccl else torch.device("cpu")
    stats = dist.new_group()
    verbose, random_state = estimator.verbose, estimator.random_state
    try:
        if rank > 0:
            estimator.verbose = 0
        if random_state is None:  # the ranks must agree: rank 0's draw for all
            seed = [seed_from(check_random_state(None))]
            dist.broadcast_object_list(seed, src=0, device=device)
            estimator.random_state = seed[0]
        with training_group(Group(rank, world_size, device, stats)):
            estimator._fit(X, y, sample_weight)
    finally:
        estimator.verbose, estimator.random_state = verbose, random_state
        dist.destroy_process_group(stats)
    payload = [pickle.dumps(estimator) if rank == 0 else None]
    dist.broadcast_object_list(payload, src=0, device=device)
    if rank > 0:
        _adopt(estimator, pickle.loads(payload[0]))  # type: ignore[arg-type]
