"""The smallest demonstration of how the gradient flows through a skip connection."""

from __future__ import annotations

import math
from numbers import Real
from typing import Any

import pandas as pd

__all__ = ["skip_gradient_demo"]

DEMO_COLUMNS = ["network", "quantity", "formula", "autograd", "analytic"]


def _check_real(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        raise TypeError(f"{name} must be a finite real number, got {value!r}")
    return float(value)


def skip_gradient_demo(*, x: float = 0.5, weight: float = 0.8, target: float = 2.0) -> pd.DataFrame:
    """Autograd through one residual block next to the same block without the skip.

    One scalar feature ``z_0 = x``, one block with one weight, ``f(z) = w tanh(z)``, and the
    loss ``L = (z_1 - y)^2 / 2``:

    - residual: ``z_1 = z_0 + f(z_0)``. The addition node passes the gradient it receives,
      ``g = dL/dz_1 = z_1 - y``, unchanged to *both* of its inputs: the skip input and the
      branch output each get ``g`` (He et al. 2016, eq. 5). Hence
      ``dL/dz_0 = g (1 + f'(z_0)) = g (1 + w (1 - tanh^2 z_0))``: the ``1`` is the skip's
      direct term, which no weight can shrink. The block's weight still gets the gradient
      through its branch, ``dL/dw = g tanh(z_0)``: the skip adds a path, it takes none away.
    - plain: ``z_1 = f(z_0)``. Only the branch path is left,
      ``dL/dz_0 = g w (1 - tanh^2 z_0)``, a product of Jacobians that vanishes with depth
      when they are small.

    Every gradient is computed by torch autograd (float64) and by its closed form.

    Parameters
    ----------
    x : float, default=0.5
        The input feature ``z_0``.
    weight : float, default=0.8
        The block's weight ``w``.
    target : float, default=2.0
        The target ``y``.

    Returns
    -------
    frame : pandas.DataFrame
        One row per gradient, columns:

        - ``network`` (str): ``"residual"`` or ``"plain"``;
        - ``quantity`` (str): which gradient, e.g. ``"dL/d(skip input)"``;
        - ``formula`` (str): its closed form;
        - ``autograd`` (float): the value torch computes;
        - ``analytic`` (float): the closed form's value.

    Examples
    --------
    >>> from fboost.analysis import skip_gradient_demo
    >>> frame = skip_gradient_demo()
    >>> bool((frame["autograd"] - frame["analytic"]).abs().max() < 1e-12)
    True
    >>> residual = frame[frame["network"] == "residual"].set_index("quantity")["autograd"]
    >>> bool(residual["dL/d(skip input)"] == residual["dL/d(branch output)"])
    True
    """
    import torch

    x, weight, target = (
        _check_real(x, "x"),
        _check_real(weight, "weight"),
        _check_real(target, "target"),
    )
    tanh = math.tanh(x)
    derivative = weight * (1.0 - tanh**2)  # f'(z_0)
    rows: list[dict[str, Any]] = []

    def tensor(value: float) -> torch.Tensor:
        return torch.tensor(value, dtype=torch.float64, requires_grad=True)

    with torch.enable_grad():
        # residual block: the addition's inputs are kept as their own graph nodes
        z0, w = tensor(x), tensor(weight)
        skip_input = z0.clone()  # what the skip hands to the addition
        branch_output = w * torch.tanh(z0)  # f(z_0)
        z1 = skip_input + branch_output
        loss = 0.5 * (z1 - target) ** 2
        grads = torch.autograd.grad(loss, [z1, skip_input, branch_output, z0, w])
    g = x + weight * tanh - target
    residual = [
        ("dL/dz_1", "g = z_1 - y", g),
        ("dL/d(skip input)", "g", g),
        ("dL/d(branch output)", "g", g),
        ("dL/dz_0", "g (1 + w (1 - tanh^2 z_0))", g * (1.0 + derivative)),
        ("dL/dw", "g tanh(z_0)", g * tanh),
    ]
    for (quantity, formula, value), grad in zip(residual, grads, strict=True):
        rows.append(
            {
                "network": "residual",
                "quantity": quantity,
                "formula": formula,
                "autograd": float(grad),
                "analytic": value,
            }
        )

    with torch.enable_grad():
        z0, w = tensor(x), tensor(weight)
        z1 = w * torch.tanh(z0)
        loss = 0.5 * (z1 - target) ** 2
        grads = torch.autograd.grad(loss, [z1, z0, w])
    g = weight * tanh - target
    plain = [
        ("dL/dz_1", "g = z_1 - y", g),
        ("dL/dz_0", "g w (1 - tanh^2 z_0)", g * derivative),
        ("dL/dw", "g tanh(z_0)", g * tanh),
    ]
    for (quantity, formula, value), grad in zip(plain, grads, strict=True):
        rows.append(
            {
                "network": "plain",
                "quantity": quantity,
                "formula": formula,
                "autograd": float(grad),
                "analytic": value,
            }
        )
    return pd.DataFrame(rows, columns=DEMO_COLUMNS)
