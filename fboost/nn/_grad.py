"""Gradient norms per block: ``||dL/dz_t||`` along the trunk (He et al. 2016, eq. 5).

Through a skip, ``dL/dz_l = dL/dz_T (I + d/dz_l sum_{i>=l} f_i)``: the gradient reaching an early
block keeps the direct term, so its norm stays comparable to the last block's. Without the skip
the gradient is a product of T Jacobians and vanishes or explodes with depth.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor

from ..losses import Loss
from .modules import ResidualTrunk

__all__ = ["block_gradient_norms"]

LossFn = Loss | Callable[[Tensor, Tensor], Tensor]


def block_gradient_norms(
    module: ResidualTrunk,
    x: Tensor,
    y: Tensor,
    loss: LossFn,
    *,
    train: bool = True,
) -> np.ndarray:
    """Norms of the loss gradient with respect to every trunk feature ``z_0 .. z_T``.

    Parameters
    ----------
    module : ResidualTrunk
        A ``TabularResNet`` or ``ConvResNet`` with a head.
    x : Tensor
        A batch of inputs.
    y : Tensor
        Targets: floats for regression, int64 class codes for classification.
    loss : Loss or callable
        A ``fboost.losses.Loss`` (its ``torch_value(y, raw)`` is used) or any
        ``loss(raw, y) -> scalar tensor``.
    train : bool, default=True
        Run the module in train mode (BatchNorm on batch statistics, as during training; this
        updates BatchNorm running statistics) or in eval mode. The module's mode is restored.

    Returns
    -------
    norms : ndarray of shape (n_blocks + 1,)
        ``norms[t] = ||dL/dz_t||`` (Frobenius norm over the batch); ``norms[0]`` is at the input
        of the first block and ``norms[-1]`` at the output of the last. Parameter gradients are
        left untouched.

    Examples
    --------
    >>> import torch
    >>> from fboost.losses import SquaredError
    >>> from fboost.nn import TabularResNet, block_gradient_norms
    >>> net = TabularResNet(d_in=3, d_out=1, d_block=8, n_blocks=4)
    >>> x, y = torch.randn(16, 3), torch.randn(16)
    >>> block_gradient_norms(net, x, y, SquaredError()).shape
    (5,)
    """
    if module.head is None:
        raise ValueError("module must have a head (d_out is not None) to compute a loss")
    was_training = module.training
    module.train(train)
    try:
        with torch.enable_grad():
            zs = module.features(x)
            raw = module.head(zs[-1])
            value = loss.torch_value(y, raw) if isinstance(loss, Loss) else loss(raw, y)
            grads = torch.autograd.grad(value, zs, allow_unused=True)
    finally:
        module.train(was_training)
    norms = [0.0 if g is None else float(torch.linalg.vector_norm(g).item()) for g in grads]
    return np.asarray(norms, dtype=np.float64)
