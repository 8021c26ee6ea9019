"""Channels-last convolutions: ``ConvResNet(channels_last=True)`` against NCHW (the default).

The minimal training loop of :mod:`bench.bench_resnet` on the same ``ConvResNet`` built with
NCHW and with channels-last conv weights (``torch.channels_last``: oneDNN's CPU convolutions
then run in NHWC), same initial weights, data, batch size and epochs, runs interleaved, in CPU
seconds of the one thread (steadier than wall time on a shared machine).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from fboost.nn import ConvResNet

from .bench_resnet import _interleaved, _minimal_loop


def _channels_last(quick: bool) -> dict[str, Any]:
    """The minimal loop on a ``ConvResNet`` with NCHW and with channels-last conv weights.

    Two shapes on 28x28 single-channel images: the estimators' default CNN (32 channels,
    stride-2 stem, 3 blocks) and a wide one at full resolution (64 channels, stride 1), where
    the convolutions dominate. Same initial weights, data, batch size and epochs; runs
    interleaved, CPU seconds of the one thread (steadier than wall time on a shared machine).
    The ratio is the channels-last time over the NCHW time (< 1: faster).
    """
    n, repeat = (512, 2) if quick else (1024, 7)
    rng = np.random.RandomState(0)
    X = rng.normal(size=(n, 1, 28, 28)).astype(np.float32)
    y = rng.randint(0, 10, size=n)
    shapes = {"default_cnn": {"d_block": 32, "stem_stride": 2}, "wide_cnn": {"d_block": 64}}
    out: dict[str, Any] = {}
    for shape, kwargs in shapes.items():

        def loop(channels_last: bool, kwargs: dict[str, Any] = kwargs) -> Callable[[], None]:
            def run() -> None:
                torch.manual_seed(0)
                net = ConvResNet(
                    d_in=1, d_out=10, n_blocks=3, channels_last=channels_last, **kwargs
                )
                _minimal_loop(
                    net, torch.nn.functional.cross_entropy, X, y,
                    epochs=1, batch_size=256, lr=1e-3, weight_decay=0.0, fused=True,
                )  # fmt: skip

            return run

        t = _interleaved(
            {"nchw": loop(False), "channels_last": loop(True)}, repeat, clock=time.process_time
        )
        out[shape] = {
            "nchw_cpu_s": t["nchw"], "channels_last_cpu_s": t["channels_last"], **kwargs
        }  # fmt: skip
        out[f"{shape}_time_ratio"] = t["channels_last"] / t["nchw"]
    return out


def run(quick: bool) -> dict[str, Any]:
    layout = _channels_last(quick)
    return {
        "timings": {
            f"{shape}_{fmt}_cpu_s": layout[shape][f"{fmt}_cpu_s"]
            for shape in ("default_cnn", "wide_cnn")
            for fmt in ("nchw", "channels_last")
        },
        "ratios": {
            "channels_last_time_vs_nchw_default_cnn": layout["default_cnn_time_ratio"],
            "channels_last_time_vs_nchw_wide_cnn": layout["wide_cnn_time_ratio"],
        },
        # below 1.0 at the estimators' default CNN would make channels-last worth a default
        "targets": {"channels_last_time_vs_nchw_default_cnn": 1.0},
        "channels_last": layout,
        "torch_threads": torch.get_num_threads(),
    }
