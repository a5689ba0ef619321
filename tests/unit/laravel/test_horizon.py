"""Horizon without a host: status as a fact, pause/continue, terminate once per run; and the
queue restart choosing horizon:terminate where Horizon runs."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from remediations.connections.recording import RecordingConnection
from remediations.core.result import Status
from remediations.laravel.horizon import (
    horizon_continued,
    horizon_paused,
    horizon_status,
    horizon_terminated,
)
from remediations.laravel.queue import (
    Worker,
    failed_jobs_listed,
    parse_workers,
    queue_restart_verified,
    queue_restarted,
    queue_worker_processes_job,
    workers_renewed,
)
from remediations.run.target import RunContext, Target
from tests.unit.helpers import host

APP = "/var/www/app"
ART = f"runuser -u www-data -- php {APP}/artisan"
PROBE = r"(?s)^sh -c .*list-unit-files"
MARK = "/run/lock/remediations.runs/r1/horizon-terminate@_var_www_app"


def probe(status: str, *masters: int) -> str:
    lines = ["systemd\tyes", "unit\tapache2.service\tenabled",
             "mod_php\t/etc/apache2/mods-enabled/php8.2.load"]
    lines += [f"proc\t{m}\twww-data\t{APP}\tphp artisan horizon" for m in masters]
    if status:
        lines += [f"horizon_rc\t{ {'running': 0, 'paused': 1}.get(status, 2) }",
                  f"horizon\t   INFO  Horizon is {status}."]
    return "\n".join(lines) + "\n"


def target(conn: RecordingConnection, *, check: bool = False, **hostvars: Any) -> Target:
    hv = {"app_path": APP, "app_user": "www-data", "ansible_user": "root", **hostvars}
    return Target(host("apache1", **hv), conn,
                  RunContext("r1", datetime(2026, 12, 6, tzinfo=UTC), check=check))


@pytest.mark.parametrize("answer,status,words", [
    (probe("running", 412), Status.OK, "Horizon is running (master pid 412)"),
    (probe("paused", 412), Status.FAILED, "horizon-continue"),
    (probe("inactive"), Status.FAILED, "supervisorctl start horizon"),
    (probe(""), Status.FAILED, "not installed"),
])
def test_status_is_a_fact_ok_only_when_running(answer: str, status: Status, words: str) -> None:
    conn = RecordingConnection().on(PROBE, stdout=answer)
    res = horizon_status(target(conn))
    assert res.status is status and words in res.message, res.message
    assert res.commands == () and conn.round_trips == 1


def test_pause_sends_pause_then_sees_paused() -> None:
    conn = RecordingConnection().on(PROBE, stdout=probe("running", 412), times=1)
    conn.on(PROBE, stdout=probe("paused", 412))
    res = horizon_paused(target(conn))
    assert res.status is Status.CHANGED, res.message
    assert res.commands == (f"{ART} horizon:pause",)
    assert res.message == "sent horizon:pause; horizon:status says paused"


def test_pause_when_paused_is_ok_and_continue_is_the_mirror() -> None:
    conn = RecordingConnection().on(PROBE, stdout=probe("paused", 412))
    res = horizon_paused(target(conn))
    assert (res.status, res.commands, res.message) == (Status.OK, (), "Horizon already paused")
    conn = RecordingConnection().on(PROBE, stdout=probe("paused", 412), times=1)
    conn.on(PROBE, stdout=probe("running", 412))
    res = horizon_continued(target(conn))
    assert res.status is Status.CHANGED and res.commands == (f"{ART} horizon:continue",)


def test_pause_check_mode_plans_only() -> None:
    conn = RecordingConnection().on(PROBE, stdout=probe("running", 412))
    res = horizon_paused(target(conn, check=True))
    assert res.status is Status.CHANGED and res.message == "would pause Horizon"
    assert res.commands == (f"{ART} horizon:pause",)
    assert not conn.commands_matching("horizon:pause")


def test_pause_that_never_shows_fails() -> None:
    conn = RecordingConnection().on(PROBE, stdout=probe("running", 412))
    res = horizon_paused(target(conn), timeout=0.01)
    assert res.status is Status.FAILED and "says running after 0.01s, not paused" in res.message


def test_pause_of_a_stopped_horizon_fails_with_how_to_start_it() -> None:
    conn = RecordingConnection().on(PROBE, stdout=probe("inactive"))
    res = horizon_paused(target(conn))
    assert res.status is Status.FAILED and "start it" in res.message and res.commands == ()


def test_terminate_sees_a_new_master_then_marks_the_run() -> None:
    conn = RecordingConnection().on(r"^test -e", exit_code=1)
    conn.on(PROBE, stdout=probe("running", 412), times=1)
    conn.on(PROBE, stdout=probe("inactive"), times=1)      # the old master has exited
    conn.on(PROBE, stdout=probe("running", 977))
    res = horizon_terminated(target(conn))
    assert res.status is Status.CHANGED, res.message
    assert res.commands[0] == f"{ART} horizon:terminate"
    assert MARK in res.commands[1]
    assert "new master running (pid 412 -> 977)" in res.message
    assert res.data["masters"] == [977]


def test_terminate_once_per_run_and_check_mode_plans_only() -> None:
    done = RecordingConnection().on(r"^test -e", exit_code=0)
    again = horizon_terminated(target(done))
    assert again.status is Status.OK and "already terminated" in again.message
    assert [c[0] for c in done.commands] == ["test"]
    conn = RecordingConnection().on(r"^test -e", exit_code=1).on(PROBE, stdout=probe("running", 412))
    check = horizon_terminated(target(conn, check=True))
    assert check.status is Status.CHANGED and check.commands[0] == f"{ART} horizon:terminate"
    assert not conn.commands_matching("horizon:terminate|mkdir")


def test_terminate_that_brings_no_new_master_fails() -> None:
    conn = RecordingConnection().on(r"^test -e", exit_code=1).on(PROBE, stdout=probe("running", 412))
    res = horizon_terminated(target(conn), timeout=0.01)
    assert res.status is Status.FAILED and "no new running master" in res.message


def test_queue_restart_where_horizon_runs_is_horizon_terminate() -> None:
    conn = RecordingConnection().on(r"^test -e", exit_code=1)
    conn.on(PROBE, stdout=probe("running", 412), times=1)
    conn.on(PROBE, stdout=probe("running", 978))
    res = queue_restarted(target(conn))
    assert res.remediation == "queue_restarted" and res.status is Status.CHANGED, res.message
    assert res.message.startswith("Horizon runs here: sent horizon:terminate")
    assert res.commands[0] == f"{ART} horizon:terminate"
    assert not conn.commands_matching("queue:restart|supervisorctl")


WORKERS = ("7 2225835 www-data php artisan queue:work redis --sleep=1\n"
           "67 2257702 www-data php /srv/app/current/artisan queue:work redis\n")


def test_workers_are_parsed_and_renewal_needs_new_identities() -> None:
    before = parse_workers(WORKERS)
    assert before[0] == Worker(7, 2225835, "www-data", "php artisan queue:work redis --sleep=1")
    same_pid_new_process = [Worker(7, 2230000, "www-data", "x"), Worker(68, 2230001, "w", "x")]
    assert workers_renewed(before, same_pid_new_process)
    assert not workers_renewed(before, [before[0], Worker(68, 1, "w", "x")])
    assert not workers_renewed(before, [Worker(90, 1, "w", "x")])     # one came back of two


def test_queue_restart_without_supervisorctl_watches_the_processes() -> None:
    conn = RecordingConnection().on(r"^test -e", exit_code=1)
    conn.on(PROBE, stdout="systemd\tno\n")
    conn.on(r"^supervisorctl", exit_code=127, stderr="sh: supervisorctl: not found")
    conn.on(r"artisan queue:work", stdout=WORKERS, times=1)
    conn.on(r"artisan queue:work", exit_code=1, stderr="container is restarting", times=1)
    conn.on(r"artisan queue:work", stdout="7 2300000 www-data php artisan queue:work redis\n"
                                         "70 2300001 www-data php artisan queue:work redis\n")
    res = queue_restarted(target(conn, app_path="/srv/app/current"))
    assert res.status is Status.CHANGED, res.message
    assert res.commands[0] == "runuser -u www-data -- php /srv/app/current/artisan queue:restart"
    assert "2 worker process(es) replaced (pids 7, 67 -> 7, 70)" in res.message


def test_queue_restart_verified_names_the_workers_left() -> None:
    conn = RecordingConnection().on(r"artisan queue:work", stdout=WORKERS)
    check = queue_restart_verified(conn, parse_workers(WORKERS), timeout=0.01, interval=0.01)
    assert not check.ok and "still running: pid(s) 7, 67" in check.message
    assert "queue:work processes now" in check.evidence


# -- the queue's smoke check and failed-job listing -----------------------------------------

SMOKE_PUSH = r"(?s)^runuser .*php -r .*QueuedCommand.* push remediations-smoke$"
SMOKE_SIZE = r"(?s)^runuser .*php -r .*QueuedCommand.* size remediations-smoke$"
WORK = r"artisan queue:work --once --queue=remediations-smoke"
PUSHED = '{"connection":"redis","driver":"redis","queue":"remediations-smoke","size":1,"pushed":true}'
EMPTY = '{"connection":"redis","driver":"redis","queue":"remediations-smoke","size":0,"pushed":false}'
L8_DONE = ("[2026-12-06 17:08:05][x7g] Processing: Illuminate\\Foundation\\Console\\QueuedCommand\n"
           "[2026-12-06 17:08:05][x7g] Processed:  Illuminate\\Foundation\\Console\\QueuedCommand\n")
L9_DONE = "  2026-12-06 17:08:05 Illuminate\\Foundation\\Console\\QueuedCommand ..... 3ms DONE\n"


def smoke_host(work: str, *, size_after: str = EMPTY, exit_code: int = 0) -> RecordingConnection:
    conn = RecordingConnection().on(r"^test -e", exit_code=1)
    conn.on(SMOKE_PUSH, stdout=PUSHED).on(SMOKE_SIZE, stdout=size_after)
    conn.on(WORK, stdout=work, exit_code=exit_code)
    return conn


@pytest.mark.parametrize("work", [L8_DONE, L9_DONE])
def test_smoke_job_pushed_worked_and_the_queue_left_empty(work: str) -> None:
    conn = smoke_host(work)
    res = queue_worker_processes_job(target(conn, app_path="/srv/app/current"))
    assert res.status is Status.CHANGED, res.message
    assert res.message == ("a worker processed the smoke job on remediations-smoke (redis); "
                           "remediations-smoke is empty")
    assert res.commands[1] == ("runuser -u www-data -- timeout 60 php /srv/app/current/artisan "
                               "queue:work --once --queue=remediations-smoke --stop-when-empty "
                               "--tries=1 --timeout=59")
    assert "queue-smoke@remediations-smoke" in res.commands[2]
    assert [c for c in conn.command_lines if "mkdir" in c] == [res.commands[2]]


@pytest.mark.parametrize("work,size,code,why", [
    ("  ... QueuedCommand ..... 3ms FAIL\n", EMPTY, 0, "the job failed"),
    ("", EMPTY, 0, "did not report the job processed"),
    (L8_DONE, PUSHED, 0, "still holds 1 job(s)"),
    ("Killed", EMPTY, 124, "queue:work exited 124"),
])
def test_smoke_failures_name_the_reason(work: str, size: str, code: int, why: str) -> None:
    conn = smoke_host(work, size_after=size, exit_code=code)
    res = queue_worker_processes_job(target(conn, app_path="/srv/app/current"))
    assert res.status is Status.FAILED and why in res.message, res.message
    assert not conn.commands_matching("mkdir")                 # not marked: run again to retry


def test_smoke_once_per_run_check_mode_plans_and_sync_is_refused() -> None:
    done = RecordingConnection().on(r"^test -e", exit_code=0)
    res = queue_worker_processes_job(target(done, app_path="/srv/app/current"))
    assert res.status is Status.OK and res.commands == ()
    conn = smoke_host(L8_DONE)
    res = queue_worker_processes_job(target(conn, check=True, app_path="/srv/app/current"))
    assert res.status is Status.CHANGED and len(res.commands) == 3
    assert not conn.commands_matching("php")                    # nothing pushed, nothing run
    sync = RecordingConnection().on(r"^test -e", exit_code=1)
    sync.on(SMOKE_PUSH, stdout='{"connection":"sync","driver":"sync","size":0,"pushed":false}')
    res = queue_worker_processes_job(target(sync, app_path="/srv/app/current"))
    assert res.status is Status.FAILED and "is sync: no worker to check" in res.message
    assert not sync.commands_matching("queue:work")


def test_failed_jobs_listed_is_a_fact() -> None:
    listing = {"total": 2, "jobs": [
        {"id": "5f1e", "connection": "redis", "queue": "default", "job": "App\\Jobs\\Ping",
         "failed_at": "2026-12-06 17:00:00", "exception": "RuntimeException: boom in Ping.php:21"},
        {"id": "6a2b", "connection": "redis", "queue": "mail", "job": "App\\Jobs\\Mail",
         "failed_at": "2026-12-06 16:00:00", "exception": "Error: x"}]}
    conn = RecordingConnection().on(r"(?s)php -r .*queue\.failer", stdout=json.dumps(listing))
    res = failed_jobs_listed(target(conn, app_path="/srv/app/current"))
    assert res.status is Status.FAILED and res.commands == ()
    assert res.message.startswith("2 failed job(s); newest 5f1e on default at 2026-12-06 "
                                  "17:00:00: RuntimeException: boom in Ping.php:21")
    assert [j["id"] for j in res.data["jobs"]] == ["5f1e", "6a2b"]
    none = RecordingConnection().on(r"queue\.failer", stdout='{"total":0,"jobs":[]}')
    assert failed_jobs_listed(target(none)).status is Status.OK
    broken = RecordingConnection().on(r"queue\.failer", exit_code=255, stdout="PHP Fatal error")
    res = failed_jobs_listed(target(broken))
    assert res.status is Status.FAILED and "could not list" in res.message
