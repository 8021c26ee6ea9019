"""The torch network behind a ResNet estimator, fitted or freshly initialised, for autograd.

The gradient analyses need the trunk itself (``stem``, ``blocks``, ``head``, ``step``), the
inputs in the module's layout and the loss on the raw score in the user's units. A fitted
estimator supplies all of them (``module_``, ``model_``); an *unfitted* one is built at
initialisation for ``X``'s shape, exactly as ``fit`` would build it before its first step
(same seed), and is never trained.

The module is always deep-copied, so that running the analysis in train mode (BatchNorm on
batch statistics, dropout) leaves the estimator's BatchNorm statistics untouched.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.base import clone
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from .._training import seed_from
from ._common import encode_targets, estimator_name

if TYPE_CHECKING:  # pragma: no cover
    from torch import Tensor

    from ..losses import Loss
    from ..nn import ResidualTrunk

__all__ = ["Network", "network_from", "initialise"]


@dataclass
class Network:
    """A private copy of a trunk with the data and the loss to differentiate."""

    module: ResidualTrunk
    blocks: list[int]  # module block indices of the model's stages, in order
    x: Tensor
    y: Tensor
    loss: Loss
    offset: Tensor
    scale: float
    fitted: bool
    name: str

    @property
    def skip(self) -> bool:
        return bool(self.module.skip)

    @property
    def batch_norm(self) -> bool:
        from torch.nn.modules.batchnorm import _BatchNorm

        return any(isinstance(m, _BatchNorm) for m in self.module.modules())

    @property
    def n_samples(self) -> int:
        return int(self.x.shape[0])

    def value(self, z: Tensor) -> Tensor:
        """The mean loss of the head applied to ``z`` (raw score in the user's units)."""
        head = self.module.head
        assert head is not None
        return self.loss.torch_value(self.y, self.offset + self.scale * head(z))

    @contextlib.contextmanager
    def mode(self, train: bool, random_state: Any) -> Iterator[None]:
        """Train or eval mode, autograd on, torch's RNG seeded for dropout and restored after."""
        import torch

        seed = seed_from(check_random_state(random_state))
        devices = [self.x.device.index or 0] if self.x.device.type == "cuda" else []
        self.module.train(train)
        with torch.random.fork_rng(devices=devices), torch.enable_grad():
            torch.manual_seed(seed)
            yield

    def per_sample_norm(self, gradient: Tensor) -> float:
        """Mean over samples of ``||d loss_i / d z_i||``: the batch gradient of the mean loss
        has rows ``(1/n) d loss_i / d z_i`` (exact without BatchNorm in train mode)."""
        rows = gradient.reshape(gradient.shape[0], -1).double()
        return float(rows.norm(dim=1).mean().item()) * self.n_samples


def _has_feature_space(estimator: Any) -> bool:
    return callable(getattr(estimator, "stage_features", None)) and not isinstance(estimator, type)


def initialise(estimator: Any, X: Any, y: Any) -> Any:
    """A clone of an unfitted ResNet estimator, built for ``(X, y)`` and not trained.

    Everything ``fit`` sets before its first optimizer step is set (input and target scaling,
    loss, classes, module with the same seed, head bias), and ``module_`` and ``model_`` are
    the untrained network, so that the whole fboost surface works on it.

    Notes
    -----
    An estimator method ``initialize(X, y)`` (build everything ``fit`` builds, train nothing,
    return self) is used when it exists. ``fboost.resnet`` has none yet, so this adapter
    follows the steps of ``_ResNetBase._fit`` up to training through its private methods.
    """
    import torch

    est = clone(estimator)
    if callable(getattr(est, "initialize", None)):
        return est.initialize(X, y)
    from ..nn._inputs import resolve_device, standardisation

    try:
        X, codes, weight = est._validate_fit_inputs(X, y, None)  # sets loss_, classes_
        device = resolve_device(est.device)
        est.x_mean_, est.x_scale_ = standardisation(est._layout(X))
        est._fit_target(codes, weight)
        est._module_config = {
            "architecture": est.architecture,
            "kwargs": est._module_kwargs(est.loss_.n_outputs),
        }
        seed = seed_from(check_random_state(est.random_state))
        cuda = [device.index or 0] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=cuda):
            torch.manual_seed(seed)
            est.module_ = est._build_module()
            est._init_head(codes, weight)
        est.module_.to(device).eval()
        est.device_ = str(device)
        est.train_score_ = np.empty(0)
        est.validation_score_ = np.empty(0)
        est.n_epochs_ = 0
        est.model_ = est._build_model()
    except AttributeError as exc:  # pragma: no cover - guards against a changed ResNet API
        raise RuntimeError(
            f"cannot build {estimator_name(estimator)} at initialisation: fboost.resnet changed "
            f"({exc}); fboost.analysis needs a way to build the module without training"
        ) from exc
    return est


def network_from(estimator: Any, X: Any, y: Any, *, caller: str) -> Network:
    """The network of a ResNet estimator: fitted, or freshly initialised if not fitted.

    ``TypeError`` for estimators without a feature space (trees, function-space boosting).
    """
    import torch

    if not _has_feature_space(estimator):
        raise TypeError(
            f"{caller} needs a network with a feature space (stage_features), e.g. "
            f"ResNetRegressor or ResNetClassifier; got estimator={estimator!r}, whose stages "
            f"are not residual blocks"
        )
    fitted = hasattr(estimator, "module_")
    if fitted:
        check_is_fitted(estimator)
    else:
        estimator = initialise(estimator, X, y)
    module = getattr(estimator, "module_", None)
    model = getattr(estimator, "model_", None)
    if module is None or not hasattr(module, "blocks") or module.head is None or model is None:
        raise TypeError(
            f"{caller} needs a residual trunk with a head as module_ (fboost.nn.ResidualTrunk); "
            f"{estimator_name(estimator)} has module_={module!r}"
        )
    x_np = estimator._validate_X(X)
    codes = encode_targets(estimator, y, int(x_np.shape[0]))
    parameter = next(module.parameters())
    device = parameter.device
    y_dtype = torch.int64 if estimator.loss_.is_classification else parameter.dtype
    start = model.start
    return Network(
        module=copy.deepcopy(module),
        blocks=[int(stage.index) for stage in model.stages],
        x=torch.as_tensor(x_np, device=device),
        y=torch.as_tensor(codes, device=device).to(y_dtype),
        loss=estimator.loss_,
        offset=torch.as_tensor(np.asarray(start.offset), dtype=parameter.dtype, device=device),
        scale=float(start.scale),
        fitted=fitted,
        name=estimator_name(estimator),
    )
