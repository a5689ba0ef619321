"""The runner over fake hosts: pool, batches, max-fail, unreachable, locks, events, secrets."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from remediations.connections.recording import RecordingConnection
from remediations.core.errors import Unreachable
from remediations.core.result import Result, Status
from remediations.run.report import EXIT_FAILED, EXIT_LOCKED, EXIT_OK, EXIT_UNREACHABLE, Event
from remediations.run.runner import RunOptions, batches, run
from remediations.run.target import RunContext, Target
from tests.unit.helpers import inventory


def hosts(tmp: Path, n: int = 4, **vars: Any) -> list[Any]:
    return list(inventory(tmp, {f"web{i}": {} for i in range(1, n + 1)}, vars))


def connector(**per_host: RecordingConnection) -> Any:
    def connect(host: Any, timeout: float | None = None) -> RecordingConnection:
        # A free host: the lock script answers ACQUIRED.
        return per_host.get(host.name) or RecordingConnection(host.name).on(
            "mkdir", stdout="ACQUIRED\n")
    return connect


def changed(t: Target) -> Result:
    t.conn.run(["touch", "/tmp/x"])
    return Result(t.name, "touch", Status.CHANGED, "touched")


@pytest.mark.parametrize("serial,expected", [
    (None, [[1, 2, 3, 4, 5]]), (2, [[1, 2], [3, 4], [5]]), ("40%", [[1, 2], [3, 4], [5]]),
    ([1, "50%"], [[1], [2, 3], [4, 5]]), (["1", 3], [[1], [2, 3, 4], [5]]),
])
def test_batches_like_ansible(serial: Any, expected: list[list[int]]) -> None:
    assert batches([1, 2, 3, 4, 5], serial) == expected  # type: ignore[arg-type]


def test_unreachable_host_does_not_stop_the_others(tmp_path: Path) -> None:
    down = RecordingConnection("web2").on(".", reply=lambda argv: (_ for _ in ()).throw(
        Unreachable("web2: cannot connect to 127.0.0.1:2202: refused")))
    report = run(changed, hosts(tmp_path, 3), connect=connector(web2=down))
    assert [r.status for r in report] == [Status.CHANGED, Status.UNREACHABLE, Status.CHANGED]
    assert report.exit_code == EXIT_UNREACHABLE and len(report.failed) == 1


def test_check_mode_takes_no_lock(tmp_path: Path) -> None:
    conn = RecordingConnection("web1")
    run(lambda t: Result(t.name, "x", Status.OK, ""), hosts(tmp_path, 1),
        run=RunContext.new(check=True), connect=connector(web1=conn))
    assert conn.commands == []


def test_lock_taken_and_released_around_the_remediation(tmp_path: Path) -> None:
    conn = RecordingConnection("web1").on("mkdir", stdout="ACQUIRED\n")
    run(changed, hosts(tmp_path, 1), connect=connector(web1=conn))
    lines = conn.command_lines
    assert "mkdir" in lines[0] and lines[1] == "touch /tmp/x" and "rm -rf" in lines[2]


def test_locked_host_is_skipped_and_touched_not(tmp_path: Path) -> None:
    conn = RecordingConnection("web1").on(
        "mkdir", stdout="HELD\nowner=other-run\t2026-11-23T10:00:00+00:00\tops@ctl\nnow=100\nmtime=90\n",
        exit_code=3)
    report = run(changed, hosts(tmp_path, 1), connect=connector(web1=conn))
    (r,) = report
    assert r.status is Status.SKIPPED and "locked by run other-run since" in r.message
    assert report.exit_code == EXIT_LOCKED
    assert not conn.commands_matching("touch")


def test_max_fail_percentage_stops_later_batches(tmp_path: Path) -> None:
    def fail_web1(t: Target) -> Result:
        return Result(t.name, "x", Status.FAILED if t.name == "web1" else Status.OK, "")
    report = run(fail_web1, hosts(tmp_path, 4),
                 options=RunOptions(serial=2, max_fail_percentage=0), connect=connector())
    assert [r.status for r in report] == [Status.FAILED, Status.OK, Status.SKIPPED, Status.SKIPPED]
    assert report.exit_code == EXIT_FAILED


def test_forks_bound_the_pool(tmp_path: Path) -> None:
    active, peak = 0, 0
    guard = threading.Lock()

    def slow(t: Target) -> Result:
        nonlocal active, peak
        with guard:
            active += 1
            peak = max(peak, active)
        time.sleep(0.05)
        with guard:
            active -= 1
        return Result(t.name, "x", Status.OK, "")
    report = run(slow, hosts(tmp_path, 8), options=RunOptions(forks=3), connect=connector())
    assert peak == 3 and report.exit_code == EXIT_OK


def test_a_bug_in_a_remediation_is_a_failed_result(tmp_path: Path) -> None:
    def boom(t: Target) -> Result:
        raise KeyError("oops")
    (r,) = run(boom, hosts(tmp_path, 1), connect=connector())
    assert r.status is Status.FAILED and "internal error" in r.message and "KeyError" in r.evidence


def test_events_in_order_and_secrets_redacted(tmp_path: Path) -> None:
    events: list[Event] = []

    def leaky(t: Target) -> Result:
        return Result(t.name, "x", Status.FAILED, f"auth with {t.var('db_password')} failed")
    report = run(leaky, hosts(tmp_path, 2, db_password="pw-s3cr3t-value"),
                 on_event=events.append, connect=connector())
    kinds = [e.kind for e in events]
    assert kinds[0] == "run_started" and kinds[-1] == "run_finished"
    assert kinds.count("host_finished") == 2
    assert "pw-s3cr3t-value" not in report.to_json()
    assert all("pw-s3cr3t-value" not in str(e.to_dict()) for e in events)


def test_a_connection_with_its_own_lock_uses_it(tmp_path: Path) -> None:
    calls: list[str] = []

    class OwnLock(RecordingConnection):
        def acquire_lock(self, run: RunContext, *, stale_after: float) -> None:
            calls.append(f"acquire {run.run_id}")

        def release_lock(self, run: RunContext) -> None:
            calls.append(f"release {run.run_id}")

    conn = OwnLock("web1")
    report = run(changed, hosts(tmp_path, 1), run=RunContext.new(), connect=connector(web1=conn))
    assert [c.split()[0] for c in calls] == ["acquire", "release"]
    assert conn.command_lines == ["touch /tmp/x"]  # no mkdir lock on the host
    assert report.exit_code == EXIT_OK
