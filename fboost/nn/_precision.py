"""Batch-invariant inference: trained float32 networks evaluated in float64.

A float32 matrix product sums in an order that the BLAS picks from the number of rows, so a
row's output can change in its last bits (1e-7 relative, more after a few layers and a
near-zero decision value) with the rows that share the call. ``float64_inference`` runs a module
in float64 for the duration of a prediction: float32 weights are exact in float64, the
summation order still varies, but its effect is now at 1e-16 relative, nine orders below what
float32 shows and far below scikit-learn's ``check_methods_subset_invariance`` tolerance
(1e-7). On exit the weights go back to float32 exactly (a float32 -> float64 -> float32
round trip loses nothing).

The cost is float64 arithmetic at predict time (measured in ``bench/bench_predict.py``) and
converting the weights twice per call. MPS has no float64: there the module stays in float32.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

__all__ = ["float64_inference"]

_registry_lock = threading.Lock()
_locks: weakref.WeakKeyDictionary[nn.Module, threading.RLock] = weakref.WeakKeyDictionary()
_depth: weakref.WeakKeyDictionary[nn.Module, int] = weakref.WeakKeyDictionary()


def _tensors(module: nn.Module) -> Iterator[torch.Tensor]:
    yield from module.parameters()
    yield from module.buffers()


def _lock_of(module: nn.Module) -> threading.RLock:
    with _registry_lock:
        if module not in _locks:
            _locks[module] = threading.RLock()
        return _locks[module]


@contextmanager
def float64_inference(module: nn.Module) -> Iterator[torch.dtype]:
    """Run ``module`` in float64 inside the block; yields the dtype its inputs must have.

    The module's floating tensors are float32 before and after; concurrent uses of one module
    take turns, nested ones (same thread) share the conversion. A module that is not all
    float32, or lives on MPS, is left as it is and the block gets its own dtype.
    """
    with _lock_of(module):  # one thread at a time; the same thread may nest
        depth = _depth.get(module, 0)
        if depth == 0:
            floating = [t for t in _tensors(module) if t.is_floating_point()]
            kept = not floating or floating[0].device.type == "mps"
            if kept or any(t.dtype != torch.float32 for t in floating):
                yield floating[0].dtype if floating else torch.float32
                return
            module.double()
        _depth[module] = depth + 1
        try:
            yield torch.float64
        finally:
            _depth[module] -= 1
            if _depth[module] == 0:
                module.float()
