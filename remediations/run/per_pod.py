"""State that lives in each pod, changed in every pod of a Deployment or in none.

On a Kubernetes host (a Deployment), a remediation of per-pod state (file caches, the
maintenance file, opcache, the storage link) run in one pod leaves the others stale,
and a rolling restart later brings a mixed fleet back. So the runner hands every
remediation named in `PER_POD` to `on_every_pod`, which:

1. lists the Deployment's pods (the plan) and refuses, touching nothing, unless every
   pod the Deployment asks for exists and is Ready: a pod that is not Ready would keep
   its stale state and come back with it;
2. runs the remediation once per pod, its connection pinned to that pod, after checking
   that the pod set is still the planned one (a rollout or a scale-out in between stops
   it, naming the pods, and says which pods were done);
3. merges the per-pod results into one: `failed` if any pod failed, else `changed` if any
   changed, else `ok` (`skipped` only when every pod skipped), with each pod's status,
   message and data under `data["pods"]` and its commands prefixed `[pod] `.

Check mode plans in each pod the same way. Cluster-wide state (the redis queue, the
database, the Deployment's spec) is not listed and runs once per Deployment. Any other
host (ssh, docker) runs the remediation as it is. A remediation running inside a
runbook step gets the same walk through `call(fn, t)`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from remediations.connections.base import capability
from remediations.core.errors import CommandTimeout, HostLocked, RemediationError, Unreachable
from remediations.core.result import Result, Status
from remediations.run.target import Target

if TYPE_CHECKING:
    # Only Deployments have pods: a systemd host's run never loads the cluster modules.
    from remediations.connections.podset import PodSet

# The remediations whose state lives in each pod's filesystem or processes.
PER_POD = frozenset({
    "caches_cleared",        # bootstrap/cache/*.php, storage/framework/views (the store is shared)
    "caches_rebuilt",        # bootstrap/cache/*.php, compiled views
    "maintenance_on",        # storage/framework/down
    "maintenance_off",
    "opcache_reset",         # php-fpm's shared memory in each pod
    "octane_reloaded",       # the Octane workers of each pod
    "storage_link_present",  # public/storage in each pod's filesystem
    "storage_permissions",   # storage/ and bootstrap/cache of each pod
})


@runtime_checkable
class Pods(Protocol):
    """A connection that reaches several pods and can pin its commands to one (`connections.pod`)."""

    @property
    def pinned_pod(self) -> str | None: ...

    def pods(self) -> PodSet: ...

    def pinned(self, pod: str) -> AbstractContextManager[None]: ...


def _unwrapped(fn: Callable[..., object]) -> Callable[..., object]:
    while isinstance(fn, functools.partial):
        fn = fn.func
    return fn


def is_per_pod(fn: Callable[..., object], name: str = "") -> bool:
    """Whether `fn` (or the remediation `name`) changes state that lives in each pod."""
    inner = _unwrapped(fn)
    found = str(getattr(inner, "remediation_name", None) or getattr(inner, "__name__", ""))
    return bool(getattr(inner, "per_pod", False)) or found in PER_POD or name in PER_POD


def call(fn: Callable[[Target], Result], t: Target, name: str = "") -> Result:
    """`fn(t)`, in every pod when it is a per-pod remediation on a Deployment, else as is."""
    if is_per_pod(fn, name):
        return on_every_pod(fn, t, name)
    return fn(t)


def on_every_pod(fn: Callable[[Target], Result], t: Target, name: str = "") -> Result:
    """Run `fn` once in each Ready pod of the host's Deployment and merge the results.

    A host that is not a Deployment, or a connection already pinned to a pod (a
    per-pod remediation calling another), runs `fn(t)` once.
    """
    pods = capability(t.conn, Pods)
    if pods is None or pods.pinned_pod is not None:
        return fn(t)
    label = name or str(getattr(_unwrapped(fn), "__name__", "remediation"))
    plan = pods.pods()
    problems = plan.problems()
    if problems:
        return t.result(label, Status.FAILED, refusal(plan, problems),
                        data={"pods": {p.name: {"ready": p.ready, "why": p.why} for p in plan.pods},
                              "state": "untouched"})
    results: dict[str, Result] = {}
    stopped = ""
    for pod in plan.names:
        now = pods.pods()
        if now.names != plan.names or now.problems():
            stopped = changed_set(plan, now, list(results))
            break
        try:
            with pods.pinned(pod):
                results[pod] = fn(t)
        except (CommandTimeout, HostLocked):
            raise  # the runner reports these for the whole Deployment (unknown / skipped)
        except Unreachable as exc:
            results[pod] = t.result(label, Status.UNREACHABLE, str(exc))
        except RemediationError as exc:
            results[pod] = t.result(label, Status.FAILED, str(exc))
    if not stopped:
        after = pods.pods()
        if after.names != plan.names:
            stopped = changed_set(plan, after, list(results))
    return merged(t, label, results, stopped)


def refusal(plan: PodSet, problems: Sequence[str]) -> str:
    return (f"refused, nothing done: {len(plan.ready)} of {max(plan.replicas, len(plan.pods))} "
            f"pod(s) of deployment {plan.deployment} Ready; {'; '.join(problems)}. A pod that "
            "is not Ready would keep its own state and serve it once Ready: wait for the "
            "rollout (rollout-status) and run again")


def changed_set(plan: PodSet, now: PodSet, done: Sequence[str]) -> str:
    """What changed in the pod set since the plan, and which pods were already done."""
    gone = [p for p in plan.names if p not in now.names]
    new = [p for p in now.names if p not in plan.names]
    parts = ([f"gone: {', '.join(gone)}"] if gone else []) + \
        ([f"new: {', '.join(new)}"] if new else []) + now.problems()
    did = f"done in {', '.join(done)} only" if done else "nothing done"
    return (f"the pods of deployment {plan.deployment} changed while acting "
            f"({'; '.join(parts)}); {did}: run again once the rollout settles")


def merged_status(statuses: Sequence[Status], *, stopped: bool = False) -> Status:
    """The status of one remediation done in several places (pods, containers): failed if
    any failed (or the walk stopped), changed if any changed, skipped if all were, else ok."""
    if stopped or any(s.is_failure for s in statuses):
        return Status.FAILED
    if Status.CHANGED in statuses:
        return Status.CHANGED
    if statuses and all(s is Status.SKIPPED for s in statuses):
        return Status.SKIPPED
    return Status.OK


def merged(t: Target, label: str, results: dict[str, Result], stopped: str = "") -> Result:
    """One result for the Deployment from each pod's result."""
    status = merged_status([r.status for r in results.values()], stopped=bool(stopped))
    messages = {r.message for r in results.values()}
    if len(messages) == 1 and len(results) > 1:
        (message,) = messages
        summary = f"in all {len(results)} pods ({', '.join(results)}): {message}"
    else:
        summary = "; ".join(f"{pod}: {r.message}" for pod, r in results.items())
    if stopped:
        summary = f"{stopped}" + (f"; {summary}" if summary else "")
    return t.result(
        label, status, summary,
        commands=[f"[{pod}] {c}" for pod, r in results.items() for c in r.commands],
        evidence="\n".join(f"[{pod}] {r.evidence}" for pod, r in results.items() if r.evidence),
        data={"pods": {pod: {"status": r.status.value, "message": r.message, "data": dict(r.data)}
                       for pod, r in results.items()}})
