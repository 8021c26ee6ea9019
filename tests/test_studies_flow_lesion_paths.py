"""The studies of issue 6 (gradient_flow, lesion, paths) at their smoke size, through the runner.

Each study: an interrupted run leaves nothing behind, a clean run writes its report, CSV files and
figures, a second run is skipped, and the numbers say what the study is about (a plain network's
gradient vanishes while a residual one's stays in band; a plain network collapses under lesions
more than a ResNet; the gradient of a ResNet comes from paths shorter than the typical one).
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from experiments import gradient_flow, lesion, paths
from experiments._runner import run_study

sys.path.insert(0, str(Path(__file__).parent))
from _claims_check import assert_claims_read  # noqa: E402

STUDIES = {
    "gradient_flow": (gradient_flow, ["block_gradients.csv", "ratios.csv"]),
    "lesion": (lesion, ["lesion.csv"]),
    "paths": (paths, ["path_distribution.csv", "gradient_by_path_length.csv", "summary.csv"]),
}


def _no_nan(text: str) -> dict:
    """Parse strict JSON: NaN or Infinity in a report is an error."""

    def refuse(constant: str) -> None:
        raise ValueError(f"report.json holds {constant}")

    return json.loads(text, parse_constant=refuse)


def _interrupt_after_first_figure(module, monkeypatch) -> None:
    """Write the first figure for real, then raise KeyboardInterrupt (CSV files already there)."""
    real = module.save_figure

    def save_then_interrupt(figure, output, name, **kwargs):
        real(figure, output, name, **kwargs)
        assert list(Path(output).glob("*.csv")), "the interruption should come after the CSVs"
        raise KeyboardInterrupt

    monkeypatch.setattr(module, "save_figure", save_then_interrupt)


@pytest.mark.parametrize("study", sorted(STUDIES))
def test_smoke_run_through_the_runner(study, tmp_path, monkeypatch):
    """Interrupted, then clean, then skipped; the files and the numbers are what they should be."""
    module, csv_files = STUDIES[study]
    config = module.SIZES["smoke"]

    with monkeypatch.context() as patch:
        _interrupt_after_first_figure(module, patch)
        with pytest.raises(KeyboardInterrupt):
            # one seed is enough to be interrupted; that config never finishes, so no clash
            short = dataclasses.replace(config, seeds=config.seeds[:1])
            run_study(study, short, module.main, output=tmp_path)
    assert list((tmp_path / study).iterdir()) == [], "an interrupted run left files behind"

    result = run_study(study, config, module.main, output=tmp_path)
    assert not result.skipped

    def must_not_run(config, output):
        raise AssertionError("a finished run was redone")

    again = run_study(study, config, must_not_run, output=tmp_path)
    assert again.skipped and again.report == result.report

    _check_files(result.path, csv_files)
    check = {"gradient_flow": _check_gradient_flow, "lesion": _check_lesion, "paths": _check_paths}
    check[study](result.path, result.report["metrics"])
    assert_claims_read(study, result.report)


def _check_files(path: Path, csv_files: list[str]) -> None:
    assert sorted(p.name for p in path.parent.iterdir()) == ["smoke"]
    assert (path / "DONE").exists()
    report = _no_nan((path / "report.json").read_text())
    assert report["config"]["seeds"] == [0, 1]
    assert report["table"] and report["figures"]
    for name in csv_files:
        assert len(pd.read_csv(path / name)) > 0
    for name in report["figures"]:
        data = (path / name).read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) > 10_000
    assert not list(path.glob(".*")), "temporary files left in the run folder"


def _check_gradient_flow(path: Path, metrics: dict) -> None:
    ratios = pd.read_csv(path / "ratios.csv")
    deepest = ratios["depth"].max()
    # without skips or BatchNorm the gradient vanishes: 16 blocks lose many orders of magnitude
    plain = ratios[(ratios["network"] == "plain") & ~ratios["batch_norm"]]
    assert (plain.loc[plain["depth"] == deepest, "ratio"] < 1e-4).all()
    # with skips it stays within a small factor of the last block's gradient, at every depth
    residual = ratios[ratios["network"] == "residual"]
    assert residual["ratio"].between(0.2, 5.0).all()
    assert set(ratios["state"]) == {"init", "trained"}
    per_seed = metrics["ratio_first_last"]["plain"]["init"][str(deepest)]
    assert len(per_seed) == 2 and max(per_seed) < 1e-4
    blocks = pd.read_csv(path / "block_gradients.csv")
    sizes = blocks.groupby(["seed", "network", "batch_norm", "n_stages", "state"]).size()
    assert (sizes == sizes.index.get_level_values("n_stages") + 1).all()  # z_0 .. z_T


def _check_lesion(path: Path, metrics: dict) -> None:
    intact = {m: np.mean(v) for m, v in metrics["intact"].items()}
    single = {m: np.mean(v) for m, v in metrics["single_mean"].items()}
    drop = {m: intact[m] - single[m] for m in intact}
    assert drop["plain net"] > drop["ResNet"] + 0.1  # the plain net collapses, the ResNet does not
    assert single["ResNet"] > 0.75 * intact["ResNet"]
    frame = pd.read_csv(path / "lesion.csv")
    config = lesion.SIZES["smoke"]
    expected = (
        1
        + config.n_stages
        + sum(min(config.n_repeats, _comb(config.n_stages, k)) for k in config.ks)
    )
    sizes = frame.groupby(["seed", "model"]).size()
    assert (sizes.drop(lesion.SHALLOW, level="model") == expected).all()
    # the VGG-depth plain net: plain_depth blocks, single-block lesions only (k = 1)
    depth = config.plain_depth
    assert (
        sizes.xs(lesion.SHALLOW, level="model") == 1 + depth + min(config.n_repeats, depth)
    ).all()
    shallow = frame[frame["model"] == lesion.SHALLOW]
    assert set(shallow["k"]) == {0, 1} and shallow["stage"].max() == depth
    assert set(frame["model"]) == set(lesion.MODELS)
    # the networks again, BatchNorm re-estimated after each removal
    again = pd.read_csv(path / "lesion_recalibrated.csv")
    assert set(again["model"]) == set(lesion.NETWORKS) and again["recalibrated"].all()
    assert (again.groupby(["seed", "model"]).size() == expected).all()
    assert set(metrics["recalibrated"]["intact"]) == set(lesion.NETWORKS)
    # reordering: k = 0 is the intact network, every k > 0 has n_repeats draws
    reorder = pd.read_csv(path / "reorder.csv")
    sizes = reorder.groupby(["seed", "model", "k"]).size()
    assert (sizes.xs(0, level="k") == 1).all() and (sizes.drop(0, level="k") == 3).all()
    intact_rows = frame[frame["kind"] == "none"].set_index(["seed", "model"])["score"]
    k0 = reorder[reorder["k"] == 0].set_index(["seed", "model"])["score"]
    np.testing.assert_allclose(k0.sort_index(), intact_rows.loc[k0.index].sort_index())
    # depth sweep: one alpha per block of every learned ResNet, a score per network
    sweep = pd.read_csv(path / "stage_weights.csv")
    alphas = sweep[sweep["stage"].notna()]
    assert len(alphas) == config.sweep_seeds * sum(config.sweep_depths)
    assert (alphas["alpha"].abs() > 0).all()  # trained away from the ReZero init
    scores = sweep[sweep["variant"].notna()]
    assert len(scores) == config.sweep_seeds * len(config.sweep_depths) * len(lesion.SWEEP)
    assert set(metrics["depth_sweep"]["score"]) == {v for v, _, _ in lesion.SWEEP}


def _comb(n: int, k: int) -> int:
    from math import comb

    return comb(n, k)


def _check_paths(path: Path, metrics: dict) -> None:
    distribution = pd.read_csv(path / "path_distribution.csv")
    n_blocks = paths.SIZES["smoke"].n_stages
    assert distribution["path_length"].tolist() == list(range(n_blocks + 1))
    assert distribution["path_fraction"].sum() == pytest.approx(1.0)
    assert metrics["path_fraction_sum"] == pytest.approx(1.0)
    gradients = pd.read_csv(path / "gradient_by_path_length.csv")
    shares = gradients.groupby(["seed", "state"])["total_fraction"].sum()
    np.testing.assert_allclose(shares, 1.0)
    summary = pd.read_csv(path / "summary.csv")
    assert (summary["effective_low"] <= summary["effective_high"]).all()
    # Veit et al.: the gradient comes from paths shorter than the typical path (length T/2)
    assert (summary["mean_length"] < n_blocks / 2).all()
    assert (summary["branch_factor"] < 1).all()
    assert len(metrics["trained"]["test_score"]) == 2


@pytest.mark.parametrize("study", sorted(STUDIES))
def test_deterministic_and_quiet_or_verbose_alike(study, tmp_path, capsys):
    """Same seeds, same files, whether or not the progress bar is shown."""
    module, csv_files = STUDIES[study]
    tiny = dataclasses.replace(module.SIZES["smoke"], seeds=(3,))
    if study == "gradient_flow":
        tiny = dataclasses.replace(tiny, depths=(3,))
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    quiet = module.main(tiny, first)
    assert capsys.readouterr().err == ""  # the library and the study print nothing
    verbose = module.main(dataclasses.replace(tiny, verbose=True), second)
    assert study in capsys.readouterr().err  # tqdm's bar, labelled with the study
    assert quiet["metrics"] == verbose["metrics"]
    for name in csv_files:
        assert (first / name).read_bytes() == (second / name).read_bytes()


def test_gradient_flow_reports_an_underflow_as_zero(tmp_path):
    """At 128 plain blocks the gradient underflows float32 to 0 (full size): the table says 0,
    the figure marks it, and the report stays strict JSON."""
    rows = [
        {
            "seed": seed,
            "network": network,
            "batch_norm": batch_norm,
            "depth": depth,
            "state": state,
            "ratio": 0.0 if (network, batch_norm, depth) == ("plain", False, 128) else 1.5,
            "test_score": 0.5,
        }
        for seed in (0, 1)
        for network, batch_norm in gradient_flow.NETWORKS
        for depth in (2, 128)
        for state in gradient_flow.STATES
    ]
    table = pd.DataFrame(rows)
    config = dataclasses.replace(gradient_flow.SIZES["smoke"], depths=(2, 128))
    summary = gradient_flow._table_rows(table, config)
    deepest_plain = [r for r in summary if r["network"] == "plain" and r["blocks"] == 128]
    assert deepest_plain[0]["ratio init (geo-mean)"] == 0.0
    assert "init ×/÷" not in deepest_plain[0]  # no spread for a vanished gradient, and no NaN
    _no_nan(json.dumps(summary))
    figure = gradient_flow.plot_ratio_vs_depth(table, config)
    labels = figure.axes[0].get_legend_handles_labels()[1]
    assert "underflow to 0 (float32)" in figure.axes[0].get_legend().texts[-1].get_text()
    assert "plain" in labels
