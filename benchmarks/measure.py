"""Wall time and peak memory of a command and every process it starts.

Peak memory is the largest sum of the resident set sizes of the command's processes,
sampled every `interval` seconds. The processes are those of a memory cgroup made for the
run (so a daemonized child, such as an ssh ControlMaster, still counts), or, where no
cgroup can be made, the command's process tree (`/proc/<pid>/task/*/children`).

    >>> m = measure(["python", "-c", "print(1)"])
    >>> m.rc, m.wall_s > 0, m.peak_rss > 0
    (0, True, True)
"""

from __future__ import annotations

import contextlib
import itertools
import os
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Measurement", "measure"]

_PAGE = os.sysconf("SC_PAGE_SIZE")
_MEMORY_ROOT = Path("/sys/fs/cgroup/memory")
_serial = itertools.count()


@dataclass(frozen=True)
class Measurement:
    """One run of one command: exit code, wall seconds, peak RSS of its processes, output."""

    argv: tuple[str, ...]
    rc: int
    wall_s: float
    peak_rss: int
    peak_processes: int
    stdout: str
    stderr: str
    tracked_by: str  # "cgroup" or "tree"

    @property
    def ok(self) -> bool:
        return self.rc == 0


def _own_memory_cgroup() -> Path | None:
    """The memory cgroup (v1) this process is in, as a directory we may create groups in."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):
            here = _MEMORY_ROOT / path.lstrip("/")
            return here if here.is_dir() and os.access(here, os.W_OK) else None
    return None


@contextlib.contextmanager
def _cgroup() -> Iterator[Path | None]:
    parent = _own_memory_cgroup()
    if parent is None:
        yield None
        return
    group = parent / f"rembench-{os.getpid()}-{next(_serial)}"
    try:
        group.mkdir()
    except OSError:
        yield None
        return
    try:
        yield group
    finally:
        # Processes still alive (ControlPersist masters) go back to our own group.
        for pid in _procs(group):
            with contextlib.suppress(OSError):
                (parent / "cgroup.procs").write_text(str(pid))
        with contextlib.suppress(OSError):
            group.rmdir()


def _procs(group: Path) -> list[int]:
    try:
        return [int(p) for p in (group / "cgroup.procs").read_text().split()]
    except OSError:
        return []


def _tree(root: int) -> list[int]:
    pids, todo = [], [root]
    while todo:
        pid = todo.pop()
        pids.append(pid)
        with contextlib.suppress(OSError):
            for task in os.listdir(f"/proc/{pid}/task"):
                with contextlib.suppress(OSError):
                    todo.extend(int(c) for c in
                                Path(f"/proc/{pid}/task/{task}/children").read_text().split())
    return pids


def _rss(pids: Sequence[int]) -> int:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/statm", "rb") as fh:
                total += int(fh.read().split()[1]) * _PAGE
        except (OSError, IndexError, ValueError):
            continue  # exited between listing and reading
    return total


def measure(argv: Sequence[str], *, cwd: Path | None = None, env: Mapping[str, str] | None = None,
            interval: float = 0.01, timeout: float = 1800) -> Measurement:
    """Run `argv` to completion; return its exit code, wall time and peak process-tree RSS."""
    full_env = {**os.environ, **(env or {})}
    with _cgroup() as group, tempfile.TemporaryFile("w+") as out, \
            tempfile.TemporaryFile("w+") as err:
        join = (lambda: (group / "cgroup.procs").write_text("0")) if group else None
        peak = [0, 0]
        started = time.perf_counter()
        proc = subprocess.Popen(list(argv), cwd=cwd, env=full_env, stdin=subprocess.DEVNULL,
                                stdout=out, stderr=err, text=True, preexec_fn=join)
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                pids = _procs(group) if group else _tree(proc.pid)
                rss = _rss(pids)
                if rss > peak[0]:
                    peak[0], peak[1] = rss, len(pids)
                done.wait(interval)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait()
        wall = time.perf_counter() - started
        done.set()
        sampler.join(timeout=5)
        out.seek(0)
        err.seek(0)
        return Measurement(tuple(argv), rc, wall, peak[0], peak[1], out.read(), err.read(),
                           "cgroup" if group else "tree")
