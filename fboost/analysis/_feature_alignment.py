"""Feature alignment: does block t move z along the negative gradient of everything downstream?

``functional_alignment`` looks at a stage through the final head, in raw-score space; it cannot see
the part of ``f_t`` that the head maps to zero but later blocks read. ``feature_alignment`` looks
at the update itself: the cosine between ``f_t(z_{t-1})`` and ``-dL/dz_{t-1}``, the gradient of
the loss of the network *without* block t (later blocks and the head downstream) at ``z_{t-1}``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from ._common import (
    check_additive,
    check_sample_weight,
    encode_targets,
    estimator_name,
    stage_frame,
)

__all__ = ["feature_alignment", "float_noise", "NOISE_ULPS"]

FEATURE_ALIGNMENT_COLUMNS = [
    "stage",
    "cosine",
    "first_order_decrease",
    "step_norm",
    "gradient_norm",
    "feature_norm",
    "model",
]

#: a contribution or a step whose weighted RMS is at most ``NOISE_ULPS * eps`` times the RMS of
#: what it is added to (the raw score, the features) is float noise: its cosine is NaN
NOISE_ULPS = 8.0


def _precision(estimator: Any) -> np.dtype:
    """The float type the estimator computes its stages in: its network's, else float64."""
    module = getattr(estimator, "module_", None)
    if module is not None:
        import torch

        for p in module.parameters():
            return np.dtype(torch.empty((), dtype=p.dtype).numpy().dtype)
    return np.dtype(np.float64)


def float_noise(estimator: Any, scale: float) -> float:
    """The RMS under which an update of something of RMS ``scale`` is rounding noise.

    ``NOISE_ULPS * eps * scale`` with ``eps`` the machine epsilon of the estimator's precision
    (float32 for torch float32 networks, float64 for trees, function-space boosting and ResFGB).
    """
    return float(NOISE_ULPS * np.finfo(_precision(estimator)).eps * scale)


def _rms(a: np.ndarray, w: np.ndarray) -> float:
    """Weighted root mean square over samples of the per-sample norm (axis 0 is samples)."""
    flat = a.reshape(len(a), -1)
    return float(np.sqrt(np.sum(w * np.sum(flat**2, axis=1)) / w.sum()))


def _network(estimator: Any) -> tuple[Any, list[int], Callable[[Any], Any]]:
    """``(module, kept block indices, output)`` with ``output(z_T)`` the raw score (user units,
    float64 tensor) of the estimator's trunk model."""
    import torch

    from ..nn import TrunkModel
    from ..nn._stagewise import StagewiseModel

    model = estimator.model_
    if not isinstance(model, TrunkModel):
        raise TypeError(
            f"feature_alignment needs a residual network (ResNet, BoostResNet, ResFGB, "
            f"NeuralBoosting); {estimator_name(estimator)} has no feature space"
        )
    module, kept = model.module, model.kept_blocks
    if isinstance(model, StagewiseModel):
        scores = model.start.scores
        head = kept[-1] + 1 if kept else 0
        weight = float(scores.weights[head])
        offset = torch.as_tensor(scores.offset)

        def output(z: Any) -> Any:
            logits = scores.module.heads[head](z).double()
            if scores.kind == "tanh":
                logits = 2.0 * torch.sigmoid(logits) - 1.0
            elif scores.kind == "softmax":
                logits = torch.softmax(logits, dim=1)
            return offset.to(logits.device) + weight * logits

        return module, kept, output
    start = model.start

    def output_trunk(z: Any) -> Any:
        raw = start.head(z).double()
        return torch.as_tensor(start.offset, device=raw.device) + start.scale * raw

    return module, kept, output_trunk


def feature_alignment(estimator: Any, X: Any, y: Any, *, sample_weight: Any = None) -> pd.DataFrame:
    """Cosine between each block's update ``f_t(z_{t-1})`` and ``-dL/dz_{t-1}`` downstream.

    For kept stage t, ``z_{t-1}`` is the trunk's feature before block t and ``f_t(z_{t-1}) =
    z_t - z_{t-1}`` its update. The gradient ``g_t(x_i) = dl(y_i, D_t(z))/dz`` at
    ``z = z_{t-1}(x_i)`` is that of the per-sample loss of the network *without* block t: ``D_t``
    runs the later kept blocks, then the output head (the raw score in the user's units, as
    ``decision_function`` or ``predict``). It says how the features entering stage t should move,
    to first order, given everything downstream, including the directions the head maps to zero
    but later blocks read, which ``functional_alignment`` cannot see. ResFGB's step is built as
    the kernel-smoothed ``-g_t`` while only the head is downstream. The alignment is
    ``cos_t = <f_t, -g_t>_w / (||f_t||_w ||g_t||_w)`` over all samples and feature coordinates,
    ``<a, b>_w = sum_i w_i <a_i, b_i>``.

    Parameters
    ----------
    estimator : fitted fboost estimator with a feature space
        ``ResNetRegressor``/``Classifier`` (plain nets too: ``f_t = z_t - z_{t-1}``),
        ``BoostResNet*`` (downstream ends at the last kept auxiliary head, bounded as the model
        scores), ``ResFGB*``, and ``NeuralBoosting*``, whose feature space is the carried
        penultimate features: ``z_t`` is what stage t's net hands to stage t+1, the update is
        ``z_t - z_{t-1}`` and, since a GrowNet stage cannot be bypassed (a dropped stage's net
        still feeds the next), the gradient is taken at the fitted model, through net t and
        every later net (``F_{t-1}`` fixed); stage 1 reads no carried features and gets NaN.
        A lesioned copy (``drop_stages``) is measured as it is. Other estimators:
        ``TypeError``.
    X : array-like of shape (n_samples, n_features) or images
        Data to measure on.
    y : array-like of shape (n_samples,)
        Targets; class labels for classifiers.
    sample_weight : array-like of shape (n_samples,), default=None
        Weights of the inner products; ``None`` weighs every sample 1.

    Returns
    -------
    frame : pandas.DataFrame
        One row per kept stage t = 1..n_stages_, columns:

        - ``stage`` (int): t;
        - ``cosine`` (float): ``cos_t`` in [-1, 1]; NaN where the gradient is zero or where the
          update is float noise: its weighted RMS is at most ``NOISE_ULPS * eps`` (8 units in
          the last place of the network's float type) times the RMS of the features it is added
          to (``max(RMS z_{t-1}, RMS z_t)``);
        - ``first_order_decrease`` (float): ``<f_t, -g_t>_w / sum(w)``, the loss decrease the
          gradient predicts for adding the block back;
        - ``step_norm``, ``gradient_norm``, ``feature_norm`` (float): weighted RMS over samples
          of ``||f_t||``, ``||g_t||`` and ``||z_{t-1}||``;
        - ``model`` (str): the estimator's class name.

    Examples
    --------
    >>> from sklearn.datasets import make_friedman1
    >>> from fboost.resfgb import ResFGBRegressor
    >>> from fboost.analysis import feature_alignment
    >>> X, y = make_friedman1(n_samples=200, random_state=0)
    >>> model = ResFGBRegressor(n_stages=2, hidden=(16,), epochs_per_stage=5,
    ...                         n_iter_no_change=None, random_state=0).fit(X, y)
    >>> frame = feature_alignment(model, X, y)
    >>> list(frame["stage"]), bool((frame["cosine"] > 0).all())
    ([1, 2], True)
    """
    import torch

    from ..nn._weak import NetsModel

    check_additive(estimator)
    prepared = estimator._validate_X(X)
    n_samples = len(prepared)
    codes = encode_targets(estimator, y, n_samples)
    w = check_sample_weight(sample_weight, n_samples)
    if isinstance(estimator.model_, NetsModel):
        return _carried_alignment(estimator, prepared, codes, w)
    module, kept, output = _network(estimator)
    loss = estimator.loss_
    device = next(module.parameters()).device
    x = torch.as_tensor(prepared, device=device)
    target = torch.as_tensor(codes, device=device)
    module.eval()

    def downstream(t: int, z: Any) -> Any:
        """The raw score from ``z`` entering kept stage ``t`` (0-based), block t bypassed."""
        for index in kept[t + 1 :]:
            z = module.step(index, z)[1]
        return output(z)

    rows = []
    with torch.no_grad():
        z = module.stem(x)
    for t, index in enumerate(kept):
        with torch.no_grad():
            step, z_next = module.step(index, z)
        z_in = z.detach().clone().requires_grad_(True)
        with torch.enable_grad():
            per_sample = loss.torch_pointwise(target, downstream(t, z_in))
            (grad,) = torch.autograd.grad(per_sample.sum(), z_in)
        rows.append(_row(estimator, t + 1, step, grad, z, z_next, w))
        z = z_next
    return _frame(rows)


def _numpy(t: Any) -> np.ndarray:
    import torch

    return t.detach().to("cpu", torch.float64).numpy()


def _row(estimator: Any, stage: int, step: Any, grad: Any, z: Any, z_next: Any, w: Any) -> dict:
    """One stage's measures from the update, the gradient and the features before and after."""
    n_samples = len(w)
    f, g = _numpy(step).reshape(n_samples, -1), _numpy(grad).reshape(n_samples, -1)
    z_np = _numpy(z)
    scale = max(_rms(z_np, w), _rms(_numpy(z_next), w))
    step_norm, grad_norm = _rms(f, w), _rms(g, w)
    inner = float(np.sum(w[:, None] * f * -g))
    noise = step_norm <= float_noise(estimator, scale)
    cosine = np.nan if noise or grad_norm == 0 else inner / (step_norm * grad_norm * w.sum())
    return {
        "stage": stage,
        "cosine": float(np.clip(cosine, -1.0, 1.0)),
        "first_order_decrease": inner / float(w.sum()),
        "step_norm": step_norm,
        "gradient_norm": grad_norm,
        "feature_norm": _rms(z_np, w),
        "model": estimator_name(estimator),
    }


def _frame(rows: list[dict]) -> pd.DataFrame:
    return stage_frame(rows, FEATURE_ALIGNMENT_COLUMNS)


def _carried_alignment(
    estimator: Any, prepared: np.ndarray, codes: np.ndarray, w: np.ndarray
) -> pd.DataFrame:
    """NeuralBoosting: the carried features ``z_t`` (penultimate features of stage t's net).

    ``z_{t-1}`` feeds net t and, through the chain, every later net; the update is
    ``z_t - z_{t-1}`` and the gradient that of the loss at the fitted model (``F_{t-1}`` fixed,
    every stage from t on downstream; a GrowNet stage cannot be bypassed, its net feeds the
    next one even when dropped). Stage 1 reads no carried features: its cosine is NaN.
    """
    import torch

    model = estimator.model_
    stages, alphas = model.stages, model.weights
    if not stages:
        return _frame([])
    nets = stages[0].nets
    nets.eval()
    device = nets.init_raw.device
    x = torch.as_tensor(prepared, device=device)
    target = torch.as_tensor(codes, device=device)
    loss = estimator.loss_
    with torch.no_grad():
        contributions = torch.as_tensor(model.contributions(prepared), device=device)

    def chain(stage: Any, z: Any) -> tuple[Any, Any]:
        out: Any = None
        for i in stage.indices:
            out, z = nets.nets[i](x, z)
        return stage.scale * out.double(), z

    rows: list[dict] = []
    z: Any = None
    for t, stage in enumerate(stages):
        with torch.no_grad():
            _, z_next = chain(stage, z)
        if z is None:
            nan = float("nan")
            rows.append(
                dict(zip(FEATURE_ALIGNMENT_COLUMNS, [1, nan, nan, nan, nan, nan], strict=False))
            )
            rows[-1]["model"] = estimator_name(estimator)
            z = z_next
            continue
        z_in = z.detach().clone().requires_grad_(True)
        with torch.enable_grad():
            raw = contributions[: t + 1].sum(dim=0)
            carry = z_in
            for s in range(t, len(stages)):
                out, carry = chain(stages[s], carry)
                raw = raw + float(alphas[s]) * out
            per_sample = loss.torch_pointwise(target, raw)
            (grad,) = torch.autograd.grad(per_sample.sum(), z_in)
        rows.append(_row(estimator, t + 1, z_next - z, grad, z, z_next, w))
        z = z_next
    return _frame(rows)
