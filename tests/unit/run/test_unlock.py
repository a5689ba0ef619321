"""lock_released: the lock of the run it is asked about goes; another run's lock stays."""

from __future__ import annotations

import shlex
from datetime import UTC, datetime, timedelta

import pytest

from remediations.connections.recording import RecordingConnection
from remediations.core.errors import HostLocked
from remediations.core.result import Status
from remediations.core.runs import LockOwner, RunContext
from remediations.run import locks
from remediations.run.target import Target
from remediations.run.unlock import lock_holder, lock_released
from tests.unit.helpers import host

HELD = "HELD\nowner={owner}\t2026-12-06T10:00:00+00:00\troot@ctl\nnow=5000\nmtime=1400\n"


def target(conn: RecordingConnection, run_id: str = "dead-run", check: bool = False) -> Target:
    return Target(host("web1"), conn, RunContext(run_id, datetime.now(UTC), check=check))


def held_then(owner: str, after: str = "FREE\n") -> RecordingConnection:
    """A host whose lock `owner` holds until it is released."""
    return (RecordingConnection("web1").on(r"if \[ -d", stdout=HELD.format(owner=owner), times=1)
            .on(r"if \[ -d", stdout=after))


def test_the_dead_run_s_lock_is_cleared_then_ok() -> None:
    conn = held_then("dead-run")
    result = lock_released(target(conn))
    assert result.status is Status.CHANGED
    assert result.message == "cleared run dead-run's lock (since 2026-12-06T10:00:00+00:00 by root@ctl, 60m); the lock is gone"
    assert result.commands == (shlex.join(locks.release_argv(target(conn).run)),)
    assert conn.commands_matching("rm -rf /run/lock/remediations.lock")
    again = lock_released(target(RecordingConnection("web1").on(r"if \[ -d", stdout="FREE\n")))
    assert again.status is Status.OK and again.commands == ()


def test_check_mode_names_the_lock_and_removes_nothing() -> None:
    conn = held_then("dead-run")
    result = lock_released(target(conn, check=True))
    assert result.status is Status.CHANGED and result.message.startswith("would clear run dead-run's lock")
    assert not conn.commands_matching("rm -rf")


def test_another_run_s_lock_is_left_alone() -> None:
    conn = held_then("live-run")
    result = lock_released(target(conn, run_id="dead-run"))
    assert result.status is Status.SKIPPED and result.data["locked_by"] == "live-run"
    assert "not run dead-run's; left alone" in result.message
    assert not conn.commands_matching("rm -rf")


def test_a_lock_that_stays_is_a_failure() -> None:
    conn = held_then("dead-run", after=HELD.format(owner="dead-run"))
    result = lock_released(target(conn))
    assert result.status is Status.FAILED and "still there" in result.message


def test_the_holder_and_its_age() -> None:
    owner, age = lock_holder(target(held_then("r1")))
    assert owner == LockOwner("r1", "2026-12-06T10:00:00+00:00", "root@ctl") and age == 3600


class AnnotatedLock:
    """A connection with a lock of its own, as a Deployment has."""

    name = "k8s-web"

    def __init__(self, line: str) -> None:
        self.line = line

    def run(self, argv: object, **kw: object) -> object:
        raise AssertionError("a Deployment's lock is not a file")

    def close(self) -> None: ...

    def peek_lock(self) -> str:
        return self.line

    def acquire_lock(self, run: RunContext, *, stale_after: float) -> None: ...

    def release_lock(self, run: RunContext) -> None:
        if self.line.startswith(run.run_id + "\t"):
            self.line = ""


def test_a_deployment_s_lock_is_cleared_through_its_annotation() -> None:
    since = (datetime.now(UTC) - timedelta(minutes=5)).isoformat(timespec="seconds")
    conn = AnnotatedLock(f"dead-run\t{since}\troot@ctl")
    t = Target(host("k8s-web"), conn, RunContext("dead-run", datetime.now(UTC)))  # type: ignore[arg-type]
    result = lock_released(t)
    assert result.status is Status.CHANGED and ", 5m)" in result.message and conn.line == ""
    assert lock_released(t).status is Status.OK


@pytest.mark.parametrize("age,stale,text", [
    (42, 3600, "(held 42s; taken as stale after 60m)"),
    (7300, 86400, "(held 2h01m; taken as stale after 24h00m)"),
    (None, None, "since 10:00"),
])
def test_a_held_lock_says_how_old_it_is_and_how_to_clear_it(age: float | None,
                                                              stale: float | None,
                                                              text: str) -> None:
    exc = HostLocked("web1", "r1", "10:00", age=age, stale_after=stale)
    assert str(exc).endswith(text)
    assert exc.hint == ("if run r1 is dead, resume it with --run-id r1 or clear its lock with "
                        "`unlock -l web1 --run-id r1`")
