"""Hosts a run stopped waiting for: remembered on the controller, read back by the next run.

When the runner gives up on a host after sending it a command (a timeout, a second
Ctrl-C), the command may still run there, so the result is `unknown` and the controller
keeps a record of it (`<state dir>/unknown/<host>.json`: the run, when, what was sent).
The next run that reaches the host, whatever it does, first reads back what the host
shows (the lock and its owner, the once-per-run markers of that run) and says so in its
result; the record goes once that was read and the lock is no longer that run's.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from remediations.connections.base import Connection, PeeksLock, SelfLocking, capability, sh
from remediations.core.result import Result, Status
from remediations.core.runs import LockOwner, RunContext, how_long
from remediations.core.scripts import script
from remediations.run import markers
from remediations.run.locks import LOCK_DIR
from remediations.run.state import state_dir

_INSPECT = script("run-inspect.sh")


@dataclass(frozen=True, slots=True)
class Earlier:
    """What an earlier run left unknown on a host, and what the host shows now."""

    run_id: str
    at: str
    last_sent: str
    lock: str  # "free", or the holder's run id
    lock_since: str
    lock_age: float | None
    done: tuple[str, ...]  # the markers that run wrote: the steps it recorded as done

    @property
    def message(self) -> str:
        """One sentence for the result: what was in doubt and what the host says now."""
        if self.lock == "free":
            lock = "its lock is free"
        elif self.lock == self.run_id:
            age = f", {how_long(self.lock_age)} ago" if self.lock_age is not None else ""
            lock = f"its lock is still held by that run (since {self.lock_since}{age})"
        else:
            lock = f"the lock is held by run {self.lock}"
        done = (f"steps it recorded as done: {', '.join(self.done)}" if self.done
                else "no step recorded as done by it")
        return (f"run {self.run_id} stopped waiting for this host at {self.at} (last sent: "
                f"`{self.last_sent}`); the host shows {lock}; {done}")

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "at": self.at, "last_sent": self.last_sent,
                "lock": self.lock, "lock_since": self.lock_since, "done": list(self.done)}


def _record(host: str, directory: Path | None = None) -> Path:
    return (directory or state_dir()) / "unknown" / f"{quote(host, safe='')}.json"


def settle(host: str, result: Result, run: RunContext, *, directory: Path | None = None) -> None:
    """Remember `host` when `result` left it unknown (not in check mode: nothing was acting)."""
    if result.status is not Status.UNKNOWN or run.check:
        return
    path = _record(host, directory)
    path.parent.mkdir(parents=True, exist_ok=True)
    entry = {"host": host, "run_id": run.run_id, "remediation": result.remediation,
             "at": datetime.now(UTC).isoformat(timespec="seconds"), "message": result.message,
             "last_sent": str(result.data.get("last_sent", "")), "sent": list(result.commands)}
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(entry, sort_keys=True), encoding="utf-8")
    tmp.replace(path)


def pending(host: str, *, directory: Path | None = None) -> dict[str, Any] | None:
    """The record of a run that left `host` unknown, if there is one."""
    try:
        entry = json.loads(_record(host, directory).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return entry if isinstance(entry, dict) and entry.get("run_id") else None


def read_back_argv(run_id: str) -> list[str]:
    """The read-only command that shows the host's lock and `run_id`'s markers."""
    folder = markers.path(RunContext(run_id, datetime.now(UTC)), "x").rsplit("/", 1)[0]
    return sh(_INSPECT, LOCK_DIR, LOCK_DIR, LOCK_DIR, folder, folder)


def read_back(host: str, conn: Connection, run: RunContext, *,
              directory: Path | None = None) -> Earlier | None:
    """What `host` shows of the run that left it unknown (None when no run did).

    One read-only command (an API read for a Deployment). The record is dropped once
    read, unless the lock is still that run's and this is another run; in check mode it
    is kept, so the real run reports it too.
    """
    entry = pending(host, directory=directory)
    if entry is None:
        return None
    last = str(entry.get("last_sent") or "")
    if capability(conn, SelfLocking) is not None:  # a lock of its own, and no host to look at
        peeker = capability(conn, PeeksLock)
        line = peeker.peek_lock() if peeker is not None else ""
        fields = {"lock": "HELD" if line else "FREE", "owner": line}
        done: tuple[str, ...] = ()
    else:
        out = conn.run(read_back_argv(str(entry["run_id"])), check=False).stdout
        fields = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
        done = tuple(line.split("=", 1)[1] for line in out.splitlines()
                     if line.startswith("marker="))
    holder = LockOwner.parse(fields.get("owner", "")) if fields.get("lock") == "HELD" else None
    age = _age(fields.get("now", ""), fields.get("mtime", ""), holder)
    earlier = Earlier(str(entry["run_id"]), str(entry.get("at", "")), last,
                      holder.run_id if holder else "free", holder.since if holder else "",
                      age, done)
    still_theirs = holder is not None and holder.run_id == earlier.run_id
    if not run.check and (not still_theirs or run.run_id == earlier.run_id):
        _record(host, directory).unlink(missing_ok=True)
    return earlier


def _age(now: str, mtime: str, holder: LockOwner | None) -> float | None:
    try:
        return float(now) - float(mtime)
    except ValueError:
        return holder.age() if holder is not None else None


def noted(result: Result, earlier: Earlier | None) -> Result:
    """`result` with what the host showed of an earlier unknown run, when there was one."""
    if earlier is None:
        return result
    return result.replace(message=f"{result.message} [{earlier.message}]",
                          data={**result.data, "earlier_unknown": earlier.to_dict()})
