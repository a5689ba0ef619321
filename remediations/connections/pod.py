"""Commands in a pod of a Deployment (exec through the API), and the Deployment's own lock.

`run(argv)` executes in the first Ready pod of the host's Deployment, in its container,
as `kubectl exec deploy/NAME -c CONTAINER -- ARGV` does: the Laravel remediations
(artisan as the app user, cache files, markers) run unchanged on this connection. Set
`ansible_user` to the container's user (often `www-data`) so artisan is not wrapped in
`runuser`/`sudo`, which images rarely carry.

The lock is an annotation on the Deployment, `remediations.io/lock: "<run id>\\t<since>\\t<who>"`,
written with a resourceVersion precondition (409 -> read again), so two runs on two
controllers never act on one Deployment at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from remediations.connections.base import BaseConnection, timed_out
from remediations.connections.cluster import (
    MERGE_PATCH,
    Cluster,
    cluster_for,
    selector_matches,
    selector_string,
)
from remediations.core.errors import HostLocked, KubeApiError, RemediationError, Unreachable
from remediations.core.runs import LockOwner, RunContext, owner_line

if TYPE_CHECKING:
    from remediations.inventory import Host

LOCK_ANNOTATION = "remediations.io/lock"
_CONFLICT_RETRIES = 5


class KubeConnection(BaseConnection):
    """A Deployment reached through the API: `cluster` for API calls, `run` to exec in a pod."""

    def __init__(self, host: Host, *, default_timeout: float | None = None,
                 cluster: Cluster | None = None) -> None:
        super().__init__(host.name, become=False, default_timeout=default_timeout)
        self._host = host
        self._cluster = cluster
        self._pod: tuple[str, str] | None = None

    @property
    def cluster(self) -> Cluster:
        """The cluster handle, built from the inventory on first use."""
        if self._cluster is None:
            self._cluster = cluster_for(self._host)
        return self._cluster

    # -- exec ----------------------------------------------------------------------------------
    def _execute(self, argv: tuple[str, ...], timeout: float | None,
                 command: str) -> tuple[int, str, str]:
        for attempt in range(2):
            pod, container = self.pod()
            try:
                code, out, err = self.cluster.exec_in_pod(pod, container, argv, timeout)
            except KubeApiError as exc:
                if exc.status == 404 and attempt == 0:
                    self._pod = None  # the pod went away (a rollout): pick another one
                    continue
                raise
            if code is None:
                raise timed_out(command, timeout)
            return code, out, err
        raise Unreachable(f"{self.name}: no pod of deployment {self.cluster.deployment} stayed up")

    def pod(self) -> tuple[str, str]:
        """The pod and container commands run in: the oldest Ready pod, as `kubectl exec` picks."""
        if self._pod is not None:
            return self._pod
        cluster = self.cluster
        dep = cluster.read_deployment()
        selector = dep.get("spec", {}).get("selector")
        container = cluster.container or first_container(dep)
        pods = cluster.core.list_namespaced_pod(cluster.namespace,
                                                label_selector=selector_string(selector))
        ready = [p for p in pods.get("items", [])
                 if selector_matches(selector, p.get("metadata", {}).get("labels"))
                 and pod_ready(p)]
        if not ready:
            raise Unreachable(f"{self.name}: no Ready pod of deployment {cluster.deployment} "
                              f"in namespace {cluster.namespace}")
        ready.sort(key=lambda p: (p["metadata"].get("creationTimestamp", ""), p["metadata"]["name"]))
        self._pod = (ready[0]["metadata"]["name"], container)
        return self._pod

    def close(self) -> None:
        self._pod = None

    # -- the Deployment's lock -----------------------------------------------------------------
    def acquire_lock(self, run: RunContext, *, stale_after: float) -> None:
        """Take the Deployment's lock for `run`, or raise `HostLocked` naming its holder.

        The same run id takes it again (a resumed run); a lock older than `stale_after`
        seconds is broken. Every write carries the resourceVersion it was decided on.
        """
        me = owner_line(run)
        for _ in range(_CONFLICT_RETRIES):
            meta = self.cluster.read_deployment()["metadata"]
            held = (meta.get("annotations") or {}).get(LOCK_ANNOTATION)
            if held:
                owner = LockOwner.parse(held)
                if owner.run_id == run.run_id:
                    return
                age = owner.age()
                if age is None or age <= stale_after:
                    since = owner.since + (f" by {owner.who}" if owner.who else "")
                    raise HostLocked(self.name, owner.run_id, since, age=age,
                                     stale_after=stale_after)
            if self._write_lock(meta["resourceVersion"], me):
                return
        raise RemediationError(f"{self.name}: the Deployment kept changing; lock not taken "
                               f"after {_CONFLICT_RETRIES} tries")

    def peek_lock(self) -> str:
        """The lock's owner line (`<run id>\t<since>\t<who>`), or "" when it is free."""
        meta = self.cluster.read_deployment()["metadata"]
        return str((meta.get("annotations") or {}).get(LOCK_ANNOTATION) or "")

    def release_lock(self, run: RunContext) -> None:
        """Drop the lock if this run holds it; someone else's lock is left alone."""
        for _ in range(_CONFLICT_RETRIES):
            try:
                meta = self.cluster.read_deployment()["metadata"]
            except KubeApiError as exc:
                if exc.status == 404:
                    return  # the Deployment is gone, and its lock with it
                raise
            held = (meta.get("annotations") or {}).get(LOCK_ANNOTATION)
            if not held or LockOwner.parse(held).run_id != run.run_id:
                return
            if self._write_lock(meta["resourceVersion"], None):
                return

    def _write_lock(self, resource_version: str, value: str | None) -> bool:
        """Set (or with None, remove) the annotation; False when someone wrote in between."""
        cluster = self.cluster
        body = {"metadata": {"resourceVersion": resource_version,
                             "annotations": {LOCK_ANNOTATION: value}}}
        try:
            cluster.apps.patch_namespaced_deployment(cluster.deployment, cluster.namespace, body,
                                                     _content_type=MERGE_PATCH)
        except KubeApiError as exc:
            if exc.status == 409:
                return False
            raise
        return True


def first_container(deployment: dict[str, Any]) -> str:
    containers = deployment.get("spec", {}).get("template", {}).get("spec", {}).get("containers")
    return str(containers[0]["name"]) if containers else ""


def pod_ready(pod: dict[str, Any]) -> bool:
    """Running, not being deleted, and its Ready condition True."""
    if pod.get("metadata", {}).get("deletionTimestamp"):
        return False
    status = pod.get("status") or {}
    if status.get("phase") != "Running":
        return False
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in status.get("conditions") or [])
