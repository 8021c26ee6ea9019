"""Measurements on any fboost estimator, each a tidy ``pandas.DataFrame``.

They answer the questions the library is built around, through the surface every estimator
shares (``stage_contributions``, ``drop_stages``, ``loss_``, ``classes_``, ``stage_features``):

- *is a ResNet doing gradient boosting?* ``functional_alignment`` (cosine between each
  stage and the negative functional gradient, and the loss it buys) and ``edges``
  (BoostResNet's weak-learning edge of every stage);
- *did residual learning solve vanishing gradients?* ``gradient_norms`` (``||dL/dz_t||``
  and parameter gradients per block, residual vs plain, fitted or at initialisation);
- *does a ResNet behave like an ensemble of shallow paths?* ``lesion_study``,
  ``path_length_distribution`` and ``gradient_by_path_length`` (Veit et al. 2016), and
  ``reorder_study`` (score with pairs of blocks swapped);
- *how does the gradient flow back through a skip connection?* ``skip_gradient_demo``.

Each has a figure in ``fboost.plotting``.
"""

from ._alignment import functional_alignment
from ._demo import skip_gradient_demo
from ._edges import edges
from ._feature_alignment import feature_alignment
from ._gradients import gradient_norms
from ._lesion import lesion_study
from ._paths import gradient_by_path_length, path_length_distribution
from ._reorder import reorder_study

__all__ = [
    "functional_alignment",
    "edges",
    "lesion_study",
    "reorder_study",
    "gradient_norms",
    "path_length_distribution",
    "gradient_by_path_length",
    "skip_gradient_demo",
    "feature_alignment",
]
