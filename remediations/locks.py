"""An atomic per-host lock, held on the host itself, so two runs never act at once."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from remediations.connections.base import Connection, sh
from remediations.errors import HostLocked
from remediations.target import RunContext

# /run/lock is a world-writable tmpfs on Debian/Ubuntu/RHEL: cleared by a reboot,
# which is exactly when a lock left by a crashed run should go.
LOCK_DIR = "/run/lock/remediations.lock"
STALE_AFTER = 3600.0

# mkdir is atomic: exactly one run creates the directory. The owner line is written
# after, so a reader may briefly see no owner: it is then treated as held.
_ACQUIRE = (
    'if mkdir %s 2>/dev/null; then printf "%%s\\n" %s > %s/owner; echo ACQUIRED; else '
    'echo HELD; echo "owner=$(head -n1 %s/owner 2>/dev/null)"; echo "now=$(date +%%s)"; '
    'echo "mtime=$(stat -c %%Y %s 2>/dev/null)"; fi'
)
_BREAK = "mv %s %s 2>/dev/null && rm -rf %s; true"
_RELEASE = 'if [ "$(head -n1 %s/owner 2>/dev/null | cut -f1)" = %s ]; then rm -rf %s; fi'


@dataclass(frozen=True, slots=True)
class LockOwner:
    run_id: str
    since: str
    who: str

    @classmethod
    def parse(cls, line: str) -> LockOwner:
        parts = line.strip().split("\t")
        parts += [""] * (3 - len(parts))
        return cls(parts[0] or "unknown", parts[1] or "unknown", parts[2])


def owner_line(run: RunContext) -> str:
    return "\t".join((run.run_id, datetime.now(UTC).isoformat(timespec="seconds"), run.user))


def acquire(conn: Connection, run: RunContext, *, path: str = LOCK_DIR,
            stale_after: float = STALE_AFTER) -> None:
    """Take the host's lock for `run`, or raise `HostLocked` naming its holder.

    The same run id takes its own lock again (a resumed run); a lock older than
    `stale_after` seconds is broken.
    """
    me = owner_line(run)
    for attempt in range(2):
        out = conn.run(sh(_ACQUIRE, path, me, path, path, path), check=False).stdout
        lines = out.splitlines()
        if lines and lines[0] == "ACQUIRED":
            return
        fields = dict(line.split("=", 1) for line in lines[1:] if "=" in line)
        owner = LockOwner.parse(fields.get("owner", ""))
        if owner.run_id == run.run_id:
            return
        age = _age(fields.get("now", ""), fields.get("mtime", ""))
        if attempt == 0 and age is not None and age > stale_after:
            stale = f"{path}.stale.{int(time.time())}"
            conn.run(sh(_BREAK, path, stale, stale), check=False)
            continue
        since = owner.since + (f" by {owner.who}" if owner.who else "")
        raise HostLocked(conn.name, owner.run_id, since)


def release(conn: Connection, run: RunContext, *, path: str = LOCK_DIR) -> None:
    """Drop the lock if this run holds it; someone else's lock is left alone."""
    conn.run(sh(_RELEASE, path, run.run_id, path), check=False)


def _age(now: str, mtime: str) -> float | None:
    try:
        return float(now) - float(mtime)
    except ValueError:
        return None
