"""Round trips per host: lock and inspect go together, act and read-back go together."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from remediations.connections.recording import RecordingConnection
from remediations.result import Status
from remediations.runner import run
from remediations.systemd import service_running
from remediations.target import RunContext
from tests.unit.helpers import inventory
from tests.unit.test_systemd import show

LATER = "Tue 2030-01-01 00:00:00.000000 UTC"  # a start after any run began


def run_on(conn: RecordingConnection, tmp: Path, *, restart: bool, check: bool = False) -> Any:
    fn = functools.partial(service_running, unit="nginx", restart=restart)
    (result,) = run(fn, list(inventory(tmp, {"web1": {}})), run=RunContext.new(check=check),
                    connect=lambda host, timeout=None: conn)
    return result


def kinds(conn: RecordingConnection) -> list[str]:
    names = {"mkdir": "lock", "rm -rf": "unlock", "systemctl show": "show",
             "systemctl restart": "restart", "systemctl start": "start", "journalctl": "journal"}
    return [next(k for p, k in names.items() if p in line) for line in conn.command_lines]


def test_restart_costs_three_round_trips(tmp_path: Path) -> None:
    conn = RecordingConnection("web1").on("mkdir", stdout="ACQUIRED\n")
    conn.on(r"^systemctl show", stdout=show(100), times=1)
    conn.on(r"^systemctl show", stdout=show(200, LATER))
    result = run_on(conn, tmp_path, restart=True)
    assert result.status is Status.CHANGED, result.message
    assert result.commands == ("systemctl restart nginx.service",)
    assert kinds(conn) == ["lock", "show", "restart", "show", "unlock"]
    assert conn.round_trips == 2  # lock + inspect, restart + read back + unlock


def test_inside_a_composition_the_lock_is_held_to_the_end(tmp_path: Path) -> None:
    def runbook(t: Any) -> Any:  # service_running, then more work under the same lock
        result = service_running(t, "nginx", restart=True)
        t.conn.run(["touch", "/tmp/after"])
        return result

    conn = RecordingConnection("web1").on("mkdir", stdout="ACQUIRED\n")
    conn.on(r"^systemctl show", stdout=show(100), times=1)
    conn.on(r"^systemctl show", stdout=show(200, LATER))
    (result,) = run(runbook, list(inventory(tmp_path, {"web1": {}})),
                    connect=lambda host, timeout=None: conn)
    assert result.status is Status.CHANGED
    assert conn.command_lines[-2] == "touch /tmp/after" and "rm -rf" in conn.command_lines[-1]
    assert conn.round_trips == 4


def test_a_failed_restart_keeps_the_lock_until_the_end(tmp_path: Path) -> None:
    conn = RecordingConnection("web1").on("mkdir", stdout="ACQUIRED\n")
    conn.on(r"^systemctl show", stdout=show(100), times=1)
    conn.on(r"^systemctl restart", exit_code=1, stderr="Job for nginx.service failed.")
    conn.on(r"^journalctl", stdout="nginx: [emerg] unknown directive")
    result = run_on(conn, tmp_path, restart=True)
    assert result.status is Status.FAILED and "unknown directive" in result.evidence
    assert kinds(conn) == ["lock", "show", "restart", "journal", "unlock"]


def test_no_op_costs_two_round_trips(tmp_path: Path) -> None:
    conn = RecordingConnection("web1").on("mkdir", stdout="ACQUIRED\n")
    conn.on(r"^systemctl show", stdout=show(100))
    result = run_on(conn, tmp_path, restart=False)
    assert result.status is Status.OK
    assert kinds(conn) == ["lock", "show", "unlock"]
    assert conn.round_trips == 2


def test_a_restart_that_needs_polling_polls_after_the_read_back(tmp_path: Path) -> None:
    conn = RecordingConnection("web1").on("mkdir", stdout="ACQUIRED\n")
    conn.on(r"^systemctl show", stdout=show(100), times=1)
    conn.on(r"^systemctl show", stdout=show(0, "n/a", active="activating"), times=1)
    conn.on(r"^systemctl show", stdout=show(300, LATER))
    result = run_on(conn, tmp_path, restart=True)
    assert result.status is Status.CHANGED and result.data["main_pid"] == 300
    assert kinds(conn) == ["lock", "show", "restart", "show", "unlock", "show"]  # polls only read


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
    from remediations.errors import CommandTimeout

    def slow(argv: tuple[str, ...]) -> Any:
        raise CommandTimeout("sleep 30", 2)

    conn = RecordingConnection("web1").on("mkdir", stdout="ACQUIRED\n")
    conn.on(r"^systemctl show", reply=slow)
    result = run_on(conn, tmp_path, restart=True)
    assert result.status is Status.FAILED and "did not finish within 2s" in result.message
    assert kinds(conn) == ["lock", "show", "unlock"]
