"""Residual networks trained end to end, as additive models (the *feature space, joint* cell).

A ResNet ``z_0 = stem(x)``, ``z_t = z_{t-1} + f_t(z_{t-1})`` with an affine head telescopes into
``F(x) = head(z_0) + sum_t W f_t(z_{t-1})`` (He et al. 2016, eq. 4): ``F_0 = head(z_0)`` and
``alpha_t h_t = W f_t(z_{t-1})`` with ``alpha_t = 1``; with ``stage_weights="learned"`` each
branch has its own ``alpha_t`` (ReZero), and ``stochastic_depth`` scales it by the block's
survival probability at prediction time. ``ResNetRegressor`` and
``ResNetClassifier`` train ``fboost.nn.TabularResNet`` (``architecture="mlp"``) or
``fboost.nn.ConvResNet`` (``architecture="cnn"``) with AdamW and early stopping, and expose
that sum through the shared surface (``stage_contributions``, ``staged_predict``,
``drop_stages``) plus ``stage_features`` (``z_0 .. z_T``).

Torch is imported when a network is built, not with ``fboost``.
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import TYPE_CHECKING, Any, ClassVar, cast

import numpy as np
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ._distributed import N_PROCESSES_DOC, DataParallelFit
from ._persist import ModuleStatePickling
from ._torch_tools import TrunkEdits, training_rows
from ._training import seed_from
from .additive import AdditiveModel
from .base import AdditiveClassifierMixin, AdditiveEstimator, AdditiveRegressorMixin
from .losses import Loss, SquaredError

if TYPE_CHECKING:  # pragma: no cover
    from .nn import ResidualTrunk, TrunkModel
    from .nn._inputs import PreparedData

__all__ = ["ResNetRegressor", "ResNetClassifier"]


#: default widths per architecture: (d_block, d_hidden)
_WIDTHS = {"mlp": (128, 256), "cnn": (32, 32)}
#: default upper bound on epochs per architecture
_MAX_EPOCHS = {"mlp": 100, "cnn": 20}
#: default stride of the CNN's stem convolution (its only downsampling)
_STEM_STRIDE = 2


class _ResNetBase(DataParallelFit, TrunkEdits, ModuleStatePickling, AdditiveEstimator):
    _parameter_constraints: ClassVar[dict[str, Any]] = {
        **AdditiveEstimator._parameter_constraints,
        "architecture": [StrOptions({"mlp", "cnn"})],
        "image_shape": [tuple, list, None],
        "stem_stride": [Interval(Integral, 1, None, closed="left"), None],
        "d_block": [Interval(Integral, 1, None, closed="left"), None],
        "d_hidden": [Interval(Integral, 1, None, closed="left"), None],
        "dropout1": [Interval(Real, 0, 1, closed="left")],
        "dropout2": [Interval(Real, 0, 1, closed="left")],
        "skip": ["boolean"],
        "batch_norm": ["boolean"],
        "stage_weights": [StrOptions({"fixed", "learned"})],
        "stochastic_depth": [Interval(Real, 0, 1, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "max_epochs": [Interval(Integral, 1, None, closed="left"), None],
        "device": "no_validation",  # checked by resolve_device in fit
        "n_processes": "no_validation",  # checked by DataParallelFit.fit
    }

    #: what subclasses without these parameters get (BoostResNet: fixed weights, no drops;
    #: ResFGB, BoostResNet: the stem's default stride)
    stage_weights: str = "fixed"
    stochastic_depth: float = 0.0
    stem_stride: int | None = None

    model_: AdditiveModel
    module_: ResidualTrunk
    image_shape_: tuple[int, int, int]
    _module_config: dict[str, Any]

    def __init__(
        self,
        *,
        architecture: str = "mlp",
        image_shape: tuple[int, int, int] | None = None,
        stem_stride: int | None = None,
        n_stages: int = 3,
        d_block: int | None = None,
        d_hidden: int | None = None,
        dropout1: float = 0.1,
        dropout2: float = 0.0,
        skip: bool = True,
        batch_norm: bool = True,
        stage_weights: str = "fixed",
        stochastic_depth: float = 0.0,
        lr: float = 1e-3,
        weight_decay: float = 1e-5,
        batch_size: int = 256,
        max_epochs: int | None = None,
        n_iter_no_change: int | None = 10,
        validation_fraction: float = 0.1,
        tol: float = 1e-4,
        random_state: Any = None,
        device: str = "cpu",
        n_processes: int = 1,
        verbose: int = 0,
        loss: Any = None,
        alpha: float = 0.9,
    ) -> None:
        self.architecture = architecture
        self.image_shape = image_shape
        self.stem_stride = stem_stride
        self.n_stages = n_stages
        self.d_block = d_block
        self.d_hidden = d_hidden
        self.dropout1 = dropout1
        self.dropout2 = dropout2
        self.skip = skip
        self.batch_norm = batch_norm
        self.stage_weights = stage_weights
        self.stochastic_depth = stochastic_depth
        self.lr = lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.n_iter_no_change = n_iter_no_change
        self.validation_fraction = validation_fraction
        self.tol = tol
        self.random_state = random_state
        self.device = device
        self.n_processes = n_processes
        self.verbose = verbose
        self.loss = loss
        self.alpha = alpha

    # -- input layout ---------------------------------------------------------------------------
    def _flatten_images(self, X: Any, *, fit: bool) -> Any:
        """Images to flat rows for validation, checked against ``image_shape`` (cnn only)."""
        if self.architecture != "cnn":
            for name in ("image_shape", "stem_stride"):
                if getattr(self, name) is not None:
                    raise ValueError(
                        f"{name} only applies to architecture='cnn', got {name}="
                        f"{getattr(self, name)!r} with architecture={self.architecture!r}"
                    )
            return X
        from .nn._inputs import check_image_shape, images_to_rows

        if not fit:
            return images_to_rows(X, self.image_shape_, name="X")[0]
        expected = None if self.image_shape is None else check_image_shape(self.image_shape)
        rows, found = images_to_rows(X, expected, name="image_shape")
        if found is None:  # flat rows: image_shape says how to fold them
            if expected is None:
                raise ValueError(
                    "architecture='cnn' needs X of shape (n_samples, C, H, W), or flat rows "
                    f"with image_shape=(C, H, W); got X of shape {np.shape(rows)} and "
                    "image_shape=None"
                )
            n_features = np.shape(rows)[1] if len(np.shape(rows)) == 2 else None
            if n_features is not None and n_features != int(np.prod(expected)):
                raise ValueError(
                    f"image_shape={expected} has {int(np.prod(expected))} values per image but "
                    f"X has {n_features} features"
                )
        self.image_shape_ = found or expected  # type: ignore[assignment]
        return rows

    def _validate_fit_data(self, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        return super()._validate_fit_data(self._flatten_images(X, fit=True), y)

    def _validate_X(self, X: Any) -> Any:
        check_is_fitted(self)
        return super()._validate_X(self._flatten_images(X, fit=False))

    def _layout(self, X: np.ndarray) -> np.ndarray:
        """Flat validated rows to the module's input layout."""
        if self.architecture == "cnn":
            return X.reshape(X.shape[0], *self.image_shape_)
        return X

    def _prepare_X(self, X: np.ndarray) -> np.ndarray:
        """Scaled float32 in the module's layout (what ``fboost.nn.TrunkModel`` consumes)."""
        from .nn._inputs import scale_rows

        return scale_rows(self._layout(X), self.x_mean_, self.x_scale_)

    # -- the network ----------------------------------------------------------------------------
    def _stem_stride(self) -> int:
        return _STEM_STRIDE if self.stem_stride is None else self.stem_stride

    def _module_kwargs(self, n_outputs: int) -> dict[str, Any]:
        d_block, d_hidden = _WIDTHS[self.architecture]
        d_block = d_block if self.d_block is None else self.d_block
        if self.d_hidden is not None:
            d_hidden = self.d_hidden
        elif self.d_block is not None:
            d_hidden = 2 * d_block if self.architecture == "mlp" else d_block
        extra: dict[str, Any] = {}
        if self.architecture == "cnn":
            d_in = self.image_shape_[0]
            extra["stem_stride"] = self._stem_stride()
        else:
            d_in = self.n_features_in_
        return {
            **extra,
            "d_in": d_in,
            "d_out": n_outputs,
            "d_block": d_block,
            "d_hidden": d_hidden,
            "n_blocks": self.n_stages,
            "dropout1": self.dropout1,
            "dropout2": self.dropout2,
            "skip": self.skip,
            "batch_norm": self.batch_norm,
            "stage_weights": self.stage_weights,
            "stochastic_depth": self.stochastic_depth,
        }

    def _build_module(self) -> ResidualTrunk:
        from .nn import ConvResNet, TabularResNet

        cls = ConvResNet if self._module_config["architecture"] == "cnn" else TabularResNet
        return cls(**self._module_config["kwargs"])

    def _build_model(self, kept: list[int] | None = None) -> TrunkModel:
        from .nn import BlockStage, TrunkModel, TrunkStart

        offset, scale = self._output_units()
        start = TrunkStart(self.module_, np.atleast_1d(offset).astype(np.float64), scale)
        kept = list(range(len(self.module_.blocks))) if kept is None else kept
        stages = [BlockStage(start, index) for index in kept]
        weights = [_scalar(self.module_.branch_weight(index)) for index in kept]
        return TrunkModel(start, stages, np.asarray(weights, dtype=np.float64))

    def initialize(self, X: Any, y: Any, sample_weight: Any = None) -> _ResNetBase:
        """Build everything ``fit`` builds, and train nothing.

        Input and target scaling, ``loss_`` (and ``classes_``), ``module_`` at the initial weights
        ``fit`` starts from (same ``random_state``), and ``model_``, so that the whole surface
        (``stage_contributions``, ``stage_features``, ...) describes the network at
        initialisation. Histories are empty and ``n_epochs_`` is 0.

        Parameters
        ----------
        X, y, sample_weight
            As in ``fit``.

        Returns
        -------
        self : object
            The estimator, with an untrained network.
        """
        self._initialize(*self._validate_fit_inputs(X, y, sample_weight))
        return self

    def _initialize(self, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray) -> PreparedData:
        import torch

        from .nn._inputs import PreparedData, cuda_devices, resolve_device, standardisation

        device = resolve_device(self.device)
        if not self.skip and (self.stage_weights == "learned" or self.stochastic_depth > 0):
            raise ValueError(
                "stage_weights='learned' and stochastic_depth > 0 need skip=True (a plain block "
                f"has no branch to scale or drop); got skip=False, stage_weights="
                f"{self.stage_weights!r}, stochastic_depth={self.stochastic_depth!r}"
            )
        if self.batch_norm and self.batch_size < 2:
            raise ValueError(
                f"batch_size must be at least 2 with batch_norm=True (BatchNorm cannot "
                f"normalise one row), got batch_size={self.batch_size}"
            )
        self.x_mean_, self.x_scale_ = standardisation(self._layout(X))
        target = self._fit_target(y, sample_weight)
        self._module_config = {
            "architecture": self.architecture,
            "kwargs": self._module_kwargs(self.loss_.n_outputs),
        }
        rng = check_random_state(self.random_state)
        init_seed, train_seed = seed_from(rng), seed_from(rng)
        with torch.random.fork_rng(devices=cuda_devices(device)):
            torch.manual_seed(init_seed)
            self.module_ = self._build_module()
            self._init_head(y, sample_weight)
        self.module_.to(device).eval()
        self.device_ = str(device)
        self.train_score_ = self.validation_score_ = np.empty(0)
        self.n_epochs_ = self.best_epoch_ = 0
        self.model_ = self._build_model()
        return PreparedData(self._prepare_X(X), target, sample_weight, device, train_seed)

    def _training_rows(
        self, data: PreparedData, y: np.ndarray
    ) -> tuple[PreparedData, PreparedData | None]:
        return training_rows(self, data, y)

    def _fit(self, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray) -> None:
        import torch

        from .nn import Trainer, adamw
        from .nn._inputs import cuda_devices

        data = self._initialize(X, y, sample_weight)
        train, validation = self._training_rows(data, y)
        offset, scale = self._output_units()
        loss_fn, units = self._network_loss(offset, scale)
        with torch.random.fork_rng(devices=cuda_devices(data.device)):
            torch.manual_seed(data.seed)
            trainer = Trainer(
                module=self.module_,
                loss_fn=loss_fn,
                optimizer=adamw(
                    self.module_.parameters(),
                    lr=self.lr,
                    weight_decay=self.weight_decay,
                    device=data.device,
                ),
                batch_size=self.batch_size,
                max_epochs=_MAX_EPOCHS[self.architecture]
                if self.max_epochs is None
                else self.max_epochs,
                n_iter_no_change=self.n_iter_no_change,
                tol=self.tol,
                verbose=self.verbose,
                desc=type(self).__name__,
            )
            history = trainer.fit(
                train.tensors(), None if validation is None else validation.tensors()
            )
        self.train_score_ = np.asarray(history.train_loss) * units
        self.validation_score_ = np.asarray(history.validation_loss) * units
        self.n_epochs_ = len(history.train_loss)
        self.best_epoch_ = history.best_epoch
        self.module_.eval()
        self.model_ = self._build_model()

    def _network_loss(self, offset: float, scale: float) -> tuple[Any, float]:
        """The loss the network trains on, and the factor that brings it to the user's units.

        Squared error and the classifiers' losses train on the network's output itself (for
        squared error, on the standardised target: the factor is ``scale**2``); every other
        loss on the raw score in the target's units, ``offset + scale * output``.
        """
        loss = self.loss_
        if loss.is_classification or isinstance(loss, SquaredError):
            return (lambda raw, y, w: loss.torch_value(y, raw, w)), scale**2
        return (lambda raw, y, w: loss.torch_value(y, offset + scale * raw, w)), 1.0

    # -- what the regressor and the classifier supply -------------------------------------------
    def _output_units(self) -> tuple[float, float]:
        """``(offset, scale)`` from the network's output to the raw score in the user's units."""
        return 0.0, 1.0

    def _fit_target(self, y: np.ndarray, sample_weight: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _can_stratify(self, y: np.ndarray) -> bool:
        return False

    def _init_head(self, y: np.ndarray, sample_weight: np.ndarray) -> None:
        """Start the head's bias at the loss's optimal constant (log priors for classifiers)."""

    # -- the surface beyond the base ------------------------------------------------------------
    def stage_features(self, X: Any) -> np.ndarray:
        """The trunk's features ``z_0, z_1, .., z_T`` (eval mode).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, C, H, W)

        Returns
        -------
        features : ndarray of shape (n_stages_ + 1, n_samples, d_block) or \
(n_stages_ + 1, n_samples, d_block, H', W')
            float32; row 0 is the stem output ``z_0``, row t the output of stage t (after a
            lesion, of the t-th kept stage). ``W @ mean-pooled(features[t]) + b`` (through the
            head) gives ``staged_predict``'s raw scores.
        """
        return cast("TrunkModel", self.model_).features(self._validate_X(X))

    # -- pickling through state dicts (``ModuleStatePickling``) ---------------------------------
    def _kept_stages(self, model: Any) -> list[int]:
        return model.kept_blocks


def _scalar(value: Any) -> float:
    """A float from a Python number or a (possibly trainable) 0-d tensor."""
    return float(value.detach()) if hasattr(value, "detach") else float(value)


_RESNET_DOC = (
    """
    Parameters
    ----------
    architecture : {"mlp", "cnn"}, default="mlp"
        ``"mlp"``: ``fboost.nn.TabularResNet`` on rows of features. ``"cnn"``:
        ``fboost.nn.ConvResNet`` on images, given as ``(n_samples, C, H, W)`` (or
        ``(n_samples, H, W)`` for one channel) or as flat rows with ``image_shape``.
    image_shape : tuple of 3 int or None, default=None
        ``(C, H, W)`` of the images when X holds flat rows (``architecture="cnn"`` only).
    stem_stride : int or None, default=None
        Stride (>= 1) of the CNN's stem convolution, its only downsampling: the blocks work at
        ``ceil(H / stem_stride) x ceil(W / stem_stride)``, so stride 2 makes every block about
        four times cheaper. ``None``: 2 (``architecture="cnn"`` only).
    n_stages : int, default=3
        Residual blocks T (>= 1); each block is a stage.
    d_block : int or None, default=None
        Width of the residual stream: features (mlp) or channels (cnn). ``None``: 128 for mlp,
        32 for cnn.
    d_hidden : int or None, default=None
        Hidden width inside a block. ``None``: ``2 * d_block`` for mlp, ``d_block`` for cnn.
    dropout1 : float, default=0.1
        Dropout inside each block (after its hidden activation), in [0, 1).
    dropout2 : float, default=0.0
        Dropout on each block's output, in [0, 1).
    skip : bool, default=True
        ``False`` removes the additions: the plain network of the same depth and parameters
        (stages still telescope, with ``h_t = W (z_t - z_{t-1})``).
    batch_norm : bool, default=True
        BatchNorm inside the blocks and before the linear head (affine in eval mode).
    stage_weights : {"fixed", "learned"}, default="fixed"
        ``"fixed"``: ``z_t = z_{t-1} + f_t(z_{t-1})``. ``"learned"``: a trainable scalar per
        block, ``z_t = z_{t-1} + alpha_t f_t(z_{t-1})``, initialised at 0 (ReZero, Bachlechner
        et al. 2020), so that the network starts as ``F_0`` and ``stage_weights_`` are the
        learned alphas. Needs ``skip=True``. Unlike ReZero, the blocks keep their BatchNorm
        (``batch_norm``).
    stochastic_depth : float, default=0.0
        Drop probability ``p_L`` of the last block, in [0, 1) (Huang et al. 2016): block t of T
        survives with ``p_t = 1 - t / T * p_L``. Training drops block t with probability
        ``1 - p_t``, one draw per minibatch; prediction scales its branch by ``p_t`` (the
        paper's form, not the inverted one), so ``p_t`` is part of ``stage_weights_``. Needs
        ``skip=True``.
    lr : float, default=1e-3
        AdamW learning rate, > 0.
    weight_decay : float, default=1e-5
        AdamW (decoupled) weight decay, >= 0.
    batch_size : int, default=256
        Rows per optimizer step (and per evaluation batch).
    max_epochs : int or None, default=None
        Upper bound on passes over the training data; the one parameter worth tuning first.
        ``None``: 100 for mlp, 20 for cnn. The CNN defaults (32 channels, ``stem_stride=2``,
        20 epochs, batches of 256) are sized for a CPU: on the 28x28 ``digits28`` set (4,000
        training images) the default ``ResNetClassifier(architecture="cnn")`` reached
        test accuracy 0.992 to 0.994 in 39 to 135 s on 2 cores over 7 runs
        (``bench/bench_resnet.py``, ``cnn_default``; ``bench/results/resnet_runs.json``).
    n_iter_no_change : int or None, default=10
        Early stopping: hold out ``validation_fraction`` (stratified for classifiers when every
        class allows it), stop after this many epochs without a validation improvement larger than
        ``tol``, and restore the weights of the best epoch. ``None`` trains ``max_epochs`` on all
        rows and keeps the last weights.
    validation_fraction : float, default=0.1
        Fraction in (0, 1) held out for early stopping.
    tol : float, default=1e-4
        Minimum improvement of the validation loss, >= 0, measured on the loss the network
        is trained on (for squared error, on the standardised target).
    random_state : int, RandomState instance or None, default=None
        Seeds the split, the initial weights, dropout and the batch order. A fixed seed gives
        identical predictions on CPU (same torch build and thread count).
    device : str, default="cpu"
        Torch device to train and predict on, e.g. ``"cuda"``; ``ValueError`` if unavailable.
        Data are moved there whole; results always come back as NumPy.
"""
    + N_PROCESSES_DOC
    + """    verbose : int, default=0
        Show a progress bar over epochs with the training and validation loss when > 0.
    loss : str, Loss or None, default=None
        Regressors: ``"squared_error"`` (``None``), ``"absolute_error"``, ``"huber"``,
        ``"quantile"``, ``"poisson"`` (y >= 0) or ``"gamma"`` (y > 0); classifiers:
        ``"log_loss"`` (``None``) or ``"exponential"`` (two classes); or any
        ``fboost.losses.Loss``: the network is trained on its ``torch_value``. Squared error
        trains on the standardised target; the other regression losses on the raw score in the
        target's units, ``y_mean_ + y_scale_ * output``.
    alpha : float, default=0.9
        The quantile level of ``"quantile"``; for ``"huber"``, the quantile of ``|y - F_0|``
        that fixes the threshold once, before training. In (0, 1).

    Attributes
    ----------
    module_ : TabularResNet or ConvResNet
        The trained network, in eval mode, on ``device_``. It works on standardised inputs.
    model_ : fboost.nn.TrunkModel
        ``F_0`` (stem and head, plus the target's mean and scale) and one stage per block.
    n_stages_ : int
        Number of stages (blocks) in the model: ``n_stages``, fewer after ``drop_stages``.
    stage_weights_ : ndarray of shape (n_stages_,)
        ``alpha_t p_t`` per stage: the learned alphas (``stage_weights="learned"``, else 1)
        times the survival probabilities (``stochastic_depth``, else 1); all ones by default,
        when a block's contribution ``W f_t(z_{t-1})`` carries its own scale. Row t of
        ``stage_contributions`` is ``stage_weights_[t - 1] * W f_t(z_{t-1})``.
    train_score_ : ndarray of shape (n_epochs_,)
        Training loss per epoch (the weighted mean of the minibatch losses during that epoch, in
        train mode), in the ``fboost.losses`` conventions and the user's units.
    validation_score_ : ndarray of shape (n_epochs_,)
        Validation loss after each epoch, in eval mode (empty without early stopping).
    n_epochs_ : int
        Epochs trained.
    best_epoch_ : int
        1-based epoch whose weights were kept (``n_epochs_`` without early stopping).
    x_mean_, x_scale_ : ndarray
        Input standardisation, per feature (mlp) or per channel (cnn), fitted in ``fit``.
    image_shape_ : tuple of int
        ``(C, H, W)`` of the training images (cnn only).
    device_ : str
        Device the network lives on (``"cpu"`` after unpickling without CUDA).
    loss_ : Loss
        The loss (``fboost.losses``); the network is trained on its ``torch_value``.
    n_features_in_ : int
        Features seen during fit (``C * H * W`` for images).

    Notes
    -----
    In eval mode the output telescopes exactly: ``stage_contributions(X).sum(axis=0)`` equals
    the network's raw output to float32 precision, ``staged_*`` apply the head to ``z_t`` (one
    forward pass for all t), and ``drop_stages([t])`` bypasses block t (``z_t = z_{t-1}``, later
    blocks see the changed input). ``reorder_stages(order)`` runs the blocks in another order
    and ``recalibrate_batch_norm(X)`` re-estimates the BatchNorm statistics of a lesioned or
    reordered copy. ``initialize(X, y)`` builds everything ``fit`` builds without
    training (the network at initialisation). Pickling stores the weights as a state dict and
    loads on CPU when CUDA is missing.
    Predictions are batch-invariant: the network is evaluated in float64 at predict time
    (``fboost.nn._precision``; it trains in float32), so a row's prediction does not depend on the
    rows sharing the call (below 1e-12 relative; about 1e-5 in float32). The cost, from
    ``bench/bench_predict.py`` on one CPU thread: 3.1x the float32 predict time for a default
    tabular ResNet on 10,000 rows, 2.7x for GrowNet with 20 stages, 12x for a CNN (float64
    convolutions have no oneDNN kernel). MPS has no float64: predictions there stay float32.
"""
)


class _StandardisedTarget:
    """Regression targets: standardised for the network, predictions in the target's units.

    (Shared by the regressors of ``fboost.resnet`` and ``fboost.boostresnet``.)
    """

    y_mean_: float
    y_scale_: float

    def _output_units(self) -> tuple[float, float]:
        return self.y_mean_, self.y_scale_

    loss_: Loss

    def _fit_target(self, y: np.ndarray, sample_weight: np.ndarray) -> np.ndarray:
        from .nn._inputs import target_standardisation

        mean, scale = target_standardisation(y, sample_weight)  # cannot overflow
        if isinstance(self.loss_, SquaredError):
            self.y_mean_, self.y_scale_ = mean, scale
            return ((y - mean) / self.y_scale_).astype(np.float32)
        # any other loss: the output starts at the loss's F_0, on the target's scale where the
        # link is the identity; the loss itself sees the target as it is
        init = self.loss_.init_raw(y, sample_weight)
        self.loss_.prepare_stage(y, np.broadcast_to(init, (len(y), 1)), sample_weight)
        self.y_mean_ = float(init[0])
        self.y_scale_ = scale if self.loss_.link == "identity" else 1.0
        return y.astype(np.float32)


class _ClassCodes:
    """Classification targets: int64 class codes; a stratified split where every class allows it.

    (Shared by the classifiers of ``fboost.resnet`` and ``fboost.boostresnet``.)
    """

    validation_fraction: float

    def _fit_target(self, y: np.ndarray, sample_weight: np.ndarray) -> np.ndarray:
        return y.astype(np.int64)

    def _can_stratify(self, y: np.ndarray) -> bool:
        counts = np.bincount(y)
        counts = counts[counts > 0]
        n_val = int(np.ceil(self.validation_fraction * len(y)))
        return bool(counts.min() >= 2 and min(n_val, len(y) - n_val) >= len(counts))


class ResNetRegressor(RegressorMixin, AdditiveRegressorMixin, _StandardisedTarget, _ResNetBase):
    __doc__ = (
        """A residual network for regression (half squared error by default), trained end to end.

    Inputs are standardised and the target is standardised inside the estimator; predictions
    and ``stage_contributions`` are in the target's units (``F_0`` absorbs its mean and scale).
"""
        + _RESNET_DOC
        + """
    y_mean_, y_scale_ : float
        The network's output ``o`` is the raw score ``y_mean_ + y_scale_ * o``: the target's
        weighted mean and standard deviation for squared error; otherwise the loss's ``F_0``
        and the standard deviation (identity link) or 1 (log link).

    Examples
    --------
    >>> from sklearn.datasets import make_friedman1
    >>> from fboost import ResNetRegressor
    >>> X, y = make_friedman1(n_samples=200, random_state=0)
    >>> model = ResNetRegressor(n_stages=2, d_block=16, max_epochs=5, random_state=0).fit(X, y)
    >>> contributions = model.stage_contributions(X)
    >>> contributions.shape
    (3, 200, 1)
    >>> bool(abs(contributions.sum(axis=0)[:, 0] - model.predict(X)).max() < 1e-4)
    True
    """
    )


class ResNetClassifier(ClassifierMixin, AdditiveClassifierMixin, _ClassCodes, _ResNetBase):
    __doc__ = (
        """A residual network for binary or multiclass classification (log loss by default).

    Binary problems have one raw output (the log-odds of ``classes_[1]``), K classes have K.
"""
        + _RESNET_DOC
        + """
    classes_ : ndarray of shape (n_classes,)
        Class labels.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from fboost import ResNetClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = ResNetClassifier(architecture="cnn", image_shape=(1, 8, 8), n_stages=2, d_block=8,
    ...                        max_epochs=2, random_state=0).fit(X[:300], y[:300])
    >>> clf.stage_contributions(X[:5]).shape
    (3, 5, 10)
    >>> clf.stage_features(X[:5]).shape
    (3, 5, 8, 4, 4)
    """
    )

    def _init_head(self, y: np.ndarray, sample_weight: np.ndarray) -> None:
        import torch

        head = self.module_.head
        assert head is not None
        with torch.no_grad():
            init = self.loss_.init_raw(y, sample_weight)
            head.linear.bias.copy_(torch.as_tensor(init, dtype=head.linear.bias.dtype))
