"""The depth study (BoostResNet's headline claim) at its smoke size, through the runner."""

from __future__ import annotations

import json

import pandas as pd

from experiments import STUDIES, depth
from experiments._runner import run_study
from experiments._summary import write_summary


def test_smoke_run_leaves_report_csv_and_figure_and_skips_next_time(tmp_path):
    config = depth.SIZES["smoke"]
    result = run_study("depth", config, depth.main, output=tmp_path)
    folder = tmp_path / "depth" / "smoke"
    report = json.loads((folder / "report.json").read_text())
    assert report["figures"] == ["accuracy_vs_depth.png"]
    assert (folder / "accuracy_vs_depth.png").stat().st_size > 5000
    frame = pd.read_csv(folder / "depth.csv")
    assert len(frame) == len(config.seeds) * len(config.depths) * len(depth.MODELS)
    assert set(frame["model"]) == set(depth.MODELS)
    assert (frame["n_stages"] <= frame["depth"]).all()
    assert frame["train_accuracy"].between(0, 1).all()
    e2e = frame[frame["model"] == "end-to-end"]
    assert (e2e["n_stages"] == e2e["depth"]).all()
    assert {row["model"] for row in report["table"]} == set(depth.MODELS)
    assert set(report["metrics"]["train_accuracy_drop_at_deepest"]) == set(depth.MODELS)
    assert "## depth" in write_summary(tmp_path).read_text()
    assert not result.skipped and "depth" in STUDIES

    def must_not_run(config, output):
        raise AssertionError("finished run redone")

    assert run_study("depth", config, must_not_run, output=tmp_path).skipped
