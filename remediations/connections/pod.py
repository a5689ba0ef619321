"""Commands in a pod of a Deployment (exec through the API), and the Deployment's own lock.

`run(argv)` executes in the first Ready pod of the host's Deployment, in its container,
as `kubectl exec deploy/NAME -c CONTAINER -- ARGV` does: the Laravel remediations
(artisan as the app user, cache files, markers) run unchanged on this connection. Set
`ansible_user` to the container's user (often `www-data`) so artisan is not wrapped in
`runuser`/`sudo`, which images rarely carry.

State that lives in each pod (file caches, the maintenance file, opcache) must be changed
in every pod: `pods()` lists the Deployment's pods with their readiness, and `pinned(pod)`
sends every command to that one pod until the block ends (`run.per_pod` walks them).
`container_starts()` reads when each container of a Deployment's pods last started
(restartCount and `state.running.startedAt`), so a queue restart is verified by the
worker pods' processes restarting, without supervisorctl in the image.

The lock is an annotation on the Deployment, `remediations.io/lock: "<run id>\\t<since>\\t<who>"`,
written with a resourceVersion precondition (409 -> read again), so two runs on two
controllers never act on one Deployment at once.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from remediations.connections.base import BaseConnection, timed_out
from remediations.connections.cluster import (
    MERGE_PATCH,
    Cluster,
    cluster_for,
    selector_matches,
    selector_string,
)
from remediations.connections.podset import (
    ContainerStart,
    PodSet,
    Restarts,
    WorkerPods,
    container_starts,
    pod_ready,
    pod_set,
    restarted_since,
)
from remediations.core.errors import HostLocked, KubeApiError, RemediationError, Unreachable
from remediations.core.runs import LockOwner, RunContext, owner_line

__all__ = ["LOCK_ANNOTATION", "ContainerStart", "KubeConnection", "PodSet", "Restarts",
           "WorkerPods", "first_container", "pod_ready"]

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
        self._pinned: tuple[str, str] | None = None

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
                if exc.status == 404 and self._pinned is not None:
                    # Never another pod in its place: its state is what is being changed.
                    raise Unreachable(f"{self.name}: pod {pod} went away") from exc
                if exc.status == 404 and attempt == 0:
                    self._pod = None  # the pod went away (a rollout): pick another one
                    continue
                raise
            if code is None:
                raise timed_out(command, timeout)
            return code, out, err
        raise Unreachable(f"{self.name}: no pod of deployment {self.cluster.deployment} stayed up")

    def pod(self) -> tuple[str, str]:
        """The pod and container commands run in: the pinned pod, else the oldest Ready pod,
        as `kubectl exec` picks."""
        if self._pinned is not None:
            return self._pinned
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

    def pods(self) -> PodSet:
        """Every pod of the Deployment (its selector's), each with whether it is Ready and why not."""
        return pod_set(self.cluster, self.cluster.read_deployment())

    @property
    def pinned_pod(self) -> str | None:
        """The pod commands are pinned to (inside `pinned`), else None."""
        return self._pinned[0] if self._pinned else None

    @contextmanager
    def pinned(self, pod: str) -> Iterator[None]:
        """Send every command to `pod` (the Deployment's container) until the block ends.

        A pinned pod that goes away is `Unreachable`, never replaced by another pod.
        """
        container = self.cluster.container or first_container(self.cluster.read_deployment())
        previous, self._pinned = self._pinned, (pod, container)
        try:
            yield
        finally:
            self._pinned = previous

    def container_starts(self, deployment: str | None = None) -> list[ContainerStart]:
        """When each container of `deployment`'s pods (default this host's) last started."""
        cluster = self.cluster
        name = deployment or cluster.deployment
        dep = cluster.apps.read_namespaced_deployment(name, cluster.namespace)
        return container_starts(pod_set(cluster, dep).items)

    def wait_restarted(self, before: Sequence[ContainerStart], *, deployment: str | None = None,
                       since: str = "", timeout: float = 120.0,
                       interval: float = 1.0) -> Restarts:
        """Wait until every container of `before` restarted (see `restarted_since`), or `timeout`.

        `before` is `container_starts(deployment)` read before the restart was asked for
        (a `queue:restart`: each worker exits at its next job and the kubelet starts it again).
        """
        deadline = time.monotonic() + timeout
        while True:
            after = self.container_starts(deployment)
            done, stale = restarted_since(before, after, since)
            if not stale or time.monotonic() >= deadline:
                return Restarts(tuple(done), tuple(stale), tuple(after))
            time.sleep(interval)

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
