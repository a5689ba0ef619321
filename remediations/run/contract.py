"""`apply()`: the one place that honours check mode, no-ops and verification."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from remediations.connections.base import CommandResult
from remediations.connections.batch import run_batch
from remediations.core.errors import CommandFailed, CommandTimeout
from remediations.core.result import Call, Diff, Result, Status, Step
from remediations.run.target import Target


@dataclass(frozen=True, slots=True)
class Verification:
    """Whether the postcondition holds, and the evidence when it does not."""

    ok: bool
    message: str
    evidence: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Probe:
    """A read-only command sent in the same round trip as the steps, right after them.

    `judge` gets its answer and decides the verification (polling again if it must).
    `apply(..., verify=Probe(show_argv(unit), judge))` acts and reads back in one trip.
    """

    argv: Sequence[str]
    judge: Callable[[CommandResult], Verification]


Verify = Callable[[], Verification]
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True)
class Eventually:
    """A postcondition that holds some time after acting (a rollout); verified with no steps too.

    The state asked for may be set and still settling, so a no-op is verified as well.
    `wait` waits for it; `now` says where it stands without waiting, for check mode,
    where nothing was changed to wait for.
    `apply(t, name, [], verify=Eventually(wait, now), ok_message="already 5 replica(s)")`.
    """

    wait: Verify
    now: Callable[[], str]


def reads_after_acting(fn: F) -> F:
    """Mark a remediation that only reads once its one `apply(..., verify=Probe(...))` acted.

    Run by itself, its host's lock is then released in the round trip that acts and
    reads back, not in one of its own. Inside a runbook the lock is held to the end.
    """
    fn.reads_after_acting = True  # type: ignore[attr-defined]
    return fn


def apply(t: Target, remediation: str, steps: Sequence[Step | Call], *,
          verify: Verify | Probe | Eventually | None, ok_message: str, action: str = "",
          done: str = "", diff: Diff | None = None, data: Mapping[str, Any] | None = None,
          on_failure: Callable[[], str] | None = None,
          ran: Sequence[CommandResult] | None = None) -> Result:
    """Run `steps` and verify; `ok` when there are none, `changed` with the plan in check mode.

    `action` says what the steps do ("restart nginx.service"), `done` what they did
    ("restarted nginx.service"). `on_failure` gathers evidence (journal tail,
    container log) when a step fails. `ran`: the steps' results, then the probe's, when
    the host already decided and ran them (in the round trip that read the state).
    Steps that are `Call`s (API requests) are sent in order, a refused one raising; in
    check mode they are sent as dry runs and commands are not run. An `Eventually` is
    verified when there are no steps too (`ok_message; ...`), without waiting in check mode.
    """
    facts = dict(data or {})
    commands = tuple(s.command for s in steps)

    def result(status: Status, message: str, evidence: str = "",
               extra: Mapping[str, Any] | None = None) -> Result:
        return t.result(remediation, status, message, commands=commands,
                        diff=diff if t.run.diff or status is Status.CHANGED else None,
                        evidence=evidence, data={**facts, **(extra or {})})

    if not steps:
        if not isinstance(verify, Eventually):
            return result(Status.OK, ok_message)
        if t.check:  # nothing was changed: say where it stands, do not wait
            return result(Status.OK, f"{ok_message}; {verify.now()}")
        held = verify.wait()
        if not held.ok:
            return result(Status.FAILED, f"{ok_message}, but {held.message}", held.evidence,
                          held.data)
        return result(Status.OK, f"{ok_message}; {held.message}", extra=held.data)
    if t.check:
        for step in steps:
            if not isinstance(step, Step):
                step.send(dry_run=True)  # the server validates it and stores nothing
        return result(Status.CHANGED, f"would {action}")
    failed, evidence, answer = _act(t, steps, verify.argv if isinstance(verify, Probe) else None,
                                    ran)
    if failed is not None:
        if on_failure is not None:
            evidence = f"{evidence}\n{on_failure()}"
        return result(Status.FAILED, f"`{failed.command}` failed", evidence.strip())
    if verify is None:
        return result(Status.CHANGED, done)
    if isinstance(verify, Probe):
        assert answer is not None
        check = verify.judge(answer)
    elif isinstance(verify, Eventually):
        check = verify.wait()
    else:
        check = verify()
    if not check.ok:
        return result(Status.FAILED, f"{done}, but {check.message}", check.evidence, check.data)
    return result(Status.CHANGED, f"{done}; {check.message}", extra=check.data)


def _act(t: Target, steps: Sequence[Step | Call], probe: Sequence[str] | None,
         ran: Sequence[CommandResult] | None = None) -> tuple[Step | None, str, CommandResult | None]:
    """Run the steps, then the probe, in one round trip; the step that failed and why.

    A `Call` is sent by itself, in order, and raises when refused.
    """
    commands = [s for s in steps if isinstance(s, Step)]
    if len(commands) < len(steps) and (probe is not None or ran is not None):
        raise TypeError("a Probe or `ran` reads back in the commands' round trip, which API "
                        "calls have no part in: verify those with a callable")
    if ran is not None:
        return _failed_step(commands, ran)
    if probe is None:
        for step in steps:
            if not isinstance(step, Step):
                step.send(dry_run=False)
                continue
            try:
                t.conn.run(step.argv)
            except (CommandFailed, CommandTimeout) as exc:
                return step, str(exc), None
        return None, "", None
    try:
        ran = run_batch(t.conn, [*(s.argv for s in commands), probe], last=True)
    except CommandTimeout as exc:
        return commands[0], str(exc), None
    return _failed_step(commands, ran)


def _failed_step(steps: Sequence[Step],
                 ran: Sequence[CommandResult]) -> tuple[Step | None, str, CommandResult | None]:
    for step, res in zip(steps, ran, strict=False):
        if res.failed:
            return step, str(CommandFailed(res)), None
    if len(ran) <= len(steps):
        return steps[len(ran) - 1] if ran else steps[0], "the host stopped answering", None
    return None, "", ran[-1]
