"""fboost.nn: module construction, the telescoping identity, gradient flow, the epoch loop."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from fboost.losses import MultinomialLogLoss, SquaredError
from fboost.nn import (
    ConvBlock,
    ConvResNet,
    Dropout,
    LinearHead,
    TabularBlock,
    TabularResNet,
    TensorData,
    Trainer,
    TrunkModel,
    batch_slices,
    block_gradient_norms,
)
from fboost.nn.stages import BlockStage, TrunkStart


def _tabular(**kwargs):
    params = {"d_in": 5, "d_out": 2, "d_block": 8, "n_blocks": 3}
    return TabularResNet(**{**params, **kwargs})


def _conv(**kwargs):
    params = {"d_in": 2, "d_out": 3, "d_block": 4, "n_blocks": 3}
    return ConvResNet(**{**params, **kwargs})


@pytest.mark.parametrize(
    ("make", "kwargs", "error", "message"),
    [
        (_tabular, {"n_blocks": 0}, ValueError, r"n_blocks must be positive, however: n_blocks=0"),
        (_tabular, {"d_block": -3}, ValueError, r"d_block must be positive, however: d_block=-3"),
        (_tabular, {"d_in": 2.5}, TypeError, r"d_in must be an int, however: d_in=2.5"),
        (_tabular, {"d_hidden": 0}, ValueError, r"d_hidden must be positive"),
        (_tabular, {"d_out": 0}, ValueError, r"d_out must be positive, however: d_out=0"),
        (_tabular, {"dropout1": 1.0}, ValueError, r"dropout1 must be in \[0, 1\), however"),
        (_tabular, {"dropout2": -0.1}, ValueError, r"dropout2 must be in \[0, 1\)"),
        (_tabular, {"skip": "yes"}, TypeError, r"skip must be a bool, however: skip='yes'"),
        (_tabular, {"batch_norm": 1}, TypeError, r"batch_norm must be a bool"),
        (_conv, {"kernel_size": 4}, ValueError, r"kernel_size must be odd, however: kernel_size=4"),
        (_conv, {"stem_stride": 0}, ValueError, r"stem_stride must be positive"),
        (_conv, {"n_blocks": True}, TypeError, r"n_blocks must be an int"),
        (_conv, {"channels_last": 1}, TypeError, r"channels_last must be a bool, however"),
    ],
)
def test_constructors_validate_eagerly(make, kwargs, error, message):
    with pytest.raises(error, match=message):
        make(**kwargs)


@pytest.mark.parametrize("stem_stride", [1, 2])
def test_conv_channels_last_is_a_layout_only(stem_stride):
    """channels_last=True stores the conv weights NHWC: same shapes, same function and gradients
    as the NCHW network (the default) from the same seed, on input in either layout."""
    nets = {}
    for layout in (True, False):
        torch.manual_seed(0)
        nets[layout] = _conv(stem_stride=stem_stride, channels_last=layout).double().eval()
    weights = [m.weight for m in nets[True].modules() if isinstance(m, torch.nn.Conv2d)]
    assert weights and all(w.is_contiguous(memory_format=torch.channels_last) for w in weights)
    assert not nets[False].stem.weight.is_contiguous(memory_format=torch.channels_last)
    x = torch.randn(5, 2, 7, 7, dtype=torch.float64)
    for inp in (x, x.contiguous(memory_format=torch.channels_last)):
        z = nets[True].stem(inp)
        assert z.is_contiguous(memory_format=torch.channels_last)
        torch.testing.assert_close(nets[True](inp), nets[False](x), rtol=1e-10, atol=1e-12)
    grads = {}
    for layout, net in nets.items():
        net.zero_grad()
        net.train()(x).square().sum().backward()
        grads[layout] = [p.grad.clone() for p in net.parameters()]
    for a, b in zip(grads[True], grads[False], strict=True):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-11)


def test_shapes_and_backbone():
    assert _tabular()(torch.randn(7, 5)).shape == (7, 2)
    assert _tabular(d_out=None)(torch.randn(7, 5)).shape == (7, 8)
    assert _conv()(torch.randn(7, 2, 6, 6)).shape == (7, 3)
    assert _conv(d_out=None, stem_stride=2)(torch.randn(7, 2, 6, 6)).shape == (7, 4, 3, 3)
    assert TabularBlock(d_block=4, d_hidden=6)(torch.randn(3, 4)).shape == (3, 4)
    assert ConvBlock(d_block=4, d_hidden=6)(torch.randn(3, 4, 5, 5)).shape == (3, 4, 5, 5)
    assert isinstance(_tabular().blocks, torch.nn.ModuleList)


@pytest.mark.parametrize("make", [_tabular, _conv])
@pytest.mark.parametrize("batch_norm", [True, False])
def test_plain_network_has_same_parameters(make, batch_norm):
    residual, plain = make(batch_norm=batch_norm), make(skip=False, batch_norm=batch_norm)
    shapes = [p.shape for p in residual.parameters()]
    assert shapes == [p.shape for p in plain.parameters()]
    assert len(residual.blocks) == len(plain.blocks) == 3
    has_bn = any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in residual.modules())
    assert has_bn is batch_norm


@pytest.mark.parametrize("skip", [True, False])
def test_forward_is_the_trunk_then_the_head(skip):
    torch.manual_seed(0)
    net = _tabular(skip=skip).eval()
    x = torch.randn(10, 5)
    z = net.stem(x)
    for block in net.blocks:
        z = z + block(z) if skip else block(z)
    torch.testing.assert_close(net(x), net.head(z))
    torch.testing.assert_close(net.features(x)[-1], z)


def _warm_batch_norm(net, x):
    """A few train-mode passes so that BatchNorm running statistics are not the identity."""
    net.train()
    with torch.no_grad():
        for _ in range(3):
            net(x * 2 + 1)
    return net.eval()


@pytest.mark.parametrize("pool", [False, True])
def test_head_is_affine_in_eval_mode(pool):
    torch.manual_seed(0)
    head = LinearHead(d_in=4, d_out=3, pool=pool)
    shape = (20, 4, 3, 3) if pool else (20, 4)
    head.train()
    head(torch.randn(shape) * 3 + 1)
    head.eval()
    z, delta = torch.randn(shape), torch.randn(shape)
    torch.testing.assert_close(head(z + delta) - head(z), head.linear_part(delta))
    head.train()
    with pytest.raises(RuntimeError, match="eval mode"):
        head.linear_part(delta)


@pytest.mark.parametrize("make", [_tabular, _conv])
@pytest.mark.parametrize("skip", [True, False])
def test_trunk_model_telescopes(make, skip):
    torch.manual_seed(0)
    shape = (40, 5) if make is _tabular else (40, 2, 5, 5)
    x = torch.randn(shape)
    net = _warm_batch_norm(make(skip=skip), x)
    start = TrunkStart(net, np.array([3.0, -1.0] if make is _tabular else [0.0, 1.0, 2.0]), 2.5)
    model = TrunkModel(start, [BlockStage(start, i) for i in range(3)], np.ones(3))
    X = x.numpy()
    contributions = model.contributions(X)
    assert contributions.shape == (4, 40, net.head.linear.out_features)
    assert contributions.dtype == np.float64
    with torch.no_grad():
        expected = start.offset + 2.5 * net(x).double().numpy()
    np.testing.assert_allclose(contributions.sum(axis=0), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(model.raw(X), expected, rtol=1e-6, atol=1e-6)
    staged = list(model.staged_raw(X))
    assert len(staged) == 3
    np.testing.assert_allclose(staged[-1], expected, rtol=1e-5, atol=1e-5)
    features = model.features(X)
    assert features.shape == (4, *net.features(x)[0].shape)


def test_trunk_model_batches_rows(monkeypatch):
    torch.manual_seed(0)
    x = torch.randn(50, 5)
    net = _warm_batch_norm(_tabular(), x)
    start = TrunkStart(net, np.zeros(2))
    model = TrunkModel(start, [BlockStage(start, i) for i in range(3)], np.ones(3))
    whole = model.contributions(x.numpy())
    monkeypatch.setattr(TrunkModel, "max_batch_elements", 7 * 8)  # 7 rows per pass
    np.testing.assert_allclose(model.contributions(x.numpy()), whole, rtol=1e-6, atol=1e-6)
    assert model.raw(x.numpy()).shape == (50, 2)


# -- gradient flow through the skip (He et al. 2016, eq. 5) --------------------------------------
def _gradient_ratio(skip: bool, batch_norm: bool, seed: int) -> float:
    torch.manual_seed(seed)
    net = TabularResNet(d_in=10, d_out=1, d_block=64, n_blocks=50, skip=skip, batch_norm=batch_norm)
    x, y = torch.randn(256, 10), torch.randn(256)
    norms = block_gradient_norms(net, x, y, SquaredError())
    assert norms.shape == (51,)
    return float(norms[0] / norms[-1])


@pytest.mark.parametrize("batch_norm", [False, True])
@pytest.mark.parametrize("seed", [0, 1])
def test_plain_network_is_really_plain(batch_norm, seed):
    residual = _gradient_ratio(skip=True, batch_norm=batch_norm, seed=seed)
    plain = _gradient_ratio(skip=False, batch_norm=batch_norm, seed=seed)
    assert 0.1 <= residual <= 10
    # without normalisation the plain net's gradient vanishes; with BatchNorm it explodes
    if batch_norm:
        assert plain > 100
    else:
        assert plain < 0.01


def test_conv_gradient_flow_residual_vs_plain():
    torch.manual_seed(0)
    ratios = {}
    for skip in (True, False):
        torch.manual_seed(0)
        net = ConvResNet(d_in=1, d_out=3, d_block=8, n_blocks=50, skip=skip, batch_norm=False)
        x, y = torch.randn(32, 1, 8, 8), torch.randint(0, 3, (32,))
        norms = block_gradient_norms(net, x, y, MultinomialLogLoss(3))
        ratios[skip] = norms[0] / norms[-1]
    assert 0.1 <= ratios[True] <= 10
    assert ratios[False] < 0.01


def test_block_gradient_norms_restores_mode_and_leaves_parameters():
    net = _tabular().eval()
    norms = block_gradient_norms(
        net, torch.randn(8, 5), torch.randn(8, 2), lambda raw, y: ((raw - y) ** 2).mean()
    )
    assert norms.shape == (4,) and np.all(norms > 0)
    assert not net.training
    assert all(p.grad is None for p in net.parameters())
    with pytest.raises(ValueError, match="head"):
        block_gradient_norms(
            _tabular(d_out=None), torch.randn(8, 5), torch.randn(8), SquaredError()
        )


# -- the epoch loop -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("n", "batch_size", "sizes"),
    [(10, 4, [4, 4, 2]), (9, 4, [4, 5]), (8, 4, [4, 4]), (3, 8, [3]), (5, 1, [1] * 5)],
)
def test_batch_slices(n, batch_size, sizes):
    slices = batch_slices(n, batch_size)
    assert [s.stop - s.start for s in slices] == sizes
    assert slices[0].start == 0 and slices[-1].stop == n


def test_trainer_early_stops_and_restores_best_weights():
    torch.manual_seed(0)
    X, y = torch.randn(200, 5), torch.randn(200)  # pure noise: validation soon stops improving
    net = TabularResNet(d_in=5, d_out=1, d_block=32, n_blocks=2)
    loss = SquaredError()
    trainer = Trainer(
        module=net,
        loss_fn=lambda raw, t, w: loss.torch_value(t, raw, w),
        optimizer=torch.optim.AdamW(net.parameters(), lr=1e-2),
        batch_size=32,
        max_epochs=200,
        n_iter_no_change=3,
    )
    validation = TensorData(torch.randn(50, 5), torch.randn(50))
    history = trainer.fit(TensorData(X, y), validation)
    assert len(history.train_loss) == len(history.validation_loss) < 200
    assert history.best_epoch == int(np.argmin(history.validation_loss)) + 1
    assert not net.training
    assert trainer.evaluate(validation) == pytest.approx(min(history.validation_loss), rel=1e-6)


def test_trainer_raises_on_divergence():
    net = TabularResNet(d_in=2, d_out=1, d_block=4, n_blocks=1)
    trainer = Trainer(
        module=net,
        loss_fn=lambda raw, t, w: raw.sum() * float("nan"),
        optimizer=torch.optim.SGD(net.parameters(), lr=0.1),
        batch_size=4,
        max_epochs=2,
    )
    with pytest.raises(FloatingPointError, match="diverged"):
        trainer.fit(TensorData(torch.randn(8, 2), torch.randn(8)))


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_dropout_keeps_with_probability_one_minus_p_and_scales_exactly(p, dtype):
    """fboost.nn.Dropout's docstring: keep with 1 - p, kept ones scaled so E[out] = x."""
    torch.manual_seed(0)
    x = torch.rand(1001, 999, dtype=dtype) + 0.5  # odd numel: the last word is half used
    out = Dropout(p)(x)
    kept = out != 0
    n = x.numel()
    fraction = kept.double().mean().item()
    assert abs(fraction - (1 - p)) < 5 * np.sqrt(p * (1 - p) / n)  # 5 binomial sigmas
    scale = 2**32 / round((1 - p) * 2**32)
    torch.testing.assert_close(out[kept], x[kept] * scale, rtol=0, atol=0)
    assert scale == pytest.approx(1 / (1 - p), rel=1e-9)
    # the expectation: mean of out / x over all elements is the kept fraction times the scale
    assert abs((out / x).double().mean().item() - 1.0) < 5 * np.sqrt(p / (1 - p) / n)
    # neighbouring elements (the two halves of one 64-bit word) are independent
    pairs = kept.flatten()[: n - 1 : 2].double(), kept.flatten()[1::2].double()
    both = (pairs[0] * pairs[1]).mean().item()
    assert abs(both - (1 - p) ** 2) < 5 * np.sqrt((1 - p) ** 2 * (1 - (1 - p) ** 2) / (n // 2))


def test_dropout_gradient_is_the_mask_times_the_scale_and_seeded():
    x = torch.randn(64, 33, requires_grad=True)
    weights = torch.randn(64, 33)
    drop = Dropout(0.3)
    torch.manual_seed(5)
    out = drop(x)
    (out * weights).sum().backward()
    mask = (out != 0).to(x.dtype)
    scale = 2**32 / round(0.7 * 2**32)
    torch.testing.assert_close(x.grad, weights * mask * scale, rtol=0, atol=0)
    torch.manual_seed(5)
    torch.testing.assert_close(drop(x), out, rtol=0, atol=0)  # random_state fixes the mask
    assert not torch.equal(drop(x), out)  # the generator moved on


def test_dropout_is_the_identity_where_it_says():
    x = torch.randn(8, 5)
    drop = Dropout(0.5).eval()
    assert torch.equal(drop(x), x)
    assert torch.equal(Dropout(0.0)(x), x)
    assert torch.equal(Dropout(2.0**-34)(x), x)  # rounds to p = 0
    assert torch.equal(Dropout(1 - 2.0**-34)(x), torch.zeros_like(x))  # rounds to p = 1
    torch.manual_seed(0)
    native = torch.nn.Dropout(0.5, inplace=True)(x.clone())
    torch.manual_seed(0)
    assert torch.equal(Dropout(0.5, inplace=True)(x.clone()), native)  # inplace: nn.Dropout's


@pytest.mark.parametrize("make", [_tabular, _conv])
def test_networks_use_fboost_dropout(make):
    drops = [m for m in make(dropout1=0.2, dropout2=0.1).modules() if isinstance(m, nn.Dropout)]
    assert drops and all(type(m) is Dropout for m in drops)


@pytest.mark.parametrize("module", ["fboost.nn.modules", "fboost.nn._grad", "fboost.resnet"])
def test_docstring_examples(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted > 0 and result.failed == 0


def test_every_network_estimator_trains_with_the_fused_adamw(monkeypatch):
    """fboost.nn.adamw's docstring: ResNet, BoostResNet, NeuralBoosting and SoftBoosting use it."""
    from fboost import (
        BoostResNetRegressor,
        NeuralBoostingRegressor,
        ResNetRegressor,
        SoftBoostingRegressor,
    )

    real = torch.optim.AdamW
    seen: list[object] = []

    def recording(params, **kwargs):
        seen.append(kwargs.get("fused"))
        return real(params, **kwargs)

    monkeypatch.setattr(torch.optim, "AdamW", recording)
    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(40, 3)), rng.normal(size=40)
    for est in (
        ResNetRegressor(n_stages=1, d_block=4, max_epochs=1, random_state=0),
        BoostResNetRegressor(n_stages=1, d_block=4, epochs_per_stage=1, random_state=0),
        NeuralBoostingRegressor(n_stages=2, d_hidden=4, epochs_per_stage=1, random_state=0),
        SoftBoostingRegressor(n_stages=2, d_hidden=4, max_epochs=1, random_state=0),
    ):
        seen.clear()
        est.fit(X, y)
        assert seen and all(fused is True for fused in seen), type(est).__name__
