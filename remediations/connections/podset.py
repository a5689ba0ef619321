"""The pods of a Deployment as the API shows them: readiness, and when their containers started.

`PodSet` is what a per-pod remediation plans with (`run.per_pod`): every pod the
Deployment's selector matches, each Ready or not and why. `ContainerStart` and
`restarted_since` tell whether containers restarted (restartCount, or a later
`state.running.startedAt`), which is how a queue restart is verified where workers run
as pods and the image has no supervisorctl (`KubeConnection.wait_restarted`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from remediations.connections.cluster import Cluster, selector_matches, selector_string


def pod_ready(pod: dict[str, Any]) -> bool:
    """Running, not being deleted, and its Ready condition True."""
    if pod.get("metadata", {}).get("deletionTimestamp"):
        return False
    status = pod.get("status") or {}
    if status.get("phase") != "Running":
        return False
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in status.get("conditions") or [])


# -- the pods of a Deployment --------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class PodState:
    """One pod of a Deployment: its name, whether it is Ready, and why not."""

    name: str
    ready: bool
    why: str = ""
    created: str = ""
    raw: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class PodSet:
    """The pods a Deployment's selector matches, and how many it asks for."""

    deployment: str
    replicas: int
    items: tuple[dict[str, Any], ...]
    pods: tuple[PodState, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.pods)

    @property
    def ready(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.pods if p.ready)

    def problems(self) -> list[str]:
        """Why not every pod is Ready (each pod named), or [] when all of them are."""
        found = [f"{p.name}: {p.why}" for p in self.pods if not p.ready]
        missing = self.replicas - len(self.pods)
        if missing > 0:
            found.append(f"{missing} of {self.replicas} pod(s) not created yet")
        elif missing < 0:
            found.append(f"{len(self.pods)} pods for {self.replicas} replica(s): a rollout or "
                         "a scale-in is under way")
        if not self.pods and self.replicas == 0:
            found.append("scaled to 0: no pod to act in")
        return found


def pod_set(cluster: Cluster, deployment: dict[str, Any]) -> PodSet:
    """The pods of `deployment` (oldest first), as the API shows them now."""
    selector = deployment.get("spec", {}).get("selector")
    listed = cluster.core.list_namespaced_pod(cluster.namespace,
                                              label_selector=selector_string(selector))
    items = [p for p in listed.get("items", [])
             if selector_matches(selector, p.get("metadata", {}).get("labels"))
             and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]
    items.sort(key=lambda p: (p["metadata"].get("creationTimestamp", ""), p["metadata"]["name"]))
    spec_replicas = deployment.get("spec", {}).get("replicas")
    return PodSet(str(deployment.get("metadata", {}).get("name", cluster.deployment)),
                  1 if spec_replicas is None else int(spec_replicas), tuple(items),
                  tuple(PodState(p["metadata"]["name"], pod_ready(p), not_ready_reason(p),
                                 str(p["metadata"].get("creationTimestamp", "")), p)
                        for p in items))


def not_ready_reason(pod: dict[str, Any]) -> str:
    """Why a pod is not Ready, as `kubectl describe` would tell it; "" when it is."""
    if pod.get("metadata", {}).get("deletionTimestamp"):
        return "being deleted (Terminating)"
    status = pod.get("status") or {}
    phase = status.get("phase") or "Pending"
    ready = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), None)
    if phase == "Running" and ready is not None and ready.get("status") == "True":
        return ""
    waiting = [f"{s.get('name')} {((s.get('state') or {}).get('waiting') or {}).get('reason')}"
               for s in status.get("containerStatuses") or []
               if ((s.get("state") or {}).get("waiting") or {}).get("reason")]
    detail = ", ".join(waiting) or (ready or {}).get("message") or (ready or {}).get("reason") or ""
    return f"{phase}, not Ready" + (f" ({detail})" if detail else "")


@dataclass(frozen=True, slots=True)
class ContainerStart:
    """When one container of a pod last started: `restart_count` and `started_at` (RFC 3339)."""

    pod: str
    container: str
    restart_count: int
    started_at: str
    running: bool

    @property
    def key(self) -> str:
        return f"{self.pod}/{self.container}"


def container_starts(pods: Sequence[dict[str, Any]]) -> list[ContainerStart]:
    """Each container's restartCount and the start of its current run, from pod status."""
    found = []
    for pod in pods:
        for s in (pod.get("status") or {}).get("containerStatuses") or []:
            running = (s.get("state") or {}).get("running")
            found.append(ContainerStart(pod["metadata"]["name"], str(s.get("name", "")),
                                        int(s.get("restartCount") or 0),
                                        str((running or {}).get("startedAt") or ""),
                                        running is not None))
    return found


@dataclass(frozen=True, slots=True)
class Restarts:
    """Which containers restarted (`pod/container`), which did not, and how they stand now."""

    done: tuple[str, ...]
    stale: tuple[str, ...]
    after: tuple[ContainerStart, ...]

    @property
    def ok(self) -> bool:
        return not self.stale

    def describe(self) -> str:
        now = ", ".join(f"{c.key} restarts={c.restart_count} started {c.started_at or '-'}"
                        for c in self.after)
        if self.stale:
            return f"not restarted: {', '.join(self.stale)} (now: {now})"
        return f"{len(self.done)} container(s) restarted ({now})"


@runtime_checkable
class WorkerPods(Protocol):
    """Reads when a Deployment's containers started and waits for them to restart (`KubeConnection`).

    For a queue restart where workers run as pods: `before = w.container_starts("worker")`,
    send `queue:restart`, then `w.wait_restarted(before, deployment="worker", timeout=120)`.
    """

    def container_starts(self, deployment: str | None = None) -> list[ContainerStart]: ...

    def wait_restarted(self, before: Sequence[ContainerStart], *, deployment: str | None = None,
                       since: str = "", timeout: float = 120.0,
                       interval: float = 1.0) -> Restarts: ...


def restarted_since(before: Sequence[ContainerStart], after: Sequence[ContainerStart],
                    since: str = "") -> tuple[list[str], list[str]]:
    """Which containers of `before` restarted by `after` (and which did not).

    A container restarted when its pod shows a higher restartCount or a later start
    (RFC 3339 times compare as text), or when `since` is given and it started at or after
    it. A pod replaced by a new one (a rollout) counts as restarted when every new
    container runs: its processes are new too.
    """
    now = {c.key: c for c in after}
    replaced = {c.pod for c in after} - {c.pod for c in before}
    done: list[str] = []
    stale: list[str] = []
    for c in before:
        new = now.get(c.key)
        if new is None:
            fresh = [n for n in after if n.pod in replaced and n.container == c.container]
            ok = bool(fresh) and all(n.running for n in fresh)
        else:
            ok = new.running and (new.restart_count > c.restart_count
                                  or new.started_at > c.started_at
                                  or bool(since and new.started_at >= since))
        (done if ok else stale).append(c.key)
    return done, stale
