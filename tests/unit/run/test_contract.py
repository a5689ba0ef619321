from __future__ import annotations

from datetime import UTC, datetime

import pytest

from remediations.connections.recording import RecordingConnection
from remediations.core.errors import KubeApiError
from remediations.core.result import Call, Status, Step
from remediations.run.contract import Eventually, Probe, Verification, apply
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


# -- API calls as steps, and postconditions that settle (Eventually) -----------------------------

class Sent(list[tuple[str, bool]]):
    """(command, dry_run) of every call sent."""


class FakeCall:
    """A `core.result.Call` that records how it was sent, or raises."""

    def __init__(self, sent: Sent, name: str = "PATCH /x",
                 fail: Exception | None = None) -> None:
        self.sent, self.name, self.fail = sent, name, fail

    @property
    def command(self) -> str:
        return self.name

    def send(self, *, dry_run: bool) -> object:
        self.sent.append((self.name, dry_run))
        if self.fail is not None:
            raise self.fail
        return {}


def eventually(seen: list[str], ok: bool = True) -> Eventually:
    def wait() -> Verification:
        seen.append("wait")
        return Verification(ok, "rolled out" if ok else "stuck", "" if ok else "events!",
                            {"ready": 3})

    def now() -> str:
        seen.append("now")
        return "standing"

    return Eventually(wait, now)


def test_check_mode_sends_calls_as_dry_runs_only_and_runs_no_command() -> None:
    conn, sent, seen = RecordingConnection(), Sent(), list[str]()
    steps: list[Step | Call] = [FakeCall(sent, "PATCH /a"), *STEPS, FakeCall(sent, "PATCH /b")]
    r = apply(target(conn, check=True), "thing", steps, verify=eventually(seen),
              ok_message="-", action="patch a and b", done="patched")
    assert (r.status, r.message, r.check) == (Status.CHANGED, "would patch a and b", True)
    assert r.commands == ("PATCH /a", "systemctl restart x.service", "PATCH /b")
    assert sent == [("PATCH /a", True), ("PATCH /b", True)]
    assert conn.commands == [] and seen == []


def test_calls_are_sent_in_order_with_commands_then_the_wait() -> None:
    conn, sent, seen = RecordingConnection(), Sent(), list[str]()
    r = apply(target(conn), "thing", [FakeCall(sent), *STEPS], verify=eventually(seen),
              ok_message="-", action="patch", done="patched")
    assert (r.status, r.message, r.data) == (Status.CHANGED, "patched; rolled out", {"ready": 3})
    assert sent == [("PATCH /x", False)] and conn.commands == [("systemctl", "restart", "x.service")]
    assert seen == ["wait"]


def test_a_refused_call_raises_and_stops() -> None:
    conn, sent = RecordingConnection(), Sent()
    with pytest.raises(KubeApiError):
        apply(target(conn), "thing", [FakeCall(sent, fail=KubeApiError("no", status=409)), *STEPS],
              verify=None, ok_message="-", action="patch", done="patched")
    assert conn.commands == []


def test_calls_cannot_share_a_probes_round_trip() -> None:
    conn, sent = RecordingConnection(), Sent()
    probe = Probe(["true"], lambda res: Verification(True, "fine"))
    with pytest.raises(TypeError):
        apply(target(conn), "thing", [FakeCall(sent)], verify=probe, ok_message="-",
              action="patch", done="patched")
    assert sent == [] and conn.commands == []


def test_no_steps_with_eventually_waits_and_reports_ok() -> None:
    seen: list[str] = []
    r = apply(target(RecordingConnection()), "thing", [], verify=eventually(seen),
              ok_message="already 3")
    assert (r.status, r.message, r.data, r.commands) == (Status.OK, "already 3; rolled out",
                                                         {"ready": 3}, ())
    assert seen == ["wait"]


def test_no_steps_with_eventually_that_does_not_hold_fails_with_evidence() -> None:
    r = apply(target(RecordingConnection()), "thing", [], verify=eventually([], ok=False),
              ok_message="already 3")
    assert (r.status, r.message, r.evidence) == (Status.FAILED, "already 3, but stuck", "events!")


def test_no_steps_with_eventually_in_check_mode_only_reads_where_it_stands() -> None:
    seen: list[str] = []
    r = apply(target(RecordingConnection(), check=True), "thing", [], verify=eventually(seen),
              ok_message="already 3", data={"a": 1})
    assert (r.status, r.message, r.data) == (Status.OK, "already 3; standing", {"a": 1})
    assert seen == ["now"]
