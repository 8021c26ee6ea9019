"""Every figure in the tables of ``docs/performance.md`` is the one in ``bench/results/``.

The page is written by hand from the benchmarks' JSON; these tests read both and fail when a
benchmark is rerun without the page following it (or the page is edited without a run). The
harness's run history (``<name>_runs.json``) is tested on a temporary directory.
"""

from __future__ import annotations

import json
import re

import pytest
from _doc_pages import RESULTS, Page, fmt, result, span
from _doc_pages import runs as run_history

from bench._harness import write_report

PAGE = Page("docs/performance.md")


# -- neural training against skorch -------------------------------------------------------------
RESNET_ROWS = {
    "`ResNetRegressor.fit` throughput / skorch `NeuralNet` on the same module": (
        "fit_throughput_vs_skorch"
    ),
    "the same, skorch also given the fused AdamW": "fit_throughput_vs_skorch_fused_adamw",
    "`ResNetRegressor.fit` throughput / a minimal hand-written loop": (
        "fit_throughput_vs_minimal_loop"
    ),
    "the same, the minimal loop also given the fused AdamW": (
        "fit_throughput_vs_minimal_loop_fused_adamw"
    ),
    "the same, with a validation pass every epoch": (
        "fit_with_validation_throughput_vs_minimal_loop"
    ),
    "fused AdamW / AdamW's default implementation, minimal loop": (
        "fused_adamw_throughput_gain_minimal_loop"
    ),
    "`fboost.nn.Dropout` / `torch.nn.Dropout`, minimal loop": (
        "fboost_dropout_throughput_gain_minimal_loop"
    ),
    "CNN `ResNetClassifier.fit` throughput / the minimal loop": (
        "cnn_fit_throughput_vs_minimal_loop"
    ),
    "achieved training GFLOP/s / torch's 2048x2048 matmul GFLOP/s": (
        "training_gflops_vs_matmul_peak"
    ),
    "achieved training GFLOP/s / a matmul of the layers' shape": (
        "training_gflops_vs_layer_matmul"
    ),
    "`torch.compile` throughput / eager, after its compile": "torch_compile_throughput_vs_eager",
}


def test_resnet_table_is_the_latest_run_and_the_spread_of_all_runs():
    latest = result("resnet")["ratios"]
    runs = run_history("resnet")
    table = PAGE.table(RESNET)
    header = table.pop("ratio")
    assert header[:2] == ["latest run", f"range over {len(runs)} runs"]
    assert set(table) == set(RESNET_ROWS)
    for label, key in RESNET_ROWS.items():
        values = [run["ratios"][key] for run in runs if key in run["ratios"]]
        latest_cell, range_cell = table[label][:2]
        assert latest_cell == fmt(latest[key]), label
        expected = f"{fmt(min(values))}–{fmt(max(values))}"
        if len(values) < len(runs):
            expected += f" ({len(values)} runs)"
        assert range_cell == expected, label
        target = result("resnet")["targets"].get(key)
        assert table[label][2] == ("" if target is None else f">= {target}"), label


RESNET = "Neural training against skorch and a minimal loop"
BOOL_MASK_COMMITS = {"517b69d", "0213ee4"}  # fboost.nn.Dropout before its mask took x's dtype


def test_resnet_prose_is_every_run():
    runs, text = run_history("resnet"), PAGE.prose(RESNET)
    assert f"the range below is over {len(runs)} runs" in text
    # "the first run was on a machine about twice as fast at small tensor operations, though
    # not at large matmuls"
    rest = sorted(r["samples_per_s"]["resnet_fit"] for r in runs[1:])
    assert 1.7 < runs[0]["samples_per_s"]["resnet_fit"] / rest[len(rest) // 2] < 2.3
    peaks = sorted(r["gflops"]["torch_matmul_2048"] for r in runs[1:])
    assert runs[0]["gflops"]["torch_matmul_2048"] / peaks[len(peaks) // 2] < 1.2
    assert "the first run was on a machine about twice as fast at small tensor operations" in text

    def ratios(key: str) -> list[float]:
        return [r["ratios"][key] for r in runs if key in r["ratios"]]

    assert min(ratios("fit_throughput_vs_skorch")) > 1.0
    assert min(ratios("fit_throughput_vs_minimal_loop")) > 1.0
    assert "ahead of skorch and of the plain minimal loop in every run" in text
    layer = [
        r["gflops"]["torch_matmul_layer_shape"] / r["gflops"]["torch_matmul_2048"] for r in runs
    ]
    assert f"alone runs at {min(layer):.2f} to {max(layer):.2f} of the 2048x2048 peak" in text

    compiled = [r["torch_compile"] for r in runs]
    speed = [c["compiled_over_eager_throughput"] for c in compiled]
    cold = [
        c["compiled_first_step_s"]
        for r, c in zip(runs, compiled, strict=True)
        if "cold" in r.get("note", "")
    ]
    warm = [
        c["compiled_first_step_s"]
        for r, c in zip(runs, compiled, strict=True)
        if "cold" not in r.get("note", "")
    ]
    repay = [c["epochs_to_repay_compile"] for c in compiled if c["epochs_to_repay_compile"]]
    assert min(speed) < 1.0 < max(speed)
    assert (
        f"its throughput was {min(speed):.2f} to {max(speed):.2f} times the eager throughput "
        f"across the runs, its first step took {min(warm):.1f} to {max(warm):.1f} s "
        f"({cold[0]:.1f} s with the inductor's cache cold), and where it was faster it repaid "
        f"its compile only after {min(repay):.0f} to {max(repay):.0f} epochs"
    ) in text

    key = "fboost_dropout_throughput_gain_minimal_loop"
    boolean = [r["ratios"][key] for r in runs if r["commit"] in BOOL_MASK_COMMITS]
    typed = [
        r["ratios"][key]
        for r in runs
        if key in r["ratios"] and r["commit"] not in BOOL_MASK_COMMITS
    ]
    assert (
        f"{span(boolean)} with a boolean mask ({len(boolean)} runs), "
        f"{span(typed)} with the mask in the input's dtype "
        f"({len(typed)} runs)"
    ) in text


def test_batch_size_prose_is_the_latest_run():
    report, text = result("resnet"), PAGE.prose(RESNET)
    sizes = report["batch_sizes"]
    small, large = sizes["256"], sizes["1024"]
    speedup = large["samples_per_s"] / small["samples_per_s"]
    assert (
        f"four times the default batch (1,024 rows) gave {speedup:.2f} "
        f"times the wall throughput of 256 on the 20,000 rows, and a test R² of "
        f"{large['test_r2']:.3f} against {small['test_r2']:.3f} after {small['epochs']} epochs"
    ) in text
    mnist = report["batch_sizes_at_defaults"]
    a, b = mnist["256"], mnist["1024"]
    time_ratio = b["fit_wall_s_median"] / a["fit_wall_s_median"]
    assert b["test_accuracy_mean"] < a["test_accuracy_mean"]
    assert (
        f"reached {b['test_accuracy_mean']:.3f} ± {b['test_accuracy_std']:.3f} test accuracy at "
        f"batches of 1,024 against {a['test_accuracy_mean']:.3f} ± {a['test_accuracy_std']:.3f} "
        f"at 256 ({mnist['seeds']} seeds), in {time_ratio:.2f} "
        f"of the time"
    ) in text


def test_default_cnn_sentence_is_the_latest_run():
    cnn = result("resnet")["cnn_default"]
    text = PAGE.prose(RESNET)
    assert (
        f"reached {cnn['test_accuracy']:.3f} test accuracy" in text
        and f"in {cnn['fit_wall_s']:.0f} s of wall time" in text
    )
    runs = run_history("resnet")
    walls = [r["ratios"]["cnn_default_fit_wall_s"] for r in runs]
    accs = [r["ratios"]["cnn_default_test_accuracy"] for r in runs]
    cnn_span = f"{min(accs):.3f} to {max(accs):.3f} in {min(walls):.0f} to {max(walls):.0f} s"
    assert f"{cnn_span} over the {len(runs)} runs" in text
    # the estimator's docstring states the same span
    from fboost import ResNetClassifier

    doc = " ".join(ResNetClassifier.__doc__.split())
    assert f"reached test accuracy {cnn_span} on 2 cores over {len(runs)} runs" in doc


# -- torchensemble ------------------------------------------------------------------------------
METHODS = ["torchensemble", "fboost_stagewise", "fboost_corrective"]


def test_torchensemble_table_and_speedups():
    cases = result("torchensemble")["cases"]
    table = PAGE.table("Boosting with cached stages: NeuralBoosting against torchensemble")
    labels = {"regression": "regression (friedman1", "classification": "classification (digits"}
    for task, prefix in labels.items():
        (row,) = [cells for label, cells in table.items() if label.startswith(prefix)]
        for cell, method in zip(row, METHODS, strict=True):
            got = cases[task][method]
            assert cell == f"{got['fit_s']:.1f} s, {got['test_score']:.3f}", (task, method)
    speedups = [
        cases[t]["torchensemble"]["fit_s"] / cases[t]["fboost_stagewise"]["fit_s"] for t in labels
    ]
    text = PAGE.prose("Boosting with cached stages: NeuralBoosting against torchensemble")
    assert f"{speedups[0]:.1f} and {speedups[1]:.1f} times faster" in text


# -- defaults -----------------------------------------------------------------------------------
DEFAULT_ROWS = {
    '`ResNetClassifier(architecture="cnn")`, digits28': "ResNet cnn digits28 (reference)",
    '`BoostResNetClassifier(architecture="cnn")`, digits28': "BoostResNet cnn digits28",
    "`BoostResNetClassifier()`, mnist1d": "BoostResNet mlp mnist1d",
    "`BoostResNetClassifier()`, digits": "BoostResNet mlp digits",
    "`NeuralBoostingClassifier()`, mnist1d": "NeuralBoosting mnist1d",
    "`NeuralBoostingClassifier()`, digits": "NeuralBoosting digits",
}


def test_defaults_table():
    defaults = result("defaults")["defaults"]
    table = PAGE.table("Defaults on a CPU")
    table.pop("estimator, data set (training rows)")
    assert len(table) == len(DEFAULT_ROWS)
    for label, cells in table.items():
        name, rows = re.fullmatch(r"(.*) \(([\d,]+)\)", label).groups()
        got = defaults[DEFAULT_ROWS[name]]
        assert int(rows.replace(",", "")) == got["n_train"], label
        assert cells == [f"{got['fit_cpu_s']:.1f} s", f"{got['test_accuracy']:.3f}"], label


def test_defaults_prose():
    report, text = result("defaults"), PAGE.prose("Defaults on a CPU")
    assert all(r["fit_cpu_s"] < 180.0 for r in report["defaults"].values())
    assert "every default fits in under 3 minutes of one thread" in text
    alt = report["alternatives"]
    nb_m, nb_d = (
        alt["NeuralBoosting d_hidden=128 mnist1d"],
        alt["NeuralBoosting d_hidden=128 digits"],
    )
    br_m, br_d = alt["BoostResNet d_block=256 mnist1d"], alt["BoostResNet d_block=256 digits"]
    assert (
        f"(`d_hidden=128`) reached {nb_m['test_accuracy']:.3f} on MNIST-1D and "
        f"{nb_d['test_accuracy']:.3f} on digits, in {nb_m['fit_cpu_s']:.1f} s and "
        f"{nb_d['fit_cpu_s']:.1f} s; BoostResNet with blocks 256 wide (`d_block=256`) reached "
        f"{br_m['test_accuracy']:.3f} and {br_d['test_accuracy']:.3f}, in "
        f"{br_m['fit_cpu_s']:.1f} s and {br_d['fit_cpu_s']:.1f} s. Neither closes the gap to 0.68"
    ) in text
    assert max(nb_m["test_accuracy"], br_m["test_accuracy"]) < 0.68
    assert nb_m["params"]["d_hidden"] == 128 and br_m["params"]["d_block"] == 256


# -- scaling ------------------------------------------------------------------------------------
SCALING_ROWS = {
    "ResNet": "ResNet",
    "BoostResNet": "BoostResNet",
    "NeuralBoosting, stagewise": "NeuralBoosting (stagewise)",
    "NeuralBoosting, corrective step": "NeuralBoosting (corrective)",
    "TreeBoosting (LightGBM)": "TreeBoosting (lightgbm)",
    "TreeBoosting (scikit-learn)": "TreeBoosting (sklearn)",
}


def test_scaling_table():
    families = result("scaling")["families"]
    table = PAGE.table("How the cost grows")
    table.pop("estimator")
    assert set(table) == set(SCALING_ROWS)
    for label, family in SCALING_ROWS.items():
        got = families[family]
        assert table[label] == [fmt(got["rows_exponent"]), fmt(got["stages_exponent"])], label


# -- memory -------------------------------------------------------------------------------------
MEMORY_ROWS = {
    "20,000 rows, batches of 1,024": "minibatch",
    "4,096 rows, full batches": "full_batch",
    "16,384 rows, full batches": "large_full_batch",
}


def test_memory_table():
    report = result("memory")
    by_label = PAGE.rows("Memory of stagewise training")
    checked = 0
    for i, row in enumerate(by_label):
        setting = MEMORY_ROWS.get(row[0])
        if setting is None:
            continue
        entries = _mmap_entries(report, setting)
        assert [e["n_stages"] for e in entries] == [4, 8, 16]
        n, batch = re.match(r"([\d,]+) rows", row[0]).group(1), entries[0]["batch_size"]
        assert int(n.replace(",", "")) == entries[0]["n"]
        assert ("full batches" in row[0]) == (batch == entries[0]["n"])
        for cell, e in zip(row[1:4], entries, strict=True):
            ratio, ours, theirs = re.fullmatch(
                r"([\d.]+) \(([\d,]+) / ([\d,]+)(?: MiB)?\)", cell
            ).groups()
            assert ratio == fmt(e["memory_ratio"]), (setting, e["n_stages"])
            assert int(ours.replace(",", "")) == round(e["boostresnet_peak_mib"])
            assert int(theirs.replace(",", "")) == round(e["resnet_peak_mib"])
        per_block = report["peak_mib_per_block"][f"{setting}_mmap_above_128k"]
        assert row[4] == (
            f"{per_block['boostresnet']:.2f} / {per_block['resnet']:.1f} MiB = "
            f"{per_block['boostresnet'] / per_block['resnet']:.2f}"
        )
        model = by_label[i + 1]
        assert model[0] == "the paper's model" or model[0].startswith("the paper's model,")
        assert model[1:4] == [fmt(e["paper_model_ratio"]) for e in entries]
        checked += 1
    assert checked == len(MEMORY_ROWS)


def _mmap_entries(report: dict, setting: str) -> list[dict]:
    entries = [
        e
        for e in report["memory"]
        if e["setting"] == setting and e["allocator"] == "mmap_above_128k"
    ]
    return sorted(entries, key=lambda e: e["n_stages"])


def test_memory_prose():
    report = result("memory")
    ratios, text = report["ratios"], PAGE.prose("Memory of stagewise training")
    for setting in MEMORY_ROWS.values():
        default = " / ".join(
            fmt(ratios[f"memory_boostresnet_over_resnet_{setting}_glibc_default_T{t}"])
            for t in (4, 8, 16)
        )
        assert default in text, setting
    m = {s: _mmap_entries(report, s)[0] for s in MEMORY_ROWS.values()}
    assert (
        f"4,096 rows: M1 = {m['full_batch']['resnet_m1_mib']:.1f} MiB, "
        f"M2 = {m['full_batch']['resnet_m2_mib']:.1f} MiB; 16,384 rows: "
        f"{m['large_full_batch']['resnet_m1_mib']:.1f} and "
        f"{m['large_full_batch']['resnet_m2_mib']:.1f} MiB; batches of 1,024: "
        f"{m['minibatch']['resnet_m1_mib']:.1f} and {m['minibatch']['resnet_m2_mib']:.1f} MiB"
    ) in text

    def over_model(setting: str) -> list[float]:
        key = f"memory_ratio_over_paper_model_{setting}_mmap_above_128k_T"
        return [ratios[f"{key}{t}"] for t in (4, 8, 16)]

    large, full, mini = (over_model(s) for s in ("large_full_batch", "full_batch", "minibatch"))
    assert "at 16,384 rows its peaks are {}, {} and {} times".format(*map(fmt, large)) in text
    assert f"at 4,096 rows {fmt(min(full))} to {fmt(max(full))} times" in text
    assert f"With minibatches it is {min(mini):.1f} to {max(mini):.1f} times the model" in text
    tta = report["time_to_accuracy"]
    staged = tta["boostresnet_staged_test_accuracy"]
    assert tta["first_stage_reaching_resnet"] is None and max(staged) < tta["resnet_test_accuracy"]
    assert (
        f"the end-to-end ResNet reached {tta['resnet_test_accuracy']:.3f} test accuracy; "
        f"BoostResNet's best stage reached {max(staged):.3f} (early stopping kept "
        f"{len(staged)} stages), so it never reaches"
    ) in text


# -- the harness's history ----------------------------------------------------------------------
def test_write_report_appends_each_run_to_the_history(tmp_path, capsys):
    for value in (1.5, 2.5):
        write_report(
            "toy", {"ratios": {"speedup": value}, "targets": {"speedup": 2.0}}, results=tmp_path
        )
    assert json.loads((tmp_path / "toy.json").read_text())["ratios"] == {"speedup": 2.5}
    runs = json.loads((tmp_path / "toy_runs.json").read_text())["runs"]
    assert [r["ratios"]["speedup"] for r in runs] == [1.5, 2.5]
    assert all({"date", "commit", "environment"} <= set(r) for r in runs)
    assert "toy: speedup = 2.500  (target 2.0)" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["toy.json", "toy_runs.json"]


@pytest.mark.parametrize(
    "name", sorted(p.stem[: -len("_runs")] for p in RESULTS.glob("*_runs.json"))
)
def test_each_history_ends_with_the_latest_report(name):
    """A history and its latest report agree, so the page's ranges include what it calls latest."""
    runs = run_history(name)
    assert runs and all(r["ratios"] and {"date", "commit"} <= set(r) for r in runs)
    dates = [r["date"] for r in runs]
    assert dates == sorted(dates)
    last = {k: v for k, v in runs[-1].items() if k not in ("date", "commit", "note")}
    assert last == result(name)


def test_channels_last_sentence():
    ratios, text = result("layout")["ratios"], PAGE.prose(RESNET)
    assert (
        f"took {fmt(ratios['channels_last_time_vs_nchw_wide_cnn'])} of the NCHW time for 64 "
        f"channels at 28x28, but {fmt(ratios['channels_last_time_vs_nchw_default_cnn'])} for the "
        "estimators' default CNN"
    ) in text
    assert ratios["channels_last_time_vs_nchw_default_cnn"] > 1.0  # why NCHW stays the default
