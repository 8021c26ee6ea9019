"""Torch-backed estimators' weights as plain arrays, for pickling and for `fboost.io`.

A state dict is stored as an ``.npz`` archive of its tensors (``numpy.save`` with
``allow_pickle=False``): no pickle is involved in writing or reading it, so `fboost.load` can read
weights from an untrusted file without executing anything. Pickles written by fboost 0.1.0
before this format (``torch.save`` bytes) are still read, through
``torch.load(weights_only=True)``, but `fboost.load` refuses such weights.
"""

from __future__ import annotations

import contextlib
import contextvars
import io
import zipfile
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = [
    "module_bytes",
    "load_module_bytes",
    "loadable_device",
    "SharedModuleCopy",
    "arrays_only",
    "UnsafeWeightsError",
]

_ARRAYS_ONLY = contextvars.ContextVar("fboost_arrays_only", default=False)


class UnsafeWeightsError(ValueError):
    """Weights in a format that would need unpickling, met where only arrays are allowed."""


@contextlib.contextmanager
def arrays_only() -> Iterator[None]:
    """Within this block `load_module_bytes` accepts only the ``.npz`` format."""
    token = _ARRAYS_ONLY.set(True)
    try:
        yield
    finally:
        _ARRAYS_ONLY.reset(token)


def module_bytes(module: torch.nn.Module) -> bytes:
    """The module's state dict, moved to CPU, as ``.npz`` bytes (one array per tensor).

    Tensors of a dtype numpy lacks (bfloat16, float8) fall back to ``torch.save`` bytes, which
    pickle reads but `fboost.load` refuses.
    """
    import numpy as np
    import torch

    state = {k: v.detach().cpu() for k, v in module.state_dict().items()}
    buffer = io.BytesIO()
    try:
        arrays = {k: v.numpy() for k, v in state.items()}
    except TypeError:
        torch.save(state, buffer)
    else:
        np.savez(buffer, **arrays)
    return buffer.getvalue()


def _is_npz(data: bytes) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
    except zipfile.BadZipFile:
        return False
    return all(name.endswith(".npy") for name in names)


def load_module_bytes(module: torch.nn.Module, data: bytes) -> None:
    """Load `module_bytes` output into ``module`` (on CPU; arrays only, no code)."""
    import numpy as np
    import torch

    if _is_npz(data):
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            state = {k: torch.from_numpy(archive[k].copy()) for k in archive.files}
    elif _ARRAYS_ONLY.get():
        raise UnsafeWeightsError(
            "the weights are not an array archive (.npz); reading them would need unpickling, "
            "which fboost.load never does"
        )
    else:  # pickles written before the .npz format
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    module.load_state_dict(state)


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


class ModuleStatePickling(SharedModuleCopy):
    """Pickling of an estimator with one fitted network ``module_`` and its stage view ``model_``.

    The network travels as its state dict (``module_bytes``: arrays, no code) with the kept
    stages; loading rebuilds it with ``_build_module()``, on CPU when its device is missing, and
    the stage view with ``_build_model(kept)``. Subclasses say which stages are kept.
    """

    device_: str
    module_: Any

    def _kept_stages(self, model: Any) -> list[int]:
        raise NotImplementedError

    def _build_module(self) -> Any:
        raise NotImplementedError

    def _build_model(self, kept: list[int] | None = None) -> Any:
        raise NotImplementedError

    def __getstate__(self) -> dict[str, Any]:
        state: dict[str, Any] = dict(super().__getstate__())  # type: ignore[call-overload]
        module = state.pop("module_", None)
        model = state.pop("model_", None)
        if module is not None:
            kept = self._kept_stages(model)
            state["_module_state"] = {"state_dict": module_bytes(module), "kept": kept}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        saved = state.pop("_module_state", None)
        super().__setstate__(state)  # type: ignore[misc]
        if saved is None:
            return
        device = loadable_device(self.device_)
        self.device_ = str(device)
        self.module_ = self._build_module()
        load_module_bytes(self.module_, saved["state_dict"])
        self.module_.to(device).eval()
        self.model_ = self._build_model(saved["kept"])
