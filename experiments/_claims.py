"""Claims: one owner at a time for a named piece of work, across processes and hosts.

A claim is a file ``<folder>/.<name>.claim`` created with ``O_CREAT | O_EXCL`` (atomic on local
file systems and on NFS v3+), holding its owner as JSON: pid, host, the kernel's boot id, the
process's start time, when the claim was taken and a random token. Whoever creates the file owns
the work; everyone else waits (or gets :class:`ClaimHeld`).

A claim whose owner is gone is *stale* and is recovered:

- same machine (host and boot id agree): the pid is dead, a zombie, or now another process
  (its start time differs), or the machine rebooted since (boot id differs);
- another machine: the owner's heartbeat stopped: a held claim's file is touched every
  ``HEARTBEAT_S`` seconds, and one untouched for ``STALE_AFTER_S`` seconds is stale (the hosts'
  clocks must agree to within that);
- a file with no readable owner (its writer was killed between create and write) is stale once
  it is ``STALE_AFTER_S`` seconds old.

Breaking a stale claim renames it to a name of the breaker's own (atomic, so two breakers cannot
both break it) and checks that what it moved is the stale claim it read; if it was a fresh claim
it is linked back. An owner checks :meth:`Claim.held` right before it publishes anything, so a
claim broken by mistake costs a redone run, never a mixed one.

The Dask runner (`experiments._sweep`) takes a run's claim in the process that runs the sweep
and holds it while the run's seeds are computed on the workers, which never touch the claims or
the output folder; two such runners on hosts sharing one file system take turns as above.
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import socket
import threading
import time
from pathlib import Path
from typing import Any

__all__ = [
    "Owner",
    "Claim",
    "ClaimHeld",
    "claim",
    "owner_alive",
    "this_owner",
    "fault_point",
    "remove_leftovers",
]

HEARTBEAT_S = 10.0
STALE_AFTER_S = 120.0
_POLL_S = (0.05, 1.0)  # first and longest wait between tries while a claim is held


def fault_point(step: str) -> None:
    """Fault injection for the tests: ``FBOOST_RUNNER_KILL_AT=<step>`` kills this process with
    SIGKILL when it reaches ``step`` (a real ``kill -9``: no clean-up code runs);
    ``FBOOST_RUNNER_TRACE=<file>`` appends each step reached to that file."""
    trace = os.environ.get("FBOOST_RUNNER_TRACE")
    if trace:
        with open(trace, "a") as handle:
            handle.write(f"{os.getpid()} {step}\n")
    if os.environ.get("FBOOST_RUNNER_KILL_AT") == step:
        import signal

        os.kill(os.getpid(), signal.SIGKILL)


def _read_text(path: str) -> str | None:
    try:
        with open(path) as handle:
            return handle.read()
    except OSError:
        return None


def _boot_id() -> str:
    return (_read_text("/proc/sys/kernel/random/boot_id") or "").strip()


def _process_state(pid: int) -> tuple[str, str] | None:
    """(state letter, start time in clock ticks) from ``/proc/<pid>/stat``; None off Linux."""
    text = _read_text(f"/proc/{pid}/stat")
    if text is None:
        return None
    fields = text[text.rfind(")") + 2 :].split()  # the command name may hold spaces
    return fields[0], fields[19]


@dataclasses.dataclass(frozen=True)
class Owner:
    """Who holds a claim, and how to tell whether it is still there."""

    pid: int
    host: str
    boot_id: str
    process_start: str
    claimed_at: float
    token: str

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Owner | None:
        try:
            data = json.loads(text)
            return cls(**{f.name: data[f.name] for f in dataclasses.fields(cls)})
        except (ValueError, KeyError, TypeError):
            return None

    def describe(self) -> str:
        started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.claimed_at))
        return f"pid {self.pid} on {self.host} since {started}"


def this_owner() -> Owner:
    """An owner record for the calling process, with a fresh token."""
    state = _process_state(os.getpid())
    return Owner(
        pid=os.getpid(),
        host=socket.gethostname(),
        boot_id=_boot_id(),
        process_start=state[1] if state else "",
        claimed_at=time.time(),
        token=secrets.token_hex(8),
    )


def owner_alive(owner: Owner, *, heartbeat: float | None = None) -> bool:
    """Whether ``owner`` may still be running; ``heartbeat`` is its file's last touch (epoch s)."""
    same_machine = owner.host == socket.gethostname() and owner.boot_id == _boot_id()
    if same_machine and os.name == "posix":  # elsewhere os.kill(pid, 0) is not a probe
        try:
            os.kill(owner.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass  # exists, belongs to another user
        state = _process_state(owner.pid)
        if state is None:
            return True  # no /proc: trust the pid
        return state[0] not in ("Z", "X") and state[1] == owner.process_start
    if heartbeat is None:
        return True
    return time.time() - heartbeat < STALE_AFTER_S


class ClaimHeld(RuntimeError):
    """The work is claimed by a live owner (raised when not waiting)."""

    def __init__(self, path: Path, owner: Owner | None) -> None:
        who = owner.describe() if owner else "an owner still writing its record"
        super().__init__(f"{path} is claimed by {who}")
        self.path = path
        self.owner = owner


class Claim:
    """A held claim: :meth:`held` checks it is still ours, :meth:`release` gives it up.

    Use as a context manager; a daemon thread touches the file every ``HEARTBEAT_S`` seconds so
    that other hosts see the owner alive.
    """

    def __init__(self, path: Path, owner: Owner) -> None:
        self.path = path
        self.owner = owner
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True, name=f"claim {path.name}")
        self._thread.start()

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            if self.held():
                try:
                    os.utime(self.path)
                except OSError:
                    pass

    def held(self) -> bool:
        """Whether the claim file is still this owner's."""
        text = _read_text(str(self.path))
        found = Owner.from_json(text) if text is not None else None
        return found is not None and found.token == self.owner.token

    def release(self) -> None:
        """Stop the heartbeat and remove the claim file if it is still ours."""
        self._stop.set()
        if self.held():
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass

    def __enter__(self) -> Claim:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()


def _current(path: Path) -> tuple[Owner | None, float] | None:
    """The claim file's owner (None if unreadable) and mtime; None when there is no claim."""
    try:
        mtime = path.stat().st_mtime
    except FileNotFoundError:
        return None
    text = _read_text(str(path))
    if text is None:
        return None
    return Owner.from_json(text), mtime


def _stale(found: tuple[Owner | None, float]) -> bool:
    owner, mtime = found
    if owner is None:
        return time.time() - mtime >= STALE_AFTER_S
    return not owner_alive(owner, heartbeat=mtime)


def _break(path: Path, stale: Owner | None, me: Owner) -> None:
    """Remove the stale claim at ``path``; put back a fresh one moved by mistake."""
    aside = path.with_name(f"{path.name}.{me.token}.broken")
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return  # another breaker (or the owner) removed it first
    text = _read_text(str(aside))
    moved = Owner.from_json(text) if text is not None else None
    fresh = moved is not None and (stale is None or moved.token != stale.token)
    if fresh:
        try:
            os.link(aside, path)  # atomic; fails if a new claim took the place meanwhile
        except OSError:
            pass  # the moved owner sees held() false before publishing, and backs off
    os.unlink(aside)


def _try_create(path: Path, me: Owner) -> bool:
    """Create the claim file with its whole record, atomically; False if it exists.

    The record is written to a file of our own and hard-linked into place, so the claim never
    exists half-written; where hard links are not supported, ``O_EXCL`` creation is used.
    """
    mine = path.with_name(f"{path.name}.{me.token}.new")
    with open(mine, "x") as handle:
        try:
            handle.write(me.to_json())
            handle.flush()
            os.fsync(handle.fileno())
        except BaseException:
            mine.unlink()
            raise
    try:
        fault_point("claim-written")
        try:
            os.link(mine, path)
        except FileExistsError:
            return False
        except OSError:  # no hard links here
            try:
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                return False
            with os.fdopen(fd, "w") as handle:
                handle.write(me.to_json())
        return True
    finally:
        mine.unlink(missing_ok=True)


def claim(folder: Path | str, name: str, *, wait: bool | float = True) -> Claim:
    """Take the claim ``<folder>/.<name>.claim``, recovering it from a gone owner.

    Parameters
    ----------
    folder : path
        Where the claim file lives (the shared results folder).
    name : str
        What is claimed (a run's folder name).
    wait : bool or float, default=True
        While a live owner holds it: wait for it (``True``), give up at once (``False``), or wait
        at most this many seconds; giving up raises :class:`ClaimHeld`.
    """
    path = Path(folder) / f".{name}.claim"
    deadline = None if wait is True else time.monotonic() + (0.0 if wait is False else wait)
    pause = _POLL_S[0]
    while True:
        me = this_owner()
        if _try_create(path, me):
            return Claim(path, me)
        found = _current(path)
        if found is None:
            continue  # released between our try and our read
        if _stale(found):
            _break(path, found[0], me)
            continue
        if deadline is not None and time.monotonic() >= deadline:
            raise ClaimHeld(path, found[0])
        if pause == _POLL_S[0]:
            fault_point("claim-wait")
        time.sleep(pause)
        pause = min(pause * 2, _POLL_S[1])


def remove_leftovers(folder: Path | str, name: str) -> None:
    """Remove what killed claimants of ``name`` left: records never linked (owner gone) and
    claims set aside by a breaker killed mid-break (older than a minute)."""
    for record in Path(folder).glob(f".{name}.claim.*.new"):
        text = _read_text(str(record))
        owner = Owner.from_json(text) if text is not None else None
        if owner is None or not owner_alive(owner):
            record.unlink(missing_ok=True)
    for broken in Path(folder).glob(f".{name}.claim.*.broken"):
        try:
            if time.time() - broken.stat().st_mtime > 60:
                broken.unlink(missing_ok=True)
        except FileNotFoundError:
            pass
