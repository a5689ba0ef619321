"""Cron lines that run schedule:run: found, paused with the run id, restored exactly; doubles found."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from remediations.connections.recording import RecordingConnection
from remediations.core.result import Result, Status
from remediations.laravel.cron import (
    Crontab,
    app_dir_of,
    paused_text,
    plan_cron_paused,
    plan_cron_resumed,
    restored_text,
    runs_schedule,
)
from remediations.laravel.scheduler import parse_triggers, scheduler_paused, scheduler_resumed
from remediations.laravel.scheduler_status import (
    doubled,
    hosts_triggering_same_app,
    parse_schedule_list,
    scheduler_status,
)
from remediations.run.target import RunContext, Target
from tests.unit.helpers import host

FORGE = "* * * * * cd /var/www/app && php artisan schedule:run >> /dev/null 2>&1"
TAB = f"MAILTO=ops@example.com\n# the scheduler\n{FORGE}\n"
PAUSED = f"MAILTO=ops@example.com\n# the scheduler\n#remediations-paused:r1: {FORGE}\n"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def target(conn: RecordingConnection, *, check: bool = False, app: str = "/var/www/app") -> Target:
    return Target(host("apache1", app_path=app, app_user="www-data", ansible_user="root"), conn,
                  RunContext("r1", datetime(2026, 12, 6, tzinfo=UTC), check=check))


@pytest.mark.parametrize("line,runs,app", [
    (FORGE, True, "/var/www/app"),
    ("* * * * * php /srv/app/current/artisan schedule:run", True, "/srv/app/current"),
    ("* * * * * www-data cd '/srv/app' && php artisan schedule:run", True, "/srv/app"),
    ("# * * * * * php artisan schedule:run", False, ""),
    ("* * * * * php artisan schedule:list", False, ""),
    ("* * * * * php artisan schedule:run-later", False, ""),
])
def test_which_lines_run_the_scheduler_and_for_which_app(line: str, runs: bool, app: str) -> None:
    assert runs_schedule(line) is runs
    if runs:
        assert app_dir_of(line) == app


def test_pause_comments_out_with_the_run_id_and_resume_restores_exactly() -> None:
    assert paused_text(TAB, "r1", [3]) == PAUSED
    assert restored_text(PAUSED, [3]) == TAB
    tab = Crontab("crontab:www-data", PAUSED)
    (line,) = tab.lines()
    assert (line.number, line.line, line.paused_by) == (3, FORGE, "r1")


def test_user_crontabs_go_through_crontab_and_files_are_replaced_atomically() -> None:
    steps, changes = plan_cron_paused([Crontab("crontab:www-data", TAB)], "r1", "/var/www/app")
    (step,) = steps
    assert step.argv[:2] == ("sh", "-c") and step.argv[2].endswith("| base64 -d | crontab -u www-data -")
    assert b64(PAUSED) in step.argv[2] and changes[0][1] == PAUSED
    steps, _ = plan_cron_paused([Crontab("/etc/cron.d/app", "* * * * * root " + FORGE[10:] + "\n")],
                                "r1", "/var/www/app")
    assert "mv -f /etc/cron.d/app.remediations.tmp /etc/cron.d/app" in steps[0].argv[2]


def test_another_apps_line_and_a_pause_of_another_run() -> None:
    other = "* * * * * cd /var/www/other && php artisan schedule:run\n"
    assert plan_cron_paused([Crontab("crontab:www-data", other)], "r1", "/var/www/app") == ([], [])
    theirs = Crontab("crontab:www-data", PAUSED.replace(":r1:", ":r0:"))
    assert plan_cron_resumed([theirs], "/var/www/app", only_run="r1") == ([], [])
    assert len(plan_cron_resumed([theirs], "/var/www/app")[0]) == 1  # a plain resume takes it


def cron_host(*tabs: str) -> RecordingConnection:
    conn = RecordingConnection("apache1")
    for text in tabs[:-1]:
        conn.on(r"list-unit-files", stdout=f"crontab\twww-data\t{b64(text)}\n", times=1)
    conn.on(r"list-unit-files", stdout=f"crontab\twww-data\t{b64(tabs[-1])}\n")
    return conn


def test_pause_and_resume_a_cron_driven_scheduler() -> None:
    paused = scheduler_paused(target(cron_host(TAB, PAUSED)))
    assert paused.status is Status.CHANGED, paused.message
    assert paused.diff is not None and f"-{FORGE}" in paused.diff.unified()
    assert scheduler_paused(target(cron_host(PAUSED))).status is Status.OK
    resumed = scheduler_resumed(target(cron_host(PAUSED, TAB)))
    assert resumed.status is Status.CHANGED and b64(TAB) in resumed.commands[0]
    assert scheduler_resumed(target(cron_host(TAB))).status is Status.OK


def test_check_mode_plans_the_same_commands_and_runs_none() -> None:
    conn = cron_host(TAB)
    checked = scheduler_paused(target(conn, check=True))
    real = scheduler_paused(target(cron_host(TAB, PAUSED)))
    assert checked.status is Status.CHANGED and checked.commands == real.commands
    assert len(conn.commands) == 1


def test_a_pause_that_did_not_hold_fails() -> None:
    result = scheduler_paused(target(cron_host(TAB)))  # read back: still active
    assert result.status is Status.FAILED and "still running" in result.message


SCHEDULE_8 = """\
+------------------------------------------+-----------+-------------+----------------------------+
| Command                                  | Interval  | Description | Next Due                   |
+------------------------------------------+-----------+-------------+----------------------------+
| '/usr/bin/php8.2' 'artisan' lab:heartbeat | * * * * * |             | 2026-12-06 17:07:00 +00:00 |
+------------------------------------------+-----------+-------------+----------------------------+
"""
SCHEDULE_10 = "  0 0 * * *  php artisan queue:prune-failed .......... Next Due: 6 hours from now\n"


def test_schedule_list_of_laravel_8_and_10() -> None:
    (t8,) = parse_schedule_list(SCHEDULE_8)
    assert (t8.command, t8.expression, t8.next_due) == (
        "'/usr/bin/php8.2' 'artisan' lab:heartbeat", "* * * * *", "2026-12-06 17:07:00 +00:00")
    (t10,) = parse_schedule_list(SCHEDULE_10)
    assert (t10.expression, t10.command, t10.next_due) == (
        "0 0 * * *", "php artisan queue:prune-failed", "6 hours from now")


TIMER = ("timer\tlaravel-scheduler.timer\tactive\tenabled\tlaravel-scheduler.service\t-\t"
         "/var/www/app\t/usr/bin/php artisan schedule:run\n")


def test_a_timer_and_a_cron_line_for_one_app_are_a_double_trigger() -> None:
    found = parse_triggers(TIMER + f"crontab\twww-data\t{b64(TAB)}\n")
    assert doubled(found, "/var/www/app") == {
        "/var/www/app": ["timer laravel-scheduler.timer", "cron line 3 of crontab of www-data"]}
    assert doubled(parse_triggers(f"crontab\twww-data\t{b64(PAUSED)}\n" + TIMER)) == {}


def test_status_fails_on_a_double_trigger_and_lists_the_schedule() -> None:
    conn = RecordingConnection("apache1")
    conn.on(r"list-unit-files", stdout=TIMER + f"crontab\twww-data\t{b64(TAB)}\n")
    conn.on(r"schedule:list", stdout=SCHEDULE_8)
    result = scheduler_status(target(conn))
    assert result.status is Status.FAILED and "triggered twice" in result.message
    assert result.data["active"] == 2 and result.data["schedule"][0]["expression"] == "* * * * *"
    assert conn.round_trips == 1


def status(name: str, app: str, active: int) -> Result:
    return Result(name, "scheduler_status", Status.OK, "", data={"app": app, "active": active})


def test_hosts_that_trigger_the_same_app() -> None:
    results = [status("web1", "/srv/app/current", 1), status("web2", "/srv/app/current", 1),
               status("db1", "/srv/app/current", 0), status("apache1", "/var/www/app", 1)]
    assert hosts_triggering_same_app(results) == {"/srv/app/current": ["web1", "web2"]}
    assert hosts_triggering_same_app({r.host: r for r in results[2:]}) == {}
