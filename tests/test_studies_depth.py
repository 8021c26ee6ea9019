"""The depth study (BoostResNet's headline claim) at its smoke size, through the runner."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd

from experiments import STUDIES, depth
from experiments._runner import run_study
from experiments._summary import write_summary

sys.path.insert(0, str(Path(__file__).parent))
from _claims_check import assert_claims_read  # noqa: E402


def test_smoke_run_leaves_report_csv_and_figure_and_skips_next_time(tmp_path):
    config = depth.SIZES["smoke"]
    result = run_study("depth", config, depth.main, output=tmp_path)
    folder = tmp_path / "depth" / "smoke"
    report = json.loads((folder / "report.json").read_text())
    assert report["figures"] == ["accuracy_vs_depth.png"]
    assert (folder / "accuracy_vs_depth.png").stat().st_size > 5000
    frame = pd.read_csv(folder / "depth.csv")
    n_equal = len(config.seeds) * len(config.equal_updates_depths)
    assert len(frame) == len(config.seeds) * len(config.depths) * len(depth.MODELS) + n_equal
    assert set(frame["model"]) == {*depth.MODELS, depth.EQUAL}
    # the equal-updates network made exactly BoostResNet's number of gradient updates
    for d in config.equal_updates_depths:
        at = frame[frame["depth"] == d].set_index("model")["gradient_updates"]
        assert at[depth.EQUAL] == at["BoostResNet"] > 0
    # peak training memory of each model at each memory depth, measured in a child process
    memory = report["metrics"]["peak_memory_mib"]
    assert set(memory) == set(depth.MODELS)
    for model in depth.MODELS:
        assert set(memory[model]) == {str(d) for d in config.memory_depths}
        assert all(0 <= v < 4096 for v in memory[model].values())
    assert (frame["n_stages"] <= frame["depth"]).all()
    assert frame["train_accuracy"].between(0, 1).all()
    frame = frame[frame["model"] != depth.EQUAL]
    e2e = frame[frame["model"] == "end-to-end"]
    assert (e2e["n_stages"] == e2e["depth"]).all()
    assert {row["model"] for row in report["table"]} == {*depth.MODELS, depth.EQUAL}
    assert set(report["metrics"]["train_accuracy_drop_at_deepest"]) == set(depth.MODELS)
    assert "## depth" in write_summary(tmp_path).read_text()
    assert_claims_read("depth", report)
    assert not result.skipped and "depth" in STUDIES

    def must_not_run(config, output):
        raise AssertionError("finished run redone")

    assert run_study("depth", config, must_not_run, output=tmp_path).skipped


def test_block_by_block_training_peaks_below_end_to_end():
    """Huang et al.'s memory claim at a size where it shows: 4 wide blocks (parameters,
    gradients and AdamW's two moments of ~8 MB per block) trained end to end against one at a
    time, each measured in a fresh process."""
    import numpy as np

    from fboost import BoostResNetClassifier, ResNetClassifier

    rng = np.random.RandomState(0)
    X = rng.normal(size=(512, 16)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    shared = dict(n_stages=4, d_block=512, d_hidden=2048, n_iter_no_change=None, random_state=0)
    e2e = depth.peak_fit_memory(ResNetClassifier(max_epochs=1, **shared), "toy", 0, X, y)
    boost = depth.peak_fit_memory(
        BoostResNetClassifier(epochs_per_stage=1, **shared), "toy", 0, X, y
    )
    assert e2e is not None and boost is not None
    assert e2e > 50  # MiB: four blocks' parameters, gradients and optimiser state
    assert boost < 0.7 * e2e
