"""The experiment runner on a real Dask LocalCluster (2 worker processes, one thread each): the
same results as the serial path, failures reported and contained, two runners on one output."""

from __future__ import annotations

import builtins
import dataclasses
import json
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest

from experiments import __main__ as cli
from experiments import gradient_flow as flow
from experiments import paths
from experiments._runner import finished_report
from experiments._sweep import EXTRA, Job, dask_client, import_distributed, run_sweep

sys.path.insert(0, str(Path(__file__).parent))
import _runner_child  # noqa: E402
from _runner_child import ToyConfig, toy_by_seed  # noqa: E402

pytest.importorskip("distributed")
import cloudpickle  # noqa: E402

cloudpickle.register_pickle_by_value(_runner_child)  # the workers need not import tests/
pytestmark = pytest.mark.xdist_group("dask")  # one cluster per xdist process that runs these

CHILD = Path(__file__).parent / "_runner_child.py"


@pytest.fixture(scope="module")
def client():
    """``--workers 2``: the LocalCluster the CLI starts (processes, one thread each)."""
    with warnings.catch_warnings():  # another cluster on this machine holds Dask's usual port
        warnings.filterwarnings("ignore", message="Port .* is already in use")
        cluster = dask_client(workers=2)
        client = cluster.__enter__()
    try:
        client.wait_for_workers(2, timeout=120)
        yield client
    finally:
        cluster.__exit__(None, None, None)


def test_workers_are_two_processes_with_one_thread_each(client):
    workers = client.scheduler_info()["workers"].values()
    assert [w["nthreads"] for w in workers] == [1, 1]
    pids = set(client.run(os.getpid).values())
    assert len(pids) == 2 and os.getpid() not in pids


def _files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name not in ("report.json", "DONE")
    }


def test_a_sweep_on_two_workers_equals_the_serial_one(client, tmp_path):
    jobs = [
        Job("gradient_flow", dataclasses.replace(flow.SIZES["smoke"], depths=(2, 4)), flow.main),
        Job("paths", paths.SIZES["smoke"], paths.main),
    ]
    serial = run_sweep(jobs, output=tmp_path / "serial")
    dask = run_sweep(jobs, client=client, output=tmp_path / "dask")
    for one, other in zip(serial, dask, strict=True):
        assert one.ok and other.ok, (one.error, other.error)
        assert not one.result.skipped and not other.result.skipped
        mine, theirs = one.result.report, other.result.report
        for key in ("config", "metrics", "table", "figures", "files"):
            assert mine[key] == theirs[key], key
        files = _files(one.result.path)
        assert any(name.endswith(".csv") for name in files)
        assert files == _files(other.result.path)  # CSV and PNG files, byte for byte
    assert sorted(p.name for p in (tmp_path / "dask").iterdir()) == ["gradient_flow", "paths"]


def test_a_failed_seed_reports_its_traceback_and_the_other_runs_are_whole(client, tmp_path):
    log = tmp_path / "log"
    bad = ToyConfig(name="bad", seeds=(0, 1, 2), log=str(log), fail_seed=1)
    good = ToyConfig(name="good", seeds=(0, 1), log=str(log))
    seen = []
    outcomes = run_sweep(
        [Job("toy", bad, toy_by_seed), Job("toy", good, toy_by_seed)],
        client=client,
        output=tmp_path,
        on_done=seen.append,
    )
    failed, whole = outcomes
    assert not failed.ok and failed.result is None
    assert "toy/bad seed 1 failed on a worker" in failed.error
    assert "Traceback" in failed.error and "toy_seed" in failed.error
    assert "ValueError: seed 1 fails on purpose" in failed.error
    assert whole.ok and (finished_report(whole.result.path) or {})["metrics"] == {"score": 1.0}
    assert sorted(o.job.config.name for o in seen) == ["bad", "good"]
    root = tmp_path / "toy"
    assert sorted(p.name for p in root.iterdir()) == ["good"]  # no claim, no partial folder
    # seeds 0 and 2 of the failed run are kept; the rerun computes only seed 1
    log.write_text("")
    fixed = ToyConfig(name="bad", seeds=(0, 1, 2), log=str(log))
    (again,) = run_sweep([Job("toy", fixed, toy_by_seed)], client=client, output=tmp_path)
    assert again.ok and not again.result.skipped
    assert sorted(line.split(" ", 1)[1] for line in log.read_text().splitlines()) == [
        "combine bad",
        "seed bad 1",
    ]
    assert (again.result.path / "scores.csv").read_text() == "seed,score\n0,1.0\n1,1.0\n2,1.0\n"
    assert not (tmp_path / ".seeds").exists()  # the kept parts go once the run is published


def _child(output, names, log, barrier, scheduler, trace):
    env = {k: v for k, v in os.environ.items() if not k.startswith("FBOOST_RUNNER_")}
    env["FBOOST_RUNNER_TRACE"] = str(trace)
    command = [sys.executable, str(CHILD), str(output), names, "1.0", "--by-seed",
               "--scheduler", scheduler, "--log", str(log), "--barrier", str(barrier)]  # fmt: skip
    return subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _wait_for(predicate, timeout=60.0):
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.05)


def test_two_dask_runners_on_one_output_run_every_run_exactly_once(client, tmp_path):
    out, log, barrier, trace = tmp_path / "out", tmp_path / "log", tmp_path / "go", tmp_path / "t"
    address = client.scheduler.address
    first = _child(out, "one,two", log, barrier, address, trace)

    def reached(process, step):
        return trace.exists() and f"{process.pid} {step}\n" in trace.read_text()

    _wait_for(lambda: reached(first, "partial-created"))  # it holds a claim
    second = _child(out, "two,one", log, barrier, address, trace)
    _wait_for(lambda: reached(second, "claim-wait"))  # it waits for the first; deletes nothing
    barrier.touch()
    results = []
    for process in (first, second):
        stdout, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, stderr
        results.append(json.loads(stdout))
    work = sorted(line.split(" ", 1)[1] for line in log.read_text().splitlines())
    expected = sorted([f"seed {n} {s}" for n in ("one", "two") for s in (0, 1, 2)])
    assert work == sorted(expected + ["combine one", "combine two"])  # each exactly once
    for name in ("one", "two"):
        assert [r[name]["skipped"] for r in results].count(False) == 1
        path = out / "toy" / name
        assert (finished_report(path) or {})["metrics"] == {"score": 1.0}
        assert (path / "scores.csv").read_text() == "seed,score\n0,1.0\n1,1.0\n2,1.0\n"
    assert sorted(p.name for p in (out / "toy").iterdir()) == ["one", "two"]


def test_cli_runs_a_study_on_a_scheduler_and_shows_runs_done(client, tmp_path, capsys):
    argv = ["depth", "--size", "smoke", "--output", str(tmp_path), "--quiet"]
    assert cli.main([*argv, "--scheduler", client.scheduler.address]) == 0
    err = capsys.readouterr().err
    assert "[1/1] depth/smoke: done in" in err
    assert "## depth" in (tmp_path / "SUMMARY.md").read_text()
    assert cli.main([*argv, "--scheduler", client.scheduler.address]) == 0
    assert "[1/1] depth/smoke: skipped (finished)" in capsys.readouterr().err


def test_missing_distributed_is_an_error_naming_the_extra(monkeypatch, tmp_path, capsys):
    real_import = builtins.__import__

    def no_dask(name, *args, **kwargs):
        if name == "distributed" or name.startswith(("distributed.", "dask")):
            raise ModuleNotFoundError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_dask)
    with pytest.raises(ImportError, match=rf"{EXTRA.replace('[', '.').replace(']', '.')}"):
        import_distributed()
    with pytest.raises(ImportError, match="pip install"):
        with dask_client(workers=2):
            pass
    argv = ["depth", "--size", "smoke", "--output", str(tmp_path), "--workers", "2"]
    assert cli.main(argv) == 2
    assert "fboost[distributed]" in capsys.readouterr().err
    assert not (tmp_path / "depth").exists()  # nothing started
    (serial,) = run_sweep([Job("toy", ToyConfig(name="q"), toy_by_seed)], output=tmp_path)
    assert serial.ok and not serial.result.skipped  # the serial path never needs Dask


def test_bad_cluster_arguments_are_clear_errors(capsys):
    with pytest.raises(ValueError, match="exactly one of workers"):
        with dask_client():
            pass
    with pytest.raises(ValueError, match="workers must be a positive int"):
        with dask_client(workers=0):
            pass
    with pytest.raises(SystemExit):
        cli.main(["depth", "--workers", "0"])
    assert "--workers: must be a positive integer" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["depth", "--workers", "2", "--scheduler", "tcp://x:1"])
    assert "not allowed with argument" in capsys.readouterr().err


def test_verbose_sweep_counts_seeds_and_runs_done(client, tmp_path, capsys):
    jobs = [Job("toy", ToyConfig(name=n, seeds=(0, 1)), toy_by_seed) for n in ("a", "b")]
    assert all(o.ok for o in run_sweep(jobs, client=client, output=tmp_path, verbose=True))
    err = capsys.readouterr().err
    assert "seeds" in err and "4/4" in err and "runs 2/2" in err
    run_sweep(jobs, client=client, output=tmp_path / "quiet")
    assert capsys.readouterr().err == ""  # the library prints nothing unless verbose


def test_cli_reports_a_failed_run_and_exits_with_1(client, tmp_path, capsys, monkeypatch):
    from experiments import depth

    broken = dataclasses.replace(depth.SIZES["smoke"], name="broken", dataset="no_such_set")
    monkeypatch.setitem(depth.SIZES, "broken", broken)
    argv = ["depth", "--size", "broken", "--output", str(tmp_path), "--quiet"]
    assert cli.main([*argv, "--scheduler", client.scheduler.address]) == 1
    err = capsys.readouterr().err
    assert "[1/1] depth/broken: error: depth/broken seed 0 failed on a worker" in err
    assert "Traceback" in err and "no_such_set" in err
    assert "1 of 1 runs failed: depth/broken" in err
    assert not (tmp_path / "depth" / "broken").exists()


def test_an_interrupted_dask_sweep_keeps_finished_runs_and_leaves_no_claims(client, tmp_path):
    barrier = tmp_path / "go"
    first = ToyConfig(name="a", seeds=(0,))
    held = ToyConfig(name="b", seeds=(0, 1), barrier=str(barrier))  # still running when a is done

    def interrupt(outcome):
        if outcome.job.config.name == "a":
            raise KeyboardInterrupt

    jobs = [Job("toy", first, toy_by_seed), Job("toy", held, toy_by_seed)]
    try:
        with pytest.raises(KeyboardInterrupt):
            run_sweep(jobs, client=client, output=tmp_path / "out", on_done=interrupt)
    finally:
        barrier.touch()  # frees the workers still waiting in b's seeds
    root = tmp_path / "out" / "toy"
    assert (finished_report(root / "a") or {})["metrics"] == {"score": 1.0}
    assert sorted(p.name for p in root.iterdir()) == ["a"]  # b: no claim, no partial folder
