"""Round trips per host: lock, inspect, act, read back and unlock in one, when the host decides.

The guard script runs for real in `sh` against a fake systemctl (tests/unit/host/fake_systemd.py).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from remediations.connections.recording import RecordingConnection
from remediations.core.result import Status
from remediations.host.systemd import service_running
from remediations.run.runner import run
from remediations.run.target import RunContext
from tests.unit.helpers import inventory
from tests.unit.host.fake_systemd import FakeUnit
from tests.unit.host.test_systemd import show

LATER = "Tue 2030-01-01 00:00:00.000000 UTC"  # a start after any run began


def host(tmp: Path, *shows: str, held: str = "",
         **fails: int) -> tuple[RecordingConnection, FakeUnit]:
    """A connection whose lock is free (else `held` by someone) and whose systemctl
    answers `shows` in turn."""
    unit = FakeUnit(tmp, shows, fails=fails)
    conn = RecordingConnection("web1").on("mkdir", stdout="ACQUIRED\n")
    conn.on("echo FREE", stdout=held or "FREE\n", exit_code=3 if held else 0)
    conn.on(r"^(sh -c|systemctl)", reply=unit.run)
    return conn, unit


def run_on(conn: RecordingConnection, tmp: Path, *, restart: bool, check: bool = False) -> Any:
    fn = functools.partial(service_running, unit="nginx", restart=restart)
    (result,) = run(fn, list(inventory(tmp, {"web1": {}})), run=RunContext.new(check=check),
                    connect=lambda host, timeout=None: conn)
    return result


def kinds(conn: RecordingConnection) -> list[str]:
    names = {"remediations-plan": "guard", "echo FREE": "peek", "mkdir": "lock", "rm -rf": "unlock", "systemctl show": "show",
             "systemctl restart": "restart", "systemctl start": "start", "journalctl": "journal"}
    return [next(k for p, k in names.items() if p in line) for line in conn.command_lines]


def test_restart_costs_one_round_trip(tmp_path: Path) -> None:
    conn, unit = host(tmp_path, show(100), show(200, LATER))
    result = run_on(conn, tmp_path, restart=True)
    assert result.status is Status.CHANGED, result.message
    assert result.commands == ("systemctl restart nginx.service",)
    assert (result.data["main_pid_before"], result.data["main_pid"]) == (100, 200)
    assert unit.actions == ["restart nginx.service"] and unit.reads == 2
    assert kinds(conn) == ["lock", "guard", "unlock"]
    assert conn.round_trips == 1  # lock + inspect + restart + read back + unlock


def test_a_second_restart_in_the_same_run_costs_one_round_trip_and_changes_nothing(
        tmp_path: Path) -> None:
    conn, unit = host(tmp_path, show(200, LATER))
    result = run_on(conn, tmp_path, restart=True)
    assert result.status is Status.OK and "already restarted by this run" in result.message
    assert unit.actions == [] and kinds(conn) == ["lock", "guard", "unlock"]
    assert conn.round_trips == 1


def test_no_op_costs_one_round_trip_and_takes_no_lock(tmp_path: Path) -> None:
    conn, unit = host(tmp_path, show(100))
    result = run_on(conn, tmp_path, restart=False)
    assert result.status is Status.OK and result.message == "nginx.service already active (MainPID 100)"
    # The lock is looked at (a builtin `[ -d ]`), not taken: nothing to release.
    assert unit.actions == [] and kinds(conn) == ["peek", "guard"]
    assert conn.round_trips == 1


def test_a_no_op_on_a_host_locked_by_another_run_is_skipped_unread(tmp_path: Path) -> None:
    conn, unit = host(tmp_path, show(100), held="HELD\nowner=other\t2026-11-23T10:00:00+00:00\t"
                                                "ops@ctl\nnow=100\nmtime=90\n")
    result = run_on(conn, tmp_path, restart=False)
    assert result.status is Status.SKIPPED and "locked by run other" in result.message
    assert kinds(conn) == ["peek"] and unit.reads == 0 and conn.round_trips == 1


def test_a_stopped_unit_is_read_again_under_the_lock_and_started(tmp_path: Path) -> None:
    stopped = show(0, "n/a", active="inactive")
    conn, unit = host(tmp_path, stopped, stopped, show(300, LATER))
    result = run_on(conn, tmp_path, restart=False)
    assert result.status is Status.CHANGED and result.commands == ("systemctl start nginx.service",)
    assert unit.actions == ["start nginx.service"]
    # Read without the lock ("slow"), then lock + read, start + read back + unlock.
    assert kinds(conn) == ["peek", "guard", "lock", "show", "start", "show", "unlock"]
    assert conn.round_trips == 3


def test_inside_a_composition_the_lock_is_held_to_the_end(tmp_path: Path) -> None:
    def runbook(t: Any) -> Any:  # service_running, then more work under the same lock
        result = service_running(t, "nginx", restart=True)
        t.conn.run(["touch", "/tmp/after"])
        return result

    conn, unit = host(tmp_path, show(100), show(200, LATER))
    (result,) = run(runbook, list(inventory(tmp_path, {"web1": {}})),
                    connect=lambda host, timeout=None: conn)
    assert result.status is Status.CHANGED and unit.actions == ["restart nginx.service"]
    assert conn.command_lines[-2] == "touch /tmp/after" and "rm -rf" in conn.command_lines[-1]
    assert conn.round_trips == 3


def test_a_failed_restart_keeps_the_lock_until_the_end(tmp_path: Path) -> None:
    conn, unit = host(tmp_path, show(100), restart=1)
    conn.on(r"^journalctl", stdout="nginx: [emerg] unknown directive")
    result = run_on(conn, tmp_path, restart=True)
    assert result.status is Status.FAILED, result.message
    assert unit.actions == ["restart nginx.service"]
    assert result.message.startswith("`systemctl restart nginx.service` failed")
    assert "unknown directive" in result.evidence
    assert kinds(conn) == ["lock", "guard", "journal", "unlock"]


def test_a_restart_that_needs_polling_polls_after_the_read_back(tmp_path: Path) -> None:
    conn, unit = host(tmp_path, show(100), show(0, "n/a", active="activating"), show(300, LATER))
    result = run_on(conn, tmp_path, restart=True)
    assert result.status is Status.CHANGED and result.data["main_pid"] == 300
    assert unit.actions == ["restart nginx.service"] and unit.reads == 3
    assert kinds(conn) == ["lock", "guard", "unlock", "show"]  # polls only read


def test_a_host_that_answers_no_decision_is_locked_again_and_planned_in_python(
        tmp_path: Path) -> None:
    conn = RecordingConnection("web1").on("mkdir", stdout="ACQUIRED\n")
    conn.on("remediations-plan", stdout="")  # a shell that printed nothing, yet exited 0
    conn.on(r"^systemctl show", stdout=show(100), times=1)
    conn.on(r"^systemctl show", stdout=show(200, LATER))
    result = run_on(conn, tmp_path, restart=True)
    assert result.status is Status.CHANGED, result.message
    # The guard's batch released the lock: the next command takes it again.
    assert kinds(conn) == ["lock", "guard", "unlock", "lock", "show", "restart", "show", "unlock"]


def test_a_locked_host_gets_one_round_trip_and_nothing_runs(tmp_path: Path) -> None:
    conn = RecordingConnection("web1").on(
        "mkdir", exit_code=3, stdout="HELD\nowner=other\t2026-11-23T10:00:00+00:00\tops@ctl\n"
                                     "now=100\nmtime=90\n")
    result = run_on(conn, tmp_path, restart=True)
    assert result.status is Status.SKIPPED and "locked by run other" in result.message
    assert kinds(conn) == ["lock"] and conn.round_trips == 1


def test_check_mode_reads_only(tmp_path: Path) -> None:
    conn = RecordingConnection("web1").on(r"^systemctl show", stdout=show(100))
    result = run_on(conn, tmp_path, restart=True, check=True)
    assert result.status is Status.CHANGED and result.message.startswith("would restart")
    assert kinds(conn) == ["show"] and conn.round_trips == 1



def test_a_first_command_that_times_out_still_releases_the_lock(tmp_path: Path) -> None:
    from remediations.core.errors import CommandTimeout

    def slow(argv: tuple[str, ...]) -> Any:
        raise CommandTimeout("sleep 30", 2)

    conn = RecordingConnection("web1").on("mkdir", stdout="ACQUIRED\n")
    conn.on(r"^sh -c", reply=slow)
    result = run_on(conn, tmp_path, restart=True)
    # The restart script was sent: whether it ran is unknown, and the result says so.
    assert result.status is Status.UNKNOWN and "no answer within 2s" in result.message
    assert "the host's state is unknown" in result.message and result.commands
    assert kinds(conn) == ["lock", "guard", "unlock"]
