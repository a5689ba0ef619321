"""The lock script runs for real, locally, against a temporary directory."""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from remediations.connections.local import LocalConnection
from remediations.core.errors import HostLocked
from remediations.run import locks
from remediations.run.target import RunContext


def ctx(run_id: str) -> RunContext:
    return RunContext(run_id, datetime.now(UTC), user="tester@here")


def test_second_run_is_refused_and_told_who_holds_it(tmp_path: Path) -> None:
    path = str(tmp_path / "lock")
    conn = LocalConnection()
    locks.acquire(conn, ctx("run-a"), path=path)
    with pytest.raises(HostLocked) as exc:
        locks.acquire(conn, ctx("run-b"), path=path)
    assert exc.value.owner == "run-a"
    assert "locked by run run-a since" in str(exc.value) and "tester@here" in str(exc.value)


def test_same_run_takes_its_own_lock_again_and_release_is_owner_only(tmp_path: Path) -> None:
    path = str(tmp_path / "lock")
    conn = LocalConnection()
    locks.acquire(conn, ctx("run-a"), path=path)
    locks.acquire(conn, ctx("run-a"), path=path)       # resumed run
    locks.release(conn, ctx("run-b"), path=path)        # not the owner: kept
    assert os.path.isdir(path)
    locks.release(conn, ctx("run-a"), path=path)
    assert not os.path.exists(path)


def test_stale_lock_is_broken(tmp_path: Path) -> None:
    path = tmp_path / "lock"
    conn = LocalConnection()
    locks.acquire(conn, ctx("crashed"), path=str(path))
    os.utime(path, (0, 0))  # pretend it was taken in 1970
    locks.acquire(conn, ctx("run-b"), path=str(path), stale_after=60)
    assert (path / "owner").read_text().startswith("run-b\t")


def test_exactly_one_of_many_concurrent_runs_wins(tmp_path: Path) -> None:
    path = str(tmp_path / "lock")
    winners: list[str] = []
    losers: list[str] = []

    def attempt(i: int) -> None:
        try:
            locks.acquire(LocalConnection(), ctx(f"run-{i}"), path=path)
            winners.append(f"run-{i}")
        except HostLocked:
            losers.append(f"run-{i}")

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(winners) == 1 and len(losers) == 7


def test_the_peek_script_says_free_or_names_the_holder_and_takes_nothing(tmp_path: Path) -> None:
    import subprocess

    from remediations.run.locks import peek_argv

    path = str(tmp_path / "remediations.lock")
    free = subprocess.run(peek_argv(path), capture_output=True, text=True, check=False)
    assert (free.returncode, free.stdout) == (0, "FREE\n")
    assert not (tmp_path / "remediations.lock").exists()
    (tmp_path / "remediations.lock").mkdir()
    owner = "other\t2026-11-23T10:00:00+00:00\tops@ctl"
    (tmp_path / "remediations.lock" / "owner").write_text(owner + "\n")
    held = subprocess.run(peek_argv(path), capture_output=True, text=True, check=False)
    lines = held.stdout.splitlines()
    assert held.returncode == 3 and lines[0] == "HELD"
    assert lines[1] == f"owner={owner}"
    assert lines[2].startswith("now=") and lines[3].startswith("mtime=")
