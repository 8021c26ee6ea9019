"""The measured figures on ``docs/cluster.md`` are the ones in ``bench/results/``.

The sweep (``python -m bench sweep``) and DDP (``python -m bench ddp``) paragraphs give the
latest run and an earlier one on a loaded machine; both are in the benchmarks' run histories.
"""

from __future__ import annotations

from _doc_pages import Page, fmt, result, runs

PAGE = Page("docs/cluster.md")


def _load_span(run: dict) -> str:
    loads = run["load_average_1min"].values()
    return f"load average {min(loads):.1f} to {max(loads):.1f}"


def test_sweep_paragraph():
    latest, history = result("sweep"), runs("sweep")
    earlier = history[0]
    text = PAGE.prose("Measured")
    ratios = latest["ratios"]
    assert latest["identical_results"] and earlier["identical_results"]
    assert (
        f"otherwise idle: {_load_span(latest)} during the run), the gradient-flow study's quick "
        f"sweep with 6 seeds took {ratios['workers_2_over_1']:.3f} times as long on two worker "
        f"processes as on one, and one worker {fmt(ratios['workers_1_over_serial'])} times as "
        "long as the serial sweep"
    ) in text
    assert (
        f"({_load_span(earlier)}), two workers took {fmt(earlier['ratios']['workers_2_over_1'])} "
        "times as long as one"
    ) in text
    assert ratios["workers_2_over_1"] <= 0.6 < earlier["ratios"]["workers_2_over_1"]


def test_ddp_paragraph():
    latest, history = result("ddp"), runs("ddp")
    earlier = history[0]
    text = PAGE.prose("What it buys", level=3)
    r, t = latest["ratios"], latest["throughput"]
    two_threads = [
        t[m]["rows_per_s"]["1x2"] / t[m]["rows_per_s"]["1x1"] for m in ("resnet", "boostresnet")
    ]
    assert (
        f"`ResNetRegressor` at {r['resnet_rows_per_s_2x1_over_1x1']:.3f} times the rows per "
        "second of one process with one thread "
        f"({fmt(r['resnet_rows_per_s_2x1_over_1x1_excluding_launch'])} without the "
        f"{t['launch_s']:.1f} s launch), and a `BoostResNetRegressor` at "
        f"{fmt(r['boostresnet_rows_per_s_2x1_over_1x1'])} "
        f"({fmt(r['boostresnet_rows_per_s_2x1_over_1x1_excluding_launch'])}); one process with "
        f"two threads was {fmt(two_threads[0])} and {fmt(two_threads[1])} times as fast"
    ) in text
    e = earlier["ratios"]
    assert (
        f"the ratios were {e['resnet_rows_per_s_2x1_over_1x1']:.3f} "
        f"({fmt(e['resnet_rows_per_s_2x1_over_1x1_excluding_launch'])} without a "
        f"{earlier['throughput']['launch_s']:.1f} s launch) and "
        f"{e['boostresnet_rows_per_s_2x1_over_1x1']:.3f} "
        f"({fmt(e['boostresnet_rows_per_s_2x1_over_1x1_excluding_launch'])})"
    ) in text
    names = {
        "ResNet": "resnet",
        "BoostResNet": "boostresnet",
        "ResFGB": "resfgb",
        "NeuralBoosting": "neural_boosting",
    }
    accuracy = latest["accuracy"]
    pairs = ", ".join(
        f"{label} {accuracy[key]['mean_1']:.3f} vs {accuracy[key]['mean_2']:.3f}"
        for label, key in names.items()
    )
    assert f"mean test accuracy with 1 vs 2 processes: {pairs}" in text
    stds = [accuracy[k][f"std_{n}"] for k in names.values() for n in (1, 2)]
    assert f"standard deviations {min(stds):.3f} to {max(stds):.3f}" in text
