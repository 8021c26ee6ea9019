"""Fault injection on the experiment runner: real processes killed with SIGKILL at each write
step, two runners at once on one output, a full disk (a small tmpfs), a read-only folder."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from experiments import _claims
from experiments._claims import ClaimHeld, Owner, claim, this_owner
from experiments._runner import CorruptRunError, finished_report, run_study
from experiments._summary import write_summary

sys.path.insert(0, str(Path(__file__).parent))
from _runner_child import ToyConfig, toy_main  # noqa: E402

CHILD = Path(__file__).parent / "_runner_child.py"


class _Options:
    log = barrier = None
    big = 0


def run_toy(output, name="quick", value=1.0, **kwargs):
    return run_study(
        "toy",
        ToyConfig(name=name, value=value),
        lambda c, o: toy_main(c, o, _Options()),
        output=output,
        **kwargs,
    )


def start_child(output, names="quick", value=1.0, *args, kill_at=None, trace=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("FBOOST_RUNNER_")}
    if kill_at:
        env["FBOOST_RUNNER_KILL_AT"] = kill_at
    if trace:
        env["FBOOST_RUNNER_TRACE"] = str(trace)
    command = [sys.executable, str(CHILD), str(output), names, str(value), *args]
    return subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def finish(process, timeout=60):
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


def leftovers(output):
    """Hidden files and folders in the study folder (claims, partials, temporaries)."""
    return sorted(p.name for p in (Path(output) / "toy").iterdir() if p.name.startswith("."))


def assert_whole(path, value):
    report = finished_report(path)
    assert report is not None and report["metrics"] == {"score": value}
    assert (path / "scores.csv").read_text().startswith("seed,score")
    assert set(report["files"]) == {"scores.csv", "figure.png"}
    assert sorted(p.name for p in path.iterdir()) == [
        "DONE",
        "figure.png",
        "report.json",
        "scores.csv",
    ]


STEPS = ["claim-written", "claimed", "partial-created", "main-returned", "report-written",
         "done-written", "replaced"]  # fmt: skip


@pytest.mark.parametrize("step", STEPS)
def test_kill_at_each_write_step_then_rerun(tmp_path, step):
    code, _, _ = finish(start_child(tmp_path, kill_at=step))
    assert code == -signal.SIGKILL
    published = step == "replaced"
    summary = write_summary(tmp_path).read_text()
    assert ("### quick" in summary) == published  # never a partial run, even one marked DONE
    assert ".partial" not in summary
    rerun = run_toy(tmp_path, wait=5.0)  # the dead owner's claim is recovered, not waited on
    assert rerun.skipped == published
    assert_whole(tmp_path / "toy" / "quick", 1.0)
    # a skip only reads; the dead owner's claim may stay, and is recovered by the next claimant
    assert leftovers(tmp_path) == ([".quick.claim"] if published else [])
    claim(tmp_path / "toy", "quick", wait=False).release()


@pytest.mark.parametrize("step", ["done-written", "old-moved-aside", "replaced"])
def test_killed_forced_run_never_loses_the_old_result(tmp_path, step):
    run_toy(tmp_path, value=1.0)
    code, _, _ = finish(start_child(tmp_path, "quick", 2.0, "--force", kill_at=step))
    assert code == -signal.SIGKILL
    new_in_place = step == "replaced"
    again = run_toy(tmp_path, value=2.0 if new_in_place else 1.0, wait=5.0)
    assert again.skipped  # the old result was put back (or the new one was complete)
    assert_whole(again.path, 2.0 if new_in_place else 1.0)
    set_aside = [name for name in leftovers(tmp_path) if name.endswith(".old")]
    assert len(set_aside) == (1 if new_in_place else 0)  # deleted by the next claimed run
    run_toy(tmp_path, value=3.0, force=True)  # a claimed run removes what the dead one left
    assert_whole(again.path, 3.0)
    assert leftovers(tmp_path) == []


def test_killed_summary_write_leaves_no_temporary(tmp_path):
    code, _, _ = finish(start_child(tmp_path, "quick", 1.0, "--summary",
                                    kill_at="summary-tmp-written"))  # fmt: skip
    assert code == -signal.SIGKILL
    assert list(tmp_path.glob(".SUMMARY.*.tmp")) and not (tmp_path / "SUMMARY.md").exists()
    text = write_summary(tmp_path).read_text()
    assert "### quick" in text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["SUMMARY.md", "toy"]


def wait_for(predicate, timeout=60.0):
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.02)


def trace_has(trace, pid, step):
    return trace.exists() and f"{pid} {step}\n" in trace.read_text()


def test_two_runners_at_once_run_each_run_exactly_once(tmp_path):
    barrier, log, trace = tmp_path / "go", tmp_path / "log", tmp_path / "trace"
    out = tmp_path / "results"
    first = start_child(out, "one,two", 1.0, "--barrier", str(barrier), "--log", str(log),
                        trace=trace)  # fmt: skip
    wait_for(lambda: trace_has(trace, first.pid, "partial-created"))
    second = start_child(out, "one,two", 1.0, "--barrier", str(barrier), "--log", str(log),
                         trace=trace)  # fmt: skip
    wait_for(lambda: trace_has(trace, second.pid, "claim-wait"))  # it waits, deletes nothing
    barrier.touch()
    (code1, out1, err1), (code2, out2, err2) = finish(first), finish(second)
    assert code1 == 0 and code2 == 0, err1 + err2
    runs = [line.split()[1] for line in log.read_text().splitlines()]
    assert sorted(runs) == ["one", "two"]  # each run exactly once
    assert json.loads(out1)["one"]["skipped"] is False
    assert json.loads(out2)["one"]["skipped"] is True
    for name in ("one", "two"):
        assert_whole(out / "toy" / name, 1.0)
    assert leftovers(out) == []


def _dead_owner():
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    return Owner(**{**json.loads(this_owner().to_json()), "pid": int(gone.stdout)})


def test_runners_recovering_one_stale_claim_at_once_run_it_once(tmp_path):
    log, out = tmp_path / "log", tmp_path / "results"
    (out / "toy").mkdir(parents=True)
    (out / "toy" / ".quick.claim").write_text(_dead_owner().to_json())
    children = [start_child(out, "quick", 1.0, "--log", str(log)) for _ in range(3)]
    results = [finish(child) for child in children]
    assert all(code == 0 for code, _, _ in results), [err for _, _, err in results]
    assert len(log.read_text().splitlines()) == 1
    assert_whole(out / "toy" / "quick", 1.0)


def test_a_held_claim_keeps_beating(tmp_path, monkeypatch):
    monkeypatch.setattr(_claims, "HEARTBEAT_S", 0.02)
    with claim(tmp_path, "quick") as held:
        os.utime(held.path, (0, 0))
        wait_for(lambda: held.path.stat().st_mtime > 0, timeout=10)


def test_overlapping_different_configs_never_overwrite_a_finished_run(tmp_path):
    barrier, trace = tmp_path / "go", tmp_path / "trace"
    out = tmp_path / "results"
    first = start_child(out, "quick", 1.0, "--barrier", str(barrier), trace=trace)
    wait_for(lambda: trace_has(trace, first.pid, "partial-created"))
    second = start_child(out, "quick", 2.0, trace=trace)  # passed its first config check
    wait_for(lambda: trace_has(trace, second.pid, "claim-wait"))
    barrier.touch()
    (code1, _, err1), (code2, _, err2) = finish(first), finish(second)
    assert code1 == 0, err1
    assert code2 != 0 and "different config" in err2
    assert_whole(out / "toy" / "quick", 1.0)


def test_clean_up_removes_only_partials_whose_owner_is_gone(tmp_path):
    root = tmp_path / "toy"
    live, dead = root / ".quick.live.partial", root / ".quick.dead.partial"
    for folder in (live, dead):
        folder.mkdir(parents=True)
    (live / ".owner.json").write_text(this_owner().to_json())  # this process: alive
    (dead / ".owner.json").write_text(_dead_owner().to_json())
    run_toy(tmp_path)
    assert live.exists() and not dead.exists()


def test_a_folder_removed_under_a_run_is_never_published(tmp_path):
    run_toy(tmp_path, value=1.0)

    def cleaned_away(config, output):  # what another runner's old clean-up did to live runs
        toy_main(config, output, _Options())
        shutil.rmtree(output)
        return {"figures": []}

    with pytest.raises(OSError):
        run_study("toy", ToyConfig(name="quick", value=2.0), cleaned_away, output=tmp_path,
                  force=True)  # fmt: skip
    assert_whole(tmp_path / "toy" / "quick", 1.0)  # not a DONE folder holding only a report
    assert leftovers(tmp_path) == []


def test_claim_from_another_host_is_held_until_its_heartbeat_stops(tmp_path):
    record = json.loads(this_owner().to_json())
    foreign = Owner(**{**record, "host": socket.gethostname() + "-elsewhere"})
    path = tmp_path / ".quick.claim"
    path.write_text(foreign.to_json())
    with pytest.raises(ClaimHeld, match="-elsewhere"):
        claim(tmp_path, "quick", wait=False)
    old = time.time() - _claims.STALE_AFTER_S - 1
    os.utime(path, (old, old))
    with claim(tmp_path, "quick", wait=False) as held:
        assert held.held() and held.owner.host == socket.gethostname()
    assert not path.exists()


def test_corrupt_report_is_a_clear_error_naming_the_file(tmp_path):
    path = run_toy(tmp_path).path
    report = path / "report.json"
    report.write_text(report.read_text()[:40])  # truncated
    with pytest.raises(CorruptRunError, match=rf"{report}.*truncated.*--force"):
        run_toy(tmp_path)
    assert "need attention" in write_summary(tmp_path).read_text()
    assert not run_toy(tmp_path, force=True).skipped
    assert_whole(path, 1.0)
    (path / "scores.csv").unlink()
    with pytest.raises(CorruptRunError, match=r"missing or truncated: \['scores.csv'\]"):
        run_toy(tmp_path)


@pytest.fixture
def small_tmpfs(tmp_path):
    """A 256 KiB tmpfs (tests run as root here), unmounted afterwards."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)],
                          capture_output=True, text=True)  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip() or done.returncode}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_full_disk_keeps_the_old_result_and_leaves_nothing(small_tmpfs):
    run_toy(small_tmpfs, value=1.0)
    write_summary(small_tmpfs)
    summary = (small_tmpfs / "SUMMARY.md").read_text()
    code, _, err = finish(start_child(small_tmpfs, "quick", 2.0, "--force", "--big", "1000000"))
    assert code != 0 and "No space left" in err
    assert_whole(small_tmpfs / "toy" / "quick", 1.0)
    assert leftovers(small_tmpfs) == []
    filler = small_tmpfs / "filler"
    with pytest.raises(OSError, match="No space left"), open(filler, "wb") as handle:
        handle.write(b"x" * 1_000_000)
    with pytest.raises(OSError):
        write_summary(small_tmpfs)
    assert (small_tmpfs / "SUMMARY.md").read_text() == summary
    assert not list(small_tmpfs.glob(".SUMMARY*"))
    filler.unlink()
    assert not run_toy(small_tmpfs, value=2.0, force=True).skipped


def test_read_only_folder_skips_finished_runs_and_refuses_new_ones(small_tmpfs):
    run_toy(small_tmpfs)
    remount = subprocess.run(["mount", "-o", "remount,ro", str(small_tmpfs)],
                             capture_output=True, text=True)  # fmt: skip
    if remount.returncode != 0:
        pytest.skip(f"cannot remount read-only: {remount.stderr.strip()}")
    assert run_toy(small_tmpfs).skipped
    with pytest.raises(PermissionError, match="not writable"):
        run_toy(small_tmpfs, name="other")
    with pytest.raises(PermissionError, match="not writable"):
        write_summary(small_tmpfs)


def test_killed_run_resumes_without_redoing_its_finished_seeds(tmp_path):
    log = tmp_path / "log"
    out = tmp_path / "results"
    code, _, _ = finish(start_child(out, "quick", 1.0, "--by-seed", "--log", str(log),
                                    kill_at="seed-saved"))  # fmt: skip
    assert code == -signal.SIGKILL  # killed right after seed 0's part was kept
    assert [line.split(" ", 1)[1] for line in log.read_text().splitlines()] == ["seed quick 0"]
    code, out_text, err = finish(start_child(out, "quick", 1.0, "--by-seed", "--log", str(log)))
    assert code == 0, err
    assert json.loads(out_text)["quick"]["skipped"] is False
    work = [line.split(" ", 1)[1] for line in log.read_text().splitlines()]
    assert work == ["seed quick 0", "seed quick 1", "seed quick 2", "combine quick"]
    assert_whole(out / "toy" / "quick", 1.0)
    assert leftovers(out) == [] and not (out / ".seeds").exists()
