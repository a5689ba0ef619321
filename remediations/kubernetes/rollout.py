"""Waiting for a Deployment's rollout, with kubectl's status rules, and the evidence of a failure.

`rollout_status` is kubectl's `DeploymentStatusViewer.Status`
(`pkg/polymorphichelpers/rollout_status.go`), message for message: the spec must be
observed (generation <= observedGeneration), a `Progressing` condition with reason
`ProgressDeadlineExceeded` fails at once, then it waits while updated < desired, while
old replicas are pending termination, and while available < updated. The wait follows
the Deployment with a watch bounded by `timeoutSeconds`, never a busy loop.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from remediations.connections.cluster import Cluster, cluster_of, selector_matches, selector_string
from remediations.core import validate
from remediations.core.errors import KubeApiError, RemediationError
from remediations.core.result import Result, Status
from remediations.kubernetes.revisions import (
    all_replica_sets,
    controlled_replica_sets,
    meta,
    revision_of,
)
from remediations.run.contract import Eventually, Verification
from remediations.run.target import Target

TIMED_OUT_REASON = "ProgressDeadlineExceeded"
# kubectl's appendWarning: container waiting reasons worth showing while waiting.
_WARN_REASONS = ("ImagePullBackOff", "ErrImagePull", "CrashLoopBackOff",
                 "CreateContainerConfigError", "CreateContainerError")
_EVENTS_PER_OBJECT = 10
_PODS_FOR_EVENTS = 5

Obj = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class RolloutStatus:
    """Where a rollout stands: done, failed (progress deadline exceeded), or still going."""

    done: bool
    failed: bool
    message: str


def rollout_status(dep: Obj) -> RolloutStatus:
    """kubectl's status rules for a Deployment's JSON."""
    name = meta(dep).get("name", "")
    spec, status = dep.get("spec") or {}, dep.get("status") or {}
    if int(meta(dep).get("generation") or 0) > int(status.get("observedGeneration") or 0):
        return RolloutStatus(False, False, "Waiting for deployment spec update to be observed...")
    for cond in status.get("conditions") or []:
        if cond.get("type") == "Progressing" and cond.get("reason") == TIMED_OUT_REASON:
            return RolloutStatus(False, True, f'deployment "{name}" exceeded its progress deadline')
    want = spec.get("replicas")
    updated = int(status.get("updatedReplicas") or 0)
    replicas = int(status.get("replicas") or 0)
    available = int(status.get("availableReplicas") or 0)
    prefix = f'Waiting for deployment "{name}" rollout to finish: '
    if want is not None and updated < int(want):
        return RolloutStatus(False, False,
                             f"{prefix}{updated} out of {want} new replicas have been updated...")
    if replicas > updated:
        return RolloutStatus(False, False,
                             f"{prefix}{replicas - updated} old replicas are pending termination...")
    if available < updated:
        return RolloutStatus(False, False,
                             f"{prefix}{available} of {updated} updated replicas are available...")
    return RolloutStatus(True, False, f'deployment "{name}" successfully rolled out')


def pod_warning(pods: Sequence[Obj]) -> str:
    """kubectl's warning while waiting: an unschedulable pod or a container stuck waiting."""
    for pod in pods:
        status = pod.get("status") or {}
        for cond in status.get("conditions") or []:
            if (cond.get("type") == "PodScheduled" and cond.get("status") == "False"
                    and cond.get("reason") == "Unschedulable"):
                return f"Warning: {cond.get('message', '')}"
        for cs in status.get("containerStatuses") or []:
            waiting = (cs.get("state") or {}).get("waiting") or {}
            if waiting.get("reason") in _WARN_REASONS:
                return f"Warning: {waiting['reason']} - {waiting.get('message', '')}"
    return ""


def counts(dep: Obj) -> dict[str, Any]:
    """The replica counts and revision of a Deployment, for a result's data."""
    status = dep.get("status") or {}
    return {"replicas": (dep.get("spec") or {}).get("replicas"),
            "ready": int(status.get("readyReplicas") or 0),
            "updated": int(status.get("updatedReplicas") or 0),
            "available": int(status.get("availableReplicas") or 0),
            "revision": revision_of(dep)}


@dataclass(frozen=True, slots=True)
class Waited:
    """The end of a wait: the last Deployment seen and its status."""

    deployment: Obj
    status: RolloutStatus
    timed_out: bool = False
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status.done and not self.timed_out


def wait_for_rollout(cluster: Cluster, *, timeout: float,
                     until: Callable[[Obj], bool] | None = None) -> Waited:
    """Follow the Deployment until its rollout is done (and `until` holds), failed, or `timeout`."""
    started = time.monotonic()
    deadline = started + timeout
    dep = cluster.read_deployment()
    name = cluster.deployment

    def settled(d: Obj) -> Waited | None:
        st = rollout_status(d)
        if st.failed or (st.done and (until is None or until(d))):
            return Waited(d, st, seconds=time.monotonic() - started)
        return None

    while True:
        if (end := settled(dep)) is not None:
            return end
        left = deadline - time.monotonic()
        if left <= 0:
            return Waited(dep, rollout_status(dep), True, time.monotonic() - started)
        watched, events = time.monotonic(), 0
        try:
            for kind, obj in cluster.watch("list_namespaced_deployment", timeout=left,
                                           field_selector=f"metadata.name={name}",
                                           resource_version=meta(dep).get("resourceVersion")):
                events += 1
                if kind == "DELETED":
                    raise KubeApiError(f"deployment {name} was deleted while waiting", status=404)
                if kind in ("ADDED", "MODIFIED") and meta(obj).get("name") == name:
                    dep = obj
                    if (end := settled(dep)) is not None:
                        return end
                if time.monotonic() >= deadline:
                    break
        except KubeApiError as exc:
            if exc.status != 410:  # 410 Gone: our resourceVersion is too old; read again
                raise
        if not events and time.monotonic() - watched < 0.5:
            # A server that ends watches at once must not turn this into a busy loop.
            time.sleep(min(0.5, max(0.0, deadline - time.monotonic())))
        dep = cluster.read_deployment()


# -- evidence --------------------------------------------------------------------------------

def rollout_evidence(cluster: Cluster, dep: Obj) -> str:
    """The Deployment's conditions and the recent events of it, its new ReplicaSet and pods."""
    lines = ["conditions:"]
    for c in (dep.get("status") or {}).get("conditions") or []:
        lines.append(f"  {c.get('type')}={c.get('status')} {c.get('reason', '')}: "
                     f"{c.get('message', '')} (updated {c.get('lastUpdateTime', '-')})")
    lines.append("replicas: " + ", ".join(f"{k} {v}" for k, v in counts(dep).items()))
    try:
        objects = _related(cluster, dep)
        warning = pod_warning([o for o in objects if o.get("kind") == "Pod"])
        if warning:
            lines.append(warning)
        lines.append("events:")
        for obj in objects:
            lines += [f"  {e}" for e in _events(cluster, obj)]
    except RemediationError as exc:
        lines.append(f"(events unavailable: {exc})")
    return "\n".join(lines)


def _related(cluster: Cluster, dep: Obj) -> list[Obj]:
    """The Deployment, its newest ReplicaSet and a few of that ReplicaSet's pods."""
    found: list[Obj] = [{"kind": "Deployment", **dep}]
    selector = (dep.get("spec") or {}).get("selector")
    rs_list = cluster.apps.list_namespaced_replica_set(
        cluster.namespace, label_selector=selector_string(selector)).get("items", [])
    ordered = all_replica_sets(dep, controlled_replica_sets(dep, rs_list))
    if not ordered:
        return found
    newest = max(ordered, key=lambda rs: revision_of(rs) or 0)
    found.append({"kind": "ReplicaSet", **newest})
    pods = cluster.core.list_namespaced_pod(
        cluster.namespace, label_selector=selector_string(selector)).get("items", [])
    uid = meta(newest).get("uid")
    mine = [p for p in pods if selector_matches(selector, meta(p).get("labels"))
            and any(r.get("uid") == uid for r in meta(p).get("ownerReferences") or [])]
    found += [{"kind": "Pod", **p} for p in mine[:_PODS_FOR_EVENTS]]
    return found


def _events(cluster: Cluster, obj: Obj) -> list[str]:
    kind, name, uid = obj["kind"], meta(obj).get("name"), meta(obj).get("uid")
    items = cluster.core.list_namespaced_event(
        cluster.namespace, field_selector=f"involvedObject.name={name}").get("items", [])
    mine = [e for e in items if (e.get("involvedObject") or {}).get("kind") == kind
            and (not uid or (e.get("involvedObject") or {}).get("uid") in (None, "", uid))]

    def when(e: Obj) -> str:
        return str(e.get("lastTimestamp") or e.get("eventTime") or meta(e).get("creationTimestamp") or "")

    mine.sort(key=when)
    return [f"{when(e)} {e.get('type', '')} {e.get('reason', '')} {kind}/{name}: "
            f"{e.get('message', '')}" + (f" (x{e['count']})" if (e.get("count") or 1) > 1 else "")
            for e in mine[-_EVENTS_PER_OBJECT:]]


# -- verification ----------------------------------------------------------------------------

def rollout_verified(cluster: Cluster, *, timeout: float,
                     until: Callable[[Obj], bool] | None = None,
                     waiting_for: str = "") -> Verification:
    """Wait for the rollout (and `until`); the counts it ended at, evidence when it did not end well.

    `waiting_for` names what `until` waits for ("5 ready replica(s)"), for the message.
    """
    waited = wait_for_rollout(cluster, timeout=timeout, until=until)
    data = {**counts(waited.deployment), "waited_seconds": round(waited.seconds, 3)}
    if waited.ok:
        return Verification(True, waited.status.message, data=data)
    if waited.status.failed:
        why = waited.status.message
    elif waited.status.done and waiting_for:
        why = f"not {waiting_for} within {timeout:g}s"
    else:
        why = f"not rolled out within {timeout:g}s: {waited.status.message}"
    return Verification(False, why, rollout_evidence(cluster, waited.deployment), data)


def rolled_out(cluster: Cluster, *, timeout: float, until: Callable[[Obj], bool] | None = None,
               waiting_for: str = "") -> Eventually:
    """`apply()`'s verification of a Deployment change: its rollout, as `rollout_verified`.

    `now` (which `apply()` asks in check mode, instead of waiting) reads kubectl's status line.
    """
    return Eventually(
        wait=lambda: rollout_verified(cluster, timeout=timeout, until=until,
                                      waiting_for=waiting_for),
        now=lambda: rollout_status(cluster.read_deployment()).message)


def rollout_complete(t: Target, *, timeout: float = 300.0) -> Result:
    """Leave nothing but a finished rollout: wait, with kubectl's rules, up to `timeout` seconds.

    Fails at once on `ProgressDeadlineExceeded`, and on timeout, with the Deployment's
    conditions and the events of it, its new ReplicaSet and pods as evidence.
    Example: `rollout_complete(t, timeout=120)`.
    """
    timeout = validate.seconds(timeout, "timeout")
    held = rollout_verified(cluster_of(t), timeout=timeout)
    return t.result("rollout_complete", Status.OK if held.ok else Status.FAILED, held.message,
                    evidence=held.evidence, data=held.data)
