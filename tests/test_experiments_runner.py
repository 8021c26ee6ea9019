"""The experiment runner never loses, mixes or silently overwrites finished results."""

from __future__ import annotations

import dataclasses
import errno
import json

import pytest

from experiments import _runner
from experiments._runner import StudyConfig, run_study
from experiments._summary import write_summary


@dataclasses.dataclass(frozen=True)
class ToyConfig(StudyConfig):
    value: float = 1.0


def toy_main(config, output):
    (output / "scores.csv").write_text(
        "seed,score\n" + "".join(f"{s},{config.value}\n" for s in config.seeds)
    )
    (output / "figure.png").write_bytes(b"\x89PNG fake")
    return {
        "metrics": {"score": config.value},
        "table": [{"model": "toy", "score": config.value}],
        "figures": ["figure.png"],
    }


def test_run_writes_report_and_skips_when_finished(tmp_path):
    config = ToyConfig(name="quick", seeds=(0, 1))
    first = run_study("toy", config, toy_main, output=tmp_path)
    assert not first.skipped
    assert (first.path / "DONE").exists()
    report = json.loads((first.path / "report.json").read_text())
    assert report["config"] == {"name": "quick", "seeds": [0, 1], "value": 1.0}
    assert report["metrics"] == {"score": 1.0}
    assert "lightgbm" in report["environment"]

    def must_not_run(config, output):
        raise AssertionError("a finished run was redone")

    second = run_study("toy", config, must_not_run, output=tmp_path)
    assert second.skipped and second.report == report


def test_changed_config_is_never_overwritten_silently(tmp_path):
    run_study("toy", ToyConfig(name="quick"), toy_main, output=tmp_path)
    with pytest.raises(FileExistsError, match="different config.*force"):
        run_study("toy", ToyConfig(name="quick", value=2.0), toy_main, output=tmp_path)
    forced = run_study(
        "toy", ToyConfig(name="quick", value=2.0), toy_main, output=tmp_path, force=True
    )
    assert forced.report["metrics"] == {"score": 2.0}


def test_interrupted_run_leaves_nothing_and_is_redone(tmp_path):
    def interrupted(config, output):
        (output / "scores.csv").write_text("half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_study("toy", ToyConfig(name="quick"), interrupted, output=tmp_path)
    assert not (tmp_path / "toy" / "quick").exists()
    assert not list((tmp_path / "toy").glob(".*"))
    # a hard kill leaves its temporary folder behind: the next run removes it and redoes the work
    (tmp_path / "toy" / ".quick.abc.partial").mkdir()
    result = run_study("toy", ToyConfig(name="quick"), toy_main, output=tmp_path)
    assert not result.skipped
    assert sorted(p.name for p in (tmp_path / "toy").iterdir()) == ["quick"]
    assert (result.path / "scores.csv").read_text().startswith("seed,score")


def test_full_disk_leaves_no_half_written_report(tmp_path, monkeypatch):
    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(_runner.json, "dump", no_space)
    with pytest.raises(OSError, match="No space left"):
        run_study("toy", ToyConfig(name="quick"), toy_main, output=tmp_path)
    assert not (tmp_path / "toy" / "quick").exists()
    assert not list((tmp_path / "toy").rglob("*report*"))


def test_unwritable_output_fails_clearly(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(OSError, match="cannot create the output folder"):
        run_study("toy", ToyConfig(name="quick"), toy_main, output=blocker)


def test_missing_figure_is_an_error(tmp_path):
    def liar(config, output):
        return {"figures": ["never_written.png"]}

    with pytest.raises(RuntimeError, match="never_written.png"):
        run_study("toy", ToyConfig(name="quick"), liar, output=tmp_path)


def test_summary_lists_every_finished_study(tmp_path):
    run_study("toy", ToyConfig(name="quick"), toy_main, output=tmp_path)
    run_study("other", ToyConfig(name="smoke", value=3.0), toy_main, output=tmp_path)
    text = write_summary(tmp_path).read_text()
    assert "## toy" in text and "## other" in text
    assert "| model | score |" in text and "| toy | 3 |" in text
    assert "![figure.png](toy/quick/figure.png)" in text


def test_verbose_is_not_part_of_the_run_identity(tmp_path):
    run_study("toy", ToyConfig(name="quick"), toy_main, output=tmp_path)
    again = run_study("toy", ToyConfig(name="quick", verbose=True), toy_main, output=tmp_path)
    assert again.skipped
    assert "verbose" not in again.report["config"]
