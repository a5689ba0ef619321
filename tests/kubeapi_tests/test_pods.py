"""Pods of one Deployment as a kubelet reports them: a failing readiness probe, a restarted container."""

from __future__ import annotations

from typing import Any

from tests.kubeapi.fixture import KubeApi
from tests.kubeapi.manifests import app
from tests.kubeapi_tests.helpers import Apps, Core, wait_until

NS = "default"


def ready_pods(core: Core) -> list[Any]:
    return sorted((p for p in core.list_namespaced_pod(NS).items
                   if any(c.type == "Ready" and c.status == "True"
                          for c in p.status.conditions or [])), key=lambda p: p.metadata.name)


def test_a_pod_whose_readiness_probe_fails_keeps_running_not_ready(fast: KubeApi, apps: Apps,
                                                                   core: Core) -> None:
    fast.apply(app(replicas=2))
    a, b = wait_until(lambda: len(ready_pods(core)) == 2 and ready_pods(core))
    name = b.metadata.name
    fast.set_pod_ready(name, False, "Readiness probe failed: HTTP probe failed with statuscode: 500")
    pod = core.read_namespaced_pod(name, NS)
    assert pod.status.phase == "Running"
    ready = {c.type: c for c in pod.status.conditions}
    assert ready["Ready"].status == "False" and ready["Ready"].reason == "ContainersNotReady"
    assert ready["Ready"].message.startswith("Readiness probe failed")
    assert [s.ready for s in pod.status.container_statuses] == [False]
    assert pod.status.container_statuses[0].state.running is not None   # still running
    wait_until(lambda: apps.read_namespaced_deployment("web", NS).status.ready_replicas == 1)
    assert [p.metadata.name for p in ready_pods(core)] == [a.metadata.name]
    fast.set_pod_ready(name, True)
    wait_until(lambda: apps.read_namespaced_deployment("web", NS).status.ready_replicas == 2)


def test_a_restarted_container_shows_its_restart_count_and_start(fast: KubeApi, core: Core) -> None:
    fast.apply(app(replicas=1))
    (pod,) = wait_until(lambda: ready_pods(core))
    name = pod.metadata.name
    first = pod.status.container_statuses[0].state.running.started_at
    fast.set_container_started(name, "app", 1, "2030-01-01T00:00:00Z")
    status = core.read_namespaced_pod(name, NS).status.container_statuses[0]
    assert status.restart_count == 1
    assert status.state.running.started_at.year == 2030
    assert status.last_state.terminated.reason == "Completed"
    assert status.last_state.terminated.started_at == first
