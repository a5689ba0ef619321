"""The queue without a host: length as a fact, queue:restart once per run, failed jobs."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from remediations.connections.recording import RecordingConnection
from remediations.core.errors import InvalidInput
from remediations.core.result import Status
from remediations.laravel.app import artisan_argv
from remediations.laravel.queue import (
    FailedJob,
    failed_jobs_forgotten,
    failed_jobs_retried,
    job_ids,
    parse_failed_jobs,
    queue_drained,
    queue_length,
    queue_restarted,
)
from remediations.run.target import RunContext, Target

PW = "s3cret-pass"
ART = "runuser -u www-data -- php /srv/app/current/artisan"
U1 = "e0da6a46-0077-4da9-80f2-7ec6ebe85cef"
U2 = "5f1e0000-0000-4000-8000-000000000002"


def target(conn: RecordingConnection, *, check: bool = False, **hostvars: object) -> Target:
    from tests.unit.helpers import host

    base: dict[str, object] = {"redis_password": PW, "app_path": "/srv/app/current",
                               "app_user": "www-data", "ansible_user": "root"}
    # the runtime probe (remediations.laravel.runtime): php-fpm + nginx, no Horizon
    conn.on(r"(?s)^sh -c .*list-unit-files", stdout="systemd\tyes\nunit\tphp8.2-fpm.service\t"
            "enabled\nunit\tnginx.service\tenabled\n")
    return Target(host("web1", **{**base, **hostvars}), conn,
                  RunContext("r1", datetime(2026, 11, 23, tzinfo=UTC), check=check))


def test_queue_length_is_one_eval_with_the_password_in_the_environment() -> None:
    conn = RecordingConnection().on(r"EVAL", stdout="12\n3\n2\n")
    result = queue_length(target(conn), "default")
    assert result.status is Status.OK
    assert result.message == "queues:default: 12 waiting, 3 delayed, 2 reserved"
    assert result.data["length"] == 12 and result.data["reserved"] == 2
    (argv,) = conn.commands
    assert argv[:3] == ("env", f"REDISCLI_AUTH={PW}", "redis-cli") and "-a" not in argv
    assert argv[-4:] == ("3", "queues:default", "queues:default:delayed", "queues:default:reserved")
    assert PW not in repr(result)


def test_queue_length_with_max_is_a_check_and_prefix_is_honoured() -> None:
    conn = RecordingConnection().on(r"EVAL", stdout="1001\n0\n0\n")
    result = queue_length(target(conn, redis_prefix="laravel_database_"), max_length=1000)
    assert result.status is Status.FAILED and "more than 1000" in result.message
    assert "laravel_database_queues:default" in conn.commands[0]


def test_queue_length_reports_redis_errors_masked() -> None:
    conn = RecordingConnection().on(r"EVAL", exit_code=1, stdout="NOAUTH Authentication required.",
                                    stderr=f"AUTH failed for {PW}")
    result = queue_length(target(conn))
    assert result.status is Status.FAILED and "NOAUTH" in result.message
    assert PW not in repr(result)


@pytest.mark.parametrize("bad", ["de fault", "a;b", "", "-x", "q\n"])
def test_queue_names_are_validated(bad: str) -> None:
    with pytest.raises(InvalidInput):
        queue_length(target(RecordingConnection()), bad)


def test_drained_polls_until_empty() -> None:
    conn = RecordingConnection()
    conn.on(r"EVAL", stdout="5\n0\n0\n", times=2).on(r"EVAL", stdout="0\n0\n1\n")
    result = queue_drained(target(conn), interval=0.01, timeout=5)
    assert result.status is Status.OK, result.message
    assert result.message.startswith("queues:default drained 5 -> 0 in ")
    assert result.data["lengths_seen"] == [5, 5, 0]


def test_drained_times_out_failed_with_the_length_seen() -> None:
    conn = RecordingConnection().on(r"EVAL", stdout="7\n0\n0\n")
    result = queue_drained(target(conn), interval=0.05, timeout=0.2)
    assert result.status is Status.FAILED and "still holds 7 job(s)" in result.message


def test_drained_in_check_mode_reads_once_and_waits_for_nothing() -> None:
    conn = RecordingConnection().on(r"EVAL", stdout="500\n0\n0\n")
    result = queue_drained(target(conn, check=True), timeout=120)
    assert result.status is Status.OK and "would wait up to 120s" in result.message
    assert len(conn.commands) == 1


STATUS = ("laravel-worker:laravel-worker_00   RUNNING   pid {a}, uptime 0:10:00\n"
          "laravel-worker:laravel-worker_01   RUNNING   pid {b}, uptime 0:10:00\n")


def test_queue_restart_sends_signal_marks_run_and_sees_new_pids() -> None:
    conn = RecordingConnection().on(r"^test -e", exit_code=1)
    conn.on(r"^supervisorctl status", stdout=STATUS.format(a=81, b=82), times=1)
    conn.on(r"^supervisorctl status", stdout=STATUS.format(a=91, b=92))
    result = queue_restarted(target(conn))
    assert result.status is Status.CHANGED, result.message
    assert result.commands[0] == f"{ART} queue:restart"
    assert "remediations.runs/r1/queue-restart" in result.commands[1]
    assert "2 worker(s) re-spawned (pids 81->91, 82->92)" in result.message


def test_queue_restart_once_per_run_and_check_mode_reads_only() -> None:
    done = RecordingConnection().on(r"^test -e", exit_code=0)
    again = queue_restarted(target(done))
    assert again.status is Status.OK and "already sent by this run" in again.message
    assert [a[0] for a in done.commands] == ["test"]
    conn = RecordingConnection().on(r"^test -e", exit_code=1)
    conn.on(r"^supervisorctl status", stdout=STATUS.format(a=81, b=82))
    check = queue_restarted(target(conn, check=True))
    assert check.status is Status.CHANGED and check.message == "would send queue:restart"
    assert not conn.commands_matching("queue:restart|mkdir")


def test_queue_restart_without_running_workers_fails_untouched() -> None:
    conn = RecordingConnection().on(r"^test -e", exit_code=1)
    conn.on(r"^supervisorctl status", stdout="laravel-worker:laravel-worker_00   STOPPED   x\n")
    result = queue_restarted(target(conn))
    assert result.status is Status.FAILED and "start the workers first" in result.message
    assert not conn.commands_matching("queue:restart")
    # check mode cannot know that an earlier step would have started them: it plans only
    check = queue_restarted(target(conn, check=True))
    assert check.status is Status.CHANGED and check.message == "would send queue:restart"


LARAVEL8 = f"""+--------------------------------------+------------+---------+-------------------------+---------------------+
| ID                                   | Connection | Queue   | Class                   | Failed At           |
+--------------------------------------+------------+---------+-------------------------+---------------------+
| {U1} | redis      | default | App\\Jobs\\Missing@handle | 2026-11-23 11:07:44 |
| {U2} | redis      | mail    | App\\Jobs\\Ping          | 2026-11-23 11:08:00 |
+--------------------------------------+------------+---------+-------------------------+---------------------+
"""
LARAVEL10 = (  # Laravel 9+ pads each line with two spaces
    f"\n  2026-11-23 11:07:44 {U1} ................ redis@default App\\Jobs\\Missing@handle  \n"
    f"  2026-11-23 11:08:00 {U2} ....................... redis@mail App\\Jobs\\Ping  \n\n")


@pytest.mark.parametrize("text", [LARAVEL8, LARAVEL10])
def test_parse_failed_jobs_both_layouts(text: str) -> None:
    assert parse_failed_jobs(text) == [
        FailedJob(U1, "redis", "default", "App\\Jobs\\Missing@handle", "2026-11-23 11:07:44"),
        FailedJob(U2, "redis", "mail", "App\\Jobs\\Ping", "2026-11-23 11:08:00"),
    ]
    assert parse_failed_jobs("No failed jobs!\n") == []
    assert parse_failed_jobs("   INFO  No failed jobs found.\n") == []


def test_retry_all_names_the_ids_and_counts_a_job_that_failed_again() -> None:
    conn = RecordingConnection()
    conn.on(r"queue:failed", stdout=LARAVEL8, times=1)
    conn.on(r"queue:failed", stdout=LARAVEL8.replace("11:07:44", "11:30:00").replace(U2, "x" * 36))
    result = failed_jobs_retried(target(conn))
    assert result.status is Status.CHANGED, result.message
    assert result.commands == (f"{ART} queue:retry {U1} {U2}",)
    assert result.data["failed_again"] == [U1]
    assert "(1 failed again since)" in result.message


def test_retry_by_id_ignores_others_and_nothing_failed_is_ok() -> None:
    conn = RecordingConnection()
    conn.on(r"queue:failed", stdout=LARAVEL8, times=1).on(r"queue:failed", stdout="No failed jobs!")
    result = failed_jobs_retried(target(conn), [U2, "12345"])
    assert result.commands == (f"{ART} queue:retry {U2}",)
    assert result.data["not_failed"] == ["12345"]
    ok = failed_jobs_retried(target(conn))
    assert ok.status is Status.OK and ok.message == "no failed jobs" and not ok.commands


def test_retry_that_leaves_the_job_failed_is_a_failure() -> None:
    conn = RecordingConnection().on(r"queue:failed", stdout=LARAVEL8)
    result = failed_jobs_retried(target(conn), [U1])
    assert result.status is Status.FAILED and U1 in result.message


def test_forget_one_command_per_id_and_absent_is_ok() -> None:
    conn = RecordingConnection()
    conn.on(r"queue:failed", stdout=LARAVEL8, times=1).on(r"queue:failed", stdout="No failed jobs!")
    result = failed_jobs_forgotten(target(conn), [U1, U2])
    assert result.status is Status.CHANGED, result.message
    assert result.commands == (f"{ART} queue:forget {U1}", f"{ART} queue:forget {U2}")
    again = failed_jobs_forgotten(target(conn), [U1])
    assert again.status is Status.OK and not again.commands


def test_check_mode_lists_retry_and_runs_only_the_listing() -> None:
    conn = RecordingConnection().on(r"queue:failed", stdout=LARAVEL8)
    result = failed_jobs_retried(target(conn, check=True))
    assert result.status is Status.CHANGED and result.message == "would retry 2 failed job(s)"
    assert all("queue:failed" in " ".join(a) for a in conn.commands)


@pytest.mark.parametrize("bad", [["1;rm"], ["a b"], ["--all"], [""]])
def test_job_ids_are_validated(bad: list[str]) -> None:
    with pytest.raises(InvalidInput):
        job_ids(bad)
    with pytest.raises(InvalidInput):
        failed_jobs_forgotten(target(RecordingConnection()), [])


def test_artisan_runs_as_the_app_user_and_inventory_is_validated() -> None:
    argv = artisan_argv(target(RecordingConnection()), "queue:restart")
    assert argv == ["runuser", "-u", "www-data", "--", "php", "/srv/app/current/artisan",
                    "queue:restart"]
    for bad in ({"app_path": "relative"}, {"app_path": "/srv/../etc"}, {"app_user": "root;x"}):
        with pytest.raises(InvalidInput):
            artisan_argv(target(RecordingConnection(), **bad), "x")
