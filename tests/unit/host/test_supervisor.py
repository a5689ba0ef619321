"""Facts in, commands out: supervisor workers started, restarted once per run, scaled."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from remediations.connections.base import CommandResult
from remediations.connections.recording import RecordingConnection
from remediations.core.errors import InvalidInput
from remediations.core.result import Status
from remediations.host.supervisor import (
    Program,
    parse_numprocs,
    parse_start_times,
    parse_supervisor_status,
    plan_programs_running,
    plan_workers_restarted,
    programs_running,
    with_numprocs,
    workers_restarted,
    workers_scaled,
)
from remediations.run.target import RunContext, Target

RUN_START = datetime(2026, 11, 23, 10, 0, 0, tzinfo=UTC)
BEFORE = RUN_START - timedelta(hours=1)
AFTER = RUN_START + timedelta(seconds=5)

STATUS = """laravel-worker:laravel-worker_00   RUNNING   pid 81, uptime 0:00:21
laravel-worker:laravel-worker_01   STOPPED   Nov 23 11:07 AM
cron                               RUNNING   pid 7, uptime 2 days, 3:04:05
mailer:mailer_00                   STARTING  {}
mailer:mailer_01                   FATAL     Exited too quickly (process log may have details)
""".format("")  # supervisorctl leaves trailing blanks after STARTING


def test_parse_supervisor_status() -> None:
    now = datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC)
    ps = parse_supervisor_status(STATUS + "unix:///var/run/supervisor.sock no such file\n", now)
    assert [(p.group, p.name, p.state, p.pid) for p in ps] == [
        ("laravel-worker", "laravel-worker_00", "RUNNING", 81),
        ("laravel-worker", "laravel-worker_01", "STOPPED", 0),
        ("cron", "cron", "RUNNING", 7),
        ("mailer", "mailer_00", "STARTING", 0),
        ("mailer", "mailer_01", "FATAL", 0),
    ]
    assert ps[0].started_at == now - timedelta(seconds=21)
    assert ps[2].uptime == timedelta(days=2, hours=3, minutes=4, seconds=5)
    assert ps[1].started_at is None
    assert [p.spec for p in ps[1:3]] == ["laravel-worker:laravel-worker_01", "cron"]


def test_parse_start_times_from_proc() -> None:
    # boot 1000 s ago, now 1795432060.5, 100 ticks/s; pid 81 started 90000 ticks after boot.
    stat81 = "81 (php8.2 worker) S 1 81 81 0 -1 4194560 " + " ".join(["0"] * 12) + " 90000 1 2"
    text = f"1000.00 2000.00\n1795432060.5\n100\n81 {stat81}\n82 \n"
    times = parse_start_times(text)
    assert list(times) == [81]
    assert times[81].timestamp() == pytest.approx(1795432060.5 - 100.0, abs=0.01)


def prog(name: str, state: str = "RUNNING", since: datetime | None = BEFORE, pid: int = 100,
         group: str = "laravel-worker") -> Program:
    return Program(name, group, state, pid if state == "RUNNING" else 0, None,
                   since if state == "RUNNING" else None)


W0, W1 = "laravel-worker_00", "laravel-worker_01"


@pytest.mark.parametrize("programs,expected", [
    ([prog(W0), prog(W1)], [["supervisorctl", "restart", "laravel-worker:*"]]),
    ([prog(W0, since=AFTER), prog(W1, since=AFTER)], []),        # already done by this run
    ([prog(W0, since=AFTER), prog(W1)], [["supervisorctl", "restart", "laravel-worker:" + W1]]),
    ([prog(W0, "STOPPED"), prog(W1, "STOPPED")], [["supervisorctl", "start", "laravel-worker:*"]]),
    ([prog(W0), prog(W1, "FATAL")], [["supervisorctl", "restart", "laravel-worker:" + W0],
                                     ["supervisorctl", "start", "laravel-worker:" + W1]]),
    ([prog(W0, "STARTING"), prog(W1, since=AFTER)], []),          # starting is a fresh start
    ([prog(W0, "BACKOFF"), prog(W1, since=AFTER)], [["supervisorctl", "restart",
                                                      "laravel-worker:" + W0]]),
    ([prog(W0, since=None)], [["supervisorctl", "restart", "laravel-worker:" + W0]]),
])
def test_plan_workers_restarted(programs: list[Program], expected: list[list[str]]) -> None:
    steps = plan_workers_restarted(programs, run_started=RUN_START)
    assert [list(s.argv) for s in steps] == expected


@pytest.mark.parametrize("programs,expected", [
    ([prog(W0), prog(W1)], []),
    ([prog(W0), prog(W1, "STOPPED")], [["supervisorctl", "start", "laravel-worker:" + W1]]),
    ([prog(W0, "EXITED"), prog(W1, "STOPPED")], [["supervisorctl", "start", "laravel-worker:*"]]),
    ([prog(W0, "STARTING"), prog(W1, "BACKOFF")], []),           # left to settle
    ([prog("cron", "STOPPED", group="cron"), prog(W0, "STOPPED")],
     [["supervisorctl", "start", "cron", "laravel-worker:" + W0]]),
])
def test_plan_programs_running(programs: list[Program], expected: list[list[str]]) -> None:
    assert [list(s.argv) for s in plan_programs_running(programs)] == expected


CONF = """[program:laravel-worker]
process_name=%(program_name)s_%(process_num)02d
command=php /srv/app/current/artisan queue:work redis
numprocs=2
numprocs_start=0
autostart=true

[program:other]
numprocs = 5
"""


def test_numprocs_parsed_and_rewritten_in_its_own_section_only() -> None:
    assert parse_numprocs(CONF, "laravel-worker") == (2, "%(program_name)s_%(process_num)02d")
    assert parse_numprocs(CONF, "other") == (5, "")
    assert parse_numprocs(CONF, "nope") is None
    new = with_numprocs(CONF, "laravel-worker", 4)
    assert new == CONF.replace("numprocs=2", "numprocs=4")
    assert with_numprocs(CONF, "other", 1).endswith("numprocs = 1\n")
    bare = "[program:x]\ncommand=sleep 1\n"
    assert parse_numprocs(bare, "x") == (1, "")
    assert with_numprocs(bare, "x", 3) == "[program:x]\nnumprocs=3\ncommand=sleep 1\n"


def target(conn: RecordingConnection, *, check: bool = False) -> Target:
    from tests.unit.helpers import host

    return Target(host("web1"), conn, RunContext("r1", RUN_START, check=check))


def proc_times(started: datetime) -> Callable[[tuple[str, ...]], CommandResult]:
    """Answer the /proc start-time probe: every pid asked about started at `started`."""
    now = RUN_START + timedelta(minutes=1)
    boot = 1_000_000.0

    def reply(argv: tuple[str, ...]) -> CommandResult:
        ticks = int((started.timestamp() - (now.timestamp() - boot)) * 100)
        stats = "".join(f"{pid} {pid} (php) S " + "0 " * 18 + f"{ticks} 0\n"
                        for pid in argv[argv.index("proc-times") + 1:])
        return CommandResult("", 0, f"{boot:.2f} 1.0\n{now.timestamp()}\n100\n{stats}")
    return reply


def recording(started: datetime = BEFORE) -> RecordingConnection:
    return RecordingConnection("web1").on(r"^sh -c 'cat /proc/uptime", reply=proc_times(started))


def status(*lines: tuple[str, str, int]) -> str:
    return "".join(f"laravel-worker:{n}   {s}   " + (f"pid {p}, uptime 1:00:00\n" if p else "\n")
                   for n, s, p in lines)


def test_restart_runs_one_command_and_verifies_new_pids() -> None:
    conn = recording()
    conn.on(r"^supervisorctl status", stdout=status((W0, "RUNNING", 81), (W1, "RUNNING", 82)),
            times=1)
    conn.on(r"^supervisorctl status", stdout=status((W0, "RUNNING", 91), (W1, "RUNNING", 92)))
    result = workers_restarted(target(conn))
    assert result.status is Status.CHANGED, result.message
    assert result.commands == ("supervisorctl restart 'laravel-worker:*'",)
    assert result.data["pids"] == {"laravel-worker:" + W0: 91, "laravel-worker:" + W1: 92}


def test_restart_that_keeps_a_pid_fails_with_evidence() -> None:
    conn = recording()
    conn.on(r"^supervisorctl status", stdout=status((W0, "RUNNING", 81), (W1, "RUNNING", 82)))
    conn.on(r"^tail", stdout="supervisord: exited: laravel-worker_00")
    result = workers_restarted(target(conn), timeout=0.1)
    assert result.status is Status.FAILED
    assert "not restarted" in result.message and "supervisord: exited" in result.evidence


def test_restart_check_mode_reads_only() -> None:
    conn = recording().on(
        r"^supervisorctl status", stdout=status((W0, "RUNNING", 81), (W1, "STOPPED", 0)))
    result = workers_restarted(target(conn, check=True))
    assert result.status is Status.CHANGED and result.check
    assert result.commands == ("supervisorctl restart laravel-worker:laravel-worker_00",
                               "supervisorctl start laravel-worker:laravel-worker_01")
    assert {a[0] for a in conn.commands} <= {"supervisorctl", "sh"}
    assert all(a[:2] == ("supervisorctl", "status") or a[0] == "sh" for a in conn.commands)


def test_second_run_after_the_restart_is_ok_and_touches_nothing() -> None:
    conn = recording(AFTER).on(
        r"^supervisorctl status", stdout=status((W0, "RUNNING", 91), (W1, "RUNNING", 92)))
    result = workers_restarted(target(conn))
    assert result.status is Status.OK, result.message
    assert "already restarted by this run" in result.message
    assert all(a[:2] == ("supervisorctl", "status") or a[0] == "sh" for a in conn.commands)


def test_unknown_group_fails_and_names_are_validated() -> None:
    conn = RecordingConnection("web1").on(r"^supervisorctl status", stdout="cron RUNNING pid 7, uptime 1:00:00")
    result = workers_restarted(target(conn), "laravel-worker")
    assert result.status is Status.FAILED and "no supervisor group" in result.message
    with pytest.raises(InvalidInput):
        workers_restarted(target(conn), "x; reboot")


def test_supervisord_down_is_a_failed_result() -> None:
    conn = RecordingConnection("web1").on(
        r"^supervisorctl status", exit_code=4, stdout="unix:///var/run/supervisor.sock no such file")
    result = programs_running(target(conn))
    assert result.status is Status.FAILED and "supervisord did not answer" in result.message


def test_start_workers_starts_the_stopped_ones() -> None:
    conn = RecordingConnection("web1")
    conn.on(r"^supervisorctl status", stdout=status((W0, "STOPPED", 0), (W1, "STOPPED", 0)), times=1)
    conn.on(r"^supervisorctl status", stdout=status((W0, "RUNNING", 91), (W1, "RUNNING", 92)))
    result = programs_running(target(conn), group="laravel-worker")
    assert result.status is Status.CHANGED, result.message
    assert result.commands == ("supervisorctl start 'laravel-worker:*'",)
    ok = programs_running(target(conn), group="laravel-worker")
    assert ok.status is Status.OK and "RUNNING" in ok.message


CONF_PATH = "/etc/supervisor/conf.d/laravel-worker.conf"


def scaled_conn(numprocs: int, running: int, after: int | None = None) -> RecordingConnection:
    conn = RecordingConnection("web1")
    conn.on(r"^sh -c 'grep", stdout=CONF_PATH + "\n")
    conn.on(r"^cat", stdout=CONF.replace("numprocs=2", f"numprocs={numprocs}"))
    conn.on(r"^stat", stdout="regular file|300|644|root|root|1|'x'")
    procs = [(f"laravel-worker_{i:02d}", "RUNNING", 80 + i) for i in range(running)]
    conn.on(r"^supervisorctl status", stdout=status(*procs), times=1)
    final = [(f"laravel-worker_{i:02d}", "RUNNING", 90 + i) for i in range(after or running)]
    conn.on(r"^supervisorctl status", stdout=status(*final))
    return conn


def test_scale_up_edits_numprocs_then_rereads_and_updates_the_group() -> None:
    conn = scaled_conn(2, 2, after=4)
    result = workers_scaled(target(conn), 4)
    assert result.status is Status.CHANGED, result.message
    assert result.commands[1:] == ("supervisorctl reread", "supervisorctl update laravel-worker")
    assert result.commands[0].startswith("sh -c 'printf %s ")
    assert "chown root:root" in result.commands[0]
    assert result.diff is not None and "numprocs=4" in result.diff.after
    assert result.data["running"] == 4


def test_scale_already_at_count_is_ok_and_touches_nothing() -> None:
    conn = scaled_conn(2, 2)
    result = workers_scaled(target(conn), 2)
    assert result.status is Status.OK, result.message
    assert not any(a[:2] in (("supervisorctl", "update"), ("supervisorctl", "reread"))
                   for a in conn.commands)


def test_scale_with_config_at_count_but_not_applied_only_updates() -> None:
    conn = scaled_conn(4, 2, after=4)
    result = workers_scaled(target(conn), 4)
    assert result.commands == ("supervisorctl reread", "supervisorctl update laravel-worker")


def test_scale_refuses_bad_counts_and_a_process_name_without_number() -> None:
    conn = scaled_conn(2, 2)
    for bad in (0, 65, -1):
        with pytest.raises(InvalidInput):
            workers_scaled(target(conn), bad)
    conn = RecordingConnection("web1").on(r"^sh -c 'grep", stdout=CONF_PATH)
    conn.on(r"^cat", stdout="[program:laravel-worker]\ncommand=x\n")
    result = workers_scaled(target(conn), 3)
    assert result.status is Status.FAILED and "process_num" in result.message
