"""A run as a value: its id, when it began, its modes, who started it; a lock's owner line.

Lower layers (connections that hold a lock of their own, such as a Deployment's
annotation) need these without the runner.
"""

from __future__ import annotations

import getpass
import secrets
import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime


def new_run_id(now: datetime | None = None) -> str:
    """A sortable, unique run id such as `20261123T104501Z-3f9a1c`."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{secrets.token_hex(3)}"


def who() -> str:
    """`user@controller`, as recorded in locks and the audit log."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


@dataclass(frozen=True, slots=True)
class RunContext:
    """One run: its id, when it began (restarts after this count as done), and its modes."""

    run_id: str
    started_at: datetime
    check: bool = False
    diff: bool = False
    user: str = field(default_factory=who)

    @classmethod
    def new(cls, *, check: bool = False, diff: bool = False) -> RunContext:
        now = datetime.now(UTC)
        return cls(new_run_id(now), now, check=check, diff=diff)


@dataclass(frozen=True, slots=True)
class LockOwner:
    run_id: str
    since: str
    who: str

    def age(self) -> float | None:
        """Seconds since the lock was taken (from `since`); None when that is unreadable."""
        try:
            stamp = datetime.fromisoformat(self.since)
        except ValueError:
            return None
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=UTC)
        return (datetime.now(UTC) - stamp).total_seconds()

    @classmethod
    def parse(cls, line: str) -> LockOwner:
        parts = line.strip().split("\t")
        parts += [""] * (3 - len(parts))
        return cls(parts[0] or "unknown", parts[1] or "unknown", parts[2])


def owner_line(run: RunContext) -> str:
    return "\t".join((run.run_id, datetime.now(UTC).isoformat(timespec="seconds"), run.user))


def how_long(seconds: float) -> str:
    """`45s`, `12m`, `3h05m`: a duration for a person."""
    seconds = max(0, int(seconds))
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
