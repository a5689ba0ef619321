"""The on-host restart decision, run in `sh` against a fake systemctl, agrees with the plan."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from remediations.host import systemd_guard
from remediations.host.systemd import parse_unit_state, plan_service_running, show_argv
from tests.unit.host.fake_systemd import FakeUnit

RUN_START = datetime(2026, 11, 23, 10, 0, 0, 250000, tzinfo=UTC)
UNIT = "nginx.service"


def show_text(load: str = "loaded", active: str = "active", since: str = "",
              file_state: str = "enabled", result: str = "success", pid: int = 100) -> str:
    return (f"Id={UNIT}\nLoadState={load}\nActiveState={active}\nSubState=x\nMainPID={pid}\n"
            f"ActiveEnterTimestamp={since}\nUnitFileState={file_state}\nResult={result}\n"
            "Type=forking\nCanReload=yes")


def stamp(when: datetime) -> str:
    return when.strftime("%a %Y-%m-%d %H:%M:%S.%f UTC")


SINCES = [
    "", "n/a",
    stamp(RUN_START - timedelta(hours=30)),          # yesterday
    stamp(RUN_START - timedelta(microseconds=1)),     # just before the run began
    stamp(RUN_START),                                 # the very microsecond
    stamp(RUN_START + timedelta(microseconds=1)),
    stamp(RUN_START + timedelta(days=40)),            # a later month: day part decides
    stamp(RUN_START - timedelta(days=400)),           # an earlier year
    "Mon 2026-11-23 09:00:00 UTC",                    # no microseconds (old systemd): Python plans
    "Mon 2026-11-23 11:00:00.000000 CET",             # not UTC: Python plans
]
STATES = list(itertools.product(
    ["loaded", "not-found", "masked"],
    ["active", "activating", "reloading", "inactive", "failed"],
    ["enabled", "masked"],
    SINCES,
))


def run_guard(tmp: Path, text: str, *, restart: bool, fails: dict[str, int] | None = None,
              shell: str = "sh") -> tuple[systemd_guard.Trip, FakeUnit, int]:
    host = FakeUnit(tmp, [text, show_text(pid=999, since=stamp(RUN_START + timedelta(seconds=1)))],
                    fails=fails)
    show = show_argv(UNIT)
    _, *script = systemd_guard.script(UNIT, show, restart=restart, run_started=RUN_START)
    res = host.run([shell, *script])
    trip = systemd_guard.parse(res, restart_command="systemctl restart nginx.service",
                               show_command=" ".join(show))
    return trip, host, res.exit_code


@pytest.mark.parametrize("shell", ["dash", "bash"])  # Debian's sh, and RHEL's
@pytest.mark.parametrize("restart", [True, False])
def test_the_host_decides_only_what_the_plan_would_and_leaves_the_rest(
        tmp_path: Path, restart: bool, shell: str) -> None:
    decided = 0
    for i, (load, active, file_state, since) in enumerate(STATES):
        text = show_text(load, active, since, file_state)
        trip, host, code = run_guard(tmp_path / str(i), text, restart=restart, shell=shell)
        planned = [list(s.argv) for s in plan_service_running(parse_unit_state(UNIT, text),
                                                        restart=restart, run_started=RUN_START)]
        case = (load, active, file_state, since, restart)
        assert trip.before is not None and parse_unit_state(UNIT, trip.before) == \
            parse_unit_state(UNIT, text), case
        if trip.plan == "restart":
            assert planned == [["systemctl", "restart", UNIT]], case
            assert host.actions == [f"restart {UNIT}"] and code == 0, case
            assert trip.after is not None and "MainPID=999" in trip.after.stdout, case
        elif trip.plan == "none":
            assert planned == [] and host.actions == [] and code == 0, case
        else:
            assert trip.plan == "slow" and code == systemd_guard.SLOW_EXIT, case
            assert host.actions == [] and host.reads == 1, case
        unusable = load != "loaded" or file_state == "masked"
        if trip.plan != "slow":
            decided += 1
            assert not unusable and active == "active", case
    # The common cases are decided on the host: active and loaded, for every stamp in UTC.
    assert decided == (8 if restart else len(SINCES))


def test_an_active_unit_started_before_the_run_is_restarted_and_read_back(tmp_path: Path) -> None:
    trip, host, code = run_guard(tmp_path, show_text(since=stamp(RUN_START - timedelta(hours=1))),
                                 restart=True)
    assert (trip.plan, host.actions, host.reads, code) == ("restart", [f"restart {UNIT}"], 2, 0)
    assert trip.acted is not None and trip.acted.succeeded


def test_a_unit_restarted_by_this_run_is_left_alone(tmp_path: Path) -> None:
    trip, host, _ = run_guard(tmp_path, show_text(since=stamp(RUN_START + timedelta(seconds=3))),
                              restart=True)
    assert (trip.plan, host.actions, host.reads) == ("none", [], 1)


def test_a_failed_restart_returns_its_exit_code_and_no_read_back(tmp_path: Path) -> None:
    trip, host, code = run_guard(tmp_path, show_text(since=stamp(RUN_START - timedelta(hours=1))),
                                 restart=True, fails={"restart": 1})
    assert trip.plan == "restart" and code == 1 and host.reads == 1
    assert trip.acted is not None and trip.acted.exit_code == 1 and trip.after is None


def test_a_failing_read_reports_no_plan(tmp_path: Path) -> None:
    res = FakeUnit(tmp_path, ["x"]).run(["sh", "-c", "exit 1"])
    trip = systemd_guard.parse(res, restart_command="r", show_command="s")
    assert (trip.before, trip.plan) == (None, "")


def test_a_unit_name_cannot_break_out_of_the_script(tmp_path: Path) -> None:
    # Validated names only reach the script; even so every name is quoted.
    odd = "a'b$(touch x).service"
    argv = systemd_guard.script(odd, show_argv("nginx.service"), restart=True,
                                run_started=RUN_START)
    assert "'a'\"'\"'b$(touch x).service'" in argv[2]
