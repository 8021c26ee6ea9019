"""Smoke sizes of compare-tabular, compare-image and alignment: report, CSV, figure; resumable."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import pandas as pd
import pytest

from experiments import alignment, compare_image, compare_tabular
from experiments._runner import run_study
from experiments._summary import write_summary

sys.path.insert(0, str(Path(__file__).parent))
from _claims_check import assert_claims_read  # noqa: E402

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


def test_alignment_report_settles_the_alignment_claims(tmp_path):
    result = run_study("alignment", alignment.SIZES["smoke"], alignment.main, output=tmp_path)
    assert_claims_read("alignment", result.report)


def test_tuned_comparison_gives_every_family_the_same_random_search(tmp_path):
    config = dataclasses.replace(
        compare_tabular.SIZES["smoke"], n_trials=3, models=compare_tabular.PAPER_MODELS
    )
    result = run_study("compare_tabular", config, compare_tabular.main, output=tmp_path)
    trials = pd.read_csv(result.path / "trials.csv")
    counts = trials.groupby(["dataset", "model", "seed"]).size()
    assert (counts == 3).all() and len(counts) == 2 * len(compare_tabular.PAPER_MODELS)
    assert (trials.loc[trials["trial"] == 0, "params"] == "{}").all()  # trial 0: the default
    scores = pd.read_csv(result.path / "scores.csv")
    for row in scores.itertuples():  # the chosen candidate is the best on validation
        mine = trials[(trials["dataset"] == row.dataset) & (trials["model"] == row.model)]
        assert row.val_score == mine["val_score"].max()
    # the same seed draws the same candidates
    again = compare_tabular.seed_part(config, 0)
    drawn = [t["params"] for d in config.datasets for t in again[d][2]]
    assert drawn == trials["params"].tolist()
    assert_claims_read("compare_tabular", result.report)


def test_search_spaces_sample_inside_their_bounds():
    import numpy as np

    rng = np.random.default_rng(0)
    for name, space in compare_tabular.SPACES.items():
        assert name in compare_tabular.PAPER_MODELS
        for _ in range(20):
            params = compare_tabular.sample(space, rng)
            for key, (kind, *args) in space.items():
                if kind == "choice":
                    assert params[key] in args[0]
                else:
                    assert args[0] <= params[key] <= args[1], (name, key, params[key])
    with pytest.raises(ValueError, match="unknown distribution"):
        compare_tabular.sample({"x": ("normal", 0, 1)}, rng)


def test_image_report_settles_the_image_claims(tmp_path):
    result = run_study(
        "compare_image", compare_image.SIZES["smoke"], compare_image.main, output=tmp_path
    )
    report = json.loads(json.dumps(result.report))
    # the smoke size runs digits; the claims read Fashion-MNIST (the paper size's only set)
    for row in report["metrics"]["per_seed"]:
        row["dataset"] = "fashion_mnist"
    report["figures"].append("staged_fashion_mnist.png")
    assert_claims_read("compare_image", report)
