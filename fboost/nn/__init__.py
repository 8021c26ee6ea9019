"""Torch building blocks of fboost's residual networks.

- ``fboost.nn.modules``: ``TabularResNet``, ``ConvResNet`` and their blocks (and
  ``Dropout``, ``nn.Dropout`` with a cheaper mask on the CPU); the head is affine so
  that the output telescopes over the blocks;
- ``fboost.nn.stages``: a trained trunk as an ``AdditiveModel``
  (``TrunkStart``, ``BlockStage``, ``TrunkModel``);
- ``fboost.nn._train``: the epoch loop (``Trainer``), reusable by other schedules;
- ``block_gradient_norms``: ``||dL/dz_t||`` per block, residual or plain.
"""

from ._grad import block_gradient_norms
from ._train import TensorData, Trainer, TrainHistory, adamw, batch_slices
from .modules import (
    ConvBlock,
    ConvResNet,
    Dropout,
    LinearHead,
    ResidualTrunk,
    TabularBlock,
    TabularResNet,
)
from .stages import BlockStage, TrunkModel, TrunkStart

__all__ = [
    "Dropout",
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
    "adamw",
    "block_gradient_norms",
]
