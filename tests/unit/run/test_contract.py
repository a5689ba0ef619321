from __future__ import annotations

from datetime import UTC, datetime

from remediations.connections.recording import RecordingConnection
from remediations.core.result import Status, Step
from remediations.run.contract import Verification, apply
from remediations.run.target import RunContext, Target
from tests.unit.helpers import host

STEPS = [Step(["systemctl", "restart", "x.service"])]


def target(conn: RecordingConnection, check: bool = False) -> Target:
    return Target(host("web1"), conn, RunContext("r", datetime.now(UTC), check=check))


def call(t: Target, steps: list[Step], ok: bool = True) -> object:
    return apply(t, "thing", steps, verify=lambda: Verification(ok, "verified" if ok else "not up",
                                                                 "evidence!"),
                 ok_message="nothing to do", action="restart x", done="restarted x")


def test_no_steps_is_ok_and_runs_nothing() -> None:
    conn = RecordingConnection()
    r = call(target(conn), [])
    assert r.status is Status.OK and r.message == "nothing to do" and conn.commands == []  # type: ignore[attr-defined]


def test_check_mode_is_changed_with_the_commands_and_runs_nothing() -> None:
    conn = RecordingConnection()
    r = call(target(conn, check=True), STEPS)
    assert (r.status, r.commands, r.message) == (Status.CHANGED, ("systemctl restart x.service",),  # type: ignore[attr-defined]
                                                 "would restart x")
    assert conn.commands == []


def test_failed_verification_is_failed_with_evidence() -> None:
    r = call(target(RecordingConnection()), STEPS, ok=False)
    assert r.status is Status.FAILED and r.evidence == "evidence!" and "not up" in r.message  # type: ignore[attr-defined]


def test_failing_step_stops_and_reports() -> None:
    conn = RecordingConnection().on("restart", exit_code=1, stderr="boom")
    r = call(target(conn), [*STEPS, Step(["true"])])
    assert r.status is Status.FAILED and "boom" in r.evidence  # type: ignore[attr-defined]
    assert conn.commands == [("systemctl", "restart", "x.service")]
