"""Smoke sizes of compare-tabular, compare-image and alignment: report, CSV, figure; resumable."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from experiments import alignment, compare_image, compare_tabular
from experiments._runner import run_study
from experiments._summary import write_summary

STUDIES = {
    "compare_tabular": (compare_tabular, "scores.csv"),
    "compare_image": (compare_image, "scores.csv"),
    "alignment": (alignment, "alignment.csv"),
}


@pytest.mark.parametrize("study", sorted(STUDIES))
def test_smoke_run_leaves_report_csv_and_figures_and_skips_next_time(study, tmp_path):
    module, csv = STUDIES[study]
    config = module.SIZES["smoke"]
    result = run_study(study, config, module.main, output=tmp_path)
    folder = tmp_path / study / "smoke"
    report = json.loads((folder / "report.json").read_text())
    assert report["config"]["seeds"] == list(config.seeds)
    assert report["table"] and report["figures"]
    for figure in report["figures"]:
        assert (folder / figure).stat().st_size > 5000
    frame = pd.read_csv(folder / csv)
    assert len(frame) > 0 and set(config.seeds) <= set(frame["seed"])
    assert f"## {study}" in write_summary(tmp_path).read_text()
    assert not result.skipped

    def must_not_run(config, output):
        raise AssertionError("finished run redone")

    assert run_study(study, config, must_not_run, output=tmp_path).skipped


def test_interrupted_compare_run_is_redone_cleanly(tmp_path, monkeypatch):
    from experiments import _compare

    calls = {"n": 0}
    original = _compare.score_of

    def dies_on_third_model(model, data):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return original(model, data)

    monkeypatch.setattr(_compare, "score_of", dies_on_third_model)
    config = compare_tabular.SIZES["smoke"]
    with pytest.raises(KeyboardInterrupt):
        run_study("compare_tabular", config, compare_tabular.main, output=tmp_path)
    assert not (tmp_path / "compare_tabular" / "smoke").exists()
    monkeypatch.setattr(_compare, "score_of", original)
    result = run_study("compare_tabular", config, compare_tabular.main, output=tmp_path)
    scores = pd.read_csv(result.path / "scores.csv")
    n_models = len(config.models) * len(config.datasets) * len(config.seeds)
    assert len(scores) == n_models  # one clean run, nothing mixed in from the first attempt


def test_compare_tabular_scores_are_sane(tmp_path):
    result = run_study(
        "compare_tabular", compare_tabular.SIZES["smoke"], compare_tabular.main, output=tmp_path
    )
    scores = pd.read_csv(result.path / "scores.csv")
    wine = scores[scores["dataset"] == "wine"].set_index("model")["test_score"]
    assert wine["TreeBoosting[lightgbm]"] > 0.8
    # fboost's lightgbm engine is LightGBM: the same score
    assert wine["TreeBoosting[lightgbm]"] == wine["LightGBM"]


def test_alignment_of_a_gbm_is_positive(tmp_path):
    result = run_study("alignment", alignment.SIZES["smoke"], alignment.main, output=tmp_path)
    frame = pd.read_csv(result.path / "alignment.csv")
    gbm = frame[frame["model"] == "TreeBoosting[sklearn]"]
    assert (gbm["cosine"] > 0.5).all()


def test_missing_data_set_is_skipped_and_said_or_required(tmp_path, monkeypatch):
    import dataclasses

    import fboost.datasets as datasets

    original = datasets.dataset_table

    def without_wine():
        table = original()
        table.loc["wine", "available"] = False
        return table

    monkeypatch.setattr(datasets, "dataset_table", without_wine)
    config = compare_tabular.SIZES["smoke"]
    result = run_study("compare_tabular", config, compare_tabular.main, output=tmp_path)
    assert set(pd.read_csv(result.path / "scores.csv")["dataset"]) == {"diabetes"}
    assert "wine" in result.report["metrics"]["skipped_datasets"]
    strict = dataclasses.replace(config, name="strict", require_all=True)
    with pytest.raises(FileNotFoundError, match="wine"):
        run_study("compare_tabular", strict, compare_tabular.main, output=tmp_path)
    assert not (tmp_path / "compare_tabular" / "strict").exists()
