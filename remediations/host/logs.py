"""Runaway logs cut down to their last lines, in place, while their writers keep writing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from remediations.connections.base import Connection
from remediations.core.result import Diff, Result, Status, Step
from remediations.core.scripts import script
from remediations.host.disk import (
    MAX_BYTES,
    Resolved,
    human,
    log_roots,
    path_in_roots,
    resolve,
    whole_number,
)
from remediations.run.contract import Verification, apply
from remediations.run.target import Target

MARKER = "[remediations] log truncated by run"
MAX_KEEP_LINES = 10**8  # lines kept of a log; more is a typo


# Appended to disk's resolve script: the bytes the last N and N+1 lines take, the first line.
_LOG_FACTS = script("log-facts.sh")

# Keep the last $2 lines of $1 in place (same inode), so a writer holding it open with
# O_APPEND goes on writing into it: fallocate --collapse-range where the file system has
# it, else the tail copied left in place (by _MOVE, in perl, when the host has perl).
# How, and what may be lost when: the header of remediations/scripts/log-truncate.sh.
_MOVE = script("log-move.pl")
_TRUNCATE = script("log-truncate.sh")


@dataclass(frozen=True, slots=True)
class LogFacts:
    """A log file: real path, size, inode, and the bytes its last N (and N+1) lines take."""

    where: Resolved
    keep_lines: int
    keep_bytes: int
    keep1_bytes: int
    first_line: str

    @property
    def size(self) -> int:
        return self.where.size


def log_facts(conn: Connection, path: str, roots: Sequence[str], keep_lines: int) -> LogFacts:
    where = resolve(conn, path, roots, _LOG_FACTS, keep_lines)
    rest = dict(where.extra)
    return LogFacts(where, keep_lines, int(rest.get("keep", "0") or 0),
                    int(rest.get("keep1", "0") or 0), rest.get("first", ""))


def marker_line(run_id: str) -> str:
    return f"{MARKER} {run_id}; earlier lines removed"


def plan_log_truncated(facts: LogFacts, *, min_size: int | None, marker: str) -> tuple[list[Step], str]:
    """The truncation step, or none and why: small enough, few enough lines, or done already."""
    size, n = facts.size, facts.keep_lines
    if min_size is not None and size < min_size:
        return [], f"{human(size)}, below {human(min_size)}"
    if facts.keep_bytes >= size:
        return [], f"{human(size)}, at most {n} lines"
    if facts.keep1_bytes >= size and facts.first_line.startswith(MARKER):
        return [], f"{human(size)}, already truncated to its last {n} lines"
    real = facts.where.real or facts.where.path
    return [Step(["sh", "-c", _TRUNCATE, "_", real, str(n), str(facts.where.inode), marker,
                  _MOVE],
                 f"keep the last {n} lines of {real}, in place")], ""


def log_truncated(t: Target, path: str, *, keep_lines: int = 1000,
                  min_size: int | None = None) -> Result:
    """`path` holds only its last `keep_lines` lines, truncated in place (same inode).

    A writer holding the file open with O_APPEND (monolog, php-fpm) keeps writing
    into it. `path` must lie inside the inventory's `log_roots` (default: the app's
    storage/logs, /srv/app/shared/storage/logs, /var/log), its real path too.
    `min_size` (bytes): leave smaller files alone.
    Example: `log_truncated(t, "/srv/app/current/storage/logs/laravel.log", keep_lines=500)`.
    """
    keep = whole_number(keep_lines, "keep_lines", minimum=1, maximum=MAX_KEEP_LINES)
    if min_size is not None:
        min_size = whole_number(min_size, "min_size", maximum=MAX_BYTES)
    roots = log_roots(t)
    path = path_in_roots(path, roots)
    name = "log_truncated"
    facts = log_facts(t.conn, path, roots, keep)
    where = facts.where
    if where.real is None:
        return t.result(name, Status.OK, f"{path} does not exist; nothing to truncate",
                        data={"path": path, "exists": False})
    refusal = where.refusal(roots, kind="regular file")
    if refusal:
        return t.result(name, Status.FAILED, refusal, data={"path": path})
    steps, why = plan_log_truncated(facts, min_size=min_size, marker=marker_line(t.run.run_id))
    real = where.real
    frees = max(0, facts.size - facts.keep_bytes)
    data: dict[str, Any] = {"path": path, "real_path": real, "inode": where.inode,
                            "size_before": facts.size, "keep_lines": keep,
                            "bytes_to_free": frees if steps else 0}

    def verify() -> Verification:
        after = resolve(t.conn, real, roots, _LOG_FACTS, keep)
        first = dict(after.extra).get("first", "")
        # the collapse path pads its marker line with spaces; the copy path does not
        method = "collapse-range" if first.startswith(MARKER) and first.endswith(" ") else "copy"
        info = {"size_after": after.size, "freed": facts.size - after.size, "method": method}
        if after.inode != where.inode:
            return Verification(False, f"{real} is a new file (inode {after.inode})", "", info)
        if after.size >= facts.size:
            return Verification(False, f"{real} did not shrink ({human(after.size)})", "", info)
        return Verification(True, f"{human(facts.size)} -> {human(after.size)}, same inode", "",
                            info)

    result = apply(t, name, steps, verify=verify,
                   ok_message=f"{path}: {why}; nothing to truncate",
                   action=f"truncate {real} to its last {keep} lines, freeing about {human(frees)}",
                   done=f"truncated {real} to its last {keep} lines",
                   diff=Diff(f"{real}: {facts.size} bytes",
                             f"{real}: about {facts.keep_bytes} bytes + what writers append"),
                   data=data)
    if result.changed and not result.check and "size_after" in result.data:
        return result.replace(diff=Diff(f"{real}: {facts.size} bytes",
                                        f"{real}: {result.data['size_after']} bytes"))
    return result
