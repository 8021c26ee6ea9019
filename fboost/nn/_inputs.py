"""Inputs of the torch estimators: device strings, image layouts, standardisation, prepared data.

Errors name the argument (``device``, ``image_shape``, ``X``) and say what was expected.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral
from typing import Any

import numpy as np
import torch

from .._numeric import safe_moments
from ._train import TensorData

__all__ = [
    "resolve_device",
    "cuda_devices",
    "check_image_shape",
    "images_to_rows",
    "standardisation",
    "target_standardisation",
    "scale_rows",
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
        try:
            X = np.asarray(X)
        except ValueError:  # ragged: the usual validation names X and says why
            return X, None
        shape = X.shape
    if shape is not None and len(shape) > 4:
        raise ValueError(
            "X: expected images of shape (n_samples, C, H, W) or (n_samples, H, W), or flat "
            f"rows (n_samples, n_features); got X with {len(shape)} dimensions, shape "
            f"{tuple(int(s) for s in shape)}"
        )
    if shape is None or len(shape) not in (3, 4):
        return X, None
    images = np.asarray(X)
    if images.ndim == 3:
        images = images[:, None]
    found = (int(images.shape[1]), int(images.shape[2]), int(images.shape[3]))
    if expected is not None and found != expected:
        raise ValueError(f"{name}: X holds images of shape {found} but image_shape is {expected}")
    return images.reshape(images.shape[0], -1), found


def _scale(std: np.ndarray, max_abs: np.ndarray) -> np.ndarray:
    """``std`` where the input varies (by more than 1e-12 of its magnitude), else 1."""
    return np.where((std > 1e-12 * max_abs) & (std > 0), std, 1.0)


def standardisation(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and scale per feature (2-D X) or per channel (4-D images); constant inputs get 1.

    Shapes broadcast against one row of ``X``. Neither overflows nor underflows: ``X * 1e300``
    and ``X * 1e-300`` get the scales of ``X`` times 1e300 and 1e-300
    (``fboost._numeric.safe_moments``); a feature is constant when its standard deviation is
    below 1e-12 of its largest magnitude.
    """
    axes = (0, 2, 3) if X.ndim == 4 else (0,)
    mean, std, max_abs = safe_moments(X, axes)
    return mean[0], _scale(std, max_abs)[0]


def target_standardisation(y: np.ndarray, sample_weight: np.ndarray) -> tuple[float, float]:
    """Weighted mean and scale of regression targets, as ``standardisation`` computes them."""
    mean, std, max_abs = safe_moments(y, 0, sample_weight)
    return float(mean.ravel()[0]), float(_scale(std, max_abs).ravel()[0])


def scale_rows(X: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """``(X - mean) / scale`` as contiguous float32, the networks' input.

    ``ValueError`` naming ``X`` when a value lies so far from the training data that it cannot
    be held in float32 once standardised (instead of an inf that would make the output NaN).
    """
    with np.errstate(over="ignore", invalid="ignore"):
        scaled = (X - mean) / scale
        if not np.isfinite(scaled).all():  # X - mean overflowed: the same, in another order
            scaled = X / scale - mean / scale
        rows = np.ascontiguousarray(scaled, dtype=np.float32)
    if not np.isfinite(rows).all():
        largest = float(np.max(np.abs(scaled[np.isfinite(scaled)]), initial=np.inf))
        raise ValueError(
            "X: some values lie so far outside the training data that, standardised by the "
            f"training mean and scale, they exceed float32's range (3.4e+38; largest "
            f"{largest:.3g}), in which the network works"
        )
    return rows


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
