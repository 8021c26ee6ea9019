"""The experiment runner never loses, mixes or silently overwrites finished results."""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from experiments import __main__ as cli
from experiments import _runner
from experiments._runner import StudyConfig, run_study
from experiments._summary import write_summary
from experiments._sweep import Job, run_sweep

sys.path.insert(0, str(Path(__file__).parent))
from _runner_child import ToyConfig as SeedToy  # noqa: E402
from _runner_child import toy_by_seed  # noqa: E402


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


def _seeds_log(log):
    return [line.split(" ", 1)[1] for line in log.read_text().splitlines()]


def test_a_failed_seed_is_reported_and_the_rerun_redoes_only_that_seed(tmp_path):
    log = tmp_path / "log"
    bad = SeedToy(name="bad", seeds=(0, 1, 2), log=str(log), fail_seed=1)
    good = SeedToy(name="good", log=str(log))
    failed, whole = run_sweep(
        [Job("toy", bad, toy_by_seed), Job("toy", good, toy_by_seed)], output=tmp_path
    )
    assert failed.result is None and "Traceback" in failed.error
    assert "ValueError: seed 1 fails on purpose" in failed.error
    assert whole.ok and not whole.result.skipped
    assert sorted(p.name for p in (tmp_path / "toy").iterdir()) == ["good"]
    log.write_text("")
    fixed = SeedToy(name="bad", seeds=(0, 1, 2), log=str(log))  # the same run (same identity)
    assert not run_study("toy", fixed, toy_by_seed, output=tmp_path).skipped
    assert _seeds_log(log) == ["seed bad 1", "seed bad 2", "combine bad"]  # seed 0 was kept
    assert not (tmp_path / ".seeds").exists()


def test_force_and_another_config_never_reuse_kept_seeds(tmp_path):
    log = tmp_path / "log"
    with pytest.raises(ValueError, match="fails on purpose"):
        run_study("toy", SeedToy(name="q", log=str(log), fail_seed=2), toy_by_seed,
                  output=tmp_path)  # fmt: skip
    assert len(list((tmp_path / ".seeds").rglob("*.pkl"))) == 2  # seeds 0 and 1 kept
    log.write_text("")
    other = run_study("toy", SeedToy(name="q", value=5.0, log=str(log)), toy_by_seed,
                      output=tmp_path)  # fmt: skip
    assert other.report["metrics"] == {"score": 5.0}
    assert _seeds_log(log) == ["seed q 0", "seed q 1", "seed q 2", "combine q"]
    with pytest.raises(ValueError, match="fails on purpose"):
        run_study("toy", SeedToy(name="q", log=str(log), fail_seed=2), toy_by_seed,
                  output=tmp_path, force=True)  # fmt: skip
    log.write_text("")
    run_study("toy", SeedToy(name="q", log=str(log)), toy_by_seed, output=tmp_path, force=True)
    assert _seeds_log(log) == ["seed q 0", "seed q 1", "seed q 2", "combine q"]


def test_run_seed_fixes_threads_and_seeds_every_global_generator():
    import random

    import numpy as np
    import torch

    from experiments._runner import run_seed

    def draws(config, seed):
        legacy = np.random.rand()  # noqa: NPY002 (the legacy global generator is under test)
        return (random.random(), legacy, torch.rand(1).item(), torch.get_num_threads())

    before = torch.get_num_threads()
    first = run_seed(draws, None, 7, threads=1)
    random.random(), np.random.rand(3), torch.rand(5)  # noqa: NPY002 (state left by earlier work)
    assert run_seed(draws, None, 7, threads=1) == first and first[3] == 1
    assert run_seed(draws, None, 8)[:3] != first[:3]
    assert run_seed(draws, None, 7, threads=2) == (*first[:3], 2)  # --threads 2
    assert torch.get_num_threads() == before
    with pytest.raises(ValueError, match="threads must be a positive int"):
        run_seed(draws, None, 7, threads=0)


def test_repeated_seeds_and_unknown_sizes_are_clear_errors(tmp_path, capsys):
    with pytest.raises(ValueError, match="repeats a seed"):
        run_study("toy", SeedToy(name="q", seeds=(0, 0)), toy_by_seed, output=tmp_path)
    with pytest.raises(SystemExit):
        cli.main(["depth", "--size", "huge", "--output", str(tmp_path)])
    assert "size 'huge' is not a size of ['depth']" in capsys.readouterr().err


ROOT = Path(__file__).resolve().parents[1]


def test_the_cluster_page_shows_commands_that_exist():
    """docs/cluster.md: its CLI lines parse, its make lines run the CLI with those options
    (``make -n`` only prints), its Python compiles, and it sits after Performance in the nav."""
    text = (ROOT / "docs" / "cluster.md").read_text()
    blocks = re.findall(r"```(bash|python)\n(.*?)```", text, flags=re.S)
    lines = [line for _, block in blocks for line in block.splitlines()]
    assert all(len(line) <= 88 for line in lines)
    commands = [line.split("#")[0].split() for line in lines if line.startswith("python -m ")]
    assert len(commands) >= 2
    for command in commands:
        cli.build_parser().parse_args(command[3:])
    makes = [line.split("#")[0].split() for line in lines if line.startswith("make ")]
    assert any("WORKERS=2" in make for make in makes)
    for make in makes:
        # under `make test` the parent's MAKEFLAGS/MAKELEVEL would add "make[1]: ..." lines
        env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
        done = subprocess.run(
            ["make", "-n", "--no-print-directory", *make[1:]],
            cwd=ROOT, capture_output=True, text=True, env=env,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        command = done.stdout.strip().splitlines()[-1]
        assert "-m experiments" in command
        options = dict(word.split("=", 1) for word in make[2:])
        flags = {"WORKERS": "--workers", "SCHEDULER": "--scheduler", "SIZE": "--size"}
        for name, value in options.items():
            assert f"{flags[name]} {value}" in command
    for kind, block in blocks:
        if kind == "python":
            compile(block, "cluster.md", "exec")
    assert (
        "## LightGBM on a Dask cluster" in text and "## Data-parallel networks (torch DDP)" in text
    )
    nav = (ROOT / "mkdocs.yml").read_text()
    assert nav.index("performance.md") < nav.index("cluster.md")
