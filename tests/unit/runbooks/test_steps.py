from __future__ import annotations

from datetime import UTC, datetime

from remediations.connections.recording import RecordingConnection
from remediations.core.result import Result, Status
from remediations.run.target import RunContext, Target
from remediations.runbooks.steps import RunbookStep, run_steps
from tests.unit.helpers import host


def target(check: bool = False) -> Target:
    return Target(host("web1"), RecordingConnection(), RunContext("r", datetime.now(UTC), check=check))


def step(status: Status, commands: tuple[str, ...] = ()) -> RunbookStep:
    return RunbookStep(f"s-{status.value}",
                       lambda t: Result(t.name, "x", status, status.value, commands=commands))


def verify_ok(t: Target) -> Result:
    return Result(t.name, "http_ok", Status.OK, "HTTP 200")


def test_changed_when_a_step_changed_and_verification_passed() -> None:
    r = run_steps(target(), "rb", [step(Status.OK), step(Status.CHANGED, ("systemctl start x",))],
                  verify=verify_ok)
    assert r.status is Status.CHANGED and r.commands == ("systemctl start x",)
    assert [s["remediation"] for s in r.data["steps"]] == ["s-ok", "s-changed", "verify"]


def test_a_failed_fact_does_not_fail_the_runbook() -> None:
    fact = RunbookStep("status", lambda t: Result(t.name, "f", Status.FAILED, "nginx inactive"),
                       fact=True)
    r = run_steps(target(), "rb", [fact, step(Status.CHANGED)], verify=verify_ok)
    assert r.status is Status.CHANGED


def test_a_failed_step_stops_the_rest_and_fails() -> None:
    r = run_steps(target(), "rb", [step(Status.FAILED), step(Status.CHANGED)], verify=verify_ok)
    assert r.status is Status.FAILED
    assert [s["status"] for s in r.data["steps"]] == ["failed", "skipped"]


def test_failed_verification_fails_the_runbook() -> None:
    r = run_steps(target(), "rb", [step(Status.CHANGED)],
                  verify=lambda t: Result(t.name, "http_ok", Status.FAILED, "HTTP 502"))
    assert r.status is Status.FAILED and "HTTP 502" in r.message


def test_check_mode_does_not_verify() -> None:
    r = run_steps(target(check=True), "rb", [step(Status.CHANGED)], verify=verify_ok)
    assert r.status is Status.CHANGED and r.data["steps"][-1]["status"] == "skipped"


def test_all_ok_is_ok() -> None:
    r = run_steps(target(), "rb", [step(Status.OK)], verify=verify_ok)
    assert r.status is Status.OK and "verified: HTTP 200" in r.message


def test_once_per_run_step_is_recorded_and_skipped_on_rerun() -> None:
    t = target()
    conn = t.conn
    assert isinstance(conn, RecordingConnection)
    conn.on(r"^test -e", exit_code=1, times=1)      # first run: not done yet
    once = RunbookStep("clear", lambda t: Result(t.name, "c", Status.CHANGED, "cleared"),
                       once_per_run=True)
    first = run_steps(t, "rb", [once])
    assert first.status is Status.CHANGED
    assert any("runbook-rb-clear" in " ".join(a) for a in conn.commands_matching("mkdir"))
    again = run_steps(t, "rb", [once])                # `test -e` now succeeds: recorded
    assert again.status is Status.OK and again.data["steps"][0]["message"] == "already done by this run"


def test_a_step_that_raises_keeps_the_results_before_it() -> None:
    def broken(t: Target) -> Result:
        raise RuntimeError("ssh: connection reset")

    r = run_steps(target(), "rb", [step(Status.CHANGED, ("systemctl start x",)),
                                   RunbookStep("broken", broken), step(Status.OK)],
                  verify=verify_ok)
    assert r.status is Status.FAILED
    assert [(s["remediation"], s["status"]) for s in r.data["steps"]] == [
        ("s-changed", "changed"), ("broken", "failed"), ("s-ok", "skipped")]
    assert "connection reset" in r.message and r.commands == ("systemctl start x",)


def test_a_verification_that_raises_fails_the_runbook_with_the_steps_kept() -> None:
    def broken(t: Target) -> Result:
        raise TimeoutError("no answer")

    r = run_steps(target(), "rb", [step(Status.CHANGED)], verify=broken)
    assert r.status is Status.FAILED
    assert [s["status"] for s in r.data["steps"]] == ["changed", "failed"]
