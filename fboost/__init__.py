"""fboost: gradient-boosted trees and residual networks as one additive model.

``F_T(x) = F_0(x) + sum_t alpha_t h_t(x)``: a GBM adds a tree fitted to the loss gradient, a ResNet
adds a block to its features and, with a linear head, telescopes into the same sum. Every estimator
here exposes that sum: ``stage_contributions``, ``staged_predict``, ``drop_stages``.
"""

from ._version import __version__
from .additive import AdditiveModel
from .boostresnet import BoostResNetClassifier, BoostResNetRegressor
from .function_space import FunctionalBoostingClassifier, FunctionalBoostingRegressor
from .io import load, save
from .losses import (
    AbsoluteError,
    BinaryLogLoss,
    ExponentialLoss,
    GammaLoss,
    HuberLoss,
    Loss,
    MultinomialLogLoss,
    PoissonLoss,
    QuantileLoss,
    SquaredError,
    get_loss,
)
from .neural_boosting import NeuralBoostingClassifier, NeuralBoostingRegressor
from .resfgb import ResFGBClassifier, ResFGBRegressor
from .resnet import ResNetClassifier, ResNetRegressor
from .soft_boosting import SoftBoostingClassifier, SoftBoostingRegressor
from .trees import TreeBoostingClassifier, TreeBoostingRegressor

__all__ = [
    "__version__",
    "AdditiveModel",
    "TreeBoostingRegressor",
    "TreeBoostingClassifier",
    "FunctionalBoostingRegressor",
    "FunctionalBoostingClassifier",
    "ResNetRegressor",
    "ResNetClassifier",
    "NeuralBoostingRegressor",
    "BoostResNetRegressor",
    "BoostResNetClassifier",
    "NeuralBoostingClassifier",
    "SoftBoostingRegressor",
    "SoftBoostingClassifier",
    "Loss",
    "SquaredError",
    "BinaryLogLoss",
    "MultinomialLogLoss",
    "get_loss",
    "save",
    "load",
    "AbsoluteError",
    "HuberLoss",
    "QuantileLoss",
    "PoissonLoss",
    "GammaLoss",
    "ExponentialLoss",
    "ResFGBRegressor",
    "ResFGBClassifier",
]
