"""The pods of a Deployment (readiness and why not), pinning exec to one pod, container restarts."""

from __future__ import annotations

from typing import Any

import pytest

from remediations.connections.pod import KubeConnection
from remediations.connections.podset import (
    ContainerStart,
    container_starts,
    not_ready_reason,
    restarted_since,
)
from remediations.core.errors import KubeApiError, Unreachable
from tests.unit.helpers import host
from tests.unit.kubernetes.test_fake import FakeCluster, World, deployment

HOST = host("web", ansible_connection="kubernetes")


def conn(c: FakeCluster) -> KubeConnection:
    return KubeConnection(HOST, cluster=c)


def names(c: FakeCluster) -> list[str]:
    return [p["metadata"]["name"] for p in c.world.pods]


def test_pods_lists_every_pod_oldest_first_with_why_it_is_not_ready() -> None:
    c = FakeCluster()
    c.world.pods[0]["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    ready = next(x for x in c.world.pods[2]["status"]["conditions"] if x["type"] == "Ready")
    ready.update(status="False", message="Readiness probe failed: connection refused")
    found = conn(c).pods()
    assert set(found.names) == set(names(c)) and found.replicas == 3
    by = {p.name: p for p in found.pods}
    assert by[names(c)[0]].why == "being deleted (Terminating)"
    assert by[names(c)[2]].why == "Running, not Ready (Readiness probe failed: connection refused)"
    assert found.ready == (names(c)[1],)
    assert len(found.problems()) == 2


def test_a_pod_not_created_yet_and_a_deployment_at_zero_are_problems() -> None:
    c = FakeCluster(World(deployment(replicas=2)))
    c.world.dep["spec"]["replicas"] = 3          # the ReplicaSet controller has not caught up
    c.world.flush()
    assert conn(c).pods().problems() == ["1 of 3 pod(s) not created yet"]
    c.world.dep["spec"]["replicas"] = 1            # a scale-in the controller has not done yet
    c.world.flush()
    assert conn(c).pods().problems() == ["2 pods for 1 replica(s): a rollout or a scale-in is "
                                         "under way"]
    c.world.dep["spec"]["replicas"] = 0
    c.world.settle()
    assert conn(c).pods().problems() == ["scaled to 0: no pod to act in"]


def test_waiting_containers_are_named_in_the_reason() -> None:
    pod = {"metadata": {"name": "p"}, "status": {"phase": "Pending", "containerStatuses": [
        {"name": "app", "state": {"waiting": {"reason": "ImagePullBackOff"}}}]}}
    assert not_ready_reason(pod) == "Pending, not Ready (app ImagePullBackOff)"


def test_pinned_sends_every_command_to_that_pod_and_never_another() -> None:
    c = FakeCluster()
    k = conn(c)
    third = names(c)[2]
    with k.pinned(third):
        assert k.pinned_pod == third
        k.run(["true"])
    assert k.pinned_pod is None
    k.run(["true"])
    assert [e[0] for e in c.execs] == [third, names(c)[0]]

    def gone(argv: tuple[str, ...]) -> Any:
        raise KubeApiError("pods not found", status=404)

    c.exec_reply = gone
    with k.pinned(third), pytest.raises(Unreachable, match=f"pod {third} went away"):
        k.run(["true"])


def start(pod: str, count: int, at: str, running: bool = True) -> ContainerStart:
    return ContainerStart(pod, "worker", count, at, running)


@pytest.mark.parametrize("after,done", [
    ([start("w-1", 1, "2026-01-01T00:01:00Z")], True),             # restartCount went up
    ([start("w-1", 0, "2026-01-01T00:00:09Z")], True),             # a later start
    ([start("w-1", 0, "2026-01-01T00:00:00Z")], False),            # the same run
    ([start("w-1", 1, "2026-01-01T00:01:00Z", running=False)], False),  # not running (yet)
    ([start("w-2", 0, "2026-01-01T00:02:00Z")], True),             # replaced by a new pod
    ([], False),                                                    # no pod at all
])
def test_restarted_since(after: list[ContainerStart], done: bool) -> None:
    before = [start("w-1", 0, "2026-01-01T00:00:00Z")]
    ok, stale = restarted_since(before, after)
    assert (ok, stale) == ((["w-1/worker"], []) if done else ([], ["w-1/worker"]))


def test_container_starts_and_waiting_for_a_restart_through_the_api() -> None:
    c = FakeCluster(World(deployment(name="worker", replicas=1)))
    k = conn(c)
    before = k.container_starts("worker")
    (one,) = before
    assert one.running and one.restart_count == 0 and one.key.endswith("/app")
    status = c.world.pods[0]["status"]["containerStatuses"][0]
    status["restartCount"] = 1
    status["state"] = {"running": {"startedAt": "2099-01-01T00:00:00Z"}}
    restarts = k.wait_restarted(before, deployment="worker", timeout=1, interval=0.1)
    assert restarts.ok and restarts.done == (one.key,)
    assert "1 container(s) restarted" in restarts.describe()
    again = k.wait_restarted(restarts.after, deployment="worker", timeout=0.3, interval=0.1)
    assert not again.ok and "not restarted" in again.describe()
    assert container_starts([{"metadata": {"name": "x"}, "status": {}}]) == []
