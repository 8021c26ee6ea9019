"""Torch building blocks of fboost's residual networks.

- :mod:`fboost.nn.modules`: :class:`TabularResNet`, :class:`ConvResNet` and their blocks; the
  head is affine so that the output telescopes over the blocks;
- :mod:`fboost.nn.stages`: a trained trunk as an :class:`~fboost.additive.AdditiveModel`
  (:class:`TrunkStart`, :class:`BlockStage`, :class:`TrunkModel`);
- :mod:`fboost.nn._train`: the epoch loop (:class:`Trainer`), reusable by other schedules;
- :func:`block_gradient_norms`: ``||dL/dz_t||`` per block, residual or plain.
"""

from ._grad import block_gradient_norms
from ._train import TensorData, Trainer, TrainHistory, batch_slices
from .modules import (
    ConvBlock,
    ConvResNet,
    LinearHead,
    ResidualTrunk,
    TabularBlock,
    TabularResNet,
)
from .stages import BlockStage, TrunkModel, TrunkStart

__all__ = [
    "TabularBlock",
    "ConvBlock",
    "LinearHead",
    "ResidualTrunk",
    "TabularResNet",
    "ConvResNet",
    "TrunkStart",
    "BlockStage",
    "TrunkModel",
    "Trainer",
    "TensorData",
    "TrainHistory",
    "batch_slices",
    "block_gradient_norms",
]
