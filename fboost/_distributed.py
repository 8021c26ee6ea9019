"""``n_processes``: the torch estimators' data-parallel fit, as the estimators see it.

``DataParallelFit.fit`` validates the inputs, checks ``n_processes`` and either fits in this
process (``n_processes=1``: the ordinary path, unchanged) or hands the fit to
``fboost.nn._ddp`` (spawned ranks, or the process group of a ``torchrun`` launch). Torch is
imported only then, as everywhere in fboost.
"""

from __future__ import annotations

import sys
from numbers import Integral
from typing import TYPE_CHECKING, Any

import numpy as np

from .base import AdditiveEstimator

__all__ = ["DataParallelFit", "N_PROCESSES_DOC", "check_n_processes"]

#: the parameter's entry in the estimators' docstrings (one text for all of them)
N_PROCESSES_DOC = """    n_processes : int, default=1
        Processes to train on, data-parallel (torch DDP: gloo on CPU; NCCL with
        ``device="cuda"``, process r on GPU r, not yet run on GPUs), >= 1 and at most the
        number of rows; 1 is the ordinary fit in this process. The processes are spawned
        once per fit and share the machine's torch threads equally. Each holds all the rows
        and repeats every step but the minibatch training, in which it steps on
        ``batch_size // n_processes`` rows of its share of the epoch: DDP averages the
        gradients, so that an update sees the rows of one batch of the single-process
        schedule and an epoch makes as many updates. BatchNorm normalises with the
        statistics of the whole batch. The fitted estimator is the ordinary one (it predicts
        and pickles in one process); a fixed ``random_state`` gives the same predictions run
        to run for a given ``n_processes``. Scripts that spawn need the
        ``if __name__ == "__main__":`` guard. Under ``torchrun``, ``n_processes`` equal to the
        world size trains over the launched process group (``fboost.nn._ddp``).
"""


def check_n_processes(n_processes: Any) -> int:
    """``n_processes`` as an int >= 1; ``TypeError``/``ValueError`` naming it otherwise.

    Examples
    --------
    >>> from fboost._distributed import check_n_processes
    >>> check_n_processes(2)
    2
    >>> check_n_processes(0)
    Traceback (most recent call last):
    ...
    ValueError: n_processes must be >= 1, got n_processes=0
    """
    if isinstance(n_processes, bool) or not isinstance(n_processes, Integral | np.integer):
        raise TypeError(
            f"n_processes must be an int >= 1, got n_processes={n_processes!r} "
            f"({type(n_processes).__name__})"
        )
    if n_processes < 1:
        raise ValueError(f"n_processes must be >= 1, got n_processes={n_processes}")
    return int(n_processes)


def _launched_group() -> int | None:
    """The world size of a process group this script already runs in (torchrun), or None."""
    if "torch.distributed" not in sys.modules:  # no torch yet: no group either
        return None
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return int(dist.get_world_size())
    return None


class DataParallelFit:
    """``fit`` over ``n_processes`` ranks (``fboost.nn._ddp``); 1 is the ordinary fit."""

    n_processes: int
    batch_size: int
    device: str

    if TYPE_CHECKING:  # pragma: no cover  (what AdditiveEstimator supplies)

        def _validate_fit_inputs(
            self, X: Any, y: Any, sample_weight: Any
        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> Any:
        n = check_n_processes(self.n_processes)
        X, y, sample_weight = self._validate_fit_inputs(X, y, sample_weight)
        mode = self._parallel_mode(n, len(X))
        if mode == "group":
            from .nn._ddp import fit_in_group

            fit_in_group(self, X, y, sample_weight)
        elif mode == "spawn":
            from .nn._ddp import fit_data_parallel

            fit_data_parallel(self, X, y, sample_weight, n)
        else:
            self._fit(X, y, sample_weight)  # type: ignore[attr-defined]
        return self

    fit.__doc__ = AdditiveEstimator.fit.__doc__

    def _parallel_mode(self, n: int, n_rows: int) -> str | None:
        """``None`` (this process alone), ``"spawn"`` or ``"group"`` (torchrun's); checks."""
        world = _launched_group()
        if world is not None and world > 1 and n != 1:
            if n != world:
                raise ValueError(
                    f"n_processes must be 1 (train alone on this rank) or the world size "
                    f"{world} of the process group this script runs in (train over it), got "
                    f"n_processes={n}"
                )
            mode = "group"
        elif n == 1:
            return None
        else:
            mode = "spawn"
        if n > n_rows:
            raise ValueError(
                f"n_processes={n} is more than the {n_rows} rows of X: every process needs "
                "rows to train on"
            )
        if self.batch_size < n:
            raise ValueError(
                f"batch_size must be at least n_processes (each process steps on "
                f"batch_size // n_processes rows), got batch_size={self.batch_size} and "
                f"n_processes={n}"
            )
        from .nn._inputs import resolve_device

        device = resolve_device(self.device)
        if device.type not in ("cpu", "cuda"):
            raise ValueError(
                f"n_processes > 1 trains on device 'cpu' or 'cuda', got device={self.device!r}"
            )
        if mode == "spawn" and device.type == "cuda":
            import torch

            if device.index is not None:
                raise ValueError(
                    f"n_processes={n} puts process r on GPU r: give device='cuda' without an "
                    f"index, got device={self.device!r}"
                )
            if n > torch.cuda.device_count():
                raise ValueError(
                    f"n_processes={n} needs one GPU per process, but "
                    f"{torch.cuda.device_count()} are visible"
                )
        return mode
