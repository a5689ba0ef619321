"""Runbooks as compositions: ordered remediations on one target, then a verification."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from remediations.core.errors import CommandTimeout, HostLocked, Unreachable
from remediations.core.result import Result, Status
from remediations.run import app_service, markers
from remediations.run.target import Target

StepFn = Callable[[Target], Result]


@dataclass(frozen=True, slots=True)
class RunbookStep:
    """One step: a remediation or a fact, and whether a failure stops the runbook.

    A `fact` step records what was seen (a stopped service, a long queue); its
    failure neither stops the runbook nor fails it: the steps after it repair.
    A `once_per_run` step is done at most once in a run (recorded on the host), for
    steps a later step undoes by design, such as clearing caches that are then rebuilt.
    """

    label: str
    fn: StepFn
    stop_on_failure: bool = True
    when: Callable[[Target, Sequence[Result]], bool] | None = None
    fact: bool = False
    once_per_run: bool = False


def run_steps(t: Target, runbook: str, steps: Sequence[RunbookStep], *,
              verify: StepFn | None = None) -> Result:
    """Run `steps` in order, then `verify`; one result carrying every step's result.

    Status: `failed` if a step or the verification failed, else `changed` if any
    step changed something, else `ok`. In check mode the verification is not run
    (nothing was repaired, so it would only repeat the symptom).
    """
    results: list[Result] = []
    stopped = ""
    for step in steps:
        if stopped:
            results.append(t.result(step.label, Status.SKIPPED, f"not run: {stopped}"))
            continue
        if step.when is not None and not step.when(t, results):
            results.append(t.result(step.label, Status.SKIPPED, "not needed"))
            continue
        key = f"runbook-{runbook}-{step.label}"
        if step.once_per_run and markers.done(t.conn, t.run, key):
            results.append(t.result(step.label, Status.OK, "already done by this run"))
            continue
        res = _ran(t, step.label, step.fn)
        if step.once_per_run and not res.failed and not t.check:  # done, even with nothing to do
            t.conn.run(markers.mark_step(t.run, key).argv)
        if step.fact:
            res = res.replace(data={**res.data, "fact": True})
        results.append(res)
        if res.failed and step.stop_on_failure and not step.fact:
            stopped = f"{step.label} failed"
    if verify is not None and not stopped:
        if t.check:
            results.append(t.result("verify", Status.SKIPPED, "not verified in check mode"))
        else:
            results.append(_ran(t, "verify", verify))
    return summarise(t, runbook, results)


def _ran(t: Target, label: str, fn: StepFn) -> Result:
    """`fn`'s result, labelled; a step that raises fails with the error as its message, so
    the results of the steps before it are kept (and reported) rather than lost.

    A host gone (unreachable), locked by another run, or silent after a command was sent
    (the outcome unknown) still ends the whole run as the runner reports those."""
    try:
        # As the runner runs a remediation: in the app's containers, in every pod.
        return app_service.call(fn, t).replace(remediation=label)
    except (Unreachable, HostLocked, CommandTimeout):
        raise
    except Exception as exc:  # noqa: BLE001 - any other error of one step ends the runbook, reported
        return t.result(label, Status.FAILED, f"{type(exc).__name__}: {exc}",
                        evidence=str(exc), data={"error": type(exc).__name__})


def summarise(t: Target, runbook: str, results: Sequence[Result]) -> Result:
    statuses = [r.status for r in results if not r.data.get("fact")]
    if any(s.is_failure for s in statuses):
        status = Status.FAILED
    elif Status.CHANGED in statuses:
        status = Status.CHANGED
    else:
        status = Status.OK
    acted = [r for r in results if (r.changed or r.status.is_failure) and not r.data.get("fact")]
    parts = [f"{r.remediation}: {r.message}" for r in acted] or ["nothing to do"]
    last = results[-1] if results else None
    if last is not None and last.remediation == "verify" and last not in acted:
        parts.append(f"verified: {last.message}")
    evidence = "\n".join(f"[{r.remediation}] {r.evidence}" for r in results if r.evidence)
    return t.result(runbook, status, "; ".join(parts),
                    commands=[c for r in results for c in r.commands], evidence=evidence,
                    data={"steps": [r.to_dict() for r in results]})
