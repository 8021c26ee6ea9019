"""The claims of the results of record (experiments._record): rules, the note, README, resume."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import pytest

from experiments import STUDIES, _record
from experiments._runner import BySeed, StudyConfig, run_study

ROOT = Path(__file__).resolve().parents[1]


def _claim(claim_id: str) -> _record.Claim:
    return next(c for c in _record.CLAIMS if c.id == claim_id)


def _lesion_report(plain_single: list[float]) -> dict:
    return {
        "config": {"name": "paper", "seeds": [0, 1], "n_stages": 54},
        "metrics": {
            "chance": 0.1,
            "intact": {"ResNet": [0.95, 0.96], "plain net": [0.90, 0.92]},
            "single_mean": {"ResNet": [0.93, 0.95], "plain net": plain_single},
            "random_mean": {"ResNet": {"2": [0.92, 0.93], "4": [0.88, 0.9], "8": [0.7, 0.75]}},
        },
    }


def test_lesion_rules_follow_the_numbers():
    report = _lesion_report([0.11, 0.12])
    outcome = _claim("veit-single-lesion").read(report)
    assert outcome.held is True and "plain net: 0.910 → 0.115" in outcome.value
    # a plain net that survives its lesions: the claim does not hold
    assert _claim("veit-single-lesion").read(_lesion_report([0.85, 0.88])).held is False
    # a plain net that never trained (intact near chance) settles nothing: open
    untrained = _lesion_report([0.11, 0.1])
    untrained["metrics"]["intact"]["plain net"] = [0.13, 0.12]
    outcome = _claim("veit-single-lesion").read(untrained)
    assert outcome.held is None and "did not train" in outcome.detail
    # Veit et al.'s comparison: a plain net of VGG's depth, when the report has one; the plain
    # net of the ResNet's depth (here untrained) is then only reported
    vgg = _lesion_report([0.11, 0.1])
    vgg["config"]["plain_depth"] = 8
    vgg["metrics"]["intact"]["plain net"] = [0.13, 0.12]
    vgg["metrics"]["intact"]["plain net (VGG depth)"] = [0.95, 0.97]
    vgg["metrics"]["single_mean"]["plain net (VGG depth)"] = [0.12, 0.1]
    outcome = _claim("veit-single-lesion").read(vgg)
    assert outcome.held is True and "plain net (VGG depth): 0.960 → 0.110" in outcome.value
    assert "VGG-depth plain net 8" in outcome.detail
    assert "plain net of 54 blocks did not train" in outcome.detail
    vgg["metrics"]["single_mean"]["plain net (VGG depth)"] = [0.9, 0.9]
    assert _claim("veit-single-lesion").read(vgg).held is False
    smooth = _claim("veit-smooth").read(report)
    assert smooth.held is True and smooth.value.startswith("intact: 0.955, 2: 0.925")
    report["metrics"]["random_mean"]["ResNet"]["8"] = [0.12, 0.11]  # a cliff from 4 to 8
    assert _claim("veit-smooth").read(report).held is False


def test_gradient_rule_wants_residual_in_band_and_plain_vanishing():
    def ratios(plain_deep: float) -> dict:
        band = {"2": [1.0, 1.1], "128": [8.0, 9.0]}
        return {
            "metrics": {
                "ratio_first_last": {
                    "residual": {"init": band},
                    "residual + BN": {"init": band},
                    "plain": {"init": {"2": [0.1, 0.1], "128": [plain_deep, plain_deep]}},
                    "plain + BN": {"init": {"2": [0.5, 0.6], "128": [1e4, 1e5]}},
                }
            }
        }

    read = _claim("he-eq5-init").read
    held = read(ratios(1e-40))
    assert held.held is True and "plain 1e-40" in held.value
    assert read(ratios(0.5)).held is False
    with pytest.raises(_record._Missing):
        _claim("he-eq5-trained").read(ratios(1e-40))  # no "trained" state in this report


def _tabular_report(resfgb: list[float]) -> dict:
    rows = []
    for dataset, lgbm, resnet in (("a", [0.9, 0.91, 0.92], [0.85, 0.86, 0.84]),
                                  ("b", [0.7, 0.72, 0.71], [0.75, 0.74, 0.76])):  # fmt: skip
        for seed in range(3):
            rows += [
                {"dataset": dataset, "model": "LightGBM", "seed": seed, "test_score": lgbm[seed]},
                {"dataset": dataset, "model": "ResNet", "seed": seed, "test_score": resnet[seed]},
                {
                    "dataset": dataset,
                    "model": "ResFGB",
                    "seed": seed,
                    "test_score": lgbm[seed] + resfgb[seed],
                },
            ]
    tuning = {"n_trials": 6, "validation_fraction": 0.2}
    return {"metrics": {"per_seed": rows, "tuning": tuning}}


def test_tabular_rules_are_paired_over_seeds():
    beats = _claim("resfgb-vs-lightgbm").read(_tabular_report([0.01, 0.0, 0.02]))
    assert beats.held is True and "2 of 2 tables" in beats.value
    behind = _claim("resfgb-vs-lightgbm").read(_tabular_report([-0.05, -0.04, -0.06]))
    assert behind.held is False and "0 of 2" in behind.value
    trees = _claim("grinsztajn-trees").read(_tabular_report([0.0, 0.0, 0.0]))
    # LightGBM ahead on a, the ResNet on b: one of two is not more than half
    assert trees.held is False and "1 of 2 tables" in trees.value
    assert "6 random-search trials" in trees.detail


def test_empty_record_leaves_every_claim_open_and_names_the_missing_runs(tmp_path):
    results = _record.evaluate(tmp_path)
    assert [c.id for c, _, _ in results] == [c.id for c in _record.CLAIMS]
    assert all(outcome is None and why.startswith("missing") for _, outcome, why in results)
    assert sorted(_record.missing_runs(tmp_path)) == sorted(f"{s}/paper" for s in STUDIES)
    note = _record.claims_note(tmp_path)
    assert "0 of 17 claims held, 17 open" in note and "`lesion/paper`" in note
    assert "have not been run yet" in _record.readme_block(tmp_path)


def _write_run(root: Path, study: str, report: dict, figure: str) -> None:
    run = root / study / "paper"
    run.mkdir(parents=True)
    (run / figure).write_bytes(b"png")
    full = {"study": study, "started": "2026-01-01T00:00:00Z", "wall_time_s": 1.0, **report}
    full.setdefault("config", {"name": "paper", "seeds": [0, 1]})
    full |= {"table": [], "figures": [figure]}
    (run / "report.json").write_text(json.dumps(full))
    (run / "DONE").write_text("2026-01-01T00:00:00Z\n")


def test_a_finished_run_fills_its_claims_in_the_note_readme_and_results_page(tmp_path):
    sys.path.insert(0, str(ROOT / "docs"))
    try:
        hooks = importlib.import_module("_hooks")
    finally:
        sys.path.remove(str(ROOT / "docs"))
    _write_run(tmp_path, "lesion", _lesion_report([0.11, 0.12]), "lesion.png")
    note = _record.claims_note(tmp_path)
    assert "2 of 17 claims held" in note and "[lesion.png](lesion/paper/lesion.png)" in note
    assert "`lesion/paper`" not in note.split("## The rules")[0].split("|")[0]
    block = _record.readme_block(tmp_path)
    assert "| held |" in block and "docs/results/lesion/paper/lesion.png" in block
    page = hooks.results_page(None, [], record=tmp_path)
    assert "## Claims" in page and "2 of 17 claims held" in page
    assert "(results/lesion/paper/lesion.png)" in page and "Runs still missing" in page
    assert "have not been run yet" in hooks.results_page(None, [], record=tmp_path / "none")


def test_readme_block_is_the_one_generated_from_docs_results():
    text = (ROOT / "README.md").read_text()
    start, end = text.index(_record.README_START), text.index(_record.README_END)
    found = text[start : end + len(_record.README_END)]
    assert found == _record.readme_block(ROOT / "docs" / "results"), (
        "README's results block is stale: run python -m experiments._record --readme README.md"
    )


def test_update_readme_rewrites_only_its_block(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"before\n{_record.README_START}\nold\n{_record.README_END}\nafter\n")
    assert _record.update_readme(readme, tmp_path / "record") is True
    text = readme.read_text()
    assert text.startswith("before\n") and text.endswith("\nafter\n") and "old" not in text
    assert _record.update_readme(readme, tmp_path / "record") is False  # nothing changed
    (tmp_path / "plain.md").write_text("no block\n")
    with pytest.raises(ValueError, match="no results block"):
        _record.update_readme(tmp_path / "plain.md", tmp_path)


def test_every_study_has_a_paper_size_of_five_seeds():
    for study in STUDIES:
        sizes = importlib.import_module(f"experiments.{study}").SIZES
        assert sizes["paper"].name == "paper" and len(sizes["paper"].seeds) == 5, study
        assert {"smoke", "quick", "full"} <= set(sizes), study
    claimed = {c.study for c in _record.CLAIMS}
    assert claimed == set(STUDIES)


# A fake study (module level: the runner imports seed parts by name) whose second seed fails
# the first time: the rerun must take seed 0's kept part and compute only seed 1.
CALLS: list[int] = []
FAIL_ONCE: set[int] = set()


def _fake_part(config: StudyConfig, seed: int) -> dict:
    CALLS.append(seed)
    if seed in FAIL_ONCE:
        FAIL_ONCE.discard(seed)
        raise KeyboardInterrupt  # an interruption, as Ctrl-C or a killed worker
    return {"seed": seed, "value": seed * 10}


def _fake_combine(config: StudyConfig, parts: dict, output: Path) -> dict:
    (output / "values.csv").write_text(
        "seed,value\n" + "".join(f"{s},{parts[s]['value']}\n" for s in config.seeds)
    )
    return {"metrics": {"values": [parts[s]["value"] for s in config.seeds]}, "table": []}


def test_an_interrupted_paper_run_resumes_from_its_finished_seeds(tmp_path):
    config = StudyConfig(name="paper", seeds=(0, 1, 2))
    main = BySeed(_fake_part, _fake_combine)
    CALLS.clear()
    FAIL_ONCE.add(1)
    with pytest.raises(KeyboardInterrupt):
        run_study("fake", config, main, output=tmp_path)
    assert CALLS == [0, 1] and not (tmp_path / "fake" / "paper").exists()
    result = run_study("fake", config, main, output=tmp_path)
    assert CALLS == [0, 1, 1, 2]  # seed 0 was kept, not redone
    assert result.report["metrics"]["values"] == [0, 10, 20]
    assert run_study("fake", config, main, output=tmp_path).skipped and CALLS == [0, 1, 1, 2]
