"""GrowNet: gradient boosting with small neural networks in function space (Badirli et al. 2020).

Stage t fits a small MLP (``fboost.nn._weak.WeakNet``) fed with ``[x, z_{t-1}]``, the input
and the penultimate features of stage t-1, to the second-order (Newton) targets of the shared loss
at ``F_{t-1}``, then adds ``alpha_t h_t`` with a line-searched boost rate; an optional corrective
step fine-tunes all stages and boost rates jointly on the true loss. The function-space cells of
DESIGN.md's grid, stagewise (``corrective_epochs=0``) and joint (``corrective_epochs > 0``).

The frozen stages are never run again while stage t trains: ``F_{t-1}`` and ``z_{t-1}`` on the
training and validation rows are cached, so a stage costs one weak net's training. Only the
corrective step, which trains every stage, runs them all (once per batch, as it must), and then
refreshes the cache with one forward pass.

Torch is imported when a network is built, not with ``fboost``.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral, Real
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval

from ._distributed import N_PROCESSES_DOC, DataParallelFit
from ._persist import SharedModuleCopy, load_module_bytes, loadable_device, module_bytes
from ._training import EarlyStopping, progress_bar, seed_from, split_validation
from .additive import AdditiveModel
from .base import AdditiveClassifierMixin, AdditiveEstimator, AdditiveRegressorMixin
from .function_space import line_search

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from .nn._weak import BoostedNets, NetsModel

__all__ = ["NeuralBoostingRegressor", "NeuralBoostingClassifier"]

#: hessians are clipped from below before dividing: Newton targets ``-g / max(h, MIN_HESSIAN)``
MIN_HESSIAN = 1e-6


@dataclass
class _Cache:
    """Rows of one split with what the frozen stages computed on them: ``F_{t-1}``, ``z_{t-1}``."""

    x: torch.Tensor
    y: np.ndarray
    sample_weight: np.ndarray
    raw: np.ndarray  # (n, n_outputs) float64, module units
    z: torch.Tensor | None = None

    def loss(self, loss: Any) -> float:
        return float(loss.value(self.y, self.raw, self.sample_weight))


def newton_targets(
    loss: Any, y: np.ndarray, raw: np.ndarray, sample_weight: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``(-g / h, sample_weight * h)`` per output at ``raw``, ``h`` clipped at ``MIN_HESSIAN``.

    Fitting ``h_t`` to these targets by weighted least squares minimises the second-order
    expansion of the loss around ``raw`` (a diagonal Newton step); for squared error they are the
    residuals with the sample weights.
    """
    gradient = loss.gradient(y, raw)
    hessian = np.maximum(loss.newton_hessian(y, raw, gradient), MIN_HESSIAN)
    return -gradient / hessian, sample_weight[:, None] * hessian


def _weighted_mse(out: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None) -> Any:
    squared = (out - target) ** 2
    if weight is None:
        return squared.mean()
    return (weight * squared).sum() / weight.sum()


def _stratifiable(y: np.ndarray, fraction: float) -> bool:
    """Whether a stratified hold-out of ``fraction`` exists (every class twice, room for all)."""
    counts = np.bincount(y)
    counts = counts[counts > 0]
    n_val = int(np.ceil(fraction * len(y)))
    return bool(counts.min() >= 2 and min(n_val, len(y) - n_val) >= len(counts))


class _NeuralBoostingBase(DataParallelFit, SharedModuleCopy, AdditiveEstimator):
    _parameter_constraints: ClassVar[dict[str, Any]] = {
        **AdditiveEstimator._parameter_constraints,
        "d_hidden": [Interval(Integral, 1, None, closed="left")],
        "epochs_per_stage": [Interval(Integral, 1, None, closed="left")],
        "corrective_epochs": [Interval(Integral, 0, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "corrective_lr": [Interval(Real, 0, None, closed="neither"), None],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "device": "no_validation",  # checked by resolve_device in fit
        "n_processes": "no_validation",  # checked by DataParallelFit.fit
    }

    model_: AdditiveModel
    module_: BoostedNets

    def __init__(
        self,
        *,
        n_stages: int = 20,
        d_hidden: int = 32,
        epochs_per_stage: int = 3,
        corrective_epochs: int = 1,
        learning_rate: float = 1.0,
        lr: float = 3e-3,
        corrective_lr: float | None = None,
        weight_decay: float = 0.0,
        batch_size: int = 128,
        n_iter_no_change: int | None = None,
        validation_fraction: float = 0.1,
        tol: float = 1e-4,
        random_state: Any = None,
        device: str = "cpu",
        n_processes: int = 1,
        verbose: int = 0,
    ) -> None:
        self.n_stages = n_stages
        self.d_hidden = d_hidden
        self.epochs_per_stage = epochs_per_stage
        self.corrective_epochs = corrective_epochs
        self.learning_rate = learning_rate
        self.lr = lr
        self.corrective_lr = corrective_lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.n_iter_no_change = n_iter_no_change
        self.validation_fraction = validation_fraction
        self.tol = tol
        self.random_state = random_state
        self.device = device
        self.n_processes = n_processes
        self.verbose = verbose

    # -- what the regressor and the classifier supply -------------------------------------------
    def _output_units(self) -> tuple[float, float]:
        """``(offset, scale)`` from module units to the raw score in the user's units."""
        return 0.0, 1.0

    def _fit_target(self, y: np.ndarray, sample_weight: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _can_stratify(self, y: np.ndarray) -> bool:
        return False

    # -- inputs ---------------------------------------------------------------------------------
    def _prepare_X(self, X: np.ndarray) -> np.ndarray:
        """Standardised float32 rows (what ``fboost.nn._weak.NetsModel`` consumes)."""
        from .nn._inputs import scale_rows

        return scale_rows(X, self.x_mean_, self.x_scale_)

    def _splits(self, X: np.ndarray, y: np.ndarray, w: np.ndarray, device: Any) -> tuple:
        """Training and validation rows as caches at ``F_0`` (zero-weight training rows dropped)."""
        import torch

        X_val = y_val = w_val = None
        if self.n_iter_no_change is not None:
            X, X_val, y, y_val, w, w_val = split_validation(
                X,
                y,
                w,
                fraction=self.validation_fraction,
                random_state=self.random_state,
                stratify=self._can_stratify(y),
            )
            if w_val.sum() <= 0:
                raise ValueError(
                    "sample_weight is zero on every row held out by validation_fraction; "
                    "cannot early-stop on it"
                )
        keep = w > 0
        X, y, w = X[keep], y[keep], w[keep]
        if len(y) < 2:
            raise ValueError(
                f"only {len(y)} training row(s) with positive sample_weight remain (after "
                f"holding out validation_fraction={self.validation_fraction}); need at least 2"
            )
        f0 = self.loss_.init_raw(y, w)

        def cache(X: np.ndarray, y: np.ndarray, w: np.ndarray) -> _Cache:
            raw = np.broadcast_to(f0, (len(y), len(f0))).copy()
            return _Cache(torch.as_tensor(X, device=device), y, w, raw)

        val = None if X_val is None else cache(X_val, y_val, w_val)  # type: ignore[arg-type]
        return f0, cache(X, y, w), val

    # -- the loop -------------------------------------------------------------------------------
    def _fit(self, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray) -> None:
        import torch

        from .nn._inputs import cuda_devices, resolve_device, standardisation
        from .nn._weak import BoostedNets

        device = resolve_device(self.device)
        if self.batch_size < 2:
            raise ValueError(f"batch_size must be at least 2, got batch_size={self.batch_size}")
        # rows of weight 0 take no part, in the scaling either: they are as good as absent
        self.x_mean_, self.x_scale_ = standardisation(X[sample_weight > 0])
        target = self._fit_target(y, sample_weight)
        f0, train, val = self._splits(self._prepare_X(X), target, sample_weight, device)
        self._nets_config = {
            "d_in": self.n_features_in_,
            "d_hidden": self.d_hidden,
            "d_out": self.loss_.n_outputs,
        }
        self.device_ = str(device)
        self.module_ = BoostedNets(f0).to(device)
        units = self._output_units()[1] ** 2  # losses in the user's units (regression)
        train_score: list[float] = []
        validation_score: list[float] = []
        stopper = EarlyStopping(self.n_iter_no_change, self.tol)
        best_state: dict[str, torch.Tensor] | None = None
        rng = check_random_state(self.random_state)
        with torch.random.fork_rng(devices=cuda_devices(device)):
            torch.manual_seed(seed_from(rng))
            with progress_bar(self.n_stages, self.verbose, type(self).__name__) as bar:
                for t in range(self.n_stages):
                    self._boost_stage(train, val, t)
                    train_score.append(train.loss(self.loss_) * units)
                    postfix = {"train": train_score[-1]}
                    stop = False
                    if val is not None:
                        validation_score.append(val.loss(self.loss_) * units)
                        postfix["val"] = validation_score[-1]
                        stop = stopper.update(validation_score[-1] / units, t)
                        if stopper.best_index == t:
                            best_state = _snapshot(self.module_)
                    bar.set_postfix(postfix, refresh=False)
                    bar.update()
                    if stop:
                        break
        if best_state is not None:  # back to the best stage, as it was then
            self.module_.truncate(stopper.best_index + 1)
            self.module_.load_state_dict(best_state)
        self.module_.eval()
        self.train_score_ = np.asarray(train_score[: len(self.module_.nets)])
        self.validation_score_ = np.asarray(validation_score)
        self.model_ = self._build_model()

    def _boost_stage(self, train: _Cache, val: _Cache | None, t: int) -> None:
        """Fit weak net t (0-based) to the Newton targets at the cached ``F_{t-1}``, run the
        corrective step (not after the first net); update the caches."""
        import torch

        from .nn import TensorData, Trainer
        from .nn._train import adamw
        from .nn._weak import OutputOf, WeakNet

        target, weight = newton_targets(self.loss_, train.y, train.raw, train.sample_weight)
        device = train.x.device
        net = WeakNet(
            d_in=train.x.shape[1],
            d_carry=0 if train.z is None else self.d_hidden,
            d_hidden=self.d_hidden,
            d_out=self.loss_.n_outputs,
        ).to(device)
        net.fit_carry_scaling(train.z)
        with torch.no_grad():
            inputs = net.inputs(train.x, train.z)
        uniform = np.all(weight == weight.flat[0])
        Trainer(
            module=OutputOf(net),
            loss_fn=_weighted_mse,
            optimizer=adamw(
                net.parameters(), lr=self.lr * _decay(t), weight_decay=self.weight_decay * _decay(t)
            ),
            batch_size=self.batch_size,
            max_epochs=self.epochs_per_stage,
        ).fit(
            TensorData(
                inputs,
                torch.as_tensor(target, dtype=torch.float32, device=device),
                None if uniform else torch.as_tensor(weight, dtype=torch.float32, device=device),
            )
        )
        net.eval()
        with torch.no_grad():
            out, z = net.forward_inputs(inputs)
        h = out.double().cpu().numpy()
        alpha = self.learning_rate * _line_search(self.loss_, train, h)
        self.module_.add(net, alpha)
        if self.corrective_epochs > 0 and t > 0:
            self._corrective_step(train, t)
            for cache in (train, val):
                if cache is not None:
                    raw, cache.z = self.module_.cache(cache.x)
                    cache.raw = raw.cpu().numpy()
            return
        train.raw += alpha * h
        train.z = z
        if val is not None:
            with torch.no_grad():
                out_val, val.z = net(val.x, val.z)
            val.raw += alpha * out_val.double().cpu().numpy()

    #: ``corrective_lr=None`` is ``lr`` divided by this (GrowNet's regression script: 5)
    _corrective_divisor: ClassVar[float] = 5.0

    def _corrective_step(self, train: _Cache, t: int) -> None:
        """Train every stage and every ``alpha_t`` jointly on the true loss."""
        import torch

        from .nn import TensorData, Trainer
        from .nn._train import adamw

        device = train.x.device
        w = train.sample_weight
        y_dtype = torch.int64 if self.loss_.is_classification else torch.float32
        lr = self.corrective_lr or self.lr / self._corrective_divisor
        lr *= _decay(t)
        Trainer(
            module=self.module_,
            loss_fn=lambda raw, y, w: self.loss_.torch_value(y, raw, w),
            optimizer=adamw(
                self.module_.parameters(), lr=lr, weight_decay=self.weight_decay * _decay(t)
            ),
            batch_size=self.batch_size,
            max_epochs=self.corrective_epochs,
        ).fit(
            TensorData(
                train.x,
                torch.as_tensor(train.y, dtype=y_dtype, device=device),
                None
                if np.all(w == w[0])
                else torch.as_tensor(w, dtype=torch.float32, device=device),
            )
        )

    def _build_model(self, structure: dict[str, Any] | None = None) -> NetsModel:
        from .nn._weak import NetsModel

        offset, scale = self._output_units()
        offset_ = np.atleast_1d(np.asarray(offset, dtype=np.float64))
        if structure is None:
            return NetsModel.of(self.module_, offset_, scale)
        return NetsModel.from_structure(self.module_, offset_, scale, structure)

    # -- pickling through state dicts -----------------------------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        state = dict(super().__getstate__())
        module = state.pop("module_", None)
        model = state.pop("model_", None)
        if module is not None:
            state["_module_state"] = {
                "state_dict": module_bytes(module),
                "n_nets": len(module.nets),
                "structure": model.structure,
            }
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        saved = state.pop("_module_state", None)
        super().__setstate__(state)
        if saved is None:
            return
        from .nn._weak import BoostedNets, WeakNet

        device = loadable_device(self.device_)
        self.device_ = str(device)
        config = self._nets_config
        module = BoostedNets(np.zeros(config["d_out"]))
        for i in range(saved["n_nets"]):
            module.add(WeakNet(d_carry=0 if i == 0 else config["d_hidden"], **config), 0.0)
        load_module_bytes(module, saved["state_dict"])
        self.module_ = module.to(device).eval()
        self.model_ = self._build_model(saved["structure"])


def _line_search(loss: Any, cache: _Cache, h: np.ndarray) -> float:
    """``argmin_{a >= 0} L(F_{t-1} + a h)`` on the training rows; never worse than ``a = 0``."""
    alpha = line_search(loss, cache.y, cache.raw, h, cache.sample_weight)
    if alpha > 0 and loss.value(cache.y, cache.raw + alpha * h, cache.sample_weight) > cache.loss(
        loss
    ):
        return 0.0
    return alpha


def _decay(t: int) -> float:
    """GrowNet's schedule: learning rates and weight decay halve at stages 16, 31, .. (0-based
    index 15, 30, ..), for the new nets and the corrective step alike."""
    return 0.5 ** (t // 15)


def _snapshot(module: Any) -> dict[str, Any]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


_NEURAL_BOOSTING_DOC = """
    Parameters
    ----------
    n_stages : int, default=20
        Boosting stages T (>= 1): one weak net each.
    d_hidden : int, default=32
        Width of the weak nets' two hidden layers, and so of the penultimate features
        ``z_t`` that stage t + 1 reads beside ``x``.
    epochs_per_stage : int, default=3
        Passes over the training rows for each new weak net (fixed; no early stopping inside a
        stage).
    corrective_epochs : int, default=1
        Epochs of the corrective step after each new stage but the first (as GrowNet's code):
        all nets and all boost rates trained jointly on the true loss (GrowNet's fully
        corrective step). 0 is purely stagewise.
    learning_rate : float, default=1.0
        Shrinkage, > 0: the boost rate of a new stage is ``learning_rate`` times its
        line-searched step.
    lr : float, default=3e-3
        AdamW learning rate for a new weak net, > 0; halved at stages 16, 31, .. (GrowNet's
        schedule), as are ``corrective_lr`` and ``weight_decay``.
    corrective_lr : float or None, default=None
        AdamW learning rate of the corrective step; ``None`` is GrowNet's: ``lr / 2`` for the
        classifier (its classification script), ``lr / 5`` for the regressor (its regression
        script).
    weight_decay : float, default=0.0
        AdamW (decoupled) weight decay, >= 0, for both steps.
    batch_size : int, default=128
        Rows per optimizer step, >= 2.
    n_iter_no_change : int or None, default=None
        Early stopping: hold out ``validation_fraction`` (stratified for classifiers when every
        class allows it), stop once the validation loss has not improved by more than ``tol``
        for this many stages, and go back to the best stage, with the weights it had then
        (later corrective steps undone). ``None`` trains ``n_stages`` stages on all rows.
    validation_fraction : float, default=0.1
        Fraction in (0, 1) held out for early stopping.
    tol : float, default=1e-4
        Minimum improvement of the validation loss, >= 0 (for regression, on the standardised
        target).
    random_state : int, RandomState instance or None, default=None
        Seeds the split, the initial weights and the batch order. A fixed seed gives identical
        predictions on CPU (same torch build and thread count).
    device : str, default="cpu"
        Torch device to train and predict on, e.g. ``"cuda"``; ``ValueError`` if unavailable.
        Results always come back as NumPy.
{n_processes}    verbose : int, default=0
        Show a progress bar over stages with the training (and validation) loss when > 0.

    Attributes
    ----------
    module_ : fboost.nn._weak.BoostedNets
        The weak nets and their boost rates as one torch module (standardised inputs, module
        units), in eval mode, on ``device_``.
    model_ : fboost.nn._weak.NetsModel
        ``F_0`` and one stage per weak net, in the user's units.
    n_stages_ : int
        Number of stages in the model (after early stopping and ``drop_stages``).
    stage_weights_ : ndarray of shape (n_stages_,)
        The boost rates ``alpha_t``.
    train_score_ : ndarray of shape (n_stages_,)
        Training loss after each stage (after its corrective step), in the ``fboost.losses``
        conventions and the user's units, on the rows trained on.
    validation_score_ : ndarray
        Validation loss after each stage trained (empty without early stopping).
    x_mean_, x_scale_ : ndarray of shape (n_features,)
        Input standardisation fitted in ``fit``.
    device_ : str
        Device the nets live on (``"cpu"`` after unpickling without CUDA).
    loss_ : Loss
        The loss (``fboost.losses``): its gradient and hessian give the Newton targets, its
        ``torch_value`` the corrective step's objective.
    n_features_in_ : int
        Features seen during fit.

    Notes
    -----
    The rules, per stage t:

    - **Targets**: at the cached ``F_{t-1}``, output k of the weak net is fitted to
      ``-g_k / h_k`` with weight ``sample_weight * h_k`` (weighted least squares: the loss's
      diagonal second-order expansion; hessians clipped below at 1e-6). Squared error gives the
      residuals with the sample weights. K classes: one weak net with K outputs per stage.
    - **Input**: ``[x, z_{t-1}]`` with ``z_{t-1}`` the penultimate features of stage t-1,
      standardised with statistics frozen when stage t is made (stage 1 reads ``x`` alone).
    - **Boost rate**: ``alpha_t = learning_rate * argmin_{a >= 0} L(F_{t-1} + a h_t)`` on the
      training rows (closed form for squared error, a bounded 1-D search otherwise), so that
      with ``corrective_epochs=0`` the training loss never increases. With
      ``corrective_epochs > 0`` every ``alpha_s`` (s <= t) is then a trainable parameter of the
      corrective step. GrowNet shares one boost rate across stages; one per stage contains that
      case and gives each stage its weight in ``stage_contributions``.
    - **Cache**: ``F_{t-1}`` and ``z_{t-1}`` on the training and validation rows are kept as
      tensors, so stage t trains one net; a corrective step refreshes them in one forward pass.

    As in GrowNet's code (sbadirli/GrowNet): no corrective step after the first net; the
    corrective step's learning rate is ``lr / 2`` (classification script) or ``lr / 5``
    (regression script); learning rates and weight decay halve every 15 stages. Departures
    from the paper and its code:

    - **No BatchNorm in the weak nets**, ReLU rather than leaky ReLU: the authors' nets apply
      leaky ReLU (0.1) then BatchNorm after the first layer (and BatchNorm on the joined
      input); here ``x`` and ``z_{t-1}`` are standardised with frozen statistics instead.
      Measured with the authors' first layer (leaky ReLU, BatchNorm) at default parameters,
      mean of 3 seeds, without vs with: training accuracy on scikit-learn's blob problem
      (``check_classifiers_train``'s data) 0.932 vs 0.919; test accuracy wine 0.981 vs
      0.981, breast_cancer 0.965 vs 0.959; test R^2 diabetes 0.09 vs -0.25, friedman1 0.911
      vs 0.890.
    - **One boost rate per stage**, line-searched, then trained by the corrective step;
      GrowNet learns one shared boost rate and trains each net on ``boost_rate * h`` against
      the targets. Per-stage rates are fboost's design (each stage's weight in
      ``stage_contributions``); not measured against the shared rate.
    - **Multiclass** (one net with K outputs, diagonal Newton targets) is fboost's: the paper
      covers binary classification, regression and ranking.
    - **AdamW** (decoupled weight decay) rather than Adam with L2: identical at the default
      ``weight_decay=0`` (the authors' scripts use L2 = 0).
    - **Early stopping** truncates to the best validation loss; the authors train every stage
      and report the best validation stage (AUC or RMSE).
    - **Defaults** (``d_hidden=32``, 3 epochs a stage, ``lr=3e-3``, ``batch_size=128``) are
      sized for small tables, not the authors' Higgs script (16 units, 1 epoch, ``lr=5e-3``,
      batches of 2048); measured: training accuracy above 0.9 on the blob problem above.

    ``drop_stages`` removes ``alpha_t h_t`` only: a dropped stage's net still computes the
    features the next kept stage reads, so the other contributions are unchanged. Pickling keeps
    state dicts and loads on CPU when CUDA is missing.
    Predictions are batch-invariant: the network is evaluated in float64 at predict time
    (``fboost.nn._precision``; it trains in float32), so a row's prediction does not depend on the
    rows sharing the call (below 1e-12 relative; about 1e-5 in float32). The cost, from
    ``bench/bench_predict.py`` on one CPU thread: 3.1x the float32 predict time for a default
    tabular ResNet on 10,000 rows, 2.7x for GrowNet with 20 stages, 12x for a CNN (float64
    convolutions have no oneDNN kernel). MPS has no float64: predictions there stay float32.
"""


class NeuralBoostingRegressor(RegressorMixin, AdditiveRegressorMixin, _NeuralBoostingBase):
    __doc__ = (
        """GrowNet for regression: small MLPs boosted on the half squared error.

    Inputs and the target are standardised inside the estimator; predictions,
    ``stage_contributions`` and the scores are in the target's units (``F_0`` absorbs its
    mean, every stage its scale).
"""
        + _NEURAL_BOOSTING_DOC.replace("{n_processes}", N_PROCESSES_DOC)
        + """
    y_mean_, y_scale_ : float
        Target standardisation (weighted mean and standard deviation).

    Examples
    --------
    >>> from sklearn.datasets import make_friedman1
    >>> from fboost.neural_boosting import NeuralBoostingRegressor
    >>> X, y = make_friedman1(n_samples=200, random_state=0)
    >>> model = NeuralBoostingRegressor(n_stages=3, d_hidden=8, epochs_per_stage=2,
    ...                                 random_state=0).fit(X, y)
    >>> contributions = model.stage_contributions(X)
    >>> contributions.shape
    (4, 200, 1)
    >>> bool(abs(contributions.sum(axis=0)[:, 0] - model.predict(X)).max() < 1e-9)
    True
    """
    )

    y_mean_: float
    y_scale_: float

    def _output_units(self) -> tuple[float, float]:
        return self.y_mean_, self.y_scale_

    def _fit_target(self, y: np.ndarray, sample_weight: np.ndarray) -> np.ndarray:
        from .nn._inputs import target_standardisation

        self.y_mean_, self.y_scale_ = target_standardisation(y, sample_weight)
        return (y - self.y_mean_) / self.y_scale_


class NeuralBoostingClassifier(ClassifierMixin, AdditiveClassifierMixin, _NeuralBoostingBase):
    __doc__ = (
        """GrowNet for binary or multiclass classification (log loss).

    Binary problems have one raw output (the log-odds of ``classes_[1]``); K classes have K,
    and each stage is one weak net with K outputs.
"""
        + _NEURAL_BOOSTING_DOC.replace("{n_processes}", N_PROCESSES_DOC)
        + """
    classes_ : ndarray of shape (n_classes,)
        Class labels.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from fboost.neural_boosting import NeuralBoostingClassifier
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> clf = NeuralBoostingClassifier(n_stages=3, d_hidden=8, epochs_per_stage=3,
    ...                                random_state=0).fit(X, y)
    >>> clf.stage_weights_.shape
    (3,)
    >>> clf.score(X, y) > 0.9
    True
    """
    )

    _corrective_divisor: ClassVar[float] = 2.0  # GrowNet's classification script

    def _fit_target(self, y: np.ndarray, sample_weight: np.ndarray) -> np.ndarray:
        return y.astype(np.int64)

    def _can_stratify(self, y: np.ndarray) -> bool:
        return _stratifiable(y, self.validation_fraction)
