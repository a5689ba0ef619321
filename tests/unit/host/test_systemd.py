"""Facts in, commands out: the decide-logic of service_running, without a host."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from remediations.connections.recording import RecordingConnection
from remediations.core.result import Status
from remediations.host.systemd import (
    UnitState,
    parse_timestamp,
    parse_unit_state,
    plan_service_running,
    service_running,
)
from remediations.run.target import RunContext, Target

RUN_START = datetime(2026, 11, 23, 10, 0, 0, tzinfo=UTC)
BEFORE = RUN_START - timedelta(hours=1)
AFTER = RUN_START + timedelta(seconds=5)


def unit(active: str = "active", sub: str = "running", since: datetime | None = BEFORE,
         result: str = "success", pid: int = 100) -> UnitState:
    return UnitState("nginx.service", "loaded", active, sub, pid, since, "enabled", result)


@pytest.mark.parametrize("state,restart,expected", [
    (unit(), True, [["systemctl", "restart", "nginx.service"]]),
    (unit(since=AFTER), True, []),                         # already restarted by this run
    (unit(), False, []),                                   # running is all that was asked
    (unit("inactive", "dead", None, pid=0), False, [["systemctl", "start", "nginx.service"]]),
    (unit("inactive", "dead", None, pid=0), True, [["systemctl", "start", "nginx.service"]]),
    (unit("failed", "failed", None, "start-limit-hit", 0), False,
     [["systemctl", "reset-failed", "nginx.service"], ["systemctl", "start", "nginx.service"]]),
    (unit("failed", "failed", None, "exit-code", 0), True,
     [["systemctl", "reset-failed", "nginx.service"], ["systemctl", "start", "nginx.service"]]),
    (unit("activating", "start", None, pid=0), False, []),
])
def test_plan_service_running(state: UnitState, restart: bool, expected: list[list[str]]) -> None:
    steps = plan_service_running(state, restart=restart, run_started=RUN_START)
    assert [list(s.argv) for s in steps] == expected


SHOW = """Id=nginx.service
LoadState=loaded
ActiveState=active
SubState=running
MainPID=4242
ActiveEnterTimestamp=Mon 2026-11-23 09:00:00.123456 UTC
UnitFileState=enabled
Result=success
Type=forking
"""


def test_parse_unit_state() -> None:
    s = parse_unit_state("nginx.service", SHOW)
    assert (s.active, s.main_pid, s.type) == (True, 4242, "forking")
    assert s.active_since == datetime(2026, 11, 23, 9, 0, 0, 123456, tzinfo=UTC)


@pytest.mark.parametrize("text,expected", [
    ("n/a", None), ("", None),
    ("Mon 2026-11-23 09:00:00 UTC", datetime(2026, 11, 23, 9, tzinfo=UTC)),
])
def test_parse_timestamp(text: str, expected: datetime | None) -> None:
    assert parse_timestamp(text) == expected


def target(conn: RecordingConnection, *, check: bool = False) -> Target:
    from tests.unit.helpers import host

    return Target(host("web1"), conn, RunContext("r1", RUN_START, check=check))


def show(pid: int, since: str = "Mon 2026-11-23 09:00:00.000000 UTC", active: str = "active") -> str:
    return SHOW.replace("4242", str(pid)).replace(
        "Mon 2026-11-23 09:00:00.123456 UTC", since).replace("ActiveState=active", f"ActiveState={active}")


def test_restart_runs_the_exact_command_and_verifies_a_new_pid() -> None:
    conn = RecordingConnection("web1")
    conn.on(r"^systemctl show", stdout=show(100), times=1)
    conn.on(r"^systemctl show", stdout=show(200, "Mon 2026-11-23 10:00:03.000000 UTC"))
    result = service_running(target(conn), "nginx", restart=True)
    assert result.status is Status.CHANGED, result.message
    assert result.commands == ("systemctl restart nginx.service",)
    assert conn.ran("systemctl", "restart", "nginx.service")
    assert result.data["main_pid"] == 200


def test_check_mode_lists_the_command_and_runs_nothing_that_changes() -> None:
    conn = RecordingConnection("web1").on(r"^systemctl show", stdout=show(100))
    result = service_running(target(conn, check=True), "nginx", restart=True)
    assert result.status is Status.CHANGED and result.check
    assert result.commands == ("systemctl restart nginx.service",)
    assert result.message.startswith("would restart")
    assert [a[:2] for a in conn.commands] == [("systemctl", "show")]


def test_second_run_with_same_start_is_ok_and_touches_nothing() -> None:
    conn = RecordingConnection("web1").on(
        r"^systemctl show", stdout=show(200, "Mon 2026-11-23 10:00:03.000000 UTC"))
    result = service_running(target(conn), "nginx", restart=True)
    assert result.status is Status.OK
    assert "already restarted by this run" in result.message
    assert [a[:2] for a in conn.commands] == [("systemctl", "show")]


def test_failed_start_reports_journal_as_evidence() -> None:
    conn = RecordingConnection("web1")
    conn.on(r"^systemctl show", stdout=show(0, "n/a", active="inactive"), times=1)
    conn.on(r"^systemctl start", exit_code=1, stderr="Job for nginx.service failed.")
    conn.on(r"^journalctl", stdout="nginx: [emerg] unknown directive")
    result = service_running(target(conn), "nginx")
    assert result.status is Status.FAILED
    assert "unknown directive" in result.evidence


def test_unknown_unit_fails_without_acting() -> None:
    conn = RecordingConnection("web1").on(r"^systemctl show", stdout="LoadState=not-found\n")
    result = service_running(target(conn), "nope")
    assert result.status is Status.FAILED and "not found" in result.message
    assert len(conn.commands) == 1
