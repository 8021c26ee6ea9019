"""The cost of batch-invariant predictions: float64 inference over float32, same trained nets.

The torch estimators predict in float64 (``fboost.nn._precision.float64_inference``) so that a
row's answer does not depend on the rows sharing the call. Each ratio is the predict time with
that over the predict time of the same fitted estimator evaluated in float32 (the former path,
restored here by patching the context manager to a no-op), in one process, alternately.

Cases: a tabular ResNet at its default width (128, 3 blocks) on 10,000 rows and on 1 row (the
weights' round trip dominates a tiny call), GrowNet with 20 stages on 10,000 rows, and a CNN
ResNet (32 channels, 3 blocks) on 1,000 8x8 images.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

import numpy as np
import torch

from fboost import NeuralBoostingRegressor, ResNetClassifier, ResNetRegressor

from ._harness import paired_times


@contextmanager
def _float32(module: Any) -> Iterator[torch.dtype]:
    yield torch.float32


@contextmanager
def _former_path() -> Iterator[None]:
    with (
        mock.patch("fboost.nn.stages.float64_inference", _float32),
        mock.patch("fboost.nn._precision.float64_inference", _float32),
    ):
        yield


def _ratio(predict: Any, repeat: int) -> tuple[float, float]:
    def former() -> None:
        with _former_path():
            predict()

    return paired_times(predict, former, repeat=repeat)


def run(quick: bool = False) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    n = 2_000 if quick else 10_000
    repeat = 3 if quick else 7
    X = rng.normal(size=(n, 20))
    y = X[:, 0] + np.sin(X[:, 1])
    epochs = {"max_epochs": 1, "n_iter_no_change": None, "random_state": 0}
    resnet = ResNetRegressor(**epochs).fit(X[:1000], y[:1000])
    grownet = NeuralBoostingRegressor(n_stages=20, epochs_per_stage=1, random_state=0)
    grownet.fit(X[:1000], y[:1000])
    images = rng.normal(size=(200 if quick else 1000, 1, 8, 8))
    labels = (images.mean(axis=(1, 2, 3)) > 0).astype(int)
    cnn = ResNetClassifier(architecture="cnn", d_block=32, **epochs).fit(images, labels)

    cases = {
        "resnet_mlp_10k_rows": lambda: resnet.predict(X),
        "resnet_mlp_1_row": lambda: resnet.predict(X[:1]),
        "grownet_20_stages_10k_rows": lambda: grownet.predict(X),
        "resnet_cnn_1k_images": lambda: cnn.predict_proba(images),
    }
    timings: dict[str, float] = {}
    ratios: dict[str, float] = {}
    for name, predict in cases.items():
        ours, former = _ratio(predict, repeat)
        timings[f"{name}_float64"] = ours
        timings[f"{name}_float32"] = former
        ratios[f"{name}_float64_over_float32"] = ours / former
    return {
        "timings": timings,
        "ratios": ratios,
        "targets": {},
        "threads": torch.get_num_threads(),
        "rows": n,
    }
