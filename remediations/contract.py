"""`apply()`: the one place that honours check mode, no-ops and verification."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from remediations.errors import CommandFailed, CommandTimeout
from remediations.result import Diff, Result, Status, Step
from remediations.target import Target


@dataclass(frozen=True, slots=True)
class Verification:
    """Whether the postcondition holds, and the evidence when it does not."""

    ok: bool
    message: str
    evidence: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)


Verify = Callable[[], Verification]


def apply(t: Target, remediation: str, steps: Sequence[Step], *, verify: Verify | None,
          ok_message: str, action: str, done: str, diff: Diff | None = None,
          data: Mapping[str, Any] | None = None,
          on_failure: Callable[[], str] | None = None) -> Result:
    """Run `steps` and verify; `ok` when there are none, `changed` with the plan in check mode.

    `action` says what the steps do ("restart nginx.service"), `done` what they did
    ("restarted nginx.service"). `on_failure` gathers evidence (journal tail,
    container log) when a step fails.
    """
    facts = dict(data or {})
    commands = tuple(s.command for s in steps)

    def result(status: Status, message: str, evidence: str = "",
               extra: Mapping[str, Any] | None = None) -> Result:
        return Result(t.name, remediation, status, message, commands, diff if t.run.diff or
                      status is Status.CHANGED else None, evidence, check=t.check,
                      data={**facts, **(extra or {})})

    if not steps:
        return result(Status.OK, ok_message)
    if t.check:
        return result(Status.CHANGED, f"would {action}")
    for step in steps:
        try:
            t.conn.run(step.argv)
        except (CommandFailed, CommandTimeout) as exc:
            evidence = str(exc)
            if on_failure is not None:
                evidence = f"{evidence}\n{on_failure()}"
            return result(Status.FAILED, f"`{step.command}` failed", evidence.strip())
    if verify is None:
        return result(Status.CHANGED, done)
    check = verify()
    if not check.ok:
        return result(Status.FAILED, f"{done}, but {check.message}", check.evidence, check.data)
    return result(Status.CHANGED, f"{done}; {check.message}", extra=check.data)
