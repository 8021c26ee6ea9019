"""Inputs of the torch estimators: device strings, image layouts, standardisation, prepared data.

Errors name the argument (``device``, ``image_shape``, ``X``) and say what was expected.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral
from typing import Any

import numpy as np
import torch

from ._train import TensorData

__all__ = [
    "resolve_device",
    "cuda_devices",
    "check_image_shape",
    "images_to_rows",
    "standardisation",
    "PreparedData",
]


def resolve_device(device: Any) -> torch.device:
    """``device`` as a ``torch.device``; ``ValueError`` naming it when unknown or unavailable."""
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError, ValueError) as exc:
        raise ValueError(
            f"device must be a torch device string such as 'cpu' or 'cuda', got {device!r}"
        ) from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} was requested but CUDA is not available; use device='cpu'"
        )
    if resolved.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device={device!r} was requested but MPS is not available")
    if resolved.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"device must be 'cpu', 'cuda' or 'mps', got {device!r}")
    return resolved


def cuda_devices(device: torch.device) -> list[int]:
    """The CUDA devices whose RNG ``torch.random.fork_rng`` must save and restore."""
    return [device.index or 0] if device.type == "cuda" else []


def check_image_shape(image_shape: Any) -> tuple[int, int, int]:
    """``image_shape`` as ``(C, H, W)`` of positive ints, or ``ValueError`` naming it."""
    try:
        shape = tuple(image_shape)
    except TypeError:
        shape = ()
    if len(shape) != 3 or not all(
        isinstance(s, Integral | np.integer) and not isinstance(s, bool) and int(s) > 0
        for s in shape
    ):
        raise ValueError(f"image_shape must be three positive ints (C, H, W), got {image_shape!r}")
    return int(shape[0]), int(shape[1]), int(shape[2])


def images_to_rows(
    X: Any, expected: tuple[int, int, int] | None, *, name: str
) -> tuple[Any, tuple[int, int, int] | None]:
    """Images ``(n, C, H, W)`` or ``(n, H, W)`` (one channel) to flat rows.

    Returns ``(rows, image_shape)``; other inputs come back unchanged with ``None``, for the
    usual 2-D validation. Images whose shape differs from ``expected`` raise ``ValueError``
    naming ``name`` (the argument at fault: ``image_shape`` in fit, ``X`` in predict).
    """
    shape = getattr(X, "shape", None)
    if shape is None and not hasattr(X, "tocsr"):
        X = np.asarray(X)
        shape = X.shape
    if shape is None or len(shape) not in (3, 4):
        return X, None
    images = np.asarray(X)
    if images.ndim == 3:
        images = images[:, None]
    found = (int(images.shape[1]), int(images.shape[2]), int(images.shape[3]))
    if expected is not None and found != expected:
        raise ValueError(f"{name}: X holds images of shape {found} but image_shape is {expected}")
    return images.reshape(images.shape[0], -1), found


def standardisation(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and scale per feature (2-D X) or per channel (4-D images); constant inputs get 1.

    Shapes broadcast against one row of ``X``.
    """
    axes = (0, 2, 3) if X.ndim == 4 else (0,)
    mean = X.mean(axis=axes, keepdims=True)[0]
    std = X.std(axis=axes, keepdims=True)[0]
    return mean, np.where(std > 1e-12 * np.maximum(1.0, np.abs(mean)), std, 1.0)


@dataclass(frozen=True)
class PreparedData:
    """Training rows in the module's layout and units, with their device and training seed."""

    X: np.ndarray
    y: np.ndarray
    sample_weight: np.ndarray
    device: torch.device
    seed: int

    def rows(self, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray) -> PreparedData:
        """Other rows on the same device, with the same seed."""
        return PreparedData(X, y, sample_weight, self.device, self.seed)

    def tensors(self) -> TensorData:
        """The rows as tensors on the device; uniform weights become ``None`` (a plain mean)."""
        w = self.sample_weight
        weights = None if np.all(w == w[0]) else torch.as_tensor(w, dtype=torch.float32)
        return TensorData(
            torch.as_tensor(self.X, device=self.device),
            torch.as_tensor(self.y, device=self.device),
            None if weights is None else weights.to(self.device),
        )
