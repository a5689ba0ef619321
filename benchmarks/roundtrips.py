"""Round trips per host: the ssh connections and channels a tool opened, read from sshd's log.

The bench hosts' sshd logs at `LogLevel VERBOSE` (a drop-in in the bench image), so it
writes one `Accepted publickey for ...` line per connection and one `Starting session: ...`
line per channel it opens (a command, the sftp subsystem, a shell). Each host's journal is
read from this machine through `/proc/<container init>/root` with `journalctl -D`, from a
cursor taken just before the run: nothing runs on the hosts, so the timed runs are not
slowed. The ssh Docker host of the lab stack has no journal; its sshd logs to stderr, read
with `docker logs --since`.

    >>> count_log("Accepted publickey for root from 172.17.0.1 port 1 ssh2\\n"
    ...           "Starting session: command for root from 172.17.0.1 port 1 id 0\\n")
    Trips(sessions=1, connections=1)
"""

from __future__ import annotations

import statistics
import subprocess
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Counter", "Trips", "count_log", "median_per_host"]

SESSION = "Starting session: "
CONNECTION = "Accepted publickey for "
# sshd hands its last lines to journald asynchronously: wait this long after a run.
SETTLE_S = 0.5


@dataclass(frozen=True)
class Trips:
    """One host's ssh channels (sessions) and connections during one run."""

    sessions: int
    connections: int


def count_log(text: str) -> Trips:
    """Count the sessions and connections in sshd's log lines (journal `-o cat` or stderr)."""
    lines = text.splitlines()
    return Trips(sum(SESSION in line for line in lines),
                 sum(CONNECTION in line for line in lines))


def median_per_host(counts: Sequence[int]) -> float | None:
    """The median over hosts; None when nothing was counted."""
    return statistics.median(counts) if counts else None


def _journal_dir(init_pid: int) -> list[str]:
    root = Path(f"/proc/{init_pid}/root")
    return [str(d) for base in ("var/log/journal", "run/log/journal")
            for d in sorted((root / base).glob("*")) if d.is_dir()]


def _journalctl(init_pid: int, *args: str) -> str:
    dirs = _journal_dir(init_pid)
    if not dirs:
        return ""
    argv = ["journalctl", "--no-pager", *[a for d in dirs for a in ("-D", d)], *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60,
                          check=False).stdout


def _cursor(init_pid: int) -> str:
    out = _journalctl(init_pid, "-n", "0", "--show-cursor")
    return next((line.split("cursor: ", 1)[1].strip() for line in out.splitlines()
                 if "cursor: " in line), "")


def _since_cursor(init_pid: int, cursor: str) -> str:
    where = ["--after-cursor", cursor] if cursor else []
    return _journalctl(init_pid, *where, "-t", "sshd", "-o", "cat")


class Counter:
    """Marks where every host's sshd log stands, then counts what came after.

        >>> counter = Counter.journals({"bench1": 4321})
        >>> counter.mark(); run_the_tool(); per_host = counter.count()
    """

    def __init__(self, journals: Mapping[str, int] | None = None,
                 containers: Mapping[str, str] | None = None) -> None:
        self.journals = dict(journals or {})  # host -> container init pid
        self.containers = dict(containers or {})  # host -> container whose stderr sshd logs to
        self._cursors: dict[str, str] = {}
        self._since = ""

    def mark(self) -> None:
        """Remember where each log ends now."""
        with ThreadPoolExecutor(max_workers=16) as pool:
            self._cursors = dict(zip(self.journals, pool.map(_cursor, self.journals.values()),
                                     strict=True))
        self._since = f"{time.time():.6f}"

    def count(self) -> dict[str, Trips]:
        """Host -> the sessions and connections logged since `mark`."""
        time.sleep(SETTLE_S)

        def journal(item: tuple[str, int]) -> tuple[str, Trips]:
            host, pid = item
            return host, count_log(_since_cursor(pid, self._cursors.get(host, "")))

        with ThreadPoolExecutor(max_workers=16) as pool:
            found = dict(pool.map(journal, self.journals.items()))
        for host, container in self.containers.items():
            logs = subprocess.run(["docker", "logs", "--since", self._since, container],
                                  capture_output=True, text=True, timeout=60, check=False)
            found[host] = count_log(logs.stdout + logs.stderr)
        return found
