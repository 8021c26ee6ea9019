"""Data-parallel training (``n_processes``, torch DDP) in real processes: 2 CPU ranks, gloo.

Spawning a rank costs seconds (it imports torch), so the checks that need processes share three
launches: a spawned ``fit`` of a ResNet; a spawned group in which the mechanism (BatchNorm over
the global batch, DDP epochs against the single-process schedule) is checked and every torch
estimator is fitted with ``n_processes=2`` through the group; a real ``torchrun`` launch.
"""

from __future__ import annotations

import os
import pickle
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits, make_friedman1
from sklearn.exceptions import ConvergenceWarning

from fboost import NeuralBoostingClassifier, ResNetClassifier, ResNetRegressor
from fboost.boostresnet import BoostResNetClassifier, BoostResNetRegressor
from fboost.nn import TabularResNet, TensorData, Trainer, batch_slices
from fboost.nn._ddp import _synced_forward, run_data_parallel
from fboost.resfgb import ResFGBClassifier

CHILD = Path(__file__).parent / "_ddp_torchrun_child.py"


def _digits(n: int = 600) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    X, y = load_digits(return_X_y=True)
    return X[:n], y[:n], X[1200:1500], y[1200:1500]


#: the ResNet of the spawned fits, and the same again in the group
RESNET = {
    "n_stages": 2,
    "d_block": 16,
    "max_epochs": 4,
    "lr": 1e-2,
    "batch_size": 64,
    "random_state": 3,
}


# -- bad values ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "cls", [ResNetRegressor, BoostResNetRegressor, ResFGBClassifier, NeuralBoostingClassifier]
)
@pytest.mark.parametrize(
    ("value", "error", "match"),
    [
        (0, ValueError, r"n_processes must be >= 1, got n_processes=0"),
        (-1, ValueError, r"n_processes must be >= 1, got n_processes=-1"),
        (1.5, TypeError, r"n_processes must be an int >= 1, got n_processes=1.5 \(float\)"),
        ("2", TypeError, r"n_processes must be an int >= 1, got n_processes='2' \(str\)"),
        (True, TypeError, r"n_processes must be an int >= 1, got n_processes=True \(bool\)"),
        (None, TypeError, r"n_processes must be an int >= 1, got n_processes=None"),
        (7, ValueError, r"n_processes=7 is more than the 6 rows of X"),
    ],
)
def test_bad_n_processes_is_named(cls, value, error, match):
    X, y = np.random.default_rng(0).normal(size=(6, 3)), np.array([0, 1] * 3)
    with pytest.raises(error, match=match):
        cls(n_processes=value, batch_size=8).fit(X, y)


def test_batch_size_below_n_processes_is_named():
    X, y = np.random.default_rng(0).normal(size=(20, 3)), np.arange(20.0)
    with pytest.raises(ValueError, match=r"batch_size must be at least n_processes.*=2"):
        ResNetRegressor(n_processes=3, batch_size=2).fit(X, y)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the guard where CUDA is missing")
def test_cuda_without_gpus_is_named():
    X, y = np.random.default_rng(0).normal(size=(20, 3)), np.arange(20.0)
    with pytest.raises(ValueError, match=r"device='cuda' was requested but CUDA is not"):
        ResNetRegressor(n_processes=2, device="cuda").fit(X, y)


def test_n_processes_is_a_parameter_of_every_torch_estimator():
    for cls in (ResNetClassifier, BoostResNetClassifier, ResFGBClassifier):
        assert cls().get_params()["n_processes"] == 1
        assert cls(n_processes=2).get_params()["n_processes"] == 2
    assert NeuralBoostingClassifier(n_processes=3).get_params()["n_processes"] == 3


# -- one spawned group: the mechanism, and every estimator through the group path ------------
def _rows(n: int, d: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g)
    return X, X.sum(dim=1, keepdim=True) + 0.1 * torch.randn(n, 1, generator=g)


def _mse(raw: torch.Tensor, y: torch.Tensor, w: Any) -> torch.Tensor:
    return ((raw - y) ** 2).mean()


def _resnet() -> TabularResNet:
    torch.manual_seed(0)
    return TabularResNet(d_in=3, d_out=1, d_block=8, n_blocks=2)


def _sgd(net: torch.nn.Module) -> torch.optim.Optimizer:
    """Plain SGD: the schedules then agree to float rounding (Adam divides near-zero gradients
    by their own size, and so turns rounding into steps of size lr)."""
    return torch.optim.SGD(net.parameters(), lr=0.05)


class _SameSchedule(Trainer):
    """One process, the batches of a 2-rank epoch: DistributedSampler's permutation per epoch
    (seed drawn as DistributedTrainer draws it), whole global batches of ``batch_size``."""

    def fit(self, train: TensorData, validation: TensorData | None = None) -> Any:
        self._seed = int(torch.randint(0, 2**31 - 1, (2,))[0])
        self._epoch = 0
        return super().fit(train, validation)

    def batches(self, n: int, *, shuffle: bool, device: torch.device) -> Any:
        if not shuffle:
            yield from super().batches(n, shuffle=False, device=device)
            return
        g = torch.Generator().manual_seed(self._seed + self._epoch)
        self._epoch += 1
        order = torch.randperm(n, generator=g)
        for s in batch_slices(n, self.batch_size):
            yield order[s]


def _group_run(group: Any, X: np.ndarray, y: np.ndarray, X_test: np.ndarray) -> dict:
    """On each rank: the checks, then the estimators fitted with n_processes=2 (the group)."""
    import torch.distributed as dist

    out: dict[str, Any] = {"threads": torch.get_num_threads()}
    rank = group.rank
    # BatchNorm over the global batch: each rank normalises its half of the rows
    for norm, shape in ((torch.nn.BatchNorm1d(3), (8, 3)), (torch.nn.BatchNorm2d(2), (4, 2, 3, 3))):
        x = torch.randn(shape, generator=torch.Generator().manual_seed(5)) * 3 + 1
        half = x[rank * (shape[0] // 2) : (rank + 1) * (shape[0] // 2)].clone().requires_grad_()
        norm.train()
        with torch.no_grad():
            norm.weight.uniform_(0.5, 1.5, generator=torch.Generator().manual_seed(6))
        reference = _clone_norm(norm)
        out_half = _synced_forward(norm, group, half)
        (out_half * torch.arange(1.0, out_half.numel() + 1).view_as(out_half)).sum().backward()
        for p in (norm.weight, norm.bias):
            dist.all_reduce(p.grad)  # what DDP does (then /N: here compared as sums)
        full = x.clone().requires_grad_()
        ref_out = reference(full)
        weights = torch.arange(1.0, ref_out[: shape[0] // 2].numel() + 1)
        halves = ref_out.split(shape[0] // 2)
        sum((h * weights.view_as(h)).sum() for h in halves).backward()  # each rank's loss, summed
        name = type(norm).__name__
        out[f"{name}_output"] = float((out_half - halves[rank]).detach().abs().max())
        out[f"{name}_input_grad"] = float(
            (half.grad - full.grad.split(shape[0] // 2)[rank]).abs().max()
        )
        out[f"{name}_param_grad"] = max(
            float((norm.weight.grad - reference.weight.grad).abs().max()),
            float((norm.bias.grad - reference.bias.grad).abs().max()),
        )
        out[f"{name}_running"] = max(
            float((norm.running_mean - reference.running_mean).abs().max()),
            float((norm.running_var - reference.running_var).abs().max()),
        )
    # a DDP training against one process on the same global batches
    X_t, y_t = _rows(64, 3, seed=1)
    net = _resnet()
    torch.manual_seed(11)
    history = Trainer(net, _mse, _sgd(net), batch_size=16, max_epochs=3).fit(TensorData(X_t, y_t))
    out["ddp_state"] = {k: v.clone() for k, v in net.state_dict().items()}
    out["ddp_loss"] = history.train_loss
    # every torch estimator, through the group (n_processes equal to its world size)
    estimators = {
        "resnet_mlp": ResNetClassifier(**RESNET, n_processes=2),
        "resnet_cnn": ResNetClassifier(
            architecture="cnn",
            image_shape=(1, 8, 8),
            n_stages=1,
            d_block=8,
            max_epochs=5,
            lr=1e-2,
            batch_size=64,
            n_iter_no_change=None,
            random_state=0,
            n_processes=2,
        ),
        "boostresnet": BoostResNetClassifier(
            n_stages=2,
            d_block=32,
            epochs_per_stage=4,
            lr=1e-2,
            batch_size=64,
            random_state=0,
            n_processes=2,
        ),
        "resfgb": ResFGBClassifier(  # all stages kept (early stopping keeps none here)
            n_stages=3,
            hidden=(16,),
            epochs_per_stage=2,
            n_iter_no_change=None,
            random_state=0,
            n_processes=2,
        ),
        "neural_boosting": NeuralBoostingClassifier(
            n_stages=3, d_hidden=16, epochs_per_stage=2, random_state=0, n_processes=2
        ),
    }
    fitted, predictions = {}, {}
    for name, est in estimators.items():
        est.fit(X, y)
        fitted[name] = est
        predictions[name] = est.predict_proba(X_test)
    again = ResNetClassifier(**RESNET, n_processes=2).fit(X, y)  # run to run
    predictions["resnet_mlp_again"] = again.predict_proba(X_test)
    gathered: list[Any] = [None] * group.world_size
    dist.all_gather_object(gathered, predictions)
    out["predictions"] = gathered
    out["fitted"] = pickle.dumps(fitted)
    try:
        ResNetClassifier(n_processes=3).fit(X, y)
    except ValueError as exc:
        out["mismatch"] = str(exc)
    return out


def _clone_norm(norm: torch.nn.Module) -> torch.nn.Module:
    clone = type(norm)(norm.num_features)
    clone.load_state_dict(norm.state_dict())
    return clone.train()


def test_data_parallel_fits_in_real_processes(capfd):
    """One spawned fit (``n_processes=2``), then one spawned group: the mechanism, and every
    torch estimator fitted with ``n_processes=2`` over it (the path of a ``torchrun`` launch)."""
    X, y, X_test, y_test = _digits()
    capfd.readouterr()
    spawned = ResNetClassifier(**RESNET, n_processes=2, verbose=1).fit(X, y)
    bars_parallel = capfd.readouterr().err.count("ResNetClassifier")
    single = ResNetClassifier(**RESNET, verbose=1).fit(X, y)
    bars_single = capfd.readouterr().err.count("ResNetClassifier")
    # one progress bar (rank 0's), drawn as often as the single-process one
    assert bars_parallel == bars_single > 0
    out = run_data_parallel(_group_run, (X, y, X_test), n_processes=2)
    assert capfd.readouterr().err == ""  # silent unless verbose, the ranks included
    assert out["threads"] == max(1, torch.get_num_threads() // 2)  # an equal share each
    # the spawned fit: the ordinary estimator, with its parameters; plain BatchNorm; pickles
    proba = spawned.predict_proba(X_test)
    assert spawned.get_params() == {**single.get_params(), "n_processes": 2}
    assert spawned.n_epochs_ == RESNET["max_epochs"] == len(spawned.train_score_)
    norms = [m for m in spawned.module_.modules() if isinstance(m, torch.nn.BatchNorm1d)]
    assert norms and all(
        type(m) is torch.nn.BatchNorm1d and "forward" not in vars(m) for m in norms
    )
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(spawned)).predict_proba(X_test), proba)
    assert spawned.score(X_test, y_test) > 0.75 and single.score(X_test, y_test) > 0.75
    # not the single-process model: the distributed sampler deals other batches
    assert not np.array_equal(proba, single.predict_proba(X_test))
    # same seed, same model, run to run: the spawned fit, and twice in the group
    rank0, rank1 = out["predictions"]
    np.testing.assert_array_equal(rank0["resnet_mlp"], proba)
    np.testing.assert_array_equal(rank0["resnet_mlp_again"], proba)
    # BatchNorm over the global batch: outputs, gradients and running statistics of the whole
    for name in ("BatchNorm1d", "BatchNorm2d"):
        assert out[f"{name}_output"] < 1e-5
        assert out[f"{name}_input_grad"] < 1e-4
        assert out[f"{name}_param_grad"] < 1e-4
        assert out[f"{name}_running"] < 1e-5
    # a DDP training equals one process stepping on the same global batches (the averaged
    # gradient of two half-batches is the whole batch's; as many updates per epoch)
    X_t, y_t = _rows(64, 3, seed=1)
    net = _resnet()
    torch.manual_seed(11)
    history = _SameSchedule(net, _mse, _sgd(net), batch_size=16, max_epochs=3).fit(
        TensorData(X_t, y_t)
    )
    np.testing.assert_allclose(out["ddp_loss"], history.train_loss, rtol=1e-5)
    for key, value in net.state_dict().items():
        np.testing.assert_allclose(out["ddp_state"][key], value, rtol=1e-4, atol=1e-5)
    assert not np.allclose(out["ddp_state"]["stem.weight"], _resnet().state_dict()["stem.weight"])
    # every estimator: the same model on both ranks, back here as the ordinary estimator
    fitted = pickle.loads(out["fitted"])
    for name, est in fitted.items():
        np.testing.assert_array_equal(rank0[name], rank1[name], err_msg=name)
        np.testing.assert_allclose(est.predict_proba(X_test), rank0[name], atol=1e-12)
        assert est.n_processes == 2 and est.score(X_test, y_test) > 0.75, name
        # trained data-parallel: not the model one process trains from the same seed
        alone = clone(est).set_params(n_processes=1).fit(X, y)
        assert not np.allclose(alone.predict_proba(X_test), rank0[name], atol=1e-9), name
    # SyncBatchNorm's training left plain BatchNorm2d with the statistics of the batches
    norms = [
        m for m in fitted["resnet_cnn"].module_.modules() if isinstance(m, torch.nn.BatchNorm2d)
    ]
    assert norms and all(type(m) is torch.nn.BatchNorm2d for m in norms)
    assert all(int(m.num_batches_tracked) > 0 and float(m.running_var.std()) > 0 for m in norms)
    assert re.search(r"n_processes must be 1 .* world size 2 .* got n_processes=3", out["mismatch"])


# -- what comes back from the ranks: warnings, errors ------------------------------------------
def _fails_on_rank_1(group: Any) -> None:
    if group.rank == 1:
        raise KeyError("rank 1 has no such key")


def test_rank_0s_warnings_and_a_ranks_error_come_back():
    X, y = load_digits(return_X_y=True)
    failing = BoostResNetClassifier(
        n_stages=2,
        d_block=8,
        epochs_per_stage=1,
        gamma_threshold=0.99,
        max_retries=0,
        n_iter_no_change=None,
        random_state=0,
        n_processes=2,
    )
    with pytest.warns(ConvergenceWarning, match=r"stage 1 did not pass .* keeping 0 block"):
        failing.fit(X[:300], y[:300])
    assert failing.n_stages_ == 0 and len(failing.edges_) == 1
    with pytest.raises(KeyError, match="rank 1 has no such key") as raised:
        run_data_parallel(_fails_on_rank_1, (), n_processes=2)
    assert "(raised on rank 1 of 2)" in raised.value.__notes__


# -- a real torchrun launch ------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_torchrun_trains_over_the_launched_group(tmp_path):
    X, y = make_friedman1(n_samples=240, random_state=0)
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    # torchrun gives each child one thread unless OMP_NUM_THREADS is set; the children must
    # run on as many threads as this process, so that "alone" reduces in the same order here
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(sys.path),
        "OMP_NUM_THREADS": str(torch.get_num_threads()),
    }
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node=2",
        "--master_addr=127.0.0.1",
        f"--master_port={_free_port()}",
        str(CHILD),
        str(tmp_path),
    ]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    # n_processes = WORLD_SIZE: one model trained over both ranks, identical on each
    ddp = [np.load(tmp_path / f"ddp-{rank}.npy") for rank in range(2)]
    np.testing.assert_array_equal(ddp[0], ddp[1])
    # n_processes=1 under torchrun: each rank trains alone, exactly as one process does here
    alone = [np.load(tmp_path / f"alone-{rank}.npy") for rank in range(2)]
    here = BoostResNetRegressor(**_child_params(), n_processes=1).fit(X, y).predict(X)
    np.testing.assert_array_equal(alone[0], here)
    np.testing.assert_array_equal(alone[1], here)
    assert not np.array_equal(ddp[0], here)
    model = pickle.loads((tmp_path / "ddp.pkl").read_bytes())
    np.testing.assert_allclose(model.predict(X), ddp[0], atol=1e-12)
    assert model.score(X, y) > 0.5


def _child_params() -> dict[str, Any]:
    sys.path.insert(0, str(CHILD.parent))
    try:
        from _ddp_torchrun_child import PARAMS
    finally:
        sys.path.pop(0)
    return dict(PARAMS)
