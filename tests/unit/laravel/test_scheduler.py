"""The scheduler's timer paused and resumed, and overlap locks released: decisions and commands."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from remediations.connections.recording import RecordingConnection
from remediations.core.result import Status
from remediations.laravel.scheduler import (
    TimerState,
    marker_path,
    parse_timer_state,
    plan_scheduler_paused,
    plan_scheduler_resumed,
    schedule_cache_cleared,
    scheduler_paused,
    scheduler_resumed,
)
from remediations.run.target import RunContext, Target
from tests.unit.helpers import host

UNIT = "laravel-scheduler.timer"
MARKER = marker_path(UNIT)


def target(conn: RecordingConnection, *, check: bool = False, **hostvars: str) -> Target:
    h = host("web1", app_path="/srv/app/current", app_user="www-data", ansible_user="root",
             **hostvars)
    return Target(h, conn, RunContext("r1", datetime(2026, 11, 23, tzinfo=UTC), check=check))


def show(active: str = "active", enabled: str = "enabled", load: str = "loaded") -> str:
    return (f"Id={UNIT}\nLoadState={load}\nActiveState={active}\nSubState=waiting\n"
            f"UnitFileState={enabled}\nTriggers=laravel-scheduler.service\n"
            "NextElapseUSecRealtime=Mon 2026-11-23 10:01:00 UTC\n")


def timer(active: bool = True, enabled: str = "enabled", ours: bool = False) -> TimerState:
    return parse_timer_state(UNIT, show("active" if active else "inactive", enabled),
                             paused_by_us=ours)


@pytest.mark.parametrize("state,expected", [
    (timer(), [["systemctl", "stop", UNIT], ["touch", MARKER]]),
    (timer(active=False), []),
])
def test_plan_paused(state: TimerState, expected: list[list[str]]) -> None:
    assert [list(s.argv) for s in plan_scheduler_paused(state)] == expected


@pytest.mark.parametrize("state,expected,why", [
    (timer(), [], "already running"),
    (timer(active=False, ours=True, enabled="disabled"),
     [["systemctl", "start", UNIT], ["rm", "-f", MARKER]], ""),
    (timer(active=False, ours=True), [["systemctl", "start", UNIT], ["rm", "-f", MARKER]], ""),
    (timer(active=False), [["systemctl", "start", UNIT]], ""),          # enabled, stopped by hand
    (timer(active=False, enabled="disabled"), [], "disabled on this host and not paused by remediations"),
])
def test_plan_resumed(state: TimerState, expected: list[list[str]], why: str) -> None:
    steps, reason = plan_scheduler_resumed(state)
    assert [list(s.argv) for s in steps] == expected and reason == why


def timer_host(*shows: str, marker: bool = False) -> RecordingConnection:
    conn = RecordingConnection("web1")
    for text in shows[:-1]:
        conn.on(r"^systemctl show", stdout=text, times=1)
    conn.on(r"^systemctl show", stdout=shows[-1])
    conn.on(r"^test -e", exit_code=0 if marker else 1)
    return conn


def test_pause_stops_the_timer_and_remembers() -> None:
    conn = timer_host(show(), show("inactive"))
    result = scheduler_paused(target(conn))
    assert result.status is Status.CHANGED, result.message
    assert result.commands == (f"systemctl stop {UNIT}", f"touch {MARKER}")


def test_pause_check_mode_touches_nothing() -> None:
    conn = timer_host(show())
    result = scheduler_paused(target(conn, check=True))
    assert result.status is Status.CHANGED and result.message == f"would stop {UNIT}"
    assert {a[0] for a in conn.commands} == {"systemctl", "test"}
    assert not conn.commands_matching(r"systemctl (stop|start)")


def test_pause_when_paused_is_ok() -> None:
    result = scheduler_paused(target(timer_host(show("inactive"), marker=True)))
    assert result.status is Status.OK and result.commands == ()


def test_resume_of_a_timer_disabled_by_design_is_skipped() -> None:
    conn = timer_host(show("inactive", "disabled"))
    result = scheduler_resumed(target(conn))
    assert result.status is Status.SKIPPED and "not started" in result.message
    assert not conn.commands_matching(r"systemctl start")


def test_resume_starts_what_we_paused() -> None:
    conn = timer_host(show("inactive"), show(), marker=True)
    result = scheduler_resumed(target(conn))
    assert result.status is Status.CHANGED, result.message
    assert result.commands == (f"systemctl start {UNIT}", f"rm -f {MARKER}")
    assert "next tick Mon 2026-11-23 10:01:00 UTC" in result.message


def test_unknown_timer_fails_and_names_the_variable() -> None:
    result = scheduler_paused(target(timer_host(show("inactive", "", "not-found")),
                                     scheduler_unit="cron-scheduler.timer"))
    assert result.status is Status.FAILED and "scheduler_unit" in result.message
    assert "cron-scheduler.timer" in result.message


def test_schedule_locks_are_released_with_clear_cache() -> None:
    lock = {"command": "artisan queue:prune-failed", "expression": "0 0 * * *", "mutex": "m"}
    conn = RecordingConnection("web1")
    conn.on(r"php -r", stdout=json.dumps({"mutexes": [lock]}), times=1)
    conn.on(r"php -r", stdout=json.dumps({"mutexes": []}))
    result = schedule_cache_cleared(target(conn))
    assert result.status is Status.CHANGED, result.message
    assert result.commands == (
        "runuser -u www-data -- php /srv/app/current/artisan schedule:clear-cache",)
    assert result.data["locks"] == [lock]


def test_no_locks_is_ok() -> None:
    conn = RecordingConnection("web1").on(r"php -r", stdout='{"mutexes": []}')
    result = schedule_cache_cleared(target(conn))
    assert result.status is Status.OK and result.message == "no overlap lock held"
