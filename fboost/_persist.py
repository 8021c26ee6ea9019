"""Pickling torch-backed estimators: weights as state-dict bytes, loadable on a CPU machine."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["module_bytes", "load_module_bytes", "loadable_device", "SharedModuleCopy"]


def module_bytes(module: torch.nn.Module) -> bytes:
    """The module's state dict, moved to CPU and serialised."""
    import torch

    buffer = io.BytesIO()
    torch.save({k: v.detach().cpu() for k, v in module.state_dict().items()}, buffer)
    return buffer.getvalue()


def load_module_bytes(module: torch.nn.Module, data: bytes) -> None:
    """Load ``module_bytes`` output into ``module`` (on CPU; tensors only, no code)."""
    import torch

    module.load_state_dict(torch.load(io.BytesIO(data), map_location="cpu", weights_only=True))


def loadable_device(name: str) -> torch.device:
    """The device a pickled model was on, or CPU when that device is not present here."""
    import torch

    device = torch.device(name)
    if device.type != "cpu" and not (device.type == "cuda" and torch.cuda.is_available()):
        return torch.device("cpu")
    return device


class SharedModuleCopy:
    """``copy.copy`` shares the fitted networks (what ``drop_stages`` lesions); no pickling."""

    def __copy__(self) -> Any:
        new = type(self).__new__(type(self))
        new.__dict__.update(self.__dict__)
        return new
