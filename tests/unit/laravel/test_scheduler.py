"""The scheduler's timer paused and resumed (found by discovery or named), and overlap locks
released: decisions and commands. Cron lines: test_scheduler_cron.py."""

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
    parse_triggers,
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


REMEMBER = ["sh", "-c", f"echo r1 > {MARKER}"]


@pytest.mark.parametrize("state,expected", [
    (timer(), [["systemctl", "stop", UNIT], REMEMBER]),
    (timer(active=False), []),
])
def test_plan_paused(state: TimerState, expected: list[list[str]]) -> None:
    assert [list(s.argv) for s in plan_scheduler_paused(state, "r1")] == expected


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


def paused_by(run: str) -> TimerState:
    return parse_timer_state(UNIT, show("inactive"), paused_by_us=True, paused_by=run)


@pytest.mark.parametrize("state,expected,why", [
    (paused_by("r1"), [["systemctl", "start", UNIT], ["rm", "-f", MARKER]], ""),
    (paused_by("other"), [], "not paused by run r1"),            # someone else's pause
    (timer(active=False), [], "not paused by run r1"),           # stopped by hand
    (timer(), [], "already running"),
])
def test_plan_resumed_by_the_run_that_paused(state: TimerState, expected: list[list[str]],
                                             why: str) -> None:
    steps, reason = plan_scheduler_resumed(state, only_run="r1")
    assert [list(s.argv) for s in steps] == expected and reason == why


def record(active: str = "active", enabled: str = "enabled", marker: str = "-",
           unit: str = UNIT) -> str:
    return (f"timer\t{unit}\t{active}\t{enabled}\tlaravel-scheduler.service\t{marker}\t"
            "/srv/app/current\t/usr/bin/php /srv/app/current/artisan schedule:run --no-interaction\n")


def test_triggers_parse_timers_with_their_app_and_pause_marker() -> None:
    found = parse_triggers(record("inactive", marker="=r9") + "garbage\n")
    (state,) = found.timers
    assert (state.unit, state.active, state.paused_by_us, state.paused_by, state.app_dir) == (
        UNIT, False, True, "r9", "/srv/app/current")
    assert found.crontabs == () and found.active() == []


TRIGGERS = r"list-unit-files"


def timer_host(*records: str, shows: tuple[str, ...] = (), marker: bool = False) -> RecordingConnection:
    """A host whose discovery answers `records` in turn (the last one again and again)."""
    conn = RecordingConnection("web1")
    for text in records[:-1]:
        conn.on(TRIGGERS, stdout=text, times=1)
    conn.on(TRIGGERS, stdout=records[-1] if records else "")
    for text in shows:
        conn.on(r"^systemctl show", stdout=text)
    conn.on(r"^cat /run/lock", stdout="r1\n" if marker else "", exit_code=0 if marker else 1)
    return conn


def test_pause_stops_the_timer_and_remembers_the_run() -> None:
    conn = timer_host(record(), record("inactive", marker="=r1"))
    result = scheduler_paused(target(conn))
    assert result.status is Status.CHANGED, result.message
    assert result.commands == (f"systemctl stop {UNIT}", f"sh -c 'echo r1 > {MARKER}'")
    assert conn.round_trips == 4  # read, stop, remember, read back


def test_pause_check_mode_touches_nothing() -> None:
    conn = timer_host(record())
    result = scheduler_paused(target(conn, check=True))
    assert result.status is Status.CHANGED and result.message == f"would pause timer {UNIT}"
    assert result.commands == (f"systemctl stop {UNIT}", f"sh -c 'echo r1 > {MARKER}'")
    assert len(conn.commands) == 1 and not conn.commands_matching(r"systemctl (stop|start)")


def test_pause_when_paused_is_ok() -> None:
    result = scheduler_paused(target(timer_host(record("inactive", marker="=r1"))))
    assert result.status is Status.OK and result.commands == ()


def test_a_named_unit_is_read_with_systemctl_as_before() -> None:
    conn = timer_host(shows=(show(),))
    result = scheduler_paused(target(conn, check=True), unit=UNIT)
    assert result.status is Status.CHANGED and not conn.commands_matching(TRIGGERS)


def test_no_trigger_at_all_is_ok_to_pause_and_skipped_to_resume() -> None:
    assert scheduler_paused(target(timer_host(""))).status is Status.OK
    assert scheduler_resumed(target(timer_host(""))).status is Status.SKIPPED


def test_resume_of_a_timer_disabled_by_design_is_skipped() -> None:
    conn = timer_host(record("inactive", "disabled"))
    result = scheduler_resumed(target(conn))
    assert result.status is Status.SKIPPED and "not started" in result.message
    assert not conn.commands_matching(r"systemctl start")


def test_resume_starts_what_we_paused() -> None:
    conn = timer_host(record("inactive", marker="=r1"), record(), shows=(show(),))
    result = scheduler_resumed(target(conn))
    assert result.status is Status.CHANGED, result.message
    assert result.commands == (f"systemctl start {UNIT}", f"rm -f {MARKER}")
    assert "next tick Mon 2026-11-23 10:01:00 UTC" in result.message


def test_resume_of_this_run_leaves_a_pause_of_another_run() -> None:
    conn = timer_host(record("inactive", marker="=someone-else"))
    result = scheduler_resumed(target(conn), this_run=True)
    assert result.status is Status.OK and result.commands == ()
    assert "nothing paused by run r1" in result.message


def test_unknown_timer_fails_and_names_the_variable() -> None:
    result = scheduler_paused(target(timer_host(record(), shows=(show("inactive", "", "not-found"),)),
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
