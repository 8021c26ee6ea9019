"""Residual networks trained end to end, as additive models (the *feature space, joint* cell).

A ResNet ``z_0 = stem(x)``, ``z_t = z_{t-1} + f_t(z_{t-1})`` with an affine head telescopes into
``F(x) = head(z_0) + sum_t W f_t(z_{t-1})`` (He et al. 2016, eq. 4): ``F_0 = head(z_0)`` and
``alpha_t h_t = W f_t(z_{t-1})`` with ``alpha_t = 1``. ``ResNetRegressor`` and
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

from ._persist import SharedModuleCopy, load_module_bytes, loadable_device, module_bytes
from ._training import seed_from, split_validation
from .additive import AdditiveModel
from .base import AdditiveClassifierMixin, AdditiveEstimator, AdditiveRegressorMixin

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


class _ResNetBase(SharedModuleCopy, AdditiveEstimator):
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
        "lr": [Interval(Real, 0, None, closed="neither")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "max_epochs": [Interval(Integral, 1, None, closed="left"), None],
        "device": "no_validation",  # checked by resolve_device in fit
    }

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
        lr: float = 1e-3,
        weight_decay: float = 1e-5,
        batch_size: int = 256,
        max_epochs: int | None = None,
        n_iter_no_change: int | None = 10,
        validation_fraction: float = 0.1,
        tol: float = 1e-4,
        random_state: Any = None,
        device: str = "cpu",
        verbose: int = 0,
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
        self.lr = lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.n_iter_no_change = n_iter_no_change
        self.validation_fraction = validation_fraction
        self.tol = tol
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

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
        scaled = (self._layout(X) - self.x_mean_) / self.x_scale_
        return np.ascontiguousarray(scaled, dtype=np.float32)

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
        return TrunkModel(start, stages, np.ones(len(stages)))

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
        """The rows to train on and, with ``n_iter_no_change``, the held-out validation rows.

        Rows of zero weight take no part in training; errors name what is at fault.
        """
        train, validation = data, None
        if self.n_iter_no_change is not None:
            X_tr, X_val, y_tr, y_val, w_tr, w_val = split_validation(
                data.X,
                data.y,
                data.sample_weight,
                fraction=self.validation_fraction,
                random_state=self.random_state,
                stratify=self._can_stratify(y),
            )
            if w_val.sum() <= 0:
                raise ValueError(
                    "sample_weight is zero on every row held out by validation_fraction; "
                    "cannot early-stop on it"
                )
            train, validation = data.rows(X_tr, y_tr, w_tr), data.rows(X_val, y_val, w_val)
        if not np.all(train.sample_weight > 0):  # rows of weight 0 take no part in training
            keep = train.sample_weight > 0
            train = train.rows(train.X[keep], train.y[keep], train.sample_weight[keep])
        if len(train.X) < 2:
            raise ValueError(
                f"only {len(train.X)} training row(s) remain after holding out "
                f"validation_fraction={self.validation_fraction}; need at least 2"
            )
        return train, validation

    def _fit(self, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray) -> None:
        import torch

        from .nn import Trainer, adamw
        from .nn._inputs import cuda_devices

        data = self._initialize(X, y, sample_weight)
        train, validation = self._training_rows(data, y)
        with torch.random.fork_rng(devices=cuda_devices(data.device)):
            torch.manual_seed(data.seed)
            trainer = Trainer(
                module=self.module_,
                loss_fn=lambda raw, y, w: self.loss_.torch_value(y, raw, w),
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
        units = self._output_units()[1] ** 2  # losses back to the user's units (regression)
        self.train_score_ = np.asarray(history.train_loss) * units
        self.validation_score_ = np.asarray(history.validation_loss) * units
        self.n_epochs_ = len(history.train_loss)
        self.best_epoch_ = history.best_epoch
        self.module_.eval()
        self.model_ = self._build_model()

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

    # -- pickling through state dicts -----------------------------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        state = dict(super().__getstate__())
        module = state.pop("module_", None)
        model = state.pop("model_", None)
        if module is not None:
            state["_module_state"] = {"state_dict": module_bytes(module), "kept": model.kept_blocks}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        saved = state.pop("_module_state", None)
        super().__setstate__(state)
        if saved is None:
            return
        device = loadable_device(self.device_)
        self.device_ = str(device)
        self.module_ = self._build_module()
        load_module_bytes(self.module_, saved["state_dict"])
        self.module_.to(device).eval()
        self.model_ = self._build_model(saved["kept"])


_RESNET_DOC = """
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
    dropout1, dropout2 : float, default=0.1, 0.0
        Dropout inside each block (after its hidden activation) and on its output, in [0, 1).
    skip : bool, default=True
        ``False`` removes the additions: the plain network of the same depth and parameters
        (stages still telescope, with ``h_t = W (z_t - z_{t-1})``).
    batch_norm : bool, default=True
        BatchNorm inside the blocks and before the linear head (affine in eval mode).
    lr : float, default=1e-3
        AdamW learning rate, > 0.
    weight_decay : float, default=1e-5
        AdamW (decoupled) weight decay, >= 0.
    batch_size : int, default=256
        Rows per optimizer step (and per evaluation batch).
    max_epochs : int or None, default=None
        Upper bound on passes over the training data; the one parameter worth tuning first.
        ``None``: 100 for mlp, 20 for cnn.

        The CNN defaults (32 channels, ``stem_stride=2``, 20 epochs, batches of 256) are sized
        for a CPU: on the 28x28 ``digits28`` set (4,000 training images) the default
        ``ResNetClassifier(architecture="cnn")`` reaches about 0.99 test accuracy in under two
        minutes on 2 cores (``bench/bench_resnet.py``, ``cnn_default``).
    n_iter_no_change : int or None, default=10
        Early stopping: hold out ``validation_fraction`` (stratified for classifiers when every
        class allows it), stop after this many epochs without a validation improvement larger than
        ``tol``, and restore the weights of the best epoch. ``None`` trains ``max_epochs`` on all
        rows and keeps the last weights.
    validation_fraction : float, default=0.1
        Fraction in (0, 1) held out for early stopping.
    tol : float, default=1e-4
        Minimum improvement of the validation loss, >= 0, measured on the loss the network
        is trained on (for regression, on the standardised target).
    random_state : int, RandomState instance or None, default=None
        Seeds the split, the initial weights, dropout and the batch order. A fixed seed gives
        identical predictions on CPU (same torch build and thread count).
    device : str, default="cpu"
        Torch device to train and predict on, e.g. ``"cuda"``; ``ValueError`` if unavailable.
        Data are moved there whole; results always come back as NumPy.
    verbose : int, default=0
        Show a progress bar over epochs with the training and validation loss when > 0.

    Attributes
    ----------
    module_ : TabularResNet or ConvResNet
        The trained network, in eval mode, on ``device_``. It works on standardised inputs.
    model_ : fboost.nn.TrunkModel
        ``F_0`` (stem and head, plus the target's mean and scale) and one stage per block.
    n_stages_ : int
        Number of stages (blocks) in the model: ``n_stages``, fewer after ``drop_stages``.
    stage_weights_ : ndarray of shape (n_stages_,)
        All ones: a block's contribution ``W f_t(z_{t-1})`` carries its own scale.
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
    blocks see the changed input). ``initialize(X, y)`` builds everything ``fit`` builds without
    training (the network at initialisation). Pickling stores the weights as a state dict and
    loads on CPU when CUDA is missing.
"""


class _StandardisedTarget:
    """Regression targets: standardised for the network, predictions in the target's units.

    (Shared by the regressors of ``fboost.resnet`` and ``fboost.boostresnet``.)
    """

    y_mean_: float
    y_scale_: float

    def _output_units(self) -> tuple[float, float]:
        return self.y_mean_, self.y_scale_

    def _fit_target(self, y: np.ndarray, sample_weight: np.ndarray) -> np.ndarray:
        mean = float(np.average(y, weights=sample_weight))
        std = float(np.sqrt(np.average((y - mean) ** 2, weights=sample_weight)))
        self.y_mean_ = mean
        self.y_scale_ = std if std > 1e-12 * max(1.0, abs(mean)) else 1.0
        return ((y - mean) / self.y_scale_).astype(np.float32)


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
        """A residual network for regression (half squared error), trained end to end.

    Inputs are standardised and the target is standardised inside the estimator; predictions
    and ``stage_contributions`` are in the target's units (``F_0`` absorbs its mean and scale).
"""
        + _RESNET_DOC
        + """
    y_mean_, y_scale_ : float
        Target standardisation (weighted mean and standard deviation).

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
        """A residual network for binary or multiclass classification (log loss), trained jointly.

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
